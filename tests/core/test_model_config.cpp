// config.json parsing, validation and writing for LLaMA-family checkpoints.

#include "Error.h"
#include "TestSupport.h"
#include "io/ModelConfig.h"
#include "io/Safetensors.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

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
    QCOMPARE(a.torchDtype, b.torchDtype);
}

} // namespace

class TestModelConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stories260K();
    void defaults();
    void eosTokenArray();
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
    json.insert("eos_token_id", QJsonArray{7, 9});
    QCOMPARE(ModelConfig::fromJson(json, "x").eosTokenId, int64_t(7));
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
        << "architectures" << QByteArray("[\"MistralForCausalLM\"]")
        << QStringList{"MistralForCausalLM", "architecture"};
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
    QTest::newRow("rope scaling")
        << "rope_scaling" << QByteArray(R"({"type": "linear", "factor": 2.0})")
        << QStringList{"rope_scaling", "not supported"};
    QTest::newRow("bos outside vocabulary")
        << "bos_token_id" << QByteArray("512") << QStringList{"bos_token_id"};
    // Keys that change what the model computes and that are not implemented.
    QTest::newRow("attention bias")
        << "attention_bias" << QByteArray("true") << QStringList{"key 'attention_bias' is true", "not supported"};
    QTest::newRow("mlp bias")
        << "mlp_bias" << QByteArray("true") << QStringList{"key 'mlp_bias' is true", "not supported"};
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
    json.insert("attention_bias", true);
    json.insert("mlp_bias", true);
    json.insert("hidden_act", "relu");
    const QString message = errorOf([&] { ModelConfig::fromJson(json, "m/config.json"); });
    const auto lines = message.split(u'\n');
    QCOMPARE(lines.size(), 3);
    for (const auto &line : lines)
        QVERIFY2(line.startsWith("m/config.json: key '"), qPrintable(message));
    QVERIFY(message.contains("'attention_bias'") && message.contains("'mlp_bias'") && message.contains("'relu'"));
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
        json.insert("model_type", "mistral");

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

