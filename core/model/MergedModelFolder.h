#pragma once
// A fine-tuned student written as a complete Hugging Face model folder, the way
// transformers' save_pretrained writes one: config.json, safetensors weights (sharded
// with model.safetensors.index.json above a size), generation_config.json, and the
// tokenizer (tokenizer.model, tokenizer_config.json with a chat_template that renders
// Nugget's training format, special_tokens_map.json).

#include "io/PeftAdapter.h"
#include "model/LlamaModel.h"

#include <cstdint>
#include <optional>
#include <string>

namespace nugget {

struct MergedFolderOptions
{
    // F32, F16 or BF16 on disk; unset: each tensor in the student's own dtype.
    std::optional<at::ScalarType> storageDtype;
    // Shards hold at most this many bytes of tensors (transformers' max_shard_size).
    uint64_t maxShardBytes = 5'000'000'000ull;
};

// The Jinja chat template that renders conversations exactly as Nugget trains on them
// (text/ChatDataset.h): BOS, "<|role|>\n{content}\n\n" for system and user turns,
// "<|assistant|>\n{content}" + EOS for assistant turns, "<|assistant|>\n" as the
// generation prompt.
std::string nuggetChatTemplate();

// "5GB", "500MB", "2000000" -> bytes. Throws Error for anything else.
uint64_t parseShardSize(const std::string &text);

// Writes DIR as a unit: the untouched student in STUDENT_DIR with `adapter` (may be
// null) merged into it. Each adapted matrix is widened to float32, the adapter's
// s B A added and the sum rounded once to the storage dtype; the other tensors are the
// student's. `model` gives the parameter names (its attached adapters are ignored).
// config.json, generation_config.json and the tokenizer files come from STUDENT_DIR
// (written from its config and tokenizer where it has none).
void writeMergedModelFolder(LlamaForCausalLM &model, const std::string &studentDir, const PeftAdapter *adapter,
                            const std::string &dir, const MergedFolderOptions &options = {});

} // namespace nugget
