#include "io/Safetensors.h"

#include "Error.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QSaveFile>
#include <QString>
#include <QtEndian>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static_assert(Q_BYTE_ORDER == Q_LITTLE_ENDIAN,
              "safetensors data is little-endian; tensors are mapped without byte swapping");

namespace nugget {

namespace {

struct DtypeEntry
{
    const char *name;
    c10::ScalarType type;
};

constexpr DtypeEntry kDtypes[] = {
    {"F64", c10::ScalarType::Double}, {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},   {"BF16", c10::ScalarType::BFloat16},
    {"I64", c10::ScalarType::Long},   {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},  {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},    {"BOOL", c10::ScalarType::Bool},
};

std::string knownDtypeList()
{
    std::string out;
    for (const auto &d : kDtypes) {
        if (!out.empty())
            out += ", ";
        out += d.name;
    }
    return out;
}

std::string shapeString(const std::vector<int64_t> &shape)
{
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            out += ',';
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

std::string offsetsString(uint64_t begin, uint64_t end)
{
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string errnoText(int err) { return std::strerror(err); }

// Qt reports some failed writes (a full disk among them) as "Unknown error"; the
// system's reason is then still in errno.
std::string ioReason(const QFileDevice &file, int err)
{
    if (err != 0 && (file.error() == QFileDevice::NoError || file.errorString() == QLatin1String("Unknown error")))
        return errnoText(err);
    return file.errorString().toStdString();
}

// Encodes a string as a JSON string literal (quotes included).
QByteArray jsonString(const std::string &text)
{
    const QByteArray array = QJsonDocument(QJsonArray{QString::fromStdString(text)})
                                 .toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);   // strip the enclosing [ ]
}

// A JSON number that is a non-negative integer exactly representable as a double.
bool toNonNegativeInteger(const QJsonValue &value, uint64_t &out)
{
    if (!value.isDouble())
        return false;
    const double d = value.toDouble();
    if (!std::isfinite(d) || d < 0 || d > 9007199254740992.0 || std::floor(d) != d)
        return false;
    out = static_cast<uint64_t>(d);
    return true;
}

// Keys of the top-level object, in order of appearance, taken from the raw text.
// QJsonDocument keeps only one entry per key, so duplicates are only visible here.
// The text must already have parsed as a JSON object.
std::vector<QString> topLevelKeys(const QByteArray &json)
{
    std::vector<QString> keys;
    int depth = 0;
    char lastStructural = 0;   // last '{', '[', ',' or ':' seen outside strings
    for (qsizetype i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (c == '"') {
            const qsizetype start = i;
            for (++i; i < json.size() && json[i] != '"'; ++i) {
                if (json[i] == '\\')
                    ++i;
            }
            if (depth == 1 && (lastStructural == '{' || lastStructural == ',')) {
                const QByteArray literal = json.mid(start, i - start + 1);
                if (literal.contains('\\')) {
                    const QJsonDocument decoded = QJsonDocument::fromJson("[" + literal + "]");
                    keys.push_back(decoded.array().at(0).toString());
                } else {
                    keys.push_back(QString::fromUtf8(literal.mid(1, literal.size() - 2)));
                }
            }
            lastStructural = 0;
            continue;
        }
        switch (c) {
        case '{':
        case '[':
            ++depth;
            lastStructural = c;
            break;
        case '}':
        case ']':
            --depth;
            lastStructural = 0;
            break;
        case ',':
        case ':':
            lastStructural = c;
            break;
        default:
            break;
        }
    }
    return keys;
}

} // namespace

int64_t TensorInfo::numel() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

c10::ScalarType safetensorsDtype(const std::string &name)
{
    for (const auto &d : kDtypes) {
        if (name == d.name)
            return d.type;
    }
    throw Error("unknown safetensors dtype '" + name + "' (known: " + knownDtypeList() + ")");
}

std::string safetensorsDtypeName(c10::ScalarType dtype)
{
    for (const auto &d : kDtypes) {
        if (dtype == d.type)
            return d.name;
    }
    throw Error(std::string("dtype ") + c10::toString(dtype) +
                " cannot be stored in safetensors (supported: " + knownDtypeList() + ")");
}

// ---------------------------------------------------------------------------------------

struct SafetensorsFile::Mapping
{
    void *address = MAP_FAILED;
    size_t size = 0;

    Mapping() = default;
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    ~Mapping()
    {
        if (address != MAP_FAILED)
            ::munmap(address, size);
    }
    const char *bytes() const { return static_cast<const char *>(address); }
};

SafetensorsFile::~SafetensorsFile() = default;

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path)
{
    std::shared_ptr<SafetensorsFile> file(new SafetensorsFile);
    file->m_path = path;
    const std::string where = path + ": ";

    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(where + "cannot open file (" + errnoText(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw Error(where + "cannot read file size (" + errnoText(err) + ")");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(where + "not a regular file");
    }
    const uint64_t fileSize = static_cast<uint64_t>(st.st_size);
    if (fileSize < 8) {
        ::close(fd);
        throw Error(where + "file is " + std::to_string(fileSize) +
                    " bytes long; a safetensors file is at least 8 bytes (the header length)");
    }

    auto mapping = std::make_shared<Mapping>();
    // Private and writable: tensors may be modified in place (copy-on-write pages);
    // nothing ever reaches the file.
    mapping->address = ::mmap(nullptr, fileSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int mapErr = errno;
    ::close(fd);
    if (mapping->address == MAP_FAILED)
        throw Error(where + "cannot map file into memory (" + errnoText(mapErr) + ")");
    mapping->size = fileSize;
    file->m_mapping = mapping;

    const uint64_t headerLength = qFromLittleEndian<quint64>(mapping->bytes());
    if (headerLength > kMaxHeaderBytes)
        throw Error(where + "header length " + std::to_string(headerLength) +
                    " bytes is larger than the 100 MB limit; this is not a safetensors file "
                    "or it is corrupt");
    if (8 + headerLength > fileSize)
        throw Error(where + "header length " + std::to_string(headerLength) +
                    " exceeds the file size (" + std::to_string(fileSize) +
                    " bytes); the file is truncated or not a safetensors file");
    file->m_dataStart = 8 + headerLength;
    const uint64_t dataSize = fileSize - file->m_dataStart;

    const QByteArray headerText =
        QByteArray::fromRawData(mapping->bytes() + 8, static_cast<qsizetype>(headerLength));
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(headerText, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        throw Error(where + "header is not valid JSON: " + parseError.errorString().toStdString() +
                    " at offset " + std::to_string(parseError.offset) + " of the header");
    if (!doc.isObject())
        throw Error(where + "header JSON must be an object mapping tensor names to entries");
    const QJsonObject header = doc.object();

    // Duplicate keys: QJsonDocument silently keeps one of them.
    {
        std::set<QString> seen;
        for (const QString &key : topLevelKeys(headerText)) {
            if (!seen.insert(key).second)
                throw Error(where + "duplicate tensor name '" + key.toStdString() +
                            "' in the header");
        }
    }

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string name = it.key().toStdString();
        if (name == "__metadata__") {
            if (!it.value().isObject())
                throw Error(where + "\"__metadata__\" must be an object of string values");
            const QJsonObject meta = it.value().toObject();
            for (auto m = meta.begin(); m != meta.end(); ++m) {
                if (!m.value().isString())
                    throw Error(where + "\"__metadata__\" entry '" + m.key().toStdString() +
                                "' must be a string");
                file->m_metadata[m.key().toStdString()] = m.value().toString().toStdString();
            }
            continue;
        }

        const std::string tensorWhere = where + "tensor '" + name + "' ";
        if (!it.value().isObject())
            throw Error(tensorWhere + "must be an object with dtype, shape and data_offsets");
        const QJsonObject entry = it.value().toObject();

        TensorInfo info;
        info.name = name;

        const QJsonValue dtype = entry.value(QStringLiteral("dtype"));
        if (!dtype.isString())
            throw Error(tensorWhere + "has no \"dtype\" string");
        info.dtypeName = dtype.toString().toStdString();
        try {
            info.dtype = safetensorsDtype(info.dtypeName);
        } catch (const Error &) {
            throw Error(tensorWhere + "has unknown dtype '" + info.dtypeName + "' (known: " +
                        knownDtypeList() + ")");
        }

        const QJsonValue shape = entry.value(QStringLiteral("shape"));
        if (!shape.isArray())
            throw Error(tensorWhere + "has no \"shape\" array");
        uint64_t numel = 1;
        bool numelOverflow = false;
        for (const QJsonValue &dim : shape.toArray()) {
            uint64_t d = 0;
            if (!toNonNegativeInteger(dim, d))
                throw Error(tensorWhere + "shape must be an array of non-negative integers");
            info.shape.push_back(static_cast<int64_t>(d));
            numelOverflow = numelOverflow || __builtin_mul_overflow(numel, d, &numel);
        }

        const QJsonValue offsets = entry.value(QStringLiteral("data_offsets"));
        const QJsonArray offsetArray = offsets.toArray();
        if (!offsets.isArray() || offsetArray.size() != 2 ||
            !toNonNegativeInteger(offsetArray.at(0), info.begin) ||
            !toNonNegativeInteger(offsetArray.at(1), info.end))
            throw Error(tensorWhere +
                        "\"data_offsets\" must be [begin, end] with non-negative integers");
        if (info.begin > info.end)
            throw Error(tensorWhere + "data_offsets " + offsetsString(info.begin, info.end) +
                        " begin after they end");
        if (info.end > dataSize)
            throw Error(tensorWhere + "data_offsets " + offsetsString(info.begin, info.end) +
                        " reach beyond the data section (" + std::to_string(dataSize) +
                        " bytes); the file is truncated or corrupt");

        const uint64_t elementSize = c10::elementSize(info.dtype);
        uint64_t needed = 0;
        if (numelOverflow || __builtin_mul_overflow(numel, elementSize, &needed))
            throw Error(tensorWhere + "shape " + shapeString(info.shape) + " is too large");
        if (needed != info.byteSize())
            throw Error(tensorWhere + "data_offsets " + offsetsString(info.begin, info.end) +
                        " span " + std::to_string(info.byteSize()) + " bytes but shape " +
                        shapeString(info.shape) + " of " + info.dtypeName + " needs " +
                        std::to_string(needed));
        file->m_tensors.push_back(std::move(info));
    }

    std::sort(file->m_tensors.begin(), file->m_tensors.end(),
              [](const TensorInfo &a, const TensorInfo &b) {
                  if (a.begin != b.begin)
                      return a.begin < b.begin;
                  if (a.end != b.end)
                      return a.end < b.end;
                  return a.name < b.name;
              });

    // Overlaps. Empty tensors occupy no bytes and cannot overlap anything.
    const TensorInfo *furthest = nullptr;   // non-empty tensor reaching furthest so far
    for (const TensorInfo &info : file->m_tensors) {
        if (info.byteSize() == 0)
            continue;
        if (furthest && info.begin < furthest->end)
            throw Error(where + "tensors '" + furthest->name + "' " +
                        offsetsString(furthest->begin, furthest->end) + " and '" + info.name +
                        "' " + offsetsString(info.begin, info.end) + " overlap");
        if (!furthest || info.end > furthest->end)
            furthest = &info;
    }

    for (size_t i = 0; i < file->m_tensors.size(); ++i)
        file->m_index.emplace(file->m_tensors[i].name, i);
    return file;
}

const std::string &SafetensorsFile::path() const { return m_path; }

uint64_t SafetensorsFile::fileSize() const { return m_mapping ? m_mapping->size : 0; }

const std::vector<TensorInfo> &SafetensorsFile::tensors() const { return m_tensors; }

const TensorInfo *SafetensorsFile::find(const std::string &name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

const std::map<std::string, std::string> &SafetensorsFile::metadata() const
{
    return m_metadata;
}

at::Tensor SafetensorsFile::tensor(const std::string &name) const
{
    const TensorInfo *info = find(name);
    if (!info)
        throw Error(m_path + ": no tensor named '" + name + "'");

    const auto options = at::TensorOptions().dtype(info->dtype).device(at::kCPU);
    if (info->byteSize() == 0)
        return at::empty(info->shape, options);

    char *data = static_cast<char *>(m_mapping->address) + m_dataStart + info->begin;
    const auto elementSize = static_cast<uintptr_t>(c10::elementSize(info->dtype));
    std::shared_ptr<Mapping> keepAlive = m_mapping;
    at::Tensor view = at::from_blob(
        data, info->shape, [keepAlive](void *) mutable { keepAlive.reset(); }, options);
    // Writers that do not pad the header may leave data unaligned for its element type;
    // kernels expect natural alignment, so such tensors are copied once.
    if (reinterpret_cast<uintptr_t>(data) % elementSize != 0)
        return view.clone();
    return view;
}

// ---------------------------------------------------------------------------------------

void writeSafetensors(const std::string &path,
                      const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata)
{
    const std::string where = path + ": ";

    std::set<std::string> names;
    std::vector<uint64_t> sizes;
    QByteArray header = "{";
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        bool first = true;
        for (const auto &[key, value] : metadata) {
            if (!first)
                header += ',';
            first = false;
            header += jsonString(key) + ':' + jsonString(value);
        }
        header += '}';
    }

    uint64_t offset = 0;
    for (const auto &[name, tensor] : tensors) {
        if (name == "__metadata__")
            throw Error(where + "\"__metadata__\" is reserved and cannot name a tensor");
        if (!names.insert(name).second)
            throw Error(where + "duplicate tensor name '" + name + "'");
        if (!tensor.defined())
            throw Error(where + "tensor '" + name + "' is undefined");
        std::string dtypeName;
        try {
            dtypeName = safetensorsDtypeName(tensor.scalar_type());
        } catch (const Error &e) {
            throw Error(where + "tensor '" + name + "': " + e.what());
        }
        const uint64_t bytes =
            static_cast<uint64_t>(tensor.numel()) * c10::elementSize(tensor.scalar_type());
        sizes.push_back(bytes);

        if (header.size() > 1)
            header += ',';
        header += jsonString(name);
        header += ":{\"dtype\":\"" + QByteArray::fromStdString(dtypeName) + "\",\"shape\":[";
        for (int64_t i = 0; i < tensor.dim(); ++i) {
            if (i)
                header += ',';
            header += QByteArray::number(static_cast<qint64>(tensor.size(i)));
        }
        header += "],\"data_offsets\":[" + QByteArray::number(static_cast<quint64>(offset)) +
                  ',' + QByteArray::number(static_cast<quint64>(offset + bytes)) + "]}";
        offset += bytes;
    }
    header += '}';
    // Pad with spaces so the data section starts 8-byte aligned.
    while ((8 + header.size()) % 8 != 0)
        header += ' ';

    QSaveFile out(QString::fromStdString(path));
    if (!out.open(QIODevice::WriteOnly))
        throw Error(where + "cannot write file (" + out.errorString().toStdString() + ")");

    const auto writeAll = [&](const char *data, qint64 size) {
        errno = 0;
        if (size > 0 && out.write(data, size) != size)
            throw Error(where + "write failed (" + ioReason(out, errno) + ")");
    };

    char lengthBytes[8];
    qToLittleEndian<quint64>(static_cast<quint64>(header.size()), lengthBytes);
    writeAll(lengthBytes, 8);
    writeAll(header.constData(), header.size());

    for (size_t i = 0; i < tensors.size(); ++i) {
        const std::string &name = tensors[i].first;
        at::Tensor data;
        try {
            data = tensors[i].second.to(at::kCPU).contiguous();
        } catch (const std::exception &e) {
            throw Error(where + "cannot read tensor '" + name + "' for writing: " + e.what());
        }
        if (static_cast<uint64_t>(data.nbytes()) != sizes[i])
            throw Error(where + "tensor '" + name + "' changed size while being written");
        writeAll(static_cast<const char *>(data.data_ptr()), static_cast<qint64>(sizes[i]));
    }

    errno = 0;
    if (!out.commit())
        throw Error(where + "cannot save file (" + ioReason(out, errno) + ")");
}

} // namespace nugget
