#pragma once
// config.json of a Hugging Face LLaMA-family checkpoint.

#include <QJsonObject>

#include <cstdint>
#include <string>

namespace nugget {

struct ModelConfig
{
    std::string architecture = "LlamaForCausalLM";
    std::string modelType = "llama";
    int64_t hiddenSize = 0;
    int64_t intermediateSize = 0;
    int64_t numHiddenLayers = 0;
    int64_t numAttentionHeads = 0;
    int64_t numKeyValueHeads = 0;       // defaults to numAttentionHeads
    int64_t headDim = 0;                // defaults to hiddenSize / numAttentionHeads
    int64_t vocabSize = 0;
    int64_t maxPositionEmbeddings = 2048;
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    bool tieWordEmbeddings = false;
    int64_t bosTokenId = 1;
    int64_t eosTokenId = 2;
    std::string torchDtype = "float32";

    // Parses and validates; `source` names the file in error messages. Throws Error
    // naming the file and key for unknown architectures, missing keys, wrong types
    // and absurd values (zero heads, heads not dividing hidden, kv heads not dividing
    // heads, non-positive sizes), and for keys that change the model and are not
    // implemented (rope_scaling, attention_bias or mlp_bias true, hidden_act other than
    // "silu"): all of those in one message, a line each.
    static ModelConfig fromJson(const QJsonObject &json, const std::string &source);
    static ModelConfig fromJsonFile(const std::string &path);

    QJsonObject toJson() const;
    void saveJsonFile(const std::string &path) const;   // atomic

    int64_t parameterCount() const;   // as the model holds them (tied head counted once)
    void validate(const std::string &source) const;
};

} // namespace nugget
