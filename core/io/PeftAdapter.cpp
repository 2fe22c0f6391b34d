#include "io/PeftAdapter.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/JsonText.h"
#include "io/Safetensors.h"
#include "model/LoraAdapters.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>
#include <regex>
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
    return {embedding.b.t().contiguous(), embedding.a.t().contiguous(), embedding.settings};
}

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj"
std::string modulePathOf(const std::string &weightName)
{
    return weightName.substr(0, weightName.size() - 7);
}

// "model.layers.0.self_attn.q_proj" -> "q_proj"
std::string moduleLeaf(const std::string &basePath)
{
    return basePath.substr(basePath.rfind('.') + 1);
}

LoraSettings effectiveSettings(const PeftAdapter &adapter, const AdapterFactors &factors)
{
    LoraSettings settings = factors.settings ? *factors.settings : adapter.settings;
    settings.rank = factors.a.size(0);
    settings.dropout = adapter.settings.dropout;
    return settings;
}

// PEFT's get_pattern_key: the first pattern KEY with re.match(r"(.*\.)?(KEY)$", module).
const QJsonValue *matchPattern(const QJsonObject &pattern, const std::string &module, QJsonValue &holder)
{
    for (auto it = pattern.begin(); it != pattern.end(); ++it) {
        try {
            if (std::regex_match(module, std::regex("(.*\\.)?(" + it.key().toStdString() + ")"))) {
                holder = it.value();
                return &holder;
            }
        } catch (const std::regex_error &) {
            throw Error("the pattern '" + it.key().toStdString() + "' is not a regular expression Nugget can read");
        }
    }
    return nullptr;
}

// A value PEFT writes for an option that is off.
bool isDefaultValue(const QJsonValue &value)
{
    return value.isNull() || value.isUndefined() || (value.isBool() && !value.toBool()) ||
           (value.isObject() && value.toObject().isEmpty()) || (value.isArray() && value.toArray().isEmpty());
}

// The keys of adapter_config.json Nugget reads or that change nothing it applies.
const std::set<QString> kHarmlessKeys = {
    QStringLiteral("peft_type"), QStringLiteral("task_type"), QStringLiteral("r"), QStringLiteral("lora_alpha"),
    QStringLiteral("lora_dropout"), QStringLiteral("target_modules"), QStringLiteral("base_model_name_or_path"),
    QStringLiteral("revision"), QStringLiteral("inference_mode"), QStringLiteral("peft_version"),
    QStringLiteral("auto_mapping"), QStringLiteral("layers_to_transform"), QStringLiteral("layers_pattern"),
    QStringLiteral("exclude_modules"), QStringLiteral("megatron_core"), QStringLiteral("qalora_group_size"),
    QStringLiteral("use_rslora"), QStringLiteral("rank_pattern"), QStringLiteral("alpha_pattern"),
    QStringLiteral("bias"), QStringLiteral("init_lora_weights"),
    // Nugget before nugget_adapter.json kept its provenance here.
    QStringLiteral("nugget_init"), QStringLiteral("nugget_role"),
};

void checkOptions(const QJsonObject &config, const std::string &configPath)
{
    auto refuse = [&](const QString &key, const std::string &why) {
        throw Error(configPath + ": '" + key.toStdString() + "' " + why);
    };
    for (auto it = config.begin(); it != config.end(); ++it) {
        if (!kHarmlessKeys.count(it.key()) && !isDefaultValue(it.value()))
            refuse(it.key(), "is set, and Nugget cannot apply that option (" +
                                 QJsonDocument(QJsonObject{{it.key(), it.value()}}).toJson(QJsonDocument::Compact)
                                     .toStdString() + "); only plain LoRA adapters load");
    }
    const auto bias = config.value(QStringLiteral("bias"));
    if (!bias.isUndefined() && !bias.isNull() && bias.toString() != QLatin1String("none"))
        refuse(QStringLiteral("bias"), "is not \"none\": Nugget's models have no trained biases to load");
    const auto init = config.value(QStringLiteral("init_lora_weights"));
    if (init.isString() && init.toString() != QLatin1String("gaussian"))
        refuse(QStringLiteral("init_lora_weights"),
               "is \"" + init.toString().toStdString() + "\": that initialisation changes the base weights, which "
               "PEFT redoes on loading; save the adapter with path_initial_model_for_weight_conversion so that it "
               "applies to the untouched model");
    for (const char *pattern : {"rank_pattern", "alpha_pattern"}) {
        const auto value = config.value(QLatin1String(pattern));
        if (isDefaultValue(value))
            continue;
        if (!value.isObject())
            refuse(QLatin1String(pattern), std::string("must be an object, not ") + jsonTypeName(value));
        const auto object = value.toObject();
        for (auto it = object.begin(); it != object.end(); ++it)
            if (!it.value().isDouble() || !(it.value().toDouble() > 0))
                refuse(QLatin1String(pattern), "maps '" + it.key().toStdString() + "' to something other than a "
                                               "positive number");
    }
    const auto rslora = config.value(QStringLiteral("use_rslora"));
    if (!rslora.isUndefined() && !rslora.isNull() && !rslora.isBool())
        refuse(QStringLiteral("use_rslora"), std::string("must be true or false, not ") + jsonTypeName(rslora));
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
        if (first)
            adapter.settings = *settings;
        first = false;
        adapter.factors[path + ".weight"] = {a.detach().cpu().contiguous(), b.detach().cpu().contiguous(), *settings};
    }
    if (adapter.factors.empty())
        throw Error("the model has no LoRA adapter to export");
    adapter.tiedEmbedding = model->config().tieWordEmbeddings;
    return adapter;
}

PeftAdapter adapterForUntouchedBase(const PeftAdapter &trained, const std::map<std::string, AdapterFactors> &initial)
{
    PeftAdapter converted = trained;
    bool any = false;
    for (auto &[name, factors] : converted.factors) {
        const auto found = initial.find(name);
        if (found == initial.end())
            continue;
        const auto settings = effectiveSettings(trained, factors);
        const auto &start = found->second;
        const int64_t rank = settings.rank, initialRank = start.a.size(0);
        factors.a = at::cat({factors.a, start.a.detach().to(at::kCPU, factors.a.scalar_type())}, 0).contiguous();
        factors.b = at::cat({factors.b, -start.b.detach().to(at::kCPU, factors.b.scalar_type())}, 1).contiguous();
        // Rank and alpha grow alike: the scaling alpha / rank stays (PEFT doubles both).
        factors.settings = LoraSettings{rank + initialRank, settings.alpha * double(rank + initialRank) / double(rank),
                                        settings.dropout};
        if (!any)
            converted.settings = *factors.settings;
        any = true;
    }
    return converted;
}

std::pair<PeftAdapter, std::map<std::string, AdapterFactors>>
splitInitialFactors(const PeftAdapter &adapter, const std::map<std::string, int64_t> &initialRanks)
{
    PeftAdapter trained = adapter;
    std::map<std::string, AdapterFactors> initial;
    bool first = true;
    for (auto &[name, factors] : trained.factors) {
        auto found = initialRanks.find(name);
        if (found == initialRanks.end() && name == kHead && adapter.tiedEmbedding)
            found = initialRanks.find(kEmbedding);   // the tied head's share splits like the embedding
        if (found == initialRanks.end() || found->second == 0)
            continue;
        const auto settings = effectiveSettings(adapter, factors);
        const int64_t total = settings.rank, initialRank = found->second, rank = total - initialRank;
        if (initialRank < 0 || rank < 1)
            throw Error("'" + name + "' has rank " + std::to_string(total) + ", too small to hold " +
                        std::to_string(initialRank) + " initial factors besides the trained ones");
        const double scaling = settings.scaling();
        const auto a = factors.a, b = factors.b;
        if (name != kHead || !adapter.tiedEmbedding)
            initial[name] = {a.narrow(0, rank, initialRank).contiguous(), (-b.narrow(1, rank, initialRank)).contiguous(),
                             LoraSettings{initialRank, scaling * double(initialRank), settings.dropout}};
        factors = {a.narrow(0, 0, rank).contiguous(), b.narrow(1, 0, rank).contiguous(),
                   LoraSettings{rank, scaling * double(rank), settings.dropout}};
        if (first)
            trained.settings = *factors.settings;
        first = false;
    }
    return {trained, initial};
}

void writePeftAdapter(const std::string &dir, const PeftAdapter &adapter, const QJsonObject &provenance)
{
    if (!QDir().mkpath(QString::fromStdString(dir)))
        throw Error(dir + ": cannot create the folder");
    const QDir folder(QString::fromStdString(dir));
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    std::set<std::string> targets;
    auto factorsByWeight = adapter.factors;
    if (adapter.tiedEmbedding && factorsByWeight.count(kEmbedding))
        factorsByWeight[kHead] = headShare(factorsByWeight.at(kEmbedding));
    // r and lora_alpha: the most common pair; the other matrices go into the patterns.
    std::map<std::pair<int64_t, double>, int> counts;
    for (const auto &[weightName, factors] : factorsByWeight) {
        const auto settings = effectiveSettings(adapter, factors);
        ++counts[{settings.rank, settings.alpha}];
    }
    auto common = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
        if (it->second > common->second)
            common = it;
    QJsonObject rankPattern, alphaPattern;
    for (const auto &[weightName, factors] : factorsByWeight) {
        const std::string path = modulePathOf(weightName);
        const bool embedding = endsWith(path, "embed_tokens");
        tensors.emplace_back(peftKey(path + (embedding ? kEmbedA : ".lora_A.weight")), factors.a.contiguous());
        tensors.emplace_back(peftKey(path + (embedding ? kEmbedB : ".lora_B.weight")), factors.b.contiguous());
        targets.insert(moduleLeaf(path));
        const auto settings = effectiveSettings(adapter, factors);
        if (settings.rank != common->first.first)
            rankPattern[QString::fromStdString(path)] = static_cast<qint64>(settings.rank);
        if (settings.alpha != common->first.second)
            alphaPattern[QString::fromStdString(path)] = settings.alpha;
    }
    writeSafetensors(folder.filePath(QStringLiteral("adapter_model.safetensors")).toStdString(), tensors,
                     {{"format", "pt"}});

    QJsonArray targetModules;
    for (const auto &t : targets)
        targetModules.append(QString::fromStdString(t));
    // Only keys PEFT's LoraConfig has had since before 0.14, written as PEFT writes them.
    const QJsonObject config{
        {QStringLiteral("peft_type"), QStringLiteral("LORA")},
        {QStringLiteral("peft_version"), QLatin1String(kPeftFormatVersion)},
        {QStringLiteral("task_type"), QStringLiteral("CAUSAL_LM")},
        {QStringLiteral("r"), static_cast<qint64>(common->first.first)},
        {QStringLiteral("lora_alpha"), common->first.second},
        {QStringLiteral("lora_dropout"), adapter.settings.dropout},
        {QStringLiteral("target_modules"), targetModules},
        {QStringLiteral("rank_pattern"), rankPattern},
        {QStringLiteral("alpha_pattern"), alphaPattern},
        {QStringLiteral("base_model_name_or_path"), QString::fromStdString(adapter.baseModel)},
        {QStringLiteral("revision"), QJsonValue::Null},
        {QStringLiteral("modules_to_save"), QJsonValue::Null},
        {QStringLiteral("bias"), QStringLiteral("none")},
        {QStringLiteral("fan_in_fan_out"), false},
        {QStringLiteral("use_rslora"), false},
        {QStringLiteral("use_dora"), false},
        {QStringLiteral("inference_mode"), true},
        {QStringLiteral("init_lora_weights"), true},
    };
    writeFileAtomically(folder.filePath(QStringLiteral("adapter_config.json")).toStdString(),
                        QJsonDocument(config).toJson());
    if (!provenance.isEmpty())
        writeFileAtomically(folder.filePath(QLatin1String(kProvenanceFile)).toStdString(),
                            QJsonDocument(provenance).toJson());
}

QJsonObject readAdapterProvenance(const std::string &dir)
{
    const QString path = QDir(QString::fromStdString(dir)).filePath(QLatin1String(kProvenanceFile));
    QFile file(path);
    if (!file.exists())
        return {};
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path.toStdString() + ": cannot read");
    QJsonParseError error;
    const auto document = QJsonDocument::fromJson(file.readAll(), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        throw Error(path.toStdString() + ": not a JSON object" +
                    (error.error != QJsonParseError::NoError ? ": " + error.errorString().toStdString() : ""));
    return document.object();
}

PeftAdapter readPeftAdapter(const std::string &dir)
{
    const QDir folder(QString::fromStdString(dir));
    const QString configPath = folder.filePath(QStringLiteral("adapter_config.json"));
    const std::string configName = configPath.toStdString();
    QFile file(configPath);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(configName + ": cannot read (not a PEFT adapter folder?)");
    QJsonParseError error;
    const auto config = QJsonDocument::fromJson(file.readAll(), &error).object();
    if (error.error != QJsonParseError::NoError)
        throw Error(configName + ": invalid JSON: " + error.errorString().toStdString());
    if (config.value(QStringLiteral("peft_type")).toString() != QLatin1String("LORA"))
        throw Error(configName + ": peft_type is not LORA");
    checkOptions(config, configName);
    PeftAdapter adapter;
    const bool rslora = config.value(QStringLiteral("use_rslora")).toBool(false);
    // Nugget's scaling is alpha / rank; rsLoRA's alpha / sqrt(rank) is alpha * sqrt(rank) / rank.
    auto nuggetAlpha = [&](double alpha, int64_t rank) { return rslora ? alpha * std::sqrt(double(rank)) : alpha; };
    const int64_t rank = config.value(QStringLiteral("r")).toInteger(0);
    const double alpha = config.value(QStringLiteral("lora_alpha")).toDouble(0);
    if (rank < 1 || !(alpha > 0))
        throw Error(configName + ": r and lora_alpha must be positive");
    adapter.settings = {rank, nuggetAlpha(alpha, rank), config.value(QStringLiteral("lora_dropout")).toDouble(0)};
    adapter.baseModel = config.value(QStringLiteral("base_model_name_or_path")).toString().toStdString();
    const auto rankPattern = config.value(QStringLiteral("rank_pattern")).toObject();
    const auto alphaPattern = config.value(QStringLiteral("alpha_pattern")).toObject();

    const auto weightsPath = folder.filePath(QStringLiteral("adapter_model.safetensors")).toStdString();
    const auto weights = SafetensorsFile::open(weightsPath);
    for (const auto &info : weights->tensors()) {
        const std::string name = parameterNameFromPeftKey(info.name);
        bool known = false;
        for (const auto &[suffix, isA] : {std::pair{std::string(".lora_A.weight"), true}, {".lora_B.weight", false},
                                         {kEmbedA, true}, {kEmbedB, false}}) {
            if (!endsWith(name, suffix))
                continue;
            auto &entry = adapter.factors[name.substr(0, name.size() - suffix.size()) + ".weight"];
            (isA ? entry.a : entry.b) = weights->tensor(info.name).to(at::kFloat).clone();
            known = true;
        }
        if (!known && endsWith(name, ".base_layer.weight")) {
            adapter.baseWeights[name.substr(0, name.size() - 18) + ".weight"] = weights->tensor(info.name).clone();
            known = true;
        }
        if (!known)
            throw Error(weightsPath + ": '" + info.name + "' is not a LoRA factor (lora_A, lora_B, "
                        "lora_embedding_A, lora_embedding_B or a base_layer weight); Nugget loads plain LoRA adapters only");
    }
    for (auto &[name, factors] : adapter.factors) {
        if (!factors.a.defined() || !factors.b.defined())
            throw Error(dir + ": the adapter of '" + name + "' lacks its A or B factor");
        const std::string module = modulePathOf(name);
        QJsonValue holder;
        int64_t moduleRank = rank;
        double moduleAlpha = alpha;
        if (const auto *value = matchPattern(rankPattern, module, holder))
            moduleRank = value->toInteger();
        if (const auto *value = matchPattern(alphaPattern, module, holder))
            moduleAlpha = value->toDouble();
        if (factors.a.dim() != 2 || factors.b.dim() != 2 || factors.a.size(0) != moduleRank ||
            factors.b.size(1) != moduleRank)
            throw Error(weightsPath + ": the factors of '" + module + "' are not of rank " + std::to_string(moduleRank) +
                        " as " + configName + " gives it (r, rank_pattern)");
        factors.settings = LoraSettings{moduleRank, nuggetAlpha(moduleAlpha, moduleRank), adapter.settings.dropout};
    }
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
                   effectiveSettings(adapter, head).scaling() == effectiveSettings(adapter, expected).scaling() &&
                   at::allclose(head.a.to(at::kFloat), expected.a.to(at::kFloat)) &&
                   at::allclose(head.b.to(at::kFloat), expected.b.to(at::kFloat));
        }();
        if (!share)
            throw Error("the adapter adapts lm_head apart from the embedding, but the model ties them "
                        "(tie_word_embeddings true): one matrix cannot take two adapters");
    }
    for (const auto &[name, stored] : adapter.baseWeights) {
        const auto weight = weightOf(model, name).detach().cpu();
        if (stored.sizes() != weight.sizes() || !at::equal(stored.to(weight.scalar_type()), weight))
            throw Error("the adapter carries its own '" + name + "' (a base_layer weight) that differs from the "
                        "model's: it belongs to another base model, or one with a resized vocabulary");
    }
    for (const auto &[name, factors] : adapter.factors)
        if (!(tied && name == kHead))   // carried by the embedding's adapter
            attachLora(model, name, effectiveSettings(adapter, factors), factors.a, factors.b);
}

} // namespace nugget
