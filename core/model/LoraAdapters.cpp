#include "model/LoraAdapters.h"

#include <map>

#include "Error.h"

#include <torch/torch.h>

namespace nugget {

namespace {

struct ModuleKey
{
    TargetModule module;
    const char *key;
    const char *path;   // inside a decoder layer, or the full path for Embed/Head
};

const ModuleKey kModules[] = {
    {TargetModule::Q, "q", "self_attn.q_proj"},     {TargetModule::K, "k", "self_attn.k_proj"},
    {TargetModule::V, "v", "self_attn.v_proj"},     {TargetModule::O, "o", "self_attn.o_proj"},
    {TargetModule::Gate, "gate", "mlp.gate_proj"},  {TargetModule::Up, "up", "mlp.up_proj"},
    {TargetModule::Down, "down", "mlp.down_proj"},  {TargetModule::Embed, "embed", "model.embed_tokens"},
    {TargetModule::Head, "head", "lm_head"},
};

const ModuleKey &entry(TargetModule module)
{
    for (const auto &e : kModules)
        if (e.module == module)
            return e;
    throw Error("unknown target module");
}

std::string modulePath(const std::string &parameterName)
{
    const std::string suffix = ".weight";
    if (parameterName.size() <= suffix.size() ||
        parameterName.compare(parameterName.size() - suffix.size(), suffix.size(), suffix) != 0)
        throw Error("'" + parameterName + "' is not a weight matrix name");
    return parameterName.substr(0, parameterName.size() - suffix.size());
}

std::shared_ptr<torch::nn::Module> findModule(LlamaForCausalLM &model, const std::string &parameterName)
{
    const auto path = modulePath(parameterName);
    const auto modules = model->named_modules();
    const auto *found = modules.find(path);
    if (!found)
        throw Error("the model has no matrix '" + parameterName + "'");
    return *found;
}

} // namespace

void addInFloat32(at::Tensor weight, const at::Tensor &delta)
{
    torch::NoGradGuard noGrad;
    // A half-precision weight is widened, added to and rounded once: adding a rounded
    // delta would round twice and lose up to half of a fine-tuning's small change.
    if (weight.scalar_type() == at::kFloat || weight.scalar_type() == at::kDouble)
        weight.add_(delta.to(weight.options()));
    else
        weight.copy_(weight.to(at::kFloat) + delta.to(weight.device(), at::kFloat));
}

std::string targetModuleKey(TargetModule module) { return entry(module).key; }

TargetModule parseTargetModule(const std::string &key)
{
    for (const auto &e : kModules)
        if (key == e.key)
            return e.module;
    throw Error("unknown module '" + key + "' (use q, k, v, o, gate, up, down, embed or head)");
}

const std::vector<TargetModule> &allTargetModules()
{
    static const std::vector<TargetModule> all = {TargetModule::Q,    TargetModule::K,  TargetModule::V,
                                                  TargetModule::O,    TargetModule::Gate, TargetModule::Up,
                                                  TargetModule::Down, TargetModule::Embed, TargetModule::Head};
    return all;
}

bool isAttention(TargetModule m)
{
    return m == TargetModule::Q || m == TargetModule::K || m == TargetModule::V || m == TargetModule::O;
}

bool isFeedForward(TargetModule m)
{
    return m == TargetModule::Gate || m == TargetModule::Up || m == TargetModule::Down;
}

std::set<TargetModule> modulesOf(TransferOrigin origin)
{
    std::set<TargetModule> modules;
    for (const auto m : allTargetModules()) {
        const bool embedding = m == TargetModule::Embed || m == TargetModule::Head;
        if (origin == TransferOrigin::All || (origin == TransferOrigin::Attention && isAttention(m)) ||
            (origin == TransferOrigin::FeedForward && isFeedForward(m)) ||
            (origin == TransferOrigin::Embedding && embedding))
            modules.insert(m);
    }
    return modules;
}

std::string targetParameterName(TargetModule module, int64_t layer)
{
    const auto &e = entry(module);
    if (module == TargetModule::Embed || module == TargetModule::Head)
        return std::string(e.path) + ".weight";
    return "model.layers." + std::to_string(layer) + "." + e.path + ".weight";
}

std::vector<TargetMatrix> targetMatrices(const ModelConfig &config, const std::set<TargetModule> &modules)
{
    std::vector<TargetMatrix> matrices;
    if (modules.count(TargetModule::Embed))
        matrices.push_back({TargetModule::Embed, -1, targetParameterName(TargetModule::Embed, -1)});
    for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer)
        for (const auto m : allTargetModules())
            if (m != TargetModule::Embed && m != TargetModule::Head && modules.count(m))
                matrices.push_back({m, layer, targetParameterName(m, layer)});
    if (modules.count(TargetModule::Head) && !config.tieWordEmbeddings)
        matrices.push_back({TargetModule::Head, -1, targetParameterName(TargetModule::Head, -1)});
    return matrices;
}

void attachLora(LlamaForCausalLM &model, const std::string &parameterName, const LoraSettings &settings,
                const at::Tensor &a, const at::Tensor &b)
{
    const auto module = findModule(model, parameterName);
    if (auto projection = std::dynamic_pointer_cast<ProjectionImpl>(module))
        return projection->attachLora(settings, a, b);
    if (auto embedding = std::dynamic_pointer_cast<TokenEmbeddingImpl>(module))
        return embedding->attachLora(settings, a, b);
    throw Error("'" + parameterName + "' cannot take a LoRA adapter");
}

at::Tensor weightOf(LlamaForCausalLM &model, const std::string &parameterName)
{
    const auto params = model->named_parameters();
    const auto *found = params.find(parameterName);
    if (!found)
        throw Error("the model has no matrix '" + parameterName + "'");
    return *found;
}

void addToWeight(LlamaForCausalLM &model, const std::string &parameterName, const at::Tensor &delta)
{
    auto weight = weightOf(model, parameterName);
    if (weight.sizes() != delta.sizes())
        throw Error("'" + parameterName + "': delta shape does not match the weight");
    addInFloat32(weight, delta);
}

void freezeAllButLora(LlamaForCausalLM &model)
{
    for (auto &item : model->named_parameters())
        item.value().set_requires_grad(item.key().find(".lora_") != std::string::npos);
}

std::vector<at::Tensor> loraParameters(LlamaForCausalLM &model)
{
    std::vector<at::Tensor> parameters;
    for (auto &item : model->named_parameters())
        if (item.key().find(".lora_") != std::string::npos)
            parameters.push_back(item.value());
    return parameters;
}

void mergeAllLora(LlamaForCausalLM &model)
{
    torch::NoGradGuard noGrad;
    for (auto &module : model->modules()) {
        if (auto projection = std::dynamic_pointer_cast<ProjectionImpl>(module); projection && projection->hasLora()) {
            addInFloat32(projection->weight, at::matmul(projection->lora_B->weight.to(at::kFloat),
                                                        projection->lora_A->weight.to(at::kFloat)) *
                                                 projection->loraSettings().scaling());
            projection->detachLora();
        } else if (auto embedding = std::dynamic_pointer_cast<TokenEmbeddingImpl>(module);
                   embedding && embedding->hasLora()) {
            addInFloat32(embedding->weight, at::matmul(embedding->lora_embedding_B->weight.to(at::kFloat),
                                                       embedding->lora_embedding_A->weight.to(at::kFloat))
                                                    .t() *
                                                embedding->loraSettings().scaling());
            embedding->detachLora();
        }
    }
}

LlamaForCausalLM mergedCopy(LlamaForCausalLM &model)
{
    torch::NoGradGuard noGrad;
    LlamaForCausalLM copy(model->config());
    copy->to(model->device(), model->dtype());
    auto target = copy->named_parameters();
    for (const auto &item : model->named_parameters()) {
        if (item.key().find("lora_") != std::string::npos)
            continue;
        if (auto *p = target.find(item.key()))
            p->copy_(item.value());
    }
    std::map<std::string, std::shared_ptr<torch::nn::Module>> copyModules;
    for (const auto &item : copy->named_modules())
        copyModules[item.key()] = item.value();
    for (const auto &item : model->named_modules()) {
        const auto found = copyModules.find(item.key());
        if (found == copyModules.end())
            continue;
        if (auto projection = std::dynamic_pointer_cast<ProjectionImpl>(item.value()); projection && projection->hasLora())
            std::dynamic_pointer_cast<ProjectionImpl>(found->second)
                ->attachLora(projection->loraSettings(), projection->lora_A->weight, projection->lora_B->weight);
        else if (auto embedding = std::dynamic_pointer_cast<TokenEmbeddingImpl>(item.value());
                 embedding && embedding->hasLora())
            std::dynamic_pointer_cast<TokenEmbeddingImpl>(found->second)
                ->attachLora(embedding->loraSettings(), embedding->lora_embedding_A->weight,
                             embedding->lora_embedding_B->weight);
    }
    mergeAllLora(copy);
    copy->eval();
    return copy;
}

void detachAllLora(LlamaForCausalLM &model)
{
    for (auto &module : model->modules()) {
        if (auto projection = std::dynamic_pointer_cast<ProjectionImpl>(module))
            projection->detachLora();
        else if (auto embedding = std::dynamic_pointer_cast<TokenEmbeddingImpl>(module))
            embedding->detachLora();
    }
}

} // namespace nugget
