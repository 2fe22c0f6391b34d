#include "io/ModelConfig.h"

#include "io/JsonText.h"

#include "Error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>
#include <QSaveFile>
#include <QString>

#include <cmath>
#include <vector>

namespace nugget {

namespace {

constexpr int64_t kMaxSize = int64_t(1) << 20;   // no sane LLaMA dimension exceeds this

class Reader
{
public:
    // `prefix` names an object nested in config.json in messages ("rope_parameters.").
    Reader(const QJsonObject &json, const std::string &source, std::string prefix = {})
        : m_json(json), m_where(source + ": "), m_prefix(std::move(prefix))
    {
    }

    QJsonValue value(const char *key) const { return m_json.value(QLatin1String(key)); }
    const std::string &where() const { return m_where; }

    bool has(const char *key) const
    {
        const QJsonValue v = m_json.value(QLatin1String(key));
        return !v.isUndefined() && !v.isNull();
    }

    [[noreturn]] void missing(const char *key) const
    {
        throw Error(m_where + "missing key '" + m_prefix + key + "'");
    }

    [[noreturn]] void wrongType(const char *key, const char *expected, const QJsonValue &v) const
    {
        throw Error(m_where + "key '" + m_prefix + key + "' must be " + expected + ", found " +
                    jsonTypeName(v));
    }

    int64_t integer(const char *key) const
    {
        const QJsonValue v = m_json.value(QLatin1String(key));
        if (v.isUndefined())
            missing(key);
        return toInteger(key, v);
    }

    int64_t integer(const char *key, int64_t fallback) const
    {
        return has(key) ? toInteger(key, m_json.value(QLatin1String(key))) : fallback;
    }

    double number(const char *key) const
    {
        if (!has(key))
            missing(key);
        return number(key, 0.0);
    }

    double number(const char *key, double fallback) const
    {
        if (!has(key))
            return fallback;
        const QJsonValue v = m_json.value(QLatin1String(key));
        if (!v.isDouble())
            wrongType(key, "a number", v);
        return v.toDouble();
    }

    bool boolean(const char *key, bool fallback) const
    {
        if (!has(key))
            return fallback;
        const QJsonValue v = m_json.value(QLatin1String(key));
        if (!v.isBool())
            wrongType(key, "true or false", v);
        return v.toBool();
    }

    std::string string(const char *key, const std::string &fallback) const
    {
        if (!has(key))
            return fallback;
        const QJsonValue v = m_json.value(QLatin1String(key));
        if (!v.isString())
            wrongType(key, "a string", v);
        return v.toString().toStdString();
    }

    int64_t toInteger(const char *key, const QJsonValue &v) const
    {
        if (!v.isDouble())
            wrongType(key, "an integer", v);
        const double d = v.toDouble();
        if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
            throw Error(m_where + "key '" + m_prefix + key + "' must be an integer, found " +
                        QString::number(d).toStdString());
        return static_cast<int64_t>(d);
    }

private:
    const QJsonObject &m_json;
    std::string m_where;
    std::string m_prefix;
};

} // namespace

namespace {

// The architectures implemented, with what transformers assumes for keys left out.
struct Family
{
    const char *architecture;
    const char *modelType;
    int64_t maxPositionEmbeddings;
    int64_t keyValueHeads;   // 0: num_attention_heads
};

const Family kFamilies[] = {
    {"LlamaForCausalLM", "llama", 2048, 0},
    {"MistralForCausalLM", "mistral", 4096 * 32, 8},
    {"Qwen2ForCausalLM", "qwen2", 32768, 32},
};

// model_type decides, as it does for transformers' Auto classes; without a known one,
// the first known name in architectures.
const Family *familyOf(const QJsonObject &json, const std::string &where)
{
    const QJsonValue modelType = json.value(QStringLiteral("model_type"));
    for (const auto &family : kFamilies)
        if (modelType.toString() == QLatin1String(family.modelType))
            return &family;
    std::string found;
    const QJsonValue architectures = json.value(QStringLiteral("architectures"));
    for (const QJsonValue &a : architectures.toArray()) {
        for (const auto &family : kFamilies)
            if (a.toString() == QLatin1String(family.architecture))
                return &family;
        if (found.empty() && a.isString())
            found = a.toString().toStdString();
    }
    if (found.empty() && modelType.isString())
        found = "model_type " + modelType.toString().toStdString();
    if (found.empty())
        found = "none given";
    throw Error(where + "unsupported architecture '" + found +
                "'; only LLaMA-family models are supported (LlamaForCausalLM, MistralForCausalLM, "
                "Qwen2ForCausalLM; model_type \"llama\", \"mistral\" or \"qwen2\")");
}

std::string numberText(double value)
{
    return QString::number(value, 'g', 10).toStdString();
}

// RoPE from rope_parameters (transformers 5: rope_theta inside) or rope_theta beside
// rope_scaling (transformers 4), read as transformers reads them: a non-empty
// rope_scaling wins over rope_parameters, a rope_theta inside over the one beside.
void readRope(const Reader &r, const std::string &source, ModelConfig &c,
              std::vector<std::string> &unsupported)
{
    c.ropeTheta = r.number("rope_theta", 10000.0);
    QJsonObject rope;
    std::string ropeKey;
    for (const char *key : {"rope_scaling", "rope_parameters"}) {
        if (!r.has(key))
            continue;
        const QJsonValue v = r.value(key);
        if (!v.isObject())
            r.wrongType(key, "an object", v);
        if (!v.toObject().isEmpty()) {
            rope = v.toObject();
            ropeKey = key;
            break;
        }
    }
    if (r.has("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
        unsupported.push_back("key 'partial_rotary_factor' is " + numberText(r.number("partial_rotary_factor", 1.0)) +
                              ": only a rotary embedding over the whole head (1.0) is supported");
    if (ropeKey.empty())
        return;
    const Reader p(rope, source, ropeKey + ".");
    bool nested = !rope.contains(QStringLiteral("rope_type")) && !rope.contains(QStringLiteral("type")) &&
                  !rope.contains(QStringLiteral("rope_theta"));
    for (auto it = rope.begin(); nested && it != rope.end(); ++it)
        nested = it.value().isObject();
    if (nested) {
        unsupported.push_back("key '" + ropeKey + "' gives RoPE per layer type (" +
                              rope.keys().join(QStringLiteral(", ")).toStdString() +
                              "): only one RoPE for every layer is supported");
        return;
    }
    c.ropeTheta = p.number("rope_theta", c.ropeTheta);
    c.ropeType = p.string("rope_type", p.string("type", "default"));
    if (c.ropeType == "linear" || c.ropeType == "dynamic") {
        c.ropeFactor = p.number("factor");
    } else if (c.ropeType == "llama3") {
        c.ropeFactor = p.number("factor");
        c.ropeLowFreqFactor = p.number("low_freq_factor");
        c.ropeHighFreqFactor = p.number("high_freq_factor");
        // A top-level original_max_position_embeddings wins, as in transformers.
        c.ropeOriginalMaxPositions =
            r.integer("original_max_position_embeddings",
                      p.integer("original_max_position_embeddings", c.maxPositionEmbeddings));
    } else if (c.ropeType != "default") {
        unsupported.push_back("key '" + ropeKey + "' has rope_type '" + c.ropeType +
                              "': only \"default\", \"linear\", \"dynamic\" and \"llama3\" RoPE are supported");
        c.ropeType = "default";
    }
    if (p.has("partial_rotary_factor") && p.number("partial_rotary_factor", 1.0) != 1.0)
        unsupported.push_back("key '" + ropeKey + ".partial_rotary_factor' is " +
                              numberText(p.number("partial_rotary_factor", 1.0)) +
                              ": only a rotary embedding over the whole head (1.0) is supported");
}

// Mistral's sliding_window (4096 when left out), Qwen2's when use_sliding_window is true
// and a layer slides (layer_types, else the layers from max_window_layers on). Accepted
// where it changes nothing: no window, or one no shorter than the context.
void readSlidingWindow(const Reader &r, ModelConfig &c, std::vector<std::string> &unsupported)
{
    const bool mistral = c.modelType == "mistral", qwen2 = c.modelType == "qwen2";
    if (!mistral && !qwen2)
        return;
    const QJsonValue given = r.value("sliding_window");
    int64_t window = given.isUndefined() ? 4096 : given.isNull() ? 0 : r.toInteger("sliding_window", given);
    if (window < 0)
        throw Error(r.where() + "key 'sliding_window' must be positive or null, found " + std::to_string(window));
    bool slides = window > 0;
    if (qwen2) {
        c.maxWindowLayers = r.integer("max_window_layers", 28);
        if (!r.boolean("use_sliding_window", false))
            window = 0;
        slides = window > 0 && c.numHiddenLayers > c.maxWindowLayers;
        if (r.has("layer_types")) {
            const QJsonValue types = r.value("layer_types");
            if (!types.isArray())
                r.wrongType("layer_types", "an array", types);
            slides = false;
            for (const QJsonValue &type : types.toArray()) {
                if (type.toString() == QStringLiteral("sliding_attention"))
                    slides = window > 0;
                else if (type.toString() != QStringLiteral("full_attention"))
                    unsupported.push_back("key 'layer_types' names the layer type '" +
                                          (type.isString() ? type.toString().toStdString() : jsonTypeName(type)) +
                                          "': only \"full_attention\" and \"sliding_attention\" are known");
            }
        }
    }
    c.slidingWindow = window;
    if (slides && window < c.maxPositionEmbeddings)
        unsupported.push_back("key 'sliding_window' is " + std::to_string(window) + ", shorter than the context of " +
                              std::to_string(c.maxPositionEmbeddings) +
                              " tokens (max_position_embeddings): sliding-window attention is not supported, only a "
                              "window no shorter than the context or none (null)");
}

} // namespace

ModelConfig ModelConfig::fromJson(const QJsonObject &json, const std::string &source)
{
    const std::string where = source + ": ";
    const Family &family = *familyOf(json, where);
    const Reader r(json, source);

    ModelConfig c;
    c.architecture = family.architecture;
    c.modelType = family.modelType;
    c.hiddenSize = r.integer("hidden_size");
    c.intermediateSize = r.integer("intermediate_size");
    c.numHiddenLayers = r.integer("num_hidden_layers");
    c.numAttentionHeads = r.integer("num_attention_heads");
    c.vocabSize = r.integer("vocab_size");
    // null stands for num_attention_heads; left out, for the family's default.
    c.numKeyValueHeads = r.value("num_key_value_heads").isUndefined() && family.keyValueHeads > 0
                             ? family.keyValueHeads
                             : r.integer("num_key_value_heads", c.numAttentionHeads);
    c.maxPositionEmbeddings = r.integer("max_position_embeddings", family.maxPositionEmbeddings);

    // Keys that change what the model computes and that this implementation does not
    // follow: refused, every one of them at once, rather than silently computing
    // another model.
    std::vector<std::string> unsupported;
    if (c.modelType == "llama") {
        c.qkvBias = c.outputBias = r.boolean("attention_bias", false);
        c.mlpBias = r.boolean("mlp_bias", false);
    } else if (c.modelType == "qwen2") {
        c.qkvBias = true;   // Qwen2's q, k and v projections always have biases
    }
    readRope(r, source, c, unsupported);
    readSlidingWindow(r, c, unsupported);
    const std::string activation = r.string("hidden_act", "silu");
    if (activation != "silu")
        unsupported.push_back("key 'hidden_act' is '" + activation + "': only \"silu\" is supported");
    if (r.has("quantization_config"))
        unsupported.push_back("key 'quantization_config' is set: quantised checkpoints are not supported "
                              "(use the unquantised weights)");
    if (!unsupported.empty()) {
        std::string message;
        for (const auto &line : unsupported)
            message += (message.empty() ? "" : "\n") + where + line;
        throw Error(message);
    }

    if (r.has("head_dim")) {
        c.headDim = r.integer("head_dim");
    } else {
        if (c.numAttentionHeads <= 0)
            throw Error(where + "key 'num_attention_heads' must be positive, found " +
                        std::to_string(c.numAttentionHeads));
        if (c.hiddenSize % c.numAttentionHeads != 0)
            throw Error(where + "head_dim is not given and num_attention_heads (" +
                        std::to_string(c.numAttentionHeads) + ") does not divide hidden_size (" +
                        std::to_string(c.hiddenSize) + ")");
        c.headDim = c.hiddenSize / c.numAttentionHeads;
    }
    c.rmsNormEps = r.number("rms_norm_eps", 1e-6);
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
    c.bosTokenId = r.integer("bos_token_id", 1);
    // A list (Llama 3's end of turn and end of text): every id ends generation.
    const QJsonValue eos = r.value("eos_token_id");
    if (eos.isArray()) {
        const QJsonArray ids = eos.toArray();
        if (ids.isEmpty())
            throw Error(where + "key 'eos_token_id' is an empty array");
        c.eosTokenId = r.toInteger("eos_token_id", ids.at(0));
        for (qsizetype i = 1; i < ids.size(); ++i)
            c.extraEosTokenIds.push_back(r.toInteger("eos_token_id", ids.at(i)));
    } else {
        c.eosTokenId = r.integer("eos_token_id", 2);
    }
    // transformers 5 writes dtype and reads it before torch_dtype.
    c.torchDtype = r.string("dtype", r.string("torch_dtype", "float32"));

    c.validate(source);
    return c;
}

ModelConfig ModelConfig::fromJsonFile(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot read file (" + file.errorString().toStdString() + ")");
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (parseError.error != QJsonParseError::NoError)
        throw Error(path + ": not valid JSON: " + parseError.errorString().toStdString() +
                    " at offset " + std::to_string(parseError.offset));
    if (!doc.isObject())
        throw Error(path + ": must contain a JSON object");
    return fromJson(doc.object(), path);
}

void ModelConfig::validate(const std::string &source) const
{
    const std::string where = source + ": ";
    const auto checkSize = [&](const char *key, int64_t value) {
        if (value <= 0)
            throw Error(where + "key '" + key + "' must be positive, found " +
                        std::to_string(value));
        if (value > kMaxSize)
            throw Error(where + "key '" + key + "' is implausibly large (" +
                        std::to_string(value) + " > " + std::to_string(kMaxSize) + ")");
    };
    checkSize("hidden_size", hiddenSize);
    checkSize("intermediate_size", intermediateSize);
    checkSize("num_hidden_layers", numHiddenLayers);
    checkSize("num_attention_heads", numAttentionHeads);
    checkSize("num_key_value_heads", numKeyValueHeads);
    checkSize("head_dim", headDim);
    checkSize("vocab_size", vocabSize);
    checkSize("max_position_embeddings", maxPositionEmbeddings);

    if (numAttentionHeads % numKeyValueHeads != 0)
        throw Error(where + "num_key_value_heads (" + std::to_string(numKeyValueHeads) +
                    ") does not divide num_attention_heads (" +
                    std::to_string(numAttentionHeads) + ")");
    if (numAttentionHeads * headDim > kMaxSize)
        throw Error(where + "num_attention_heads x head_dim (" +
                    std::to_string(numAttentionHeads * headDim) + ") is implausibly large");
    // Each size alone may be plausible and their product still absurd (and overflow
    // parameterCount()); no model this workbench can hold comes near 10^13 parameters.
    {
        const long double h = hiddenSize, heads = numAttentionHeads, kv = numKeyValueHeads, d = headDim;
        const long double perLayer = 2 * heads * d * h + 2 * kv * d * h + 3 * h * intermediateSize + 2 * h;
        const long double total = 2.0L * vocabSize * h + numHiddenLayers * perLayer + h;
        if (total > 1e13L)
            throw Error(where + "the sizes describe about " + QString::number(static_cast<double>(total), 'g', 3).toStdString() +
                        " parameters, implausibly large");
    }
    if (!(std::isfinite(ropeTheta) && ropeTheta > 0))
        throw Error(where + "key 'rope_theta' must be a positive number");
    if (ropeType != "default" && ropeType != "linear" && ropeType != "dynamic" && ropeType != "llama3")
        throw Error(where + "rope_type '" + ropeType + "' is not supported");
    if (ropeType != "default" && !(std::isfinite(ropeFactor) && ropeFactor > 0))
        throw Error(where + "the RoPE 'factor' must be a positive number, found " + numberText(ropeFactor));
    if (ropeType == "llama3") {
        if (!(std::isfinite(ropeLowFreqFactor) && ropeLowFreqFactor > 0 && std::isfinite(ropeHighFreqFactor) &&
              ropeHighFreqFactor > ropeLowFreqFactor))
            throw Error(where + "the llama3 RoPE needs 0 < low_freq_factor < high_freq_factor, found " +
                        numberText(ropeLowFreqFactor) + " and " + numberText(ropeHighFreqFactor));
        if (ropeOriginalMaxPositions <= 0)
            throw Error(where + "the llama3 RoPE's 'original_max_position_embeddings' must be positive, found " +
                        std::to_string(ropeOriginalMaxPositions));
    }
    if (slidingWindow < 0)
        throw Error(where + "key 'sliding_window' must not be negative");
    if (!(std::isfinite(rmsNormEps) && rmsNormEps > 0 && rmsNormEps < 1))
        throw Error(where + "key 'rms_norm_eps' must be a positive number below 1");
    if (bosTokenId < 0 || bosTokenId >= vocabSize)
        throw Error(where + "key 'bos_token_id' (" + std::to_string(bosTokenId) +
                    ") is outside the vocabulary of " + std::to_string(vocabSize));
    // An end-of-sequence id past the vocabulary is harmless (it is never generated).
    for (const auto id : eosTokenIds())
        if (id < 0)
            throw Error(where + "key 'eos_token_id' must not be negative, found " + std::to_string(id));
}

std::vector<int64_t> ModelConfig::eosTokenIds() const
{
    std::vector<int64_t> ids{eosTokenId};
    ids.insert(ids.end(), extraEosTokenIds.begin(), extraEosTokenIds.end());
    return ids;
}

QJsonObject ModelConfig::toJson() const
{
    QJsonObject o;
    o.insert(QStringLiteral("architectures"),
             QJsonArray{QString::fromStdString(architecture)});
    o.insert(QStringLiteral("model_type"), QString::fromStdString(modelType));
    o.insert(QStringLiteral("hidden_act"), QStringLiteral("silu"));
    o.insert(QStringLiteral("hidden_size"), qint64(hiddenSize));
    o.insert(QStringLiteral("intermediate_size"), qint64(intermediateSize));
    o.insert(QStringLiteral("num_hidden_layers"), qint64(numHiddenLayers));
    o.insert(QStringLiteral("num_attention_heads"), qint64(numAttentionHeads));
    o.insert(QStringLiteral("num_key_value_heads"), qint64(numKeyValueHeads));
    o.insert(QStringLiteral("head_dim"), qint64(headDim));
    o.insert(QStringLiteral("vocab_size"), qint64(vocabSize));
    o.insert(QStringLiteral("max_position_embeddings"), qint64(maxPositionEmbeddings));
    o.insert(QStringLiteral("rms_norm_eps"), rmsNormEps);

    // RoPE both ways: rope_theta and rope_scaling for transformers 4, rope_parameters
    // for transformers 5 (which reads the same from either).
    QJsonObject rope{{QStringLiteral("rope_type"), QString::fromStdString(ropeType)},
                     {QStringLiteral("rope_theta"), ropeTheta}};
    if (ropeType != "default")
        rope.insert(QStringLiteral("factor"), ropeFactor);
    if (ropeType == "llama3") {
        rope.insert(QStringLiteral("low_freq_factor"), ropeLowFreqFactor);
        rope.insert(QStringLiteral("high_freq_factor"), ropeHighFreqFactor);
        rope.insert(QStringLiteral("original_max_position_embeddings"), qint64(ropeOriginalMaxPositions));
    }
    o.insert(QStringLiteral("rope_theta"), ropeTheta);
    o.insert(QStringLiteral("rope_scaling"), ropeType == "default" ? QJsonValue(QJsonValue::Null) : QJsonValue(rope));
    o.insert(QStringLiteral("rope_parameters"), rope);

    o.insert(QStringLiteral("tie_word_embeddings"), tieWordEmbeddings);
    o.insert(QStringLiteral("bos_token_id"), qint64(bosTokenId));
    if (extraEosTokenIds.empty()) {
        o.insert(QStringLiteral("eos_token_id"), qint64(eosTokenId));
    } else {
        QJsonArray ids;
        for (const auto id : eosTokenIds())
            ids.append(qint64(id));
        o.insert(QStringLiteral("eos_token_id"), ids);
    }
    // Each family's own keys: LLaMA's bias switches, the sliding windows of the others.
    const QJsonValue window = slidingWindow > 0 ? QJsonValue(qint64(slidingWindow)) : QJsonValue(QJsonValue::Null);
    if (modelType == "llama") {
        o.insert(QStringLiteral("attention_bias"), qkvBias);
        o.insert(QStringLiteral("mlp_bias"), mlpBias);
    } else if (modelType == "mistral") {
        o.insert(QStringLiteral("sliding_window"), window);
    } else if (modelType == "qwen2") {
        o.insert(QStringLiteral("use_sliding_window"), slidingWindow > 0);
        o.insert(QStringLiteral("sliding_window"), window);
        o.insert(QStringLiteral("max_window_layers"), qint64(maxWindowLayers));
    }
    o.insert(QStringLiteral("torch_dtype"), QString::fromStdString(torchDtype));
    return o;
}

void ModelConfig::saveJsonFile(const std::string &path) const
{
    QSaveFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::WriteOnly))
        throw Error(path + ": cannot write file (" + file.errorString().toStdString() + ")");
    const QByteArray text = QJsonDocument(toJson()).toJson(QJsonDocument::Indented);
    if (file.write(text) != text.size())
        throw Error(path + ": write failed (" + file.errorString().toStdString() + ")");
    if (!file.commit())
        throw Error(path + ": cannot save file (" + file.errorString().toStdString() + ")");
}

int64_t ModelConfig::parameterCount() const
{
    const int64_t attention = numAttentionHeads * headDim * hiddenSize        // q
                              + 2 * numKeyValueHeads * headDim * hiddenSize   // k, v
                              + hiddenSize * numAttentionHeads * headDim;     // o
    const int64_t mlp = 3 * hiddenSize * intermediateSize;                    // gate, up, down
    const int64_t biases = (qkvBias ? (numAttentionHeads + 2 * numKeyValueHeads) * headDim : 0) +
                           (outputBias ? hiddenSize : 0) + (mlpBias ? 2 * intermediateSize + hiddenSize : 0);
    const int64_t norms = 2 * hiddenSize;
    const int64_t embed = vocabSize * hiddenSize;
    return embed + numHiddenLayers * (attention + mlp + biases + norms) + hiddenSize +
           (tieWordEmbeddings ? 0 : embed);
}

} // namespace nugget
