// nugget-cli sensitivity: every parameter's score on seed samples into a session, as
// the pipeline plans it (planSensitivity: streamed by default).

#include "Commands.h"
#include "TransferOptions.h"

#include "dist/DataParallel.h"
#include "io/Session.h"
#include "io/TensorStore.h"
#include "text/Tokenizer.h"
#include "transfer/Pipeline.h"
#include "transfer/RecipeChoices.h"

#include <QDir>
#include <QFileInfo>

#include <cstdio>

namespace nugget::cli {

int runSensitivity(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("model", "Model folder to score.", "DIR"),
        option("seeds", "Seed samples (JSONL); the loss is taken on the last assistant message.", "FILE"),
        option("out", "Session file to write (created, or updated in place atomically).", "SESSION.h5"),
        option("metric", sensitivityMetrics().help() + " (default taylor).", "METRIC", "taylor"),
        option("side", "Store as the teacher's or the student's scores (default teacher).", "SIDE", "teacher"),
        option("max-length", "Tokens per sample at most (default 512).", "N", "512"),
        option("device", "auto, cpu, cuda or cuda:N (default auto).", "DEVICE", "auto"),
        option("streamed", "Stream the model one decoder layer at a time from its memory-mapped weights (the "
                           "default: faster and smaller than the in-memory pass at every size measured)."),
        option("in-memory", "Load the whole model and take one full backward pass per sample instead."),
        option("score-dtype", "Scores in the session: float32 or float16, scaled per parameter (default: float16 "
                              "for a model whose float32 size exceeds half of this machine's memory, else float32).",
               "DTYPE"),
        option("scratch", "Folder for hidden states that do not fit in memory when streamed (default: the system's "
                          "temporary folder).", "DIR"),
        computeDtypeOption(),
    });
    addDataParallelOptions(parser, true);
    parseOrExit(parser, arguments,
                QStringLiteral("Scores every parameter of a model by its sensitivity on seed samples (one forward and "
                               "backward pass per sample, batch size 1) and stores the scores, per-layer totals and "
                               "the metric in the session."));
    if (parser.isSet(QStringLiteral("launch")))
        return launchLocal(QStringLiteral("sensitivity"), arguments,
                           static_cast<int>(integerOption(parser, QStringLiteral("launch"))));
    const auto parsedSide = parseSide(parser.value(QStringLiteral("side")).toStdString());
    if (!parsedSide)
        throw Error("--side expects teacher or student, not \"" + parser.value(QStringLiteral("side")).toStdString() + "\"");
    const Side side = *parsedSide;
    SensitivitySettings settings;
    settings.metric = parseSensitivityMetric(parser.value(QStringLiteral("metric")).toStdString());
    settings.maxLength = integerOption(parser, QStringLiteral("max-length"));
    settings.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    settings.scratchDir = parser.value(QStringLiteral("scratch")).toStdString();
    const auto folder = required(parser, "model");
    const auto model = describeModelFolder(folder);
    const auto place = groupPlace(parser);
    const int worldSize = place.worldSize, rank = place.rank;

    SensitivityChoices choices;
    if (parser.isSet(QStringLiteral("streamed")) && parser.isSet(QStringLiteral("in-memory")))
        throw Error("--streamed and --in-memory exclude each other");
    if (parser.isSet(QStringLiteral("streamed")))
        choices.streamed = true;
    if (parser.isSet(QStringLiteral("in-memory")))
        choices.streamed = false;
    choices.computeDtype = parser.value(QStringLiteral("compute-dtype")).toStdString();
    choices.scoreDtype = parser.value(QStringLiteral("score-dtype")).toStdString();
    choices.worldSize = worldSize;
    const auto plan = planSensitivity(model.config, settings.device, choices);
    logLine(std::string("sensitivity: computing in ") + computeDtypeName(plan.computeDtype));

    // A tokenizer in the folder is checked even when the metric does not use it: a
    // corrupt one is reported, never carried along into later steps.
    if (settings.metric != SensitivityMetric::Magnitude && model.tokenizerPath.empty())
        throw Error(folder + ": no tokenizer.model in the model folder");
    const auto tokenizer = model.tokenizerPath.empty() ? nullptr : Tokenizer::load(model.tokenizerPath);
    std::vector<SeedSample> samples;
    if (settings.metric != SensitivityMetric::Magnitude)
        samples = seedSamplesFromFile(*tokenizer, required(parser, "seeds"), settings.maxLength,
                                      model.config.maxPositionEmbeddings);
    const auto out = required(parser, "out");

    const auto group = joinGroup(place);
    const bool writer = rank == 0;
    std::optional<Session> session;
    if (writer)
        session.emplace(openOrCreateSession(out));
    auto progress = writer ? consoleProgress() : Progress();
    std::vector<SeedSample> mine;   // sample i goes to rank i mod N
    for (size_t i = 0; i < samples.size(); ++i)
        if (static_cast<int>(i % static_cast<size_t>(worldSize)) == rank)
            mine.push_back(samples[i]);
    if (group) {
        settings.allReduce = [&](at::Tensor &t) { group->allReduceSum(t); };
        if (mine.empty() && settings.metric != SensitivityMetric::Magnitude)
            throw Error("rank " + std::to_string(rank) + " has no seed sample: use at most as many processes as samples");
    }
    const auto result = scoreIntoSession(session ? &*session : nullptr, side, model, mine, settings, plan, progress);
    if (!writer)
        return 0;
    if (!session->hasRecipe()) {
        std::vector<std::string> inputs;
        for (const auto &file : TensorStore::openFolder(folder).files())
            inputs.push_back(file);
        if (parser.isSet(QStringLiteral("seeds")))
            inputs.push_back(parser.value(QStringLiteral("seeds")).toStdString());
        const QJsonObject recipe{{QLatin1String(sideName(side)), QString::fromStdString(folder)},
                                 {QStringLiteral("sensitivity_metric"),
                                  QString::fromStdString(sensitivityMetricName(settings.metric))}};
        session->setRecipe(recipe, hashInputs(inputs));
    }
    session->commit();

    const std::string how = plan.streamed ? (worldSize > 1 ? " (streamed, " + std::to_string(worldSize) + " processes)"
                                                           : std::string(" (streamed)"))
                                          : std::string();
    std::printf("%s sensitivity of %s over %lld samples%s -> %s\nlayer totals:",
                sensitivityMetricName(settings.metric).c_str(), folder.c_str(), static_cast<long long>(result.samples),
                how.c_str(), out.c_str());
    const auto totals = result.layerTotals();
    for (size_t i = 0; i < totals.size(); ++i)
        std::printf(" %zu:%.4g", i, totals[i]);
    std::printf("\n");
    return 0;
}

} // namespace nugget::cli
