#pragma once
// Single files published in one step: readers see the previous file or the complete new
// one, never a partial write. A kill at any moment leaves the target whole (old or new)
// and at most a stale "<target>.tmp-*" sibling. Folders: io/AtomicFolder.h.

#include <QByteArray>

#include <functional>
#include <string>

class QIODevice;

namespace nugget {

// Streams the file through `write` into a QSaveFile and commits it: the target appears,
// or replaces the previous one keeping its permissions, only once `write` has returned
// and every byte reached the disk. When `write` throws (Error, Cancelled, anything) the
// target is untouched and the exception propagates unchanged. A failed write or commit
// throws Error naming `path` and the system's reason.
void writeFileAtomically(const std::string &path, const std::function<void(QIODevice &out)> &write);
void writeFileAtomically(const std::string &path, const QByteArray &bytes);

// For writers that take a file name rather than a stream (HDF5, image and PDF writers):
// a fresh, empty sibling "<target>.tmp-<random>" to write, which commit() moves over the
// target in one rename. Until then the target is untouched; destroying an uncommitted
// StagedFile removes the staging file.
class StagedFile
{
public:
    // Creates the staging file (never reusing an existing one). Throws Error
    // "<target>: cannot <purpose>: cannot create <staging>: <reason>".
    explicit StagedFile(const std::string &target, const std::string &purpose = "write the file");
    StagedFile(StagedFile &&other) noexcept;
    StagedFile &operator=(StagedFile &&other) noexcept;
    StagedFile(const StagedFile &) = delete;
    StagedFile &operator=(const StagedFile &) = delete;
    ~StagedFile();

    const std::string &target() const { return m_target; }
    const std::string &stagingPath() const { return m_staging; }   // empty once committed

    // Flushes the staging file to disk, gives it the permissions of the target it
    // replaces (if any) and renames it over the target. Throws Error naming the target;
    // on failure the target is untouched and the staging file is still removed later.
    void commit();

private:
    void discard() noexcept;
    std::string m_target, m_purpose, m_staging;
};

// Runs `write(stagingPath)` on a StagedFile for `path` and commits it; when `write`
// throws, the staging file is removed and the exception propagates unchanged.
void writeFileByName(const std::string &path, const std::function<void(const std::string &stagingPath)> &write);

// "<target><kind><8 random hex digits>", e.g. kind ".tmp-": the name of a sibling that
// is about to replace `target`.
std::string temporarySibling(const std::string &target, const char *kind);

// fsync of a file or folder (the folder makes a rename durable). False on failure, with
// errno set.
bool syncToDisk(const std::string &path, bool folder);

} // namespace nugget
