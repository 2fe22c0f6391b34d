// nugget: the workbench window.

#include "DemoFolder.h"
#include "MainWindow.h"
#include "Runtime.h"
#include "panes/ModelPane.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QLibraryInfo>
#include <QLocale>
#include <QTimer>
#include <QTranslator>

int main(int argc, char **argv)
{
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
        {QStringLiteral("no-demo"), QStringLiteral("Start with empty slots instead of the built-in demo pair.")},
        {QStringLiteral("screenshot"), QStringLiteral("Save a PNG of the window once the models are open, then quit."),
         QStringLiteral("FILE")},
    });
    parser.process(app);
    nugget::initialiseRuntime();

    nugget::MainWindow window;
    int status = 0;
    // Without models on the command line the built-in demo pair opens, so a first start
    // shows the whole method at once.
    const QString demo = nugget::demoFolder();
    if (!parser.isSet(QStringLiteral("teacher")) && !parser.isSet(QStringLiteral("student")) &&
        !parser.isSet(QStringLiteral("no-demo")) && !demo.isEmpty()) {
        window.openModel(window.teacherPane(), demo + QStringLiteral("/teacher"), true);
        window.openModel(window.studentPane(), demo + QStringLiteral("/student"), true);
    }
    if (parser.isSet(QStringLiteral("teacher")) &&
        !window.openModel(window.teacherPane(), parser.value(QStringLiteral("teacher")), parser.isSet(QStringLiteral("screenshot"))))
        status = 1;
    if (parser.isSet(QStringLiteral("student")) &&
        !window.openModel(window.studentPane(), parser.value(QStringLiteral("student")), parser.isSet(QStringLiteral("screenshot"))))
        status = 1;
    window.show();

    if (parser.isSet(QStringLiteral("screenshot"))) {
        const QString path = parser.value(QStringLiteral("screenshot"));
        QTimer::singleShot(200, &window, [&window, path, status] {
            const bool saved = window.grab().save(path);
            QApplication::exit(saved ? status : 1);
        });
    }
    return app.exec();
}
