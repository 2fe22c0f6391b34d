#pragma once
// Model folders broken in one way each, made from a copy of the demo student (bf16,
// untied, 4 layers, hidden 128, vocab 2048): what `nugget-cli info`, the model pane and
// loading must all refuse, each naming the problem.

#include "TestSupport.h"

#include "io/Safetensors.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace nugget::test {

inline QString demoStudent() { return sourceDir() + QStringLiteral("/resources/demo/student"); }

// config.json, model.safetensors and tokenizer.model of the demo student into `dir`.
inline bool copyDemoStudent(const QString &dir)
{
    for (const char *name : {"config.json", "model.safetensors", "tokenizer.model"})
        if (!QFile::copy(demoStudent() + u'/' + QLatin1String(name), dir + u'/' + QLatin1String(name)))
            return false;
    return true;
}

// Rewrites DIR/model.safetensors with `edit` applied to its tensors.
inline void editWeights(const QString &dir, const std::function<void(std::map<std::string, at::Tensor> &)> &edit)
{
    const auto path = (dir + QStringLiteral("/model.safetensors")).toStdString();
    std::map<std::string, at::Tensor> tensors;
    {
        const auto file = SafetensorsFile::open(path);
        for (const auto &info : file->tensors())
            tensors[info.name] = file->tensor(info.name).clone();
    }
    edit(tensors);
    writeSafetensors(path, {tensors.begin(), tensors.end()}, {{"format", "pt"}});
}

inline void editConfig(const QString &dir, const std::function<void(QJsonObject &)> &edit)
{
    const QString path = dir + QStringLiteral("/config.json");
    auto config = QJsonDocument::fromJson(readAll(path)).object();
    edit(config);
    writeBytes(path, QJsonDocument(config).toJson());
}

struct BrokenFolder
{
    QString name;
    std::function<void(const QString &dir)> breakIt;   // applied to a copy of the demo student
    QStringList expected;                             // words of the message(s) naming the problem
    bool loadingRefuses = true;   // false: only the workbench's use fails (the tokenizer)
    bool headersShow = true;      // false: only reading the values finds it
};

inline std::vector<BrokenFolder> brokenFolders()
{
    const auto remove = [](const std::string &name) {
        return [name](const QString &dir) { editWeights(dir, [&](auto &t) { t.erase(name); }); };
    };
    return {
        {QStringLiteral("missing tensor"), remove("model.layers.1.mlp.up_proj.weight"),
         {QStringLiteral("model.safetensors"), QStringLiteral("'model.layers.1.mlp.up_proj.weight' is missing")}},
        {QStringLiteral("transposed tensor"),
         [](const QString &dir) {
             editWeights(dir, [](auto &t) {
                 auto &w = t["model.layers.0.mlp.down_proj.weight"];
                 w = w.t().contiguous();
             });
         },
         {QStringLiteral("model.safetensors"), QStringLiteral("'model.layers.0.mlp.down_proj.weight' has shape [344, 128]"),
          QStringLiteral("transposed")}},
        {QStringLiteral("vocab size disagrees with the embedding"),
         [](const QString &dir) { editConfig(dir, [](QJsonObject &c) { c[QStringLiteral("vocab_size")] = 4096; }); },
         {QStringLiteral("config.json"), QStringLiteral("vocab_size is 4096"), QStringLiteral("has 2048 rows")}},
        {QStringLiteral("more layers in config.json than in the weights"),
         [](const QString &dir) { editConfig(dir, [](QJsonObject &c) { c[QStringLiteral("num_hidden_layers")] = 6; }); },
         {QStringLiteral("config.json"), QStringLiteral("num_hidden_layers is 6"), QStringLiteral("layers 0 to 3")}},
        {QStringLiteral("no tokenizer.model"),
         [](const QString &dir) { QFile::remove(dir + QStringLiteral("/tokenizer.model")); },
         {QStringLiteral("no tokenizer.model")}, false},
        {QStringLiteral("garbage tokenizer.model"),
         [](const QString &dir) { writeBytes(dir + QStringLiteral("/tokenizer.model"), "<html>not found</html>"); },
         {QStringLiteral("tokenizer.model"), QStringLiteral("not a sentencepiece model")}, false},
        {QStringLiteral("tensor the model does not use"),
         [](const QString &dir) {
             editWeights(dir, [](auto &t) { t["model.layers.2.self_attn.q_proj.bias"] = torch::zeros({128}, at::kBFloat16); });
         },
         {QStringLiteral("model.safetensors"), QStringLiteral("'model.layers.2.self_attn.q_proj.bias' is not used")}},
        {QStringLiteral("NaN weight"),
         [](const QString &dir) {
             editWeights(dir, [](auto &t) { t["model.norm.weight"][3] = std::numeric_limits<float>::quiet_NaN(); });
         },
         {QStringLiteral("model.safetensors"), QStringLiteral("'model.norm.weight' contains NaN or infinite values")},
         true, false},
    };
}

} // namespace nugget::test
