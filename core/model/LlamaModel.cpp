#include "model/LlamaModel.h"

#include "Error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <mutex>

namespace nugget {

namespace {

// Reductions (norms, softmax, loss) run at least in float32 whatever the storage dtype.
at::ScalarType accumulationType(at::ScalarType type)
{
    return type == at::kHalf || type == at::kBFloat16 ? at::kFloat : type;
}

// A decoder layer run without keeping its activations: the forward keeps only the
// layer's input (and the random state its dropout starts from); the backward runs the
// layer again from that input, with the same dropout masks, and back-propagates through
// it, which also accumulates the gradients of the layer's own parameters. Activation
// memory drops from every layer's intermediates to one tensor per layer, for one more
// forward per step.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer>
{
    static at::Tensor forward(torch::autograd::AutogradContext *context, const at::Tensor &x, const at::Tensor &cos,
                              const at::Tensor &sin, int64_t layerAddress)
    {
        auto *layer = reinterpret_cast<LlamaDecoderLayerImpl *>(layerAddress);
        at::Generator generator = at::globalContext().defaultGenerator(x.device());
        {
            std::lock_guard<std::mutex> lock(generator.mutex());
            context->saved_data["random_state"] = generator.get_state();
        }
        context->saved_data["layer"] = layerAddress;
        context->save_for_backward({x, cos, sin});
        return layer->forward(x, cos, sin, nullptr, nullptr);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *context,
                                                   torch::autograd::variable_list gradients)
    {
        auto *layer = reinterpret_cast<LlamaDecoderLayerImpl *>(context->saved_data["layer"].toInt());
        const auto saved = context->get_saved_variables();
        auto input = saved[0].detach().requires_grad_(true);
        at::Generator generator = at::globalContext().defaultGenerator(input.device());
        at::Tensor resumed;
        {
            std::lock_guard<std::mutex> lock(generator.mutex());
            resumed = generator.get_state();
            generator.set_state(context->saved_data["random_state"].toTensor());
        }
        at::Tensor output;
        {
            torch::AutoGradMode enabled(true);
            output = layer->forward(input, saved[1], saved[2], nullptr, nullptr);
        }
        {
            std::lock_guard<std::mutex> lock(generator.mutex());
            generator.set_state(resumed);
        }
        torch::autograd::backward({output}, {gradients[0]});
        return {input.grad(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

} // namespace

LoraFactorImpl::LoraFactorImpl(const at::Tensor &value)
{
    weight = register_parameter("weight", value);
}

ProjectionImpl::ProjectionImpl(int64_t inFeatures, int64_t outFeatures, bool withBias)
{
    weight = register_parameter("weight", torch::empty({outFeatures, inFeatures}));
    if (withBias)
        bias = register_parameter("bias", torch::zeros({outFeatures}));
}

at::Tensor ProjectionImpl::forward(const at::Tensor &x)
{
    auto y = at::linear(x, weight, bias);
    if (m_lora) {
        // The adapter runs in its own dtype (float32 beside a half-precision base).
        const auto xa = x.to(lora_A->weight.scalar_type());
        const auto input = m_lora->dropout > 0 && is_training() ? at::dropout(xa, m_lora->dropout, true) : xa;
        y = y + (at::linear(at::linear(input, lora_A->weight), lora_B->weight) * m_lora->scaling()).to(y.scalar_type());
    }
    return y;
}

namespace {

void checkAdapterShapes(const std::string &what, const at::Tensor &a, const at::Tensor &b,
                        std::vector<int64_t> expectedA, std::vector<int64_t> expectedB)
{
    if (a.sizes() != at::IntArrayRef(expectedA) || b.sizes() != at::IntArrayRef(expectedB))
        throw Error(what + ": LoRA shapes A " + std::to_string(a.size(0)) + "x" + std::to_string(a.size(-1)) +
                    " and B " + std::to_string(b.size(0)) + "x" + std::to_string(b.size(-1)) +
                    " do not fit (expected A " + std::to_string(expectedA[0]) + "x" + std::to_string(expectedA[1]) +
                    ", B " + std::to_string(expectedB[0]) + "x" + std::to_string(expectedB[1]) + ")");
}

} // namespace

void ProjectionImpl::attachLora(const LoraSettings &settings, const at::Tensor &a, const at::Tensor &b)
{
    checkAdapterShapes("projection", a, b, {settings.rank, weight.size(1)}, {weight.size(0), settings.rank});
    detachLora();
    m_lora = settings;
    const auto factorOptions = weight.options().dtype(accumulationType(weight.scalar_type()));
    lora_A = register_module("lora_A", LoraFactor(a.detach().to(factorOptions).clone()));
    lora_B = register_module("lora_B", LoraFactor(b.detach().to(factorOptions).clone()));
}

void ProjectionImpl::detachLora()
{
    if (!m_lora)
        return;
    unregister_module("lora_A");
    unregister_module("lora_B");
    lora_A = nullptr;
    lora_B = nullptr;
    m_lora.reset();
}

void ProjectionImpl::mergeLora()
{
    if (!m_lora)
        return;
    torch::NoGradGuard noGrad;
    weight.add_((at::matmul(lora_B->weight, lora_A->weight) * m_lora->scaling()).to(weight.scalar_type()));
    detachLora();
}

TokenEmbeddingImpl::TokenEmbeddingImpl(int64_t vocabSize, int64_t hiddenSize)
{
    weight = register_parameter("weight", torch::empty({vocabSize, hiddenSize}));
}

at::Tensor TokenEmbeddingImpl::forward(const at::Tensor &ids)
{
    auto y = at::embedding(weight, ids);
    if (m_lora)   // dropout is not applied to embeddings (as in PEFT)
        y = y + (at::matmul(at::embedding(lora_embedding_A->weight.t(), ids), lora_embedding_B->weight.t()) *
                 m_lora->scaling())
                    .to(y.scalar_type());
    return y;
}

at::Tensor TokenEmbeddingImpl::asHead(const at::Tensor &hidden)
{
    auto y = at::linear(hidden, weight);
    if (m_lora) {   // hidden (B A) = (hidden B) A: the delta's rank, never its [vocab, hidden] matrix
        const auto h = hidden.to(lora_embedding_B->weight.scalar_type());
        y = y + (at::matmul(at::matmul(h, lora_embedding_B->weight), lora_embedding_A->weight) * m_lora->scaling())
                    .to(y.scalar_type());
    }
    return y;
}

void TokenEmbeddingImpl::attachLora(const LoraSettings &settings, const at::Tensor &a, const at::Tensor &b)
{
    checkAdapterShapes("embedding", a, b, {settings.rank, weight.size(0)}, {weight.size(1), settings.rank});
    detachLora();
    m_lora = settings;
    const auto factorOptions = weight.options().dtype(accumulationType(weight.scalar_type()));
    lora_embedding_A = register_module("lora_embedding_A", LoraFactor(a.detach().to(factorOptions).clone()));
    lora_embedding_B = register_module("lora_embedding_B", LoraFactor(b.detach().to(factorOptions).clone()));
}

void TokenEmbeddingImpl::detachLora()
{
    if (!m_lora)
        return;
    unregister_module("lora_embedding_A");
    unregister_module("lora_embedding_B");
    lora_embedding_A = nullptr;
    lora_embedding_B = nullptr;
    m_lora.reset();
}

void TokenEmbeddingImpl::mergeLora()
{
    if (!m_lora)
        return;
    torch::NoGradGuard noGrad;
    weight.add_((at::matmul(lora_embedding_B->weight, lora_embedding_A->weight).t() * m_lora->scaling())
                    .to(weight.scalar_type()));
    detachLora();
}

RMSNormImpl::RMSNormImpl(int64_t size, double eps_) : eps(eps_)
{
    weight = register_parameter("weight", torch::ones({size}));
}

at::Tensor RMSNormImpl::forward(const at::Tensor &x)
{
    // Statistics in float32 for half-precision storage, as Hugging Face does.
    const auto x32 = x.to(accumulationType(x.scalar_type()));
    const auto normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * normed.to(x.scalar_type());
}

at::Tensor rotaryInverseFrequencies(const ModelConfig &config, int64_t sequenceLength)
{
    const int64_t dim = config.headDim;
    double base = config.ropeTheta;
    if (config.ropeType == "dynamic") {
        // NTK-aware scaling: a larger base once the sequence outgrows the context.
        const double length = static_cast<double>(std::max(sequenceLength, config.maxPositionEmbeddings));
        const double factor = config.ropeFactor;
        base *= std::pow(factor * length / static_cast<double>(config.maxPositionEmbeddings) - (factor - 1),
                         static_cast<double>(dim) / static_cast<double>(dim - 2));
    }
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    const auto exponents = torch::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                           static_cast<double>(dim);
    auto invFreq = torch::pow(base, exponents).reciprocal();
    if (config.ropeType == "linear") {
        invFreq = invFreq / config.ropeFactor;
    } else if (config.ropeType == "llama3") {
        const double factor = config.ropeFactor, low = config.ropeLowFreqFactor, high = config.ropeHighFreqFactor;
        const double context = static_cast<double>(config.ropeOriginalMaxPositions);
        const double lowFreqWavelength = context / low, highFreqWavelength = context / high;
        // Python's `scalar / tensor` is reciprocal() * scalar: the same here, bit for bit.
        const auto wavelength = invFreq.reciprocal() * (2 * M_PI);
        auto scaled = torch::where(wavelength > lowFreqWavelength, invFreq / factor, invFreq);
        const auto smooth = (wavelength.reciprocal() * context - low) / (high - low);
        const auto smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
        const auto medium = (wavelength >= highFreqWavelength).logical_and(wavelength <= lowFreqWavelength);
        scaled = torch::where(medium, smoothed, scaled);
        invFreq = scaled;
    }
    return invFreq.to(f32);
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig &config) : m_config(config)
{
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cosSin(int64_t start, int64_t count,
                                                          const at::TensorOptions &options) const
{
    const auto f32 = options.dtype(at::kFloat);
    const auto invFreq = rotaryInverseFrequencies(m_config, start + count).to(f32.device());
    const auto positions = torch::arange(start, start + count, f32);
    const auto freqs = torch::outer(positions, invFreq);
    const auto angles = torch::cat({freqs, freqs}, -1);
    return {angles.cos().to(options.dtype()), angles.sin().to(options.dtype())};
}

at::Tensor RotaryEmbedding::apply(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin)
{
    const int64_t half = x.size(-1) / 2;
    const auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
}

LlamaAttentionImpl::LlamaAttentionImpl(const ModelConfig &config)
    : m_heads(config.numAttentionHeads), m_kvHeads(config.numKeyValueHeads),
      m_headDim(config.headDim)
{
    q_proj = register_module("q_proj", Projection(config.hiddenSize, m_heads * m_headDim, config.qkvBias));
    k_proj = register_module("k_proj", Projection(config.hiddenSize, m_kvHeads * m_headDim, config.qkvBias));
    v_proj = register_module("v_proj", Projection(config.hiddenSize, m_kvHeads * m_headDim, config.qkvBias));
    o_proj = register_module("o_proj", Projection(m_heads * m_headDim, config.hiddenSize, config.outputBias));
}

at::Tensor LlamaAttentionImpl::forward(const at::Tensor &x, const at::Tensor &cos,
                                       const at::Tensor &sin, at::Tensor *cacheKeys,
                                       at::Tensor *cacheValues)
{
    const int64_t batch = x.size(0), time = x.size(1);
    auto q = q_proj->forward(x).view({batch, time, m_heads, m_headDim}).transpose(1, 2);
    auto k = k_proj->forward(x).view({batch, time, m_kvHeads, m_headDim}).transpose(1, 2);
    auto v = v_proj->forward(x).view({batch, time, m_kvHeads, m_headDim}).transpose(1, 2);
    q = RotaryEmbedding::apply(q, cos, sin);
    k = RotaryEmbedding::apply(k, cos, sin);

    if (cacheKeys && cacheValues) {
        if (cacheKeys->defined()) {
            k = torch::cat({*cacheKeys, k}, 2);
            v = torch::cat({*cacheValues, v}, 2);
        }
        *cacheKeys = k;
        *cacheValues = v;
    }
    const int64_t keyCount = k.size(2);
    // Grouped-query attention: key/value head j serves query heads j*rep .. j*rep+rep-1.
    if (m_kvHeads != m_heads) {
        const int64_t rep = m_heads / m_kvHeads;
        k = k.repeat_interleave(rep, 1);
        v = v.repeat_interleave(rep, 1);
    }

    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(m_headDim));
    if (time > 1) {
        // Query i sits at absolute position keyCount - time + i and sees keys up to it.
        const auto mask = torch::ones({time, keyCount}, x.options().dtype(at::kBool))
                              .triu(keyCount - time + 1);
        scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    }
    const auto probs = torch::softmax(scores.to(accumulationType(scores.scalar_type())), -1).to(q.scalar_type());
    const auto out = torch::matmul(probs, v).transpose(1, 2).reshape({batch, time, m_heads * m_headDim});
    return o_proj->forward(out);
}

LlamaMLPImpl::LlamaMLPImpl(const ModelConfig &config)
{
    gate_proj = register_module("gate_proj", Projection(config.hiddenSize, config.intermediateSize, config.mlpBias));
    up_proj = register_module("up_proj", Projection(config.hiddenSize, config.intermediateSize, config.mlpBias));
    down_proj = register_module("down_proj", Projection(config.intermediateSize, config.hiddenSize, config.mlpBias));
}

at::Tensor LlamaMLPImpl::forward(const at::Tensor &x)
{
    return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const ModelConfig &config)
{
    self_attn = register_module("self_attn", LlamaAttention(config));
    mlp = register_module("mlp", LlamaMLP(config));
    input_layernorm = register_module("input_layernorm", RMSNorm(config.hiddenSize, config.rmsNormEps));
    post_attention_layernorm =
        register_module("post_attention_layernorm", RMSNorm(config.hiddenSize, config.rmsNormEps));
}

at::Tensor LlamaDecoderLayerImpl::forward(const at::Tensor &x, const at::Tensor &cos,
                                          const at::Tensor &sin, at::Tensor *cacheKeys,
                                          at::Tensor *cacheValues)
{
    const auto h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, cacheKeys, cacheValues);
    return h + mlp->forward(post_attention_layernorm->forward(h));
}

LlamaBackboneImpl::LlamaBackboneImpl(const ModelConfig &config)
{
    embed_tokens = register_module("embed_tokens", TokenEmbedding(config.vocabSize, config.hiddenSize));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.numHiddenLayers; ++i)
        layers->push_back(LlamaDecoderLayer(config));
    norm = register_module("norm", RMSNorm(config.hiddenSize, config.rmsNormEps));
}

LlamaDecoderLayer LlamaBackboneImpl::layer(int64_t index) const
{
    return LlamaDecoderLayer(layers->ptr<LlamaDecoderLayerImpl>(static_cast<size_t>(index)));
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const ModelConfig &config)
    : m_config(config), m_rotary(config)
{
    config.validate("model configuration");
    model = register_module("model", LlamaBackbone(config));
    if (!config.tieWordEmbeddings)
        lm_head = register_module("lm_head", Projection(config.hiddenSize, config.vocabSize));
}

at::Tensor LlamaForCausalLMImpl::hiddenStates(const at::Tensor &inputIds, KVCache *cache,
                                              std::vector<at::Tensor> *layerOutputs)
{
    if (inputIds.dim() != 2)
        throw Error("model input must be [batch, time] token ids");
    const int64_t start = cache ? cache->length() : 0;
    const int64_t time = inputIds.size(1);
    if (start + time > m_config.maxPositionEmbeddings)
        throw Error("sequence of " + std::to_string(start + time) +
                    " tokens exceeds the model's context of " +
                    std::to_string(m_config.maxPositionEmbeddings));
    auto x = model->embed_tokens->forward(inputIds.to(device()));
    const auto [cos, sin] = m_rotary.cosSin(start, time, x.options());
    const auto layerCount = static_cast<size_t>(m_config.numHiddenLayers);
    if (cache && cache->keys.size() != layerCount) {
        cache->keys.assign(layerCount, at::Tensor());
        cache->values.assign(layerCount, at::Tensor());
    }
    const bool checkpointed = m_gradientCheckpointing && is_training() && at::GradMode::is_enabled() && !cache;
    for (size_t i = 0; i < layerCount; ++i) {
        auto layer = model->layers->ptr<LlamaDecoderLayerImpl>(i);
        if (checkpointed) {
            // Only the boundary needs a gradient for the layers' own parameters to get
            // theirs when nothing below the first layer trains.
            if (!x.requires_grad())
                x = x.detach().requires_grad_(true);
            x = CheckpointedLayer::apply(x, cos, sin, reinterpret_cast<int64_t>(layer.get()));
        } else {
            x = layer->forward(x, cos, sin, cache ? &cache->keys[i] : nullptr, cache ? &cache->values[i] : nullptr);
        }
        if (layerOutputs)
            layerOutputs->push_back(x);
    }
    return model->norm->forward(x);
}

at::Tensor LlamaForCausalLMImpl::forward(const at::Tensor &inputIds, KVCache *cache)
{
    const auto hidden = hiddenStates(inputIds, cache);
    // Tied: the head is the embedding, its adapter included.
    return lm_head ? lm_head->forward(hidden) : model->embed_tokens->asHead(hidden);
}

at::Tensor LlamaForCausalLMImpl::headWeight() const
{
    return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

int64_t LlamaForCausalLMImpl::parameterCount() const
{
    int64_t total = 0;
    for (const auto &p : parameters())
        total += p.numel();
    return total;
}

int64_t LlamaForCausalLMImpl::parameterBytes() const
{
    int64_t total = 0;
    for (const auto &p : parameters())
        total += p.numel() * static_cast<int64_t>(p.element_size());
    return total;
}

at::Device LlamaForCausalLMImpl::device() const
{
    return model->embed_tokens->weight.device();
}

at::ScalarType LlamaForCausalLMImpl::dtype() const
{
    return model->embed_tokens->weight.scalar_type();
}

at::Tensor causalLmLoss(const at::Tensor &logits, const at::Tensor &labels)
{
    const int64_t vocab = logits.size(-1);
    const auto shiftedLogits = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, vocab});
    const auto shiftedLabels = labels.to(logits.device()).narrow(1, 1, labels.size(1) - 1).reshape({-1});
    const auto summed = torch::nn::functional::cross_entropy(
        shiftedLogits.to(accumulationType(logits.scalar_type())), shiftedLabels,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
    const auto count = shiftedLabels.ne(-100).sum().clamp_min(1);
    return summed / count;
}

void initialiseWeights(LlamaForCausalLM &model, double std, uint64_t seed)
{
    torch::NoGradGuard noGrad;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (auto &item : model->named_parameters()) {
        auto &p = item.value();
        if (item.key().find("norm") != std::string::npos) {
            p.fill_(1.0);
        } else if (p.dim() == 1) {   // biases start at zero, as in Hugging Face
            p.zero_();
        } else {
            // Draw on the CPU with our generator so the result is device-independent.
            auto values = at::normal(0.0, std, p.sizes(), generator, at::TensorOptions().dtype(at::kFloat));
            p.copy_(values);
        }
    }
}

} // namespace nugget
