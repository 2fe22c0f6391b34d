// Paired statistics against values that do not come from the code under test: binomial sums
// by hand, Pascal's triangle, arbitrary-precision sums from a separate script, the normal
// approximation, and simulated data whose true mean is known.

#include "TestSupport.h"
#include "eval/PairedStatistics.h"

#include <QTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

using namespace nugget;
using nugget::test::errorOf;

namespace {

// Chi-square with continuity correction, (|b - c| - 1)^2 / (b + c), on one degree of freedom:
// its upper tail is erfc(sqrt(chi2 / 2)).
double mcnemarNormalApproximation(int64_t gained, int64_t lost)
{
    const double excess = std::abs(static_cast<double>(gained - lost)) - 1;
    const double chiSquare = excess * excess / static_cast<double>(gained + lost);
    return std::erfc(std::sqrt(chiSquare / 2));
}

bool closeRelative(double actual, double expected, double tolerance)
{
    return std::abs(actual - expected) <= tolerance * std::abs(expected);
}

// Differences with true mean `mean`: an effect per item shared by every seed, an offset per
// seed, and noise per cell; the typical structure of scores from several training seeds.
std::vector<std::vector<double>> simulatedDifferences(std::mt19937_64 &rng, int seeds, int items, double mean,
                                                      double itemSpread, double seedSpread, double cellSpread)
{
    std::normal_distribution<double> normal(0, 1);
    std::vector<double> itemEffect(static_cast<size_t>(items));
    for (double &effect : itemEffect)
        effect = itemSpread * normal(rng);
    std::vector<std::vector<double>> differences(static_cast<size_t>(seeds));
    for (std::vector<double> &row : differences) {
        const double offset = seedSpread * normal(rng);
        for (double effect : itemEffect)
            row.push_back(mean + effect + offset + cellSpread * normal(rng));
    }
    return differences;
}

} // namespace

class TestPairedStatistics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void mcnemarMatchesHandComputedBinomialSums()
    {
        // p = 2 * sum_{i <= k} C(n, i) / 2^n, the sums written out.
        QVERIFY(std::abs(mcnemarExact(1, 9).pValue - 2.0 * (1 + 10) / 1024) <= 1e-12);
        QCOMPARE(mcnemarExact(1, 9).pValue, 0.021484375);
        QCOMPARE(mcnemarExact(2, 8).pValue, 2.0 * (1 + 10 + 45) / 1024);
        QCOMPARE(mcnemarExact(3, 12).pValue, 2.0 * (1 + 15 + 105 + 455) / 32768);
        QCOMPARE(mcnemarExact(0, 5).pValue, 2.0 / 32);
        QCOMPARE(mcnemarExact(6, 0).pValue, 2.0 / 64);
        // Two times a tail above one half is capped at 1.
        QCOMPARE(mcnemarExact(0, 1).pValue, 1.0);
        QCOMPARE(mcnemarExact(5, 5).pValue, 1.0);
        QCOMPARE(mcnemarExact(30, 31).pValue, 1.0);
        // No discordant pairs: no evidence either way.
        const McNemarResult none = mcnemarExact(0, 0);
        QCOMPARE(none.pValue, 1.0);
        QCOMPARE(none.gained, int64_t(0));
        QCOMPARE(none.lost, int64_t(0));
        const McNemarResult counts = mcnemarExact(7, 3);
        QCOMPARE(counts.gained, int64_t(7));
        QCOMPARE(counts.lost, int64_t(3));
    }

    void mcnemarIsSymmetric()
    {
        const int64_t pairs[][2] = {{0, 3}, {1, 9}, {4, 17}, {29, 31}, {20, 41}, {150, 86}, {400, 600}, {49700, 50300}};
        for (const auto &pair : pairs)
            QCOMPARE(mcnemarExact(pair[0], pair[1]).pValue, mcnemarExact(pair[1], pair[0]).pValue);
    }

    void mcnemarMatchesPascalsTriangle()
    {
        // Each row of Pascal's triangle halved, built by additions only: row n holds
        // P(X = i) for X ~ Binomial(n, 1/2), independent of factorials and logarithms.
        // Crosses the switch from exact integer sums to the log-space tail.
        const int maxTrials = 400;
        std::vector<double> row = {1.0};
        for (int n = 1; n <= maxTrials; ++n) {
            std::vector<double> next(static_cast<size_t>(n + 1), 0.0);
            for (int i = 0; i <= n; ++i)
                next[static_cast<size_t>(i)] = ((i > 0 ? row[static_cast<size_t>(i - 1)] : 0.0)
                                                + (i < n ? row[static_cast<size_t>(i)] : 0.0)) / 2;
            row.swap(next);
            double tail = 0;
            for (int k = 0; 2 * k <= n; ++k) {
                tail += row[static_cast<size_t>(k)];
                const double expected = std::min(1.0, 2 * tail);
                const double actual = mcnemarExact(k, n - k).pValue;
                if (!closeRelative(actual, expected, 1e-9))
                    QFAIL(qPrintable(QStringLiteral("n %1, k %2: p %3, Pascal's triangle gives %4")
                                         .arg(n).arg(k).arg(actual, 0, 'g', 17).arg(expected, 0, 'g', 17)));
            }
        }
    }

    void mcnemarMatchesArbitraryPrecisionSums()
    {
        // 2 * sum_{i <= k} C(n, i) / 2^n with exact integers in a separate script (Python's
        // int and Fraction), printed to 17 significant digits.
        const struct { int64_t gained, lost; double p; } cases[] = {
            {20, 41, 0.0098534481952592644},       // n = 61
            {150, 86, 3.7159361395714422e-05},
            {540, 460, 0.01244414627717178},
            {600, 400, 2.7284641560660184e-10},
            {49700, 50300, 0.058197353110193743},  // n = 100000
            {47000, 53000, 2.6839373781451941e-80},
        };
        for (const auto &c : cases) {
            const double p = mcnemarExact(c.gained, c.lost).pValue;
            if (!closeRelative(p, c.p, 1e-9))
                QFAIL(qPrintable(QStringLiteral("gained %1, lost %2: p %3, expected %4")
                                     .arg(c.gained).arg(c.lost).arg(p, 0, 'g', 17).arg(c.p, 0, 'g', 17)));
        }
    }

    void mcnemarLargeCountsAgreeWithNormalApproximation()
    {
        // The continuity-corrected chi-square is close near the centre and within some percent
        // far in the tail (measured against exact sums: 0.3 % at z = 2.5, 14 % at z = 6.3).
        QVERIFY(closeRelative(mcnemarExact(540, 460).pValue, mcnemarNormalApproximation(540, 460), 0.01));
        QVERIFY(closeRelative(mcnemarExact(600, 400).pValue, mcnemarNormalApproximation(600, 400), 0.2));
        QVERIFY(closeRelative(mcnemarExact(49700, 50300).pValue, mcnemarNormalApproximation(49700, 50300), 1e-4));
    }

    void mcnemarRefusesNegativeCounts()
    {
        QVERIFY(errorOf([] { mcnemarExact(-1, 4); }).contains("negative"));
        QVERIFY(errorOf([] { mcnemarExact(4, -2); }).contains("lost -2"));
    }

    void bootstrapEstimateIsThePlainMean()
    {
        const std::vector<std::vector<double>> differences = {{1, 2, 3}, {4, 5, 6}};
        const Interval interval = crossedBootstrapMean(differences);
        QCOMPARE(interval.estimate, 3.5);
        // Every resampled mean is a mean of cells, so the bounds lie within the cells' range.
        QVERIFY(interval.low >= 1 && interval.low <= interval.estimate);
        QVERIFY(interval.high <= 6 && interval.high >= interval.estimate);
    }

    void bootstrapDetectsAPlantedEffect()
    {
        std::mt19937_64 rng(20071);
        std::normal_distribution<double> noise(0, 1);
        std::vector<std::vector<double>> differences(3, std::vector<double>(300));
        double sum = 0;
        for (auto &row : differences)
            for (double &cell : row)
                sum += (cell = 0.5 + noise(rng));
        const Interval interval = crossedBootstrapMean(differences);
        qInfo("planted 0.5: estimate %.4f, interval [%.4f, %.4f]", interval.estimate, interval.low, interval.high);
        QVERIFY(std::abs(interval.estimate - sum / 900) <= 1e-12);
        QVERIFY(interval.low > 0);
        QVERIFY(interval.low < 0.5 && 0.5 < interval.high);
    }

    void bootstrapNullIsNotDetectedAtTheStatedRate()
    {
        // 200 datasets with true mean 0: a 95 % interval should contain 0 about 190 times.
        // With 4 seeds the seed offsets are resampled from only 4 values, which understates
        // their spread; items dominate here, as in real evaluations. The band is about
        // three binomial standard deviations (sqrt(0.95 * 0.05 / 200) = 0.015) below 0.95 and
        // excludes an interval that is never wrong.
        std::mt19937_64 rng(15);
        const int datasets = 200;
        int containsZero = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int d = 0; d < datasets; ++d) {
            const auto differences = simulatedDifferences(rng, 4, 100, 0.0, 1.0, 0.1, 0.5);
            BootstrapOptions options;
            options.resamples = 1000;
            options.seed = static_cast<uint64_t>(d) + 1;
            const Interval interval = crossedBootstrapMean(differences, options);
            if (interval.low <= 0 && 0 <= interval.high)
                ++containsZero;
        }
        const double share = double(containsZero) / datasets;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        qInfo("null: %d of %d intervals contain 0 (%.3f), %.2f s", containsZero, datasets, share, seconds);
        QVERIFY2(share >= 0.89 && share <= 0.995, qPrintable(QString::number(share)));
    }

    void bootstrapWithOneSeedMatchesTheStandardError()
    {
        // One seed: only items are resampled, and the percentile interval of a mean of 400
        // values approaches mean +- 1.96 s / sqrt(n).
        std::mt19937_64 rng(7);
        std::normal_distribution<double> noise(0, 1);
        std::vector<std::vector<double>> differences(1, std::vector<double>(400));
        for (double &cell : differences[0])
            cell = 0.2 + noise(rng);
        double mean = 0;
        for (double cell : differences[0])
            mean += cell;
        mean /= 400;
        double squares = 0;
        for (double cell : differences[0])
            squares += (cell - mean) * (cell - mean);
        const double standardError = std::sqrt(squares / 399) / std::sqrt(400.0);
        const Interval interval = crossedBootstrapMean(differences);
        qInfo("one seed: [%.4f, %.4f], normal [%.4f, %.4f]", interval.low, interval.high,
              mean - 1.96 * standardError, mean + 1.96 * standardError);
        QVERIFY(std::abs(interval.estimate - mean) <= 1e-12);
        QVERIFY(closeRelative(interval.high - interval.low, 2 * 1.96 * standardError, 0.1));
        QVERIFY(closeRelative(interval.estimate - interval.low, 1.96 * standardError, 0.15));
        QVERIFY(closeRelative(interval.high - interval.estimate, 1.96 * standardError, 0.15));
    }

    void bootstrapReflectsVariationBetweenSeeds()
    {
        // Items agree within each seed; only the seeds differ. Resampling items alone would
        // give a zero-width interval.
        std::vector<std::vector<double>> differences;
        for (double offset : {-1.0, 0.0, 0.5, 2.5})
            differences.push_back(std::vector<double>(50, offset));
        const Interval interval = crossedBootstrapMean(differences);
        QCOMPARE(interval.estimate, 0.5);
        QVERIFY(interval.low < 0 && interval.high > 1);
        QVERIFY(interval.low >= -1 && interval.high <= 2.5);
        // With one seed the same constant row has nothing to vary.
        const Interval single = crossedBootstrapMean({std::vector<double>(50, 0.5)});
        QCOMPARE(single.low, 0.5);
        QCOMPARE(single.high, 0.5);
    }

    void bootstrapRefusesEmptyRaggedAndInvalidInput()
    {
        QVERIFY(errorOf([] { crossedBootstrapMean({}); }).contains("no differences"));
        QVERIFY(errorOf([] { crossedBootstrapMean({{}, {}}); }).contains("no differences"));
        const QString ragged = errorOf([] { crossedBootstrapMean({{1, 2, 3}, {1, 2, 3}, {1, 2}}); });
        QVERIFY2(ragged.contains("seed row 2 has 2 items") && ragged.contains("3"), qPrintable(ragged));
        const double nan = std::numeric_limits<double>::quiet_NaN();
        QVERIFY(errorOf([nan] { crossedBootstrapMean({{1, 2}, {nan, 1}}); }).contains("seed row 1, item 0"));
        BootstrapOptions noResamples;
        noResamples.resamples = 0;
        QVERIFY(errorOf([&] { crossedBootstrapMean({{1, 2}}, noResamples); }).contains("resamples"));
        BootstrapOptions certain;
        certain.level = 1;
        QVERIFY(errorOf([&] { crossedBootstrapMean({{1, 2}}, certain); }).contains("level"));
    }

    void bootstrapIsDeterministicForASeed()
    {
        std::mt19937_64 rng(3);
        const auto differences = simulatedDifferences(rng, 3, 80, 0.1, 1.0, 0.2, 0.5);
        BootstrapOptions options;
        options.resamples = 500;
        options.seed = 11;
        const Interval first = crossedBootstrapMean(differences, options);
        const Interval again = crossedBootstrapMean(differences, options);
        QCOMPARE(again.estimate, first.estimate);
        QCOMPARE(again.low, first.low);
        QCOMPARE(again.high, first.high);
        options.seed = 12;
        const Interval other = crossedBootstrapMean(differences, options);
        QCOMPARE(other.estimate, first.estimate);
        QVERIFY(other.low != first.low);
        QVERIFY(other.high != first.high);
    }
};

QTEST_GUILESS_MAIN(TestPairedStatistics)
#include "test_paired_statistics.moc"
