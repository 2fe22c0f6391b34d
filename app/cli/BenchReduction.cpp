// nugget-cli bench window: the best-sub-matrix search of dimensionality reduction on the
// LLaMA-2 13B -> 7B shapes, against a plain float32 sum over the same matrix (the
// memory-bandwidth floor) and against the reference algorithm (summed-area table, then a
// window-by-window scan), whose full cost is extrapolated from a sampled problem.

#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "transfer/DimensionReduction.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>

namespace nugget::cli {

namespace {

struct WindowShape
{
    int64_t teacherRows, teacherCols, studentRows, studentCols;
    const char *what;
};

double windowCount(int64_t R, int64_t C, int64_t r, int64_t c)
{
    return static_cast<double>(R - r + 1) * static_cast<double>(C - c + 1);
}

bool sameWindow(const SubmatrixWindow &a, const SubmatrixWindow &b)
{
    return a.row == b.row && a.col == b.col && a.rows == b.rows && a.cols == b.cols;
}

} // namespace

int benchWindow(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("window"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("repetitions"), QStringLiteral("Timed repetitions, best kept (default 10)."), QStringLiteral("N"),
         QStringLiteral("10")},
        {QStringLiteral("sample"), QStringLiteral("Side of the square sample timed for the reference scan (default 1024; "
                                                  "windows are half its side)."),
         QStringLiteral("N"), QStringLiteral("1024")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Time of the best-sub-matrix search (dimensionality reduction) on the 13B -> 7B shapes, "
                               "as a multiple of one float32 sum over the same scores, and against the reference "
                               "summed-area-table scan."));
    const int repetitions = static_cast<int>(std::max<long long>(1, integerOption(parser, QStringLiteral("repetitions"))));
    const int64_t sample = std::max<long long>(2, integerOption(parser, QStringLiteral("sample")));

    // The reference scan, timed on a sample and priced per window.
    at::manual_seed(1);
    const auto sampleScores = at::rand({sample, sample});
    const int64_t sampleWindow = sample / 2;
    const auto sampleTable = summedAreaTable(sampleScores);
    SubmatrixWindow sampleReference;
    const double sampleScanSeconds = bestSeconds(
        [&] { sampleReference = referenceScanTable(sampleTable, sampleWindow, sampleWindow); }, std::min(repetitions, 3));
    const double secondsPerWindow = sampleScanSeconds / windowCount(sample, sample, sampleWindow, sampleWindow);
    const double sampleReferenceSeconds = bestSeconds(
        [&] { referenceWindowScan(sampleScores, sampleWindow, sampleWindow); }, std::min(repetitions, 3));
    const bool sampleAgrees = sameWindow(findBestWindow(sampleScores, sampleWindow, sampleWindow), sampleReference);

    std::printf("machine: %d intra-op threads; best of %d repetitions\n", at::get_num_threads(), repetitions);
    std::printf("reference on a %lldx%lld -> %lldx%lld sample (%.0f windows): referenceWindowScan %.2f ms, "
                "of which the window scan %.2f ms = %.4f us per window; findBestWindow agrees: %s\n\n",
                static_cast<long long>(sample), static_cast<long long>(sample), static_cast<long long>(sampleWindow),
                static_cast<long long>(sampleWindow), windowCount(sample, sample, sampleWindow, sampleWindow),
                sampleReferenceSeconds * 1e3, sampleScanSeconds * 1e3, secondsPerWindow * 1e6,
                sampleAgrees ? "yes" : "NO");

    const WindowShape shapes[] = {
        {5120, 5120, 4096, 4096, "attention q/k/v/o"},
        {13824, 5120, 11008, 4096, "FFN gate/up"},
    };
    bool allAgree = sampleAgrees;
    for (const auto &shape : shapes) {
        const int64_t R = shape.teacherRows, C = shape.teacherCols, r = shape.studentRows, c = shape.studentCols;
        const double windows = windowCount(R, C, r, c);
        const auto scores = at::rand({R, C});

        const double floorSeconds = bestSeconds([&] { scores.sum().item<float>(); }, repetitions);
        SubmatrixWindow fast;
        const double fastSeconds = bestSeconds([&] { fast = findBestWindow(scores, r, c); }, repetitions);
        at::Tensor table;
        const double tableSeconds = bestSeconds(
            [&] {
                table = at::Tensor();
                table = summedAreaTable(scores);
            },
            std::min(repetitions, 2));
        const double scanSeconds = secondsPerWindow * windows;
        // One exact check per shape: the reference scan over the table just built.
        const auto reference = referenceScanTable(table, r, c);
        table = at::Tensor();
        const bool agrees = sameWindow(fast, reference);
        allAgree = allAgree && agrees;

        std::printf("%lldx%lld -> %lldx%lld (%s), %.0f windows\n", static_cast<long long>(R),
                    static_cast<long long>(C), static_cast<long long>(r), static_cast<long long>(c), shape.what,
                    windows);
        std::printf("  float32 sum (floor)               %10.2f ms\n", floorSeconds * 1e3);
        std::printf("  findBestWindow                    %10.2f ms   %6.2fx floor   window (%lld, %lld)\n",
                    fastSeconds * 1e3, fastSeconds / floorSeconds, static_cast<long long>(fast.row),
                    static_cast<long long>(fast.col));
        std::printf("  float64 summed-area table (cumsum)%10.2f ms   %6.1fx floor\n", tableSeconds * 1e3,
                    tableSeconds / floorSeconds);
        std::printf("  reference window scan (estimated) %10.2f ms   %.4f us/window x %.0f windows\n",
                    scanSeconds * 1e3, secondsPerWindow * 1e6, windows);
        std::printf("  reference total (table + scan)    %10.3f s    findBestWindow is %.0fx faster; "
                    "same window: %s\n\n",
                    tableSeconds + scanSeconds, (tableSeconds + scanSeconds) / fastSeconds, agrees ? "yes" : "NO");
    }
    return allAgree ? 0 : 1;
}

} // namespace nugget::cli
