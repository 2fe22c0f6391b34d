// nugget-charts: the charts of an experiment (scores per condition with their spread,
// and every run's training loss) drawn from the run records of its session. A program
// of its own because drawing needs Qt's GUI libraries, which nugget-cli does not link;
// `nugget-cli experiment` runs it when it is installed beside it.

#include "CommandLine.h"

#include "Error.h"
#include "io/Session.h"
#include "plot/ComparisonChart.h"
#include "transfer/Pipeline.h"

#include <QApplication>
#include <QDir>

#include <c10/util/Exception.h>

#include <cstdio>
#include <map>

namespace {

int drawCharts(const QStringList &arguments)
{
    QCommandLineParser parser;
    // The session is positional: QApplication takes --session for itself (X11 session management).
    parser.addPositionalArgument(QStringLiteral("SESSION"),
                                 QStringLiteral("Session of an experiment (nugget-cli experiment's session.h5)."));
    parser.addOptions({
        {QStringLiteral("out"), QStringLiteral("Folder for scores.png and loss.png."), QStringLiteral("DIR")},
    });
    nugget::cli::parseOrExit(parser, arguments,
                             QStringLiteral("Draws the scores per condition (mean, spread and every seed) and the "
                                            "training loss of every run recorded in a session."));
    if (parser.positionalArguments().size() != 1 || !parser.isSet(QStringLiteral("out")))
        throw nugget::Error("expected one SESSION.h5 and --out DIR (see --help)");
    const auto path = parser.positionalArguments().constFirst().toStdString();
    const auto session = nugget::Session::openReadOnly(path);

    // Conditions in the order their first run was recorded.
    std::vector<nugget::ConditionSummary> conditions;
    std::map<std::string, size_t> index;
    std::vector<nugget::LossCurve> curves;
    QString metric;
    for (const auto &name : session.runNames()) {
        const auto run = session.readRun(name);
        const auto condition = run->evaluation.value(QStringLiteral("condition")).toString().toStdString();
        if (condition.empty())
            throw nugget::Error(path + ": run " + name + " records no condition");
        metric = run->evaluation.value(QStringLiteral("metric")).toString();
        if (!index.count(condition)) {
            index[condition] = conditions.size();
            conditions.push_back({condition, {}, 0, 0, 0});
        }
        conditions[index[condition]].scores.push_back(run->evaluation.value(QStringLiteral("score")).toDouble());
        nugget::LossCurve curve{QString::fromStdString(condition), {}, {}};
        const auto &columns = run->columns;
        const auto step = std::find(columns.begin(), columns.end(), "step") - columns.begin();
        const auto loss = std::find(columns.begin(), columns.end(), "loss") - columns.begin();
        if (step == static_cast<long>(columns.size()) || loss == static_cast<long>(columns.size()))
            throw nugget::Error(path + ": run " + name + " has no step and loss columns");
        for (int64_t i = 0; i < run->curve.size(0); ++i) {
            curve.steps.push_back(run->curve[i][step].item<double>());
            curve.losses.push_back(run->curve[i][loss].item<double>());
        }
        curves.push_back(curve);
    }
    if (conditions.empty())
        throw nugget::Error(path + ": the session records no runs");
    std::vector<nugget::ConditionScores> scores;
    for (auto &c : conditions) {
        nugget::summariseScores(c);
        nugget::ConditionScores entry{QString::fromStdString(c.name), {}, 100.0 * c.mean, 100.0 * c.standardDeviation};
        for (const double s : c.scores)
            entry.scores.push_back(100.0 * s);
        scores.push_back(entry);
    }
    nugget::ComparisonChart chart;
    chart.setScores(scores, metric);
    chart.setLossCurves(curves);
    const QDir out(parser.value(QStringLiteral("out")));
    QString error;
    if (!chart.saveScores(out.filePath(QStringLiteral("scores.png")), &error) ||
        !chart.saveLossCurves(out.filePath(QStringLiteral("loss.png")), &error))
        throw nugget::Error(error.toStdString());
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
        qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("nugget-charts"));
    try {
        return drawCharts(QCoreApplication::arguments());
    } catch (const nugget::Error &e) {
        std::fprintf(stderr, "nugget-charts: error: %s\n", e.what());
    } catch (const c10::Error &e) {
        std::fprintf(stderr, "nugget-charts: error: %s\n", e.what_without_backtrace());
    }
    return 1;
}
