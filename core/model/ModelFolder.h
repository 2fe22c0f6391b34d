#pragma once
// A Hugging Face model folder (config.json, safetensors weights, tokenizer.model)
// loaded into a LlamaForCausalLM, and written back out.

#include "io/ModelConfig.h"
#include "io/TensorStore.h"
#include "model/LlamaModel.h"

#include <optional>
#include <string>

namespace nugget {

struct LoadOptions
{
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;   // compute dtype of the loaded parameters
};

struct LoadedModel
{
    std::string folder;
    ModelConfig config;
    LlamaForCausalLM model{nullptr};
    std::string tokenizerPath;   // empty when the folder has no tokenizer.model
};

// Reads DIR/config.json and the weights. Throws Error naming the file and tensor on a
// missing folder or config, and listing every problem checkpointProblems and
// tensorValueProblem (io/ModelFolderInfo.h) find: missing, misshapen or unused tensors,
// non-finite weights.
LoadedModel loadModelFolder(const std::string &dir, const LoadOptions &options = {});

// The folder, config and tokenizer path with the same checks, without loading the
// weights (`model` stays null): for a model whose weights are read memory-mapped.
LoadedModel describeModelFolder(const std::string &dir);

// DIR/config.json without loading the weights, with the same checks loadModelFolder
// makes first: the folder and its config exist, the config does not describe far more
// values than the weights hold, and the tensors' headers fit the config
// (checkpointProblems: every problem in one Error).
ModelConfig readFolderConfig(const std::string &dir);

// Copies every parameter of `model` from `store` (names as in Hugging Face), after
// checkpointProblems; throws listing every tensorValueProblem.
void loadWeights(LlamaForCausalLM &model, const TensorStore &store, const std::string &source);

struct SaveOptions
{
    at::ScalarType storageDtype = at::kFloat;   // F32, F16 or BF16 on disk
    std::string tokenizerPath;                  // copied to DIR/tokenizer.model when set
};

// Writes config.json, model.safetensors (and tokenizer.model) into DIR, each file
// atomically. Creates DIR when needed.
void saveModelFolder(LlamaForCausalLM &model, const std::string &dir, const SaveOptions &options = {});

// "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N". Throws Error for
// anything else or a device this build cannot use.
at::Device parseDevice(const std::string &text);
at::ScalarType parseDtype(const std::string &text);   // float32|float16|bfloat16

} // namespace nugget
