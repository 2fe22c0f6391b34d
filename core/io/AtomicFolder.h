#pragma once
// Folders written as a unit (an adapter with its delta, a merged model): readers see
// either the previous folder or the complete new one, never a mix of both.

#include <functional>
#include <set>
#include <string>

namespace nugget {

// Calls `write` with a fresh sibling folder "<dir>.tmp-<random>" to fill, then puts it
// in the place of `dir`: a plain rename when `dir` does not exist, else an atomic swap
// (renameat2 RENAME_EXCHANGE) after which the previous folder is removed. An existing
// `dir` is only replaced when every entry in it is named in `ownNames` (the files the
// writer produces); anything else in it means it is not ours to delete, and Error is
// thrown before anything is written. When `write` throws, the sibling is removed and
// `dir` is untouched: an Error comes back as Error "<dir>: cannot write the folder:
// ...", anything else (Cancelled among them) unchanged. A kill at any moment leaves
// `dir` whole (old or new) and at most a stale "<dir>.tmp-*" or "<dir>.old-*" sibling.
void writeFolderAtomically(const std::string &dir, const std::set<std::string> &ownNames,
                           const std::function<void(const std::string &staging)> &write);

} // namespace nugget
