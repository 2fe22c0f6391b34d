#pragma once
// config.json of a Hugging Face LLaMA-family checkpoint: LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM, as transformers 4 and 5 write them
// (docs/model-families.md lists the keys read and those refused).

#include <QJsonObject>

#include <cstdint>
#include <string>
#include <vector>

namespace nugget {

struct ModelConfig
{
    std::string architecture = "LlamaForCausalLM";   // or MistralForCausalLM, Qwen2ForCausalLM
    std::string modelType = "llama";                 // or mistral, qwen2
    int64_t hiddenSize = 0;
    int64_t intermediateSize = 0;
    int64_t numHiddenLayers = 0;
    int64_t numAttentionHeads = 0;
    int64_t numKeyValueHeads = 0;       // defaults to numAttentionHeads
    int64_t headDim = 0;                // defaults to hiddenSize / numAttentionHeads
    int64_t vocabSize = 0;
    int64_t maxPositionEmbeddings = 2048;
    double rmsNormEps = 1e-6;

    // Rotary position embedding as transformers computes it (rope_parameters, or
    // rope_theta and rope_scaling as transformers 4 wrote them).
    double ropeTheta = 10000.0;
    std::string ropeType = "default";       // default, linear, dynamic or llama3
    double ropeFactor = 1.0;                // linear, dynamic, llama3
    double ropeLowFreqFactor = 1.0;         // llama3
    double ropeHighFreqFactor = 4.0;        // llama3
    int64_t ropeOriginalMaxPositions = 0;   // llama3: original_max_position_embeddings

    // Bias vectors: LLaMA's attention_bias puts them on q, k, v and o, mlp_bias on gate,
    // up and down; Qwen2 always has them on q, k and v only.
    bool qkvBias = false;
    bool outputBias = false;
    bool mlpBias = false;
    // Sliding-window attention as written (0: none). Only a window no shorter than the
    // context is accepted, where it changes nothing; kept to be written back.
    int64_t slidingWindow = 0;
    int64_t maxWindowLayers = 28;   // Qwen2's max_window_layers, written back

    bool tieWordEmbeddings = false;
    int64_t bosTokenId = 1;
    int64_t eosTokenId = 2;                     // the first end-of-sequence id
    std::vector<int64_t> extraEosTokenIds;      // the others when eos_token_id is a list
    std::string torchDtype = "float32";         // dtype (transformers 5) or torch_dtype

    // Every id that ends generation: eosTokenId, then extraEosTokenIds.
    std::vector<int64_t> eosTokenIds() const;

    // Parses and validates; `source` names the file in error messages. Throws Error
    // naming the file and key for unknown architectures, missing keys, wrong types
    // and absurd values (zero heads, heads not dividing hidden, kv heads not dividing
    // heads, non-positive sizes), and for keys that change the model and are not
    // implemented (other RoPE types, a sliding window inside the context, hidden_act
    // other than "silu", a partial rotary factor, quantisation): all of those in one
    // message, a line each.
    static ModelConfig fromJson(const QJsonObject &json, const std::string &source);
    static ModelConfig fromJsonFile(const std::string &path);

    // What transformers 4 and 5 both read back as the same model.
    QJsonObject toJson() const;
    void saveJsonFile(const std::string &path) const;   // atomic

    int64_t parameterCount() const;   // as the model holds them (tied head counted once)
    void validate(const std::string &source) const;
};

} // namespace nugget
