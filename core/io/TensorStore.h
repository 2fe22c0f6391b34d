#pragma once
// All weights of one checkpoint, whether in a single model.safetensors or sharded
// across files listed by model.safetensors.index.json ("weight_map": name -> file).

#include "io/Safetensors.h"

#include <memory>
#include <string>
#include <vector>

namespace nugget {

class TensorStore
{
public:
    // Opens DIR/model.safetensors, or DIR/model.safetensors.index.json and every shard
    // it names. Throws Error when neither exists, a shard is missing or malformed, or
    // the index names a tensor its shard lacks.
    static TensorStore openFolder(const std::string &dir);
    // A single file.
    static TensorStore openFile(const std::string &path);

    std::vector<std::string> names() const;   // sorted
    bool contains(const std::string &name) const;
    const TensorInfo &info(const std::string &name) const;  // throws Error if absent
    at::Tensor tensor(const std::string &name) const;       // zero-copy; throws if absent
    std::vector<std::string> files() const;
    uint64_t totalBytes() const;   // sum of tensor data bytes

private:
    std::vector<std::shared_ptr<SafetensorsFile>> m_files;
    std::map<std::string, size_t> m_fileOf;   // tensor name -> index in m_files
};

// Drops the resident pages of a tensor handed out by a TensorStore (a private mapping
// never written to) once its values have been copied; the kernel reads them again from
// the file if they are touched later. Keeps the resident set near one tensor while a
// whole checkpoint is streamed.
void releaseMappedPages(const at::Tensor &mapped);

} // namespace nugget
