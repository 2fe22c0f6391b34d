#include "transfer/Experiment.h"

#include "Error.h"
#include "io/Session.h"
#include "transfer/StreamedSensitivity.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace nugget {

std::vector<ExperimentCondition> ExperimentRecipe::defaultConditions()
{
    return {
        {"vanilla", {{QStringLiteral("init"), QStringLiteral("none")}}},
        {"lora", {{QStringLiteral("init"), QStringLiteral("lora")}}},
        {"pkt", {{QStringLiteral("init"), QStringLiteral("transfer")}}},
        {"pkt-random", {{QStringLiteral("init"), QStringLiteral("transfer")}, {QStringLiteral("structure"), QStringLiteral("random")}}},
        {"own-svd", {{QStringLiteral("init"), QStringLiteral("own-svd")}}},
    };
}

ExperimentRecipe ExperimentRecipe::fromJsonFile(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot read: " + file.errorString().toStdString());
    QJsonParseError error;
    const auto json = QJsonDocument::fromJson(file.readAll(), &error).object();
    if (error.error != QJsonParseError::NoError)
        throw Error(path + ": invalid JSON: " + error.errorString().toStdString());
    const auto base = QFileInfo(QString::fromStdString(path)).absolutePath().toStdString();
    ExperimentRecipe recipe;
    recipe.base = TransferRecipe::fromJson(json.value(QStringLiteral("transfer")).toObject(), path + " (transfer)", base);
    if (json.contains(QStringLiteral("seeds"))) {
        recipe.seeds.clear();
        for (const auto &seed : json.value(QStringLiteral("seeds")).toArray())
            recipe.seeds.push_back(static_cast<uint64_t>(seed.toInteger()));
        if (recipe.seeds.empty())
            throw Error(path + ": 'seeds' must list at least one seed");
    }
    if (json.contains(QStringLiteral("conditions"))) {
        for (const auto &value : json.value(QStringLiteral("conditions")).toArray()) {
            const auto object = value.toObject();
            ExperimentCondition condition{object.value(QStringLiteral("name")).toString().toStdString(), object};
            condition.overrides.remove(QStringLiteral("name"));
            if (condition.name.empty())
                throw Error(path + ": every condition needs a 'name'");
            // Validate now: a typo must not surface an hour into the run.
            auto merged = recipe.base.toJson();
            for (auto it = condition.overrides.begin(); it != condition.overrides.end(); ++it)
                merged[it.key()] = it.value();
            TransferRecipe::fromJson(merged, path + " (condition " + condition.name + ")");
            recipe.conditions.push_back(condition);
        }
    } else {
        recipe.conditions = defaultConditions();
    }
    return recipe;
}

ExperimentResult runExperiment(const ExperimentRecipe &recipe, Progress &progress, const RunCallbacks &callbacks,
                               Session *session)
{
    const auto start = std::chrono::steady_clock::now();
    // With a session the teacher stays on disk, as in `nugget-cli transfer`: its scores go
    // from the streamed sensitivity straight into the session (or are reused from it) and
    // each extraction reads one teacher matrix and its scores at a time.
    // A student too large for float32 is held in bfloat16, as `nugget-cli transfer` does.
    LoadOptions load;
    load.dtype = studentWeightsDtype(readFolderConfig(recipe.base.student), recipe.base.student);
    auto pair = loadModelPair(recipe.base.teacher, recipe.base.student, load,
                              session ? TeacherWeights::Mapped : TeacherWeights::Loaded);
    pair.student.model->setGradientCheckpointing(load.dtype != at::kFloat);
    const auto train = readChatJsonl(recipe.base.train);
    const auto eval = readChatJsonl(recipe.base.eval);

    std::optional<SensitivityMap> scores;
    std::optional<TeacherSource> teacher;
    auto needsScores = false;
    for (const auto &c : recipe.conditions)
        needsScores |= c.overrides.value(QStringLiteral("init")).toString(QString::fromStdString(recipe.base.init)) ==
                       QLatin1String("transfer");
    if (needsScores) {
        const auto metric = parseSensitivityMetric(recipe.base.sensitivityMetric);
        auto samples = [&] {
            if (callbacks.log)
                callbacks.log("sensitivity: scoring the teacher on " + recipe.base.seeds +
                              (session ? " (streamed, one layer at a time)" : ""));
            return seedSamplesFromFile(*pair.tokenizer, recipe.base.seeds, recipe.base.maxLength,
                                       pair.teacher.config.maxPositionEmbeddings);
        };
        if (session) {
            if (!session->hasSensitivity("teacher")) {
                const auto device = pair.student.model->device();
                storeTeacherScores(*session, pair, samples(), recipe.base, device,
                                   defaultComputeDtype(pair.teacher.config, device), progress);
            }
            teacher = teacherFromSession(pair.teacher.folder, *session, pair.teacher.config.numHiddenLayers);
        } else {
            SensitivityOptions options;
            options.metric = metric;
            options.maxLength = recipe.base.maxLength;
            scores = computeSensitivity(pair.teacher.model, samples(), options, progress);
            teacher = teacherInMemory(pair.teacher, *scores);
        }
    }

    ExperimentResult result;
    for (const auto &condition : recipe.conditions) {
        ConditionSummary summary;
        summary.name = condition.name;
        for (const auto seed : recipe.seeds) {
            auto json = recipe.base.toJson();
            for (auto it = condition.overrides.begin(); it != condition.overrides.end(); ++it)
                json[it.key()] = it.value();
            json[QStringLiteral("seed")] = static_cast<qint64>(seed);
            const auto runRecipe = TransferRecipe::fromJson(json, "condition " + condition.name);
            const auto name = condition.name + "-seed" + std::to_string(seed);
            auto run = runCondition(runRecipe, name, pair, teacher ? &*teacher : nullptr, train, eval, progress, callbacks);
            summary.scores.push_back(run.evaluation.score);
            summary.seconds += run.seconds;
            if (session) {
                QJsonArray teacherLayers;
                if (run.extraction)
                    for (const auto layer : run.extraction->selection.teacherLayers)
                        teacherLayers.append(static_cast<qint64>(layer));
                std::vector<float> curve;
                for (const auto &s : run.training.steps)
                    curve.insert(curve.end(), {static_cast<float>(s.step), static_cast<float>(s.loss)});
                session->writeRun(name, torch::tensor(curve).view({static_cast<int64_t>(run.training.steps.size()), 2}),
                                  {"step", "loss"},
                                  {{QStringLiteral("condition"), QString::fromStdString(condition.name)},
                                   {QStringLiteral("seed"), static_cast<qint64>(seed)},
                                   {QStringLiteral("metric"), QString::fromStdString(runRecipe.evalMetric)},
                                   {QStringLiteral("score"), run.evaluation.score},
                                   {QStringLiteral("items"), static_cast<qint64>(run.evaluation.items)},
                                   {QStringLiteral("seconds"), run.seconds},
                                   {QStringLiteral("teacher_layers"), teacherLayers}});
            }
            run.extraction.reset();   // the factors are large and no longer needed
            run.initialAdapters.clear();
            result.runs.push_back(std::move(run));
        }
        const double n = static_cast<double>(summary.scores.size());
        for (const double s : summary.scores)
            summary.mean += s / n;
        double squares = 0;
        for (const double s : summary.scores)
            squares += (s - summary.mean) * (s - summary.mean);
        summary.standardDeviation = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
        result.conditions.push_back(summary);
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

std::string ExperimentResult::markdown(const ExperimentRecipe &recipe) const
{
    std::string text = "| condition | " + recipe.base.evalMetric + " mean (%) | std (pp) | per seed (%) | seconds |\n"
                       "|---|---|---|---|---|\n";
    char line[512];
    for (const auto &c : conditions) {
        std::string perSeed;
        for (const double s : c.scores) {
            char value[32];
            std::snprintf(value, sizeof value, "%s%.1f", perSeed.empty() ? "" : ", ", 100.0 * s);
            perSeed += value;
        }
        std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %s | %.0f |\n", c.name.c_str(), 100.0 * c.mean,
                      100.0 * c.standardDeviation, perSeed.c_str(), c.seconds);
        text += line;
    }
    return text;
}

std::string ExperimentResult::csv() const
{
    std::string text = "condition,seed,score,seconds\n";
    for (const auto &run : runs) {
        const auto condition = run.name.substr(0, run.name.rfind("-seed"));
        text += condition + "," + std::to_string(run.seed) + "," + std::to_string(run.evaluation.score) + "," +
                std::to_string(run.seconds) + "\n";
    }
    return text;
}

} // namespace nugget
