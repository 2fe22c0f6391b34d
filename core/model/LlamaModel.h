#pragma once
// LLaMA-family causal language model as torch::nn modules. Submodules are registered
// under Hugging Face's names, so named_parameters() yields "model.layers.0.self_attn.
// q_proj.weight" etc. and checkpoints load without a name map.

#include "io/ModelConfig.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <string>
#include <vector>

namespace nugget {

// Keys and values of every layer for the positions seen so far (generation).
struct KVCache
{
    std::vector<at::Tensor> keys;     // per layer [batch, kv_heads, positions, head_dim]
    std::vector<at::Tensor> values;
    int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
    void clear() { keys.clear(); values.clear(); }
};

// A low-rank adapter beside a frozen matrix W [out, in]: the layer computes
// W x + scaling * B (A dropout(x)), with A [rank, in] and B [out, rank]. Beside a
// bfloat16 or float16 W the factors are float32, so that a large student held in half
// precision still trains its adapters with float32 updates.
struct LoraSettings
{
    int64_t rank = 16;
    double alpha = 16;
    double dropout = 0.0;
    double scaling() const { return alpha / static_cast<double>(rank); }
};

// One factor of a LoRA adapter: a module holding one matrix, so that attaching and
// removing adapters changes the parameter list (libtorch cannot unregister parameters).
class LoraFactorImpl : public torch::nn::Module
{
public:
    explicit LoraFactorImpl(const at::Tensor &value);
    at::Tensor weight;
};
TORCH_MODULE(LoraFactor);

// y = x W^T (+ b) for W [out, in]: the projection every transformer matrix is, with an
// optional bias (parameter "bias", where the checkpoint's family has one) and an
// optional LoRA adapter (parameters "lora_A.weight" and "lora_B.weight" once attached,
// the names PEFT uses).
class ProjectionImpl : public torch::nn::Module
{
public:
    ProjectionImpl(int64_t inFeatures, int64_t outFeatures, bool withBias = false);
    at::Tensor forward(const at::Tensor &x);

    // Attaches an adapter initialised with A [rank, in] and B [out, rank].
    void attachLora(const LoraSettings &settings, const at::Tensor &a, const at::Tensor &b);
    void detachLora();
    bool hasLora() const { return m_lora.has_value(); }
    const LoraSettings &loraSettings() const { return *m_lora; }
    // W += scaling * B A, then the adapter is removed.
    void mergeLora();

    at::Tensor weight;
    at::Tensor bias;   // undefined when the projection has none
    LoraFactor lora_A{nullptr}, lora_B{nullptr};

private:
    std::optional<LoraSettings> m_lora;
};
TORCH_MODULE(Projection);

// Token embeddings [vocab, hidden] with an optional LoRA adapter
// ("lora_embedding_A.weight" [rank, vocab], "lora_embedding_B.weight" [hidden, rank],
// PEFT's convention: the delta weight is (B A)^T).
class TokenEmbeddingImpl : public torch::nn::Module
{
public:
    TokenEmbeddingImpl(int64_t vocabSize, int64_t hiddenSize);
    at::Tensor forward(const at::Tensor &ids);
    // The tied head: hidden [.., hidden] -> logits [.., vocab] with the same effective
    // matrix the lookup uses, the adapter included (weight + scaling (B A)^T), so that
    // a tied model stays one matrix while it trains and once merged.
    at::Tensor asHead(const at::Tensor &hidden);

    void attachLora(const LoraSettings &settings, const at::Tensor &a, const at::Tensor &b);
    void detachLora();
    bool hasLora() const { return m_lora.has_value(); }
    const LoraSettings &loraSettings() const { return *m_lora; }
    void mergeLora();

    at::Tensor weight;   // [vocab, hidden]
    LoraFactor lora_embedding_A{nullptr}, lora_embedding_B{nullptr};

private:
    std::optional<LoraSettings> m_lora;
};
TORCH_MODULE(TokenEmbedding);

class RMSNormImpl : public torch::nn::Module
{
public:
    RMSNormImpl(int64_t size, double eps);
    at::Tensor forward(const at::Tensor &x);
    at::Tensor weight;
    double eps;
};
TORCH_MODULE(RMSNorm);

// Rotary position embedding in Hugging Face's rotate_half convention: dimension i is
// paired with i + head_dim/2. The frequencies follow the config's RoPE type as
// transformers computes them: default, linear (divided by factor), dynamic (NTK-aware
// base once a sequence outgrows max_position_embeddings, which Nugget never runs, so
// the default within the context) and llama3 (long wavelengths divided by factor,
// short ones kept, smoothed in between).
class RotaryEmbedding
{
public:
    explicit RotaryEmbedding(const ModelConfig &config);
    // cos and sin of shape [positions, head_dim] for positions [start, start + count).
    std::pair<at::Tensor, at::Tensor> cosSin(int64_t start, int64_t count,
                                             const at::TensorOptions &options) const;
    static at::Tensor apply(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin);

private:
    ModelConfig m_config;
};

// The inverse frequencies [head_dim / 2] (float32, CPU) for a sequence of
// `sequenceLength` positions, computed in float32 in transformers' order of operations.
at::Tensor rotaryInverseFrequencies(const ModelConfig &config, int64_t sequenceLength);

class LlamaAttentionImpl : public torch::nn::Module
{
public:
    explicit LlamaAttentionImpl(const ModelConfig &config);
    // x [batch, time, hidden]; cache tensors are updated in place when given.
    at::Tensor forward(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       at::Tensor *cacheKeys, at::Tensor *cacheValues);
    Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

private:
    int64_t m_heads, m_kvHeads, m_headDim;
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module
{
public:
    explicit LlamaMLPImpl(const ModelConfig &config);
    at::Tensor forward(const at::Tensor &x);   // down(silu(gate(x)) * up(x))
    Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module
{
public:
    explicit LlamaDecoderLayerImpl(const ModelConfig &config);
    at::Tensor forward(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       at::Tensor *cacheKeys, at::Tensor *cacheValues);
    LlamaAttention self_attn{nullptr};
    LlamaMLP mlp{nullptr};
    RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// Hugging Face's "model": embeddings, decoder stack, final norm.
class LlamaBackboneImpl : public torch::nn::Module
{
public:
    explicit LlamaBackboneImpl(const ModelConfig &config);
    TokenEmbedding embed_tokens{nullptr};
    torch::nn::ModuleList layers{nullptr};
    RMSNorm norm{nullptr};
    LlamaDecoderLayer layer(int64_t index) const;
};
TORCH_MODULE(LlamaBackbone);

class LlamaForCausalLMImpl : public torch::nn::Module
{
public:
    explicit LlamaForCausalLMImpl(const ModelConfig &config);

    // input ids [batch, time] (int64) -> logits [batch, time, vocab]. With a cache,
    // positions continue after the cached ones and the cache is extended.
    at::Tensor forward(const at::Tensor &inputIds, KVCache *cache = nullptr);
    // Final hidden states before the head, [batch, time, hidden].
    // With `layerOutputs`, also every decoder layer's output [batch, time, hidden] in depth order.
    at::Tensor hiddenStates(const at::Tensor &inputIds, KVCache *cache = nullptr,
                            std::vector<at::Tensor> *layerOutputs = nullptr);
    // lm_head, or the embedding when tied (without an attached adapter's delta).
    at::Tensor headWeight() const;

    const ModelConfig &config() const { return m_config; }
    // Training runs each decoder layer again in the backward pass instead of keeping its
    // activations (the gradients are the same): what lets a 7B student train on a laptop.
    void setGradientCheckpointing(bool on) { m_gradientCheckpointing = on; }
    bool gradientCheckpointing() const { return m_gradientCheckpointing; }
    int64_t parameterCount() const;
    int64_t parameterBytes() const;
    at::Device device() const;
    at::ScalarType dtype() const;

    LlamaBackbone model{nullptr};
    Projection lm_head{nullptr};   // null when the embedding is tied

private:
    ModelConfig m_config;
    RotaryEmbedding m_rotary;
    bool m_gradientCheckpointing = false;
};
TORCH_MODULE(LlamaForCausalLM);

// Mean cross-entropy of next-token prediction over positions whose label is not -100.
// labels [batch, time] align with inputs (shifted inside, as in Hugging Face).
// Returns 0 (with a graph) when every label is masked.
at::Tensor causalLmLoss(const at::Tensor &logits, const at::Tensor &labels);

// Random initialisation as Hugging Face does it: normal(0, std) for matrices and
// embeddings, ones for norms, zeros for biases. Deterministic for a seed.
void initialiseWeights(LlamaForCausalLM &model, double std, uint64_t seed);

} // namespace nugget
