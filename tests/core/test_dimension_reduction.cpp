// Dimensionality reduction of a teacher matrix to the student's shape: the fast best-window
// search against the reference summed-area-table scan (random data, constructed ties,
// thread counts), the four structures' shapes and picks, and gathering the weights.

#include "TestSupport.h"

#include "Error.h"
#include "transfer/DimensionReduction.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <QTest>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <vector>

using nugget::test::errorOf;

using namespace nugget;

Q_DECLARE_METATYPE(at::ScalarType)

namespace {

// All window totals from the summed-area table, [R - rows + 1, C - cols + 1].
at::Tensor allWindowTotals(const at::Tensor &table, int64_t rows, int64_t cols)
{
    const int64_t R = table.size(0) - 1, C = table.size(1) - 1;
    const int64_t nr = R - rows + 1, nc = C - cols + 1;
    return table.narrow(0, rows, nr).narrow(1, cols, nc) - table.narrow(0, 0, nr).narrow(1, cols, nc) -
           table.narrow(0, rows, nr).narrow(1, 0, nc) + table.narrow(0, 0, nr).narrow(1, 0, nc);
}

// Fails unless findBestWindow picks the reference's window.
void compareWithReference(const at::Tensor &scores, int64_t rows, int64_t cols)
{
    const auto fast = findBestWindow(scores, rows, cols);
    const auto reference = referenceWindowScan(scores, rows, cols);
    const QString where = QStringLiteral("%1x%2 -> %3x%4: fast (%5, %6) reference (%7, %8)")
                              .arg(scores.size(0)).arg(scores.size(1)).arg(rows).arg(cols)
                              .arg(fast.row).arg(fast.col).arg(reference.row).arg(reference.col);
    QVERIFY2(fast.row == reference.row && fast.col == reference.col, qPrintable(where));
    QCOMPARE(fast.rows, rows);
    QCOMPARE(fast.cols, cols);
    QVERIFY2(std::abs(fast.total - reference.total) <= 1e-9 * std::max(1.0, std::abs(reference.total)),
             qPrintable(where + QStringLiteral(" totals %1 vs %2").arg(fast.total, 0, 'g', 17).arg(reference.total, 0, 'g', 17)));
}

void checkIndices(const std::vector<int64_t> &index, int64_t expectedCount, int64_t size)
{
    QCOMPARE(static_cast<int64_t>(index.size()), expectedCount);
    for (size_t k = 0; k < index.size(); ++k) {
        QVERIFY(index[k] >= 0 && index[k] < size);
        if (k > 0)
            QVERIFY(index[k] > index[k - 1]);
    }
}

at::Tensor indexTensor(const std::vector<int64_t> &index)
{
    return at::tensor(at::ArrayRef<int64_t>(index), at::TensorOptions().dtype(at::kLong));
}

// Rows: sums [5, 1, 5, 5]; columns: sums [1, 6, 4, 4, 1] (ties on purpose).
at::Tensor handMadeScores()
{
    const std::vector<float> values = {
        0, 3, 1, 1, 0,
        0, 0, 0, 0, 1,
        1, 1, 2, 1, 0,
        0, 2, 1, 2, 0,
    };
    return at::tensor(at::ArrayRef<float>(values)).reshape({4, 5});
}

class ThreadCount
{
public:
    explicit ThreadCount(int threads) : previous_(at::get_num_threads()) { at::set_num_threads(threads); }
    ~ThreadCount() { at::set_num_threads(previous_); }

private:
    int previous_;
};

} // namespace

class TestDimensionReduction : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void windowMatchesReference_data()
    {
        QTest::addColumn<int>("R");
        QTest::addColumn<int>("C");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<at::ScalarType>("dtype");
        QTest::addColumn<int>("seed");
        QTest::newRow("square 300x280 -> 200x190") << 300 << 280 << 200 << 190 << at::kFloat << 1;
        QTest::newRow("13B->7B ratio 320x320 -> 256x256") << 320 << 320 << 256 << 256 << at::kFloat << 2;
        QTest::newRow("FFN ratio 432x160 -> 344x128") << 432 << 160 << 344 << 128 << at::kFloat << 3;
        QTest::newRow("embedding full height 257x300 -> 257x240") << 257 << 300 << 257 << 240 << at::kFloat << 4;
        QTest::newRow("full width 300x250 -> 120x250") << 300 << 250 << 120 << 250 << at::kFloat << 5;
        QTest::newRow("full shape 123x77") << 123 << 77 << 123 << 77 << at::kFloat << 6;
        QTest::newRow("1x1 200x180") << 200 << 180 << 1 << 1 << at::kFloat << 7;
        QTest::newRow("tall 320x64 -> 300x7") << 320 << 64 << 300 << 7 << at::kFloat << 8;
        QTest::newRow("wide 40x400 -> 3x390") << 40 << 400 << 3 << 390 << at::kFloat << 9;
        QTest::newRow("small window 200x200 -> 5x9") << 200 << 200 << 5 << 9 << at::kFloat << 10;
        QTest::newRow("one row 1x300 -> 1x100") << 1 << 300 << 1 << 100 << at::kFloat << 11;
        QTest::newRow("one column 300x1 -> 100x1") << 300 << 1 << 100 << 1 << at::kFloat << 12;
        QTest::newRow("float64 250x230 -> 180x170") << 250 << 230 << 180 << 170 << at::kDouble << 13;
        QTest::newRow("float16 250x230 -> 180x170") << 250 << 230 << 180 << 170 << at::kHalf << 14;
        QTest::newRow("bfloat16 250x230 -> 3x2") << 250 << 230 << 3 << 2 << at::kBFloat16 << 15;
    }

    void windowMatchesReference()
    {
        QFETCH(int, R);
        QFETCH(int, C);
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(at::ScalarType, dtype);
        QFETCH(int, seed);
        at::manual_seed(seed);
        const auto scores = at::rand({R, C}).to(dtype);

        // float32/float64 data: the best window must be unique by a margin far above
        // rounding, or the comparison would test rounding; float16/bfloat16 sums are exact.
        if (dtype == at::kFloat || dtype == at::kDouble) {
            const auto totals = allWindowTotals(summedAreaTable(scores), rows, cols).flatten();
            if (totals.numel() > 1) {
                const auto top = std::get<0>(totals.topk(2));
                const double margin = top[0].item<double>() - top[1].item<double>();
                QVERIFY2(margin > 1e-7 * std::max(1.0, top[0].item<double>()),
                         qPrintable(QStringLiteral("test data has a near tie (margin %1); change the seed").arg(margin)));
            }
        }
        compareWithReference(scores, rows, cols);
    }

    void constantMatrixPicksFirstWindow()
    {
        const auto scores = at::full({50, 60}, 0.25);
        for (const auto &[rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{20, 30}, {1, 1}, {50, 7}, {9, 60}}) {
            const auto window = findBestWindow(scores, rows, cols);
            QCOMPARE(window.row, int64_t(0));
            QCOMPARE(window.col, int64_t(0));
            QCOMPARE(window.total, 0.25 * double(rows * cols));
            compareWithReference(scores, rows, cols);
        }
    }

    void identicalMaximaPickFirstInScanOrder()
    {
        // Two identical blocks: the earlier row wins even when its column is larger.
        auto scores = at::zeros({40, 50});
        scores.narrow(0, 20, 6).narrow(1, 5, 7).fill_(10);
        scores.narrow(0, 5, 6).narrow(1, 30, 7).fill_(10);
        auto window = findBestWindow(scores, 6, 7);
        QCOMPARE(window.row, int64_t(5));
        QCOMPARE(window.col, int64_t(30));
        QCOMPARE(window.total, 420.0);
        compareWithReference(scores, 6, 7);

        // Same row: the smaller column wins.
        scores.zero_();
        scores.narrow(0, 10, 6).narrow(1, 30, 7).fill_(10);
        scores.narrow(0, 10, 6).narrow(1, 5, 7).fill_(10);
        window = findBestWindow(scores, 6, 7);
        QCOMPARE(window.row, int64_t(10));
        QCOMPARE(window.col, int64_t(5));
        compareWithReference(scores, 6, 7);
    }

    void repeatedBlocksAndSmallIntegersMatchReference()
    {
        // A periodic matrix: windows of a multiple of the period all tie, others tie by phase.
        at::manual_seed(21);
        const auto pattern = at::randint(0, 4, {7, 5}).to(at::kFloat);
        const auto tiled = pattern.repeat({10, 10});   // 70 x 50
        for (const auto &[rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
                 {14, 10}, {13, 9}, {7, 5}, {70, 9}, {3, 50}, {1, 1}, {35, 26}}) {
            compareWithReference(tiled, rows, cols);
        }
        const auto all = findBestWindow(tiled, 14, 10);
        QCOMPARE(all.row, int64_t(0));
        QCOMPARE(all.col, int64_t(0));

        // Small random integers: exact sums, many ties; every window shape of a small matrix.
        for (int seed = 0; seed < 3; ++seed) {
            at::manual_seed(100 + seed);
            const auto scores = at::randint(0, 3, {13, 17}).to(seed == 2 ? at::kDouble : at::kFloat);
            for (int64_t rows = 1; rows <= 13; ++rows)
                for (int64_t cols = 1; cols <= 17; ++cols)
                    compareWithReference(scores, rows, cols);
        }
    }

    void windowIndependentOfThreadCount()
    {
        at::manual_seed(31);
        const auto scores = at::rand({211, 197});
        const auto ties = at::randint(0, 2, {64, 80}).to(at::kFloat);
        for (int threads = 1; threads <= 5; ++threads) {
            ThreadCount guard(threads);
            compareWithReference(scores, 150, 160);
            compareWithReference(scores, 7, 3);
            compareWithReference(scores, 211, 100);
            compareWithReference(ties, 5, 6);
            compareWithReference(ties, 60, 2);
            compareWithReference(ties, 63, 79);
            compareWithReference(scores.t(), 120, 31);   // a non-contiguous layout
        }
    }

    void structuresReturnStudentShape_data()
    {
        QTest::addColumn<QString>("structure");
        QTest::addColumn<int>("R");
        QTest::addColumn<int>("C");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        for (const char *name : {"submatrix", "rowcol", "neuron", "random"}) {
            const QString s = QString::fromLatin1(name);
            QTest::newRow(qPrintable(s + QStringLiteral(" attention"))) << s << 160 << 160 << 128 << 128;
            QTest::newRow(qPrintable(s + QStringLiteral(" ffn"))) << s << 432 << 160 << 344 << 128;
            QTest::newRow(qPrintable(s + QStringLiteral(" embedding"))) << s << 300 << 160 << 300 << 128;
            QTest::newRow(qPrintable(s + QStringLiteral(" same shape"))) << s << 90 << 70 << 90 << 70;
            QTest::newRow(qPrintable(s + QStringLiteral(" 1x1"))) << s << 30 << 20 << 1 << 1;
        }
    }

    void structuresReturnStudentShape()
    {
        QFETCH(QString, structure);
        QFETCH(int, R);
        QFETCH(int, C);
        QFETCH(int, rows);
        QFETCH(int, cols);
        const auto kind = parseReductionStructure(structure.toStdString());
        QCOMPARE(QString::fromStdString(reductionStructureName(kind)), structure);
        at::manual_seed(41);
        const auto scores = at::rand({R, C});
        const auto reduced = reduceIndices(scores, rows, cols, kind, 7);
        checkIndices(reduced.rows, rows, R);
        checkIndices(reduced.cols, cols, C);
        QCOMPARE(reduced.window.has_value(), kind == ReductionStructure::Submatrix);
        if (reduced.window) {
            QCOMPARE(reduced.rows.front(), reduced.window->row);
            QCOMPARE(reduced.cols.front(), reduced.window->col);
            QCOMPARE(reduced.rows.back() - reduced.rows.front() + 1, int64_t(rows));   // contiguous
            QCOMPARE(reduced.cols.back() - reduced.cols.front() + 1, int64_t(cols));
        }
        const auto gathered = gatherReduced(scores, reduced);
        QCOMPARE(gathered.size(0), int64_t(rows));
        QCOMPARE(gathered.size(1), int64_t(cols));
        if (rows == R && cols == C)
            QVERIFY(at::equal(gathered, scores));   // the same shape keeps everything
    }

    void rowColAndNeuronPickDocumentedRowsAndColumns()
    {
        const auto scores = handMadeScores();
        using V = std::vector<int64_t>;
        for (const auto kind : {ReductionStructure::RowCol, ReductionStructure::Neuron}) {
            auto reduced = reduceIndices(scores, 2, 2, kind, 0);
            QCOMPARE(reduced.rows, (V{0, 2}));      // sums 5, 1, 5, 5: the tie keeps the lower indices
            QCOMPARE(reduced.cols, (V{1, 2}));      // sums 1, 6, 4, 4, 1
            reduced = reduceIndices(scores, 3, 4, kind, 0);
            QCOMPARE(reduced.rows, (V{0, 2, 3}));
            QCOMPARE(reduced.cols, (V{0, 1, 2, 3}));
            reduced = reduceIndices(scores, 1, 1, kind, 0);
            QCOMPARE(reduced.rows, (V{0}));
            QCOMPARE(reduced.cols, (V{1}));
            QVERIFY(!reduced.window);
        }
        // Half-precision scores on another layout rank the same.
        const auto reduced = reduceIndices(scores.t().contiguous().t().to(at::kBFloat16), 2, 2,
                                           ReductionStructure::RowCol, 0);
        QCOMPARE(reduced.rows, (V{0, 2}));
        QCOMPARE(reduced.cols, (V{1, 2}));
    }

    void neuronPicksColumnsThatMatterToTheKeptRows()
    {
        // Row 1 has the largest total; globally columns 0 and 2 tie (9 each), but for the
        // kept neuron only column 2 carries any score.
        const auto scores = at::tensor({5.0f, 0.0f, 0.0f, 0.0f, 0.0f, 9.0f, 4.0f, 1.0f, 0.0f}).view({3, 3});
        using V = std::vector<int64_t>;
        const auto rowcol = reduceIndices(scores, 1, 1, ReductionStructure::RowCol, 0);
        QCOMPARE(rowcol.rows, (V{1}));
        QCOMPARE(rowcol.cols, (V{0}));
        const auto neuron = reduceIndices(scores, 1, 1, ReductionStructure::Neuron, 0);
        QCOMPARE(neuron.rows, (V{1}));
        QCOMPARE(neuron.cols, (V{2}));
    }

    void randomIsSeedDeterministic()
    {
        at::manual_seed(51);
        const auto scores = at::rand({200, 150});
        const auto a = reduceIndices(scores, 100, 60, ReductionStructure::Random, 1234);
        const auto b = reduceIndices(scores, 100, 60, ReductionStructure::Random, 1234);
        QCOMPARE(a.rows, b.rows);
        QCOMPARE(a.cols, b.cols);
        const auto c = reduceIndices(scores, 100, 60, ReductionStructure::Random, 1235);
        QVERIFY(a.rows != c.rows);
        QVERIFY(a.cols != c.cols);
        // Not a function of the scores.
        const auto d = reduceIndices(at::zeros({200, 150}), 100, 60, ReductionStructure::Random, 1234);
        QCOMPARE(a.rows, d.rows);
        QCOMPARE(a.cols, d.cols);
        // The same on every platform: pinned values.
        const auto pinned = reduceIndices(at::zeros({10, 12}), 4, 5, ReductionStructure::Random, 42);
        QCOMPARE(pinned.rows, (std::vector<int64_t>{1, 2, 4, 8}));
        QCOMPARE(pinned.cols, (std::vector<int64_t>{2, 3, 4, 6, 10}));
        // Not simply the first indices.
        QVERIFY(a.rows.back() > 100 || a.rows.front() > 0);
    }

    void gatherMatchesIndexing()
    {
        at::manual_seed(61);
        const auto scores = at::rand({48, 40});
        for (const auto dtype : {at::kFloat, at::kBFloat16, at::kDouble}) {
            const auto weight = at::randn({48, 40}).to(dtype);
            for (const auto kind : {ReductionStructure::RowCol, ReductionStructure::Neuron, ReductionStructure::Random}) {
                const auto reduced = reduceIndices(scores, 30, 25, kind, 3);
                const auto gathered = gatherReduced(weight, reduced);
                QCOMPARE(gathered.scalar_type(), dtype);
                QCOMPARE(gathered.device(), weight.device());
                const auto manual = weight.index_select(0, indexTensor(reduced.rows)).index_select(1, indexTensor(reduced.cols));
                QVERIFY(at::equal(gathered, manual));
                for (size_t i = 0; i < reduced.rows.size(); i += 7)
                    for (size_t j = 0; j < reduced.cols.size(); j += 5)
                        QCOMPARE(gathered[i][j].item<double>(), weight[reduced.rows[i]][reduced.cols[j]].item<double>());
            }
            const auto reduced = reduceIndices(scores, 30, 25, ReductionStructure::Submatrix, 0);
            QVERIFY(reduced.window);
            const auto gathered = gatherReduced(weight, reduced);
            QVERIFY(at::equal(gathered, weight.narrow(0, reduced.window->row, 30).narrow(1, reduced.window->col, 25)));
            QVERIFY(gathered.is_contiguous());
            // A copy: writing to it leaves the teacher's weight alone.
            const auto before = weight.clone();
            gathered.fill_(7);
            QVERIFY(at::equal(weight, before));
        }
    }

    void errorsNameBothShapes()
    {
        const auto scores = at::rand({5, 6});
        QString message = errorOf([&] { findBestWindow(scores, 6, 6); });
        QVERIFY2(message.contains(QStringLiteral("[5, 6]")) && message.contains(QStringLiteral("[6, 6]")),
                 qPrintable(message));
        message = errorOf([&] { reduceIndices(scores, 5, 7, ReductionStructure::RowCol, 0); });
        QVERIFY2(message.contains(QStringLiteral("[5, 6]")) && message.contains(QStringLiteral("[5, 7]")),
                 qPrintable(message));
        QVERIFY(!errorOf([&] { reduceIndices(scores, 0, 3, ReductionStructure::Submatrix, 0); }).isEmpty());
        QVERIFY(!errorOf([&] { referenceWindowScan(scores, 6, 1); }).isEmpty());
        message = errorOf([&] { findBestWindow(at::rand({4, 5, 6}), 2, 2); });
        QVERIFY2(message.contains(QStringLiteral("[4, 5, 6]")), qPrintable(message));

        for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
            for (const auto dtype : {at::kFloat, at::kDouble, at::kHalf}) {
                for (const auto &[r, c] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {4, 5}, {2, 3}}) {
                    auto badScores = at::rand({5, 6}).to(dtype);
                    badScores[r][c] = bad;
                    message = errorOf([&] { findBestWindow(badScores, 3, 3); });
                    QVERIFY2(message.contains(QStringLiteral("NaN or infinite")) &&
                                 message.contains(QStringLiteral("[5, 6]")) && message.contains(QStringLiteral("[3, 3]")),
                             qPrintable(message));
                    for (const auto kind : {ReductionStructure::Submatrix, ReductionStructure::RowCol,
                                            ReductionStructure::Neuron, ReductionStructure::Random})
                        QVERIFY(errorOf([&] { reduceIndices(badScores, 3, 3, kind, 0); }).contains(QStringLiteral("NaN")));
                    QVERIFY(errorOf([&] { referenceWindowScan(badScores, 3, 3); }).contains(QStringLiteral("NaN")));
                }
            }
        }
        QVERIFY(errorOf([&] { parseReductionStructure("rows"); }).contains(QStringLiteral("submatrix")));
        QCOMPARE(parseReductionStructure("RowCol"), ReductionStructure::RowCol);

        ReducedIndices outside;
        outside.rows = {0, 5};
        outside.cols = {1};
        QVERIFY(errorOf([&] { gatherReduced(scores, outside); }).contains(QStringLiteral("[5, 6]")));
        ReducedIndices unsorted;
        unsorted.rows = {2, 1};
        unsorted.cols = {1};
        QVERIFY(!errorOf([&] { gatherReduced(scores, unsorted); }).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestDimensionReduction)
#include "test_dimension_reduction.moc"

