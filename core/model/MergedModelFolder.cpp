#include "model/MergedModelFolder.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/AtomicFolder.h"
#include "io/Safetensors.h"
#include "io/TensorStore.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <torch/torch.h>

#include <cstdio>
#include <set>

namespace nugget {

namespace {

const std::string kEmbedding = "model.embed_tokens.weight";

const char *dtypeName(at::ScalarType dtype)
{
    return dtype == at::kBFloat16 ? "bfloat16" : dtype == at::kHalf ? "float16" : "float32";
}

QJsonObject readJsonObject(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path.toStdString() + ": cannot read");
    QJsonParseError error;
    const auto document = QJsonDocument::fromJson(file.readAll(), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        throw Error(path.toStdString() + ": not a JSON object");
    return document.object();
}

void writeJson(const QDir &folder, const char *name, const QJsonObject &object)
{
    writeFileAtomically(folder.filePath(QLatin1String(name)).toStdString(), QJsonDocument(object).toJson());
}

void copyFile(const QString &from, const QString &to)
{
    QFile source(from);
    if (!source.open(QIODevice::ReadOnly))
        throw Error(from.toStdString() + ": cannot read");
    writeFileAtomically(to.toStdString(), source.readAll());
}

// The merged value of one tensor: the student's, plus the adapter's delta if it has one.
at::Tensor mergedTensor(const TensorStore &store, const std::string &name, const PeftAdapter *adapter,
                        std::optional<at::ScalarType> storageDtype)
{
    const auto stored = store.tensor(name);
    const auto storage = storageDtype.value_or(stored.scalar_type());
    at::Tensor value;
    const AdapterFactors *factors = nullptr;
    if (adapter)
        if (const auto found = adapter->factors.find(name); found != adapter->factors.end())
            factors = &found->second;
    if (!factors) {
        value = stored.to(storage).clone();
    } else {
        const auto settings = factors->settings ? *factors->settings : adapter->settings;
        auto delta = at::matmul(factors->b.to(at::kFloat), factors->a.to(at::kFloat)) * settings.scaling();
        if (name == kEmbedding)   // PEFT's embedding factors: B A is [hidden, vocab]
            delta = delta.t();
        if (delta.sizes() != stored.sizes())
            throw Error("the adapter of '" + name + "' does not fit the student's matrix");
        value = (stored.to(at::kFloat) + delta).to(storage);   // rounded once
    }
    releaseMappedPages(stored);
    return value.contiguous();
}

std::string shardName(size_t index, size_t count)
{
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
    return name;
}

void writeWeights(LlamaForCausalLM &model, const std::string &studentDir, const PeftAdapter *adapter,
                  const QDir &folder, const MergedFolderOptions &options)
{
    const auto store = TensorStore::openFolder(studentDir);
    std::vector<std::string> names;
    std::set<std::string> known;
    for (const auto &item : model->named_parameters())
        if (item.key().find(".lora_") == std::string::npos) {
            names.push_back(item.key());
            known.insert(item.key());
        }
    if (adapter)
        for (const auto &[name, factors] : adapter->factors)
            if (!known.count(name) && !(name == "lm_head.weight" && model->config().tieWordEmbeddings))
                throw Error("the adapter adapts '" + name + "', which the student has no parameter for");
    // Shards as transformers cuts them: in order, a new one when the next tensor would
    // not fit (a tensor larger than the limit gets a shard of its own).
    std::vector<std::vector<std::string>> shards(1);
    uint64_t shardBytes = 0, totalBytes = 0, totalParameters = 0;
    for (const auto &name : names) {
        const auto storage = options.storageDtype.value_or(store.tensor(name).scalar_type());
        const uint64_t bytes = static_cast<uint64_t>(store.info(name).numel()) * c10::elementSize(storage);
        if (!shards.back().empty() && shardBytes + bytes > options.maxShardBytes) {
            shards.emplace_back();
            shardBytes = 0;
        }
        shards.back().push_back(name);
        shardBytes += bytes;
        totalBytes += bytes;
        totalParameters += static_cast<uint64_t>(store.info(name).numel());
    }
    QJsonObject weightMap;
    for (size_t i = 0; i < shards.size(); ++i) {
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto &name : shards[i])
            tensors.emplace_back(name, mergedTensor(store, name, adapter, options.storageDtype));
        const std::string file = shards.size() == 1 ? "model.safetensors" : shardName(i, shards.size());
        writeSafetensors(folder.filePath(QString::fromStdString(file)).toStdString(), tensors, {{"format", "pt"}});
        for (const auto &name : shards[i])
            weightMap[QString::fromStdString(name)] = QString::fromStdString(file);
    }
    if (shards.size() > 1)
        writeJson(folder, "model.safetensors.index.json",
                  {{QStringLiteral("metadata"),
                    QJsonObject{{QStringLiteral("total_size"), static_cast<qint64>(totalBytes)},
                                {QStringLiteral("total_parameters"), static_cast<qint64>(totalParameters)}}},
                   {QStringLiteral("weight_map"), weightMap}});
}

void writeConfigs(const QDir &student, const QDir &folder, at::ScalarType storage)
{
    // The student's own config.json: the merge changes no hyperparameter, only the dtype.
    auto config = readJsonObject(student.filePath(QStringLiteral("config.json")));
    const bool v5 = config.contains(QStringLiteral("dtype"));
    if (v5)
        config[QStringLiteral("dtype")] = QLatin1String(dtypeName(storage));
    if (!v5 || config.contains(QStringLiteral("torch_dtype")))
        config[QStringLiteral("torch_dtype")] = QLatin1String(dtypeName(storage));
    writeJson(folder, "config.json", config);

    const QString generation = student.filePath(QStringLiteral("generation_config.json"));
    if (QFileInfo::exists(generation)) {
        copyFile(generation, folder.filePath(QStringLiteral("generation_config.json")));
        return;
    }
    QJsonObject written{{QStringLiteral("_from_model_config"), true}};
    for (const char *key : {"bos_token_id", "eos_token_id", "pad_token_id"})   // eos: one id or all of them
        if (const auto value = config.value(QLatin1String(key)); !value.isUndefined() && !value.isNull())
            written[QLatin1String(key)] = value;
    writeJson(folder, "generation_config.json", written);
}

void writeTokenizerFiles(const QDir &student, const QDir &folder, const QJsonObject &config)
{
    const QString model = student.filePath(QStringLiteral("tokenizer.model"));
    if (!QFileInfo::exists(model))
        return;
    copyFile(model, folder.filePath(QStringLiteral("tokenizer.model")));
    if (QFileInfo::exists(student.filePath(QStringLiteral("tokenizer.json"))))
        copyFile(student.filePath(QStringLiteral("tokenizer.json")), folder.filePath(QStringLiteral("tokenizer.json")));
    const auto tokenizer = Tokenizer::load(model.toStdString());
    auto piece = [&](int64_t id) { return id >= 0 ? QJsonValue(QString::fromStdString(tokenizer->piece(id))) : QJsonValue(); };
    const QJsonObject special{{QStringLiteral("bos_token"), piece(tokenizer->bosId())},
                              {QStringLiteral("eos_token"), piece(tokenizer->eosId())},
                              {QStringLiteral("unk_token"), piece(tokenizer->unkId())}};

    const QString tokenizerConfig = student.filePath(QStringLiteral("tokenizer_config.json"));
    QJsonObject settings;
    if (QFileInfo::exists(tokenizerConfig)) {
        settings = readJsonObject(tokenizerConfig);
    } else {
        settings = special;
        settings[QStringLiteral("tokenizer_class")] = QStringLiteral("LlamaTokenizer");
        settings[QStringLiteral("pad_token")] = piece(tokenizer->padId());
        settings[QStringLiteral("add_bos_token")] = true;
        settings[QStringLiteral("add_eos_token")] = false;
        settings[QStringLiteral("legacy")] = true;   // as sentencepiece: text after a special token gets its space
        settings[QStringLiteral("clean_up_tokenization_spaces")] = false;
        settings[QStringLiteral("sp_model_kwargs")] = QJsonObject();
        if (config.contains(QStringLiteral("max_position_embeddings")))
            settings[QStringLiteral("model_max_length")] = config.value(QStringLiteral("max_position_embeddings"));
    }
    // The merged model answers in the format it was fine-tuned on.
    settings[QStringLiteral("chat_template")] = QString::fromStdString(nuggetChatTemplate());
    writeJson(folder, "tokenizer_config.json", settings);

    const QString map = student.filePath(QStringLiteral("special_tokens_map.json"));
    if (QFileInfo::exists(map))
        copyFile(map, folder.filePath(QStringLiteral("special_tokens_map.json")));
    else
        writeJson(folder, "special_tokens_map.json", special);
}

} // namespace

std::string nuggetChatTemplate()
{
    // text/ChatDataset.cpp renders the same: keep the two in step.
    return "{{ bos_token }}"
           "{% for message in messages %}"
           "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
           "{{ raise_exception('the roles are system, user and assistant') }}"
           "{% endif %}"
           "{% if message['role'] == 'assistant' %}"
           "{{ '<|assistant|>\n' + message['content'] + eos_token }}"
           "{% else %}"
           "{{ '<|' + message['role'] + '|>\n' + message['content'] + '\n\n' }}"
           "{% endif %}"
           "{% endfor %}"
           "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
}

uint64_t parseShardSize(const std::string &text)
{
    static const QRegularExpression pattern(QStringLiteral("^\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(B|KB|MB|GB|TB)?\\s*$"),
                                            QRegularExpression::CaseInsensitiveOption);
    const auto match = pattern.match(QString::fromStdString(text));
    if (!match.hasMatch())
        throw Error("'" + text + "' is not a size (e.g. 5GB, 500MB or a number of bytes)");
    const QString unit = match.captured(2).toUpper();
    const double scale = unit == QLatin1String("KB") ? 1e3 : unit == QLatin1String("MB") ? 1e6
                         : unit == QLatin1String("GB") ? 1e9 : unit == QLatin1String("TB") ? 1e12 : 1;
    const double bytes = match.captured(1).toDouble() * scale;
    if (!(bytes >= 1))
        throw Error("'" + text + "': a shard needs at least one byte");
    return static_cast<uint64_t>(bytes);
}

void writeMergedModelFolder(LlamaForCausalLM &model, const std::string &studentDir, const PeftAdapter *adapter,
                            const std::string &dir, const MergedFolderOptions &options)
{
    std::set<std::string> own = {"config.json",           "model.safetensors",       "model.safetensors.index.json",
                                 "generation_config.json", "tokenizer.model",         "tokenizer.json",
                                 "tokenizer_config.json",  "special_tokens_map.json"};
    // The shards of an earlier merge into the same folder are ours to replace as well.
    static const QRegularExpression shard(QStringLiteral("^model-[0-9]{5}-of-[0-9]{5}\\.safetensors$"));
    for (const auto &entry : QDir(QString::fromStdString(dir)).entryList(QDir::Files))
        if (shard.match(entry).hasMatch())
            own.insert(entry.toStdString());
    torch::NoGradGuard noGrad;
    const QDir student(QString::fromStdString(studentDir));
    writeFolderAtomically(dir, own, [&](const std::string &staging) {
        const QDir folder(QString::fromStdString(staging));
        writeWeights(model, studentDir, adapter, folder, options);
        const auto store = TensorStore::openFolder(studentDir);
        const auto names = store.names();
        const auto storage = options.storageDtype.value_or(
            names.empty() ? at::kFloat : store.tensor(store.contains(kEmbedding) ? kEmbedding : names.front()).scalar_type());
        writeConfigs(student, folder, storage);
        writeTokenizerFiles(student, folder, readJsonObject(student.filePath(QStringLiteral("config.json"))));
    });
}

} // namespace nugget
