#include "transfer/Pipeline.h"

#include "Error.h"
#include "bench/MachineLimits.h"
#include "eval/ItemRecords.h"
#include "model/MemoryBudget.h"
#include "transfer/RecipeChoices.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace nugget {

// Why the sensitivity streams by default. Measured on a 407M-parameter bfloat16 model
// on this project's CPU machine: `nugget-cli sensitivity --streamed` took 25 s at a
// 1.7 GB peak, the in-memory pass 57 s at 4.9 GB. The streamed pass holds one decoder
// layer and its gradients at a time and runs it over every sample while its weights
// are hot in cache; the in-memory pass keeps the whole model plus a gradient for every
// weight, and revisits all of them for each sample. Streaming is faster and smaller, so
// it is the default at every size; the in-memory pass remains for a model the caller
// already holds loaded (the workbench: no second copy from disk, and its partial sums
// after every sample feed the live heatmap) and on request (--in-memory).
//
// Why scores are float16 only for a model too large for memory: the scores are as
// large as the float32 model; above half of the memory a float32 copy in the session
// costs as much disk and read time as the model itself, and float16 (scaled per
// parameter, 11 significant bits) halves it while keeping every ranking the extraction
// makes from them except exact near-ties. Below that, float32 keeps a session's scores
// bit-comparable with the in-memory pass and with sessions of earlier versions.
SensitivityPlan planSensitivity(const ModelConfig &config, at::Device device, const SensitivityChoices &choices)
{
    SensitivityPlan plan;
    const bool tooLarge = tooLargeForMemory(config);
    if (choices.worldSize > 1 && choices.streamed == std::optional<bool>(false))
        throw Error("the in-memory sensitivity runs in one process; a data-parallel group (--world-size " +
                    std::to_string(choices.worldSize) + ") streams the model");
    if (choices.streamed)
        plan.streamed = *choices.streamed;
    else
        plan.streamed = choices.worldSize > 1 || tooLarge || !choices.modelLoaded;

    plan.computeDtype = choices.computeDtype.empty() ? defaultComputeDtype(config, device)
                                                     : parseComputeDtype(choices.computeDtype, device);
    if (choices.scoreDtype.empty())
        plan.storage = defaultScoreStorage(config);
    else if (choices.scoreDtype == "float32")
        plan.storage = Session::ScoreStorage::Float32;
    else if (choices.scoreDtype == "float16")
        plan.storage = Session::ScoreStorage::Float16;
    else
        throw Error("unknown score dtype '" + choices.scoreDtype + "' (use float32 or float16)");

    plan.summary = std::string(plan.streamed ? "streamed, one layer at a time" : "in memory") + ", computing in " +
                   computeDtypeName(plan.computeDtype) + ", scores stored as " +
                   (plan.storage == Session::ScoreStorage::Float16 ? "float16" : "float32");
    return plan;
}

std::vector<double> ScoringResult::layerTotals() const
{
    std::vector<double> totals;
    if (!layerModuleTotals.defined())
        return totals;
    const auto perLayer = layerModuleTotals.sum(1).contiguous();
    totals.assign(perLayer.data_ptr<double>(), perLayer.data_ptr<double>() + perLayer.numel());
    return totals;
}

ScoringResult scoreIntoSession(Session *session, Side side, const LoadedModel &model,
                               const std::vector<SeedSample> &samples, const SensitivitySettings &settings,
                               const SensitivityPlan &plan, Progress &progress, const ParameterScores &onParameter,
                               const std::function<void(const SensitivityProgress &)> &onSample)
{
    ScoringResult result;
    auto store = [&](const std::string &name, const at::Tensor &scores) {
        if (session)
            session->writeSensitivity(side, name, scores, plan.storage);
        if (onParameter)
            onParameter(name, scores);
    };
    at::ScalarType computed = plan.computeDtype;
    if (plan.streamed) {
        StreamedSensitivityOptions options;
        options.metric = settings.metric;
        options.maxLength = settings.maxLength;
        options.device = settings.device;
        options.computeDtype = plan.computeDtype;
        options.scratchDir = settings.scratchDir;
        options.allReduce = settings.allReduce;
        StreamedSensitivityResult streamed;
        try {
            streamed = computeStreamedSensitivity(model.config, TensorStore::openFolder(model.folder), samples, options,
                                                  progress, store);
        } catch (const c10::Error &e) {
            throw Error(model.folder + ": streamed sensitivity failed: " + e.what_without_backtrace());
        }
        result.samples = streamed.samples;
        result.layerModuleTotals = streamed.layerModuleTotals;
        result.spilled = streamed.spilled;
    } else {
        if (settings.allReduce)
            throw Error("the in-memory sensitivity runs in one process; a data-parallel group streams the model");
        LlamaForCausalLM loaded = model.model;
        if (!loaded) {
            LoadOptions load;
            load.device = settings.device;
            load.dtype = plan.computeDtype;
            loaded = loadModelFolder(model.folder, load).model;
        }
        SensitivityOptions options;
        options.metric = settings.metric;
        options.maxLength = settings.maxLength;
        auto map = computeSensitivity(loaded, samples, options, progress, onSample);
        for (const auto &[name, scores] : map.scores)
            store(name, scores);
        result.samples = map.samples;
        result.layerModuleTotals = map.layerModuleTotals(model.config.numHiddenLayers);
        computed = map.computeDtype;
        result.map = std::move(map);
    }
    if (session) {
        session->setSensitivityInfo(side, sensitivityMetricName(settings.metric), result.samples,
                                    computeDtypeName(computed));
        session->writeLayerTotals(side, result.layerModuleTotals, layerModuleNames());
    }
    return result;
}

void ensureTeacherScores(Session &session, const ModelPair &pair, const std::string &seedsFile,
                         const TransferRecipe &recipe, at::Device device, const SensitivityChoices &choices,
                         Progress &progress, const std::function<void(const std::string &)> &log)
{
    auto say = [&](const std::string &line) {
        if (log)
            log(line);
    };
    if (session.hasSensitivity(Side::Teacher)) {
        checkSessionTeacher(session, pair.teacher.folder);
        say("sensitivity: the teacher's scores come from the session");
        return;
    }
    if (seedsFile.empty())
        throw Error(session.path() + ": the session has no teacher sensitivity; give the seed samples (--seeds FILE) "
                                     "to compute it");
    auto teacherChoices = choices;
    teacherChoices.modelLoaded = static_cast<bool>(pair.teacher.model);
    const auto plan = planSensitivity(pair.teacher.config, device, teacherChoices);
    say("sensitivity: scoring the teacher on " + seedsFile + " (" +
        (plan.streamed ? std::string("streamed, one layer at a time") : std::string("in memory")) + ")");
    say("sensitivity: computing in " + computeDtypeName(plan.computeDtype));
    const auto samples =
        seedSamplesFromFile(*pair.tokenizer, seedsFile, recipe.maxLength, pair.teacher.config.maxPositionEmbeddings);
    SensitivitySettings settings;
    settings.metric = parseSensitivityMetric(recipe.sensitivityMetric);
    settings.maxLength = recipe.maxLength;
    settings.device = device;
    scoreIntoSession(&session, Side::Teacher, pair.teacher, samples, settings, plan, progress);
}

Session openOrCreateSession(const std::string &path)
{
    return QFileInfo::exists(QString::fromStdString(path)) ? Session::openForUpdate(path) : Session::create(path);
}

Session openTransferSession(const std::string &path, const TransferRecipe &recipe)
{
    auto session = openOrCreateSession(path);
    if (session.hasSensitivity(Side::Teacher))   // before the new recipe replaces the recorded hashes
        checkSessionTeacher(session, recipe.teacher);
    session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
    return session;
}

const std::vector<std::string> &runRecordColumns()
{
    static const std::vector<std::string> columns{"step", "loss", "learning_rate"};
    return columns;
}

QJsonObject runRecordAttributes(const RunReport &run)
{
    QJsonArray teacherLayers;
    for (const auto layer : run.extraction ? run.extraction->selection.teacherLayers : run.teacherLayers)
        teacherLayers.append(static_cast<qint64>(layer));
    return {
        {QStringLiteral("condition"), QString::fromStdString(run.condition.empty() ? run.name : run.condition)},
        {QStringLiteral("init"), QString::fromStdString(run.init)},
        {QStringLiteral("seed"), static_cast<qint64>(run.seed)},
        {QStringLiteral("metric"), QString::fromStdString(run.metric)},
        {QStringLiteral("score"), run.evaluation.score},
        {QStringLiteral("correct"), static_cast<qint64>(run.evaluation.correct)},
        {QStringLiteral("items"), static_cast<qint64>(run.evaluation.items)},
        {QStringLiteral("seconds"), run.seconds},
        {QStringLiteral("teacher_layers"), teacherLayers},
    };
}

void writeRunRecord(Session &session, const RunReport &run)
{
    std::vector<float> curve;
    for (const auto &s : run.training.steps)
        curve.insert(curve.end(), {static_cast<float>(s.step), static_cast<float>(s.loss),
                                   static_cast<float>(s.learningRate)});
    const auto steps = static_cast<int64_t>(run.training.steps.size());
    const auto columns = static_cast<int64_t>(runRecordColumns().size());
    const auto table = steps == 0 ? torch::zeros({0, columns}) : torch::tensor(curve).view({steps, columns});
    session.writeRun(run.name, table, runRecordColumns(), runRecordAttributes(run));
    if (!run.evaluation.details.empty())
        writeItemRecords(session, run.name, run.evaluation.details);
}

void writeItemRecords(Session &session, const std::string &runName, const std::vector<EvalItem> &items)
{
    std::vector<std::string> records;
    records.reserve(items.size());
    for (const auto &item : items)
        records.push_back(QJsonDocument(itemRecord(item)).toJson(QJsonDocument::Compact).toStdString());
    session.writeRunItems(runName, records, itemScoreTable(items), itemScoreColumns());
}

void writeExtractionRecord(Session &session, const Extraction &extraction, const std::string &structure)
{
    session.writeSelection(extraction.selection.teacherLayers, layerStrategyName(extraction.selection.strategy));
    for (const auto &m : extraction.matrices)
        session.writeReduction(m.teacherParameter, m.indices.rows, m.indices.cols, structure);
}

std::vector<ExperimentCondition> defaultConditions()
{
    return {
        {"vanilla", {{QStringLiteral("init"), QStringLiteral("none")}}},
        {"lora", {{QStringLiteral("init"), QStringLiteral("lora")}}},
        {"pkt", {{QStringLiteral("init"), QStringLiteral("transfer")}}},
        {"pkt-random", {{QStringLiteral("init"), QStringLiteral("transfer")}, {QStringLiteral("structure"), QStringLiteral("random")}}},
        {"own-svd", {{QStringLiteral("init"), QStringLiteral("own-svd")}}},
    };
}

TransferRecipe conditionRecipe(const TransferRecipe &base, const ExperimentCondition &condition, uint64_t seed)
{
    auto json = base.toJson();
    for (auto it = condition.overrides.begin(); it != condition.overrides.end(); ++it)
        json[it.key()] = it.value();
    json[QStringLiteral("seed")] = static_cast<qint64>(seed);
    return TransferRecipe::fromJson(json, "condition " + condition.name);
}

std::string conditionRunName(const std::string &condition, uint64_t seed)
{
    return condition + "-seed" + std::to_string(seed);
}

void summariseScores(ConditionSummary &summary)
{
    const double n = static_cast<double>(summary.scores.size());
    summary.mean = 0;
    for (const double s : summary.scores)
        summary.mean += s / n;
    double squares = 0;
    for (const double s : summary.scores)
        squares += (s - summary.mean) * (s - summary.mean);
    summary.standardDeviation = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
}

ExperimentResult runConditions(const TransferRecipe &base, const std::vector<ExperimentCondition> &conditions,
                               const std::vector<uint64_t> &seeds, ModelPair &pair, const TeacherSource *teacher,
                               const std::vector<ChatExample> &train, const std::vector<ChatExample> &eval,
                               Progress &progress, const ConditionCallbacks &callbacks, Session *session)
{
    const auto start = std::chrono::steady_clock::now();
    // Every recipe first: a bad override must not surface after hours of runs.
    std::vector<std::vector<TransferRecipe>> recipes;
    for (const auto &condition : conditions) {
        recipes.emplace_back();
        for (const auto seed : seeds) {
            recipes.back().push_back(conditionRecipe(base, condition, seed));
            if (recipes.back().back().init == "transfer" && !teacher)
                throw Error("condition " + condition.name + " transfers but the teacher's scores are not available");
        }
    }
    const double total = static_cast<double>(conditions.size() * seeds.size());
    int done = 0;
    ExperimentResult result;
    for (size_t c = 0; c < conditions.size(); ++c) {
        ConditionSummary summary;
        summary.name = conditions[c].name;
        for (size_t s = 0; s < seeds.size(); ++s) {
            progress.checkCancelled();
            const auto &recipe = recipes[c][s];
            const auto name = conditionRunName(summary.name, seeds[s]);
            if (callbacks.onRunStart)
                callbacks.onRunStart(name, summary.name, seeds[s]);
            // The run reports its own fraction: scaled into the whole; a cancel of the
            // whole reaches the run at its next report.
            Progress runProgress;
            runProgress.setReporter([&progress, &runProgress, done, total](double f, const std::string &message) {
                if (progress.isCancelled())
                    runProgress.cancel();
                progress.report((done + f) / total, message);
            });
            RunCallbacks runCallbacks;
            runCallbacks.log = callbacks.log;
            if (callbacks.onStep)
                runCallbacks.onStep = [&callbacks, name](const TrainingStep &step) { callbacks.onStep(name, step); };
            auto run = runCondition(recipe, name, pair, teacher, train, eval, runProgress, runCallbacks);
            run.condition = summary.name;
            summary.scores.push_back(run.evaluation.score);
            summary.seconds += run.seconds;
            if (session)
                writeRunRecord(*session, run);
            if (callbacks.onRun)
                callbacks.onRun(run);
            run.extraction.reset();   // the factors are large and no longer needed
            run.initialAdapters.clear();
            result.runs.push_back(std::move(run));
            ++done;
        }
        summariseScores(summary);
        result.conditions.push_back(summary);
    }
    result.comparisons = compareWithBaselines(result.runs);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace nugget
