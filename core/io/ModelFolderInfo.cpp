#include "io/ModelFolderInfo.h"

#include "Error.h"
#include "io/TensorStore.h"

#include <QDir>
#include <QFileInfo>

#include <algorithm>
#include <cstdio>

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

} // namespace

ModelFolderInfo ModelFolderInfo::read(const std::string &dir)
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
