#pragma once
// Measures what this machine can do, so benchmarks report ratios to a limit measured
// in the same run instead of absolute numbers that mean nothing on another machine.

#include "io/ModelConfig.h"

#include <ATen/ATen.h>

namespace nugget {

struct MatmulThroughput
{
    int64_t size = 0;        // n of the n x n x n product
    double gflops = 0;       // best of the repetitions
    double seconds = 0;      // best time of one product
};

// Best-of-N n x n matmul throughput on `device` in `dtype`.
MatmulThroughput measureMatmul(int64_t n = 1024, int repetitions = 10, at::Device device = at::kCPU,
                               at::ScalarType dtype = at::kFloat);

// bfloat16 when `device` multiplies bfloat16 matrices at least twice as fast as float32
// (GPUs with tensor cores, CPUs with AMX or AVX512-BF16 through oneDNN), else float32.
// Measured, not looked up: a CPU without those units runs bfloat16 slower than float32.
at::ScalarType fastestComputeDtype(at::Device device);

// Floating-point operations of one forward pass over `tokens` positions of a sequence
// of length `sequence` (matmuls and attention; elementwise work is ignored).
double forwardFlops(const ModelConfig &config, int64_t tokens, int64_t sequence);

// Wall-clock seconds of a callable, best of `repetitions` after one warm-up call.
template <typename F>
double bestSeconds(F &&f, int repetitions);

} // namespace nugget

#include <chrono>

template <typename F>
double nugget::bestSeconds(F &&f, int repetitions)
{
    f();
    double best = 1e300;
    for (int i = 0; i < repetitions; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        best = std::min(best, elapsed.count());
    }
    return best;
}
