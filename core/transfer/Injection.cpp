#include "transfer/Injection.h"

#include "Error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace nugget {

namespace {

// Attaches factors given in the weight's own layout ([out, in] = B A) and merges
// -s B A into the weight. Embeddings take PEFT's transposed layout.
LowRankFactors attachWithDelta(LlamaForCausalLM &model, const TargetMatrix &target, const LowRankFactors &factors,
                               const LoraSettings &lora)
{
    LoraSettings settings = lora;
    settings.rank = factors.a.size(0);
    addToWeight(model, target.parameterName, at::matmul(factors.b, factors.a) * -settings.scaling());
    LowRankFactors attached = factors;
    if (target.module == TargetModule::Embed)
        attached = {factors.b.t().contiguous(), factors.a.t().contiguous()};
    attachLora(model, target.parameterName, settings, attached.a, attached.b);
    return attached;
}

} // namespace

InitialAdapters injectTransfer(LlamaForCausalLM &student, const Extraction &extraction, const LoraSettings &lora)
{
    InitialAdapters deltas;
    for (const auto &matrix : extraction.matrices)
        deltas[matrix.student.parameterName] = attachWithDelta(student, matrix.student, matrix.factors, lora);
    return deltas;
}

void injectPlainLora(LlamaForCausalLM &student, const std::set<TargetModule> &modules, const LoraSettings &lora,
                     uint64_t seed)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto cpu = at::TensorOptions().dtype(at::kFloat);
    for (const auto &target : targetMatrices(student->config(), modules)) {
        const auto weight = weightOf(student, target.parameterName);
        if (target.module == TargetModule::Embed) {
            // PEFT: A zeros [r, vocab], B normal [hidden, r].
            const auto a = torch::zeros({lora.rank, weight.size(0)}, cpu);
            const auto b = at::normal(0.0, 1.0, {weight.size(1), lora.rank}, generator, cpu);
            attachLora(student, target.parameterName, lora, a, b);
        } else {
            // PEFT / torch.nn.Linear: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)).
            const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
            auto a = at::empty({lora.rank, weight.size(1)}, cpu);
            a.uniform_(-bound, bound, generator);
            const auto b = torch::zeros({weight.size(0), lora.rank}, cpu);
            attachLora(student, target.parameterName, lora, a, b);
        }
    }
}

InitialAdapters injectOwnSvd(LlamaForCausalLM &student, const std::set<TargetModule> &modules,
                            const LoraSettings &lora, FactorSplit split)
{
    InitialAdapters deltas;
    for (const auto &target : targetMatrices(student->config(), modules)) {
        const auto weight = weightOf(student, target.parameterName).detach().to(at::kFloat);
        const int64_t rank = std::min({lora.rank, weight.size(0), weight.size(1)});
        const auto factors = factorize(weight, rank, split);
        deltas[target.parameterName] = attachWithDelta(student, target, factors, lora);
    }
    return deltas;
}

} // namespace nugget
