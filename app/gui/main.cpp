// nugget: the workbench window.

#include "DemoFolder.h"
#include "DemoTour.h"
#include "MainWindow.h"
#include "Runtime.h"
#include "WorkbenchEngine.h"
#include "panels/TaskPanel.h"
#include "panes/ModelPane.h"
#include "transfer/TransferRecipe.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QLocale>
#include <QTimer>
#include <QTranslator>

#include <cstdio>

int main(int argc, char **argv)
{
    nugget::restartWithPassiveOpenMpWait(argv);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Nugget"));
    QApplication::setOrganizationName(QStringLiteral("Nugget"));
    QApplication::setApplicationVersion(QStringLiteral(NUGGET_VERSION));

    QTranslator translator;
    if (translator.load(QLocale(), QStringLiteral("nugget"), QStringLiteral("_"), QStringLiteral(":/i18n")))
        QApplication::installTranslator(&translator);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Model-surgery workbench: moves task knowledge from a larger "
                                                    "language model (teacher) into a smaller one (student)."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("teacher"), QStringLiteral("Teacher model folder."), QStringLiteral("DIR")},
        {QStringLiteral("student"), QStringLiteral("Student model folder."), QStringLiteral("DIR")},
        {QStringLiteral("seeds"), QStringLiteral("Seed samples of the task (JSONL)."), QStringLiteral("FILE")},
        {QStringLiteral("train"), QStringLiteral("Training set of the task (JSONL)."), QStringLiteral("FILE")},
        {QStringLiteral("eval"), QStringLiteral("Evaluation set of the task (JSONL)."), QStringLiteral("FILE")},
        {QStringLiteral("session"), QStringLiteral("Open this session file once the models are loaded."),
         QStringLiteral("FILE")},
        {QStringLiteral("no-demo"), QStringLiteral("Start with empty slots instead of the built-in demo pair.")},
        {QStringLiteral("screenshot"), QStringLiteral("Save a PNG of the window once the models are open, then quit."),
         QStringLiteral("FILE")},
        {QStringLiteral("demo-tour"),
         QStringLiteral("Run the whole flow on the demo pair, save a screenshot per stage and the user guide to DIR, "
                        "then quit."),
         QStringLiteral("DIR")},
    });
    parser.process(app);
    nugget::initialiseRuntime();

    nugget::MainWindow window;
    window.show();
    if (parser.isSet(QStringLiteral("demo-tour"))) {
        const QString dir = parser.value(QStringLiteral("demo-tour"));
        QTimer::singleShot(0, &window, [&window, dir] { QApplication::exit(nugget::runDemoTour(window, dir)); });
        return app.exec();
    }

    const bool scripted = parser.isSet(QStringLiteral("screenshot"));
    window.setInteractive(!scripted);
    const QString demo = nugget::demoFolder();
    const bool useDemo = !parser.isSet(QStringLiteral("teacher")) && !parser.isSet(QStringLiteral("student")) &&
                         !parser.isSet(QStringLiteral("no-demo")) && !demo.isEmpty();
    // The demo's recipe sets the task and every default, so the first start shows the
    // whole method with no configuration.
    if (useDemo) {
        try {
            window.setBaseRecipe(nugget::demoRecipe(demo));
        } catch (const std::exception &e) {
            std::fprintf(stderr, "nugget: %s\n", e.what());
        }
    }
    auto files = window.taskPanel()->files();
    if (parser.isSet(QStringLiteral("seeds")))
        files.seeds = parser.value(QStringLiteral("seeds"));
    if (parser.isSet(QStringLiteral("train")))
        files.train = parser.value(QStringLiteral("train"));
    if (parser.isSet(QStringLiteral("eval")))
        files.eval = parser.value(QStringLiteral("eval"));
    window.taskPanel()->setFiles(files);

    // Once the pair is loaded: the task, then (demo) the sensitivity, or the session.
    const QString session = parser.value(QStringLiteral("session"));
    QObject::connect(&window, &nugget::MainWindow::pairReady, &window, [&window, useDemo, session, scripted] {
        static bool first = true;
        if (!first)
            return;
        first = false;
        if (!window.taskPanel()->files().seeds.isEmpty())
            window.loadTask();
        if (!session.isEmpty())
            window.openSession(session);
        else if (useDemo && !scripted)
            window.computeSensitivity();
    });

    int status = 0;
    if (useDemo) {
        window.openModel(window.teacherPane(), demo + QStringLiteral("/teacher"));
        window.openModel(window.studentPane(), demo + QStringLiteral("/student"));
    }
    if (parser.isSet(QStringLiteral("teacher")) &&
        !window.openModel(window.teacherPane(), parser.value(QStringLiteral("teacher"))))
        status = 1;
    if (parser.isSet(QStringLiteral("student")) &&
        !window.openModel(window.studentPane(), parser.value(QStringLiteral("student"))))
        status = 1;

    if (scripted) {
        const QString path = parser.value(QStringLiteral("screenshot"));
        // After the pair and task jobs are through, so the panes show what was loaded.
        auto shoot = [&window, path, status] {
            QTimer::singleShot(100, &window, [&window, path, status] {
                const bool saved = window.grab().save(path);
                QApplication::exit(saved && window.lastError().isEmpty() ? status : 1);
            });
        };
        if (window.engine()->pendingJobs() == 0)
            shoot();
        else
            QObject::connect(window.engine(), &nugget::WorkbenchEngine::idle, &window, shoot, Qt::SingleShotConnection);
    }
    return app.exec();
}
