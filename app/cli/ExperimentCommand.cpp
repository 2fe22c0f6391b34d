// nugget-cli experiment: conditions x seeds from a recipe file, as a table of mean and
// spread, every run recorded in OUT/session.h5; the charts are drawn by nugget-charts
// (a separate program: nugget-cli links no GUI library).

#include "CommandLine.h"
#include "Commands.h"

#include "eval/ItemRecords.h"
#include "io/AtomicFile.h"
#include "io/Session.h"
#include "transfer/Experiment.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>

#include <cstdio>

namespace nugget::cli {

namespace {

void writeText(const QString &path, const std::string &text)
{
    writeFileAtomically(path.toStdString(), QByteArray::fromStdString(text));
}

// scores.png and loss.png from the session's run records, by nugget-charts beside this
// program; said on stderr when it is not installed (the results stand without), an error when it fails.
void drawCharts(const QDir &out)
{
    const QString charts = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("nugget-charts"));
    const QString session = out.filePath(QStringLiteral("session.h5"));
    if (!QFileInfo(charts).isExecutable()) {
        std::fprintf(stderr, "charts: %s is not installed; run it as nugget-charts %s --out %s to draw them\n",
                     qPrintable(charts), qPrintable(session), qPrintable(out.path()));
        return;
    }
    QProcess process;
    process.setProcessChannelMode(QProcess::ForwardedChannels);
    process.start(charts, {session, QStringLiteral("--out"), out.path()});
    if (!process.waitForFinished(-1) || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0)
        throw Error(charts.toStdString() + " could not draw the charts of " + session.toStdString());
}

// items-<condition>-<seed>.jsonl, the condition's name in lower case with every run of
// other characters than letters and digits made one '-'.
QString itemsFileName(const RunReport &run)
{
    QString slug;
    for (const QChar c : QString::fromStdString(run.condition).toLower()) {
        if (c.isLetterOrNumber() && c.unicode() < 128)
            slug += c;
        else if (!slug.endsWith(u'-'))
            slug += u'-';
    }
    while (slug.endsWith(u'-'))
        slug.chop(1);
    while (slug.startsWith(u'-'))
        slug.remove(0, 1);
    return QStringLiteral("items-%1-%2.jsonl").arg(slug).arg(run.seed);
}

} // namespace

int runExperiment(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("recipe"), QStringLiteral("Experiment recipe: {\"transfer\": {...}, \"seeds\": [1,2,3], "
                                                  "\"conditions\": [{\"name\": ..., overrides...}]}."),
         QStringLiteral("FILE")},
        {QStringLiteral("out"), QStringLiteral("Output folder: results.md, results.csv, comparisons.csv, "
                                               "items-<condition>-<seed>.jsonl, session.h5, and scores.png, "
                                               "loss.png drawn by nugget-charts."),
         QStringLiteral("DIR")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Runs every condition (default: vanilla student, plain LoRA, the method, the method with "
                               "a random teacher sub-matrix, the student's own SVD) for every seed with the same data "
                               "and budget, and writes a table with the mean and standard deviation per condition."));
    if (!parser.isSet(QStringLiteral("recipe")) || !parser.isSet(QStringLiteral("out")))
        throw Error("missing --recipe FILE or --out DIR (see --help)");
    // Every value of the recipe is checked here, before anything is created or run.
    const auto recipe = ExperimentRecipe::fromJsonFile(parser.value(QStringLiteral("recipe")).toStdString());
    const QDir out(parser.value(QStringLiteral("out")));
    if (!QDir().mkpath(out.path()))
        throw Error(out.path().toStdString() + ": cannot create the folder");

    auto session = openTransferSession(out.filePath(QStringLiteral("session.h5")).toStdString(), recipe.base);
    Progress progress;
    ConditionCallbacks callbacks;
    callbacks.log = [](const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    const auto result = runExperiment(recipe, progress, callbacks, &session);
    const auto table = result.markdown(recipe.base.evalMetric);
    writeText(out.filePath(QStringLiteral("results.md")), table);
    writeText(out.filePath(QStringLiteral("results.csv")), result.csv());
    writeText(out.filePath(QStringLiteral("comparisons.csv")), result.comparisonsCsv());
    for (const auto &run : result.runs)
        if (!run.evaluation.details.empty())
            writeFileAtomically(out.filePath(itemsFileName(run)).toStdString(), itemRecordsJsonl(run.evaluation.details));
    session.commit();
    drawCharts(out);
    std::printf("%s\n%zu runs in %.0f s -> %s\n", table.c_str(), result.runs.size(), result.seconds, qPrintable(out.path()));
    return 0;
}

} // namespace nugget::cli
