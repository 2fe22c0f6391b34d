#include "CommandLine.h"
#include "Commands.h"

#include "io/AtomicFile.h"
#include "io/Session.h"
#include "plot/ComparisonChart.h"
#include "transfer/Experiment.h"

#include <QDir>

#include <cstdio>

namespace nugget::cli {

namespace {

void writeText(const QString &path, const std::string &text)
{
    writeFileAtomically(path.toStdString(), QByteArray::fromStdString(text));
}

} // namespace

int runExperiment(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("recipe"), QStringLiteral("Experiment recipe: {\"transfer\": {...}, \"seeds\": [1,2,3], "
                                                  "\"conditions\": [{\"name\": ..., overrides...}]}."),
         QStringLiteral("FILE")},
        {QStringLiteral("out"), QStringLiteral("Output folder: results.md, results.csv, session.h5, scores.png, loss.png."),
         QStringLiteral("DIR")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Runs every condition (default: vanilla student, plain LoRA, the method, the method with "
                               "a random teacher sub-matrix, the student's own SVD) for every seed with the same data "
                               "and budget, and writes a table with the mean and standard deviation per condition."));
    if (!parser.isSet(QStringLiteral("recipe")) || !parser.isSet(QStringLiteral("out")))
        throw Error("missing --recipe FILE or --out DIR (see --help)");
    const auto recipe = ExperimentRecipe::fromJsonFile(parser.value(QStringLiteral("recipe")).toStdString());
    const QDir out(parser.value(QStringLiteral("out")));
    if (!QDir().mkpath(out.path()))
        throw Error(out.path().toStdString() + ": cannot create the folder");

    const auto sessionPath = out.filePath(QStringLiteral("session.h5")).toStdString();
    auto session = QFileInfo::exists(QString::fromStdString(sessionPath)) ? Session::openForUpdate(sessionPath)
                                                                          : Session::create(sessionPath);
    if (session.hasSensitivity("teacher"))   // before the new recipe replaces the recorded hashes
        checkSessionTeacher(session, recipe.base.teacher);
    session.setRecipe(recipe.base.toJson(), hashInputs(recipe.base.inputFiles()));
    Progress progress;
    const auto result = runExperiment(recipe, progress,
                                      {[](const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); }, {}},
                                      &session);
    const auto table = result.markdown(recipe);
    writeText(out.filePath(QStringLiteral("results.md")), table);
    writeText(out.filePath(QStringLiteral("results.csv")), result.csv());
    session.commit();

    std::vector<ConditionScores> scores;
    for (const auto &c : result.conditions) {
        ConditionScores entry{QString::fromStdString(c.name), {}, 100.0 * c.mean, 100.0 * c.standardDeviation};
        for (const double s : c.scores)
            entry.scores.push_back(100.0 * s);
        scores.push_back(entry);
    }
    std::vector<LossCurve> curves;
    for (const auto &run : result.runs) {
        LossCurve curve{QString::fromStdString(run.name.substr(0, run.name.rfind("-seed"))), {}, {}};
        for (const auto &step : run.training.steps) {
            curve.steps.push_back(static_cast<double>(step.step));
            curve.losses.push_back(step.loss);
        }
        curves.push_back(curve);
    }
    ComparisonChart chart;
    chart.setScores(scores, QString::fromStdString(recipe.base.evalMetric));
    chart.setLossCurves(curves);
    QString error;
    if (!chart.saveScores(out.filePath(QStringLiteral("scores.png")), &error) ||
        !chart.saveLossCurves(out.filePath(QStringLiteral("loss.png")), &error))
        throw Error(error.toStdString());
    std::printf("%s\n%zu runs in %.0f s -> %s\n", table.c_str(), result.runs.size(), result.seconds, qPrintable(out.path()));
    return 0;
}

} // namespace nugget::cli
