#include "BenchCheckpoint.h"
#include "CommandLine.h"
#include "Commands.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/AtomicFolder.h"
#include "io/Safetensors.h"
#include "model/LlamaModel.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <chrono>
#include <fstream>

namespace nugget::cli {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peakResidentGiB()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stod(line.substr(6)) / (1024.0 * 1024.0);
    return 0;
}

void resetPeakResident()
{
    std::ofstream("/proc/self/clear_refs") << "5";
}

ModelConfig llamaShape(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads)
{
    ModelConfig c;
    c.hiddenSize = hidden;
    c.intermediateSize = intermediate;
    c.numHiddenLayers = layers;
    c.numAttentionHeads = heads;
    c.numKeyValueHeads = heads;
    c.headDim = hidden / heads;
    c.vocabSize = 32000;
    c.maxPositionEmbeddings = 4096;
    c.rmsNormEps = 1e-5;
    c.torchDtype = "bfloat16";
    return c;
}

void writeRandomCheckpoint(const ModelConfig &config, const std::string &dir, Progress &progress)
{
    QDir().mkpath(QString::fromStdString(dir));
    config.saveJsonFile(dir + "/config.json");
    const int64_t shards = config.numHiddenLayers + 1;
    auto shardName = [&](int64_t i) {
        return QStringLiteral("model-%1-of-%2.safetensors").arg(i + 1, 5, 10, QLatin1Char('0')).arg(shards, 5, 10, QLatin1Char('0')).toStdString();
    };
    auto random = [](at::IntArrayRef shape) { return (at::randn(shape) * 0.02).to(at::kBFloat16); };
    QJsonObject weightMap;
    const int64_t h = config.hiddenSize, v = config.vocabSize;
    LlamaDecoderLayerImpl shapes(config);
    for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer) {
        progress.checkCancelled();
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto &item : shapes.named_parameters()) {
            const auto name = "model.layers." + std::to_string(layer) + "." + item.key();
            tensors.emplace_back(name, item.key().find("norm") != std::string::npos
                                           ? at::ones(item.value().sizes(), at::kBFloat16)
                                           : random(item.value().sizes()));
            weightMap[QString::fromStdString(name)] = QString::fromStdString(shardName(layer));
        }
        writeSafetensors(dir + "/" + shardName(layer), tensors, {{"format", "pt"}});
        progress.report(static_cast<double>(layer + 1) / static_cast<double>(shards), "writing layer " + std::to_string(layer));
    }
    std::vector<std::pair<std::string, at::Tensor>> rest{{"model.embed_tokens.weight", random({v, h})},
                                                          {"model.norm.weight", at::ones({h}, at::kBFloat16)},
                                                          {"lm_head.weight", random({v, h})}};
    for (const auto &[name, tensor] : rest)
        weightMap[QString::fromStdString(name)] = QString::fromStdString(shardName(shards - 1));
    writeSafetensors(dir + "/" + shardName(shards - 1), rest, {{"format", "pt"}});
    writeFileAtomically(dir + "/model.safetensors.index.json",
                        QJsonDocument(QJsonObject{{QStringLiteral("metadata"), QJsonObject{}},
                                                  {QStringLiteral("weight_map"), weightMap}})
                            .toJson());
    progress.report(1.0, "checkpoint written");
}

ScratchFolder::ScratchFolder(const std::string &dir, bool keep) : m_dir(dir), m_keep(keep)
{
    if (QFileInfo::exists(QString::fromStdString(dir)))
        throw Error(dir + ": already exists; give another --dir (the benchmark deletes what it writes)");
}

ScratchFolder::~ScratchFolder()
{
    if (!m_keep)
        QDir(QString::fromStdString(m_dir)).removeRecursively();
}

int benchCheckpoint(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("checkpoint"), QStringLiteral("the generator"));
    parser.addOptions({
        {QStringLiteral("shape"), QStringLiteral("7b or 13b: LLaMA-2's shapes (default 13b)."), QStringLiteral("SHAPE"),
         QStringLiteral("13b")},
        {QStringLiteral("layers"), QStringLiteral("Decoder layers (default: the shape's 32 or 40)."), QStringLiteral("N")},
        {QStringLiteral("tokenizer"), QStringLiteral("A tokenizer.model to copy into the folder (32000 pieces, as "
                                                     "LLaMA-2's)."),
         QStringLiteral("FILE")},
        {QStringLiteral("out"), QStringLiteral("The model folder to create (must not exist)."), QStringLiteral("DIR")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Writes a LLaMA-2 7B- or 13B-shaped model folder of random bf16 weights, sharded as "
                               "Hugging Face shards large models, for runs of the real commands at scale."));
    const auto shape = parser.value(QStringLiteral("shape"));
    if (shape != QLatin1String("7b") && shape != QLatin1String("13b"))
        throw Error("--shape is \"" + shape.toStdString() + "\"; expected 7b or 13b");
    const bool large = shape == QLatin1String("13b");
    const int64_t layers = parser.isSet(QStringLiteral("layers")) ? integerOption(parser, QStringLiteral("layers"))
                                                                  : (large ? 40 : 32);
    if (layers < 1)
        throw Error("--layers must be at least 1");
    const auto out = parser.value(QStringLiteral("out")).toStdString();
    if (out.empty())
        throw Error("missing --out (see --help)");
    if (QFileInfo::exists(QString::fromStdString(out)))
        throw Error(out + ": already exists; give a new folder");
    const auto tokenizer = parser.value(QStringLiteral("tokenizer"));
    if (!tokenizer.isEmpty() && !QFileInfo::exists(tokenizer))
        throw Error(tokenizer.toStdString() + ": no such tokenizer file");
    const auto config = large ? llamaShape(5120, 13824, layers, 40) : llamaShape(4096, 11008, layers, 32);
    auto progress = consoleProgress();
    // Written as a unit: an interrupted run leaves no folder that looks complete.
    writeFolderAtomically(out, {}, [&](const std::string &staging) {
        writeRandomCheckpoint(config, staging, progress);
        if (!tokenizer.isEmpty() &&
            !QFile::copy(tokenizer, QDir(QString::fromStdString(staging)).filePath(QStringLiteral("tokenizer.model"))))
            throw Error(staging + ": cannot copy the tokenizer " + tokenizer.toStdString());
    });
    std::printf("%s: %s shape with %lld layers, %.2f B parameters of random bf16 weights\n", out.c_str(),
                large ? "LLaMA-2 13B" : "LLaMA-2 7B", static_cast<long long>(layers),
                static_cast<double>(config.parameterCount()) / 1e9);
    return 0;
}

} // namespace nugget::cli
