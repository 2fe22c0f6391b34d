#include "io/PeftAdapter.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/Safetensors.h"
#include "model/LoraAdapters.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include <set>

namespace nugget {

namespace {

const std::string kPrefix = "base_model.model.";
const std::string kEmbedA = ".lora_embedding_A.weight", kEmbedB = ".lora_embedding_B.weight";
const std::string kEmbedding = "model.embed_tokens.weight", kHead = "lm_head.weight";

// The head's share of a tied embedding's adapter, as a linear layer's adapter:
// the embedding's delta is (B A)^T [vocab, hidden], the head's B' A' with A' = B^T, B' = A^T.
AdapterFactors headShare(const AdapterFactors &embedding)
{
    return {embedding.b.t().contiguous(), embedding.a.t().contiguous()};
}

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "model.layers.0.self_attn.q_proj" -> "q_proj"
std::string moduleLeaf(const std::string &basePath)
{
    return basePath.substr(basePath.rfind('.') + 1);
}

} // namespace

std::string peftKey(const std::string &parameterName)
{
    // PEFT keeps embedding factors in parameter dicts: no ".weight" suffix.
    if (endsWith(parameterName, kEmbedA) || endsWith(parameterName, kEmbedB))
        return kPrefix + parameterName.substr(0, parameterName.size() - 7);
    return kPrefix + parameterName;
}

std::string parameterNameFromPeftKey(const std::string &key)
{
    if (key.compare(0, kPrefix.size(), kPrefix) != 0)
        throw Error("adapter key '" + key + "' does not start with '" + kPrefix + "'");
    std::string name = key.substr(kPrefix.size());
    if (endsWith(name, ".lora_embedding_A") || endsWith(name, ".lora_embedding_B"))
        name += ".weight";
    return name;
}

PeftAdapter adapterOf(LlamaForCausalLM &model, const std::string &baseModel)
{
    PeftAdapter adapter;
    adapter.baseModel = baseModel;
    bool first = true;
    for (const auto &module : model->named_modules()) {
        const auto &path = module.key();
        std::optional<LoraSettings> settings;
        at::Tensor a, b;
        if (auto projection = std::dynamic_pointer_cast<ProjectionImpl>(module.value()); projection && projection->hasLora()) {
            settings = projection->loraSettings();
            a = projection->lora_A->weight;
            b = projection->lora_B->weight;
        } else if (auto embedding = std::dynamic_pointer_cast<TokenEmbeddingImpl>(module.value());
                   embedding && embedding->hasLora()) {
            settings = embedding->loraSettings();
            a = embedding->lora_embedding_A->weight;
            b = embedding->lora_embedding_B->weight;
        }
        if (!settings)
            continue;
        if (first) {
            adapter.settings = *settings;
            first = false;
        } else if (settings->rank != adapter.settings.rank || settings->alpha != adapter.settings.alpha) {
            throw Error("'" + path + "' has an adapter of another rank or alpha; one PEFT adapter needs one of each");
        }
        adapter.factors[path + ".weight"] = {a.detach().cpu().contiguous(), b.detach().cpu().contiguous()};
    }
    if (adapter.factors.empty())
        throw Error("the model has no LoRA adapter to export");
    adapter.tiedEmbedding = model->config().tieWordEmbeddings;
    return adapter;
}

void writePeftAdapter(const std::string &dir, const PeftAdapter &adapter, const QJsonObject &extra)
{
    if (!QDir().mkpath(QString::fromStdString(dir)))
        throw Error(dir + ": cannot create the folder");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    std::set<std::string> targets;
    auto factorsByWeight = adapter.factors;
    if (adapter.tiedEmbedding && factorsByWeight.count(kEmbedding))
        factorsByWeight[kHead] = headShare(factorsByWeight.at(kEmbedding));
    for (const auto &[weightName, factors] : factorsByWeight) {
        const std::string path = weightName.substr(0, weightName.size() - 7);
        const bool embedding = endsWith(path, "embed_tokens");
        tensors.emplace_back(peftKey(path + (embedding ? kEmbedA : ".lora_A.weight")), factors.a);
        tensors.emplace_back(peftKey(path + (embedding ? kEmbedB : ".lora_B.weight")), factors.b);
        targets.insert(moduleLeaf(path));
    }
    writeSafetensors(QDir(QString::fromStdString(dir)).filePath(QStringLiteral("adapter_model.safetensors")).toStdString(),
                     tensors, {{"format", "pt"}});

    QJsonArray targetModules;
    for (const auto &t : targets)
        targetModules.append(QString::fromStdString(t));
    QJsonObject config{
        {QStringLiteral("peft_type"), QStringLiteral("LORA")},
        {QStringLiteral("task_type"), QStringLiteral("CAUSAL_LM")},
        {QStringLiteral("r"), static_cast<qint64>(adapter.settings.rank)},
        {QStringLiteral("lora_alpha"), adapter.settings.alpha},
        {QStringLiteral("lora_dropout"), adapter.settings.dropout},
        {QStringLiteral("target_modules"), targetModules},
        {QStringLiteral("base_model_name_or_path"), QString::fromStdString(adapter.baseModel)},
        {QStringLiteral("bias"), QStringLiteral("none")},
        {QStringLiteral("fan_in_fan_out"), false},
        {QStringLiteral("inference_mode"), true},
        {QStringLiteral("init_lora_weights"), true},
    };
    for (auto it = extra.begin(); it != extra.end(); ++it)
        config[it.key()] = it.value();
    writeFileAtomically(QDir(QString::fromStdString(dir)).filePath(QStringLiteral("adapter_config.json")).toStdString(),
                        QJsonDocument(config).toJson());
}

PeftAdapter readPeftAdapter(const std::string &dir)
{
    const QDir folder(QString::fromStdString(dir));
    const QString configPath = folder.filePath(QStringLiteral("adapter_config.json"));
    QFile file(configPath);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(configPath.toStdString() + ": cannot read (not a PEFT adapter folder?)");
    QJsonParseError error;
    const auto config = QJsonDocument::fromJson(file.readAll(), &error).object();
    if (error.error != QJsonParseError::NoError)
        throw Error(configPath.toStdString() + ": invalid JSON: " + error.errorString().toStdString());
    if (config.value(QStringLiteral("peft_type")).toString() != QLatin1String("LORA"))
        throw Error(configPath.toStdString() + ": peft_type is not LORA");
    PeftAdapter adapter;
    adapter.settings.rank = config.value(QStringLiteral("r")).toInteger(0);
    adapter.settings.alpha = config.value(QStringLiteral("lora_alpha")).toDouble(0);
    adapter.settings.dropout = config.value(QStringLiteral("lora_dropout")).toDouble(0);
    adapter.baseModel = config.value(QStringLiteral("base_model_name_or_path")).toString().toStdString();
    if (adapter.settings.rank < 1 || !(adapter.settings.alpha > 0))
        throw Error(configPath.toStdString() + ": r and lora_alpha must be positive");

    const auto weights = SafetensorsFile::open(folder.filePath(QStringLiteral("adapter_model.safetensors")).toStdString());
    for (const auto &info : weights->tensors()) {
        const std::string name = parameterNameFromPeftKey(info.name);
        for (const auto &[suffix, isA] : {std::pair{std::string(".lora_A.weight"), true}, {".lora_B.weight", false},
                                         {kEmbedA, true}, {kEmbedB, false}}) {
            if (!endsWith(name, suffix))
                continue;
            auto &entry = adapter.factors[name.substr(0, name.size() - suffix.size()) + ".weight"];
            (isA ? entry.a : entry.b) = weights->tensor(info.name).to(at::kFloat).clone();
        }
    }
    for (const auto &[name, factors] : adapter.factors)
        if (!factors.a.defined() || !factors.b.defined())
            throw Error(dir + ": the adapter of '" + name + "' lacks its A or B factor");
    return adapter;
}

void attachAdapter(LlamaForCausalLM &model, const PeftAdapter &adapter)
{
    const bool tied = model->config().tieWordEmbeddings;
    if (tied && adapter.factors.count(kHead)) {
        const auto embedding = adapter.factors.find(kEmbedding);
        const auto &head = adapter.factors.at(kHead);
        const bool share = embedding != adapter.factors.end() && [&] {
            const auto expected = headShare(embedding->second);
            return head.a.sizes() == expected.a.sizes() && head.b.sizes() == expected.b.sizes() &&
                   at::allclose(head.a.to(at::kFloat), expected.a.to(at::kFloat)) &&
                   at::allclose(head.b.to(at::kFloat), expected.b.to(at::kFloat));
        }();
        if (!share)
            throw Error("the adapter adapts lm_head apart from the embedding, but the model ties them "
                        "(tie_word_embeddings true): one matrix cannot take two adapters");
    }
    for (const auto &[name, factors] : adapter.factors)
        if (!(tied && name == kHead))   // carried by the embedding's adapter
            attachLora(model, name, adapter.settings, factors.a, factors.b);
}

} // namespace nugget
