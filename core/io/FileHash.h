#pragma once
// sha256 of files, for manifests and session records of inputs.

#include <string>

namespace nugget {

// Lower-case hex sha256 of the file's bytes; throws Error naming the file when unreadable.
std::string fileSha256(const std::string &path);

} // namespace nugget
