// A teacher too large for memory stays on disk in the workbench. NUGGET_MEMORY_BYTES
// makes the demo teacher (12.9 MB in float32) count as too large for half of 20 MB
// while the student (5 MB) fits. Against an engine holding the same teacher in memory
// and scoring it there (the in-memory sensitivity with a gradient for every weight, and
// the layer similarity from the loaded model): the pair loads with the teacher
// memory-mapped, its sensitivity streams into a session file with the same grid (within
// float32 summation order), layer similarity streams its layers to the same CKA, the
// dimension map and a transfer run read the scores from that file and agree, and saving
// and reopening a session keeps the scores on disk. A student too large is refused.

#include "TestSupport.h"

#include "EngineResults.h"
#include "WorkbenchEngine.h"
#include "EngineTestSupport.h"
#include "io/Session.h"
#include "transfer/TransferRecipe.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <cmath>
#include <map>

using namespace nugget;
using nugget::test::JobOutcomes;

namespace {

QString demoDir() { return test::sourceDir() + QStringLiteral("/resources/demo"); }

TaskFiles demoTask()
{
    return {demoDir() + QStringLiteral("/tasks/transfer_seeds.jsonl"),
            demoDir() + QStringLiteral("/tasks/transfer_train.jsonl"),
            demoDir() + QStringLiteral("/tasks/transfer_eval.jsonl"), QStringLiteral("exact-match")};
}

#define NUGGET_DONE(outcomes, call)                                                                                  \
    do {                                                                                                             \
        const auto outcome = (outcomes).wait(call);                                                                  \
        QVERIFY2(outcome.state == JobState::Done, qPrintable(#call + QStringLiteral(": ") + outcome.message));      \
    } while (false)

TransferRecipe smallRun()
{
    TransferRecipe recipe;
    recipe.init = "transfer";
    recipe.lora.rank = 4;
    recipe.lora.alpha = 8;
    recipe.training.epochs = 1;
    recipe.evalLimit = 4;
    recipe.evalMetric = "exact-match";
    return recipe;
}

// What one engine shows of the demo pair's teacher.
struct Views
{
    PairSummary pair;
    ScoreGrid grid;
    ReductionPreview preview;
    RunSummary run;
    int similarityUpdates = 0;
    SimilarityGrid similarity;   // the complete one
    QStringList log;
    QStringList progress;        // the jobs' progress messages
};

struct MemoryBudget
{
    explicit MemoryBudget(const char *bytes) { qputenv("NUGGET_MEMORY_BYTES", bytes); }
    ~MemoryBudget() { qunsetenv("NUGGET_MEMORY_BYTES"); }
};

void collect(WorkbenchEngine &engine, Views &views)
{
    QObject::connect(&engine, &WorkbenchEngine::pairLoaded, &engine, [&views](const PairSummary &p) { views.pair = p; });
    QObject::connect(&engine, &WorkbenchEngine::sensitivityUpdated, &engine, [&views](const ScoreGrid &g) {
        if (g.side == Side::Teacher && g.complete)
            views.grid = g;
    });
    QObject::connect(&engine, &WorkbenchEngine::reductionPreviewed, &engine,
                     [&views](const ReductionPreview &p) { views.preview = p; });
    QObject::connect(&engine, &WorkbenchEngine::runFinished, &engine, [&views](const RunSummary &r) { views.run = r; });
    QObject::connect(&engine, &WorkbenchEngine::similarityUpdated, &engine, [&views](const SimilarityGrid &g) {
        ++views.similarityUpdates;
        if (g.complete)
            views.similarity = g;
    });
    QObject::connect(&engine, &WorkbenchEngine::logMessage, &engine, [&views](const LogEntry &e) { views.log << e.text; });
    QObject::connect(&engine, &WorkbenchEngine::jobProgress, &engine,
                     [&views](int, double, const QString &message) { views.progress << message; });
}

void runAll(WorkbenchEngine &engine, JobOutcomes &outcomes)
{
    NUGGET_DONE(outcomes, engine.loadPair(demoDir() + QStringLiteral("/teacher"), demoDir() + QStringLiteral("/student")));
    NUGGET_DONE(outcomes, engine.loadTask(demoTask(), 96));
    SensitivityRequest request;
    request.streamed = false;   // a teacher in memory is scored there; a mapped one streams
    request.computeDtype = QStringLiteral("float32");
    request.similarity = true;
    NUGGET_DONE(outcomes, engine.computeSensitivity(request));
    NUGGET_DONE(outcomes, engine.previewReduction(2, QStringLiteral("up"), QStringLiteral("submatrix"), 1));
    NUGGET_DONE(outcomes, engine.runTransfer(smallRun(), QStringLiteral("method")));
}

void compareGrids(const ScoreGrid &actual, const ScoreGrid &expected, double tolerance)
{
    QVERIFY(actual.complete);
    QCOMPARE(actual.computeDtype, expected.computeDtype);
    QCOMPARE(actual.rowLabels, expected.rowLabels);
    QCOMPARE(actual.counts, expected.counts);
    QCOMPARE(actual.totals.size(), expected.totals.size());
    for (size_t i = 0; i < expected.totals.size(); ++i)
        QVERIFY2(std::abs(actual.totals[i] - expected.totals[i]) <= tolerance * std::abs(expected.totals[i]),
                 qPrintable(QStringLiteral("cell %1: %2 vs %3").arg(i).arg(actual.totals[i]).arg(expected.totals[i])));
    QCOMPARE(actual.layerTotals.size(), expected.layerTotals.size());
    for (size_t i = 0; i < expected.layerTotals.size(); ++i)
        QVERIFY(std::abs(actual.layerTotals[i] - expected.layerTotals[i]) <= tolerance * expected.layerTotals[i]);
}

} // namespace

class TestWorkbenchLargeTeacher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void teacherTooLargeForMemoryStaysOnDisk()
    {
        Views inMemory, onDisk;
        {
            WorkbenchEngine engine;
            JobOutcomes outcomes(engine);
            collect(engine, inMemory);
            runAll(engine, outcomes);
            if (QTest::currentTestFailed())
                return;
        }
        QVERIFY(!inMemory.pair.teacherMapped);
        QVERIFY(inMemory.similarityUpdates > 0);
        // The in-memory pass reports per seed sample (the streamed one per parameter).
        const auto inMemoryProgress = inMemory.progress.join(u'\n');
        QVERIFY2(inMemoryProgress.contains(QStringLiteral("teacher sample %1/%1").arg(inMemory.grid.samples)),
                 qPrintable(inMemoryProgress));

        QTemporaryDir dir;
        const QString saved = dir.filePath(QStringLiteral("saved.h5"));
        MemoryBudget budget("20000000");
        WorkbenchEngine engine;
        JobOutcomes outcomes(engine);
        collect(engine, onDisk);
        runAll(engine, outcomes);
        if (QTest::currentTestFailed())
            return;

        QVERIFY(onDisk.pair.teacherMapped);
        // What is on disk (bfloat16 tensors, the file less its header), not a float32 copy.
        const qint64 file = QFileInfo(demoDir() + QStringLiteral("/teacher/model.safetensors")).size();
        QVERIFY(onDisk.pair.teacherBytes <= file && onDisk.pair.teacherBytes > file - 65536);
        QCOMPARE(onDisk.pair.studentBytes, inMemory.pair.studentBytes);
        QVERIFY2(onDisk.log.join(u'\n').contains(QLatin1String("stays on disk")), qPrintable(onDisk.log.join(u'\n')));
        QVERIFY(!onDisk.progress.join(u'\n').contains(QLatin1String("teacher sample")));

        // The grid's totals come from the float32 scores as they stream past: the
        // in-memory scores within float32 summation order.
        compareGrids(onDisk.grid, inMemory.grid, 1e-4);
        if (QTest::currentTestFailed())
            return;
        // Layer similarity from the teacher's layers streamed one at a time.
        QVERIFY(onDisk.similarityUpdates > 0);
        QCOMPARE(onDisk.similarity.teacherLayers, inMemory.similarity.teacherLayers);
        QCOMPARE(onDisk.similarity.values.size(), inMemory.similarity.values.size());
        for (size_t i = 0; i < inMemory.similarity.values.size(); ++i)
            QVERIFY2(std::abs(onDisk.similarity.values[i] - inMemory.similarity.values[i]) < 1e-5,
                     qPrintable(QStringLiteral("CKA cell %1: %2 vs %3").arg(i).arg(onDisk.similarity.values[i])
                                    .arg(inMemory.similarity.values[i])));

        // The dimension map reads the stored float16 scores back: the same window.
        QCOMPARE(onDisk.preview.parameter, inMemory.preview.parameter);
        QVERIFY(onDisk.preview.isWindow);
        QCOMPARE(onDisk.preview.rowStart, inMemory.preview.rowStart);
        QCOMPARE(onDisk.preview.columnStart, inMemory.preview.columnStart);
        QVERIFY(std::abs(onDisk.preview.keptShare - inMemory.preview.keptShare) < 1e-3);

        // The run extracts from the scores on disk: the same teacher layers.
        QVERIFY(!inMemory.run.extraction.isEmpty());
        QCOMPARE(onDisk.run.extraction, inMemory.run.extraction);
        QCOMPARE(onDisk.run.items, inMemory.run.items);

        // Saved, the session holds every teacher score; reopened, the grid comes back
        // from its totals without loading the scores into memory.
        NUGGET_DONE(outcomes, engine.saveSession(saved, smallRun(), {}, QStringLiteral("sensitivity")));
        {
            const auto session = Session::openReadOnly(saved.toStdString());
            QCOMPARE(session.sensitivityParameters(Side::Teacher).size(), size_t(57));
            QCOMPARE(session.sensitivityInfo(Side::Teacher).samples, int64_t(onDisk.grid.samples));
            QCOMPARE(session.sensitivityInfo(Side::Teacher).computeDtype, std::string("float32"));
        }
        onDisk.grid = {};
        NUGGET_DONE(outcomes, engine.openSession(saved));
        compareGrids(onDisk.grid, inMemory.grid, 1e-3);   // embedding and head: float16 scores
        if (QTest::currentTestFailed())
            return;
        NUGGET_DONE(outcomes, engine.previewReduction(2, QStringLiteral("up"), QStringLiteral("submatrix"), 1));
        QCOMPARE(onDisk.preview.rowStart, inMemory.preview.rowStart);
        QCOMPARE(onDisk.preview.columnStart, inMemory.preview.columnStart);
    }

    // Scores computed in bfloat16 say so in the grid (the heatmap's title names it), in
    // the saved session, and in the grid of the reopened session.
    void bfloat16ScoresSayTheirCompute()
    {
        QTemporaryDir dir;
        const QString saved = dir.filePath(QStringLiteral("bf16.h5"));
        MemoryBudget budget("20000000");
        Views views;
        WorkbenchEngine engine;
        JobOutcomes outcomes(engine);
        collect(engine, views);
        NUGGET_DONE(outcomes, engine.loadPair(demoDir() + QStringLiteral("/teacher"), demoDir() + QStringLiteral("/student")));
        NUGGET_DONE(outcomes, engine.loadTask(demoTask(), 96));
        SensitivityRequest request;
        request.computeDtype = QStringLiteral("bfloat16");
        NUGGET_DONE(outcomes, engine.computeSensitivity(request));
        QCOMPARE(views.grid.computeDtype, QStringLiteral("bfloat16"));
        NUGGET_DONE(outcomes, engine.saveSession(saved, smallRun(), {}, QStringLiteral("sensitivity")));
        QCOMPARE(Session::openReadOnly(saved.toStdString()).sensitivityInfo(Side::Teacher).computeDtype,
                 std::string("bfloat16"));
        views.grid = {};
        NUGGET_DONE(outcomes, engine.openSession(saved));
        QVERIFY(views.grid.complete);
        QCOMPARE(views.grid.computeDtype, QStringLiteral("bfloat16"));
    }

    void aStudentTooLargeIsRefusedByName()
    {
        MemoryBudget budget("8000000");   // half: 4 MB, under the student's 5 MB
        WorkbenchEngine engine;
        JobOutcomes outcomes(engine);
        const QString student = demoDir() + QStringLiteral("/student");
        const auto outcome = outcomes.wait(engine.loadPair(demoDir() + QStringLiteral("/teacher"), student));
        QCOMPARE(outcome.state, JobState::Failed);
        QVERIFY2(outcome.message.contains(student) && outcome.message.contains(QLatin1String("choose a smaller student")),
                 qPrintable(outcome.message));
    }

    void aBadMemoryBudgetIsNamed()
    {
        MemoryBudget budget("lots");
        WorkbenchEngine engine;
        JobOutcomes outcomes(engine);
        const auto outcome = outcomes.wait(engine.loadPair(demoDir() + QStringLiteral("/teacher"),
                                                             demoDir() + QStringLiteral("/student")));
        QCOMPARE(outcome.state, JobState::Failed);
        QVERIFY2(outcome.message.contains(QLatin1String("NUGGET_MEMORY_BYTES")), qPrintable(outcome.message));
    }
};

QTEST_GUILESS_MAIN(TestWorkbenchLargeTeacher)
#include "test_workbench_large_teacher.moc"
