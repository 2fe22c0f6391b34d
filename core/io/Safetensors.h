#pragma once
// safetensors: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}, then the
// raw row-major data. Reading memory-maps the file and hands out tensors without
// copying; each tensor keeps the mapping alive.

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nugget {

struct TensorInfo
{
    std::string name;
    std::string dtypeName;        // as in the file: "F32", "BF16", ...
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;           // offsets relative to the data section
    uint64_t end = 0;
    int64_t numel() const;
    uint64_t byteSize() const { return end - begin; }
};

// Maps safetensors dtype names to torch dtypes; throws Error for unknown names.
c10::ScalarType safetensorsDtype(const std::string &name);
std::string safetensorsDtypeName(c10::ScalarType dtype);

class SafetensorsFile
{
public:
    static constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

    // Opens, maps and validates the whole header. Throws Error naming the file and
    // the problem (header length, JSON, dtype, shape/size, offsets, overlaps).
    static std::shared_ptr<SafetensorsFile> open(const std::string &path);

    const std::string &path() const;
    uint64_t fileSize() const;
    const std::vector<TensorInfo> &tensors() const;        // sorted by data offset
    const TensorInfo *find(const std::string &name) const; // nullptr when absent
    const std::map<std::string, std::string> &metadata() const;

    // Zero-copy view of the tensor's bytes (copy-on-write private mapping: writing to
    // it never touches the file). Throws Error when the name is absent.
    at::Tensor tensor(const std::string &name) const;

    ~SafetensorsFile();

private:
    struct Mapping;
    SafetensorsFile() = default;
    std::shared_ptr<Mapping> m_mapping;
    std::string m_path;
    uint64_t m_dataStart = 0;
    std::vector<TensorInfo> m_tensors;
    std::map<std::string, size_t> m_index;
    std::map<std::string, std::string> m_metadata;
};

// Writes tensors (any device, contiguous or not) to `path` atomically: a temporary file
// in the same folder, renamed over the target only when complete. Header padded with
// spaces to a multiple of 8 bytes. Throws Error on I/O failure or duplicate names.
void writeSafetensors(const std::string &path,
                      const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

} // namespace nugget
