#include "io/ModelFolderInfo.h"

#include "Error.h"
#include "io/TensorStore.h"
#include "model/LlamaModel.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QFileInfo>

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace nugget {

namespace {

// "model.layers.2.x" before "model.layers.10.x": numeric name parts compare as numbers.
bool naturalLess(const std::string &a, const std::string &b)
{
    const auto pa = QString::fromStdString(a).split(u'.'), pb = QString::fromStdString(b).split(u'.');
    for (qsizetype i = 0; i < std::min(pa.size(), pb.size()); ++i) {
        bool na = false, nb = false;
        const qlonglong ia = pa[i].toLongLong(&na), ib = pb[i].toLongLong(&nb);
        if (na && nb && ia != ib)
            return ia < ib;
        if (!(na && nb) && pa[i] != pb[i])
            return pa[i] < pb[i];
    }
    return pa.size() < pb.size();
}

const std::string kLayerPrefix = "model.layers.";
const std::string kEmbedding = "model.embed_tokens.weight";
const std::string kHead = "lm_head.weight";
const std::string kInvFreq = ".self_attn.rotary_emb.inv_freq";

// The layer a tensor belongs to ("model.layers.7.mlp..." -> 7), -1 for none.
int64_t layerOf(const std::string &name)
{
    if (name.compare(0, kLayerPrefix.size(), kLayerPrefix) != 0)
        return -1;
    const auto end = name.find('.', kLayerPrefix.size());
    bool ok = false;
    const auto layer = QString::fromStdString(name.substr(kLayerPrefix.size(), end - kLayerPrefix.size())).toLongLong(&ok);
    return ok && layer >= 0 ? layer : -1;
}

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string layerRange(int64_t first, int64_t last)
{
    return first == last ? "layer " + std::to_string(first)
                         : "layers " + std::to_string(first) + " to " + std::to_string(last);
}

} // namespace

std::vector<ExpectedTensor> expectedTensors(const ModelConfig &c)
{
    const int64_t h = c.hiddenSize, attention = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim;
    std::vector<ExpectedTensor> tensors{{kEmbedding, {c.vocabSize, h}}};
    for (int64_t l = 0; l < c.numHiddenLayers; ++l) {
        const std::string p = kLayerPrefix + std::to_string(l) + ".";
        tensors.push_back({p + "self_attn.q_proj.weight", {attention, h}});
        if (c.qkvBias)
            tensors.push_back({p + "self_attn.q_proj.bias", {attention}});
        tensors.push_back({p + "self_attn.k_proj.weight", {kv, h}});
        if (c.qkvBias)
            tensors.push_back({p + "self_attn.k_proj.bias", {kv}});
        tensors.push_back({p + "self_attn.v_proj.weight", {kv, h}});
        if (c.qkvBias)
            tensors.push_back({p + "self_attn.v_proj.bias", {kv}});
        tensors.push_back({p + "self_attn.o_proj.weight", {h, attention}});
        if (c.outputBias)
            tensors.push_back({p + "self_attn.o_proj.bias", {h}});
        for (const char *mlp : {"gate_proj", "up_proj"}) {
            tensors.push_back({p + "mlp." + mlp + ".weight", {c.intermediateSize, h}});
            if (c.mlpBias)
                tensors.push_back({p + "mlp." + mlp + ".bias", {c.intermediateSize}});
        }
        tensors.push_back({p + "mlp.down_proj.weight", {h, c.intermediateSize}});
        if (c.mlpBias)
            tensors.push_back({p + "mlp.down_proj.bias", {h}});
        tensors.push_back({p + "input_layernorm.weight", {h}});
        tensors.push_back({p + "post_attention_layernorm.weight", {h}});
    }
    tensors.push_back({"model.norm.weight", {h}});
    if (!c.tieWordEmbeddings)
        tensors.push_back({kHead, {c.vocabSize, h}});
    return tensors;
}

std::vector<std::string> checkpointProblems(const ModelConfig &config, const std::string &configPath,
                                            const TensorStore &store, const std::string &weights)
{
    std::vector<std::string> problems;
    const auto names = store.names();
    const int64_t layers = config.numHiddenLayers;

    // Whole layers missing or in excess are one problem each, not nine.
    std::set<int64_t> storedLayers;
    for (const auto &name : names)
        if (const auto layer = layerOf(name); layer >= 0)
            storedLayers.insert(layer);
    const int64_t storedCount = storedLayers.empty() ? 0 : *storedLayers.rbegin() + 1;
    if (storedCount != layers)
        problems.push_back(configPath + ": num_hidden_layers is " + std::to_string(layers) + " but " + weights +
                           " holds " + (storedLayers.empty() ? std::string("no layers") : layerRange(0, storedCount - 1)));
    for (int64_t l = 0; l < std::min(layers, storedCount); ++l)
        if (!storedLayers.count(l))
            problems.push_back(weights + ": " + layerRange(l, l) + " is missing (none of its tensors is stored)");
    if (store.contains(kEmbedding)) {
        const auto &shape = store.info(kEmbedding).shape;
        if (shape.size() == 2 && shape[0] != config.vocabSize)
            problems.push_back(configPath + ": vocab_size is " + std::to_string(config.vocabSize) + " but the embedding ('" +
                               kEmbedding + "') in " + weights + " has " + std::to_string(shape[0]) + " rows");
    }

    std::set<std::string> expectedNames;
    for (const auto &tensor : expectedTensors(config)) {
        expectedNames.insert(tensor.name);
        const auto layer = layerOf(tensor.name);
        if (layer >= 0 && !storedLayers.count(layer))
            continue;   // reported with its layer
        if (!store.contains(tensor.name)) {
            problems.push_back(weights + ": tensor '" + tensor.name + "' is missing from the checkpoint");
            continue;
        }
        const auto &shape = store.info(tensor.name).shape;
        if (shape != tensor.shape) {
            const bool transposed = shape.size() == 2 && tensor.shape.size() == 2 && shape[0] == tensor.shape[1] &&
                                    shape[1] == tensor.shape[0];
            problems.push_back(weights + ": tensor '" + tensor.name + "' has shape " + shapeText(shape) +
                               " but config.json implies " + shapeText(tensor.shape) +
                               (transposed ? " (it is stored transposed)" : ""));
        }
    }
    for (const auto &name : names) {
        if (expectedNames.count(name))
            continue;
        const auto layer = layerOf(name);
        if (layer >= layers)
            continue;   // reported with the layer count
        const auto &shape = store.info(name).shape;
        if (config.tieWordEmbeddings && name == kHead) {
            const std::vector<int64_t> embedding{config.vocabSize, config.hiddenSize};
            if (shape != embedding)
                problems.push_back(weights + ": tensor '" + name + "' has shape " + shapeText(shape) +
                                   " but the tied embedding of config.json is " + shapeText(embedding));
        } else if (layer >= 0 && endsWith(name, kInvFreq) && name == kLayerPrefix + std::to_string(layer) + kInvFreq) {
            const std::vector<int64_t> frequencies{config.headDim / 2};
            if (shape != frequencies)
                problems.push_back(weights + ": tensor '" + name + "' has shape " + shapeText(shape) +
                                   " but config.json implies " + shapeText(frequencies));
        } else {
            problems.push_back(weights + ": tensor '" + name + "' is not used by the model " + configPath +
                               " describes");
        }
    }
    return problems;
}

std::string tensorValueProblem(const ModelConfig &config, const TensorStore &store, const std::string &name,
                               const at::Tensor &stored, const std::string &weights)
{
    torch::NoGradGuard noGrad;
    if (stored.is_floating_point() && !at::isfinite(stored).all().item<bool>())
        return weights + ": tensor '" + name + "' contains NaN or infinite values";
    if (config.tieWordEmbeddings && name == kHead && store.contains(kEmbedding)) {
        const auto embedding = store.tensor(kEmbedding);
        const bool same = embedding.sizes() == stored.sizes() && at::equal(embedding.to(at::kFloat), stored.to(at::kFloat));
        if (!same)
            return weights + ": tensor '" + name + "' differs from '" + kEmbedding +
                   "' but config.json ties them (tie_word_embeddings true): the model would not use it";
    }
    if (endsWith(name, kInvFreq) && stored.dim() == 1 && stored.size(0) == config.headDim / 2) {
        // The frequencies the model computes for its context (as transformers stored them).
        const auto frequencies = rotaryInverseFrequencies(config, config.maxPositionEmbeddings).to(at::kDouble);
        // Stored in the checkpoint's dtype: bfloat16 keeps 8 significant bits.
        if (!at::allclose(stored.to(at::kDouble), frequencies, 1e-2, 0))
            return weights + ": tensor '" + name + "' holds other rotary frequencies than the RoPE of config.json (" +
                   config.ropeType + ", rope_theta " + QString::number(config.ropeTheta).toStdString() +
                   ") implies";
    }
    return {};
}

std::vector<std::string> checkpointValueProblems(const ModelConfig &config, const TensorStore &store,
                                                 const std::string &weights)
{
    std::vector<std::string> problems;
    for (const auto &name : store.names()) {
        const auto stored = store.tensor(name);
        if (auto problem = tensorValueProblem(config, store, name, stored, weights); !problem.empty())
            problems.push_back(std::move(problem));
        releaseMappedPages(stored);
    }
    return problems;
}

std::string tokenizerProblem(const ModelConfig &config, const std::string &dir)
{
    const auto path = QDir(QString::fromStdString(dir)).filePath(QStringLiteral("tokenizer.model")).toStdString();
    if (!QFileInfo::exists(QString::fromStdString(path)))
        return dir + ": no tokenizer.model (the workbench reads every task with the model's tokenizer)";
    try {
        const auto tokenizer = Tokenizer::load(path);
        if (tokenizer->vocabSize() > config.vocabSize)
            return path + ": the tokenizer has " + std::to_string(tokenizer->vocabSize()) +
                   " pieces but vocab_size in config.json is " + std::to_string(config.vocabSize);
    } catch (const Error &e) {
        return e.what();
    }
    return {};
}

void throwProblems(const std::vector<std::string> &problems)
{
    if (problems.empty())
        return;
    std::string message;
    for (const auto &problem : problems)
        message += (message.empty() ? "" : "\n") + problem;
    throw Error(message);
}

std::string weightsName(const TensorStore &store, const std::string &dir)
{
    const auto files = store.files();
    return files.size() == 1 ? files.front() : dir;
}

ModelFolderInfo ModelFolderInfo::read(const std::string &dir, Values values)
{
    const QDir folder(QString::fromStdString(dir));
    if (!folder.exists())
        throw Error(dir + ": no such model folder");
    const QString configPath = folder.filePath(QStringLiteral("config.json"));
    if (!QFileInfo::exists(configPath))
        throw Error(dir + ": not a model folder (no config.json)");

    ModelFolderInfo info;
    info.folder = folder.absolutePath().toStdString();
    info.config = ModelConfig::fromJsonFile(configPath.toStdString());
    const auto store = TensorStore::openFolder(dir);
    for (const auto &name : store.names()) {
        info.tensors.push_back(store.info(name));
        info.storedElements += info.tensors.back().numel();
        info.storedBytes += static_cast<int64_t>(info.tensors.back().byteSize());
    }
    std::sort(info.tensors.begin(), info.tensors.end(),
              [](const TensorInfo &a, const TensorInfo &b) { return naturalLess(a.name, b.name); });
    auto addFile = [&](const QString &path) {
        const QFileInfo file(path);
        info.files.push_back({file.fileName().toStdString(), file.size()});
    };
    addFile(configPath);
    for (const auto &file : store.files())
        addFile(QString::fromStdString(file));
    const QString tokenizer = folder.filePath(QStringLiteral("tokenizer.model"));
    info.hasTokenizer = QFileInfo::exists(tokenizer);
    if (info.hasTokenizer)
        addFile(tokenizer);

    const auto weights = weightsName(store, dir);
    info.problems = checkpointProblems(info.config, configPath.toStdString(), store, weights);
    if (values == Values::Checked)
        for (auto &problem : checkpointValueProblems(info.config, store, weights))
            info.problems.push_back(std::move(problem));
    if (auto problem = tokenizerProblem(info.config, dir); !problem.empty())
        info.problems.push_back(std::move(problem));
    return info;
}

std::string shapeText(const std::vector<int64_t> &shape)
{
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

std::string byteSizeText(double bytes)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, unit ? "%.2f %s" : "%.0f %s", bytes, units[unit]);
    return buffer;
}

} // namespace nugget
