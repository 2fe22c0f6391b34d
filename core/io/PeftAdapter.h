#pragma once
// LoRA adapters in PEFT's folder format, so they load with Hugging Face PEFT:
// adapter_config.json (peft_type "LORA", r, lora_alpha, target_modules, ...) and
// adapter_model.safetensors with keys such as
//   base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight   [r, in]
//   base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight   [out, r]
//   base_model.model.model.embed_tokens.lora_embedding_A             [r, vocab]
//   base_model.model.model.embed_tokens.lora_embedding_B             [hidden, r]

#include "model/LlamaModel.h"

#include <QJsonObject>

#include <map>
#include <string>

namespace nugget {

// adapter key <-> our parameter name ("model.layers.0.self_attn.q_proj.lora_A.weight").
std::string peftKey(const std::string &parameterName);
std::string parameterNameFromPeftKey(const std::string &key);

struct AdapterFactors
{
    at::Tensor a, b;   // in the adapter's layout
};

struct PeftAdapter
{
    LoraSettings settings;
    std::string baseModel;
    std::map<std::string, AdapterFactors> factors;   // by base weight name ("...q_proj.weight")
    // For a base model with tied embeddings: the embedding's adapter is the head's too.
    // PEFT adapts a tied model's lm_head apart from its embedding, so the folder also
    // carries the head's share as an lm_head adapter (A = B_emb^T, B = A_emb^T).
    bool tiedEmbedding = false;
};

// The adapters attached to `model` (every one must share rank and alpha).
PeftAdapter adapterOf(LlamaForCausalLM &model, const std::string &baseModel);

// Writes the folder: each file atomically; `extra` is merged into adapter_config.json.
void writePeftAdapter(const std::string &dir, const PeftAdapter &adapter, const QJsonObject &extra = {});
// Reads a PEFT LoRA folder. Throws Error naming the file for anything else.
PeftAdapter readPeftAdapter(const std::string &dir);
// Attaches every adapter of `adapter` to `model` (shapes checked). On a tied model an
// lm_head adapter is accepted only as the embedding adapter's head share (what
// writePeftAdapter adds) and is then carried by the embedding's adapter.
void attachAdapter(LlamaForCausalLM &model, const PeftAdapter &adapter);

} // namespace nugget
