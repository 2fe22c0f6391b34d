#include "io/SessionFormat.h"

#include "Error.h"
#include "io/Hdf5Errors.h"
#include "io/Hdf5Objects.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace nugget {

Session::Impl::~Impl()
{
    // Destructors must not throw: close quietly; `staged` then drops the unpublished file.
    if (file) {
        hdf5::quiet();
        try {
            session::closeOnce(file);
        } catch (...) {
        }
    }
}

namespace session {

namespace {

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

void checkRootAttributes(const std::string &displayPath, const H5::Group &root)
{
    if (!root.attrExists("format"))
        throw Error(displayPath + ": an HDF5 file but not a Nugget session (no root attribute "
                    "\"format\" = \"" + Session::kFormat + "\")");
    const std::string format = hdf5::readStringAttribute(displayPath, root, "the root group", "format");
    if (format != Session::kFormat)
        throw Error(displayPath + ": not a Nugget session (its format is \"" + format + "\", expected \""
                    + Session::kFormat + "\")");
    const int64_t version = hdf5::readIntAttribute(displayPath, root, "the root group", "version");
    if (version > Session::kVersion)
        throw Error(displayPath + ": session version " + std::to_string(version)
                    + " was written by a newer Nugget; this build reads up to version "
                    + std::to_string(Session::kVersion));
    if (version < Session::kVersion)
        throw Error(displayPath + ": session version " + std::to_string(version)
                    + " is an earlier, unchecksummed format this build no longer reads "
                      "(compute the sensitivity again to write a new session)");
}

} // namespace

std::unique_ptr<H5::H5File> openFile(const std::string &displayPath, const std::string &file, unsigned flags)
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
    hdf5::quiet();
    try {
        h5 = std::make_unique<H5::H5File>(file, flags, H5::FileCreatPropList::DEFAULT, hdf5::fileAccess());
    } catch (const H5::Exception &e) {
        throw Error(displayPath + ": cannot open the session (not an HDF5 file, or a damaged one): "
                    + hdf5::reason(e));
    }
    hdf5::guarded(displayPath, "open the session", [&] { checkRootAttributes(displayPath, h5->openGroup("/")); });
    return h5;
}

void writeRootAttributes(const H5::Group &root)
{
    hdf5::writeStringAttribute(root, "format", Session::kFormat);
    hdf5::writeIntAttribute(root, "version", Session::kVersion);
#ifdef NUGGET_VERSION
    hdf5::writeStringAttribute(root, "writer", std::string("Nugget ") + NUGGET_VERSION);
#else
    hdf5::writeStringAttribute(root, "writer", "Nugget");
#endif
}

// When H5Fclose fails (a full disk while flushing), the wrapper keeps its identifier and
// its destructor would close it again, which crashes inside HDF5 before the error
// reaches the user; the wrapper is then released without running it (a small leak on an
// error path). On a full disk (ENOSPC) HDF5 1.10 then exits cleanly; under a file-size
// limit (ulimit -f) its own shutdown at exit still trips over the half-closed file
// (docs: the file-size-limit row of the bad-input table).
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

void checkName(const std::string &path, const std::string &what, const std::string &kind, const std::string &name)
{
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos
        || name.find('\0') != std::string::npos)
        throw Error(path + ": cannot " + what + ": invalid " + kind + " name \"" + name
                    + "\" (it must not be empty, \".\", \"..\" or contain '/')");
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

at::Tensor hostCopy(const std::string &path, const std::string &what, const at::Tensor &t, c10::ScalarType dtype)
{
    if (!t.defined())
        throw Error(path + ": cannot " + what + ": no tensor given");
    if (t.is_complex())
        throw Error(path + ": cannot " + what + ": complex tensors are not supported");
    return t.detach().to(at::kCPU, dtype).contiguous();
}

at::Tensor tableData(const std::string &path, const std::string &where, const at::Tensor &values,
                     const std::vector<std::string> &names, const std::string &expected)
{
    at::Tensor data = hostCopy(path, "write " + where, values, at::kDouble);
    if (data.dim() != 2 || data.size(1) != int64_t(names.size()))
        throw Error(path + ": cannot write " + where + ": expected " + expected + ", got "
                    + std::to_string(data.dim()) + " dimensions");
    return data;
}

void writeTable(const H5::Group &group, const std::string &name, const at::Tensor &data,
                const std::vector<std::string> &names, const std::string &attribute)
{
    hdf5::writeArray(group, name, data, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE,
                     hdf5::Layout::Contiguous);
    hdf5::writeStringListAttribute(group.openDataSet(name), attribute, names);
}

std::pair<at::Tensor, std::vector<std::string>> readTable(const std::string &path, const H5::DataSet &dataset,
                                                          const std::string &where, const std::string &attribute,
                                                          const std::string &noun)
{
    at::Tensor values = hdf5::readArray(path, dataset, where, at::kDouble, H5::PredType::NATIVE_DOUBLE, H5T_FLOAT);
    std::vector<std::string> names = hdf5::readStringListAttribute(path, dataset, where, attribute);
    if (values.dim() != 2 || values.size(1) != int64_t(names.size()))
        throw Error(path + ": " + where + " is damaged: its shape does not match its "
                    + std::to_string(names.size()) + " " + noun + " names");
    return {values, names};
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

} // namespace session
} // namespace nugget
