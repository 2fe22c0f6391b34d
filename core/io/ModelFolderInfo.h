#pragma once
// What a model folder holds, read without loading the weights (the header of each
// safetensors file is enough): for `nugget-cli info` and the workbench's model panes.

#include "io/ModelConfig.h"
#include "io/Safetensors.h"

#include <string>
#include <vector>

namespace nugget {

class TensorStore;

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
    // Everything that keeps the folder from loading or from being used as a model of
    // the workbench, each naming its file: the checks loading makes (checkpointProblems,
    // and with values also tensorValueProblem) and tokenizerProblem. Empty when sound.
    std::vector<std::string> problems;

    enum class Values { Unread, Checked };
    // Throws Error naming the folder/file when it is not a LLaMA-family HF folder at all
    // (no folder, no or an unreadable config.json, no readable weights); every other
    // problem is listed in `problems`. Values::Checked also reads every weight (the
    // values loading checks); Unread looks at the headers only.
    static ModelFolderInfo read(const std::string &dir, Values values = Values::Unread);
};

// One tensor a LlamaForCausalLM of `config` reads from its checkpoint.
struct ExpectedTensor
{
    std::string name;
    std::vector<int64_t> shape;
};
// In model order: embedding, each layer, final norm, head (none when tied).
std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config);

// Every problem of a checkpoint's tensors against its config.json, from the headers:
// a layer count or vocabulary the weights contradict, each missing tensor, each tensor
// of another shape, each tensor the model would not use. Tolerated beside the model's
// own: a tied model's stored lm_head.weight of the embedding's shape, and each layer's
// self_attn.rotary_emb.inv_freq buffer (older Hugging Face checkpoints carry them;
// the model computes them from the config's RoPE), their values checked by
// tensorValueProblem. Biases are expected where the config's family has them.
// `configPath` and `weights` (the safetensors file, or the folder when sharded) are
// named in the messages. The one rule loading and `info` share.
std::vector<std::string> checkpointProblems(const ModelConfig &config, const std::string &configPath,
                                            const TensorStore &store, const std::string &weights);
// The problem with the values of the stored tensor `name` (empty when none): NaN or
// infinite values; a tied model's lm_head.weight that is not the embedding; rotary
// frequencies other than the config's RoPE gives.
std::string tensorValueProblem(const ModelConfig &config, const TensorStore &store, const std::string &name,
                               const at::Tensor &stored, const std::string &weights);
// tensorValueProblem for every stored tensor, read one at a time from the mapping.
std::vector<std::string> checkpointValueProblems(const ModelConfig &config, const TensorStore &store,
                                                 const std::string &weights);
// DIR/tokenizer.model: missing, not a sentencepiece model, or with more pieces than
// vocab_size (ids the embedding does not have). Empty when fine.
std::string tokenizerProblem(const ModelConfig &config, const std::string &dir);
// Throws one Error listing every problem, a line each, when there is any.
void throwProblems(const std::vector<std::string> &problems);
// The safetensors file of a single-file checkpoint, else the folder: what messages name.
std::string weightsName(const TensorStore &store, const std::string &dir);

std::string shapeText(const std::vector<int64_t> &shape);   // "[64, 172]"
std::string byteSizeText(double bytes);                      // "1.02 MiB"

} // namespace nugget
