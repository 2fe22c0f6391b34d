// The workbench's plot views: what a cell shows and says, clicks on rows, the state the
// main window sets, and exports to PNG, SVG and PDF that never leave a broken file.

#include "TestSupport.h"

#include "plot/AlignmentView.h"
#include "plot/ComparisonChart.h"
#include "plot/DimensionMapView.h"
#include "plot/HeatmapView.h"
#include "plot/SeriesChart.h"

#include <QCheckBox>
#include <QDir>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <cmath>
#include <functional>

using namespace nugget;

namespace {

// 3 rows x 2 columns; the NaN cell has no value yet.
MatrixData sensitivity()
{
    MatrixData data;
    data.title = QStringLiteral("taylor sensitivity");
    data.valueName = QStringLiteral("taylor score");
    data.rowLabels = {QStringLiteral("embed"), QStringLiteral("layer 0"), QStringLiteral("head")};
    data.columnLabels = {QStringLiteral("q_proj"), QStringLiteral("k_proj")};
    data.values = {1.0, 2.0, 3.14159265, 8.0, 0.0, std::nan("")};
    return data;
}

MatrixData similarity()
{
    MatrixData data;
    data.valueName = QStringLiteral("linear CKA");
    data.rowLabels = {QStringLiteral("0"), QStringLiteral("1"), QStringLiteral("2"), QStringLiteral("3")};
    data.columnLabels = {QStringLiteral("0"), QStringLiteral("1"), QStringLiteral("2")};
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 3; ++c)
            data.values.push_back(1.0 / (1.0 + std::abs(r - c)));
    return data;
}

// Shows a view at a fixed size so that cell positions are real pixels.
void showAt(QWidget &view)
{
    view.resize(800, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QCoreApplication::processEvents();
}

// Lets the plot's queued replot lay the axes out before pixel positions are read.
void settle()
{
    QTest::qWait(50);
}

// Plot objects of one class (QCustomPlot parents its plottables and items to itself).
int countOf(const QWidget &view, const char *className)
{
    int n = 0;
    for (auto *object : view.findChildren<QObject *>())
        n += QLatin1String(object->metaObject()->className()) == QLatin1String(className) ? 1 : 0;
    return n;
}

bool startsWith(const QString &path, const QByteArray &magic)
{
    return test::readAll(path).startsWith(magic);
}

// Exports to every supported format and checks the files' signatures; then the failures.
void checkExports(const std::function<bool(const QString &, QString *)> &exportTo)
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString error;
    const QString png = dir.filePath(QStringLiteral("plot.png"));
    const QString svg = dir.filePath(QStringLiteral("plot.svg"));
    const QString pdf = dir.filePath(QStringLiteral("plot.PDF"));
    QVERIFY2(test::writeBytes(png, "old bytes"), qPrintable(png));
    QVERIFY2(exportTo(png, &error), qPrintable(error));
    QVERIFY(startsWith(png, "\x89PNG"));
    QVERIFY2(exportTo(svg, &error), qPrintable(error));
    const QByteArray svgBytes = test::readAll(svg);
    QVERIFY(svgBytes.startsWith("<?xml") || svgBytes.startsWith("<svg"));
    QVERIFY(svgBytes.contains("<svg"));
    QVERIFY2(exportTo(pdf, &error), qPrintable(error));
    QVERIFY(startsWith(pdf, "%PDF"));
    // Only the three files: no temporary file is left behind.
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 3);

    const QString bmp = dir.filePath(QStringLiteral("plot.bmp"));
    QVERIFY(test::writeBytes(bmp, "keep me"));
    error.clear();
    QVERIFY(!exportTo(bmp, &error));
    QVERIFY2(error.contains(bmp) && error.contains(QStringLiteral("bmp")), qPrintable(error));
    QCOMPARE(test::readAll(bmp), QByteArray("keep me"));

    const QString missing = dir.filePath(QStringLiteral("no such dir/plot.png"));
    error.clear();
    QVERIFY(!exportTo(missing, &error));
    QVERIFY2(error.contains(missing), qPrintable(error));
    QVERIFY(!QFileInfo::exists(missing));

    // A target that cannot be replaced (a directory) fails without a trace.
    const QString folder = dir.filePath(QStringLiteral("folder.png"));
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("folder.png")));
    error.clear();
    QVERIFY(!exportTo(folder, &error));
    QVERIFY2(error.contains(folder), qPrintable(error));
    QVERIFY(QFileInfo(folder).isDir());
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 4);
}

} // namespace

class TestPlotViews : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void heatmapNormalisesGloballyOrPerModule()
    {
        HeatmapView view;
        view.setData(sensitivity());
        QCOMPARE(view.normalisation(), HeatmapView::Normalisation::Global);
        QVERIFY(!view.logScale());
        QCOMPARE(view.displayedValue(0, 0), 1.0 / 8.0);
        QCOMPARE(view.displayedValue(1, 1), 1.0);
        QCOMPARE(view.displayedValue(2, 0), 0.0);
        QVERIFY(std::isnan(view.displayedValue(2, 1)));   // no value yet
        QVERIFY(std::isnan(view.displayedValue(3, 0)));   // outside the grid

        view.setNormalisation(HeatmapView::Normalisation::PerColumn);
        QCOMPARE(view.normalisation(), HeatmapView::Normalisation::PerColumn);
        QCOMPARE(view.displayedValue(0, 0), 1.0 / 3.14159265);
        QCOMPARE(view.displayedValue(1, 0), 1.0);
        QCOMPARE(view.displayedValue(0, 1), 2.0 / 8.0);

        view.setLogScale(true);
        QVERIFY(view.logScale());
        QCOMPARE(view.displayedValue(0, 1), std::log10(0.25));
        QVERIFY(std::isnan(view.displayedValue(2, 0)));   // log of 0
        view.setNormalisation(HeatmapView::Normalisation::Global);
        QCOMPARE(view.displayedValue(0, 0), std::log10(1.0 / 8.0));

        // The view's own controls follow the setters.
        auto *box = view.findChild<QCheckBox *>();
        QVERIFY(box && box->isChecked());
        box->setChecked(false);
        QVERIFY(!view.logScale());
        QCOMPARE(view.displayedValue(0, 0), 1.0 / 8.0);
    }

    void heatmapTooltipGivesTheExactValueAndShares()
    {
        HeatmapView view;
        view.setData(sensitivity());
        const QString text = view.toolTipText(1, 0);
        QVERIFY2(text.contains(QStringLiteral("layer 0")) && text.contains(QStringLiteral("q_proj")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("taylor score: 3.14159")), qPrintable(text));
        // Row total 11.14159265, column total 4.14159265, total 14.14159265.
        QVERIFY2(text.contains(QString::asprintf("%.3g%%", 100 * 3.14159265 / 11.14159265)), qPrintable(text));
        QVERIFY2(text.contains(QString::asprintf("%.3g%%", 100 * 3.14159265 / 4.14159265)), qPrintable(text));
        QVERIFY2(text.contains(QString::asprintf("%.3g%%", 100 * 3.14159265 / 14.14159265)), qPrintable(text));
        QVERIFY(view.toolTipText(2, 1).contains(QStringLiteral("no value yet")));
        QVERIFY(view.toolTipText(5, 0).isEmpty());
    }

    void heatmapKeepsStateAcrossUpdates()
    {
        HeatmapView view;
        QCOMPARE(view.updateCount(), 0);
        view.setSelectedRows({0, 2});
        view.setLogScale(true);
        for (int i = 0; i < 25; ++i)
            view.setData(sensitivity());
        QCOMPARE(view.updateCount(), 25);
        QCOMPARE(view.selectedRows(), QSet<int>({0, 2}));
        QVERIFY(view.logScale());
        QCOMPARE(view.data().rows(), 3);
        // Updates refill one colour map; each selected row has one outline.
        QCOMPARE(countOf(view, "QCPColorMap"), 1);
        QCOMPARE(countOf(view, "QCPItemRect"), 2);
        view.setSelectedRows({1});
        QCOMPARE(view.selectedRows(), QSet<int>({1}));
        QCOMPARE(countOf(view, "QCPItemRect"), 1);
        view.setSelectedRows({7});   // outside the grid: stored, not drawn
        QCOMPARE(countOf(view, "QCPItemRect"), 0);
    }

    void heatmapClickOnARowEmitsIt()
    {
        HeatmapView view;
        view.setData(sensitivity());
        showAt(view);
        settle();
        QSignalSpy clicked(&view, &HeatmapView::rowClicked);
        for (int row = 0; row < 3; ++row) {
            const QPoint centre = view.cellCentre(row, 0);
            QCOMPARE(view.rowAt(centre), row);
            QTest::mouseClick(view.plotWidget(), Qt::LeftButton, {}, centre);
            QCOMPARE(clicked.count(), row + 1);
            QCOMPARE(clicked.last().at(0).toInt(), row);
        }
        // Row 0 is drawn at the top.
        QVERIFY(view.cellCentre(0, 0).y() < view.cellCentre(2, 0).y());
        QVERIFY(view.cellCentre(0, 0).x() < view.cellCentre(0, 1).x());
        // Outside the cells nothing is emitted.
        QCOMPARE(view.rowAt(QPoint(1, 1)), -1);
        QTest::mouseClick(view.plotWidget(), Qt::LeftButton, {}, QPoint(1, 1));
        QCOMPARE(clicked.count(), 3);

        QSignalSpy hovered(&view, &HeatmapView::cellHovered);
        QTest::mouseMove(view.plotWidget(), view.cellCentre(1, 1));
        QTRY_COMPARE(hovered.count(), 1);
        QCOMPARE(hovered.last().at(0).toInt(), 1);
        QCOMPARE(hovered.last().at(1).toInt(), 1);
    }

    void heatmapExports()
    {
        HeatmapView view;
        view.setData(sensitivity());
        view.setSelectedRows({1});
        checkExports([&](const QString &path, QString *error) { return view.exportTo(path, error); });
    }

    void alignmentStoresMappingAndExplainsCells()
    {
        AlignmentView view;
        QCOMPARE(view.updateCount(), 0);
        view.setSimilarity(similarity());
        view.setMapping({0, -1, 3});
        QCOMPARE(view.updateCount(), 2);
        QCOMPARE(view.mapping(), std::vector<int>({0, -1, 3}));
        QCOMPARE(view.similarity().rows(), 4);
        QCOMPARE(countOf(view, "QCPItemRect"), 2);   // one per chosen cell
        view.setMapping({0, 1, 2});
        QCOMPARE(countOf(view, "QCPItemRect"), 3);
        view.setMapping({0, -1, 3});

        const QString mapped = view.toolTipText(3, 2);
        QVERIFY2(mapped.contains(QStringLiteral("teacher 3")) && mapped.contains(QStringLiteral("student 2")),
                 qPrintable(mapped));
        QVERIFY2(mapped.contains(QStringLiteral("linear CKA: 0.5000")), qPrintable(mapped));
        QVERIFY2(mapped.contains(QStringLiteral("in the mapping")) && !mapped.contains(QStringLiteral("not in")),
                 qPrintable(mapped));
        const QString unmapped = view.toolTipText(1, 1);
        QVERIFY2(unmapped.contains(QStringLiteral("linear CKA: 1.0000")), qPrintable(unmapped));
        QVERIFY2(unmapped.contains(QStringLiteral("not in the mapping")), qPrintable(unmapped));
        QVERIFY(view.toolTipText(4, 0).isEmpty());
    }

    void alignmentClickOnARowEmitsIt()
    {
        AlignmentView view;
        MatrixData unknown = similarity();
        std::fill(unknown.values.begin(), unknown.values.end(), std::nan(""));   // before the similarity is known
        view.setSimilarity(unknown);
        view.setMapping({0, 2, 3});
        showAt(view);
        settle();
        QSignalSpy clicked(&view, &AlignmentView::rowClicked);
        for (int row = 0; row < 4; ++row) {
            QTest::mouseClick(view.plotWidget(), Qt::LeftButton, {}, view.cellCentre(row, 0));
            QCOMPARE(clicked.count(), row + 1);
            QCOMPARE(clicked.last().at(0).toInt(), row);
        }
        QVERIFY(view.toolTipText(2, 1).contains(QStringLiteral("not computed yet")));
    }

    void alignmentExports()
    {
        AlignmentView view;
        view.setSimilarity(similarity());
        view.setMapping({0, 1, 3});
        checkExports([&](const QString &path, QString *error) { return view.exportTo(path, error); });
    }

    void dimensionMapDescribesWindowAndKeptSets()
    {
        DimensionMapView view;
        QCOMPARE(view.caption(), QStringLiteral("no score map"));
        ScoreMapImage image;
        image.title = QStringLiteral("layer 3 · down_proj");
        image.fullRows = 768;
        image.fullColumns = 192;
        image.imageRows = 64;
        image.imageColumns = 16;
        for (int i = 0; i < 64 * 16; ++i)
            image.values.push_back(float(i % 37));
        view.setScoreMap(image);
        KeptRegion window;
        window.isWindow = true;
        window.rowStart = 12;
        window.rowCount = 512;
        window.columnStart = 0;
        window.columnCount = 128;
        window.targetRows = 512;
        window.targetColumns = 128;
        view.setKept(window);
        QCOMPARE(view.kept().rowCount, int64_t(512));
        QVERIFY2(view.caption().startsWith(QStringLiteral("teacher 768 x 192 -> student 512 x 128, window rows 12-523, "
                                                          "columns 0-127")),
                 qPrintable(view.caption()));
        auto *label = view.findChild<QLabel *>();
        QVERIFY(label && label->text() == view.caption());

        // Scattered kept rows: every other row of the first 1024 of a large matrix.
        image.fullRows = 4096;
        view.setScoreMap(image);
        KeptRegion sets;
        for (int64_t r = 0; r < 1024; r += 2)
            sets.rows.push_back(r);
        for (int64_t c = 0; c < 96; ++c)
            sets.columns.push_back(c);
        sets.targetRows = 512;
        sets.targetColumns = 96;
        view.setKept(sets);
        QVERIFY2(view.caption().contains(QStringLiteral("keeps 512 of 4096 rows (512 runs)")), qPrintable(view.caption()));
        QVERIFY2(view.caption().contains(QStringLiteral("keeps 96 of 192 columns (0-95)")), qPrintable(view.caption()));
        showAt(view);
        settle();
        QWidget *plot = nullptr;
        for (auto *child : view.findChildren<QWidget *>())
            if (QLatin1String(child->metaObject()->className()) == QLatin1String("QCustomPlot"))
                plot = child;
        QVERIFY(plot);
        const QString tip = view.toolTipAt(plot->rect().center());
        QVERIFY2(tip.startsWith(QStringLiteral("row ")) && tip.contains(QStringLiteral("score")), qPrintable(tip));
        QVERIFY(view.toolTipAt(QPoint(1, 1)).isEmpty());
        checkExports([&](const QString &path, QString *error) { return view.exportTo(path, error); });

        view.clear();
        QCOMPARE(view.scoreMap().imageRows, 0);
        QCOMPARE(view.caption(), QStringLiteral("no score map"));
    }

    void seriesChartCountsPointsPerSeries()
    {
        SeriesChart chart(QStringLiteral("step"), QStringLiteral("loss"));
        QCOMPARE(chart.seriesCount(), 0);
        for (int step = 0; step < 100; ++step) {
            chart.append(QStringLiteral("train loss"), step, 3.0 / (1 + step));
            if (step % 10 == 0)
                chart.append(QStringLiteral("learning rate"), step, 1e-3, true);
        }
        chart.setSecondaryAxisLabel(QStringLiteral("learning rate"));
        chart.setTitle(QStringLiteral("pretraining"));
        QCOMPARE(chart.seriesCount(), 2);
        QCOMPARE(chart.pointCount(QStringLiteral("train loss")), 100);
        QCOMPARE(chart.pointCount(QStringLiteral("learning rate")), 10);
        QCOMPARE(chart.pointCount(QStringLiteral("nothing")), 0);
        checkExports([&](const QString &path, QString *error) { return chart.exportTo(path, error); });

        chart.clearSeries(QStringLiteral("learning rate"));
        QCOMPARE(chart.seriesCount(), 1);
        QCOMPARE(chart.pointCount(QStringLiteral("learning rate")), 0);
        chart.setTitle(QString());
        chart.clearAll();
        QCOMPARE(chart.seriesCount(), 0);
        chart.append(QStringLiteral("train loss"), 0, 1);
        QCOMPARE(chart.pointCount(QStringLiteral("train loss")), 1);
    }

    void comparisonChartSharesTheExport()
    {
        ComparisonChart chart;
        chart.setScores({{QStringLiteral("random init"), {40, 42}, 41, 1},
                         {QStringLiteral("transfer"), {60, 64}, 62, 2}},
                        QStringLiteral("accuracy"));
        checkExports([&](const QString &path, QString *error) { return chart.saveScores(path, error); });
    }
};

QTEST_MAIN(TestPlotViews)
#include "test_plot_views.moc"
