#include "transfer/Experiment.h"

#include "Error.h"
#include "eval/CandidateSets.h"
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
        recipe.conditions.clear();
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
        if (recipe.conditions.empty())
            throw Error(path + ": 'conditions' must list at least one condition");
    } else {
        recipe.conditions = defaultConditions();
    }
    return recipe;
}

ExperimentResult runExperiment(const ExperimentRecipe &recipe, Progress &progress, const ConditionCallbacks &callbacks,
                               Session *session)
{
    // The task files before any model: a bad file fails in a second, not after loading.
    const auto train = readTaskFile(recipe.base.train);
    const auto eval = readEvaluationItems(recipe.base.eval);
    // A student too large for float32 is held in bfloat16, as `nugget-cli transfer` does.
    LoadOptions load;
    load.dtype = studentWeightsDtype(readFolderConfig(recipe.base.student), recipe.base.student);
    auto pair = loadModelPair(recipe.base.teacher, recipe.base.student, load,
                              session ? TeacherWeights::Mapped : TeacherWeights::Loaded);
    pair.student.model->setGradientCheckpointing(load.dtype != at::kFloat);

    std::optional<SensitivityMap> scores;
    std::optional<TeacherSource> teacher;
    bool needsScores = false;
    for (const auto &c : recipe.conditions)
        needsScores |= c.overrides.value(QStringLiteral("init")).toString(QString::fromStdString(recipe.base.init)) ==
                       QLatin1String("transfer");
    if (needsScores) {
        const auto device = pair.student.model->device();
        if (session) {
            ensureTeacherScores(*session, pair, recipe.base.seeds, recipe.base, device, {}, progress, callbacks.log);
            teacher = teacherFromSession(pair.teacher.folder, *session, pair.teacher.config.numHiddenLayers);
        } else {
            SensitivityChoices choices;
            choices.modelLoaded = true;
            const auto plan = planSensitivity(pair.teacher.config, device, choices);
            if (callbacks.log)
                callbacks.log("sensitivity: scoring the teacher on " + recipe.base.seeds + " (" + plan.summary + ")");
            SensitivitySettings settings;
            settings.metric = parseSensitivityMetric(recipe.base.sensitivityMetric);
            settings.maxLength = recipe.base.maxLength;
            settings.device = device;
            const auto samples = seedSamplesFromFile(*pair.tokenizer, recipe.base.seeds, recipe.base.maxLength,
                                                     pair.teacher.config.maxPositionEmbeddings);
            auto scored = scoreIntoSession(nullptr, Side::Teacher, pair.teacher, samples, settings, plan, progress);
            scores = std::move(scored.map);
            teacher = teacherInMemory(pair.teacher, *scores);
        }
    }
    return runConditions(recipe.base, recipe.conditions, recipe.seeds, pair, teacher ? &*teacher : nullptr, train, eval,
                         progress, callbacks, session);
}

} // namespace nugget
