#include "transfer/StreamedSensitivity.h"

#include "Error.h"
#include "bench/MachineLimits.h"
#include "io/Session.h"
#include "io/ModelFolderInfo.h"
#include "model/LlamaModel.h"
#include "transfer/ScoreAccumulation.h"

#include <QDir>
#include <QTemporaryFile>

#include <torch/torch.h>

#include <cmath>

namespace nugget {

namespace {

// Hidden states (or their gradients) by key, in RAM or appended to a temporary file.
class ActivationStore
{
public:
    ActivationStore(bool toFile, const std::string &dir, const char *what) : m_what(what)
    {
        if (!toFile)
            return;
        const QString folder = dir.empty() ? QDir::tempPath() : QString::fromStdString(dir);
        m_file = std::make_unique<QTemporaryFile>(QDir(folder).filePath(QStringLiteral("nugget-activations-XXXXXX")));
        if (!m_file->open())
            throw Error(folder.toStdString() + ": cannot create a temporary file for the " + m_what + ": " +
                        m_file->errorString().toStdString());
    }

    // Values keep their dtype: bfloat16 compute halves the activation memory too.
    void put(int64_t key, const at::Tensor &value)
    {
        const auto cpu = value.detach().to(at::kCPU).contiguous();
        if (!m_file) {
            m_ram[key] = cpu;
            return;
        }
        const qint64 offset = m_file->size();
        if (!m_file->seek(offset) ||
            m_file->write(static_cast<const char *>(cpu.data_ptr()), static_cast<qint64>(cpu.nbytes())) !=
                static_cast<qint64>(cpu.nbytes()))
            throw Error(m_file->fileName().toStdString() + ": cannot write the " + m_what + ": " +
                        m_file->errorString().toStdString());
        m_entries[key] = {offset, {cpu.sizes().vec(), cpu.scalar_type()}};
    }

    // The value; `release` frees it when held in RAM (read for the last time).
    at::Tensor get(int64_t key, bool release)
    {
        if (!m_file) {
            const auto found = m_ram.find(key);
            if (found == m_ram.end())
                throw Error("internal error: missing " + m_what);
            auto value = found->second;
            if (release)
                m_ram.erase(found);
            return value;
        }
        const auto found = m_entries.find(key);
        if (found == m_entries.end())
            throw Error("internal error: missing " + m_what);
        auto value = at::empty(found->second.second.first, found->second.second.second);
        const auto bytes = static_cast<qint64>(value.nbytes());
        if (!m_file->seek(found->second.first) || m_file->read(static_cast<char *>(value.data_ptr()), bytes) != bytes)
            throw Error(m_file->fileName().toStdString() + ": cannot read back the " + m_what + ": " +
                        m_file->errorString().toStdString());
        return value;
    }

private:
    std::string m_what;
    std::unique_ptr<QTemporaryFile> m_file;
    std::map<int64_t, at::Tensor> m_ram;
    std::map<int64_t, std::pair<qint64, std::pair<std::vector<int64_t>, at::ScalarType>>> m_entries;
};

std::vector<SeedTensors> prepareSamples(const std::vector<SeedSample> &samples, int64_t context)
{
    std::vector<SeedTensors> prepared;
    for (size_t index = 0; index < samples.size(); ++index)
        prepared.push_back(seedTensors(samples[index], index, context));
    return prepared;
}

// Scores are float32 whatever the compute dtype (`weight` and `grad` may be bfloat16).
at::Tensor metricOf(SensitivityMetric metric, const at::Tensor &weight, const at::Tensor &grad)
{
    const auto g = grad.to(at::kFloat);
    return metric == SensitivityMetric::Taylor ? (weight.to(at::kFloat) * g).abs_() : g.square();
}

// Throws Error naming the checkpoint when `stored` holds NaN or infinite values: the
// streamed pass reads each weight once, so it checks what loading checks as it goes.
void requireFinite(const TensorStore &weights, const std::string &name, const at::Tensor &stored)
{
    if (!stored.is_floating_point() || at::isfinite(stored).all().item<bool>())
        return;
    const auto files = weights.files();
    const std::string where = files.size() == 1 ? files.front() : "the checkpoint";
    throw Error(where + ": tensor '" + name + "' contains NaN or infinite values");
}

// The stored tensor `name`, checked against the shape the config implies and for
// non-finite values.
at::Tensor storedTensor(const TensorStore &weights, const std::string &name, at::IntArrayRef shape)
{
    if (!weights.contains(name))
        throw Error("tensor '" + name + "' is missing from the checkpoint");
    auto stored = weights.tensor(name);
    if (stored.sizes() != shape)
        throw Error("tensor '" + name + "' has shape " + shapeText(stored.sizes().vec()) + " but config.json implies " +
                    shapeText(shape.vec()));
    requireFinite(weights, name, stored);
    return stored;
}

// Copies one decoder layer's weights from the mapped checkpoint into `layer`.
void loadLayer(LlamaDecoderLayerImpl &layer, const TensorStore &weights, int64_t index)
{
    torch::NoGradGuard noGrad;
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    for (auto &item : layer.named_parameters()) {
        const auto stored = storedTensor(weights, prefix + item.key(), item.value().sizes());
        item.value().copy_(stored);
        releaseMappedPages(stored);
    }
}

std::vector<std::string> parameterNames(const ModelConfig &config)
{
    std::vector<std::string> names{"model.embed_tokens.weight"};
    LlamaDecoderLayerImpl layer(config);
    for (int64_t i = 0; i < config.numHiddenLayers; ++i)
        for (const auto &item : layer.named_parameters())
            names.push_back("model.layers." + std::to_string(i) + "." + item.key());
    names.push_back("model.norm.weight");
    if (!config.tieWordEmbeddings)
        names.push_back("lm_head.weight");
    return names;
}

} // namespace

StreamedSensitivityResult computeStreamedSensitivity(const ModelConfig &config, const TensorStore &weights,
                                                     const std::vector<SeedSample> &samples,
                                                     const StreamedSensitivityOptions &options, Progress &progress,
                                                     const ScoreSink &sink)
{
    const int64_t layers = config.numHiddenLayers, hidden = config.hiddenSize, vocab = config.vocabSize;
    if (options.computeDtype != at::kFloat && options.computeDtype != at::kBFloat16)
        throw Error(std::string("streamed sensitivity computes in float32 or bfloat16, not ") +
                    c10::toString(options.computeDtype));
    // Scores (and the embedding's row gradients) in float32; weights and hidden states
    // in the compute dtype.
    const auto compute = at::TensorOptions().dtype(at::kFloat).device(options.device);
    const auto activation = compute.dtype(options.computeDtype);
    StreamedSensitivityResult result;
    result.layerModuleTotals = torch::zeros({layers, static_cast<int64_t>(layerModuleNames().size())}, torch::kDouble);
    // Every completed parameter passes here: summed over the group, counted, handed on.
    // Magnitudes need no samples: every rank has the whole result already.
    auto emit = [&](const std::string &name, at::Tensor scores) {
        if (options.allReduce && options.metric != SensitivityMetric::Magnitude)
            options.allReduce(scores);
        SensitivityMap one;
        one.scores[name] = scores;
        result.layerModuleTotals += one.layerModuleTotals(layers);
        for (const auto &[outside, total] : one.outsideLayerTotals())
            result.outsideLayerTotals[outside] = total;
        sink(name, scores);
    };

    if (options.metric == SensitivityMetric::Magnitude) {
        const auto names = parameterNames(config);
        for (size_t i = 0; i < names.size(); ++i) {
            progress.checkCancelled();
            if (!weights.contains(names[i]))
                throw Error("tensor '" + names[i] + "' is missing from the checkpoint");
            const auto stored = weights.tensor(names[i]);
            requireFinite(weights, names[i], stored);
            emit(names[i], stored.to(compute, false, /*copy=*/true).abs_());
            releaseMappedPages(stored);
            progress.report(static_cast<double>(i + 1) / static_cast<double>(names.size()), names[i]);
        }
        return result;
    }
    if (samples.empty())
        throw Error("sensitivity needs at least one seed sample");

    const int64_t context =
        options.maxLength > 0 ? std::min(options.maxLength, config.maxPositionEmbeddings) : config.maxPositionEmbeddings;
    const auto prepared = prepareSamples(samples, context);
    const auto count = static_cast<int64_t>(prepared.size());
    result.samples = count;
    if (options.allReduce) {
        auto total = torch::tensor({static_cast<double>(count)}, at::TensorOptions().dtype(at::kDouble).device(options.device));
        options.allReduce(total);
        result.samples = static_cast<int64_t>(std::llround(total.item<double>()));
    }

    int64_t tokens = 0;
    for (const auto &sample : prepared)
        tokens += sample.ids.size(1);
    // Inputs of every layer plus the head's, and as many gradients at most.
    const int64_t activationBytes =
        2 * (layers + 1) * tokens * hidden * static_cast<int64_t>(c10::elementSize(options.computeDtype));
    result.spilled = activationBytes > options.inMemoryActivationBytes;
    ActivationStore states(result.spilled, options.scratchDir, "hidden states");
    ActivationStore gradients(result.spilled, options.scratchDir, "hidden-state gradients");
    auto key = [count](int64_t layer, int64_t sample) { return layer * count + sample; };

    const double units = static_cast<double>(count * (2 * layers + 3));
    int64_t done = 0;
    auto step = [&](const std::string &message) {
        progress.report(static_cast<double>(++done) / units, message);
    };

    const RotaryEmbedding rotary(config);
    auto rotation = [&](int64_t time) { return rotary.cosSin(0, time, activation); };

    const auto embedding = storedTensor(weights, "model.embed_tokens.weight", {vocab, hidden});
    torch::AutoGradMode gradMode(true);   // grad mode is thread-local: a worker thread may have it off

    // 1. Forward: embedding, then each layer over all samples, saving each layer's input.
    {
        torch::NoGradGuard noGrad;
        for (int64_t s = 0; s < count; ++s) {
            progress.checkCancelled();
            states.put(key(0, s), embedding.index_select(0, prepared[s].ids.flatten()).unsqueeze(0).to(options.computeDtype));
            step("embedding, sample " + std::to_string(s + 1));
        }
    }
    LlamaDecoderLayer layer(config);
    layer->to(options.device, options.computeDtype);
    layer->eval();
    for (int64_t l = 0; l < layers; ++l) {
        loadLayer(*layer, weights, l);
        torch::NoGradGuard noGrad;
        for (int64_t s = 0; s < count; ++s) {
            progress.checkCancelled();
            const auto x = states.get(key(l, s), false).to(activation);   // kept for the backward
            const auto [cos, sin] = rotation(x.size(1));
            states.put(key(l + 1, s), layer->forward(x, cos, sin, nullptr, nullptr));
            step("forward, layer " + std::to_string(l + 1) + "/" + std::to_string(layers));
        }
    }

    // 2. The head: final norm and lm_head (the embedding when tied).
    const bool tied = config.tieWordEmbeddings;
    at::Tensor embeddingScores;                  // tied: the head's share, completed in step 4
    std::vector<at::Tensor> headRowGradients;    // tied: the head's gradient on each sample's token rows
    std::vector<std::pair<at::Tensor, at::Tensor>> uniqueTokens;   // per sample: unique ids, inverse
    for (const auto &sample : prepared) {
        const auto [unique, inverse, counts] = at::_unique2(sample.ids.flatten(), true, true, false);
        uniqueTokens.emplace_back(unique, inverse);
    }
    {
        RMSNorm norm(hidden, config.rmsNormEps);
        norm->to(options.device, options.computeDtype);
        const auto headName = tied ? std::string("model.embed_tokens.weight") : std::string("lm_head.weight");
        const auto storedHead = storedTensor(weights, headName, {vocab, hidden});
        auto head = storedHead.to(activation, false, /*copy=*/true).requires_grad_(true);
        releaseMappedPages(storedHead);
        {
            torch::NoGradGuard noGrad;
            norm->weight.copy_(storedTensor(weights, "model.norm.weight", {hidden}));
        }
        auto headScores = torch::zeros_like(head, compute);
        auto normScores = torch::zeros_like(norm->weight, compute);
        for (int64_t s = 0; s < count; ++s) {
            progress.checkCancelled();
            const auto x = states.get(key(layers, s), true).to(activation).requires_grad_(true);
            const auto loss = causalLmLoss(at::linear(norm->forward(x), head), prepared[s].labels);
            const double lossValue = loss.item<double>();
            if (!std::isfinite(lossValue))
                throw Error("the loss of seed sample " + std::to_string(s + 1) + " is not finite");
            result.losses.push_back(lossValue);
            loss.backward();
            torch::NoGradGuard noGrad;
            if (tied)   // before the gradient is consumed below
                headRowGradients.push_back(
                    head.grad().index_select(0, uniqueTokens[s].first.to(options.device)).to(at::kFloat, false, true));
            accumulateScores(headScores, options.metric, head.detach(), head.mutable_grad());
            accumulateScores(normScores, options.metric, norm->weight.detach(), norm->weight.mutable_grad());
            head.mutable_grad().reset();
            norm->weight.mutable_grad().reset();
            gradients.put(key(layers, s), x.grad());
            step("head, sample " + std::to_string(s + 1));
        }
        if (tied)
            embeddingScores = headScores;
        else
            emit("lm_head.weight", headScores);
        emit("model.norm.weight", normScores);
    }

    // 3. Decoder layers from the top: recompute forward from the saved input, backward.
    for (int64_t l = layers - 1; l >= 0; --l) {
        loadLayer(*layer, weights, l);
        std::vector<std::pair<std::string, at::Tensor>> parameters;
        std::vector<at::Tensor> scores;
        for (auto &item : layer->named_parameters()) {
            item.value().set_requires_grad(true);
            parameters.emplace_back(item.key(), item.value());
            scores.push_back(torch::zeros_like(item.value(), compute));
        }
        for (int64_t s = 0; s < count; ++s) {
            progress.checkCancelled();
            const auto x = states.get(key(l, s), true).to(activation).requires_grad_(true);
            const auto [cos, sin] = rotation(x.size(1));
            const auto y = layer->forward(x, cos, sin, nullptr, nullptr);
            y.backward(gradients.get(key(l + 1, s), true).to(activation));
            torch::NoGradGuard noGrad;
            for (size_t p = 0; p < parameters.size(); ++p) {
                auto &parameter = parameters[p].second;
                accumulateScores(scores[p], options.metric, parameter.detach(), parameter.mutable_grad());
                parameter.mutable_grad().reset();
            }
            gradients.put(key(l, s), x.grad());
            step("backward, layer " + std::to_string(l + 1) + "/" + std::to_string(layers));
        }
        for (size_t p = 0; p < parameters.size(); ++p)
            emit("model.layers." + std::to_string(l) + "." + parameters[p].first, scores[p]);
    }

    // 4. The embedding: its gradient lives only on the rows of each sample's tokens.
    {
        torch::NoGradGuard noGrad;
        if (!embeddingScores.defined())
            embeddingScores = torch::zeros({vocab, hidden}, compute);
        for (int64_t s = 0; s < count; ++s) {
            progress.checkCancelled();
            const auto &[unique, inverse] = uniqueTokens[s];
            const auto rowsIndex = unique.to(options.device);
            const auto rows = embedding.index_select(0, unique).to(compute);
            const auto g = gradients.get(key(0, s), true).to(compute).reshape({-1, hidden});
            auto rowGradient = torch::zeros({unique.size(0), hidden}, compute).index_add_(0, inverse.to(options.device), g);
            if (tied) {
                // Replace the head's share on these rows by the score of the summed gradient.
                embeddingScores.index_add_(0, rowsIndex, -metricOf(options.metric, rows, headRowGradients[s]));
                rowGradient += headRowGradients[s];
            }
            embeddingScores.index_add_(0, rowsIndex, metricOf(options.metric, rows, rowGradient));
            step("embedding, sample " + std::to_string(s + 1));
        }
        if (tied)
            embeddingScores.clamp_min_(0);   // the subtraction may leave rounding below zero
        emit("model.embed_tokens.weight", embeddingScores);
    }
    return result;
}

void streamedLayerStates(const ModelConfig &config, const TensorStore &weights, const std::vector<SeedSample> &samples,
                         int64_t maxTokens, at::Device device, at::ScalarType computeDtype, Progress &progress,
                         const std::function<void(int64_t, const at::Tensor &)> &onLayer)
{
    torch::NoGradGuard noGrad;
    const auto activation = at::TensorOptions().dtype(computeDtype).device(device);
    const auto embedding = storedTensor(weights, "model.embed_tokens.weight", {config.vocabSize, config.hiddenSize});
    // The same tokens as layerStates(): whole samples in order, the last one cut short.
    std::vector<at::Tensor> states;
    int64_t tokens = 0;
    for (const auto &sample : samples) {
        progress.checkCancelled();
        const int64_t take = std::min<int64_t>(static_cast<int64_t>(sample.inputIds.size()), maxTokens - tokens);
        if (take <= 0)
            break;
        if (take > config.maxPositionEmbeddings)
            throw Error("sequence of " + std::to_string(take) + " tokens exceeds the model's context of " +
                        std::to_string(config.maxPositionEmbeddings));
        const auto ids = torch::tensor(std::vector<int64_t>(sample.inputIds.begin(), sample.inputIds.begin() + take),
                                       torch::kLong);
        states.push_back(embedding.index_select(0, ids).unsqueeze(0).to(activation));
        tokens += take;
    }
    const RotaryEmbedding rotary(config);
    LlamaDecoderLayer layer(config);
    layer->to(device, computeDtype);
    layer->eval();
    for (int64_t l = 0; l < config.numHiddenLayers; ++l) {
        progress.checkCancelled();
        loadLayer(*layer, weights, l);
        std::vector<at::Tensor> outputs;
        for (auto &x : states) {
            progress.checkCancelled();
            const auto [cos, sin] = rotary.cosSin(0, x.size(1), activation);
            x = layer->forward(x, cos, sin, nullptr, nullptr);
            outputs.push_back(x[0].to(at::kCPU, at::kFloat));
        }
        onLayer(l, outputs.empty() ? torch::zeros({0, config.hiddenSize}) : torch::cat(outputs, 0));
        progress.report(double(l + 1) / double(config.numHiddenLayers),
                        "layer " + std::to_string(l + 1) + "/" + std::to_string(config.numHiddenLayers));
    }
}

at::ScalarType parseComputeDtype(const std::string &text, at::Device device)
{
    const std::string name = text == "fp32" ? "float32" : text == "bf16" ? "bfloat16" : text;
    switch (computeDtypes().parse(name)) {
    case ComputeDtype::Float32: return at::kFloat;
    case ComputeDtype::BFloat16: return at::kBFloat16;
    case ComputeDtype::Auto: break;
    }
    return fastestComputeDtype(device);
}

std::string computeDtypeName(at::ScalarType dtype)
{
    if (dtype == at::kHalf)
        return "float16";
    return computeDtypes().name(dtype == at::kBFloat16 ? ComputeDtype::BFloat16 : ComputeDtype::Float32);
}

at::ScalarType defaultComputeDtype(const ModelConfig &config, at::Device device)
{
    return tooLargeForMemory(config) ? fastestComputeDtype(device) : at::kFloat;
}

Session::ScoreStorage defaultScoreStorage(const ModelConfig &config)
{
    return tooLargeForMemory(config) ? Session::ScoreStorage::Float16 : Session::ScoreStorage::Float32;
}

StreamedSensitivityResult storeStreamedSensitivity(Session *session, Side side,
                                                   const std::string &folder, const std::vector<SeedSample> &samples,
                                                   const StreamedSensitivityOptions &options, Progress &progress,
                                                   Session::ScoreStorage storage)
{
    const auto config = ModelConfig::fromJsonFile(QDir(QString::fromStdString(folder)).filePath(QStringLiteral("config.json")).toStdString());
    const auto weights = TensorStore::openFolder(folder);
    StreamedSensitivityResult result;
    try {
        result = computeStreamedSensitivity(config, weights, samples, options, progress,
                                            [&](const std::string &name, const at::Tensor &scores) {
                                                if (session)
                                                    session->writeSensitivity(side, name, scores, storage);
                                            });
    } catch (const c10::Error &e) {
        throw Error(folder + ": streamed sensitivity failed: " + e.what_without_backtrace());
    }
    if (session) {
        session->setSensitivityInfo(side, sensitivityMetricName(options.metric), result.samples,
                                    computeDtypeName(options.computeDtype));
        session->writeLayerTotals(side, result.layerModuleTotals, layerModuleNames());
    }
    return result;
}

} // namespace nugget
