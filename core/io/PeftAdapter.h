#pragma once
// LoRA adapters in PEFT's folder format, so they load with Hugging Face PEFT:
// adapter_config.json (only keys PEFT's LoraConfig knows) and adapter_model.safetensors
// with keys such as
//   base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight   [r, in]
//   base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight   [out, r]
//   base_model.model.model.embed_tokens.lora_embedding_A             [r, vocab]
//   base_model.model.model.embed_tokens.lora_embedding_B             [hidden, r]
// Nugget's own provenance (how the adapter was made, which factors are the initial
// ones) goes into a separate file, nugget_adapter.json. docs/adapters.md has the
// conventions.

#include "model/LlamaModel.h"

#include <QJsonObject>

#include <map>
#include <optional>
#include <string>

namespace nugget {

// adapter key <-> our parameter name ("model.layers.0.self_attn.q_proj.lora_A.weight").
std::string peftKey(const std::string &parameterName);
std::string parameterNameFromPeftKey(const std::string &key);

// The PEFT version whose adapter_config.json Nugget writes (the one the tests load).
inline constexpr const char *kPeftFormatVersion = "0.21.2";
// The provenance file beside adapter_config.json.
inline constexpr const char *kProvenanceFile = "nugget_adapter.json";

struct AdapterFactors
{
    AdapterFactors() = default;
    AdapterFactors(at::Tensor a_, at::Tensor b_, std::optional<LoraSettings> settings_ = std::nullopt)
        : a(std::move(a_)), b(std::move(b_)), settings(settings_)
    {
    }
    at::Tensor a, b;   // in the adapter's layout
    // This matrix's own rank and alpha (scaling alpha / rank); else the adapter's.
    std::optional<LoraSettings> settings;
};

struct PeftAdapter
{
    LoraSettings settings;   // adapter_config.json's r, lora_alpha and lora_dropout
    std::string baseModel;
    std::map<std::string, AdapterFactors> factors;   // by base weight name ("...q_proj.weight")
    // For a base model with tied embeddings: the embedding's adapter is the head's too.
    // PEFT adapts a tied model's lm_head apart from its embedding, so the folder also
    // carries the head's share as an lm_head adapter (A = B_emb^T, B = A_emb^T).
    bool tiedEmbedding = false;
    // Base weights PEFT saves beside the factors (an adapted embedding's
    // "...embed_tokens.base_layer.weight"): attachAdapter checks they are the model's.
    std::map<std::string, at::Tensor> baseWeights;
};

// The adapters attached to `model`, each with its own rank and alpha.
PeftAdapter adapterOf(LlamaForCausalLM &model, const std::string &baseModel);

// The trained adapter in PEFT's convention for adapters that start from factors of the
// base itself (PiSSA/OLoRA's path_initial_model_for_weight_conversion): where `initial`
// has factors (A0, B0) for a matrix (the delta trick subtracted s B0 A0 from the base),
// A becomes [A; A0] and B [B, -B0], rank and alpha grow alike (the scaling stays), so
// the adapter applies to the untouched base.
PeftAdapter adapterForUntouchedBase(const PeftAdapter &trained, const std::map<std::string, AdapterFactors> &initial);

// Splits an adapter written by adapterForUntouchedBase back into the trained factors and
// the initial ones (A0, B0), by the initial ranks named in `initialRanks` (weight name ->
// rank). The two together give the same model.
std::pair<PeftAdapter, std::map<std::string, AdapterFactors>>
splitInitialFactors(const PeftAdapter &adapter, const std::map<std::string, int64_t> &initialRanks);

// Writes the folder: each file atomically. adapter_config.json holds only LoraConfig
// keys (per-matrix ranks and alphas as rank_pattern / alpha_pattern); `provenance`,
// when not empty, becomes nugget_adapter.json.
void writePeftAdapter(const std::string &dir, const PeftAdapter &adapter, const QJsonObject &provenance = {});
// Reads a PEFT LoRA folder: use_rslora, rank_pattern and alpha_pattern are honoured;
// an option Nugget cannot apply (use_dora, modules_to_save, fan_in_fan_out, biases, an
// initialisation that changes the base, ...) is refused, naming the key and the file.
PeftAdapter readPeftAdapter(const std::string &dir);
// DIR/nugget_adapter.json, or an empty object when there is none.
QJsonObject readAdapterProvenance(const std::string &dir);
// Attaches every adapter of `adapter` to `model` (shapes checked). On a tied model an
// lm_head adapter is accepted only as the embedding adapter's head share (what
// writePeftAdapter adds) and is then carried by the embedding's adapter.
void attachAdapter(LlamaForCausalLM &model, const PeftAdapter &adapter);

} // namespace nugget
