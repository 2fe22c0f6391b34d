#include "transfer/DimensionReduction.h"

#include "Error.h"
#include "Random.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>

// How findBestWindow works. Let h x w be the window, m = C - w and s[r] the sum of
// row r over columns [0, w). The total of the window at (i, j) is
//     T(i, 0)     = s[i] + ... + s[i+h-1]
//     T(i, j + 1) = T(i, j) + D_i[j],   D_i[j] = sum over rows [i, i+h) of (S[r][j+w] - S[r][j])
// and D_{i+1} = D_i + E[i+h] - E[i] with E[r][j] = S[r][j+w] - S[r][j]. So the state that
// slides down the rows is a vector of only m = C - w doubles (1024 for 5120 -> 4096), and
// the running totals along a row are a prefix sum over those m differences.
//
//   Pass 1 (parallel over chunks of rows, reads the matrix once): s[r] for every row and
//          the sum of E over each chunk. The chunk boundaries include every segment start
//          a and a + h, so D_a is a sum of whole chunks.
//   Pass 2 (parallel over segments of window rows): each segment builds its D_a and T(a, 0)
//          from pass 1, then slides down its rows, reading only the 2m columns of E of the
//          entering and the leaving row; the prefix sums along columns of K consecutive
//          window rows run interleaved, so the add latency is hidden.
// Every score enters s or E, and non-finite values propagate through sums, so checking
// s and the chunk sums detects NaN and infinity without a separate pass.

namespace nugget {

namespace {

constexpr int kChains = 4;          // window rows whose column scans run interleaved
constexpr int64_t kChunkRows = 64;  // default rows per pass-1 chunk
constexpr int64_t kPrefetchRows = 4;  // pass 2 prefetches the rows this many window rows ahead

std::string shapeText(int64_t rows, int64_t cols)
{
    return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

std::string shapeText(const at::Tensor &tensor)
{
    std::string text = "[";
    for (int64_t d = 0; d < tensor.dim(); ++d)
        text += (d ? ", " : "") + std::to_string(tensor.size(d));
    return text + "]";
}

void checkShapes(const at::Tensor &scores, int64_t rows, int64_t cols)
{
    if (!scores.defined())
        throw Error("dimension reduction to " + shapeText(rows, cols) + ": the score tensor is empty (undefined)");
    if (scores.dim() != 2)
        throw Error("dimension reduction needs a 2-D score matrix, got shape " + shapeText(scores) +
                    " for the student's shape " + shapeText(rows, cols) +
                    "; 1-D tensors (norms, biases) are copied, not reduced");
    const int64_t R = scores.size(0), C = scores.size(1);
    if (rows < 1 || cols < 1 || rows > R || cols > C)
        throw Error("cannot reduce a teacher matrix of shape " + shapeText(R, C) + " to the student's shape " +
                    shapeText(rows, cols) + ": the student's shape must be positive and no larger than the "
                    "teacher's in either dimension (are teacher and student swapped, or the matrices mismatched?)");
    if (scores.is_complex() || scores.scalar_type() == at::kBool)
        throw Error("sensitivity scores of shape " + shapeText(R, C) + " must be real numbers, got dtype " +
                    std::string(c10::toString(scores.scalar_type())));
}

[[noreturn]] void throwNonFinite(const at::Tensor &scores, int64_t rows, int64_t cols)
{
    const bool allFinite = at::isfinite(scores).all().item<bool>();
    if (allFinite)
        throw Error("the sensitivity scores of shape " + shapeText(scores) + " (student's shape " +
                    shapeText(rows, cols) + ") are too large to be summed in float64; rescale them first");
    throw Error("the sensitivity scores of shape " + shapeText(scores) + " (student's shape " + shapeText(rows, cols) +
                ") contain NaN or infinite values; recompute the sensitivity (finite losses and gradients) "
                "before reducing");
}

// A contiguous CPU copy or view in float32 (float32/16, bfloat16) or float64 (others).
at::Tensor cpuScores(const at::Tensor &scores)
{
    const auto type = scores.scalar_type();
    const auto target = (type == at::kFloat || type == at::kHalf || type == at::kBFloat16) ? at::kFloat : at::kDouble;
    return scores.to(at::kCPU, target).contiguous();
}

bool allFinite(const std::vector<double> &values)
{
    return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// ---- kernels: simple loops g++ vectorises (float -> double conversion, add, subtract) ----
// The build targets baseline x86-64 (SSE2); on x86-64 Linux with GCC the hot kernels are
// also compiled for AVX2 and AVX-512 and picked at load time (ifunc), which doubles or
// quadruples their width where the CPU has it.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NUGGET_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NUGGET_VECTOR_CLONES
#endif

template <typename T>
NUGGET_VECTOR_CLONES double sumRow(const T *__restrict x, int64_t n)
{
    // 32 independent partial sums: enough vector accumulators to hide the add latency.
    constexpr int lanes = 32;
    double a[lanes] = {};
    int64_t k = 0;
    for (; k + lanes <= n; k += lanes)
        for (int u = 0; u < lanes; ++u)
            a[u] += static_cast<double>(x[k + u]);
    for (int width = lanes / 2; width > 0; width /= 2)
        for (int u = 0; u < width; ++u)
            a[u] += a[u + width];
    double total = a[0];
    for (; k < n; ++k)
        total += static_cast<double>(x[k]);
    return total;
}

// acc[j] += x[j + w] - x[j], j < m
template <typename T>
NUGGET_VECTOR_CLONES void addDifferences(double *__restrict acc, const T *__restrict x, int64_t m,
                                         int64_t w)
{
    const T *__restrict right = x + w;
    for (int64_t j = 0; j < m; ++j)
        acc[j] += static_cast<double>(right[j]) - static_cast<double>(x[j]);
}

// out[j] = in[j] + (enter[j + w] - enter[j]) - (leave[j + w] - leave[j]), j < m, while
// prefetching the same columns of the next rows to enter and leave (if not null): the
// rows are far apart, so the hardware prefetcher alone leaves this loop waiting on memory.
template <typename T>
NUGGET_VECTOR_CLONES void slideDifferences(
    double *__restrict out, const double *__restrict in, const T *__restrict enter, const T *__restrict leave,
    int64_t m, int64_t w, const T *nextEnter, const T *nextLeave)
{
    const T *__restrict enterRight = enter + w;
    const T *__restrict leaveRight = leave + w;
    constexpr int64_t line = 64 / sizeof(T);
    int64_t j0 = 0;
    if (nextEnter && nextLeave) {
        for (; j0 + line <= m; j0 += line) {
            __builtin_prefetch(nextEnter + j0);
            __builtin_prefetch(nextEnter + w + j0);
            __builtin_prefetch(nextLeave + j0);
            __builtin_prefetch(nextLeave + w + j0);
            for (int64_t j = j0; j < j0 + line; ++j)
                out[j] = in[j] + ((static_cast<double>(enterRight[j]) - static_cast<double>(enter[j])) -
                                  (static_cast<double>(leaveRight[j]) - static_cast<double>(leave[j])));
        }
    }
    for (int64_t j = j0; j < m; ++j)
        out[j] = in[j] + ((static_cast<double>(enterRight[j]) - static_cast<double>(enter[j])) -
                          (static_cast<double>(leaveRight[j]) - static_cast<double>(leave[j])));
}

void addVector(double *__restrict acc, const double *__restrict x, int64_t n)
{
    for (int64_t j = 0; j < n; ++j)
        acc[j] += x[j];
}

template <typename T>
void addRow(double *__restrict acc, const T *__restrict x, int64_t n)
{
    for (int64_t j = 0; j < n; ++j)
        acc[j] += static_cast<double>(x[j]);
}

// Running totals along K window rows at once: t[q] starts at start[q] (window column 0)
// and adds d[q][j] to reach column j + 1. The first strict maximum of each row wins.
void scanChains(const double *const *d, const double *start, int64_t m, double *best, int64_t *bestCol)
{
    double t[kChains], b[kChains];
    int64_t c[kChains];
    for (int q = 0; q < kChains; ++q) {
        t[q] = b[q] = start[q];
        c[q] = 0;
    }
    const double *__restrict d0 = d[0];
    const double *__restrict d1 = d[1];
    const double *__restrict d2 = d[2];
    const double *__restrict d3 = d[3];
    static_assert(kChains == 4, "scanChains is unrolled for 4 chains");
    for (int64_t j = 0; j < m; ++j) {
        t[0] += d0[j];
        t[1] += d1[j];
        t[2] += d2[j];
        t[3] += d3[j];
        if (t[0] > b[0]) { b[0] = t[0]; c[0] = j + 1; }
        if (t[1] > b[1]) { b[1] = t[1]; c[1] = j + 1; }
        if (t[2] > b[2]) { b[2] = t[2]; c[2] = j + 1; }
        if (t[3] > b[3]) { b[3] = t[3]; c[3] = j + 1; }
    }
    for (int q = 0; q < kChains; ++q) {
        best[q] = b[q];
        bestCol[q] = c[q];
    }
}

struct Candidate
{
    double total = -std::numeric_limits<double>::infinity();
    int64_t row = -1, col = -1;
};

template <typename T>
Candidate bestWindow(const T *data, int64_t R, int64_t C, int64_t h, int64_t w, bool &finite)
{
    const int64_t m = C - w;          // column positions after the first
    const int64_t positions = R - h + 1;  // window rows

    // Segments of window rows for pass 2, one per thread.
    const int64_t segments = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), positions));
    std::vector<int64_t> starts(segments + 1);
    for (int64_t t = 0; t <= segments; ++t)
        starts[t] = positions * t / segments;

    // Pass-1 chunk boundaries: regular cuts plus every a and a + h.
    const int64_t chunkRows = std::max<int64_t>(kChunkRows, R / 256);
    std::vector<int64_t> cuts;
    for (int64_t r = 0; r < R; r += chunkRows)
        cuts.push_back(r);
    cuts.push_back(R);
    for (int64_t t = 0; t < segments; ++t) {
        cuts.push_back(starts[t]);
        cuts.push_back(starts[t] + h);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    const int64_t chunks = static_cast<int64_t>(cuts.size()) - 1;

    std::vector<double> rowSum(R);
    std::vector<double> chunkSum(static_cast<size_t>(chunks * m), 0.0);
    at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
            double *acc = chunkSum.data() + c * m;
            for (int64_t r = cuts[c]; r < cuts[c + 1]; ++r) {
                const T *x = data + r * C;
                rowSum[r] = sumRow(x, w);
                addDifferences(acc, x, m, w);
            }
        }
    });
    finite = allFinite(rowSum) && allFinite(chunkSum);
    if (!finite)
        return {};

    std::vector<Candidate> found(segments);
    at::parallel_for(0, segments, 1, [&](int64_t begin, int64_t end) {
        std::vector<double> buffer(static_cast<size_t>(std::max<int64_t>(1, kChains * m)), 0.0);
        double *rowsBuffer[kChains];
        for (int q = 0; q < kChains; ++q)
            rowsBuffer[q] = buffer.data() + q * m;
        for (int64_t t = begin; t < end; ++t) {
            const int64_t a = starts[t], b = starts[t + 1];
            // D_a and T(a, 0) from pass 1.
            const auto first = std::lower_bound(cuts.begin(), cuts.end(), a) - cuts.begin();
            const auto last = std::lower_bound(cuts.begin(), cuts.end(), a + h) - cuts.begin();
            std::fill(rowsBuffer[0], rowsBuffer[0] + m, 0.0);
            for (auto c = first; c < last; ++c)
                addVector(rowsBuffer[0], chunkSum.data() + c * m, m);
            double column0 = 0;
            for (int64_t r = a; r < a + h; ++r)
                column0 += rowSum[r];

            Candidate best;
            const double *previous = rowsBuffer[0];
            for (int64_t i0 = a; i0 < b; i0 += kChains) {
                const int64_t count = std::min<int64_t>(kChains, b - i0);
                double start[kChains];
                const double *chain[kChains];
                for (int q = 0; q < kChains; ++q) {
                    if (q >= count) {
                        start[q] = -std::numeric_limits<double>::infinity();
                        chain[q] = rowsBuffer[0];
                        continue;
                    }
                    const int64_t i = i0 + q;
                    if (i != a) {
                        const bool ahead = i + kPrefetchRows < b;
                        slideDifferences(rowsBuffer[q], previous, data + (i + h - 1) * C, data + (i - 1) * C, m, w,
                                         ahead ? data + (i + h - 1 + kPrefetchRows) * C : nullptr,
                                         ahead ? data + (i - 1 + kPrefetchRows) * C : nullptr);
                        column0 += rowSum[i + h - 1] - rowSum[i - 1];
                    }
                    previous = rowsBuffer[q];
                    chain[q] = rowsBuffer[q];
                    start[q] = column0;
                }
                double chainBest[kChains];
                int64_t chainCol[kChains];
                scanChains(chain, start, m, chainBest, chainCol);
                for (int q = 0; q < count; ++q) {
                    if (chainBest[q] > best.total) {
                        best.total = chainBest[q];
                        best.row = i0 + q;
                        best.col = chainCol[q];
                    }
                }
            }
            found[t] = best;
        }
    });

    Candidate best = found[0];
    for (int64_t t = 1; t < segments; ++t)
        if (found[t].total > best.total)
            best = found[t];
    return best;
}

// Float64 row totals and column totals of a CPU float/double matrix.
template <typename T>
void rowAndColumnSums(const T *data, int64_t R, int64_t C, std::vector<double> &rowSum, std::vector<double> &colSum)
{
    rowSum.assign(R, 0.0);
    colSum.assign(C, 0.0);
    at::parallel_for(0, R, 64, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
            rowSum[r] = sumRow(data + r * C, C);
    });
    constexpr int64_t block = 1024;
    at::parallel_for(0, (C + block - 1) / block, 1, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
            const int64_t c0 = b * block, n = std::min(C, c0 + block) - c0;
            for (int64_t r = 0; r < R; ++r)
                addRow(colSum.data() + c0, data + r * C + c0, n);
        }
    });
}

void scoreSums(const at::Tensor &scores, int64_t rows, int64_t cols, std::vector<double> &rowSum,
               std::vector<double> &colSum)
{
    const auto cpu = cpuScores(scores);
    const int64_t R = cpu.size(0), C = cpu.size(1);
    if (cpu.scalar_type() == at::kFloat)
        rowAndColumnSums(cpu.data_ptr<float>(), R, C, rowSum, colSum);
    else
        rowAndColumnSums(cpu.data_ptr<double>(), R, C, rowSum, colSum);
    if (!allFinite(rowSum) || !allFinite(colSum))
        throwNonFinite(cpu, rows, cols);
}

// Indices of the k highest values (ties: lower index first), in ascending order.
std::vector<int64_t> topIndices(const std::vector<double> &value, int64_t k)
{
    std::vector<int64_t> index(value.size());
    std::iota(index.begin(), index.end(), int64_t{0});
    if (k < static_cast<int64_t>(index.size())) {
        std::nth_element(index.begin(), index.begin() + k, index.end(), [&](int64_t a, int64_t b) {
            return value[a] > value[b] || (value[a] == value[b] && a < b);
        });
        index.resize(k);
        std::sort(index.begin(), index.end());
    }
    return index;
}

std::vector<double> scaled(std::vector<double> values, double divisor)
{
    for (double &v : values)
        v /= divisor;
    return values;
}

using random::SplitMix64;

// k distinct indices of [0, n), ascending: a partial Fisher-Yates shuffle.
std::vector<int64_t> randomSubset(int64_t n, int64_t k, SplitMix64 &random)
{
    std::vector<int64_t> index(n);
    std::iota(index.begin(), index.end(), int64_t{0});
    for (int64_t i = 0; i < k; ++i)
        std::swap(index[i], index[i + static_cast<int64_t>(random.below(static_cast<uint64_t>(n - i)))]);
    index.resize(k);
    std::sort(index.begin(), index.end());
    return index;
}

std::vector<int64_t> range(int64_t first, int64_t count)
{
    std::vector<int64_t> index(count);
    std::iota(index.begin(), index.end(), first);
    return index;
}

void checkIndices(const std::vector<int64_t> &index, int64_t size, const char *what, const at::Tensor &weight)
{
    if (index.empty())
        throw Error(std::string("no ") + what + " selected for the weight of shape " + shapeText(weight));
    for (size_t k = 0; k < index.size(); ++k) {
        if (index[k] < 0 || index[k] >= size)
            throw Error(std::string(what) + " index " + std::to_string(index[k]) + " is outside the weight of shape " +
                        shapeText(weight) + "; were the indices computed from another matrix's scores?");
        if (k > 0 && index[k] <= index[k - 1])
            throw Error(std::string(what) + " indices for the weight of shape " + shapeText(weight) +
                        " must be ascending and unique");
    }
}

// Narrows when the indices are one contiguous range (a view), otherwise index_select (a copy).
at::Tensor selectAlong(const at::Tensor &weight, int64_t dim, const std::vector<int64_t> &index, bool &copied)
{
    const int64_t first = index.front(), count = static_cast<int64_t>(index.size());
    if (index.back() - first + 1 == count)
        return weight.narrow(dim, first, count);
    copied = true;
    const auto indexTensor =
        at::from_blob(const_cast<int64_t *>(index.data()), {count}, at::TensorOptions().dtype(at::kLong))
            .to(weight.device());
    return weight.index_select(dim, indexTensor);
}

} // namespace

SubmatrixWindow findBestWindow(const at::Tensor &scores, int64_t rows, int64_t cols)
{
    checkShapes(scores, rows, cols);
    const auto cpu = cpuScores(scores);
    const int64_t R = cpu.size(0), C = cpu.size(1);
    bool finite = true;
    const Candidate best = cpu.scalar_type() == at::kFloat
                               ? bestWindow(cpu.data_ptr<float>(), R, C, rows, cols, finite)
                               : bestWindow(cpu.data_ptr<double>(), R, C, rows, cols, finite);
    if (!finite)
        throwNonFinite(cpu, rows, cols);
    SubmatrixWindow window;
    window.row = best.row;
    window.col = best.col;
    window.rows = rows;
    window.cols = cols;
    window.total = best.total;
    return window;
}

at::Tensor summedAreaTable(const at::Tensor &scores)
{
    if (!scores.defined() || scores.dim() != 2)
        throw Error("a summed-area table needs a 2-D score matrix, got shape " +
                    (scores.defined() ? shapeText(scores) : std::string("(undefined)")));
    const int64_t R = scores.size(0), C = scores.size(1);
    auto table = at::zeros({R + 1, C + 1}, at::TensorOptions().dtype(at::kDouble));
    table.narrow(0, 1, R).narrow(1, 1, C).copy_(scores.to(at::kCPU, at::kDouble).cumsum(0).cumsum(1));
    return table;
}

SubmatrixWindow referenceScanTable(const at::Tensor &table, int64_t rows, int64_t cols)
{
    if (!table.defined() || table.dim() != 2 || table.scalar_type() != at::kDouble || !table.device().is_cpu())
        throw Error("referenceScanTable expects a float64 CPU summed-area table from summedAreaTable()");
    const int64_t R = table.size(0) - 1, C = table.size(1) - 1;
    if (rows < 1 || cols < 1 || rows > R || cols > C)
        throw Error("cannot scan windows of shape " + shapeText(rows, cols) + " in a matrix of shape " +
                    shapeText(R, C));
    const auto contiguous = table.contiguous();
    const double *p = contiguous.data_ptr<double>();
    const int64_t stride = C + 1;
    SubmatrixWindow best;
    best.rows = rows;
    best.cols = cols;
    best.total = -std::numeric_limits<double>::infinity();
    bool any = false;
    // Bottom-right corners (exclusive, table coordinates) row by row, left to right.
    for (int64_t i = rows; i <= R; ++i) {
        for (int64_t j = cols; j <= C; ++j) {
            const double total =
                p[i * stride + j] - p[(i - rows) * stride + j] - p[i * stride + j - cols] + p[(i - rows) * stride + j - cols];
            if (!any || total > best.total) {
                any = true;
                best.total = total;
                best.row = i - rows;
                best.col = j - cols;
            }
        }
    }
    return best;
}

SubmatrixWindow referenceWindowScan(const at::Tensor &scores, int64_t rows, int64_t cols)
{
    checkShapes(scores, rows, cols);
    if (!at::isfinite(scores).all().item<bool>())
        throwNonFinite(scores, rows, cols);
    return referenceScanTable(summedAreaTable(scores), rows, cols);
}

ReducedIndices reduceIndices(const at::Tensor &scores, int64_t rows, int64_t cols, ReductionStructure structure,
                             uint64_t seed)
{
    checkShapes(scores, rows, cols);
    const int64_t R = scores.size(0), C = scores.size(1);
    ReducedIndices reduced;
    switch (structure) {
    case ReductionStructure::Submatrix: {
        const auto window = findBestWindow(scores, rows, cols);
        reduced.rows = range(window.row, rows);
        reduced.cols = range(window.col, cols);
        reduced.window = window;
        break;
    }
    case ReductionStructure::RowCol:
    case ReductionStructure::Neuron: {
        std::vector<double> rowSum, colSum;
        scoreSums(scores, rows, cols, rowSum, colSum);
        // RowCol ranks rows and columns independently, each by its mean over the whole
        // matrix. Neuron keeps whole output neurons first (rows by total score), then the
        // input columns that matter most to those neurons (mean over the kept rows).
        if (structure == ReductionStructure::RowCol) {
            reduced.rows = topIndices(scaled(rowSum, static_cast<double>(C)), rows);
            reduced.cols = topIndices(scaled(colSum, static_cast<double>(R)), cols);
        } else {
            reduced.rows = topIndices(rowSum, rows);
            const auto kept = cpuScores(scores).index_select(0, at::tensor(reduced.rows, at::kLong)).sum(0, false, at::kDouble);
            std::vector<double> keptColSum(kept.data_ptr<double>(), kept.data_ptr<double>() + kept.numel());
            reduced.cols = topIndices(scaled(keptColSum, static_cast<double>(rows)), cols);
        }
        break;
    }
    case ReductionStructure::Random: {
        std::vector<double> rowSum, colSum;
        scoreSums(scores, rows, cols, rowSum, colSum);   // same validation as the other structures
        SplitMix64 root{seed};
        SplitMix64 rowRandom{root.next()};
        SplitMix64 colRandom{root.next()};
        reduced.rows = randomSubset(R, rows, rowRandom);
        reduced.cols = randomSubset(C, cols, colRandom);
        break;
    }
    }
    return reduced;
}

at::Tensor gatherReduced(const at::Tensor &weight, const ReducedIndices &indices)
{
    if (!weight.defined() || weight.dim() != 2)
        throw Error("gatherReduced needs a 2-D weight, got shape " +
                    (weight.defined() ? shapeText(weight) : std::string("(undefined)")));
    checkIndices(indices.rows, weight.size(0), "row", weight);
    checkIndices(indices.cols, weight.size(1), "column", weight);
    bool copied = false;
    const auto selected = selectAlong(selectAlong(weight, 0, indices.rows, copied), 1, indices.cols, copied);
    // Never a view of the teacher's weight.
    return copied ? selected.contiguous() : selected.clone(at::MemoryFormat::Contiguous);
}

} // namespace nugget
