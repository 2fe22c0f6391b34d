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
    Reader(const QJsonObject &json, const std::string &source) : m_json(json), m_where(source + ": ")
    {
    }

    bool has(const char *key) const
    {
        const QJsonValue v = m_json.value(QLatin1String(key));
        return !v.isUndefined() && !v.isNull();
    }

    [[noreturn]] void missing(const char *key) const
    {
        throw Error(m_where + "missing key '" + key + "'");
    }

    [[noreturn]] void wrongType(const char *key, const char *expected, const QJsonValue &v) const
    {
        throw Error(m_where + "key '" + key + "' must be " + expected + ", found " +
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
            throw Error(m_where + "key '" + key + "' must be an integer, found " +
                        QString::number(d).toStdString());
        return static_cast<int64_t>(d);
    }

private:
    const QJsonObject &m_json;
    std::string m_where;
};

} // namespace

ModelConfig ModelConfig::fromJson(const QJsonObject &json, const std::string &source)
{
    const std::string where = source + ": ";

    // Architecture: the only family the workbench implements.
    bool llama = json.value(QStringLiteral("model_type")).toString() == QStringLiteral("llama");
    std::string found;
    const QJsonValue architectures = json.value(QStringLiteral("architectures"));
    if (architectures.isArray()) {
        for (const QJsonValue &a : architectures.toArray()) {
            if (a.toString() == QStringLiteral("LlamaForCausalLM"))
                llama = true;
            if (found.empty() && a.isString())
                found = a.toString().toStdString();
        }
    }
    if (!llama) {
        if (found.empty() && json.value(QStringLiteral("model_type")).isString())
            found = "model_type " + json.value(QStringLiteral("model_type")).toString().toStdString();
        if (found.empty())
            found = "none given";
        throw Error(where + "unsupported architecture '" + found +
                    "'; only LLaMA-family models (LlamaForCausalLM, model_type \"llama\") "
                    "are supported");
    }

    const Reader r(json, source);

    // Keys that change what the model computes and that this implementation does not
    // follow: refused, every one of them at once, rather than silently computing
    // another model.
    std::vector<std::string> unsupported;
    const QJsonValue ropeScaling = json.value(QStringLiteral("rope_scaling"));
    if (!ropeScaling.isUndefined() && !ropeScaling.isNull()) {
        const std::string kind =
            ropeScaling.isObject()
                ? ropeScaling.toObject().value(QStringLiteral("rope_type")).toString(
                      ropeScaling.toObject().value(QStringLiteral("type")).toString()).toStdString()
                : std::string();
        unsupported.push_back("key 'rope_scaling'" + (kind.empty() ? "" : " (" + kind + ")") +
                              " is not supported; only plain RoPE models can be loaded");
    }
    if (r.boolean("attention_bias", false))
        unsupported.push_back("key 'attention_bias' is true: bias vectors in the attention projections are not "
                              "supported (only attention_bias false)");
    if (r.boolean("mlp_bias", false))
        unsupported.push_back("key 'mlp_bias' is true: bias vectors in the feed-forward projections are not "
                              "supported (only mlp_bias false)");
    const std::string activation = r.string("hidden_act", "silu");
    if (activation != "silu")
        unsupported.push_back("key 'hidden_act' is '" + activation + "': only \"silu\" is supported");
    if (!unsupported.empty()) {
        std::string message;
        for (const auto &line : unsupported)
            message += (message.empty() ? "" : "\n") + where + line;
        throw Error(message);
    }

    ModelConfig c;
    c.architecture = "LlamaForCausalLM";
    c.modelType = "llama";
    c.hiddenSize = r.integer("hidden_size");
    c.intermediateSize = r.integer("intermediate_size");
    c.numHiddenLayers = r.integer("num_hidden_layers");
    c.numAttentionHeads = r.integer("num_attention_heads");
    c.vocabSize = r.integer("vocab_size");
    c.numKeyValueHeads = r.integer("num_key_value_heads", c.numAttentionHeads);
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
    c.ropeTheta = r.number("rope_theta", 10000.0);
    c.maxPositionEmbeddings = r.integer("max_position_embeddings", 2048);
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
    c.bosTokenId = r.integer("bos_token_id", 1);
    const QJsonValue eos = json.value(QStringLiteral("eos_token_id"));
    if (eos.isArray()) {
        if (eos.toArray().isEmpty())
            throw Error(where + "key 'eos_token_id' is an empty array");
        c.eosTokenId = r.toInteger("eos_token_id", eos.toArray().at(0));
    } else {
        c.eosTokenId = r.integer("eos_token_id", 2);
    }
    c.torchDtype = r.string("torch_dtype", "float32");

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
    if (!(std::isfinite(rmsNormEps) && rmsNormEps > 0 && rmsNormEps < 1))
        throw Error(where + "key 'rms_norm_eps' must be a positive number below 1");
    if (bosTokenId < 0 || bosTokenId >= vocabSize)
        throw Error(where + "key 'bos_token_id' (" + std::to_string(bosTokenId) +
                    ") is outside the vocabulary of " + std::to_string(vocabSize));
    // An end-of-sequence id past the vocabulary is harmless (it is never generated).
    if (eosTokenId < 0)
        throw Error(where + "key 'eos_token_id' must not be negative, found " +
                    std::to_string(eosTokenId));
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
    o.insert(QStringLiteral("rope_theta"), ropeTheta);
    o.insert(QStringLiteral("rope_scaling"), QJsonValue::Null);
    o.insert(QStringLiteral("tie_word_embeddings"), tieWordEmbeddings);
    o.insert(QStringLiteral("bos_token_id"), qint64(bosTokenId));
    o.insert(QStringLiteral("eos_token_id"), qint64(eosTokenId));
    o.insert(QStringLiteral("attention_bias"), false);
    o.insert(QStringLiteral("mlp_bias"), false);
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
    const int64_t norms = 2 * hiddenSize;
    const int64_t embed = vocabSize * hiddenSize;
    return embed + numHiddenLayers * (attention + mlp + norms) + hiddenSize +
           (tieWordEmbeddings ? 0 : embed);
}

} // namespace nugget
