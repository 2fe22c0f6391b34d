#include "io/AtomicFolder.h"

#include "Error.h"
#include "io/AtomicFile.h"

#include <QDir>
#include <QFileInfo>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>

namespace nugget {

void writeFolderAtomically(const std::string &dir, const std::set<std::string> &ownNames,
                           const std::function<void(const std::string &staging)> &write)
{
    const QString target = QDir::cleanPath(QFileInfo(QString::fromStdString(dir)).absoluteFilePath());
    const QFileInfo existing(target);
    if (existing.exists() && !existing.isDir())
        throw Error(dir + ": exists and is not a folder");
    if (existing.isDir()) {
        const auto entries = QDir(target).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System);
        for (const QString &entry : entries)
            if (!ownNames.count(entry.toStdString()))
                throw Error(dir + ": the folder holds '" + entry.toStdString() +
                            "', which Nugget did not write; it is left alone (choose an empty or new output folder)");
    }
    const QString parent = QFileInfo(target).absolutePath();
    if (!QDir().mkpath(parent))
        throw Error(dir + ": cannot create the parent folder " + parent.toStdString());

    const std::string staging = temporarySibling(target.toStdString(), ".tmp-");
    if (::mkdir(staging.c_str(), 0777) != 0)
        throw Error(dir + ": cannot create the folder " + staging + " (" + std::strerror(errno) + ")");
    try {
        write(staging);
    } catch (const Error &e) {
        QDir(QString::fromStdString(staging)).removeRecursively();
        throw Error(dir + ": cannot write the folder: " + e.what());
    } catch (...) {
        // Anything else, a Cancelled included (a cancel is not a failure), reaches the
        // caller unchanged.
        QDir(QString::fromStdString(staging)).removeRecursively();
        throw;
    }
    syncToDisk(staging, true);   // best effort: makes the rename durable

    const QByteArray targetBytes = QFile::encodeName(target);
    if (!existing.exists()) {
        if (::rename(staging.c_str(), targetBytes.constData()) != 0) {
            const int err = errno;
            QDir(QString::fromStdString(staging)).removeRecursively();
            throw Error(dir + ": cannot move the new folder into place (" + std::strerror(err) + ")");
        }
    } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, targetBytes.constData(), RENAME_EXCHANGE) == 0) {
        // `staging` now holds the previous folder.
        QDir(QString::fromStdString(staging)).removeRecursively();
    } else {
        // File systems without RENAME_EXCHANGE: move the old folder aside first. A kill
        // between the two renames leaves it whole in "<dir>.old-*".
        const std::string old = temporarySibling(target.toStdString(), ".old-");
        if (::rename(targetBytes.constData(), old.c_str()) != 0 ||
            ::rename(staging.c_str(), targetBytes.constData()) != 0) {
            const int err = errno;
            if (!QFileInfo::exists(target))
                ::rename(old.c_str(), targetBytes.constData());
            QDir(QString::fromStdString(staging)).removeRecursively();
            throw Error(dir + ": cannot move the new folder into place (" + std::strerror(err) + ")");
        }
        QDir(QString::fromStdString(old)).removeRecursively();
    }
    syncToDisk(QFile::encodeName(parent).toStdString(), true);
}

} // namespace nugget
