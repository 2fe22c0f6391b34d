#include "transfer/LayerSimilarity.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace nugget {

std::vector<at::Tensor> layerStates(LlamaForCausalLM &model, const std::vector<SeedSample> &samples,
                                    int64_t maxTokens, Progress &progress)
{
    torch::NoGradGuard noGrad;
    const bool wasTraining = model->is_training();
    model->eval();
    const auto layers = model->config().numHiddenLayers;
    std::vector<std::vector<at::Tensor>> perLayer(static_cast<size_t>(layers));
    int64_t tokens = 0;
    for (const auto &sample : samples) {
        progress.checkCancelled();
        if (tokens >= maxTokens)
            break;
        const int64_t take = std::min<int64_t>(static_cast<int64_t>(sample.inputIds.size()), maxTokens - tokens);
        if (take <= 0)
            continue;
        auto ids = torch::tensor(std::vector<int64_t>(sample.inputIds.begin(), sample.inputIds.begin() + take),
                                 torch::kLong).unsqueeze(0);
        std::vector<at::Tensor> outputs;
        model->hiddenStates(ids, nullptr, &outputs);
        for (size_t i = 0; i < outputs.size(); ++i)
            perLayer[i].push_back(outputs[i][0].to(torch::kCPU, torch::kFloat));
        tokens += take;
    }
    model->train(wasTraining);
    std::vector<at::Tensor> states;
    for (auto &chunks : perLayer)
        states.push_back(chunks.empty() ? torch::zeros({0, model->config().hiddenSize}) : torch::cat(chunks, 0));
    return states;
}

namespace {

// Centred Gram matrix of the tokens, scaled to unit Frobenius norm (float64), so that
// CKA is one dot product. Zero when the representation is constant.
at::Tensor normalisedGram(const at::Tensor &states)
{
    auto x = states.to(torch::kDouble);
    x = x - x.mean(0, true);
    auto gram = torch::matmul(x, x.t());
    const double norm = gram.norm().item<double>();
    return norm > 0 ? gram / norm : gram;
}

} // namespace

double linearCka(const at::Tensor &x, const at::Tensor &y)
{
    if (x.dim() != 2 || y.dim() != 2 || x.size(0) != y.size(0))
        throw Error("linear CKA needs two [tokens, features] matrices over the same tokens");
    return (normalisedGram(x) * normalisedGram(y)).sum().item<double>();
}

at::Tensor layerSimilarity(LlamaForCausalLM &teacher, LlamaForCausalLM &student, const std::vector<SeedSample> &samples,
                           Progress &progress, int64_t maxTokens,
                           const std::function<void(int64_t, const at::Tensor &)> &onRow)
{
    const auto studentStates = layerStates(student, samples, maxTokens, progress);
    std::vector<at::Tensor> studentGrams;
    for (const auto &states : studentStates) {
        progress.checkCancelled();
        studentGrams.push_back(normalisedGram(states));
    }
    const auto teacherStates = layerStates(teacher, samples, maxTokens, progress);
    const auto rows = static_cast<int64_t>(teacherStates.size());
    const auto cols = static_cast<int64_t>(studentGrams.size());
    auto matrix = torch::full({rows, cols}, std::numeric_limits<double>::quiet_NaN(), torch::kDouble);
    for (int64_t t = 0; t < rows; ++t) {
        progress.checkCancelled();
        if (teacherStates[t].size(0) != studentStates.front().size(0))
            throw Error("teacher and student saw different token counts; they must share a tokenizer");
        const auto gram = normalisedGram(teacherStates[t]);
        for (int64_t s = 0; s < cols; ++s)
            matrix[t][s] = (gram * studentGrams[s]).sum().item<double>();
        progress.report(double(t + 1) / double(rows), "layer similarity");
        if (onRow)
            onRow(t, matrix);
    }
    return matrix;
}

} // namespace nugget
