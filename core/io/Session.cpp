// The session API: opening, committing, the recipe. Scores: SessionScores.cpp; the
// selection, reductions and runs: SessionRecords.cpp; format checks: SessionFormat.cpp.
#include "io/Session.h"

#include "Error.h"
#include "io/Hdf5Errors.h"
#include "io/Hdf5Objects.h"
#include "io/SessionFormat.h"

#include <QJsonValue>

#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace nugget {

using namespace session;

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
    impl->staged.emplace(path, "create the session");
    const std::string &file = impl->staged->stagingPath();
    hdf5::guarded(path, "create the session", [&] {
        impl->file = std::make_unique<H5::H5File>(file, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT,
                                                  hdf5::fileAccess());
        writeRootAttributes(impl->root());
    });
    return Session(std::move(impl));
}

Session Session::openForUpdate(const std::string &path)
{
    // Validate the original (read-only) before copying it.
    openFile(path, path, H5F_ACC_RDONLY);

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->writable = true;
    impl->staged.emplace(path, "copy the session for updating");
    const std::string &copy = impl->staged->stagingPath();
    std::error_code ec;
    if (!fs::copy_file(path, copy, fs::copy_options::overwrite_existing, ec))
        throw Error(path + ": cannot copy the session for updating to " + copy + ": " + ec.message());
    // A read-only original still gets a writable copy; commit() gives the result the
    // original's permissions back.
    fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
    impl->file = openFile(path, copy, H5F_ACC_RDWR);
    return Session(std::move(impl));
}

Session Session::openReadOnly(const std::string &path)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->file = openFile(path, path, H5F_ACC_RDONLY);
    return Session(std::move(impl));
}

void Session::commit()
{
    Impl &impl = writable("commit");
    hdf5::guarded(impl.path, "commit the session", [&] {
        impl.file->flush(H5F_SCOPE_GLOBAL);
        hsize_t fileSize = 0;
        hdf5::check(H5Fget_filesize(impl.file->getId(), &fileSize), "H5Fget_filesize");
        const hssize_t freeSpace = hdf5::check(H5Fget_freespace(impl.file->getId()), "H5Fget_freespace");
        // Replaced items leave holes HDF5 does not reclaim across openings; rewrite the
        // file when they are a sizeable part of it.
        if (hsize_t(freeSpace) > (hsize_t(1) << 20) && hsize_t(freeSpace) > fileSize / 4) {
            StagedFile fresh(impl.path, "commit the session");
            hdf5::copyInto(*impl.file, fresh.stagingPath());
            closeOnce(impl.file);
            impl.staged = std::move(fresh);   // drops the uncompacted copy
        } else {
            closeOnce(impl.file);
        }
    });
    // The HDF5 file is closed from here on; a failure leaves it for the destructor to remove.
    impl.file.reset();
    impl.staged->commit();
    impl.staged.reset();
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
    hdf5::guarded(impl.path, "write /recipe", [&] {
        const H5::Group root = impl.root();
        hdf5::writeStringDataset(root, "recipe", jsonText(recipe));
        hdf5::writeStringDataset(root, "inputs", jsonText(inputs));
    });
}

bool Session::hasRecipe() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read /recipe", [&] { return hdf5::hasDataset(impl.root(), "recipe"); });
}

namespace {

// The JSON object stored as the root dataset `name`; `what` names it when absent.
QJsonObject readRootJson(const std::string &path, const H5::H5File &file, const std::string &name,
                         const std::string &what)
{
    const std::string where = "/" + name;
    const std::string text = hdf5::guarded(path, "read " + where, [&] {
        const H5::Group root = file.openGroup("/");
        if (!hdf5::hasDataset(root, name))
            throw Error(path + ": the session has no " + what + " (" + where + ")");
        return hdf5::readStringDataset(path, root.openDataSet(name), where);
    });
    return parseJsonObject(path, where, text);
}

} // namespace

QJsonObject Session::recipe() const
{
    const Impl &impl = usable();
    return readRootJson(impl.path, *impl.file, "recipe", "recipe");
}

std::map<std::string, std::string> Session::inputSha256() const
{
    const Impl &impl = usable();
    const QJsonObject object = readRootJson(impl.path, *impl.file, "inputs", "input hashes");
    std::map<std::string, std::string> hashes;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!it.value().isString())
            throw Error(impl.path + ": /inputs: the hash of \"" + it.key().toStdString() + "\" is not a string");
        hashes[it.key().toStdString()] = it.value().toString().toStdString();
    }
    return hashes;
}

} // namespace nugget
