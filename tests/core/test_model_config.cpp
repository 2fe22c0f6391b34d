// config.json parsing, validation and writing for LLaMA-family checkpoints.

#include "Error.h"
#include "TestSupport.h"
#include "io/ModelConfig.h"
#include "io/Safetensors.h"
#include "model/LlamaModel.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <functional>

using nugget::test::errorOf;
using nugget::test::writeBytes;

using nugget::Error;
using nugget::ModelConfig;

namespace {

QJsonObject minimalConfig()
{
    return QJsonObject{
        {"architectures", QJsonArray{"LlamaForCausalLM"}},
        {"model_type", "llama"},
        {"hidden_size", 64},
        {"intermediate_size", 172},
        {"num_hidden_layers", 2},
        {"num_attention_heads", 8},
        {"vocab_size", 512},
    };
}

void compareConfigs(const ModelConfig &a, const ModelConfig &b)
{
    QCOMPARE(a.architecture, b.architecture);
    QCOMPARE(a.modelType, b.modelType);
    QCOMPARE(a.hiddenSize, b.hiddenSize);
    QCOMPARE(a.intermediateSize, b.intermediateSize);
    QCOMPARE(a.numHiddenLayers, b.numHiddenLayers);
    QCOMPARE(a.numAttentionHeads, b.numAttentionHeads);
    QCOMPARE(a.numKeyValueHeads, b.numKeyValueHeads);
    QCOMPARE(a.headDim, b.headDim);
    QCOMPARE(a.vocabSize, b.vocabSize);
    QCOMPARE(a.maxPositionEmbeddings, b.maxPositionEmbeddings);
    QCOMPARE(a.rmsNormEps, b.rmsNormEps);
    QCOMPARE(a.ropeTheta, b.ropeTheta);
    QCOMPARE(a.tieWordEmbeddings, b.tieWordEmbeddings);
    QCOMPARE(a.bosTokenId, b.bosTokenId);
    QCOMPARE(a.eosTokenId, b.eosTokenId);
    QCOMPARE(a.extraEosTokenIds, b.extraEosTokenIds);
    QCOMPARE(a.torchDtype, b.torchDtype);
    QCOMPARE(a.ropeType, b.ropeType);
    QCOMPARE(a.ropeFactor, b.ropeFactor);
    QCOMPARE(a.ropeLowFreqFactor, b.ropeLowFreqFactor);
    QCOMPARE(a.ropeHighFreqFactor, b.ropeHighFreqFactor);
    QCOMPARE(a.ropeOriginalMaxPositions, b.ropeOriginalMaxPositions);
    QCOMPARE(a.qkvBias, b.qkvBias);
    QCOMPARE(a.outputBias, b.outputBias);
    QCOMPARE(a.mlpBias, b.mlpBias);
    QCOMPARE(a.slidingWindow, b.slidingWindow);
}

} // namespace

class TestModelConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stories260K();
    void defaults();
    void eosTokenArray();
    void transformers5Keys();
    void transformers4Keys();
    void families();
    void rotaryFrequenciesOfEachRopeType();
    void acceptsModelTypeOnly();
    void rejects_data();
    void rejects();
    void acceptsTheDefaultsOfModelChangingKeys();
    void listsEveryUnsupportedKey();
    void fileErrors();
    void roundTrip();
    void parameterCountMatchesCheckpoint();
};

void TestModelConfig::stories260K()
{
    NUGGET_REQUIRE_SHARED("models/stories260K/config.json");
    const ModelConfig c = ModelConfig::fromJsonFile(
        nugget::test::sharedPath("models/stories260K/config.json").toStdString());
    QCOMPARE(c.architecture, std::string("LlamaForCausalLM"));
    QCOMPARE(c.modelType, std::string("llama"));
    QCOMPARE(c.hiddenSize, int64_t(64));
    QCOMPARE(c.intermediateSize, int64_t(172));
    QCOMPARE(c.numHiddenLayers, int64_t(5));
    QCOMPARE(c.numAttentionHeads, int64_t(8));
    QCOMPARE(c.numKeyValueHeads, int64_t(4));
    QCOMPARE(c.headDim, int64_t(8));
    QCOMPARE(c.vocabSize, int64_t(512));
    QCOMPARE(c.maxPositionEmbeddings, int64_t(512));
    QVERIFY(c.tieWordEmbeddings);
    QCOMPARE(c.ropeTheta, 10000.0);
    QCOMPARE(c.rmsNormEps, 1e-5);
    QCOMPARE(c.bosTokenId, int64_t(1));
    QCOMPARE(c.eosTokenId, int64_t(2));
    QCOMPARE(c.torchDtype, std::string("float32"));
}

void TestModelConfig::defaults()
{
    const ModelConfig c = ModelConfig::fromJson(minimalConfig(), "min/config.json");
    QCOMPARE(c.numKeyValueHeads, int64_t(8));
    QCOMPARE(c.headDim, int64_t(8));
    QCOMPARE(c.rmsNormEps, 1e-6);
    QCOMPARE(c.ropeTheta, 10000.0);
    QCOMPARE(c.maxPositionEmbeddings, int64_t(2048));
    QVERIFY(!c.tieWordEmbeddings);
    QCOMPARE(c.bosTokenId, int64_t(1));
    QCOMPARE(c.eosTokenId, int64_t(2));
    QCOMPARE(c.torchDtype, std::string("float32"));

    // null stands for "not given" in optional keys.
    QJsonObject json = minimalConfig();
    json.insert("head_dim", QJsonValue::Null);
    json.insert("rope_scaling", QJsonValue::Null);
    json.insert("bos_token_id", QJsonValue::Null);
    QCOMPARE(ModelConfig::fromJson(json, "x").headDim, int64_t(8));
}

void TestModelConfig::eosTokenArray()
{
    QJsonObject json = minimalConfig();
    json.insert("eos_token_id", QJsonArray{7, 9, 11});
    const ModelConfig c = ModelConfig::fromJson(json, "x");
    QCOMPARE(c.eosTokenId, int64_t(7));
    QCOMPARE(c.eosTokenIds(), (std::vector<int64_t>{7, 9, 11}));   // every one kept
    QCOMPARE(c.toJson().value("eos_token_id").toArray(), (QJsonArray{7, 9, 11}));
    json.insert("eos_token_id", QJsonArray{7, -1});
    QVERIFY(errorOf([&] { ModelConfig::fromJson(json, "x"); }).contains("'eos_token_id'"));
}

// config.json as transformers 5 writes it: rope_theta inside rope_parameters, dtype.
void TestModelConfig::transformers5Keys()
{
    QJsonObject json = minimalConfig();
    json.insert("rope_parameters", QJsonObject{{"rope_theta", 500000.0}, {"rope_type", "default"}});
    json.insert("dtype", "bfloat16");
    json.insert("eos_token_id", QJsonArray{128001, 128009});
    json.insert("vocab_size", 128256);
    const ModelConfig c = ModelConfig::fromJson(json, "x");
    QCOMPARE(c.ropeTheta, 500000.0);
    QCOMPARE(c.ropeType, std::string("default"));
    QCOMPARE(c.torchDtype, std::string("bfloat16"));
    QCOMPARE(c.eosTokenIds(), (std::vector<int64_t>{128001, 128009}));

    // Llama 3.1's RoPE; a rope_theta inside wins over one beside, as in transformers.
    json.insert("rope_theta", 10000.0);
    json.insert("rope_parameters", QJsonObject{{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                               {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                               {"original_max_position_embeddings", 8192}});
    const ModelConfig llama3 = ModelConfig::fromJson(json, "x");
    QCOMPARE(llama3.ropeTheta, 500000.0);
    QCOMPARE(llama3.ropeType, std::string("llama3"));
    QCOMPARE(llama3.ropeFactor, 8.0);
    QCOMPARE(llama3.ropeOriginalMaxPositions, int64_t(8192));
}

// config.json as transformers 4 wrote it: rope_theta beside rope_scaling ("type" in old ones).
void TestModelConfig::transformers4Keys()
{
    QJsonObject json = minimalConfig();
    json.insert("rope_theta", 250000.0);
    json.insert("rope_scaling", QJsonObject{{"type", "linear"}, {"factor", 2.0}});
    json.insert("torch_dtype", "float16");
    const ModelConfig c = ModelConfig::fromJson(json, "x");
    QCOMPARE(c.ropeTheta, 250000.0);
    QCOMPARE(c.ropeType, std::string("linear"));
    QCOMPARE(c.ropeFactor, 2.0);
    QCOMPARE(c.torchDtype, std::string("float16"));
    // llama3 without original_max_position_embeddings: the context, as transformers fills it in.
    json.insert("max_position_embeddings", 4096);
    json.insert("rope_scaling", QJsonObject{{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                            {"high_freq_factor", 4.0}});
    QCOMPARE(ModelConfig::fromJson(json, "x").ropeOriginalMaxPositions, int64_t(4096));
}

// Biases where each family has them; sliding windows accepted only where they change nothing.
void TestModelConfig::families()
{
    QJsonObject json = minimalConfig();
    json.insert("attention_bias", true);
    json.insert("mlp_bias", true);
    const ModelConfig biased = ModelConfig::fromJson(json, "x");
    QVERIFY(biased.qkvBias && biased.outputBias && biased.mlpBias);
    const ModelConfig plain = ModelConfig::fromJson(minimalConfig(), "x");
    // q, k, v, o (8 heads x 8 + 2 x 64 + 64) and gate, up, down (2 x 172 + 64), per layer.
    QCOMPARE(biased.parameterCount() - plain.parameterCount(), int64_t(2 * (4 * 64 + 2 * 172 + 64)));

    QJsonObject qwen = minimalConfig();
    qwen.insert("architectures", QJsonArray{"Qwen2ForCausalLM"});
    qwen.insert("model_type", "qwen2");
    qwen.insert("max_position_embeddings", 256);
    qwen.insert("num_key_value_heads", 2);
    qwen.insert("sliding_window", 32);   // unused: use_sliding_window is false
    qwen.insert("attention_bias", false);   // not a Qwen2 key: its q, k, v have biases
    const ModelConfig q = ModelConfig::fromJson(qwen, "x");
    QCOMPARE(q.architecture, std::string("Qwen2ForCausalLM"));
    QVERIFY(q.qkvBias && !q.outputBias && !q.mlpBias);
    QCOMPARE(q.slidingWindow, int64_t(0));
    qwen.insert("use_sliding_window", true);
    qwen.insert("max_window_layers", 2);   // both layers below it: none slides
    QCOMPARE(ModelConfig::fromJson(qwen, "x").slidingWindow, int64_t(32));
    qwen.insert("max_window_layers", 1);
    QVERIFY(errorOf([&] { ModelConfig::fromJson(qwen, "q/config.json"); })
                .startsWith("q/config.json: key 'sliding_window' is 32, shorter than the context of 256"));

    QJsonObject mistral = minimalConfig();
    mistral.insert("architectures", QJsonArray{"MistralForCausalLM"});
    mistral.insert("model_type", "mistral");
    mistral.insert("max_position_embeddings", 4096);
    mistral.insert("sliding_window", QJsonValue::Null);
    QCOMPARE(ModelConfig::fromJson(mistral, "x").numKeyValueHeads, int64_t(8));   // Mistral's default
    mistral.insert("num_key_value_heads", 2);
    QCOMPARE(ModelConfig::fromJson(mistral, "x").slidingWindow, int64_t(0));
    mistral.insert("sliding_window", 4096);
    QCOMPARE(ModelConfig::fromJson(mistral, "x").slidingWindow, int64_t(4096));
    // Left out, Mistral's window is 4096 and its context 131072: the window is inside.
    mistral.remove("sliding_window");
    mistral.remove("max_position_embeddings");
    QVERIFY(errorOf([&] { ModelConfig::fromJson(mistral, "m/config.json"); })
                .startsWith("m/config.json: key 'sliding_window' is 4096, shorter than the context of 131072"));
}

// The frequencies each RoPE type gives, against the published formulas in double precision.
void TestModelConfig::rotaryFrequenciesOfEachRopeType()
{
    ModelConfig c = ModelConfig::fromJson(minimalConfig(), "x");
    c.headDim = 16;
    c.ropeTheta = 500000.0;
    const auto plain = [&](int64_t i) { return 1.0 / std::pow(c.ropeTheta, 2.0 * double(i) / 16.0); };
    const auto check = [&](const std::function<double(int64_t)> &expected, int64_t length) {
        const auto got = nugget::rotaryInverseFrequencies(c, length);
        QCOMPARE(got.size(0), int64_t(8));
        for (int64_t i = 0; i < 8; ++i)
            QVERIFY2(std::abs(got[i].item<double>() - expected(i)) <= 1e-6 * expected(i),
                     qPrintable(QStringLiteral("%1 %2: %3 vs %4").arg(QString::fromStdString(c.ropeType)).arg(i)
                                    .arg(got[i].item<double>()).arg(expected(i))));
    };
    check(plain, 10);
    c.ropeType = "linear";
    c.ropeFactor = 4.0;
    check([&](int64_t i) { return plain(i) / 4.0; }, 10);
    c.ropeType = "dynamic";
    check(plain, c.maxPositionEmbeddings);   // within the context: the plain frequencies
    check([&](int64_t i) {   // beyond it, the NTK-aware base
        const double base = c.ropeTheta * std::pow(4.0 * 2.0 - 3.0, 16.0 / 14.0);
        return 1.0 / std::pow(base, 2.0 * double(i) / 16.0);
    }, 2 * c.maxPositionEmbeddings);
    c.ropeType = "llama3";
    c.ropeFactor = 8.0;
    c.ropeLowFreqFactor = 1.0;
    c.ropeHighFreqFactor = 4.0;
    c.ropeOriginalMaxPositions = 64;
    check([&](int64_t i) {
        const double wavelength = 2 * M_PI / plain(i);
        if (wavelength < 64.0 / 4.0)
            return plain(i);
        if (wavelength > 64.0 / 1.0)
            return plain(i) / 8.0;
        const double smooth = (64.0 / wavelength - 1.0) / (4.0 - 1.0);
        return (1 - smooth) * plain(i) / 8.0 + smooth * plain(i);
    }, 10);
}

void TestModelConfig::acceptsModelTypeOnly()
{
    QJsonObject json = minimalConfig();
    json.remove("architectures");
    QCOMPARE(ModelConfig::fromJson(json, "x").architecture, std::string("LlamaForCausalLM"));
    json = minimalConfig();
    json.remove("model_type");
    QCOMPARE(ModelConfig::fromJson(json, "x").modelType, std::string("llama"));
}

void TestModelConfig::rejects_data()
{
    // key to change, its new value as JSON text (empty: remove the key), expected words.
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("missing hidden_size")
        << "hidden_size" << QByteArray() << QStringList{"missing key 'hidden_size'"};
    QTest::newRow("missing vocab_size")
        << "vocab_size" << QByteArray() << QStringList{"missing key 'vocab_size'"};
    QTest::newRow("hidden_size is a string")
        << "hidden_size" << QByteArray("\"64\"") << QStringList{"'hidden_size'", "integer"};
    QTest::newRow("hidden_size is fractional")
        << "hidden_size" << QByteArray("64.5") << QStringList{"'hidden_size'", "integer"};
    QTest::newRow("layers is null")
        << "num_hidden_layers" << QByteArray("null") << QStringList{"'num_hidden_layers'"};
    QTest::newRow("tie is a number")
        << "tie_word_embeddings" << QByteArray("1") << QStringList{"'tie_word_embeddings'"};
    QTest::newRow("eps is a string")
        << "rms_norm_eps" << QByteArray("\"1e-5\"") << QStringList{"'rms_norm_eps'"};
    QTest::newRow("unknown architecture")
        << "architectures" << QByteArray("[\"GemmaForCausalLM\"]")
        << QStringList{"GemmaForCausalLM", "architecture"};
    QTest::newRow("zero heads")
        << "num_attention_heads" << QByteArray("0") << QStringList{"num_attention_heads"};
    QTest::newRow("negative hidden")
        << "hidden_size" << QByteArray("-64") << QStringList{"'hidden_size'", "positive"};
    QTest::newRow("head_dim does not divide")
        << "num_attention_heads" << QByteArray("6")
        << QStringList{"head_dim", "does not divide", "hidden_size"};
    QTest::newRow("kv heads do not divide heads")
        << "num_key_value_heads" << QByteArray("3")
        << QStringList{"num_key_value_heads", "does not divide"};
    QTest::newRow("zero kv heads")
        << "num_key_value_heads" << QByteArray("0") << QStringList{"num_key_value_heads"};
    QTest::newRow("absurd hidden size")
        << "hidden_size" << QByteArray("1073741824") << QStringList{"'hidden_size'"};
    QTest::newRow("absurd vocabulary")
        << "vocab_size" << QByteArray("1e12") << QStringList{"'vocab_size'"};
    QTest::newRow("rope_theta zero")
        << "rope_theta" << QByteArray("0") << QStringList{"rope_theta"};
    QTest::newRow("eps negative")
        << "rms_norm_eps" << QByteArray("-1e-5") << QStringList{"rms_norm_eps"};
    QTest::newRow("yarn rope scaling")
        << "rope_scaling" << QByteArray(R"({"type": "yarn", "factor": 2.0})")
        << QStringList{"key 'rope_scaling' has rope_type 'yarn'", "supported"};
    QTest::newRow("longrope rope parameters")
        << "rope_parameters" << QByteArray(R"({"rope_type": "longrope", "rope_theta": 10000.0})")
        << QStringList{"key 'rope_parameters' has rope_type 'longrope'"};
    QTest::newRow("rope parameters per layer type")
        << "rope_parameters" << QByteArray(R"({"full_attention": {"rope_type": "default"}})")
        << QStringList{"key 'rope_parameters' gives RoPE per layer type"};
    QTest::newRow("linear rope without factor")
        << "rope_parameters" << QByteArray(R"({"rope_type": "linear"})")
        << QStringList{"missing key 'rope_parameters.factor'"};
    QTest::newRow("llama3 rope with high below low frequency factor")
        << "rope_parameters"
        << QByteArray(R"({"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 1})")
        << QStringList{"low_freq_factor < high_freq_factor"};
    QTest::newRow("partial rotary factor")
        << "partial_rotary_factor" << QByteArray("0.5") << QStringList{"key 'partial_rotary_factor' is 0.5"};
    QTest::newRow("quantised")
        << "quantization_config" << QByteArray(R"({"quant_method": "gptq"})")
        << QStringList{"key 'quantization_config'", "quantised"};
    QTest::newRow("rope parameters not an object")
        << "rope_parameters" << QByteArray("10000") << QStringList{"'rope_parameters'", "an object"};
    QTest::newRow("bos outside vocabulary")
        << "bos_token_id" << QByteArray("512") << QStringList{"bos_token_id"};
    // Keys that change what the model computes and that are not implemented.
    QTest::newRow("gelu activation")
        << "hidden_act" << QByteArray("\"gelu_pytorch_tanh\"")
        << QStringList{"key 'hidden_act' is 'gelu_pytorch_tanh'", "silu"};
    QTest::newRow("attention bias not a boolean")
        << "attention_bias" << QByteArray("\"yes\"") << QStringList{"'attention_bias'", "true or false"};
}

void TestModelConfig::acceptsTheDefaultsOfModelChangingKeys()
{
    QJsonObject json = minimalConfig();
    json.insert("attention_bias", false);
    json.insert("mlp_bias", false);
    json.insert("hidden_act", "silu");
    json.insert("rope_scaling", QJsonValue::Null);
    QCOMPARE(ModelConfig::fromJson(json, "x").hiddenSize, int64_t(64));
}

// Every unsupported key at once, a line each, each naming the file.
void TestModelConfig::listsEveryUnsupportedKey()
{
    QJsonObject json = minimalConfig();
    json.insert("rope_scaling", QJsonObject{{"rope_type", "yarn"}, {"factor", 4.0}});
    json.insert("quantization_config", QJsonObject{{"quant_method", "awq"}});
    json.insert("hidden_act", "relu");
    const QString message = errorOf([&] { ModelConfig::fromJson(json, "m/config.json"); });
    const auto lines = message.split(u'\n');
    QCOMPARE(lines.size(), 3);
    for (const auto &line : lines)
        QVERIFY2(line.startsWith("m/config.json: key '"), qPrintable(message));
    QVERIFY(message.contains("'rope_scaling'") && message.contains("'quantization_config'") && message.contains("'relu'"));
}

void TestModelConfig::rejects()
{
    QFETCH(QString, key);
    QFETCH(QByteArray, value);
    QFETCH(QStringList, expected);

    QJsonObject json = minimalConfig();
    if (value.isEmpty()) {
        json.remove(key);
    } else {
        const QJsonDocument doc = QJsonDocument::fromJson("{\"v\": " + value + "}");
        QVERIFY(doc.isObject());
        json.insert(key, doc.object().value("v"));
    }
    if (key == "architectures")
        json.insert("model_type", "gemma");

    const QString message =
        errorOf([&] { ModelConfig::fromJson(json, "models/broken/config.json"); });
    QVERIFY2(message.startsWith("models/broken/config.json: "), qPrintable(message));
    for (const QString &word : expected)
        QVERIFY2(message.contains(word), qPrintable(message));

    // The same through a file on disk names that file.
    QTemporaryDir dir;
    const QString path = dir.filePath("config.json");
    QVERIFY(writeBytes(path, QJsonDocument(json).toJson()));
    const QString fromFile = errorOf([&] { ModelConfig::fromJsonFile(path.toStdString()); });
    QVERIFY2(fromFile.startsWith(path + ": "), qPrintable(fromFile));
}

void TestModelConfig::fileErrors()
{
    QTemporaryDir dir;
    const QString missing = dir.filePath("none.json");
    QVERIFY(errorOf([&] { ModelConfig::fromJsonFile(missing.toStdString()); })
                .startsWith(missing + ": "));

    const QString bad = dir.filePath("bad.json");
    QVERIFY(writeBytes(bad, "{\"hidden_size\": 64,"));
    const QString message = errorOf([&] { ModelConfig::fromJsonFile(bad.toStdString()); });
    QVERIFY2(message.startsWith(bad + ": ") && message.contains("JSON"), qPrintable(message));

    QVERIFY(writeBytes(bad, "[1, 2]"));
    QVERIFY(errorOf([&] { ModelConfig::fromJsonFile(bad.toStdString()); }).contains("object"));

    // Saving into a folder that does not exist fails with the path named.
    const QString nowhere = dir.filePath("no/such/config.json");
    const ModelConfig c = ModelConfig::fromJson(minimalConfig(), "x");
    QVERIFY(errorOf([&] { c.saveJsonFile(nowhere.toStdString()); }).contains(nowhere));
}

void TestModelConfig::roundTrip()
{
    QJsonObject json = minimalConfig();
    json.insert("num_key_value_heads", 2);
    json.insert("head_dim", 16);
    json.insert("rms_norm_eps", 1e-5);
    json.insert("rope_theta", 500000.0);
    json.insert("max_position_embeddings", 4096);
    json.insert("tie_word_embeddings", true);
    json.insert("bos_token_id", 5);
    json.insert("eos_token_id", 6);
    json.insert("torch_dtype", "bfloat16");
    const ModelConfig original = ModelConfig::fromJson(json, "orig");

    const QJsonObject written = original.toJson();
    QCOMPARE(written.value("architectures").toArray(), QJsonArray{"LlamaForCausalLM"});
    QCOMPARE(written.value("model_type").toString(), QStringLiteral("llama"));
    QCOMPARE(written.value("hidden_act").toString(), QStringLiteral("silu"));
    QCOMPARE(written.value("head_dim").toInt(), 16);
    compareConfigs(ModelConfig::fromJson(written, "written"), original);

    // Every family with what it adds, written and read back the same.
    for (const auto &[architecture, type] : {std::pair{"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"},
                                             {"Qwen2ForCausalLM", "qwen2"}}) {
        QJsonObject family = json;
        family.insert("architectures", QJsonArray{architecture});
        family.insert("model_type", type);
        family.insert("attention_bias", true);
        family.insert("mlp_bias", true);
        family.insert("sliding_window", 4096);
        family.insert("use_sliding_window", true);
        family.insert("eos_token_id", QJsonArray{6, 8});
        family.insert("rope_parameters", QJsonObject{{"rope_type", "llama3"}, {"rope_theta", 500000.0},
                                                     {"factor", 32.0}, {"low_freq_factor", 1.0},
                                                     {"high_freq_factor", 4.0},
                                                     {"original_max_position_embeddings", 1024}});
        const ModelConfig parsed = ModelConfig::fromJson(family, "family");
        QCOMPARE(parsed.modelType, std::string(type));
        compareConfigs(ModelConfig::fromJson(parsed.toJson(), "written"), parsed);
    }

    QTemporaryDir dir;
    const QString path = dir.filePath("config.json");
    original.saveJsonFile(path.toStdString());
    compareConfigs(ModelConfig::fromJsonFile(path.toStdString()), original);
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains("\n    \"hidden_size\": 64"));   // indented
}

void TestModelConfig::parameterCountMatchesCheckpoint()
{
    NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
    const ModelConfig c = ModelConfig::fromJsonFile(
        nugget::test::sharedPath("models/stories260K/config.json").toStdString());
    const auto file = nugget::SafetensorsFile::open(
        nugget::test::sharedPath("models/stories260K/model.safetensors").toStdString());
    int64_t sum = 0;
    for (const auto &info : file->tensors()) {
        if (info.name != "lm_head.weight")
            sum += info.numel();
    }
    QCOMPARE(c.parameterCount(), sum);

    ModelConfig untied = c;
    untied.tieWordEmbeddings = false;
    QCOMPARE(untied.parameterCount(), sum + c.vocabSize * c.hiddenSize);
}

QTEST_GUILESS_MAIN(TestModelConfig)
#include "test_model_config.moc"

