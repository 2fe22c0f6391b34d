// The options the transfer commands share; see TransferOptions.h.

#include "TransferOptions.h"

#include "dist/DataParallel.h"
#include "io/AtomicFolder.h"
#include "io/ModelFolderInfo.h"
#include "model/MemoryBudget.h"
#include "model/MergedModelFolder.h"
#include "transfer/RecipeChoices.h"

#include <QCoreApplication>
#include <QProcess>

#include <cstdio>

namespace nugget::cli {

QCommandLineOption option(const char *name, const char *description, const char *valueName, const char *defaultValue)
{
    if (!valueName)
        return {QLatin1String(name), QLatin1String(description)};
    return {QLatin1String(name), QLatin1String(description), QLatin1String(valueName),
            defaultValue ? QString::fromLatin1(defaultValue) : QString()};
}

QCommandLineOption option(const char *name, const std::string &description, const char *valueName,
                          const char *defaultValue)
{
    return {QLatin1String(name), QString::fromStdString(description), QLatin1String(valueName),
            defaultValue ? QString::fromLatin1(defaultValue) : QString()};
}

std::string required(const QCommandLineParser &parser, const char *name)
{
    if (!parser.isSet(QLatin1String(name)) || parser.value(QLatin1String(name)).isEmpty())
        throw Error(std::string("missing --") + name + " (see --help)");
    return parser.value(QLatin1String(name)).toStdString();
}

void logLine(const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); }

QCommandLineOption adapterFormOption()
{
    return option("adapter-form", "How an adapter that starts from factors of the student (transfer, own-svd, an "
                                  "extracted adapter) is written: " + adapterFormHelp() + " (default base).",
                  "base|delta", "base");
}

AdapterForm adapterFormOf(const QCommandLineParser &parser)
{
    return parseAdapterForm(parser.value(QStringLiteral("adapter-form")).toStdString());
}

QCommandLineOption maxShardSizeOption()
{
    return option("max-shard-size", "Largest safetensors file of the merged model; above it the weights are "
                                     "sharded with model.safetensors.index.json, as transformers does (default 5GB).",
                  "SIZE", "5GB");
}

void saveMerged(LlamaForCausalLM &model, const std::string &studentDir, const PeftAdapter *adapter,
                const std::string &dir, const QCommandLineParser &parser)
{
    MergedFolderOptions options;
    // Stored as the student is: a bfloat16 student stays bfloat16 on disk.
    options.maxShardBytes = parseShardSize(parser.value(QStringLiteral("max-shard-size")).toStdString());
    writeMergedModelFolder(model, studentDir, adapter, dir, options);
}

namespace {

template <typename E>
std::string choices(const ChoiceTable<E> &table, const char *defaultName)
{
    return table.help() + " (default " + defaultName + ").";
}

} // namespace

void addRecipeOptions(QCommandLineParser &parser, unsigned groups)
{
    if (groups & AdapterShape)
        parser.addOptions({
            option("origin", "What is transferred: " + choices(transferOrigins(), "all"), "WHAT", "all"),
            option("rank", "LoRA rank (default 16).", "R", "16"),
            option("alpha", "LoRA alpha (default: the rank, so the scale is 1).", "A"),
            option("dropout", "LoRA dropout (default 0.05).", "P", "0.05"),
            option("split", "SVD split: " + choices(factorSplits(), "reference"), "HOW", "reference"),
        });
    if (groups & Extraction)
        parser.addOptions({
            option("layers", "Teacher layers: " + layerStrategies().help() + "; or a list like 0,2,5 "
                             "(default sensitivity).", "HOW", "sensitivity"),
            option("structure", "Dimension reduction: " + choices(reductionStructures(), "submatrix"), "HOW",
                   "submatrix"),
            option("svd", "SVD of each reduced matrix: " + choices(svdMethods(), "auto"), "HOW", "auto"),
        });
    const LoraTrainingOptions kTraining;
    if (groups & Training)
        parser.addOptions({
            // The defaults of the core's recipe, which the workbench and experiment recipes share.
            option("epochs", "Training epochs (default " + std::to_string(kTraining.epochs) + ").", "N",
                   std::to_string(kTraining.epochs).c_str()),
            option("batch-size", "Examples per optimiser step (default " + std::to_string(kTraining.batchSize) + ").",
                   "N", std::to_string(kTraining.batchSize).c_str()),
            option("micro-batch-size",
                   "Examples per forward/backward (default " + std::to_string(kTraining.microBatchSize) + ").", "N",
                   std::to_string(kTraining.microBatchSize).c_str()),
            option("learning-rate", "Peak learning rate (default 3e-4).", "LR", "3e-4"),
            option("warmup-ratio", "Warm-up share of the steps (default 0.03).", "F", "0.03"),
        });
    if (groups & Evaluation)
        parser.addOptions({
            option("metric", "Evaluation: " + choices(recipeEvalMetrics(), "exact-match"), "METRIC", "exact-match"),
            option("eval-limit", "Evaluate only the first N items (default all).", "N", "0"),
        });
    parser.addOptions({
        option("max-length", "Tokens per example at most (default 512).", "N", "512"),
        option("seed", "Seed of initialisation, shuffling, dropout and random choices (default 1).", "S", "1"),
        option("device", "auto, cpu, cuda or cuda:N (default auto).", "DEVICE", "auto"),
    });
}

TransferRecipe recipeFromOptions(const QCommandLineParser &parser, unsigned groups)
{
    TransferRecipe r;
    auto text = [&](const char *name) { return parser.value(QLatin1String(name)).toStdString(); };
    if (groups & AdapterShape) {
        r.origin = text("origin");
        r.split = text("split");
        r.lora.rank = integerOption(parser, QStringLiteral("rank"));
        r.lora.alpha = parser.isSet(QStringLiteral("alpha")) ? numberOption(parser, QStringLiteral("alpha"))
                                                            : static_cast<double>(r.lora.rank);
        r.lora.dropout = numberOption(parser, QStringLiteral("dropout"));
    }
    if (groups & Extraction) {
        r.layers = text("layers");
        r.structure = text("structure");
        r.svd = text("svd");
    }
    if (groups & Training) {
        r.training.epochs = integerOption(parser, QStringLiteral("epochs"));
        r.training.batchSize = integerOption(parser, QStringLiteral("batch-size"));
        r.training.microBatchSize = integerOption(parser, QStringLiteral("micro-batch-size"));
        r.training.learningRate = numberOption(parser, QStringLiteral("learning-rate"));
        r.training.warmupRatio = numberOption(parser, QStringLiteral("warmup-ratio"));
    }
    if (groups & Evaluation) {
        r.evalMetric = text("metric");
        r.evalLimit = integerOption(parser, QStringLiteral("eval-limit"));
    }
    r.maxLength = integerOption(parser, QStringLiteral("max-length"));
    r.seed = static_cast<uint64_t>(integerOption(parser, QStringLiteral("seed")));
    // Round-trip through the JSON form: one place validates every value.
    return TransferRecipe::fromJson(r.toJson(), "command line");
}

void refuseOptions(const QCommandLineParser &parser, std::initializer_list<const char *> names, const std::string &when,
                   const std::string &why)
{
    for (const char *name : names)
        if (parser.isSet(QLatin1String(name)))
            throw Error(std::string("--") + name + " has no effect " + when + ": " + why);
}

QCommandLineOption computeDtypeOption()
{
    return option("compute-dtype",
                  "The sensitivity's forward and backward: " + computeDtypes().help() +
                      ". Default: auto for a model too large for memory, else float32.",
                  "DTYPE");
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

void addDataParallelOptions(QCommandLineParser &parser, bool rankAlias)
{
    QStringList rankNames{QStringLiteral("process-rank")};
    if (rankAlias)
        rankNames.prepend(QStringLiteral("rank"));
    parser.addOptions({
        option("world-size", "Processes of a data-parallel group sharing the work (default 1). Under torchrun, WORLD_SIZE, "
               "RANK, MASTER_ADDR and MASTER_PORT stand in for --world-size, --process-rank and --master.", "N", "1"),
        QCommandLineOption(rankNames,
                           QStringLiteral("This process's rank in the group, 0..N-1; rank 0 writes the outputs "
                                          "(default 0)."),
                           QStringLiteral("R"), QStringLiteral("0")),
        option("master", "ADDR:PORT of rank 0's rendezvous store (default 127.0.0.1:29500).", "ADDR:PORT",
               "127.0.0.1:29500"),
        option("launch", "Start N local processes as one data-parallel group over loopback.", "N"),
    });
}

namespace {

// An integer from the environment variable `name` (as torchrun sets it), or -1 when unset.
int environmentInteger(const char *name)
{
    if (!qEnvironmentVariableIsSet(name))
        return -1;
    bool ok = false;
    const int value = qEnvironmentVariable(name).trimmed().toInt(&ok);
    if (!ok || value < 0)
        throw Error(std::string("the environment variable ") + name + " is \"" + qEnvironmentVariable(name).toStdString() +
                    "\", not a non-negative integer");
    return value;
}

} // namespace

GroupPlace groupPlace(const QCommandLineParser &parser)
{
    GroupPlace place;
    place.worldSize = static_cast<int>(integerOption(parser, QStringLiteral("world-size")));
    place.rank = static_cast<int>(integerOption(parser, QStringLiteral("process-rank")));
    place.master = parser.value(QStringLiteral("master")).toStdString();
    const int environmentWorldSize = parser.isSet(QStringLiteral("world-size")) ? -1 : environmentInteger("WORLD_SIZE");
    if (environmentWorldSize >= 0) {
        place.worldSize = environmentWorldSize;
        if (!parser.isSet(QStringLiteral("process-rank"))) {
            place.rank = environmentInteger("RANK");
            if (place.rank < 0)
                throw Error("WORLD_SIZE is set in the environment but RANK is not (set both, as torchrun does, "
                            "or give --world-size and --process-rank)");
        }
        if (!parser.isSet(QStringLiteral("master")) && qEnvironmentVariableIsSet("MASTER_ADDR")) {
            const int port = environmentInteger("MASTER_PORT");
            if (port <= 0)
                throw Error("MASTER_ADDR is set in the environment but MASTER_PORT is not a port number");
            place.master = qEnvironmentVariable("MASTER_ADDR").toStdString() + ":" + std::to_string(port);
        }
    }
    if (place.worldSize < 1)
        throw Error("--world-size expects a positive number of processes");
    if (place.rank < 0 || place.rank >= place.worldSize)
        throw Error("--process-rank " + std::to_string(place.rank) + " is outside the group of " +
                    std::to_string(place.worldSize) + " processes (0.." + std::to_string(place.worldSize - 1) + ")");
    return place;
}

std::unique_ptr<DataParallelGroup> joinGroup(const GroupPlace &place)
{
    if (place.worldSize <= 1)
        return nullptr;
    DataParallelOptions dp;
    dp.worldSize = place.worldSize;
    dp.rank = place.rank;
    dp.master = place.master;
    return std::make_unique<DataParallelGroup>(dp);
}

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

} // namespace nugget::cli
