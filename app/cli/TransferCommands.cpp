// nugget-cli sensitivity | extract | train | transfer: the transfer pipeline step by
// step or end to end.

#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "dist/DataParallel.h"
#include "io/AtomicFolder.h"
#include "io/ModelFolderInfo.h"
#include "io/Session.h"
#include "model/MemoryBudget.h"
#include "text/Tokenizer.h"
#include "transfer/StreamedSensitivity.h"
#include "transfer/TransferRecipe.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcess>

#include <cstdio>

namespace nugget::cli {

namespace {

QCommandLineOption option(const char *name, const char *description, const char *valueName = nullptr,
                          const char *defaultValue = nullptr)
{
    if (!valueName)
        return {QLatin1String(name), QLatin1String(description)};
    return {QLatin1String(name), QLatin1String(description), QLatin1String(valueName),
            defaultValue ? QString::fromLatin1(defaultValue) : QString()};
}

std::string required(const QCommandLineParser &parser, const char *name)
{
    if (!parser.isSet(QLatin1String(name)) || parser.value(QLatin1String(name)).isEmpty())
        throw Error(std::string("missing --") + name + " (see --help)");
    return parser.value(QLatin1String(name)).toStdString();
}

// A merged model folder, replaced as a unit.
void saveMerged(LlamaForCausalLM &model, const std::string &dir, const SaveOptions &save)
{
    writeFolderAtomically(dir, {"config.json", "model.safetensors", "tokenizer.model"},
                          [&](const std::string &staging) { saveModelFolder(model, staging, save); });
}

void logLine(const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// Options shared by the commands that build adapters or train them.
void addRecipeOptions(QCommandLineParser &parser)
{
    parser.addOptions({
        option("layers", "Teacher layers: sensitivity, top, last, random or a list like 0,2,5 (default sensitivity).", "HOW", "sensitivity"),
        option("structure", "Dimension reduction: submatrix, rowcol, neuron or random (default submatrix).", "HOW", "submatrix"),
        option("origin", "What is transferred: all, ffn, attention or embedding (default all).", "WHAT", "all"),
        option("rank", "LoRA rank (default 16).", "R", "16"),
        option("alpha", "LoRA alpha (default: the rank, so the scale is 1).", "A"),
        option("dropout", "LoRA dropout (default 0.05).", "P", "0.05"),
        option("split", "SVD split: reference (B = U S, A = V^T) or pissa (sqrt(S) on both) (default reference).", "HOW", "reference"),
        option("svd", "SVD of each reduced matrix: exact, randomized, or auto: randomized for matrices of 4096 x 4096 "
                      "and more, as in 7B-13B models (default auto).", "HOW", "auto"),
        option("epochs", "Training epochs (default 3).", "N", "3"),
        option("batch-size", "Examples per optimiser step (default 16).", "N", "16"),
        option("micro-batch-size", "Examples per forward/backward (default 8).", "N", "8"),
        option("learning-rate", "Peak learning rate (default 3e-4).", "LR", "3e-4"),
        option("warmup-ratio", "Warm-up share of the steps (default 0.03).", "F", "0.03"),
        option("max-length", "Tokens per example at most (default 512).", "N", "512"),
        option("seed", "Seed of initialisation, shuffling and dropout (default 1).", "S", "1"),
        option("metric", "Evaluation: exact-match, answer-number or choice (default exact-match).", "METRIC", "exact-match"),
        option("eval-limit", "Evaluate only the first N items (default all).", "N", "0"),
        option("device", "auto, cpu, cuda or cuda:N (default auto).", "DEVICE", "auto"),
    });
}

TransferRecipe recipeFromOptions(const QCommandLineParser &parser)
{
    TransferRecipe r;
    r.layers = parser.value(QStringLiteral("layers")).toStdString();
    r.structure = parser.value(QStringLiteral("structure")).toStdString();
    r.origin = parser.value(QStringLiteral("origin")).toStdString();
    r.split = parser.value(QStringLiteral("split")).toStdString();
    r.svd = parser.value(QStringLiteral("svd")).toStdString();
    r.lora.rank = integerOption(parser, QStringLiteral("rank"));
    r.lora.alpha = parser.isSet(QStringLiteral("alpha")) ? numberOption(parser, QStringLiteral("alpha"))
                                                        : static_cast<double>(r.lora.rank);
    r.lora.dropout = numberOption(parser, QStringLiteral("dropout"));
    r.training.epochs = integerOption(parser, QStringLiteral("epochs"));
    r.training.batchSize = integerOption(parser, QStringLiteral("batch-size"));
    r.training.microBatchSize = integerOption(parser, QStringLiteral("micro-batch-size"));
    r.training.learningRate = numberOption(parser, QStringLiteral("learning-rate"));
    r.training.warmupRatio = numberOption(parser, QStringLiteral("warmup-ratio"));
    r.maxLength = integerOption(parser, QStringLiteral("max-length"));
    r.seed = static_cast<uint64_t>(integerOption(parser, QStringLiteral("seed")));
    r.evalMetric = parser.value(QStringLiteral("metric")).toStdString();
    r.evalLimit = integerOption(parser, QStringLiteral("eval-limit"));
    // Round-trip through the JSON form: one place validates every value.
    return TransferRecipe::fromJson(r.toJson(), "command line");
}

QCommandLineOption computeDtypeOption()
{
    return option("compute-dtype",
                  "Sensitivity's forward and backward in float32, bfloat16 (scores still summed in float32) or auto "
                  "(bfloat16 where this device multiplies it at least twice as fast, as GPUs and CPUs with AMX do). "
                  "Default: auto for a model too large for memory, else float32.",
                  "DTYPE");
}

at::ScalarType computeDtypeFrom(const QCommandLineParser &parser, const ModelConfig &config, at::Device device)
{
    const auto text = parser.value(QStringLiteral("compute-dtype")).toStdString();
    const auto dtype = text.empty() ? defaultComputeDtype(config, device) : parseComputeDtype(text, device);
    logLine(std::string("sensitivity: computing in ") + (dtype == at::kBFloat16 ? "bfloat16" : "float32"));
    return dtype;
}

QCommandLineOption studentDtypeOption()
{
    return option("student-dtype",
                  "The student's weights in float32, or bfloat16 with float32 adapters, or auto: float32 when the "
                  "student fits in half of this machine's memory, else bfloat16 when it fits in three quarters "
                  "(default auto).",
                  "DTYPE", "auto");
}

QCommandLineOption checkpointingOption()
{
    return option("gradient-checkpointing",
                  "Run each student layer again in the backward pass instead of keeping its activations: on, off, or "
                  "auto (on for a student held in bfloat16, whose activations would not fit beside it) "
                  "(default auto).",
                  "WHEN", "auto");
}

// --gradient-checkpointing for a student loaded with `load`.
void applyCheckpointing(const QCommandLineParser &parser, LlamaForCausalLM &student, const LoadOptions &load)
{
    const auto when = parser.value(QStringLiteral("gradient-checkpointing")).toStdString();
    if (when != "auto" && when != "on" && when != "off")
        throw Error("--gradient-checkpointing is \"" + when + "\"; expected auto, on or off");
    const bool on = when == "on" || (when == "auto" && load.dtype != at::kFloat);
    student->setGradientCheckpointing(on);
    if (on)
        logLine("student: gradient checkpointing (each layer runs again in the backward pass)");
}

// Device and weight dtype of the student in `dir`, by --device and --student-dtype.
LoadOptions studentLoadOptions(const QCommandLineParser &parser, const std::string &dir)
{
    LoadOptions load;
    load.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    const auto config = readFolderConfig(dir);
    load.dtype = parseStudentDtype(parser.value(QStringLiteral("student-dtype")).toStdString(), config, dir);
    if (load.dtype != at::kFloat)
        logLine("student: bfloat16 weights with float32 adapters (" +
                byteSizeText(2.0 * static_cast<double>(config.parameterCount())) + "; float32 would take " +
                byteSizeText(4.0 * static_cast<double>(config.parameterCount())) + " of " + byteSizeText(memoryBytes()) +
                ")");
    return load;
}

// The session at `path` opened for update, or a new one.
Session openOrCreate(const std::string &path)
{
    return QFileInfo::exists(QString::fromStdString(path)) ? Session::openForUpdate(path) : Session::create(path);
}

// Makes sure the session holds the teacher's scores: reused when present (once they are
// known to belong to this teacher), else computed by the streamed sensitivity, so the
// teacher is never loaded whole; the extraction then reads them one matrix at a time.
void ensureTeacherScores(Session &session, const ModelPair &pair, const std::string &seeds, const TransferRecipe &recipe,
                         at::Device device, const QCommandLineParser &parser, Progress &progress)
{
    if (session.hasSensitivity("teacher")) {
        checkSessionTeacher(session, pair.teacher.folder);
        logLine("sensitivity: the teacher's scores come from the session");
        return;
    }
    if (seeds.empty())
        throw Error("the session has no teacher sensitivity; give --seeds FILE to compute it");
    logLine("sensitivity: scoring the teacher on " + seeds + " (streamed, one layer at a time)");
    const auto samples = seedSamplesFromFile(*pair.tokenizer, seeds, recipe.maxLength,
                                             pair.teacher.config.maxPositionEmbeddings);
    storeTeacherScores(session, pair, samples, recipe, device, computeDtypeFrom(parser, pair.teacher.config, device),
                       progress);
}

// --world-size, --process-rank, --master and --launch: one set of data-parallel options
// for every command that can run as a group. `rankAlias` also accepts --rank for the
// process rank (sensitivity, which has no LoRA rank; train's --rank is the LoRA rank).
void addDataParallelOptions(QCommandLineParser &parser, bool rankAlias)
{
    QStringList rankNames{QStringLiteral("process-rank")};
    if (rankAlias)
        rankNames.prepend(QStringLiteral("rank"));
    parser.addOptions({
        option("world-size", "Processes of a data-parallel group sharing the work (default 1).", "N", "1"),
        QCommandLineOption(rankNames,
                           QStringLiteral("This process's rank in the group, 0..N-1; rank 0 writes the outputs "
                                          "(default 0)."),
                           QStringLiteral("R"), QStringLiteral("0")),
        option("master", "ADDR:PORT of rank 0's rendezvous store (default 127.0.0.1:29500).", "ADDR:PORT",
               "127.0.0.1:29500"),
        option("launch", "Start N local processes as one data-parallel group over loopback.", "N"),
    });
}

struct GroupPlace
{
    int worldSize = 1;
    int rank = 0;
};

// This process's place in the group the options describe, checked before any work.
GroupPlace groupPlace(const QCommandLineParser &parser)
{
    GroupPlace place;
    place.worldSize = static_cast<int>(integerOption(parser, QStringLiteral("world-size")));
    place.rank = static_cast<int>(integerOption(parser, QStringLiteral("process-rank")));
    if (place.worldSize < 1)
        throw Error("--world-size expects a positive number of processes");
    if (place.rank < 0 || place.rank >= place.worldSize)
        throw Error("--process-rank " + std::to_string(place.rank) + " is outside the group of " +
                    std::to_string(place.worldSize) + " processes (0.." + std::to_string(place.worldSize - 1) + ")");
    return place;
}

// Joins the group (returns once every rank has joined); null for a single process.
std::unique_ptr<DataParallelGroup> joinGroup(const QCommandLineParser &parser, const GroupPlace &place)
{
    if (place.worldSize <= 1)
        return nullptr;
    DataParallelOptions dp;
    dp.worldSize = place.worldSize;
    dp.rank = place.rank;
    dp.master = parser.value(QStringLiteral("master")).toStdString();
    return std::make_unique<DataParallelGroup>(dp);
}

// Runs `command` as `count` local processes (ranks 0..count-1 on loopback), their
// output passed through; fails when any of them fails.
int launchLocal(const QString &command, const QStringList &arguments, int count)
{
    if (count < 1)
        throw Error("--launch expects a positive number of processes");
    QStringList forwarded;
    for (int i = 1; i < arguments.size(); ++i) {   // without the program name and --launch N
        const QString &a = arguments.at(i);
        if (a == QLatin1String("--launch")) {
            ++i;
            continue;
        }
        if (a.startsWith(QLatin1String("--launch=")))
            continue;
        forwarded << a;
    }
    const QString master = QStringLiteral("127.0.0.1:%1").arg(freeLoopbackPort());
    std::vector<std::unique_ptr<QProcess>> processes;
    for (int rank = 0; rank < count; ++rank) {
        auto process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::ForwardedChannels);
        process->start(QCoreApplication::applicationFilePath(),
                       QStringList{command} + forwarded +
                           QStringList{QStringLiteral("--world-size"), QString::number(count),
                                       QStringLiteral("--process-rank"), QString::number(rank),
                                       QStringLiteral("--master"), master});
        if (!process->waitForStarted())
            throw Error("cannot start rank " + std::to_string(rank) + ": " + process->errorString().toStdString());
        processes.push_back(std::move(process));
    }
    int failures = 0;
    for (auto &process : processes) {
        process->waitForFinished(-1);
        if (process->exitStatus() != QProcess::NormalExit || process->exitCode() != 0)
            ++failures;
    }
    if (failures > 0)
        throw Error(std::to_string(failures) + " of " + std::to_string(count) + " data-parallel processes failed");
    return 0;
}

} // namespace

int runSensitivity(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("model", "Model folder to score.", "DIR"),
        option("seeds", "Seed samples (JSONL); the loss is taken on the last assistant message.", "FILE"),
        option("out", "Session file to write (created, or updated in place atomically).", "SESSION.h5"),
        option("metric", "taylor (|W dL/dW|), fisher ((dL/dW)^2) or magnitude (|W|) (default taylor).", "METRIC", "taylor"),
        option("side", "Store as the teacher's or the student's scores (default teacher).", "SIDE", "teacher"),
        option("max-length", "Tokens per sample at most (default 512).", "N", "512"),
        option("device", "auto, cpu, cuda or cuda:N (default auto).", "DEVICE", "auto"),
        option("streamed", "Stream the model one decoder layer at a time from its memory-mapped weights (automatic "
                           "when its float32 size exceeds half of this machine's memory, and with --world-size)."),
        option("score-dtype", "Scores in the session: float32 or float16 (default: float16 when streamed, else "
                              "float32).", "DTYPE"),
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
    const auto side = parser.value(QStringLiteral("side")).toStdString();
    if (side != "teacher" && side != "student")
        throw Error("--side expects teacher or student");
    const auto metric = parseSensitivityMetric(parser.value(QStringLiteral("metric")).toStdString());
    const auto folder = required(parser, "model");
    const auto config = readFolderConfig(folder);
    const auto place = groupPlace(parser);
    const int worldSize = place.worldSize, rank = place.rank;
    const bool streamed = parser.isSet(QStringLiteral("streamed")) || worldSize > 1 || tooLargeForMemory(config);
    const auto scoreDtype = parser.value(QStringLiteral("score-dtype")).toStdString();
    if (!scoreDtype.empty() && scoreDtype != "float32" && scoreDtype != "float16")
        throw Error("--score-dtype expects float32 or float16");
    const auto storage = scoreDtype == "float16" || (scoreDtype.empty() && streamed) ? Session::ScoreStorage::Float16
                                                                                     : Session::ScoreStorage::Float32;
    const auto device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    const auto computeDtype = computeDtypeFrom(parser, config, device);
    const QString tokenizerPath = QDir(QString::fromStdString(folder)).filePath(QStringLiteral("tokenizer.model"));
    if (metric != SensitivityMetric::Magnitude && !QFileInfo::exists(tokenizerPath))
        throw Error(folder + ": no tokenizer.model in the model folder");
    // A tokenizer in the folder is checked even when the metric does not use it: a
    // corrupt one is reported, never carried along into later steps.
    const auto tokenizer = QFileInfo::exists(tokenizerPath) ? Tokenizer::load(tokenizerPath.toStdString()) : nullptr;
    std::vector<SeedSample> samples;
    if (metric != SensitivityMetric::Magnitude)
        samples = seedSamplesFromFile(*tokenizer, required(parser, "seeds"),
                                      integerOption(parser, QStringLiteral("max-length")),
                                      config.maxPositionEmbeddings);

    const auto out = required(parser, "out");
    const auto group = joinGroup(parser, place);
    const bool writer = rank == 0;
    std::optional<Session> session;
    if (writer)
        session.emplace(openOrCreate(out));
    auto progress = writer ? consoleProgress() : Progress();
    int64_t sampleCount = 0;
    std::vector<double> totals;
    if (streamed) {
        StreamedSensitivityOptions options;
        options.metric = metric;
        options.maxLength = integerOption(parser, QStringLiteral("max-length"));
        options.device = device;
        options.computeDtype = computeDtype;
        options.scratchDir = parser.value(QStringLiteral("scratch")).toStdString();
        std::vector<SeedSample> mine;   // sample i goes to rank i mod N
        for (size_t i = 0; i < samples.size(); ++i)
            if (static_cast<int>(i % static_cast<size_t>(std::max(worldSize, 1))) == rank)
                mine.push_back(samples[i]);
        if (group) {
            options.allReduce = [&](at::Tensor &t) { group->allReduceSum(t); };
            if (mine.empty() && metric != SensitivityMetric::Magnitude)
                throw Error("rank " + std::to_string(rank) + " has no seed sample: use at most as many processes as samples");
        }
        const auto result = storeStreamedSensitivity(session ? &*session : nullptr, side, folder, mine, options,
                                                     progress, storage);
        sampleCount = result.samples;
        const auto perLayer = result.layerModuleTotals.sum(1);
        for (int64_t i = 0; i < perLayer.size(0); ++i)
            totals.push_back(perLayer[i].item<double>());
    } else {
        LoadOptions load;
        load.device = device;
        load.dtype = computeDtype;
        auto model = loadModelFolder(folder, load);
        SensitivityOptions options;
        options.metric = metric;
        options.maxLength = integerOption(parser, QStringLiteral("max-length"));
        const auto map = computeSensitivity(model.model, samples, options, progress);
        for (const auto &[name, scores] : map.scores)
            session->writeSensitivity(side, name, scores, storage);
        session->setSensitivityInfo(side, sensitivityMetricName(map.metric), map.samples,
                                    computeDtypeName(map.computeDtype));
        session->writeLayerTotals(side, map.layerModuleTotals(config.numHiddenLayers), layerModuleNames());
        sampleCount = map.samples;
        totals = map.layerTotals(config.numHiddenLayers);
    }
    if (!writer)
        return 0;
    if (!session->hasRecipe()) {
        std::vector<std::string> inputs;
        for (const auto &file : TensorStore::openFolder(folder).files())
            inputs.push_back(file);
        if (parser.isSet(QStringLiteral("seeds")))
            inputs.push_back(parser.value(QStringLiteral("seeds")).toStdString());
        QJsonObject recipe{{QLatin1String(side == "teacher" ? "teacher" : "student"), QString::fromStdString(folder)},
                           {QStringLiteral("sensitivity_metric"), QString::fromStdString(sensitivityMetricName(metric))}};
        session->setRecipe(recipe, hashInputs(inputs));
    }
    session->commit();

    std::printf("%s sensitivity of %s over %lld samples%s -> %s\nlayer totals:", sensitivityMetricName(metric).c_str(),
                folder.c_str(), static_cast<long long>(sampleCount),
                streamed ? (worldSize > 1 ? (" (streamed, " + std::to_string(worldSize) + " processes)").c_str()
                                          : " (streamed)")
                         : "",
                out.c_str());
    for (size_t i = 0; i < totals.size(); ++i)
        std::printf(" %zu:%.4g", i, totals[i]);
    std::printf("\n");
    return 0;
}

int runExtract(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("teacher", "Teacher model folder.", "DIR"),
        option("student", "Student model folder.", "DIR"),
        option("session", "Session file (teacher sensitivity read from it, or computed and stored).", "SESSION.h5"),
        option("seeds", "Seed samples, needed when the session has no teacher sensitivity yet.", "FILE"),
        option("out", "Adapter folder to write (PEFT format; the delta adapter in OUT/delta).", "ADAPTER_DIR"),
        computeDtypeOption(),
        studentDtypeOption(),
    });
    addRecipeOptions(parser);
    parseOrExit(parser, arguments,
                QStringLiteral("Selects teacher layers, reduces each teacher matrix to the student's shape by its "
                               "sensitivity, factorises it (truncated SVD) and writes the LoRA initialisation of the "
                               "student as a PEFT adapter, with the delta adapter that keeps the student unchanged at "
                               "step 0. Records the selection and the kept rows and columns in the session."));
    auto recipe = recipeFromOptions(parser);
    recipe.teacher = required(parser, "teacher");
    recipe.student = required(parser, "student");
    const auto out = required(parser, "out");
    const auto load = studentLoadOptions(parser, recipe.student);
    // The teacher stays on disk: its matrices are read memory-mapped, one at a time.
    auto pair = loadModelPair(recipe.teacher, recipe.student, load, TeacherWeights::Mapped);
    auto session = openOrCreate(required(parser, "session"));
    auto progress = consoleProgress();
    ensureTeacherScores(session, pair, parser.value(QStringLiteral("seeds")).toStdString(), recipe, load.device, parser, progress);
    const auto teacher = teacherFromSession(pair.teacher.folder, session, pair.teacher.config.numHiddenLayers);

    const auto extraction = extractForRecipe(recipe, pair.teacher.config, pair.student.config, teacher, progress);
    const auto &selection = extraction.selection;
    session.writeSelection(selection.teacherLayers, layerStrategyName(selection.strategy));
    for (const auto &m : extraction.matrices)
        session.writeReduction(m.teacherParameter, m.indices.rows, m.indices.cols, recipe.structure);

    RunReport run;
    run.init = "transfer";
    run.initialAdapters = injectTransfer(pair.student.model, extraction, recipe.lora);
    exportRunAdapters(pair.student.model, run, out, recipe.student);
    if (!session.hasRecipe())
        session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
    session.commit();

    std::printf("teacher layers");
    for (size_t i = 0; i < selection.teacherLayers.size(); ++i)
        std::printf(" %lld->%zu", static_cast<long long>(selection.teacherLayers[i]), i);
    std::printf(" (%s); %zu matrices, rank %lld -> %s\n", layerStrategyName(selection.strategy).c_str(),
                extraction.matrices.size(), static_cast<long long>(recipe.lora.rank), out.c_str());
    return 0;
}

int runTrain(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("student", "Student model folder.", "DIR"),
        option("init", "An adapter folder from extract (its delta is merged first), lora (plain LoRA) or own-svd "
                       "(default lora).", "ADAPTER_DIR|lora|own-svd", "lora"),
        option("train", "Training data (JSONL).", "FILE"),
        option("eval", "Evaluation data (JSONL), scored after training.", "FILE"),
        option("out", "Folder for the trained adapter (PEFT format).", "DIR"),
        option("merged", "Also write the merged model (base + adapters) as a model folder here.", "DIR"),
        studentDtypeOption(),
        checkpointingOption(),
    });
    addRecipeOptions(parser);
    addDataParallelOptions(parser, false);
    parseOrExit(parser, arguments,
                QStringLiteral("Fine-tunes LoRA adapters on a student model. With --world-size N every process "
                               "runs its share of each batch's micro-batches and the gradients are summed over "
                               "the group before each step; rank 0 writes the outputs."));
    if (parser.isSet(QStringLiteral("launch")))
        return launchLocal(QStringLiteral("train"), arguments,
                           static_cast<int>(integerOption(parser, QStringLiteral("launch"))));
    const auto place = groupPlace(parser);
    auto recipe = recipeFromOptions(parser);
    recipe.student = required(parser, "student");
    const auto out = required(parser, "out");
    const auto load = studentLoadOptions(parser, recipe.student);
    auto student = loadModelFolder(recipe.student, load);
    applyCheckpointing(parser, student.model, load);
    if (student.tokenizerPath.empty())
        throw Error(recipe.student + ": no tokenizer.model in the student's folder");
    const auto tokenizer = Tokenizer::load(student.tokenizerPath);

    RunReport run;
    const auto init = parser.value(QStringLiteral("init")).toStdString();
    run.init = init;
    if (init == "lora") {
        injectPlainLora(student.model, modulesOf(parseTransferOrigin(recipe.origin)), recipe.lora, recipe.seed);
    } else if (init == "own-svd") {
        run.initialAdapters = injectOwnSvd(student.model, modulesOf(parseTransferOrigin(recipe.origin)), recipe.lora,
                                           parseFactorSplit(recipe.split));
    } else {
        const QDir adapterDir(QString::fromStdString(init));
        if (!adapterDir.exists())
            throw Error("--init: '" + init + "' is neither lora, own-svd nor an adapter folder");
        const auto deltaDir = adapterDir.filePath(QStringLiteral("delta")).toStdString();
        if (QFileInfo::exists(QString::fromStdString(deltaDir))) {
            const auto delta = readPeftAdapter(deltaDir);
            attachAdapter(student.model, delta);
            mergeAllLora(student.model);
            for (const auto &[name, f] : delta.factors)
                run.initialAdapters[name] = {f.a, -f.b};
        }
        attachAdapter(student.model, readPeftAdapter(init));
        run.init = "adapter";
    }
    auto options = recipe.training;
    options.seed = recipe.seed;
    options.maxLength = recipe.maxLength;
    options.padId = tokenizer->eosId();
    const auto documents = trainingDocuments(*tokenizer, readTaskFile(required(parser, "train")), recipe.maxLength);
    // Joined only now: a bad file fails this rank before the others wait for it.
    const auto group = joinGroup(parser, place);
    options.rank = place.rank;
    options.worldSize = place.worldSize;
    if (group)
        options.allReduce = [&](at::Tensor &t) { group->allReduceSum(t); };
    const bool writer = place.rank == 0;
    auto progress = writer ? consoleProgress() : Progress();
    run.training = trainLora(student.model, documents, {}, options, progress,
                             writer ? std::function<void(const TrainingStep &)>(printTrainingStep) : nullptr);
    if (!writer)   // every rank holds the same adapters; one writes them
        return 0;
    exportRunAdapters(student.model, run, out, recipe.student);
    if (parser.isSet(QStringLiteral("eval"))) {
        const auto result = evaluateForRecipe(recipe, student.model, *tokenizer,
                                              readChatJsonl(parser.value(QStringLiteral("eval")).toStdString()), progress);
        std::printf("%s %.2f%% (%lld of %lld items)\n", recipe.evalMetric.c_str(), 100.0 * result.score,
                    static_cast<long long>(result.correct), static_cast<long long>(result.items));
    }
    if (parser.isSet(QStringLiteral("merged"))) {
        mergeAllLora(student.model);
        SaveOptions save;
        save.tokenizerPath = student.tokenizerPath;
        save.storageDtype = student.model->dtype();   // a bfloat16 student stays bfloat16 on disk
        saveMerged(student.model, parser.value(QStringLiteral("merged")).toStdString(), save);
    }
    std::printf("trained %zu steps -> %s\n", run.training.steps.size(), out.c_str());
    return 0;
}

int runTransfer(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("teacher", "Teacher model folder.", "DIR"),
        option("student", "Student model folder.", "DIR"),
        option("seeds", "Seed samples (JSONL).", "FILE"),
        option("train", "Training data (JSONL).", "FILE"),
        option("eval", "Evaluation data (JSONL).", "FILE"),
        option("init", "transfer (the method), lora, own-svd or none (default transfer).", "HOW", "transfer"),
        option("out", "Output folder: session.h5, adapter/ (PEFT, with delta/), merged/.", "DIR"),
        computeDtypeOption(),
        studentDtypeOption(),
        checkpointingOption(),
    });
    addRecipeOptions(parser);
    parseOrExit(parser, arguments,
                QStringLiteral("The whole pipeline: teacher sensitivity on the seeds, layer selection, reduction and "
                               "SVD, injection into the student, LoRA training, evaluation and export. Records "
                               "everything in OUT/session.h5."));
    auto recipe = recipeFromOptions(parser);
    recipe.teacher = required(parser, "teacher");
    recipe.student = required(parser, "student");
    recipe.seeds = required(parser, "seeds");
    recipe.train = required(parser, "train");
    recipe.eval = required(parser, "eval");
    recipe.init = parser.value(QStringLiteral("init")).toStdString();
    recipe = TransferRecipe::fromJson(recipe.toJson(), "command line");
    const QDir out(QString::fromStdString(required(parser, "out")));
    if (!QDir().mkpath(out.path()))
        throw Error(out.path().toStdString() + ": cannot create the folder");

    const auto load = studentLoadOptions(parser, recipe.student);
    auto pair = loadModelPair(recipe.teacher, recipe.student, load, TeacherWeights::Mapped);
    applyCheckpointing(parser, pair.student.model, load);
    auto session = openOrCreate(out.filePath(QStringLiteral("session.h5")).toStdString());
    if (session.hasSensitivity("teacher"))   // before the new recipe replaces the recorded hashes
        checkSessionTeacher(session, pair.teacher.folder);
    session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
    auto progress = consoleProgress();
    std::optional<TeacherSource> teacher;
    if (recipe.init == "transfer") {
        ensureTeacherScores(session, pair, recipe.seeds, recipe, load.device, parser, progress);
        teacher = teacherFromSession(pair.teacher.folder, session, pair.teacher.config.numHiddenLayers);
    }

    LlamaForCausalLM trained{nullptr};
    const auto run = runCondition(recipe, recipe.init, pair, teacher ? &*teacher : nullptr, readTaskFile(recipe.train),
                                  readTaskFile(recipe.eval), progress, {logLine, printTrainingStep}, &trained,
                                  StudentCopy::UseLoaded);   // one run: no second copy of the student
    if (run.extraction) {
        session.writeSelection(run.extraction->selection.teacherLayers, layerStrategyName(run.extraction->selection.strategy));
        for (const auto &m : run.extraction->matrices)
            session.writeReduction(m.teacherParameter, m.indices.rows, m.indices.cols, recipe.structure);
    }
    std::vector<float> curve;
    for (const auto &s : run.training.steps)
        curve.insert(curve.end(), {static_cast<float>(s.step), static_cast<float>(s.loss), static_cast<float>(s.learningRate)});
    const auto steps = static_cast<int64_t>(run.training.steps.size());
    const QJsonObject scoresJson{{QStringLiteral("metric"), QString::fromStdString(recipe.evalMetric)},
                                 {QStringLiteral("score"), run.evaluation.score},
                                 {QStringLiteral("items"), static_cast<qint64>(run.evaluation.items)},
                                 {QStringLiteral("seconds"), run.seconds}};
    session.writeRun(recipe.init, torch::tensor(curve).view({steps, 3}), {"step", "loss", "learning_rate"}, scoresJson);
    if (recipe.init != "none")
        exportRunAdapters(trained, run, out.filePath(QStringLiteral("adapter")).toStdString(), recipe.student);
    mergeAllLora(trained);
    SaveOptions save;
    save.tokenizerPath = pair.student.tokenizerPath;
    save.storageDtype = trained->dtype();   // a bfloat16 student stays bfloat16 on disk
    saveMerged(trained, out.filePath(QStringLiteral("merged")).toStdString(), save);
    session.commit();
    std::printf("%s: %s %.2f%% (%lld of %lld items) in %.0f s -> %s\n", recipe.init.c_str(), recipe.evalMetric.c_str(),
                100.0 * run.evaluation.score, static_cast<long long>(run.evaluation.correct),
                static_cast<long long>(run.evaluation.items), run.seconds, qPrintable(out.path()));
    return 0;
}

} // namespace nugget::cli
