#include "bench/MachineLimits.h"

#include "Error.h"

#include <torch/torch.h>

namespace nugget {

MatmulThroughput measureMatmul(int64_t n, int repetitions, at::Device device, at::ScalarType dtype)
{
    torch::NoGradGuard noGrad;
    const auto options = at::TensorOptions().dtype(dtype).device(device);
    const auto a = torch::randn({n, n}, options);
    const auto b = torch::randn({n, n}, options);
    auto c = torch::empty({n, n}, options);
    MatmulThroughput result;
    result.size = n;
    result.seconds = bestSeconds([&] {
        at::mm_out(c, a, b);
        if (device.is_cuda())
            c.cpu();   // synchronise
    }, repetitions);
    result.gflops = 2.0 * static_cast<double>(n) * n * n / result.seconds / 1e9;
    return result;
}

at::ScalarType fastestComputeDtype(at::Device device)
{
    try {
        const double bf16 = measureMatmul(1024, 3, device, at::kBFloat16).gflops;
        const double fp32 = measureMatmul(1024, 3, device, at::kFloat).gflops;
        return bf16 >= 2.0 * fp32 ? at::kBFloat16 : at::kFloat;
    } catch (const c10::Error &) {
        return at::kFloat;   // no bfloat16 matmul on this device
    }
}

double forwardFlops(const ModelConfig &config, int64_t tokens, int64_t sequence)
{
    const double h = static_cast<double>(config.hiddenSize);
    const double attentionWidth = static_cast<double>(config.numAttentionHeads * config.headDim);
    const double kvWidth = static_cast<double>(config.numKeyValueHeads * config.headDim);
    const double perLayerWeights = h * attentionWidth * 2 + h * kvWidth * 2 +
                                   3.0 * h * static_cast<double>(config.intermediateSize);
    // Scores and weighted values over the whole sequence (the causal mask does not
    // skip work in this implementation).
    const double perLayerAttention = 4.0 * static_cast<double>(sequence) * attentionWidth;
    const double perToken = static_cast<double>(config.numHiddenLayers) * (2.0 * perLayerWeights + perLayerAttention) +
                            2.0 * h * static_cast<double>(config.vocabSize);
    return perToken * static_cast<double>(tokens);
}

} // namespace nugget
