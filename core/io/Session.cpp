#include "io/Session.h"

#include "Error.h"
#include "io/ScoreChunks.h"

#include <H5Cpp.h>

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>
#include <QRandomGenerator>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <system_error>

namespace fs = std::filesystem;

namespace nugget {

namespace {

// ---------------------------------------------------------------------------------
// Error reporting. HDF5's default handler prints its whole error stack to stderr. We
// replace it with one that prints nothing and keeps the most specific message (e.g.
// "file signature not found") for our Error text. It has to be captured when the
// failing call returns: the C++ wrappers' destructors run during unwinding, call the
// library again and thereby clear the error stack before a catch block could read it.
// The handler is per thread in HDF5's thread-safe build, so every operation sets it.

thread_local std::string t_hdf5Reason;

herr_t keepInnermost(unsigned n, const H5E_error2_t *entry, void *data)
{
    if (n == 0 && entry && entry->desc && *entry->desc) {
        std::string text = entry->desc;
        // The file drivers' messages span lines of addresses and buffer pointers; the
        // system's reason is what a user needs: "file write failed: No space left on device".
        const std::string marker = "error message = '";
        const size_t start = text.find(marker);
        if (start != std::string::npos) {
            const size_t end = text.find('\'', start + marker.size());
            const std::string what = text.substr(0, text.find(':'));
            text = what + ": " + text.substr(start + marker.size(), end - start - marker.size());
        }
        *static_cast<std::string *>(data) = text;
    }
    return 0;
}

herr_t recordHdf5Error(hid_t stack, void *)
{
    std::string reason;
    H5Ewalk2(stack, H5E_WALK_UPWARD, keepInnermost, &reason);   // innermost first
    if (!reason.empty())
        t_hdf5Reason = reason;
    return 0;
}

void quietHdf5()
{
    H5::Exception::dontPrint();
    H5Eset_auto2(H5E_DEFAULT, recordHdf5Error, nullptr);
    t_hdf5Reason.clear();
}

std::string hdf5Reason(const H5::Exception &e)
{
    if (!t_hdf5Reason.empty())
        return t_hdf5Reason;
    std::string detail = e.getDetailMsg();
    return detail.empty() ? std::string("HDF5 error") : detail;
}

// Runs `fn` and turns HDF5 and torch exceptions into Error "<path>: cannot <what>: ...".
template <typename F>
auto guarded(const std::string &path, const std::string &what, F &&fn) -> decltype(fn())
{
    quietHdf5();
    try {
        return fn();
    } catch (const H5::Exception &e) {
        throw Error(path + ": cannot " + what + ": " + hdf5Reason(e));
    } catch (const c10::Error &e) {
        throw Error(path + ": cannot " + what + ": " + e.what_without_backtrace());
    }
}

// For C calls: negative means failure; the recorded reason explains it.
template <typename T>
T check(T result, const char *function)
{
    if (result < 0)
        throw H5::Exception(function, std::string(function) + " failed");
    return result;
}

// Owns a plain C identifier (property list, file, ...).
class Handle
{
public:
    explicit Handle(hid_t id) : m_id(id) {}
    ~Handle()
    {
        if (m_id >= 0)
            H5Idec_ref(m_id);
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    hid_t get() const { return m_id; }
    void close()
    {
        if (m_id >= 0)
            check(H5Idec_ref(m_id), "H5Idec_ref");
        m_id = -1;
    }

private:
    hid_t m_id;
};

// ---------------------------------------------------------------------------------
// Small typed helpers over the C++ API.

// Strings are fixed-length UTF-8: kept in the (checksummed) object header or in a
// checksummed chunk. Variable-length strings live in HDF5's global heap, which has no
// checksum and which a damaged file can send into an endless loop; sessions never use
// them and the reader refuses them.
H5::StrType utf8Type(size_t length)
{
    H5::StrType type(H5::PredType::C_S1, std::max<size_t>(length, 1));
    type.setCset(H5T_CSET_UTF8);
    type.setStrpad(H5T_STR_NULLPAD);
    return type;
}

constexpr hsize_t kMaxStringBytes = hsize_t(64) << 20;   // bounds what a damaged file can ask for

// `values` side by side in a zero-filled buffer of `width` bytes each.
std::vector<char> packStrings(const std::vector<std::string> &values, size_t width)
{
    std::vector<char> buffer(values.size() * width, '\0');
    for (size_t i = 0; i < values.size(); ++i)
        std::memcpy(buffer.data() + i * width, values[i].data(), values[i].size());
    return buffer;
}

size_t widest(const std::vector<std::string> &values)
{
    size_t width = 1;
    for (const std::string &value : values)
        width = std::max(width, value.size());
    return width;
}

H5::FileAccPropList fileAccess()
{
    H5::FileAccPropList fapl;
    // File systems without flock (some NFS mounts) must not make sessions unreadable.
    check(H5Pset_file_locking(fapl.getId(), true, true), "H5Pset_file_locking");
    // The 1.10 format checksums every superblock, object header and index block, so a
    // damaged file fails to open instead of sending HDF5 round a corrupt B-tree.
    check(H5Pset_libver_bounds(fapl.getId(), H5F_LIBVER_V110, H5F_LIBVER_V110), "H5Pset_libver_bounds");
    return fapl;
}

bool hasLink(const H5::Group &group, const std::string &name)
{
    return check(H5Lexists(group.getId(), name.c_str(), H5P_DEFAULT), "H5Lexists") > 0;
}

// The group at a slash-separated path below `root`, or nothing when any part is absent.
std::optional<H5::Group> findGroup(const H5::Group &root, const std::vector<std::string> &parts)
{
    H5::Group group = root;
    for (const std::string &part : parts) {
        if (!hasLink(group, part))
            return std::nullopt;
        if (group.childObjType(part) != H5O_TYPE_GROUP)
            return std::nullopt;
        group = group.openGroup(part);
    }
    return group;
}

bool hasDataset(const H5::Group &group, const std::string &name)
{
    return hasLink(group, name) && group.childObjType(name) == H5O_TYPE_DATASET;
}

// Creates missing groups on the way; new groups track link creation order so that
// listings come back in the order things were written.
H5::Group ensureGroup(const H5::Group &root, const std::vector<std::string> &parts)
{
    H5::Group group = root;
    for (const std::string &part : parts) {
        if (hasLink(group, part)) {
            group = group.openGroup(part);
            continue;
        }
        Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate"));
        check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
              "H5Pset_link_creation_order");
        Handle id(check(H5Gcreate2(group.getId(), part.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                        "H5Gcreate2"));
        group = H5::Group(id.get());   // the wrapper takes its own reference
    }
    return group;
}

void removeLink(const H5::Group &group, const std::string &name)
{
    if (hasLink(group, name))
        group.unlink(name);
}

// (creation order, name) of each link; the order is -1 where the group does not track it.
herr_t collectLink(hid_t, const char *name, const H5L_info_t *info, void *data)
{
    static_cast<std::vector<std::pair<int64_t, std::string>> *>(data)->emplace_back(
        info && info->corder_valid ? int64_t(info->corder) : int64_t(-1), name);
    return 0;
}

// Links in the order they were created (by name in groups made by tools that do not
// track it). HDF5 1.10 is asked for its native order and the sorting happens here: for
// an explicit order it first builds a table of the links, and when a damaged file makes
// that fail half-way it frees the table's unfilled entries, wild pointers (found by
// tests/fuzz fuzz_session).
std::vector<std::string> linkNames(const H5::Group &group)
{
    std::vector<std::pair<int64_t, std::string>> links;
    hsize_t position = 0;
    check(H5Literate(group.getId(), H5_INDEX_NAME, H5_ITER_NATIVE, &position, collectLink, &links), "H5Literate");
    std::sort(links.begin(), links.end());
    std::vector<std::string> names;
    names.reserve(links.size());
    for (auto &link : links)
        names.push_back(std::move(link.second));
    return names;
}

void writeStringAttribute(const H5::H5Object &object, const std::string &name, const std::string &value)
{
    if (object.attrExists(name))
        object.removeAttr(name);
    const H5::StrType type = utf8Type(value.size());
    H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
    attribute.write(type, packStrings({value}, type.getSize()).data());
}

void writeIntAttribute(const H5::H5Object &object, const std::string &name, int64_t value)
{
    if (object.attrExists(name))
        object.removeAttr(name);
    H5::Attribute attribute =
        object.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
    attribute.write(H5::PredType::NATIVE_INT64, &value);
}

void writeStringListAttribute(const H5::H5Object &object, const std::string &name,
                              const std::vector<std::string> &values)
{
    if (object.attrExists(name))
        object.removeAttr(name);
    const H5::StrType type = utf8Type(widest(values));
    const hsize_t count = values.size();
    H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(1, &count));
    if (!values.empty())
        attribute.write(type, packStrings(values, type.getSize()).data());
}

// Absent attributes and attributes of the wrong kind throw Error naming the object.
H5::Attribute openAttribute(const std::string &path, const H5::H5Object &object,
                            const std::string &objectName, const std::string &name,
                            H5T_class_t expected)
{
    if (!object.attrExists(name))
        throw Error(path + ": " + objectName + " has no attribute \"" + name + "\"");
    H5::Attribute attribute = object.openAttribute(name);
    if (attribute.getTypeClass() != expected)
        throw Error(path + ": attribute \"" + name + "\" of " + objectName + " has the wrong type ("
                    + (expected == H5T_STRING ? "expected a string" : "expected an integer") + ")");
    return attribute;
}

// The fixed-length strings of an attribute or dataset of `count` elements; `read`
// fills the buffer in the file's own string type.
std::vector<std::string> readFixedStrings(const std::string &path, const std::string &what, const H5::StrType &type,
                                          hssize_t count, const std::function<void(const H5::StrType &, void *)> &read)
{
    if (type.isVariableStr())
        throw Error(path + ": " + what + " is a variable-length string, which Nugget sessions do not use");
    const size_t width = type.getSize();
    if (count < 0 || width == 0 || hsize_t(count) * width > kMaxStringBytes)
        throw Error(path + ": " + what + " has an implausible size");
    std::vector<char> buffer(size_t(count) * width, '\0');
    if (!buffer.empty())
        read(type, buffer.data());
    std::vector<std::string> values;
    for (hssize_t i = 0; i < count; ++i) {
        const char *start = buffer.data() + size_t(i) * width;
        values.emplace_back(start, strnlen(start, width));
    }
    return values;
}

std::vector<std::string> readAttributeStrings(const std::string &path, const H5::Attribute &attribute,
                                              const std::string &what)
{
    return readFixedStrings(path, what, attribute.getStrType(), attribute.getSpace().getSimpleExtentNpoints(),
                            [&](const H5::StrType &type, void *buffer) { attribute.read(type, buffer); });
}

std::string readStringAttribute(const std::string &path, const H5::H5Object &object,
                                const std::string &objectName, const std::string &name)
{
    const H5::Attribute attribute = openAttribute(path, object, objectName, name, H5T_STRING);
    const std::string what = "attribute \"" + name + "\" of " + objectName;
    const auto values = readAttributeStrings(path, attribute, what);
    if (values.size() != 1)
        throw Error(path + ": " + what + " is not a single string");
    return values.front();
}

int64_t readIntAttribute(const std::string &path, const H5::H5Object &object,
                         const std::string &objectName, const std::string &name)
{
    H5::Attribute attribute = openAttribute(path, object, objectName, name, H5T_INTEGER);
    int64_t value = 0;
    attribute.read(H5::PredType::NATIVE_INT64, &value);
    return value;
}

std::vector<std::string> readStringListAttribute(const std::string &path, const H5::H5Object &object,
                                                 const std::string &objectName, const std::string &name)
{
    const H5::Attribute attribute = openAttribute(path, object, objectName, name, H5T_STRING);
    return readAttributeStrings(path, attribute, "attribute \"" + name + "\" of " + objectName);
}

// Text (JSON) as one fixed-length string in a one-element chunked dataset with a
// Fletcher-32 checksum: a damaged byte is a read error, not a different recipe.
void writeStringDataset(const H5::Group &group, const std::string &name, const std::string &text)
{
    removeLink(group, name);
    const H5::StrType type = utf8Type(text.size());
    const hsize_t one = 1;
    H5::DSetCreatPropList dcpl;
    dcpl.setChunk(1, &one);
    dcpl.setFletcher32();
    H5::DataSet dataset = group.createDataSet(name, type, H5::DataSpace(1, &one), dcpl);
    dataset.write(packStrings({text}, type.getSize()).data(), type);
    dataset.close();
}

std::string readStringDataset(const std::string &path, const H5::DataSet &dataset, const std::string &name)
{
    if (dataset.getTypeClass() != H5T_STRING)
        throw Error(path + ": " + name + " is not a string");
    const auto values =
        readFixedStrings(path, name, dataset.getStrType(), dataset.getSpace().getSimpleExtentNpoints(),
                         [&](const H5::StrType &type, void *buffer) { dataset.read(buffer, type); });
    if (values.size() != 1)
        throw Error(path + ": " + name + " is not a single string");
    return values.front();
}

// Chunks of about 1 MiB of float32, spanning whole trailing dimensions where possible.
std::vector<hsize_t> chunkShape(const std::vector<hsize_t> &dims)
{
    constexpr hsize_t kBudget = hsize_t(1) << 18;
    std::vector<hsize_t> chunk(dims);
    for (size_t i = 0; i < chunk.size(); ++i) {
        hsize_t inner = 1;
        for (size_t j = i + 1; j < dims.size(); ++j)
            inner *= dims[j];
        if (inner >= kBudget) {
            chunk[i] = 1;
            continue;
        }
        chunk[i] = std::min(dims[i], std::max<hsize_t>(1, kBudget / inner));
        break;
    }
    return chunk;
}

bool compressionAvailable()
{
    return H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0;
}

// Chunked, compressed and Fletcher-32 checksummed when possible: a damaged chunk is a
// read error, never silently wrong scores.
H5::DSetCreatPropList arrayLayout(const std::vector<hsize_t> &dims, int64_t elements, bool compress)
{
    H5::DSetCreatPropList dcpl;
    if (compress && !dims.empty() && elements > 0 && compressionAvailable()) {
        const std::vector<hsize_t> chunk = chunkShape(dims);
        dcpl.setChunk(int(chunk.size()), chunk.data());
        dcpl.setFletcher32();
        dcpl.setShuffle();
        dcpl.setDeflate(1);
    }
    return dcpl;
}

// Writes a CPU contiguous tensor of the C type matching `memType`; replaces `name`.
void writeArray(const H5::Group &group, const std::string &name, const at::Tensor &data,
                const H5::PredType &fileType, const H5::PredType &memType, bool compress)
{
    removeLink(group, name);
    std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
    const H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                             : H5::DataSpace(int(dims.size()), dims.data());
    H5::DataSet dataset = group.createDataSet(name, fileType, space, arrayLayout(dims, data.numel(), compress));
    if (data.numel() > 0)   // HDF5 rejects a null buffer even for zero elements
        dataset.write(data.data_ptr(), memType);
    dataset.close();   // compressed chunks reach the disk here: a failure must throw
}

// Reads a numeric dataset into a new CPU tensor of `dtype` (HDF5 converts the values).
at::Tensor readArray(const std::string &path, const H5::DataSet &dataset, const std::string &where,
                     c10::ScalarType dtype, const H5::PredType &memType, H5T_class_t expected)
{
    const H5T_class_t found = dataset.getTypeClass();
    if (found != expected && !(expected == H5T_FLOAT && found == H5T_INTEGER))
        throw Error(path + ": " + where + " is not " + (expected == H5T_FLOAT ? "floating-point" : "integer")
                    + " data");
    const H5::DataSpace space = dataset.getSpace();
    const int rank = space.getSimpleExtentNdims();
    std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
    if (rank > 0)
        space.getSimpleExtentDims(dims.data());
    std::vector<int64_t> sizes(dims.begin(), dims.end());
    at::Tensor out = at::empty(sizes, at::TensorOptions().dtype(dtype));
    if (out.numel() > 0)
        dataset.read(out.data_ptr(), memType);
    return out;
}

// A tensor as a CPU contiguous tensor of `dtype`; rejects what cannot be stored as numbers.
at::Tensor hostCopy(const std::string &path, const std::string &what, const at::Tensor &t,
                    c10::ScalarType dtype)
{
    if (!t.defined())
        throw Error(path + ": cannot " + what + ": no tensor given");
    if (t.is_complex())
        throw Error(path + ": cannot " + what + ": complex tensors are not supported");
    return t.detach().to(at::kCPU, dtype).contiguous();
}

at::Tensor int64Tensor(const std::vector<int64_t> &values)
{
    return at::tensor(c10::ArrayRef<int64_t>(values), at::TensorOptions().dtype(at::kLong))
        .reshape({int64_t(values.size())});
}

std::vector<int64_t> int64Vector(const at::Tensor &t)
{
    const int64_t *p = t.data_ptr<int64_t>();
    return std::vector<int64_t>(p, p + t.numel());
}

QJsonObject parseJsonObject(const std::string &path, const std::string &where, const std::string &text)
{
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(QByteArray::fromStdString(text), &error);
    if (error.error != QJsonParseError::NoError)
        throw Error(path + ": " + where + " is not valid JSON: " + error.errorString().toStdString());
    if (!document.isObject())
        throw Error(path + ": " + where + " is not a JSON object");
    return document.object();
}

std::string jsonText(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Indented).toStdString();
}

void checkName(const std::string &path, const std::string &what, const std::string &kind,
               const std::string &name)
{
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos
        || name.find('\0') != std::string::npos)
        throw Error(path + ": cannot " + what + ": invalid " + kind + " name \"" + name
                    + "\" (it must not be empty, \".\", \"..\" or contain '/')");
}

void checkSide(const std::string &path, const std::string &side)
{
    if (side != "teacher" && side != "student")
        throw Error(path + ": unknown model side \"" + side + "\" (expected teacher or student)");
}

std::string temporaryName(const std::string &path)
{
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", QRandomGenerator::system()->generate());
    return path + ".tmp-" + suffix;
}

// Flushes a closed file's data to disk; the rename that follows must not publish a file
// whose blocks are still only in the page cache.
bool syncFile(const std::string &file, bool directory)
{
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

std::string parentFolder(const std::string &path)
{
    const fs::path parent = fs::path(path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

void writeRootAttributes(const H5::Group &root)
{
    writeStringAttribute(root, "format", Session::kFormat);
    writeIntAttribute(root, "version", Session::kVersion);
#ifdef NUGGET_VERSION
    writeStringAttribute(root, "writer", std::string("Nugget ") + NUGGET_VERSION);
#else
    writeStringAttribute(root, "writer", "Nugget");
#endif
}

// Sessions are written in the 1.10 format (superblock version 3), whose metadata is
// checksummed. Older superblocks carry no checksums, and a damaged one can keep HDF5
// busy for minutes, so they are refused before HDF5 sees the file.
void checkSuperblock(const std::string &displayPath, const std::string &file)
{
    static const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    char head[9] = {};
    std::FILE *stream = std::fopen(file.c_str(), "rb");
    if (!stream)
        throw Error(displayPath + ": cannot read the session: " + std::strerror(errno));
    const size_t got = std::fread(head, 1, sizeof head, stream);
    std::fclose(stream);
    if (got < sizeof head || std::memcmp(head, signature, sizeof signature) != 0)
        throw Error(displayPath + ": not an HDF5 file (no HDF5 signature at its start), so not a Nugget session");
    const int version = static_cast<unsigned char>(head[8]);
    if (version < 2)
        throw Error(displayPath + ": HDF5 superblock version " + std::to_string(version)
                    + " has no checksums; Nugget writes and reads sessions in the checksummed "
                      "HDF5 1.10 format only (compute the sensitivity again to write one)");
}

// Opens an HDF5 file and checks it is a session this build can read.
std::unique_ptr<H5::H5File> openSessionFile(const std::string &displayPath, const std::string &file,
                                            unsigned flags)
{
    std::error_code ec;
    if (!fs::exists(file, ec))
        throw Error(displayPath + ": no such file");
    if (fs::is_directory(file, ec))
        throw Error(displayPath + ": is a folder, not a session file");
    if (fs::file_size(file, ec) == 0 && !ec)
        throw Error(displayPath + ": the file is empty, not a Nugget session");
    checkSuperblock(displayPath, file);

    std::unique_ptr<H5::H5File> h5;
    quietHdf5();
    try {
        h5 = std::make_unique<H5::H5File>(file, flags, H5::FileCreatPropList::DEFAULT, fileAccess());
    } catch (const H5::Exception &e) {
        throw Error(displayPath + ": cannot open the session (not an HDF5 file, or a damaged one): "
                    + hdf5Reason(e));
    }
    return guarded(displayPath, "open the session", [&] {
        const H5::Group root = h5->openGroup("/");
        if (!root.attrExists("format"))
            throw Error(displayPath + ": an HDF5 file but not a Nugget session (no root attribute "
                        "\"format\" = \"" + Session::kFormat + "\")");
        const std::string format = readStringAttribute(displayPath, root, "the root group", "format");
        if (format != Session::kFormat)
            throw Error(displayPath + ": not a Nugget session (its format is \"" + format
                        + "\", expected \"" + Session::kFormat + "\")");
        const int64_t version = readIntAttribute(displayPath, root, "the root group", "version");
        if (version > Session::kVersion)
            throw Error(displayPath + ": session version " + std::to_string(version)
                        + " was written by a newer Nugget; this build reads up to version "
                        + std::to_string(Session::kVersion));
        if (version < Session::kVersion)
            throw Error(displayPath + ": session version " + std::to_string(version)
                        + " is an earlier, unchecksummed format this build no longer reads "
                          "(compute the sensitivity again to write a new session)");
        return std::move(h5);
    });
}

herr_t copyAttribute(hid_t location, const char *name, const H5A_info_t *, void *data)
{
    const hid_t target = *static_cast<hid_t *>(data);
    Handle attribute(H5Aopen(location, name, H5P_DEFAULT));
    if (attribute.get() < 0)
        return -1;
    Handle fileType(H5Aget_type(attribute.get()));
    Handle memType(H5Tget_native_type(fileType.get(), H5T_DIR_DEFAULT));
    Handle space(H5Aget_space(attribute.get()));
    if (fileType.get() < 0 || memType.get() < 0 || space.get() < 0)
        return -1;
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    std::vector<unsigned char> buffer(size_t(std::max<hssize_t>(count, 1)) * H5Tget_size(memType.get()));
    if (H5Aread(attribute.get(), memType.get(), buffer.data()) < 0)
        return -1;
    Handle copy(H5Acreate2(target, name, fileType.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    const bool ok = copy.get() >= 0 && H5Awrite(copy.get(), memType.get(), buffer.data()) >= 0;
    if (H5Tdetect_class(memType.get(), H5T_VLEN) > 0 || H5Tis_variable_str(memType.get()) > 0)
        H5Dvlen_reclaim(memType.get(), space.get(), H5P_DEFAULT, buffer.data());
    return ok ? 0 : -1;
}

// Copies every object into a fresh file, leaving behind the space of replaced items.
void compactInto(const H5::H5File &source, const std::string &target)
{
    Handle fcpl(check(H5Fget_create_plist(source.getId()), "H5Fget_create_plist"));
    const H5::FileAccPropList fapl = fileAccess();
    Handle file(check(H5Fcreate(target.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.getId()), "H5Fcreate"));
    Handle sourceRoot(check(H5Gopen2(source.getId(), "/", H5P_DEFAULT), "H5Gopen2"));
    Handle targetRoot(check(H5Gopen2(file.get(), "/", H5P_DEFAULT), "H5Gopen2"));
    hid_t targetId = targetRoot.get();
    hsize_t position = 0;
    check(H5Aiterate2(sourceRoot.get(), H5_INDEX_NAME, H5_ITER_INC, &position, copyAttribute,
                      &targetId),
          "H5Aiterate2");
    for (const std::string &name : linkNames(source.openGroup("/")))
        check(H5Ocopy(source.getId(), name.c_str(), file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              "H5Ocopy");
    targetRoot.close();
    file.close();
}

} // namespace

// -------------------------------------------------------------------------------------

// Closes an HDF5 file exactly once. When H5Fclose fails (a full disk while flushing),
// the wrapper keeps its identifier and its destructor would close it again, which
// crashes inside HDF5 before the error reaches the user; the wrapper is then released
// without running it (a small leak on an error path). On a full disk (ENOSPC) HDF5
// 1.10 then exits cleanly; under a file-size limit (ulimit -f) its own shutdown at exit
// still trips over the half-closed file: docs/bad-input.md, the file-size-limit row.
void closeOnce(std::unique_ptr<H5::H5File> &file)
{
    std::unique_ptr<H5::H5File> closing = std::move(file);
    if (!closing)
        return;
    try {
        closing->close();
    } catch (...) {
        (void)closing.release();
        throw;
    }
}

struct Session::Impl
{
    std::string path;                      // the target, named in every message
    std::string tempPath;                  // the file being written; empty when read-only
    std::unique_ptr<H5::H5File> file;      // null once committed or closed
    bool writable = false;
    std::optional<fs::perms> permissions;  // of the original, restored on commit

    H5::Group root() const { return file->openGroup("/"); }

    ~Impl()
    {
        // Destructors must not throw: close quietly, then drop the unpublished file.
        if (file) {
            quietHdf5();
            try {
                closeOnce(file);
            } catch (...) {
            }
        }
        if (!tempPath.empty())
            std::remove(tempPath.c_str());
    }
};

Session::Session(std::unique_ptr<Impl> impl) : d(std::move(impl)) {}
Session::Session(Session &&other) noexcept = default;
Session &Session::operator=(Session &&other) noexcept = default;
Session::~Session() = default;

Session::Impl &Session::usable() const
{
    if (!d)
        throw Error("session: this Session was moved from");
    if (!d->file)
        throw Error(d->path + ": the session is closed (commit() ends it); open the file again to use it");
    return *d;
}

Session::Impl &Session::writable(const std::string &what) const
{
    Impl &impl = usable();
    if (!impl.writable)
        throw Error(impl.path + ": cannot " + what + ": the session is open read-only");
    return impl;
}

Session Session::create(const std::string &path)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->writable = true;
    const std::string temp = temporaryName(path);
    // Created here rather than by HDF5: the system's reason reads better than HDF5's.
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        throw Error(path + ": cannot create the session: cannot create " + temp + ": "
                    + std::strerror(errno));
    ::close(fd);
    impl->tempPath = temp;   // from here on the destructor removes it
    guarded(path, "create the session", [&] {
        impl->file = std::make_unique<H5::H5File>(temp, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT,
                                                  fileAccess());
        writeRootAttributes(impl->root());
    });
    return Session(std::move(impl));
}

Session Session::openForUpdate(const std::string &path)
{
    // Validate the original (read-only) before copying it.
    openSessionFile(path, path, H5F_ACC_RDONLY);

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->writable = true;
    const std::string temp = temporaryName(path);
    std::error_code ec;
    if (!fs::copy_file(path, temp, fs::copy_options::none, ec)) {
        if (ec != std::errc::file_exists)   // never remove a file that is not ours
            std::remove(temp.c_str());
        throw Error(path + ": cannot copy the session for updating to " + temp + ": " + ec.message());
    }
    impl->tempPath = temp;   // from here on the destructor removes it
    const fs::perms original = fs::status(path, ec).permissions();
    if (!ec) {
        impl->permissions = original;
        fs::permissions(temp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
    }
    impl->file = openSessionFile(path, temp, H5F_ACC_RDWR);
    return Session(std::move(impl));
}

Session Session::openReadOnly(const std::string &path)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->file = openSessionFile(path, path, H5F_ACC_RDONLY);
    return Session(std::move(impl));
}

void Session::commit()
{
    Impl &impl = writable("commit");
    guarded(impl.path, "commit the session", [&] {
        impl.file->flush(H5F_SCOPE_GLOBAL);
        hsize_t fileSize = 0;
        check(H5Fget_filesize(impl.file->getId(), &fileSize), "H5Fget_filesize");
        const hssize_t freeSpace = check(H5Fget_freespace(impl.file->getId()), "H5Fget_freespace");
        // Replaced items leave holes HDF5 does not reclaim across openings; rewrite the
        // file when they are a sizeable part of it.
        const bool compact = hsize_t(freeSpace) > (hsize_t(1) << 20) && hsize_t(freeSpace) > fileSize / 4;
        if (compact) {
            const std::string fresh = temporaryName(impl.path);
            try {
                compactInto(*impl.file, fresh);
            } catch (...) {
                std::remove(fresh.c_str());
                throw;
            }
            try {
                closeOnce(impl.file);
            } catch (...) {
                std::remove(fresh.c_str());
                throw;
            }
            std::remove(impl.tempPath.c_str());
            impl.tempPath = fresh;
        } else {
            closeOnce(impl.file);
        }
    });
    // The HDF5 file is closed from here on; failures leave it for the destructor to remove.
    impl.file.reset();
    if (impl.permissions) {
        std::error_code ec;
        fs::permissions(impl.tempPath, *impl.permissions, fs::perm_options::replace, ec);
    }
    if (!syncFile(impl.tempPath, false))
        throw Error(impl.path + ": cannot commit the session: writing " + impl.tempPath
                    + " to disk failed: " + std::strerror(errno));
    if (::rename(impl.tempPath.c_str(), impl.path.c_str()) != 0)
        throw Error(impl.path + ": cannot commit the session: renaming " + impl.tempPath
                    + " failed: " + std::strerror(errno));
    impl.tempPath.clear();
    syncFile(parentFolder(impl.path), true);   // best effort: makes the rename durable
}

const std::string &Session::path() const
{
    if (!d)
        throw Error("session: this Session was moved from");
    return d->path;
}

bool Session::isWritable() const
{
    return d && d->file && d->writable;
}

// ---- recipe --------------------------------------------------------------------------

void Session::setRecipe(const QJsonObject &recipe, const std::map<std::string, std::string> &inputSha256)
{
    Impl &impl = writable("write /recipe");
    QJsonObject inputs;
    for (const auto &[file, sha] : inputSha256)
        inputs.insert(QString::fromStdString(file), QString::fromStdString(sha));
    guarded(impl.path, "write /recipe", [&] {
        const H5::Group root = impl.root();
        writeStringDataset(root, "recipe", jsonText(recipe));
        writeStringDataset(root, "inputs", jsonText(inputs));
    });
}

bool Session::hasRecipe() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "read /recipe", [&] { return hasDataset(impl.root(), "recipe"); });
}

QJsonObject Session::recipe() const
{
    const Impl &impl = usable();
    const std::string text = guarded(impl.path, "read /recipe", [&] {
        const H5::Group root = impl.root();
        if (!hasDataset(root, "recipe"))
            throw Error(impl.path + ": the session has no recipe (/recipe)");
        return readStringDataset(impl.path, root.openDataSet("recipe"), "/recipe");
    });
    return parseJsonObject(impl.path, "/recipe", text);
}

std::map<std::string, std::string> Session::inputSha256() const
{
    const Impl &impl = usable();
    const std::string text = guarded(impl.path, "read /inputs", [&] {
        const H5::Group root = impl.root();
        if (!hasDataset(root, "inputs"))
            throw Error(impl.path + ": the session has no input hashes (/inputs)");
        return readStringDataset(impl.path, root.openDataSet("inputs"), "/inputs");
    });
    std::map<std::string, std::string> hashes;
    const QJsonObject object = parseJsonObject(impl.path, "/inputs", text);
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!it.value().isString())
            throw Error(impl.path + ": /inputs: the hash of \"" + it.key().toStdString()
                        + "\" is not a string");
        hashes[it.key().toStdString()] = it.value().toString().toStdString();
    }
    return hashes;
}

// ---- sensitivity -----------------------------------------------------------------------

namespace {

bool isHalf(const H5::DataSet &dataset)
{
    return dataset.getTypeClass() == H5T_FLOAT && dataset.getFloatType().getSize() == 2;
}

// Like arrayLayout, with the filters in the order ScoreChunks reproduces (shuffle,
// deflate 1, Fletcher-32 over the compressed bytes): the chunks are then encoded on
// every core instead of in HDF5's single-threaded pipeline.
H5::DSetCreatPropList halfScoreLayout(const std::vector<hsize_t> &dims, int64_t elements)
{
    H5::DSetCreatPropList dcpl;
    if (!dims.empty() && elements > 0 && compressionAvailable()) {
        const std::vector<hsize_t> chunk = chunkShape(dims);
        dcpl.setChunk(int(chunk.size()), chunk.data());
        hdf5::addEncodedChunkFilters(dcpl.getId(), 1);
    }
    return dcpl;
}

bool isChunked(const H5::DataSet &dataset)
{
    return dataset.getCreatePlist().getLayout() == H5D_CHUNKED;
}

} // namespace

void Session::writeSensitivity(const std::string &side, const std::string &parameter,
                               const at::Tensor &scores, ScoreStorage storage)
{
    const std::string where = "/sensitivity/" + side + "/" + parameter;
    Impl &impl = writable("write " + where);
    checkSide(impl.path, side);
    checkName(impl.path, "write " + where, "parameter", parameter);
    guarded(impl.path, "write " + where, [&] {
        const H5::Group group = ensureGroup(impl.root(), {"sensitivity", side});
        if (storage == ScoreStorage::Float32) {
            const at::Tensor data = hostCopy(impl.path, "write " + where, scores, at::kFloat);
            writeArray(group, parameter, data, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT, true);
            return;
        }
        // Scaled to [0, 1] first (scores are non-negative): float16's range is too
        // narrow for raw Fisher scores. The conversion runs in torch, not in HDF5.
        const at::Tensor values = hostCopy(impl.path, "write " + where, scores, at::kFloat);
        const double largest = values.numel() > 0 ? values.abs().max().item<double>() : 0.0;
        const double scale = largest > 0 && std::isfinite(largest) ? largest : 1.0;
        const at::Tensor data = (values / scale).to(at::kHalf).contiguous();
        removeLink(group, parameter);
        std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
        const H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                                 : H5::DataSpace(int(dims.size()), dims.data());
        const H5::FloatType type = hdf5::halfType();
        H5::DataSet dataset = group.createDataSet(parameter, type, space, halfScoreLayout(dims, data.numel()));
        if (isChunked(dataset))
            hdf5::writeEncodedChunks(dataset.getId(), data.data_ptr());
        else if (data.numel() > 0)
            dataset.write(data.data_ptr(), type);
        H5::Attribute attribute =
            dataset.createAttribute("scale", H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
        attribute.write(H5::PredType::NATIVE_DOUBLE, &scale);
        attribute.close();
        dataset.close();   // compressed chunks reach the disk here: a failure must throw
    });
}

at::Tensor Session::readSensitivity(const std::string &side, const std::string &parameter) const
{
    const std::string where = "/sensitivity/" + side + "/" + parameter;
    const Impl &impl = usable();
    checkSide(impl.path, side);
    checkName(impl.path, "read " + where, "parameter", parameter);
    return guarded(impl.path, "read " + where, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", side});
        if (!group || !hasDataset(*group, parameter))
            throw Error(impl.path + ": the session has no " + side + " sensitivity for \"" + parameter
                        + "\" (" + where + ")");
        const H5::DataSet dataset = group->openDataSet(parameter);
        if (!isHalf(dataset))
            return readArray(impl.path, dataset, where, at::kFloat, H5::PredType::NATIVE_FLOAT, H5T_FLOAT);
        const H5::DataSpace space = dataset.getSpace();
        std::vector<hsize_t> dims(size_t(std::max(space.getSimpleExtentNdims(), 0)));
        if (!dims.empty())
            space.getSimpleExtentDims(dims.data());
        at::Tensor half = at::empty(std::vector<int64_t>(dims.begin(), dims.end()), at::kHalf);
        if (half.numel() > 0)
            dataset.read(half.data_ptr(), hdf5::halfType());
        double scale = 1.0;
        if (dataset.attrExists("scale"))
            dataset.openAttribute("scale").read(H5::PredType::NATIVE_DOUBLE, &scale);
        return half.to(at::kFloat).mul_(scale);
    });
}

std::vector<std::string> Session::sensitivityParameters(const std::string &side) const
{
    const Impl &impl = usable();
    checkSide(impl.path, side);
    return guarded(impl.path, "list /sensitivity/" + side, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", side});
        return group ? linkNames(*group) : std::vector<std::string>();
    });
}

std::vector<int64_t> Session::sensitivityShape(const std::string &side, const std::string &parameter) const
{
    const std::string where = "/sensitivity/" + side + "/" + parameter;
    const Impl &impl = usable();
    checkSide(impl.path, side);
    checkName(impl.path, "read " + where, "parameter", parameter);
    return guarded(impl.path, "read the shape of " + where, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", side});
        if (!group || !hasDataset(*group, parameter))
            throw Error(impl.path + ": the session has no " + side + " sensitivity for \"" + parameter + "\" (" +
                        where + ")");
        const H5::DataSpace space = group->openDataSet(parameter).getSpace();
        std::vector<hsize_t> dims(size_t(std::max(space.getSimpleExtentNdims(), 0)));
        if (!dims.empty())
            space.getSimpleExtentDims(dims.data());
        return std::vector<int64_t>(dims.begin(), dims.end());
    });
}

bool Session::hasSensitivity(const std::string &side) const
{
    return !sensitivityParameters(side).empty();
}

void Session::setSensitivityInfo(const std::string &side, const std::string &metric, int64_t samples,
                                 const std::string &computeDtype)
{
    const std::string where = "/sensitivity/" + side;
    Impl &impl = writable("write the attributes of " + where);
    checkSide(impl.path, side);
    guarded(impl.path, "write the attributes of " + where, [&] {
        const H5::Group group = ensureGroup(impl.root(), {"sensitivity", side});
        writeStringAttribute(group, "metric", metric);
        writeIntAttribute(group, "samples", samples);
        if (!computeDtype.empty())
            writeStringAttribute(group, "compute_dtype", computeDtype);
        else if (group.attrExists("compute_dtype"))
            group.removeAttr("compute_dtype");
    });
}

Session::SensitivityInfo Session::sensitivityInfo(const std::string &side) const
{
    const std::string where = "/sensitivity/" + side;
    const Impl &impl = usable();
    checkSide(impl.path, side);
    return guarded(impl.path, "read the attributes of " + where, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", side});
        if (!group)
            throw Error(impl.path + ": the session has no " + side + " sensitivity (" + where + ")");
        SensitivityInfo info;
        info.metric = readStringAttribute(impl.path, *group, where, "metric");
        info.samples = readIntAttribute(impl.path, *group, where, "samples");
        if (group->attrExists("compute_dtype"))
            info.computeDtype = readStringAttribute(impl.path, *group, where, "compute_dtype");
        return info;
    });
}

// ---- layer totals ----------------------------------------------------------------------

void Session::writeLayerTotals(const std::string &side, const at::Tensor &totals,
                               const std::vector<std::string> &modules)
{
    const std::string where = "/sensitivity/layers/" + side;
    Impl &impl = writable("write " + where);
    checkSide(impl.path, side);
    guarded(impl.path, "write " + where, [&] {
        const at::Tensor data = hostCopy(impl.path, "write " + where, totals, at::kDouble);
        if (data.dim() != 2 || data.size(1) != int64_t(modules.size()))
            throw Error(impl.path + ": cannot write " + where + ": expected [layers, "
                        + std::to_string(modules.size()) + " modules] totals, got "
                        + std::to_string(data.dim()) + " dimensions");
        const H5::Group group = ensureGroup(impl.root(), {"sensitivity", "layers"});
        writeArray(group, side, data, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, false);
        writeStringListAttribute(group.openDataSet(side), "modules", modules);
    });
}

bool Session::hasLayerTotals(const std::string &side) const
{
    const Impl &impl = usable();
    checkSide(impl.path, side);
    return guarded(impl.path, "read /sensitivity/layers/" + side, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", "layers"});
        return group && hasDataset(*group, side);
    });
}

std::pair<at::Tensor, std::vector<std::string>> Session::readLayerTotals(const std::string &side) const
{
    const std::string where = "/sensitivity/layers/" + side;
    const Impl &impl = usable();
    checkSide(impl.path, side);
    return guarded(impl.path, "read " + where, [&] {
        const auto group = findGroup(impl.root(), {"sensitivity", "layers"});
        if (!group || !hasDataset(*group, side))
            throw Error(impl.path + ": the session has no " + side + " layer totals (" + where + ")");
        const H5::DataSet dataset = group->openDataSet(side);
        at::Tensor totals = readArray(impl.path, dataset, where, at::kDouble, H5::PredType::NATIVE_DOUBLE,
                                      H5T_FLOAT);
        std::vector<std::string> modules = readStringListAttribute(impl.path, dataset, where, "modules");
        if (totals.dim() != 2 || totals.size(1) != int64_t(modules.size()))
            throw Error(impl.path + ": " + where + " is damaged: its shape does not match its "
                        + std::to_string(modules.size()) + " module names");
        return std::make_pair(totals, modules);
    });
}

// ---- selection -------------------------------------------------------------------------

void Session::writeSelection(const std::vector<int64_t> &teacherLayerPerStudentLayer,
                             const std::string &strategy)
{
    Impl &impl = writable("write /selection/layers");
    for (int64_t layer : teacherLayerPerStudentLayer)
        if (layer < 0)
            throw Error(impl.path + ": cannot write /selection/layers: negative teacher layer index "
                        + std::to_string(layer));
    guarded(impl.path, "write /selection/layers", [&] {
        const H5::Group group = ensureGroup(impl.root(), {"selection"});
        writeArray(group, "layers", int64Tensor(teacherLayerPerStudentLayer), H5::PredType::STD_I64LE,
                   H5::PredType::NATIVE_INT64, false);
        writeStringAttribute(group.openDataSet("layers"), "strategy", strategy);
    });
}

bool Session::hasSelection() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "read /selection/layers", [&] {
        const auto group = findGroup(impl.root(), {"selection"});
        return group && hasDataset(*group, "layers");
    });
}

namespace {

H5::DataSet openSelection(const std::string &path, const H5::Group &root)
{
    const auto group = findGroup(root, {"selection"});
    if (!group || !hasDataset(*group, "layers"))
        throw Error(path + ": the session has no layer selection (/selection/layers)");
    return group->openDataSet("layers");
}

} // namespace

std::vector<int64_t> Session::readSelection() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "read /selection/layers", [&] {
        const at::Tensor layers = readArray(impl.path, openSelection(impl.path, impl.root()), "/selection/layers", at::kLong,
                                            H5::PredType::NATIVE_INT64, H5T_INTEGER);
        if (layers.dim() != 1)
            throw Error(impl.path + ": /selection/layers is damaged: expected one dimension");
        return int64Vector(layers);
    });
}

std::string Session::selectionStrategy() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "read /selection/layers", [&] {
        return readStringAttribute(impl.path, openSelection(impl.path, impl.root()), "/selection/layers", "strategy");
    });
}

// ---- reduction -------------------------------------------------------------------------

void Session::writeReduction(const std::string &teacherParameter, const std::vector<int64_t> &rows,
                             const std::vector<int64_t> &cols, const std::string &structure)
{
    const std::string where = "/reduction/" + teacherParameter;
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "parameter", teacherParameter);
    guarded(impl.path, "write " + where, [&] {
        const H5::Group reduction = ensureGroup(impl.root(), {"reduction"});
        removeLink(reduction, teacherParameter);
        const H5::Group group = ensureGroup(reduction, {teacherParameter});
        writeArray(group, "rows", int64Tensor(rows), H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64,
                   false);
        writeArray(group, "cols", int64Tensor(cols), H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64,
                   false);
        writeStringAttribute(group, "structure", structure);
    });
}

std::optional<Session::Reduction> Session::readReduction(const std::string &teacherParameter) const
{
    const std::string where = "/reduction/" + teacherParameter;
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "parameter", teacherParameter);
    return guarded(impl.path, "read " + where, [&]() -> std::optional<Reduction> {
        const auto group = findGroup(impl.root(), {"reduction", teacherParameter});
        if (!group)
            return std::nullopt;
        Reduction reduction;
        for (const char *name : {"rows", "cols"}) {
            if (!hasDataset(*group, name))
                throw Error(impl.path + ": " + where + " is damaged: it has no \"" + name + "\" dataset");
            const at::Tensor indices = readArray(impl.path, group->openDataSet(name), where + "/" + name,
                                                 at::kLong, H5::PredType::NATIVE_INT64, H5T_INTEGER);
            (std::strcmp(name, "rows") == 0 ? reduction.rows : reduction.cols) = int64Vector(indices);
        }
        reduction.structure = readStringAttribute(impl.path, *group, where, "structure");
        return reduction;
    });
}

std::vector<std::string> Session::reductionParameters() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "list /reduction", [&] {
        const auto group = findGroup(impl.root(), {"reduction"});
        return group ? linkNames(*group) : std::vector<std::string>();
    });
}

// ---- runs ------------------------------------------------------------------------------

void Session::writeRun(const std::string &name, const at::Tensor &curve,
                       const std::vector<std::string> &columns, const QJsonObject &evaluation)
{
    const std::string where = "/runs/" + name;
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "run", name);
    guarded(impl.path, "write " + where, [&] {
        const at::Tensor data = hostCopy(impl.path, "write " + where, curve, at::kDouble);
        if (data.dim() != 2 || data.size(1) != int64_t(columns.size()))
            throw Error(impl.path + ": cannot write " + where + ": expected a [steps, "
                        + std::to_string(columns.size()) + " columns] curve, got "
                        + std::to_string(data.dim()) + " dimensions");
        const H5::Group runs = ensureGroup(impl.root(), {"runs"});
        removeLink(runs, name);
        const H5::Group group = ensureGroup(runs, {name});
        writeArray(group, "loss", data, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, false);
        writeStringListAttribute(group.openDataSet("loss"), "columns", columns);
        writeStringDataset(group, "eval", jsonText(evaluation));
    });
}

std::vector<std::string> Session::runNames() const
{
    const Impl &impl = usable();
    return guarded(impl.path, "list /runs", [&] {
        const auto group = findGroup(impl.root(), {"runs"});
        return group ? linkNames(*group) : std::vector<std::string>();
    });
}

std::optional<Session::Run> Session::readRun(const std::string &name) const
{
    const std::string where = "/runs/" + name;
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "run", name);
    std::string evalText;
    std::optional<Run> run = guarded(impl.path, "read " + where, [&]() -> std::optional<Run> {
        const auto group = findGroup(impl.root(), {"runs", name});
        if (!group)
            return std::nullopt;
        for (const char *item : {"loss", "eval"})
            if (!hasDataset(*group, item))
                throw Error(impl.path + ": " + where + " is damaged: it has no \"" + item + "\" dataset");
        Run result;
        const H5::DataSet loss = group->openDataSet("loss");
        result.curve = readArray(impl.path, loss, where + "/loss", at::kDouble, H5::PredType::NATIVE_DOUBLE,
                                 H5T_FLOAT);
        result.columns = readStringListAttribute(impl.path, loss, where + "/loss", "columns");
        if (result.curve.dim() != 2 || result.curve.size(1) != int64_t(result.columns.size()))
            throw Error(impl.path + ": " + where + "/loss is damaged: its shape does not match its "
                        + std::to_string(result.columns.size()) + " column names");
        evalText = readStringDataset(impl.path, group->openDataSet("eval"), where + "/eval");
        return result;
    });
    if (run)
        run->evaluation = parseJsonObject(impl.path, where + "/eval", evalText);
    return run;
}

} // namespace nugget
