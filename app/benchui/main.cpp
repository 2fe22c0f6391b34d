// nugget-bench-ui: how long the workbench's UI thread stalls while the compute
// thread scores the demo teacher and the heatmap and alignment views redraw ~25 times a
// second, against the same probe on the idle window in the same run.

#include "CommandLine.h"

#include "EngineWaits.h"
#include "Error.h"
#include "MainWindow.h"
#include "Runtime.h"
#include "UiStallProbe.h"
#include "WorkbenchEngine.h"
#include "models/JobListModel.h"
#include "panels/TaskPanel.h"
#include "panes/ModelPane.h"
#include "plot/HeatmapView.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>

#include <c10/util/Exception.h>

#include <cstdio>

namespace nugget::cli {

namespace {

void spin(int milliseconds)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < milliseconds)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
}

} // namespace

int benchUi(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("demo"), QStringLiteral("The demo folder (default resources/demo)."), QStringLiteral("DIR"),
         QStringLiteral("resources/demo")},
        {QStringLiteral("repeat"), QStringLiteral("Sensitivity jobs to measure (default 3)."), QStringLiteral("N"),
         QStringLiteral("3")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Longest UI-thread stall of the workbench window during sensitivity jobs on the demo "
                               "teacher (live heatmap and alignment updates), against the idle window."));
    const QString demo = QDir(parser.value(QStringLiteral("demo"))).absolutePath();
    const int64_t repeat = integerOption(parser, QStringLiteral("repeat"));

    MainWindow window;
    window.setInteractive(false);
    window.show();
    if (!window.openModel(window.teacherPane(), demo + QStringLiteral("/teacher")) ||
        !window.openModel(window.studentPane(), demo + QStringLiteral("/student")))
        throw Error(window.lastError().toStdString());
    waitForIdle(*window.engine(), 120000);
    window.taskPanel()->setFiles({demo + QStringLiteral("/tasks/transfer_seeds.jsonl"),
                                  demo + QStringLiteral("/tasks/transfer_train.jsonl"),
                                  demo + QStringLiteral("/tasks/transfer_eval.jsonl"), QStringLiteral("exact-match")});
    window.loadTask();
    waitForIdle(*window.engine(), 120000);
    if (!window.lastError().isEmpty())
        throw Error(window.lastError().toStdString());

    std::printf("%-24s %10s %14s %12s %10s\n", "phase", "seconds", "longest stall", "mean gap", "updates/s");
    double worst = 0, idleWorst = 0;
    for (int64_t i = 0; i < repeat; ++i) {
        UiStallProbe probe;
        const int updatesBefore = window.teacherHeatmap()->updateCount();
        QElapsedTimer clock;
        clock.start();
        probe.start();
        window.computeSensitivity();
        waitForIdle(*window.engine(), 600000);
        probe.stop();
        const double seconds = double(clock.elapsed()) / 1000.0;
        const double rate = double(window.teacherHeatmap()->updateCount() - updatesBefore) / seconds;
        std::printf("%-24s %10.2f %11.1f ms %9.2f ms %10.1f\n", qPrintable(QStringLiteral("sensitivity job %1").arg(i + 1)),
                    seconds, probe.longestStallMs(), probe.meanGapMs(), rate);
        worst = std::max(worst, probe.longestStallMs());

        // Baseline: the same window, idle, for as long.
        UiStallProbe idle;
        idle.start();
        spin(int(seconds * 1000));
        idle.stop();
        std::printf("%-24s %10.2f %11.1f ms %9.2f ms %10s\n", "idle window", seconds, idle.longestStallMs(),
                    idle.meanGapMs(), "-");
        idleWorst = std::max(idleWorst, idle.longestStallMs());
    }
    std::printf("\nlongest UI stall during sensitivity: %.1f ms (idle: %.1f ms; target: under 50 ms)\n", worst, idleWorst);
    return 0;
}

} // namespace nugget::cli

// A program of its own because it needs the window: nugget-cli links no GUI library.
int main(int argc, char **argv)
{
    nugget::restartWithPassiveOpenMpWait(argv);
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
        qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("nugget-bench-ui"));
    try {
        nugget::initialiseRuntime();
        return nugget::cli::benchUi(QCoreApplication::arguments());
    } catch (const nugget::Error &e) {
        std::fprintf(stderr, "nugget-bench-ui: error: %s\n", e.what());
    } catch (const c10::Error &e) {
        std::fprintf(stderr, "nugget-bench-ui: error: %s\n", e.what_without_backtrace());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "nugget-bench-ui: error: %s\n", e.what());
    }
    return 1;
}
