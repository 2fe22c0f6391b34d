#pragma once
// What a model folder holds, read without loading the weights (the header of each
// safetensors file is enough): for `nugget-cli info` and the workbench's model panes.

#include "io/ModelConfig.h"
#include "io/Safetensors.h"

#include <string>
#include <vector>

namespace nugget {

struct ModelFolderInfo
{
    struct File
    {
        std::string name;   // file name inside the folder
        int64_t bytes = 0;
    };

    std::string folder;                 // absolute path
    ModelConfig config;
    std::vector<TensorInfo> tensors;    // in natural name order (layers.2 before layers.10)
    std::vector<File> files;            // weights, config and tokenizer
    bool hasTokenizer = false;
    int64_t storedElements = 0;
    int64_t storedBytes = 0;

    // Throws Error naming the folder/file when it is not a LLaMA-family HF folder.
    static ModelFolderInfo read(const std::string &dir);
};

std::string shapeText(const std::vector<int64_t> &shape);   // "[64, 172]"
std::string byteSizeText(double bytes);                      // "1.02 MiB"

} // namespace nugget
