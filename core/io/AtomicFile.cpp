#include "io/AtomicFile.h"

#include "Error.h"

#include <QFile>
#include <QRandomGenerator>
#include <QSaveFile>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nugget {

namespace {

std::string parentFolder(const std::string &path)
{
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

std::string reasonOf(const QSaveFile &file)
{
    return file.errorString().toStdString();
}

} // namespace

std::string temporarySibling(const std::string &target, const char *kind)
{
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", QRandomGenerator::system()->generate());
    return target + kind + suffix;
}

bool syncToDisk(const std::string &path, bool folder)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    errno = err;
    return ok;
}

void writeFileAtomically(const std::string &path, const std::function<void(QIODevice &out)> &write)
{
    QSaveFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::WriteOnly))
        throw Error(path + ": cannot write: " + reasonOf(file));
    write(file);   // an exception here leaves the target alone: ~QSaveFile drops the copy
    if (file.error() != QFileDevice::NoError)
        throw Error(path + ": cannot write: " + reasonOf(file));
    if (!file.commit())
        throw Error(path + ": cannot write: " + reasonOf(file));
}

void writeFileAtomically(const std::string &path, const QByteArray &bytes)
{
    writeFileAtomically(path, [&](QIODevice &out) {
        if (out.write(bytes) != bytes.size())
            throw Error(path + ": cannot write: " + out.errorString().toStdString());
    });
}

StagedFile::StagedFile(const std::string &target, const std::string &purpose)
    : m_target(target), m_purpose(purpose)
{
    const std::string staging = temporarySibling(target, ".tmp-");
    // Created here rather than by the writer: O_EXCL never takes over someone else's
    // file, and the system's reason reads better than a library's.
    const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        throw Error(target + ": cannot " + purpose + ": cannot create " + staging + ": " + std::strerror(errno));
    ::close(fd);
    m_staging = staging;   // from here on the destructor removes it
}

StagedFile::StagedFile(StagedFile &&other) noexcept
    : m_target(std::move(other.m_target)), m_purpose(std::move(other.m_purpose)),
      m_staging(std::exchange(other.m_staging, {}))
{
}

StagedFile &StagedFile::operator=(StagedFile &&other) noexcept
{
    if (this != &other) {
        discard();
        m_target = std::move(other.m_target);
        m_purpose = std::move(other.m_purpose);
        m_staging = std::exchange(other.m_staging, {});
    }
    return *this;
}

StagedFile::~StagedFile() { discard(); }

void StagedFile::discard() noexcept
{
    if (!m_staging.empty())
        std::remove(m_staging.c_str());
    m_staging.clear();
}

void StagedFile::commit()
{
    if (m_staging.empty())
        throw Error(m_target + ": cannot " + m_purpose + ": the file was already published");
    // A replaced file keeps its permissions, as QSaveFile does.
    struct stat existing{};
    if (::stat(m_target.c_str(), &existing) == 0)
        ::chmod(m_staging.c_str(), existing.st_mode & 07777);
    if (!syncToDisk(m_staging, false))
        throw Error(m_target + ": cannot " + m_purpose + ": writing " + m_staging + " to disk failed: " +
                    std::strerror(errno));
    if (::rename(m_staging.c_str(), m_target.c_str()) != 0)
        throw Error(m_target + ": cannot " + m_purpose + ": renaming " + m_staging + " failed: " +
                    std::strerror(errno));
    m_staging.clear();
    syncToDisk(parentFolder(m_target), true);   // best effort: makes the rename durable
}

void writeFileByName(const std::string &path, const std::function<void(const std::string &stagingPath)> &write)
{
    StagedFile file(path);
    write(file.stagingPath());
    file.commit();
}

} // namespace nugget
