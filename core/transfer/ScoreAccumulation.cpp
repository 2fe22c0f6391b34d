#include "transfer/ScoreAccumulation.h"

#include "Error.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace nugget {

namespace {

// As in DimensionReduction: the loops are also compiled for AVX2 and AVX-512 and picked
// at load time where the CPU has them.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NUGGET_SCORE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NUGGET_SCORE_CLONES
#endif

// bfloat16 is the upper half of a float32: widening is a shift, which vectorises.
inline float widen(uint16_t bits)
{
    const uint32_t wide = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &wide, sizeof value);
    return value;
}

NUGGET_SCORE_CLONES void addTaylor(float *__restrict s, const float *__restrict w, const float *__restrict g, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        s[i] += std::fabs(w[i] * g[i]);
}

NUGGET_SCORE_CLONES void addTaylor(float *__restrict s, const uint16_t *__restrict w, const uint16_t *__restrict g,
                                   int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        s[i] += std::fabs(widen(w[i]) * widen(g[i]));
}

NUGGET_SCORE_CLONES void addFisher(float *__restrict s, const float *__restrict g, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        const float square = g[i] * g[i];
        s[i] += square;
    }
}

NUGGET_SCORE_CLONES void addFisher(float *__restrict s, const uint16_t *__restrict g, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        const float v = widen(g[i]);
        const float square = v * v;
        s[i] += square;
    }
}

// Runs body(begin, end) over [0, n) in one contiguous slice per intra-op thread.
// at::parallel_for would run serially here (its OpenMP loop needs -fopenmp in this
// translation unit), so plain threads; small tensors stay on the calling thread.
template <typename Body>
void onEveryThread(int64_t n, const Body &body)
{
    const int64_t threads = std::min<int64_t>(std::max(1, at::get_num_threads()), n / (1 << 18));
    if (threads <= 1)
        return body(0, n);
    std::vector<std::thread> workers;
    const int64_t slice = (n + threads - 1) / threads;
    for (int64_t t = 1; t < threads; ++t)
        workers.emplace_back([&, t] { body(t * slice, std::min(n, (t + 1) * slice)); });
    body(0, std::min(n, slice));
    for (auto &worker : workers)
        worker.join();
}

bool fusable(const at::Tensor &scores, const at::Tensor &weight, const at::Tensor &grad)
{
    auto plain = [](const at::Tensor &t) { return t.device().is_cpu() && t.is_contiguous() && !t.is_sparse(); };
    return scores.scalar_type() == at::kFloat && plain(scores) && plain(weight) && plain(grad) &&
           weight.scalar_type() == grad.scalar_type() &&
           (grad.scalar_type() == at::kFloat || grad.scalar_type() == at::kBFloat16) &&
           scores.numel() == grad.numel() && weight.numel() == grad.numel();
}

} // namespace

void accumulateScoresWithTensorOps(at::Tensor &scores, SensitivityMetric metric, const at::Tensor &weight,
                                   at::Tensor &grad)
{
    // A bfloat16 gradient is widened once (a bfloat16 product would round again); a
    // float32 one is consumed in place, with no temporary of the parameter's size.
    at::Tensor g = grad.scalar_type() == at::kFloat ? grad : grad.to(at::kFloat);
    if (metric == SensitivityMetric::Taylor)
        scores.add_(g.mul_(weight).abs_());
    else
        scores.addcmul_(g, g);
}

void accumulateScores(at::Tensor &scores, SensitivityMetric metric, const at::Tensor &weight, at::Tensor &grad)
{
    if (metric == SensitivityMetric::Magnitude)
        throw Error("magnitude scores need no gradients: nothing to accumulate");
    if (!fusable(scores, weight, grad))
        return accumulateScoresWithTensorOps(scores, metric, weight, grad);
    float *s = scores.data_ptr<float>();
    const int64_t n = scores.numel();
    if (grad.scalar_type() == at::kFloat) {
        const float *w = weight.data_ptr<float>(), *g = grad.data_ptr<float>();
        onEveryThread(n, [&](int64_t begin, int64_t end) {
            if (metric == SensitivityMetric::Taylor)
                addTaylor(s + begin, w + begin, g + begin, end - begin);
            else
                addFisher(s + begin, g + begin, end - begin);
        });
        return;
    }
    const auto *w = reinterpret_cast<const uint16_t *>(weight.data_ptr<at::BFloat16>());
    const auto *g = reinterpret_cast<const uint16_t *>(grad.data_ptr<at::BFloat16>());
    onEveryThread(n, [&](int64_t begin, int64_t end) {
        if (metric == SensitivityMetric::Taylor)
            addTaylor(s + begin, w + begin, g + begin, end - begin);
        else
            addFisher(s + begin, g + begin, end - begin);
    });
}

} // namespace nugget
