// nugget-cli bench scores: adding one sample's scores of a LLaMA-2 13B FFN matrix
// (13824 x 5120) to the running sum, the step sensitivity repeats for every weight and
// sample: the fused pass against the tensor ops it replaces, and against one float32
// sum over the same matrix (the memory-bandwidth floor), all in the same run.

#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "transfer/ScoreAccumulation.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>

namespace nugget::cli {

int benchScores(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("scores"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("repetitions"), QStringLiteral("Timed repetitions, best kept (default 10)."), QStringLiteral("N"),
         QStringLiteral("10")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Time of summing one sample's taylor and fisher scores of a 13B FFN matrix, fused "
                               "against the tensor ops, for float32 and bfloat16 weights and gradients."));
    const int repetitions = static_cast<int>(std::max<long long>(1, integerOption(parser, QStringLiteral("repetitions"))));
    const int64_t rows = 13824, cols = 5120;
    std::printf("%d intra-op threads; one %lldx%lld matrix (%.1f M weights), best of %d\n\n", at::get_num_threads(),
                static_cast<long long>(rows), static_cast<long long>(cols), rows * cols / 1e6, repetitions);
    std::printf("| weights and gradient | metric | float32 sum (floor) | tensor ops | fused | speed-up |\n");
    std::printf("|---|---|---|---|---|---|\n");
    at::manual_seed(5);
    auto scores = at::zeros({rows, cols});
    const double floor = bestSeconds([&] { scores.sum().item<float>(); }, repetitions);
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
        const auto weight = (at::randn({rows, cols}) * 0.02).to(dtype);
        const auto gradient = (at::randn({rows, cols}) * 1e-3).to(dtype);
        for (const auto metric : {SensitivityMetric::Taylor, SensitivityMetric::Fisher}) {
            // The tensor ops consume the gradient: each repetition gets a fresh copy,
            // made outside the timed call for both.
            auto timed = [&](bool fused) {
                double best = 1e300;
                for (int r = 0; r < repetitions; ++r) {
                    auto grad = gradient.clone();
                    best = std::min(best, bestSeconds(
                                              [&] {
                                                  if (fused)
                                                      accumulateScores(scores, metric, weight, grad);
                                                  else
                                                      accumulateScoresWithTensorOps(scores, metric, weight, grad);
                                              },
                                              1));
                }
                return best;
            };
            const double ops = timed(false), fused = timed(true);
            std::printf("| %s | %s | %.1f ms | %.1f ms | %.1f ms | %.2fx |\n",
                        dtype == at::kFloat ? "float32" : "bfloat16", sensitivityMetricName(metric).c_str(),
                        1e3 * floor, 1e3 * ops, 1e3 * fused, ops / fused);
        }
    }
    return 0;
}

} // namespace nugget::cli
