#include "transfer/TransferRecipe.h"

#include "Error.h"
#include "io/Session.h"
#include "text/Tokenizer.h"
#include "io/AtomicFolder.h"
#include "io/FileHash.h"
#include "transfer/RecipeChoices.h"
#include "model/LoraAdapters.h"
#include "transfer/StreamedSensitivity.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>

#include <algorithm>
#include <chrono>
#include <set>

namespace nugget {

namespace {

const std::set<QString> kRecipeKeys = {
    QStringLiteral("teacher"), QStringLiteral("student"), QStringLiteral("seeds"), QStringLiteral("train"),
    QStringLiteral("eval"), QStringLiteral("eval_metric"), QStringLiteral("eval_limit"), QStringLiteral("max_new_tokens"),
    QStringLiteral("sensitivity_metric"), QStringLiteral("max_length"), QStringLiteral("layers"),
    QStringLiteral("structure"), QStringLiteral("origin"), QStringLiteral("split"), QStringLiteral("svd"), QStringLiteral("init"),
    QStringLiteral("rank"), QStringLiteral("alpha"), QStringLiteral("dropout"), QStringLiteral("epochs"),
    QStringLiteral("batch_size"), QStringLiteral("micro_batch_size"), QStringLiteral("learning_rate"),
    QStringLiteral("warmup_ratio"), QStringLiteral("weight_decay"), QStringLiteral("eval_every"), QStringLiteral("seed"),
};

} // namespace

QJsonObject TransferRecipe::toJson() const
{
    return {
        {QStringLiteral("teacher"), QString::fromStdString(teacher)},
        {QStringLiteral("student"), QString::fromStdString(student)},
        {QStringLiteral("seeds"), QString::fromStdString(seeds)},
        {QStringLiteral("train"), QString::fromStdString(train)},
        {QStringLiteral("eval"), QString::fromStdString(eval)},
        {QStringLiteral("eval_metric"), QString::fromStdString(evalMetric)},
        {QStringLiteral("eval_limit"), static_cast<qint64>(evalLimit)},
        {QStringLiteral("max_new_tokens"), static_cast<qint64>(maxNewTokens)},
        {QStringLiteral("sensitivity_metric"), QString::fromStdString(sensitivityMetric)},
        {QStringLiteral("max_length"), static_cast<qint64>(maxLength)},
        {QStringLiteral("layers"), QString::fromStdString(layers)},
        {QStringLiteral("structure"), QString::fromStdString(structure)},
        {QStringLiteral("origin"), QString::fromStdString(origin)},
        {QStringLiteral("split"), QString::fromStdString(split)},
        {QStringLiteral("svd"), QString::fromStdString(svd)},
        {QStringLiteral("init"), QString::fromStdString(init)},
        {QStringLiteral("rank"), static_cast<qint64>(lora.rank)},
        {QStringLiteral("alpha"), lora.alpha},
        {QStringLiteral("dropout"), lora.dropout},
        {QStringLiteral("epochs"), static_cast<qint64>(training.epochs)},
        {QStringLiteral("batch_size"), static_cast<qint64>(training.batchSize)},
        {QStringLiteral("micro_batch_size"), static_cast<qint64>(training.microBatchSize)},
        {QStringLiteral("learning_rate"), training.learningRate},
        {QStringLiteral("warmup_ratio"), training.warmupRatio},
        {QStringLiteral("weight_decay"), training.weightDecay},
        {QStringLiteral("eval_every"), static_cast<qint64>(training.evalEvery)},
        {QStringLiteral("seed"), static_cast<qint64>(seed)},
    };
}

TransferRecipe TransferRecipe::fromJson(const QJsonObject &json, const std::string &source, const std::string &baseDir)
{
    for (auto it = json.begin(); it != json.end(); ++it)
        if (!kRecipeKeys.count(it.key()))
            throw Error(source + ": unknown key '" + it.key().toStdString() + "'");
    TransferRecipe r;
    auto text = [&](const char *key, std::string &field) {
        const auto value = json.value(QLatin1String(key));
        if (value.isUndefined())
            return;
        if (!value.isString())
            throw Error(source + ": '" + key + "' must be a string");
        field = value.toString().toStdString();
    };
    auto path = [&](const char *key, std::string &field) {
        text(key, field);
        if (!field.empty() && !baseDir.empty() && QDir::isRelativePath(QString::fromStdString(field)))
            field = QDir(QString::fromStdString(baseDir)).filePath(QString::fromStdString(field)).toStdString();
    };
    auto integer = [&](const char *key, int64_t &field, int64_t minimum) {
        const auto value = json.value(QLatin1String(key));
        if (value.isUndefined())
            return;
        if (!value.isDouble() || value.toDouble() != static_cast<double>(value.toInteger()) || value.toInteger() < minimum)
            throw Error(source + ": '" + key + "' must be an integer >= " + std::to_string(minimum));
        field = value.toInteger();
    };
    auto number = [&](const char *key, double &field, double minimum) {
        const auto value = json.value(QLatin1String(key));
        if (value.isUndefined())
            return;
        if (!value.isDouble() || value.toDouble() < minimum)
            throw Error(source + ": '" + key + "' must be a number >= " + std::to_string(minimum));
        field = value.toDouble();
    };
    path("teacher", r.teacher);
    path("student", r.student);
    path("seeds", r.seeds);
    path("train", r.train);
    path("eval", r.eval);
    text("eval_metric", r.evalMetric);
    integer("eval_limit", r.evalLimit, 0);
    integer("max_new_tokens", r.maxNewTokens, 1);
    text("sensitivity_metric", r.sensitivityMetric);
    integer("max_length", r.maxLength, 2);
    text("layers", r.layers);
    text("structure", r.structure);
    text("origin", r.origin);
    text("split", r.split);
    text("svd", r.svd);
    text("init", r.init);
    integer("rank", r.lora.rank, 1);
    number("alpha", r.lora.alpha, 1e-12);
    number("dropout", r.lora.dropout, 0);
    integer("epochs", r.training.epochs, 1);
    integer("batch_size", r.training.batchSize, 1);
    integer("micro_batch_size", r.training.microBatchSize, 1);
    number("learning_rate", r.training.learningRate, 1e-12);
    number("warmup_ratio", r.training.warmupRatio, 0);
    number("weight_decay", r.training.weightDecay, 0);
    integer("eval_every", r.training.evalEvery, 0);
    int64_t seed = static_cast<int64_t>(r.seed);
    integer("seed", seed, 0);
    r.seed = static_cast<uint64_t>(seed);
    // Every name now, before the first expensive step: a value a later step cannot use
    // must not surface after the sensitivity, the extraction and the training.
    auto choice = [&](const char *key, const auto &check) {
        try {
            check();
        } catch (const Error &e) {
            throw Error(source + ": '" + key + "': " + e.what());
        }
    };
    choice("eval_metric", [&] { recipeEvalMetrics().parse(r.evalMetric); });
    choice("sensitivity_metric", [&] { parseSensitivityMetric(r.sensitivityMetric); });
    choice("layers", [&] { checkLayerSpec(r.layers); });
    choice("structure", [&] { parseReductionStructure(r.structure); });
    choice("origin", [&] { parseTransferOrigin(r.origin); });
    choice("split", [&] { parseFactorSplit(r.split); });
    choice("svd", [&] { parseSvdMethod(r.svd); });
    choice("init", [&] { runInits().parse(r.init); });
    if (r.lora.dropout >= 1)
        throw Error(source + ": 'dropout' must be below 1");
    return r;
}

std::vector<std::string> TransferRecipe::inputFiles() const
{
    std::vector<std::string> files;
    for (const auto &dir : {teacher, student})
        for (const char *name : {"config.json", "model.safetensors", "tokenizer.model"})
            if (QFileInfo::exists(QDir(QString::fromStdString(dir)).filePath(QLatin1String(name))))
                files.push_back(QDir(QString::fromStdString(dir)).filePath(QLatin1String(name)).toStdString());
    for (const auto &file : {seeds, train, eval})
        if (!file.empty())
            files.push_back(file);
    return files;
}

std::map<std::string, std::string> hashInputs(const std::vector<std::string> &files)
{
    std::map<std::string, std::string> hashes;
    for (const auto &file : files)
        hashes[QFileInfo(QString::fromStdString(file)).absoluteFilePath().toStdString()] = fileSha256(file);
    return hashes;
}

ModelPair loadModelPair(const std::string &teacherDir, const std::string &studentDir, const LoadOptions &options,
                        TeacherWeights teacherWeights)
{
    ModelPair pair;
    LoadOptions teacherLoad;   // a loaded teacher is scored exactly: float32
    teacherLoad.device = options.device;
    pair.teacher = teacherWeights == TeacherWeights::Loaded ? loadModelFolder(teacherDir, teacherLoad)
                                                            : describeModelFolder(teacherDir);
    pair.student = loadModelFolder(studentDir, options);
    if (pair.teacher.tokenizerPath.empty())
        throw Error(teacherDir + ": no tokenizer.model in the teacher's folder");
    if (pair.student.tokenizerPath.empty())
        throw Error(studentDir + ": no tokenizer.model in the student's folder");
    pair.tokenizer = Tokenizer::load(pair.teacher.tokenizerPath);
    const auto studentTokenizer = Tokenizer::load(pair.student.tokenizerPath);
    bool same = pair.tokenizer->vocabSize() == studentTokenizer->vocabSize();
    for (int64_t id = 0; same && id < pair.tokenizer->vocabSize(); ++id)
        same = pair.tokenizer->piece(id) == studentTokenizer->piece(id);
    if (!same)
        throw Error("the teacher's and the student's tokenizers differ (" + pair.teacher.tokenizerPath + " vs " +
                    pair.student.tokenizerPath + "): a transfer needs one vocabulary");

    const auto &t = pair.teacher.config, &s = pair.student.config;
    if (t.vocabSize != s.vocabSize)
        throw Error("the teacher's and the student's vocabularies differ (vocab_size " + std::to_string(t.vocabSize) +
                    " in " + teacherDir + "/config.json vs " + std::to_string(s.vocabSize) + " in " + studentDir +
                    "/config.json): a transfer needs one vocabulary");
    if (pair.tokenizer->vocabSize() > t.vocabSize)
        throw Error(pair.teacher.tokenizerPath + ": the tokenizer has " + std::to_string(pair.tokenizer->vocabSize()) +
                    " pieces but the models' vocabulary (vocab_size) is " + std::to_string(t.vocabSize));
    const std::pair<const char *, std::pair<int64_t, int64_t>> dims[] = {
        {"layers", {t.numHiddenLayers, s.numHiddenLayers}},
        {"hidden size", {t.hiddenSize, s.hiddenSize}},
        {"intermediate size", {t.intermediateSize, s.intermediateSize}},
        {"attention width", {t.numAttentionHeads * t.headDim, s.numAttentionHeads * s.headDim}},
        {"key/value width", {t.numKeyValueHeads * t.headDim, s.numKeyValueHeads * s.headDim}},
    };
    for (const auto &[name, sizes] : dims)
        if (sizes.first < sizes.second)
            throw Error("the teacher (" + teacherDir + ") is smaller than the student (" + studentDir + ") in " + name +
                        ": " + std::to_string(sizes.first) + " < " + std::to_string(sizes.second) +
                        "; the teacher must be the larger model");
    if (t.parameterCount() <= s.parameterCount())
        throw Error("the teacher (" + teacherDir + ") has no more parameters than the student (" + studentDir +
                    "); the teacher must be the larger model");
    return pair;
}

std::vector<SeedSample> seedSamples(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples, int64_t maxLength)
{
    std::vector<SeedSample> samples;
    for (const auto &example : examples) {
        auto tokenized = tokenizeChat(tokenizer, example, maxLength);
        samples.push_back({std::move(tokenized.inputIds), std::move(tokenized.labels)});
    }
    return samples;
}

std::vector<ChatExample> readTaskFile(const std::string &path)
{
    auto examples = readChatJsonl(path);
    if (examples.empty())
        throw Error(path + ": the file holds no examples");
    return examples;
}

std::vector<SeedSample> seedSamplesFromFile(const Tokenizer &tokenizer, const std::string &path, int64_t maxLength,
                                            int64_t context)
{
    const auto examples = readTaskFile(path);
    const int64_t limit = maxLength > 0 ? std::min(maxLength, context) : context;
    auto samples = seedSamples(tokenizer, examples, maxLength);
    for (size_t i = 0; i < samples.size(); ++i) {
        const auto &labels = samples[i].labels;
        // Position 0 is never predicted; a sample needs one answer label after it.
        bool scored = false;
        for (int64_t p = 1; p < std::min<int64_t>(limit, static_cast<int64_t>(labels.size())) && !scored; ++p)
            scored = labels[static_cast<size_t>(p)] != kIgnoredLabel;
        if (!scored)
            throw Error(path + ":" + std::to_string(examples[i].lineNumber) +
                        ": the answer lies beyond the first " + std::to_string(limit) +
                        " tokens (the prompt alone fills the context), so the sample cannot be scored");
    }
    return samples;
}

std::vector<TrainingDocument> trainingDocuments(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples,
                                                int64_t maxLength)
{
    std::vector<TrainingDocument> documents;
    for (const auto &example : examples) {
        auto tokenized = tokenizeChat(tokenizer, example, maxLength);
        documents.push_back({std::move(tokenized.inputIds), std::move(tokenized.labels)});
    }
    return documents;
}

void storeSensitivity(Session &session, Side side, const SensitivityMap &map, int64_t layers)
{
    for (const auto &[name, scores] : map.scores)
        session.writeSensitivity(side, name, scores);
    session.setSensitivityInfo(side, sensitivityMetricName(map.metric), map.samples, computeDtypeName(map.computeDtype));
    session.writeLayerTotals(side, map.layerModuleTotals(layers), layerModuleNames());
}

SensitivityMap loadSensitivity(const Session &session, Side side)
{
    SensitivityMap map;
    const auto info = session.sensitivityInfo(side);
    map.metric = parseSensitivityMetric(info.metric);
    map.samples = info.samples;
    map.computeDtype = info.computeDtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
    for (const auto &name : session.sensitivityParameters(side))
        map.scores[name] = session.readSensitivity(side, name);
    return map;
}

void checkSessionTeacher(const Session &session, const std::string &teacherDir)
{
    if (!session.hasRecipe())
        return;
    const auto recorded = session.inputSha256();
    if (recorded.empty())
        return;
    const QDir folder(QString::fromStdString(teacherDir));
    QString weights = folder.filePath(QStringLiteral("model.safetensors"));
    if (!QFileInfo::exists(weights))
        weights = folder.filePath(QStringLiteral("model.safetensors.index.json"));
    const std::string hash = fileSha256(weights.toStdString());
    for (const auto &[file, sha] : recorded)
        if (sha == hash)
            return;
    throw Error(session.path() + ": the session's teacher sensitivity belongs to another model: the sha256 of " +
                weights.toStdString() + " (" + hash.substr(0, 16) +
                "...) is not among the session's recorded inputs; use a new session file for this teacher");
}

TeacherSource teacherInMemory(const LoadedModel &teacher, const SensitivityMap &scores)
{
    if (!teacher.model)
        throw Error(teacher.folder + ": the teacher's weights are not loaded");
    TeacherSource source;
    source.weights = [weights = teacher.model->named_parameters()](const std::string &n) { return weights[n].detach(); };
    source.scores = [&scores](const std::string &n) { return scores.at(n); };
    source.layerScores = scores.layerTotals(teacher.config.numHiddenLayers);
    return source;
}

TeacherSource teacherFromSession(const std::string &teacherDir, const Session &session, int64_t teacherLayers)
{
    if (!session.hasSensitivity(Side::Teacher))
        throw Error(session.path() + ": the session has no teacher sensitivity");
    TeacherSource source;
    if (session.hasLayerTotals(Side::Teacher)) {
        const auto totals = session.readLayerTotals(Side::Teacher).first;
        if (totals.dim() != 2 || totals.size(0) != teacherLayers)
            throw Error(session.path() + ": the teacher's per-layer totals cover " +
                        std::to_string(totals.dim() == 2 ? totals.size(0) : 0) + " layers but " + teacherDir +
                        "/config.json has " + std::to_string(teacherLayers) + "; the session belongs to another model");
        const auto perLayer = totals.sum(1).contiguous();
        source.layerScores.assign(perLayer.data_ptr<double>(), perLayer.data_ptr<double>() + perLayer.numel());
    } else {
        // Older sessions without totals: sum each layer's scores, one tensor at a time.
        source.layerScores.assign(static_cast<size_t>(teacherLayers), 0.0);
        const std::string prefix = "model.layers.";
        for (const auto &name : session.sensitivityParameters(Side::Teacher)) {
            if (name.rfind(prefix, 0) != 0)
                continue;
            const auto layer = std::stoll(name.substr(prefix.size()));
            if (layer >= 0 && layer < teacherLayers)
                source.layerScores[static_cast<size_t>(layer)] +=
                    session.readSensitivity(Side::Teacher, name).sum(at::kDouble).item<double>();
        }
    }
    struct Mapped
    {
        TensorStore store;
        at::Tensor last;
    };
    auto mapped = std::make_shared<Mapped>(Mapped{TensorStore::openFolder(teacherDir), {}});
    source.weights = [mapped](const std::string &name) {
        // The previous matrix has been reduced and copied by now.
        if (mapped->last.defined())
            releaseMappedPages(mapped->last);
        mapped->last = mapped->store.tensor(name);
        return mapped->last;
    };
    source.scores = [&session](const std::string &name) { return session.readSensitivity(Side::Teacher, name); };
    return source;
}

Extraction extractForRecipe(const TransferRecipe &recipe, const ModelConfig &teacher, const ModelConfig &student,
                            const TeacherSource &source, Progress &progress)
{
    const auto selection = selectLayers(recipe.layers, source.layerScores, student.numHiddenLayers, recipe.seed);
    ExtractionOptions options;
    options.structure = parseReductionStructure(recipe.structure);
    options.origin = parseTransferOrigin(recipe.origin);
    options.rank = recipe.lora.rank;
    options.split = parseFactorSplit(recipe.split);
    options.svd = parseSvdMethod(recipe.svd);
    options.seed = recipe.seed;
    return extractKnowledge(teacher, source.weights, source.scores, student, selection, options, progress);
}

EvalResult evaluateForRecipe(const TransferRecipe &recipe, LlamaForCausalLM &model, const Tokenizer &tokenizer,
                             const std::vector<ChatExample> &examples, Progress &progress)
{
    EvalOptions options;
    options.limit = recipe.evalLimit;
    options.maxNewTokens = recipe.maxNewTokens;
    const auto metric = parseEvalMetric(recipe.evalMetric);
    return metric == EvalMetric::Choice ? evaluateChoice(model, tokenizer, examples, options, &progress)
                                        : evaluateGenerated(model, tokenizer, examples, metric, options, &progress);
}

RunReport runCondition(const TransferRecipe &recipe, const std::string &name, ModelPair &pair,
                       const SensitivityMap *teacherScores, const std::vector<ChatExample> &train,
                       const std::vector<ChatExample> &eval, Progress &progress, const RunCallbacks &callbacks,
                       LlamaForCausalLM *trained)
{
    std::optional<TeacherSource> teacher;
    if (teacherScores)
        teacher = teacherInMemory(pair.teacher, *teacherScores);
    return runCondition(recipe, name, pair, teacher ? &*teacher : nullptr, train, eval, progress, callbacks, trained);
}

RunReport runCondition(const TransferRecipe &recipe, const std::string &name, ModelPair &pair,
                       const TeacherSource *teacher, const std::vector<ChatExample> &train,
                       const std::vector<ChatExample> &eval, Progress &progress, const RunCallbacks &callbacks,
                       LlamaForCausalLM *trained, StudentCopy copy)
{
    const auto start = std::chrono::steady_clock::now();
    auto log = [&](const std::string &line) {
        if (callbacks.log)
            callbacks.log(name + ": " + line);
    };
    RunReport run;
    run.name = name;
    run.condition = name;
    run.init = recipe.init;
    run.metric = recipe.evalMetric;
    run.seed = recipe.seed;

    LlamaForCausalLM student{nullptr};
    if (copy == StudentCopy::Reload) {
        LoadOptions load;
        load.device = pair.student.model->device();
        load.dtype = pair.student.model->dtype();
        student = loadModelFolder(pair.student.folder, load).model;
        student->setGradientCheckpointing(pair.student.model->gradientCheckpointing());
    } else {
        student = pair.student.model;
    }
    const auto modules = modulesOf(parseTransferOrigin(recipe.origin));
    const auto split = parseFactorSplit(recipe.split);

    if (recipe.init == "transfer") {
        if (!teacher)
            throw Error("a transfer run needs the teacher's sensitivity scores");
        run.extraction = extractForRecipe(recipe, pair.teacher.config, pair.student.config, *teacher, progress);
        run.teacherLayers = run.extraction->selection.teacherLayers;
        run.initialAdapters = injectTransfer(student, *run.extraction, recipe.lora);
        log("injected " + std::to_string(run.extraction->matrices.size()) + " teacher-derived adapters");
    } else if (recipe.init == "lora") {
        injectPlainLora(student, modules, recipe.lora, recipe.seed);
    } else if (recipe.init == "own-svd") {
        run.initialAdapters = injectOwnSvd(student, modules, recipe.lora, split);
    } else if (recipe.init != "none") {
        parseAdapterInit(recipe.init);   // throws with the list of valid names
    }

    if (recipe.init != "none") {
        auto options = recipe.training;
        options.seed = recipe.seed;
        options.maxLength = recipe.maxLength;
        options.padId = pair.tokenizer->eosId();
        run.training = trainLora(student, trainingDocuments(*pair.tokenizer, train, recipe.maxLength), {}, options,
                                 progress, callbacks.onStep);
        log("trained " + std::to_string(run.training.steps.size()) + " steps, final loss " +
            std::to_string(run.training.steps.empty() ? 0.0 : run.training.steps.back().loss));
    }

    run.evaluation = evaluateForRecipe(recipe, student, *pair.tokenizer, eval, progress);
    log(recipe.evalMetric + " " + std::to_string(100.0 * run.evaluation.score) + "% on " +
        std::to_string(run.evaluation.items) + " items");
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (trained)
        *trained = student;
    return run;
}

AdapterForm parseAdapterForm(const std::string &name)
{
    if (name == "base")
        return AdapterForm::UntouchedBase;
    if (name == "delta")
        return AdapterForm::WithDelta;
    throw Error("unknown adapter form '" + name + "' (" + adapterFormHelp() + ")");
}

std::string adapterFormHelp()
{
    return "base: one PEFT adapter of rank 2r that applies to the untouched student, as PEFT converts "
           "PiSSA/OLoRA adapters; delta: the trained rank-r adapter plus delta/, to merge into the student first";
}

namespace {

std::map<std::string, AdapterFactors> initialFactors(const RunReport &run)
{
    std::map<std::string, AdapterFactors> initial;
    for (const auto &[name, factors] : run.initialAdapters)
        initial[name] = {factors.a.detach().cpu(), factors.b.detach().cpu()};
    return initial;
}

std::string absoluteBase(const std::string &baseModel)
{
    return QFileInfo(QString::fromStdString(baseModel)).absoluteFilePath().toStdString();
}

const QString kForm = QStringLiteral("form"), kInitialRanks = QStringLiteral("initial_ranks");

} // namespace

PeftAdapter runAdapterForBase(LlamaForCausalLM &trained, const RunReport &run, const std::string &baseModel)
{
    return adapterForUntouchedBase(adapterOf(trained, absoluteBase(baseModel)), initialFactors(run));
}

void exportRunAdapters(LlamaForCausalLM &trained, const RunReport &run, const std::string &dir, const std::string &baseModel,
                       AdapterForm form)
{
    const std::string base = absoluteBase(baseModel);
    const auto adapter = adapterOf(trained, base);
    QJsonObject provenance{{QStringLiteral("written_by"), QStringLiteral("nugget")},
                           {QStringLiteral("init"), QString::fromStdString(run.init)}};
    const bool withDelta = form == AdapterForm::WithDelta && !run.initialAdapters.empty();
    if (!run.initialAdapters.empty() && !withDelta) {
        QJsonObject ranks;
        for (const auto &[name, factors] : run.initialAdapters)
            ranks[QString::fromStdString(name)] = static_cast<qint64>(factors.a.size(0));
        provenance[kForm] = QStringLiteral("untouched-base");
        provenance[kInitialRanks] = ranks;
        provenance[QStringLiteral("note")] =
            QStringLiteral("each adapter named in initial_ranks is [trained, initial]: the last initial_ranks rows of "
                           "lora_A are A0 and the last columns of lora_B are -B0, so it applies to the untouched base");
    } else {
        provenance[kForm] = withDelta ? QStringLiteral("with-delta") : QStringLiteral("plain");
    }
    // Adapter and delta belong together: the folder is replaced as a unit.
    writeFolderAtomically(dir, {"adapter_config.json", "adapter_model.safetensors", kProvenanceFile, "delta"},
                          [&](const std::string &staging) {
        writePeftAdapter(staging, withDelta ? adapter : adapterForUntouchedBase(adapter, initialFactors(run)),
                         provenance);
        if (!withDelta)
            return;
        PeftAdapter delta;
        delta.baseModel = base;
        delta.settings = adapter.settings;
        delta.tiedEmbedding = adapter.tiedEmbedding;
        for (const auto &[name, factors] : run.initialAdapters)
            delta.factors[name] = {factors.a.detach().cpu(), -factors.b.detach().cpu(), adapter.factors.at(name).settings};
        writePeftAdapter(QDir(QString::fromStdString(staging)).filePath(QStringLiteral("delta")).toStdString(), delta,
                         QJsonObject{{QStringLiteral("written_by"), QStringLiteral("nugget")},
                                     {kForm, QStringLiteral("delta")},
                                     {QStringLiteral("note"),
                                      QStringLiteral("merge into the base first; base + delta + the trained adapter "
                                                     "reproduces the fine-tuned student")}});
    });
}

InitialAdapters attachAdapterForTraining(LlamaForCausalLM &student, const std::string &dir)
{
    InitialAdapters initial;
    auto mergeInitial = [&](const PeftAdapter &delta) {
        attachAdapter(student, delta);
        mergeAllLora(student);
        for (const auto &[name, f] : delta.factors)
            if (!(student->config().tieWordEmbeddings && name == "lm_head.weight"))
                initial[name] = {f.a, -f.b};
    };
    const auto deltaDir = QDir(QString::fromStdString(dir)).filePath(QStringLiteral("delta")).toStdString();
    auto adapter = readPeftAdapter(dir);
    adapter.tiedEmbedding = student->config().tieWordEmbeddings;   // its lm_head is the embedding's share
    const auto provenance = readAdapterProvenance(dir);
    if (QFileInfo::exists(QString::fromStdString(deltaDir))) {   // the "delta" form, and adapters before it
        mergeInitial(readPeftAdapter(deltaDir));
        attachAdapter(student, adapter);
        return initial;
    }
    if (provenance.value(kForm).toString() != QLatin1String("untouched-base")) {
        attachAdapter(student, adapter);
        return initial;
    }
    std::map<std::string, int64_t> ranks;
    const auto listed = provenance.value(kInitialRanks).toObject();
    for (auto it = listed.begin(); it != listed.end(); ++it) {
        if (!it.value().isDouble() || it.value().toInteger() < 1)
            throw Error(dir + "/" + kProvenanceFile + ": '" + it.key().toStdString() +
                        "' in initial_ranks is not a positive integer");
        if (!adapter.factors.count(it.key().toStdString()))
            throw Error(dir + "/" + kProvenanceFile + ": initial_ranks names '" + it.key().toStdString() +
                        "', which the adapter does not adapt");
        ranks[it.key().toStdString()] = it.value().toInteger();
    }
    auto [trainedPart, initialPart] = splitInitialFactors(adapter, ranks);
    PeftAdapter delta;
    delta.baseModel = adapter.baseModel;
    delta.settings = adapter.settings;
    for (const auto &[name, f] : initialPart)
        delta.factors[name] = {f.a, -f.b, f.settings};
    mergeInitial(delta);
    attachAdapter(student, trainedPart);
    return initial;
}

} // namespace nugget
