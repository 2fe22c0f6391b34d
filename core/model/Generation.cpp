#include "model/Generation.h"

#include "Error.h"
#include "Random.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

namespace nugget {

TokenSampler::TokenSampler(double temperature, double topP, uint64_t seed)
    : m_temperature(temperature), m_topP(topP), m_state(seed ? seed : 0x9E3779B97F4A7C15ull)
{
    if (temperature < 0)
        throw Error("temperature must be >= 0, got " + std::to_string(temperature));
    if (!(topP > 0 && topP <= 1))
        throw Error("top-p must be in (0, 1], got " + std::to_string(topP));
}

double TokenSampler::uniform()
{
    // splitmix64: tiny, seedable, and identical on every platform and device.
    return random::unitDouble(random::splitmix64(m_state));
}

int64_t TokenSampler::next(const at::Tensor &logits)
{
    const auto row = logits.reshape({-1}).to(at::kCPU, at::kDouble);
    if (m_temperature == 0.0)
        return row.argmax().item<int64_t>();

    const auto probs = torch::softmax(row / m_temperature, 0).contiguous();
    const double *p = probs.data_ptr<double>();
    const int64_t n = probs.numel();
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [p](int64_t a, int64_t b) { return p[a] > p[b]; });

    // Smallest prefix of the sorted distribution whose mass reaches top-p.
    double mass = 0;
    size_t kept = 0;
    while (kept < order.size()) {
        mass += p[order[kept++]];
        if (mass >= m_topP)
            break;
    }
    const double target = uniform() * mass;
    double cumulative = 0;
    for (size_t i = 0; i < kept; ++i) {
        cumulative += p[order[i]];
        if (target < cumulative)
            return order[i];
    }
    return order[kept - 1];
}

std::vector<int64_t> generate(LlamaForCausalLM &model, const std::vector<int64_t> &promptIds,
                              const SamplingOptions &options, Progress *progress,
                              const std::function<void(int64_t)> &onToken)
{
    if (promptIds.empty())
        throw Error("generation needs at least one prompt token (BOS)");
    const int64_t context = model->config().maxPositionEmbeddings;
    if (static_cast<int64_t>(promptIds.size()) >= context)
        throw Error("the prompt has " + std::to_string(promptIds.size()) +
                    " tokens, the model's context is " + std::to_string(context));

    torch::NoGradGuard noGrad;
    TokenSampler sampler(options.temperature, options.topP, options.seed);
    KVCache cache;
    const auto longOptions = at::TensorOptions().dtype(at::kLong);
    auto input = torch::tensor(promptIds, longOptions).unsqueeze(0);
    const int64_t budget = std::min<int64_t>(options.maxNewTokens,
                                             context - static_cast<int64_t>(promptIds.size()));
    std::vector<int64_t> generated;
    for (int64_t step = 0; step < budget; ++step) {
        if (progress) {
            progress->checkCancelled();
            progress->report(static_cast<double>(step) / budget);
        }
        const auto logits = model->forward(input, &cache);
        const int64_t next = sampler.next(logits.select(1, logits.size(1) - 1));
        generated.push_back(next);
        if (onToken)
            onToken(next);
        if (std::find(options.stopIds.begin(), options.stopIds.end(), next) != options.stopIds.end())
            break;
        input = torch::tensor({next}, longOptions).unsqueeze(0);
    }
    return generated;
}

} // namespace nugget
