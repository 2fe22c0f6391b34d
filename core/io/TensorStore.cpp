#include "io/TensorStore.h"

#include "Error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <sys/mman.h>
#include <unistd.h>

namespace nugget {

namespace {

// Shard names come from an untrusted index: plain file names only.
bool isPlainFileName(const QString &name)
{
    return !name.isEmpty() && !name.contains(u'/') && !name.contains(u'\\') &&
           !name.contains(QStringLiteral("..")) && !name.contains(QChar(0));
}

} // namespace

TensorStore TensorStore::openFile(const std::string &path)
{
    TensorStore store;
    store.m_files.push_back(SafetensorsFile::open(path));
    for (const TensorInfo &info : store.m_files.front()->tensors())
        store.m_fileOf.emplace(info.name, 0);
    return store;
}

TensorStore TensorStore::openFolder(const std::string &dir)
{
    const QDir folder(QString::fromStdString(dir));
    if (!folder.exists())
        throw Error(dir + ": folder does not exist");

    const QString single = folder.filePath(QStringLiteral("model.safetensors"));
    if (QFileInfo(single).isFile())
        return openFile(single.toStdString());

    const QString indexPath = folder.filePath(QStringLiteral("model.safetensors.index.json"));
    if (!QFileInfo(indexPath).isFile())
        throw Error(dir + ": no model.safetensors or model.safetensors.index.json");

    const std::string where = indexPath.toStdString() + ": ";
    QFile indexFile(indexPath);
    if (!indexFile.open(QIODevice::ReadOnly))
        throw Error(where + "cannot read file (" + indexFile.errorString().toStdString() + ")");
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(indexFile.readAll(), &parseError);
    if (parseError.error != QJsonParseError::NoError)
        throw Error(where + "not valid JSON: " + parseError.errorString().toStdString() +
                    " at offset " + std::to_string(parseError.offset));
    if (!doc.isObject())
        throw Error(where + "must contain a JSON object");
    const QJsonValue weightMapValue = doc.object().value(QStringLiteral("weight_map"));
    if (!weightMapValue.isObject())
        throw Error(where + "missing \"weight_map\" object (tensor name -> shard file)");
    const QJsonObject weightMap = weightMapValue.toObject();
    if (weightMap.isEmpty())
        throw Error(where + "\"weight_map\" names no tensors");

    TensorStore store;
    std::map<QString, size_t> shardIndex;   // shard file name -> index in m_files
    for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
        const std::string tensorName = it.key().toStdString();
        if (!it.value().isString())
            throw Error(where + "weight_map entry for '" + tensorName +
                        "' must be a file name string");
        const QString shard = it.value().toString();
        if (!isPlainFileName(shard))
            throw Error(where + "shard name '" + shard.toStdString() + "' for tensor '" +
                        tensorName + "' must be a plain file name in the same folder");

        auto found = shardIndex.find(shard);
        if (found == shardIndex.end()) {
            const QString shardPath = folder.filePath(shard);
            if (!QFileInfo(shardPath).isFile())
                throw Error(where + "shard '" + shard.toStdString() + "' (holding '" +
                            tensorName + "') does not exist in " + dir);
            store.m_files.push_back(SafetensorsFile::open(shardPath.toStdString()));
            found = shardIndex.emplace(shard, store.m_files.size() - 1).first;
        }
        const SafetensorsFile &file = *store.m_files[found->second];
        if (!file.find(tensorName))
            throw Error(where + "tensor '" + tensorName + "' is listed in shard '" +
                        shard.toStdString() + "' but that file does not contain it");
        store.m_fileOf.emplace(tensorName, found->second);
    }
    return store;
}

std::vector<std::string> TensorStore::names() const
{
    std::vector<std::string> out;
    out.reserve(m_fileOf.size());
    for (const auto &entry : m_fileOf)
        out.push_back(entry.first);
    return out;   // std::map keeps them sorted
}

bool TensorStore::contains(const std::string &name) const
{
    return m_fileOf.count(name) != 0;
}

const TensorInfo &TensorStore::info(const std::string &name) const
{
    const auto it = m_fileOf.find(name);
    if (it == m_fileOf.end()) {
        std::string where = "checkpoint";
        if (m_files.size() == 1)
            where = m_files.front()->path();
        else if (!m_files.empty())
            where = QFileInfo(QString::fromStdString(m_files.front()->path()))
                        .absolutePath()
                        .toStdString();
        throw Error(where + ": no tensor named '" + name + "'");
    }
    return *m_files[it->second]->find(name);
}

at::Tensor TensorStore::tensor(const std::string &name) const
{
    info(name);   // throws when absent
    return m_files[m_fileOf.at(name)]->tensor(name);
}

std::vector<std::string> TensorStore::files() const
{
    std::vector<std::string> out;
    out.reserve(m_files.size());
    for (const auto &file : m_files)
        out.push_back(file->path());
    return out;
}

uint64_t TensorStore::totalBytes() const
{
    uint64_t total = 0;
    for (const auto &[name, index] : m_fileOf)
        total += m_files[index]->find(name)->byteSize();
    return total;
}

void releaseMappedPages(const at::Tensor &mapped)
{
    // Without this every layer read stays counted in the resident set and the peak
    // grows with the checkpoint. MADV_DONTNEED on a private file mapping that was never
    // written only drops the page-table entries: the data is re-read from the file.
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(mapped.data_ptr());
    const uintptr_t end = begin + mapped.nbytes();
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first)
        madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
}

} // namespace nugget
