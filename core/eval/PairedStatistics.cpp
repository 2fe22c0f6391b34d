#include "eval/PairedStatistics.h"

#include "Error.h"
#include "Random.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace nugget {

namespace {

// Up to this many trials the binomial coefficients and their partial sums fit in 64 bits
// (C(60, 30) * 30 < 2^63), so the small-sample tail is summed exactly and rounded once.
constexpr int64_t kExactTrials = 60;

// P(X <= k) for X ~ Binomial(n, 1/2), with 0 <= k <= n / 2.
double binomialHalfLowerTail(int64_t n, int64_t k)
{
    if (n <= kExactTrials) {
        uint64_t coefficient = 1; // C(n, i)
        uint64_t sum = 0;
        for (int64_t i = 0; i <= k; ++i) {
            sum += coefficient;
            coefficient = coefficient * static_cast<uint64_t>(n - i) / static_cast<uint64_t>(i + 1);
        }
        return std::ldexp(static_cast<double>(sum), -static_cast<int>(n));
    }
    // Large n: the top term P(X = k) in log space (2^-n and C(n, k) alone under- and
    // overflow), times the sum of the terms below it relative to it. Since k <= n / 2 each
    // ratio P(X = i - 1) / P(X = i) = i / (n - i + 1) is below 1, so the relative terms shrink
    // and the sum is accumulated without overflow.
    const double nd = static_cast<double>(n);
    const double kd = static_cast<double>(k);
    const double logTop = std::lgamma(nd + 1) - std::lgamma(kd + 1) - std::lgamma(nd - kd + 1)
                          - nd * std::log(2.0);
    double relative = 1; // P(X = i) / P(X = k)
    double sum = 1;
    for (int64_t i = k; i > 0; --i) {
        relative *= static_cast<double>(i) / static_cast<double>(n - i + 1);
        sum += relative;
        if (relative < sum * 1e-17)
            break; // later terms shrink at least as fast: they are below rounding
    }
    return std::exp(logTop) * sum;
}

// The q-quantile of ascending `sorted` by linear interpolation between order statistics at
// position q * (count - 1) (Hyndman and Fan's type 7, the default of R and NumPy): it is
// continuous in q and exact at the extremes, so small resample counts give no jumps.
double quantileOfSorted(const std::vector<double> &sorted, double q)
{
    const double position = q * static_cast<double>(sorted.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, sorted.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

void checkDifferences(const std::vector<std::vector<double>> &differences, const BootstrapOptions &options)
{
    if (differences.empty() || differences.front().empty())
        throw Error("paired bootstrap: no differences to summarise (need at least one seed and one item)");
    const size_t items = differences.front().size();
    for (size_t s = 0; s < differences.size(); ++s) {
        if (differences[s].size() != items)
            throw Error("paired bootstrap: seed row " + std::to_string(s) + " has "
                        + std::to_string(differences[s].size()) + " items, but seed row 0 has "
                        + std::to_string(items) + "; every seed must score the same items");
        for (size_t i = 0; i < items; ++i)
            if (!std::isfinite(differences[s][i]))
                throw Error("paired bootstrap: the difference for seed row " + std::to_string(s) + ", item "
                            + std::to_string(i) + " is not a finite number");
    }
    if (options.resamples < 1)
        throw Error("paired bootstrap: resamples must be at least 1, got " + std::to_string(options.resamples));
    if (!(options.level > 0 && options.level < 1))
        throw Error("paired bootstrap: confidence level must lie strictly between 0 and 1, got "
                    + std::to_string(options.level));
}

} // namespace

McNemarResult mcnemarExact(int64_t gained, int64_t lost)
{
    if (gained < 0 || lost < 0)
        throw Error("McNemar test: counts of flipped items cannot be negative (gained "
                    + std::to_string(gained) + ", lost " + std::to_string(lost) + ")");
    McNemarResult result;
    result.gained = gained;
    result.lost = lost;
    const int64_t discordant = gained + lost;
    if (discordant == 0)
        return result; // no evidence either way
    const double tail = binomialHalfLowerTail(discordant, std::min(gained, lost));
    result.pValue = std::min(1.0, 2 * tail);
    return result;
}

Interval crossedBootstrapMean(const std::vector<std::vector<double>> &differences,
                              const BootstrapOptions &options)
{
    checkDifferences(differences, options);
    const size_t seeds = differences.size();
    const size_t items = differences.front().size();
    const double cells = static_cast<double>(seeds) * static_cast<double>(items);

    Interval interval;
    double total = 0;
    for (const std::vector<double> &row : differences)
        for (double d : row)
            total += d;
    interval.estimate = total / cells;

    // One resample: seed multiplicities, then per item the seed-weighted sum of its
    // differences, then items drawn with replacement. Seeds are drawn before items, from one
    // xoshiro256** stream, so the same seed gives the same interval everywhere.
    random::Xoshiro256StarStar generator(options.seed);
    std::vector<double> seedWeight(seeds, 1.0);
    std::vector<double> itemSum(items);
    std::vector<double> means(static_cast<size_t>(options.resamples));
    for (double &mean : means) {
        if (seeds > 1) {
            std::fill(seedWeight.begin(), seedWeight.end(), 0.0);
            for (size_t s = 0; s < seeds; ++s)
                seedWeight[generator.below(seeds)] += 1;
        }
        std::fill(itemSum.begin(), itemSum.end(), 0.0);
        for (size_t s = 0; s < seeds; ++s) {
            if (seedWeight[s] == 0)
                continue;
            const std::vector<double> &row = differences[s];
            for (size_t i = 0; i < items; ++i)
                itemSum[i] += seedWeight[s] * row[i];
        }
        double sum = 0;
        for (size_t i = 0; i < items; ++i)
            sum += itemSum[generator.below(items)];
        mean = sum / cells;
    }

    std::sort(means.begin(), means.end());
    interval.low = quantileOfSorted(means, (1 - options.level) / 2);
    interval.high = quantileOfSorted(means, (1 + options.level) / 2);
    return interval;
}

} // namespace nugget
