#include "DemoTour.h"

#include "DemoFolder.h"
#include "EngineWaits.h"
#include "MainWindow.h"
#include "WorkbenchEngine.h"
#include "io/AtomicFile.h"
#include "io/JsonText.h"
#include "models/LayerSelectionModel.h"
#include "panels/RunPanel.h"
#include "panes/ModelPane.h"
#include "transfer/TransferRecipe.h"
#include "Error.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>

namespace nugget {

TransferRecipe demoRecipe(const QString &demoDir)
{
    const QString path = QDir(demoDir).filePath(QStringLiteral("experiment-bioqa.json"));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path.toStdString() + ": cannot be read");
    QJsonParseError parseError;
    const auto document = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!document.isObject())
        throw Error(path.toStdString() + ": not a JSON object (" + parseError.errorString().toStdString() + ")");
    return TransferRecipe::fromJson(document.object().value(QStringLiteral("transfer")).toObject(), path.toStdString(),
                                    demoDir.toStdString());
}

namespace {

class Tour
{
public:
    Tour(MainWindow &window, const QString &dir) : m_window(window), m_dir(dir) {}

    // Waits for a job; throws Error naming the stage when it fails or takes too long.
    void wait(int job, const QString &stage, int timeoutSeconds = 600)
    {
        if (job == 0)
            throw Error(stage.toStdString() + ": " + m_window.lastError().toStdString());
        const auto outcome = waitForJob(*m_window.engine(), job, timeoutSeconds * 1000);
        if (outcome.state == JobState::Running)
            throw Error(stage.toStdString() + ": no result after " + std::to_string(timeoutSeconds) + " s");
        if (outcome.state != JobState::Done)
            throw Error(stage.toStdString() + ": " + outcome.message.toStdString());
    }
    // Until the engine has nothing queued and every signal it sent is handled.
    void settle()
    {
        waitForIdle(*m_window.engine(), 600000);
        for (int i = 0; i < 5; ++i)
            QCoreApplication::processEvents();
    }

    // `settle` waits for the engine to be idle first (off for shots taken mid-job).
    void shoot(const QString &file, const QString &title, const QString &text, bool settleFirst = true)
    {
        if (settleFirst)
            settle();
        else
            QCoreApplication::processEvents();
        const QString path = QDir(m_dir).filePath(file);
        if (!m_window.grab().save(path))
            throw Error(path.toStdString() + ": cannot write the screenshot");
        m_guide += QStringLiteral("## %1\n\n![%1](%2)\n\n%3\n\n").arg(title, file, text);
        std::printf("tour: %s\n", qPrintable(path));
        std::fflush(stdout);
    }

    void writeGuide(const QString &intro)
    {
        writeFileAtomically(QDir(m_dir).filePath(QStringLiteral("README.md")).toStdString(), (intro + m_guide).toUtf8());
    }

private:
    MainWindow &m_window;
    QString m_dir;
    QString m_guide;
};

QString scoreText(const QStandardItemModel *runs, int row)
{
    return runs->item(row, 3) ? runs->item(row, 3)->text() : QString();
}

} // namespace

int runDemoTour(MainWindow &window, const QString &outputDir)
{
    try {
        const QString demo = demoFolder();
        if (demo.isEmpty())
            throw Error("the built-in demo pair was not found (set NUGGET_DEMO_DIR)");
        if (!QDir().mkpath(outputDir))
            throw Error(outputDir.toStdString() + ": cannot create the folder");
        window.setInteractive(false);
        Tour tour(window, outputDir);
        QElapsedTimer clock;
        clock.start();

        // A short budget so the tour takes minutes, not the full experiment's hour.
        auto recipe = demoRecipe(demo);
        recipe.training.epochs = 1;
        recipe.evalLimit = 32;
        window.setBaseRecipe(recipe);

        // 1. Models and task.
        if (!window.openModel(window.teacherPane(), demo + QStringLiteral("/teacher")) ||
            !window.openModel(window.studentPane(), demo + QStringLiteral("/student")))
            throw Error("opening the demo models: " + window.lastError().toStdString());
        tour.settle();
        if (window.selection()->studentLayers() == 0)
            throw Error("loading the demo pair: " + window.lastError().toStdString());
        tour.wait(window.loadTask(), QStringLiteral("loading the task"));
        window.showView(QStringLiteral("task"));
        tour.shoot(QStringLiteral("01-models-and-task.png"), QStringLiteral("1. Teacher, student and task"),
                   QStringLiteral("The teacher (left) and the student (right) with their architecture, size and "
                                  "tensors. The Task tab previews seed samples; the highlighted answer is where the "
                                  "loss is taken."));

        // 2. Sensitivity, live: a screenshot at the first partial result, one when done.
        window.showView(QStringLiteral("layers"));
        window.showView(QStringLiteral("heatmap"));
        bool shotLive = false;
        QObject context;
        QObject::connect(window.engine(), &WorkbenchEngine::sensitivityUpdated, &context,
                         [&](const ScoreGrid &grid) {
                             if (shotLive || grid.complete || grid.sample * 3 < grid.samples)
                                 return;
                             shotLive = true;
                             try {
                                 tour.shoot(QStringLiteral("02-sensitivity-live.png"),
                                        QStringLiteral("2. Where the task knowledge sits, live"),
                                        QStringLiteral("The teacher's sensitivity per layer and module fills in after "
                                                       "every seed sample while the job runs on the compute thread "
                                                       "(here after %1 of %2 samples); the Jobs tab shows its "
                                                       "progress and a Cancel button.")
                                            .arg(grid.sample)
                                            .arg(grid.samples),
                                        false);
                             } catch (const Error &) {
                                 shotLive = false;   // reported below; never thrown through the event loop
                             }
                         });
        tour.wait(window.computeSensitivity(), QStringLiteral("sensitivity"));
        QObject::disconnect(window.engine(), nullptr, &context, nullptr);
        if (!shotLive)
            throw Error("sensitivity: no partial result reached the window");

        // 3. Done: the choice and the layer alignment.
        window.showView(QStringLiteral("layer-alignment"));
        tour.shoot(QStringLiteral("03-sensitivity-and-layer-alignment.png"),
                   QStringLiteral("3. The layer choice and the layer alignment"),
                   QStringLiteral("Outlined heatmap rows are the layers the sensitivity strategy chose (hover a cell "
                                  "for its exact value; log scale and per-module normalisation are above the plot). "
                                  "On the right, teacher layers (rows) against student layers (columns): linear CKA of "
                                  "their hidden states on the seed tokens, with the chosen mapping on top."));

        // 4. Dimension alignment.
        window.showView(QStringLiteral("dimension"));
        tour.shoot(QStringLiteral("04-dimension-alignment.png"), QStringLiteral("4. Dimension alignment"),
                   QStringLiteral("One teacher matrix's scores with the window the reduction keeps for the student's "
                                  "shape."));

        // 5. A choice by hand: free the most shallow chosen layer, take the first unchosen one.
        auto *selection = window.selection();
        const auto chosen = selection->chosen();
        if (chosen.empty())
            throw Error("selection: the sensitivity strategy chose no layers");
        selection->toggle(*chosen.begin());
        for (int layer = 0; layer < selection->teacherLayers(); ++layer)
            if (!chosen.count(layer)) {
                selection->toggle(layer);
                break;
            }
        if (!selection->isComplete())
            throw Error("selection: " + selection->message().toStdString());
        window.showView(QStringLiteral("layers"));
        window.showView(QStringLiteral("layer-alignment"));
        tour.shoot(QStringLiteral("05-manual-selection.png"), QStringLiteral("5. Choosing layers by hand"),
                   QStringLiteral("Clicking heatmap or alignment rows toggles teacher layers; the picker enforces "
                                  "the student's layer count and explains what is missing, and the mapping follows at "
                                  "once. Here: ") +
                       selection->message());

        // 6. Injection and a short training.
        tour.wait(window.runTransfer(), QStringLiteral("injection and training"));
        window.showView(QStringLiteral("loss"));
        tour.shoot(QStringLiteral("06-training.png"), QStringLiteral("6. Injection and LoRA training"),
                   QStringLiteral("The teacher's factorised matrices initialise the student's LoRA adapters; the loss "
                                  "and the learning rate are drawn live, with step and ETA."));

        // 7. Evaluation.
        tour.wait(window.evaluateStudent(), QStringLiteral("evaluation"));
        window.showView(QStringLiteral("runs"));
        const auto *runs = window.runPanel()->results();
        tour.shoot(QStringLiteral("07-evaluation.png"), QStringLiteral("7. Evaluation"),
                   QStringLiteral("Every run with its score on the evaluation set (this tour: the first %1 questions "
                                  "after one epoch; the transfer run scored %2).")
                       .arg(recipe.evalLimit)
                       .arg(runs->rowCount() > 0 ? scoreText(runs, 0) : QStringLiteral("-")));

        // 8. The controls, same budget, two seeds.
        if (auto *seeds = window.findChild<QLineEdit *>(QStringLiteral("settings/control_seeds")))
            seeds->setText(QStringLiteral("1,2"));
        tour.wait(window.runControls(), QStringLiteral("controls"), 1800);
        window.showView(QStringLiteral("controls"));
        tour.shoot(QStringLiteral("08-controls.png"), QStringLiteral("8. The controls"),
                   QStringLiteral("The untouched student, plain LoRA, the method, the method on a random teacher "
                                  "sub-matrix and the student's own SVD, with the same budget and seeds: mean, spread "
                                  "and every seed, and each condition paired with plain LoRA and the vanilla student on "
                                  "the same questions (change of the right answer's log-probability and rank, flips, "
                                  "McNemar's p). Only a gap over all controls would show knowledge moving."));

        // Session and exports, into a scratch folder: the tour checks they work.
        QTemporaryDir scratch;
        tour.wait(window.saveSession(scratch.filePath(QStringLiteral("session.h5"))), QStringLiteral("saving the session"));
        tour.wait(window.openSession(scratch.filePath(QStringLiteral("session.h5"))), QStringLiteral("opening the session"));
        tour.wait(window.exportAdapter(scratch.filePath(QStringLiteral("adapter"))), QStringLiteral("exporting the adapter"));
        tour.wait(window.exportMerged(scratch.filePath(QStringLiteral("merged"))), QStringLiteral("exporting the merged model"));
        QString plotError;
        const auto plots = window.exportPlots(scratch.path(), QStringLiteral("svg"), &plotError);
        if (!plotError.isEmpty())
            throw Error("exporting the plots: " + plotError.toStdString());

        tour.writeGuide(QStringLiteral(
            "# Nugget user guide\n\n"
            "A tour of the workbench on the built-in demo pair. Every screenshot below was taken by\n"
            "`nugget --demo-tour docs/user-guide` (offscreen: `QT_QPA_PLATFORM=offscreen`), which runs the whole\n"
            "flow with a short budget (one epoch, the first %1 evaluation questions, two seeds for the controls)\n"
            "and rewrites this page; the last run took %2 s. Start the workbench itself with `build/bin/nugget`:\n"
            "it opens the same pair and task.\n\n"
            "Menus: File (open models, recent folders, open/save the HDF5 session, export the PEFT adapter,\n"
            "the merged model and every plot as PNG, SVG or PDF), Run (load task, sensitivity F5, run F6,\n"
            "controls F7, cancel all Esc). Every job appears in the Jobs tab with its progress and a Cancel\n"
            "button; warnings and errors go to the Log tab (double-click an entry to go to the file or setting\n"
            "at fault).\n\n")
                               .arg(recipe.evalLimit)
                               .arg(clock.elapsed() / 1000));
        std::printf("tour: %d screenshots, %lld plots and the user guide written to %s in %lld s\n", 8,
                    static_cast<long long>(plots.size()), qPrintable(outputDir),
                    static_cast<long long>(clock.elapsed() / 1000));
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "nugget: demo tour failed: %s\n", e.what());
        return 1;
    }
}

} // namespace nugget
