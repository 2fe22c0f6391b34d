#pragma once
// What a model pane shows of a model folder, as plain values: read without loading the
// weights, converted from the core's ModelFolderInfo by the workbench library
// (readModelFolderSummary in ResultConversion.h), so the pane needs no libtorch headers.
// Field names follow ModelFolderInfo and ModelConfig.

#include <cstdint>
#include <string>
#include <vector>

namespace nugget {

struct ModelFolderSummary
{
    struct Config
    {
        std::string architecture;
        int64_t numHiddenLayers = 0, hiddenSize = 0, intermediateSize = 0;
        int64_t numAttentionHeads = 0, numKeyValueHeads = 0, headDim = 0, vocabSize = 0;
        int64_t parameters = 0;   // as the model holds them (tied head counted once)
        int64_t parameterCount() const { return parameters; }
    };
    struct Tensor
    {
        std::string name;
        std::string dtypeName;   // as in the file: "F32", "BF16", ...
        std::vector<int64_t> shape;
        std::string shapeText;   // "[64, 172]"
        int64_t elements = 0;
        int64_t numel() const { return elements; }
    };

    std::string folder;             // absolute path
    Config config;
    std::vector<Tensor> tensors;    // in natural name order (layers.2 before layers.10)
    int64_t storedBytes = 0;
    std::string storedBytesText;    // "1.02 MiB"
    std::string float32BytesText;   // the parameters' size as float32
    // What keeps the folder from being used as a model, each naming its file; empty when sound.
    std::vector<std::string> problems;
};

} // namespace nugget
