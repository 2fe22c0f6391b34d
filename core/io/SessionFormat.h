#pragma once
// Inside the session store (io/Session*.cpp; not for other callers): the state of an
// open Session and the checks that make a file a session this build reads. The layout
// itself is described in io/Session.h and docs/session-format.md.

#include "io/AtomicFile.h"
#include "io/Session.h"

#include <H5Cpp.h>

#include <QJsonObject>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nugget {

struct Session::Impl
{
    std::string path;                   // the target, named in every message
    std::optional<StagedFile> staged;   // the file being written; none when read-only
    std::unique_ptr<H5::H5File> file;   // null once committed or closed
    bool writable = false;

    H5::Group root() const { return file->openGroup("/"); }
    ~Impl();   // closes quietly; `staged` then removes an unpublished file
};

namespace session {

// Opens the HDF5 file `file` (the session itself or its staging copy) and checks that it
// is a session this build reads: the checksummed 1.10 format, our format attribute, our
// version. Errors name `displayPath`.
std::unique_ptr<H5::H5File> openFile(const std::string &displayPath, const std::string &file, unsigned flags);
// format, version and writer on the root group of a new session.
void writeRootAttributes(const H5::Group &root);

// Closes an HDF5 file exactly once, throwing when its last writes fail.
void closeOnce(std::unique_ptr<H5::H5File> &file);

// Item names must be one path component.
void checkName(const std::string &path, const std::string &what, const std::string &kind, const std::string &name);

QJsonObject parseJsonObject(const std::string &path, const std::string &where, const std::string &text);
std::string jsonText(const QJsonObject &object);

// A tensor as a CPU contiguous tensor of `dtype`; rejects what cannot be stored as numbers.
at::Tensor hostCopy(const std::string &path, const std::string &what, const at::Tensor &t, c10::ScalarType dtype);
// A float64 [rows, names.size()] table whose column names are the string-list attribute
// `attribute` (the layer totals, the run curves). tableData() is the table as written, or
// Error "<path>: cannot write <where>: expected <expected>, got ..." for another shape;
// writeTable() replaces `name` in `group`; readTable() throws Error when the shape does
// not match its "<n> <noun> names".
at::Tensor tableData(const std::string &path, const std::string &where, const at::Tensor &values,
                     const std::vector<std::string> &names, const std::string &expected);
void writeTable(const H5::Group &group, const std::string &name, const at::Tensor &data,
                const std::vector<std::string> &names, const std::string &attribute);
std::pair<at::Tensor, std::vector<std::string>> readTable(const std::string &path, const H5::DataSet &dataset,
                                                          const std::string &where, const std::string &attribute,
                                                          const std::string &noun);

at::Tensor int64Tensor(const std::vector<int64_t> &values);
std::vector<int64_t> int64Vector(const at::Tensor &t);

} // namespace session
} // namespace nugget
