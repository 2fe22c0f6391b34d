#pragma once
// LLaMA-family causal language model as torch::nn modules. Submodules are registered
// under Hugging Face's names, so named_parameters() yields "model.layers.0.self_attn.
// q_proj.weight" etc. and checkpoints load without a name map.

#include "io/ModelConfig.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

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

// y = x W^T for W [out, in]: the projection every transformer matrix is.
class ProjectionImpl : public torch::nn::Module
{
public:
    ProjectionImpl(int64_t inFeatures, int64_t outFeatures);
    at::Tensor forward(const at::Tensor &x);
    at::Tensor weight;
};
TORCH_MODULE(Projection);

class TokenEmbeddingImpl : public torch::nn::Module
{
public:
    TokenEmbeddingImpl(int64_t vocabSize, int64_t hiddenSize);
    at::Tensor forward(const at::Tensor &ids);
    at::Tensor weight;   // [vocab, hidden]
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
// paired with i + head_dim/2.
class RotaryEmbedding
{
public:
    RotaryEmbedding(int64_t headDim, double theta);
    // cos and sin of shape [positions, head_dim] for positions [start, start + count).
    std::pair<at::Tensor, at::Tensor> cosSin(int64_t start, int64_t count,
                                             const at::TensorOptions &options) const;
    static at::Tensor apply(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin);

private:
    int64_t m_headDim;
    double m_theta;
};

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
    at::Tensor hiddenStates(const at::Tensor &inputIds, KVCache *cache = nullptr);
    at::Tensor headWeight() const;   // lm_head, or the embedding when tied

    const ModelConfig &config() const { return m_config; }
    int64_t parameterCount() const;
    int64_t parameterBytes() const;
    at::Device device() const;
    at::ScalarType dtype() const;

    LlamaBackbone model{nullptr};
    Projection lm_head{nullptr};   // null when the embedding is tied

private:
    ModelConfig m_config;
    RotaryEmbedding m_rotary;
};
TORCH_MODULE(LlamaForCausalLM);

// Mean cross-entropy of next-token prediction over positions whose label is not -100.
// labels [batch, time] align with inputs (shifted inside, as in Hugging Face).
// Returns 0 (with a graph) when every label is masked.
at::Tensor causalLmLoss(const at::Tensor &logits, const at::Tensor &labels);

// Random initialisation as Hugging Face does it: normal(0, std) for matrices and
// embeddings, ones for norms. Deterministic for a seed.
void initialiseWeights(LlamaForCausalLM &model, double std, uint64_t seed);

} // namespace nugget
