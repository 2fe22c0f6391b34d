// The workbench window on the built-in demo pair, offscreen: live heatmap updates that
// match the core's numbers, row clicks that change the layer choice and the mapping,
// cancelling within a second, bad input that leaves the previous state, and the UI
// thread's longest stall during a sensitivity job.

#include "TestSupport.h"

#include "MainWindow.h"
#include "EngineWaits.h"
#include "UiStallProbe.h"
#include "WorkbenchEngine.h"
#include "models/JobListModel.h"
#include "models/LayerSelectionModel.h"
#include "panels/JobsPanel.h"
#include "panels/LogPanel.h"
#include "panels/TaskPanel.h"
#include "panes/ModelPane.h"
#include "plot/AlignmentView.h"
#include "plot/HeatmapView.h"
#include "text/Tokenizer.h"
#include "transfer/TransferRecipe.h"

#include <QAbstractButton>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

using namespace nugget;

namespace {

QString demoDir() { return nugget::test::sourceDir() + QStringLiteral("/resources/demo"); }

TaskFiles demoTask()
{
    return {demoDir() + QStringLiteral("/tasks/transfer_seeds.jsonl"), demoDir() + QStringLiteral("/tasks/transfer_train.jsonl"),
            demoDir() + QStringLiteral("/tasks/transfer_eval.jsonl"), QStringLiteral("exact-match")};
}

// Waits for a job's end (its jobFinished delivered, the job list updated) and returns
// its state; Running on timeout.
JobState waitFor(MainWindow &window, int job, int timeoutMs = 300000)
{
    if (job == 0)
        return JobState::Failed;
    return waitForJob(*window.engine(), job, timeoutMs).state;
}

// Opens the demo pair and task and waits until both are loaded.
bool openDemo(MainWindow &window)
{
    window.setInteractive(false);
    QSignalSpy ready(&window, &MainWindow::pairReady);
    if (!window.openModel(window.teacherPane(), demoDir() + QStringLiteral("/teacher")) ||
        !window.openModel(window.studentPane(), demoDir() + QStringLiteral("/student")))
        return false;
    if (!ready.wait(60000))
        return false;
    window.taskPanel()->setFiles(demoTask());
    return waitFor(window, window.loadTask()) == JobState::Done;
}

} // namespace

class TestWorkbenchWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFileInfo::exists(demoDir() + QStringLiteral("/teacher/config.json")))
            QSKIP("the demo pair is missing");
    }

    void heatmapShowsPartialResultsThatMatchTheCore()
    {
        MainWindow window;
        window.show();
        QVERIFY(openDemo(window));
        QSignalSpy updates(window.engine(), &WorkbenchEngine::sensitivityUpdated);
        const int before = window.teacherHeatmap()->updateCount();
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);

        // Partial grids arrived before the final one, each shown by the heatmap.
        QVERIFY(updates.count() >= 2);
        const auto first = updates.first().at(0).value<ScoreGrid>();
        const auto last = updates.last().at(0).value<ScoreGrid>();
        QVERIFY(!first.complete);
        QVERIFY(first.sample >= 1 && first.sample < first.samples);
        QVERIFY(last.complete);
        QCOMPARE(last.sample, last.samples);
        QVERIFY(window.teacherHeatmap()->updateCount() - before >= updates.count());

        // The same numbers from the core directly: the full map, and the partial map over
        // the samples the first update had seen.
        const auto pair = loadModelPair((demoDir() + QStringLiteral("/teacher")).toStdString(),
                                        (demoDir() + QStringLiteral("/student")).toStdString());
        auto samples = seedSamples(*pair.tokenizer, readChatJsonl(demoTask().seeds.toStdString()),
                                   window.taskPanel()->maxLength());
        QCOMPARE(int(samples.size()), last.samples);
        Progress progress;
        auto teacher = pair.teacher.model;
        const auto full = computeSensitivity(teacher, samples, {}, progress).layerModuleTotals(6);
        samples.resize(size_t(first.sample));
        const auto partial = computeSensitivity(teacher, samples, {}, progress).layerModuleTotals(6);
        const int columns = last.columnLabels.size();
        QCOMPARE(columns, 7);
        QCOMPARE(last.rowLabels.size(), 8);   // embedding, 6 layers, head
        for (int layer = 0; layer < 6; ++layer)
            for (int c = 0; c < columns; ++c) {
                const size_t cell = size_t(layer + 1) * size_t(columns) + size_t(c);
                QVERIFY(std::abs(last.totals[cell] - full[layer][c].item<double>()) <= 1e-4 * std::abs(full[layer][c].item<double>()));
                QVERIFY(std::abs(first.totals[cell] - partial[layer][c].item<double>()) <=
                        1e-4 * std::abs(partial[layer][c].item<double>()));
                // What the heatmap shows is the final grid.
                QCOMPARE(window.teacherHeatmap()->data().at(layer + 1, c), last.totals[cell]);
            }
        // The layer choice follows the teacher's layer totals (4 of 6 layers).
        QVERIFY(window.selection()->isComplete());
        QCOMPARE(int(window.selection()->chosen().size()), 4);
    }

    void streamedSensitivityGivesTheInMemoryScores()
    {
        // The path the engine takes by itself for a model larger than half of the memory
        // (tooLargeForMemory), asked for here on the demo teacher.
        MainWindow window;
        window.show();
        QVERIFY(openDemo(window));
        QSignalSpy updates(window.engine(), &WorkbenchEngine::sensitivityUpdated);
        SensitivityRequest request;
        request.maxLength = window.taskPanel()->maxLength();
        request.similarity = false;
        request.streamed = true;
        QCOMPARE(waitFor(window, window.engine()->computeSensitivity(request)), JobState::Done);
        QVERIFY(updates.count() >= 1);
        const auto last = updates.last().at(0).value<ScoreGrid>();
        QVERIFY(last.complete);
        // Streamed scores complete per layer after all samples, never per sample as the
        // in-memory pass reports them.
        for (const auto &update : updates)
            QCOMPARE(update.at(0).value<ScoreGrid>().sample, last.samples);

        const auto pair = loadModelPair((demoDir() + QStringLiteral("/teacher")).toStdString(),
                                        (demoDir() + QStringLiteral("/student")).toStdString());
        const auto samples = seedSamples(*pair.tokenizer, readChatJsonl(demoTask().seeds.toStdString()),
                                         request.maxLength);
        Progress progress;
        auto teacher = pair.teacher.model;
        const auto full = computeSensitivity(teacher, samples, {}, progress).layerModuleTotals(6);
        const int columns = last.columnLabels.size();
        QCOMPARE(last.rowLabels.size(), 8);
        for (int layer = 0; layer < 6; ++layer)
            for (int c = 0; c < columns; ++c) {
                const size_t cell = size_t(layer + 1) * size_t(columns) + size_t(c);
                QVERIFY(std::abs(last.totals[cell] - full[layer][c].item<double>()) <= 1e-4 * std::abs(full[layer][c].item<double>()));
            }
        // The layer choice follows these scores as it does the in-memory ones.
        QVERIFY(window.selection()->isComplete());
        QCOMPARE(int(window.selection()->chosen().size()), 4);
    }

    void clickingRowsChangesSelectionAndMapping()
    {
        MainWindow window;
        window.resize(1600, 1000);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(openDemo(window));
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);
        QTest::qWait(50);
        auto *selection = window.selection();
        auto *heatmap = window.teacherHeatmap();
        QVERIFY(selection->isComplete());
        const auto chosen = selection->chosen();
        int unchosen = -1;
        for (int layer = 0; layer < 6 && unchosen < 0; ++layer)
            if (!chosen.count(layer))
                unchosen = layer;
        QVERIFY(unchosen >= 0);

        // The student has 4 layers: a fifth is refused and explained; nothing changes.
        QSignalSpy refused(selection, &LayerSelectionModel::refused);
        QTest::mouseClick(heatmap->plotWidget(), Qt::LeftButton, {}, heatmap->cellCentre(unchosen + 1, 0));
        QCOMPARE(refused.count(), 1);
        QCOMPARE(selection->chosen(), chosen);

        // Freeing a chosen layer leaves a gap in the mapping ...
        const int freed = *chosen.begin();
        QTest::mouseClick(heatmap->plotWidget(), Qt::LeftButton, {}, heatmap->cellCentre(freed + 1, 3));
        QVERIFY(!selection->chosen().count(freed));
        QVERIFY(!selection->isComplete());
        QCOMPARE(selection->strategy(), LayerSelectionModel::manual());
        QCOMPARE(window.alignmentView()->mapping().back(), -1);
        QVERIFY(!heatmap->selectedRows().contains(freed + 1));

        // ... and a click on the alignment view's row fills it; views follow at once.
        auto *alignment = window.alignmentView();
        QTest::mouseClick(alignment->plotWidget(), Qt::LeftButton, {}, alignment->cellCentre(unchosen, 0));
        QVERIFY(selection->isComplete());
        QVERIFY(selection->chosen().count(unchosen));
        std::vector<int> expected(selection->chosen().begin(), selection->chosen().end());
        QCOMPARE(alignment->mapping(), expected);
        QVERIFY(heatmap->selectedRows().contains(unchosen + 1));
        QCOMPARE(QString::fromStdString(window.currentRecipe().layers), selection->recipeValue());
    }

    void cancelStopsARunningJobWithinASecond()
    {
        MainWindow window;
        window.show();
        QVERIFY(openDemo(window));
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);
        // A full training run takes minutes; cancel it once it is under way.
        QSignalSpy steps(window.engine(), &WorkbenchEngine::trainingProgressed);
        const int job = window.runTransfer();
        QVERIFY(job > 0);
        QVERIFY(steps.wait(120000));
        auto *button = qobject_cast<QAbstractButton *>(window.jobsPanel()->cancelButton(job));
        QVERIFY(button);
        QElapsedTimer clock;
        clock.start();
        button->click();
        QCOMPARE(waitFor(window, job, 10000), JobState::Cancelled);
        const auto elapsed = clock.elapsed();
        qInfo("cancel took %lld ms", static_cast<long long>(elapsed));
        QVERIFY2(elapsed < 1000, qPrintable(QStringLiteral("cancel took %1 ms").arg(elapsed)));
        // The engine is free again and works.
        QCOMPARE(waitFor(window, window.evaluateStudent()), JobState::Done);
    }

    void closingTheWindowStopsTheJobWithinASecond()
    {
        auto *window = new MainWindow;
        window->show();
        QVERIFY(openDemo(*window));
        QSignalSpy steps(window->engine(), &WorkbenchEngine::trainingProgressed);
        auto recipe = window->currentRecipe();
        QVERIFY(window->engine()->runTransfer([&] {
            recipe.init = "lora";   // no scores needed
            return recipe;
        }(), QStringLiteral("lora")) > 0);
        QVERIFY(steps.wait(120000));
        QElapsedTimer clock;
        clock.start();
        window->close();
        delete window;   // joins the compute thread
        const auto elapsed = clock.elapsed();
        qInfo("closing took %lld ms", static_cast<long long>(elapsed));
        QVERIFY2(elapsed < 1000, qPrintable(QStringLiteral("closing took %1 ms").arg(elapsed)));
    }

    void badInputKeepsThePreviousState()
    {
        MainWindow window;
        window.show();
        QVERIFY(openDemo(window));
        const auto teacherBefore = window.teacherPane()->modelInfo()->folder;

        // A folder without config.json: an error naming it, the teacher stays.
        QTemporaryDir empty;
        const int errorsBefore = window.logPanel()->errorCount();
        QVERIFY(!window.openModel(window.teacherPane(), empty.path()));
        QCOMPARE(window.teacherPane()->modelInfo()->folder, teacherBefore);
        QVERIFY(window.logPanel()->errorCount() > errorsBefore);
        QVERIFY2(window.lastError().contains(empty.path()), qPrintable(window.lastError()));

        // The student as teacher: the pair check refuses it and the pane reverts.
        QSignalSpy finished(window.engine(), &WorkbenchEngine::jobFinished);
        QVERIFY(window.openModel(window.teacherPane(), demoDir() + QStringLiteral("/student")));
        QVERIFY(finished.wait(60000));
        QTRY_COMPARE(window.teacherPane()->modelInfo()->folder, teacherBefore);
        QVERIFY2(window.lastError().contains(QStringLiteral("smaller than the student")) ||
                     window.lastError().contains(QStringLiteral("no more parameters than the student")),
                 qPrintable(window.lastError()));
        // The engine still has the demo pair: sensitivity runs.
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);

        // An unreadable JSONL line: the error names the file, the loaded task stays.
        QTemporaryDir dir;
        const QString bad = dir.filePath(QStringLiteral("seeds.jsonl"));
        QVERIFY(nugget::test::writeBytes(bad, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, "
                                              "{\"role\": \"assistant\", \"content\": \"yo\"}]}\n{not json\n"));
        auto files = demoTask();
        files.seeds = bad;
        window.taskPanel()->setFiles(files);
        QCOMPARE(waitFor(window, window.loadTask()), JobState::Failed);
        QVERIFY2(window.lastError().contains(bad), qPrintable(window.lastError()));
        const auto entry = window.logPanel()->entry(window.logPanel()->count() - 1);
        QCOMPARE(entry.level, LogLevel::Error);
        QCOMPARE(entry.target, bad);
        // The seeds loaded before still drive the next job.
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);

        // A session that does not exist: an error, nothing changes.
        QCOMPARE(waitFor(window, window.openSession(dir.filePath(QStringLiteral("missing.h5")))), JobState::Failed);
        QVERIFY(window.selection()->isComplete());
    }

    // The compute thread scores while the UI thread redraws the live heatmap: the
    // longest stall the probe measures stays far below what a user notices (a UI thread
    // that ran the job itself would stall for the whole job, seconds). The probe itself
    // is checked to see a deliberately blocked UI thread, so the bound can fail.
    void uiStaysResponsiveDuringSensitivity()
    {
        constexpr double boundMs = 250;
        {
            UiStallProbe probe;
            probe.start();
            QTimer::singleShot(20, [] { QThread::msleep(400); });   // the UI thread blocked
            QTest::qWait(600);
            probe.stop();
            QVERIFY2(probe.longestStallMs() > boundMs,
                     qPrintable(QStringLiteral("a 400 ms block measured as %1 ms").arg(probe.longestStallMs())));
        }
        MainWindow window;
        window.show();
        QVERIFY(openDemo(window));
        UiStallProbe probe;
        probe.start();
        QCOMPARE(waitFor(window, window.computeSensitivity()), JobState::Done);
        probe.stop();
        qInfo("longest UI stall during sensitivity: %.1f ms over %d ticks (mean gap %.2f ms)", probe.longestStallMs(),
              probe.ticks(), probe.meanGapMs());
        QVERIFY(probe.ticks() > 10);
        QVERIFY2(probe.longestStallMs() < boundMs,
                 qPrintable(QStringLiteral("the UI thread stalled %1 ms during sensitivity").arg(probe.longestStallMs())));
    }
};

QTEST_MAIN(TestWorkbenchWindow)
#include "test_workbench_window.moc"
