#pragma once
// The matrices of a LLaMA model that take LoRA adapters, by module kind, and helpers to
// attach, freeze, collect and merge adapters across the model.

#include "model/LlamaModel.h"
#include "transfer/RecipeChoices.h"

#include <set>
#include <string>
#include <vector>

namespace nugget {

enum class TargetModule { Q, K, V, O, Gate, Up, Down, Embed, Head };

// "q", "k", "v", "o", "gate", "up", "down", "embed", "head".
std::string targetModuleKey(TargetModule module);
TargetModule parseTargetModule(const std::string &key);
const std::vector<TargetModule> &allTargetModules();
bool isAttention(TargetModule module);
bool isFeedForward(TargetModule module);

// What gets transferred: the paper's "origin" ablation.
// TransferOrigin, parseTransferOrigin and transferOriginKey: transfer/RecipeChoices.h
std::set<TargetModule> modulesOf(TransferOrigin origin);

// Hugging Face name of a target matrix: layer ignored for Embed and Head.
std::string targetParameterName(TargetModule module, int64_t layer);

struct TargetMatrix
{
    TargetModule module;
    int64_t layer = -1;            // -1 for Embed and Head
    std::string parameterName;     // e.g. "model.layers.3.mlp.up_proj.weight"
};

// Every target matrix the model has for `modules` (Head skipped when tied), in model
// order: embedding, layers by depth (q k v o gate up down), head.
std::vector<TargetMatrix> targetMatrices(const ModelConfig &config, const std::set<TargetModule> &modules);

// Attaches A, B to the matrix named `parameterName` (shapes as for Projection /
// TokenEmbedding). Throws Error for unknown names.
void attachLora(LlamaForCausalLM &model, const std::string &parameterName, const LoraSettings &settings,
                const at::Tensor &a, const at::Tensor &b);
// weight += delta, computed in float32 and rounded once to the weight's dtype.
void addInFloat32(at::Tensor weight, const at::Tensor &delta);
// Adds `delta` [out, in] (the weight's own layout) to the matrix's weight in place.
void addToWeight(LlamaForCausalLM &model, const std::string &parameterName, const at::Tensor &delta);
at::Tensor weightOf(LlamaForCausalLM &model, const std::string &parameterName);

// requires_grad = false on everything but LoRA factors.
void freezeAllButLora(LlamaForCausalLM &model);
std::vector<at::Tensor> loraParameters(LlamaForCausalLM &model);
// Every adapter merged into its weight (in float32, rounded once) and removed.
void mergeAllLora(LlamaForCausalLM &model);
// A new model with `model`'s weights and every attached adapter merged into them;
// `model` keeps its adapters (so it can still be trained or exported as an adapter).
LlamaForCausalLM mergedCopy(LlamaForCausalLM &model);
void detachAllLora(LlamaForCausalLM &model);

} // namespace nugget
