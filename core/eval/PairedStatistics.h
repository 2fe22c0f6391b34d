#pragma once
// Paired statistics for comparing a condition with a baseline on the same items and seeds:
// McNemar's exact test on right/wrong outcomes, and a crossed bootstrap interval for a mean
// paired difference. Plain C++; the draws come from core/Random.h so that every platform
// gives the same intervals for the same seed.

#include <cstdint>
#include <vector>

namespace nugget {

// Two-sided exact McNemar test on paired binary outcomes: `gained` pairs wrong under the
// baseline and right under the condition, `lost` the reverse. p = min(1, 2 * P(X <= min(gained, lost)))
// with X ~ Binomial(gained + lost, 1/2); p = 1 when there are no discordant pairs.
struct McNemarResult { int64_t gained = 0; int64_t lost = 0; double pValue = 1; };
// Throws nugget::Error for a negative count.
McNemarResult mcnemarExact(int64_t gained, int64_t lost);

// A point estimate with a two-sided confidence interval.
struct Interval { double estimate = 0; double low = 0; double high = 0; };

struct BootstrapOptions { int resamples = 4000; double level = 0.95; uint64_t seed = 1; };

// Paired differences (condition - baseline) laid out [seed][item]: every seed row has the
// same items in the same order. The estimate is the mean over all cells. The interval is a
// percentile bootstrap that resamples seeds and items independently, both with replacement
// (the crossed "pigeonhole" bootstrap for a seeds x items design, Owen 2007), so the
// interval reflects the variation between items and between seeds. With one seed, only items
// are resampled. Throws nugget::Error (core/Error.h) for no cells, ragged rows, a cell that
// is not finite, fewer than one resample or a level outside (0, 1).
Interval crossedBootstrapMean(const std::vector<std::vector<double>> &differences,
                              const BootstrapOptions &options = {});

} // namespace nugget
