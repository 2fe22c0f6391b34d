#include "transfer/Sensitivity.h"

#include "Error.h"
#include "transfer/ScoreAccumulation.h"

#include <torch/torch.h>

namespace nugget {

const std::vector<std::string> &layerModuleNames()
{
    static const std::vector<std::string> names = {"q", "k", "v", "o", "gate", "up", "down", "input_norm", "post_norm"};
    return names;
}

namespace {

// (layer, column) of a decoder-layer parameter, or layer -1 for parameters outside.
std::pair<int64_t, int64_t> layerAndColumn(const std::string &name)
{
    static const std::pair<const char *, int64_t> suffixes[] = {
        {"self_attn.q_proj.weight", 0}, {"self_attn.k_proj.weight", 1}, {"self_attn.v_proj.weight", 2},
        {"self_attn.o_proj.weight", 3}, {"mlp.gate_proj.weight", 4},    {"mlp.up_proj.weight", 5},
        {"mlp.down_proj.weight", 6},    {"input_layernorm.weight", 7},  {"post_attention_layernorm.weight", 8},
    };
    const std::string prefix = "model.layers.";
    if (name.compare(0, prefix.size(), prefix) != 0)
        return {-1, -1};
    const size_t dot = name.find('.', prefix.size());
    const int64_t layer = std::stoll(name.substr(prefix.size(), dot - prefix.size()));
    const std::string rest = name.substr(dot + 1);
    for (const auto &[suffix, column] : suffixes)
        if (rest == suffix)
            return {layer, column};
    return {layer, -1};
}

} // namespace

std::vector<double> SensitivityMap::layerTotals(int64_t layers) const
{
    std::vector<double> totals(static_cast<size_t>(layers), 0.0);
    for (const auto &[name, score] : scores) {
        const auto [layer, column] = layerAndColumn(name);
        if (layer >= 0 && layer < layers)
            totals[static_cast<size_t>(layer)] += score.sum(at::kDouble).item<double>();
    }
    return totals;
}

at::Tensor SensitivityMap::layerModuleTotals(int64_t layers) const
{
    auto totals = torch::zeros({layers, static_cast<int64_t>(layerModuleNames().size())}, torch::kDouble);
    auto accessor = totals.accessor<double, 2>();
    for (const auto &[name, score] : scores) {
        const auto [layer, column] = layerAndColumn(name);
        if (layer >= 0 && layer < layers && column >= 0)
            accessor[layer][column] += score.sum(at::kDouble).item<double>();
    }
    return totals;
}

std::map<std::string, double> SensitivityMap::outsideLayerTotals() const
{
    std::map<std::string, double> totals;
    for (const auto &[name, score] : scores)
        if (layerAndColumn(name).first < 0)
            totals[name] = score.sum(at::kDouble).item<double>();
    return totals;
}

const at::Tensor &SensitivityMap::at(const std::string &parameter) const
{
    const auto found = scores.find(parameter);
    if (found == scores.end())
        throw Error("no sensitivity scores for '" + parameter + "'");
    return found->second;
}

at::Tensor downsampleMap(const at::Tensor &scores, int64_t maxRows, int64_t maxCols)
{
    auto map = scores.detach().to(at::kCPU, at::kFloat);
    if (map.dim() == 1)
        map = map.unsqueeze(0);
    const int64_t rows = std::min(maxRows, map.size(0)), cols = std::min(maxCols, map.size(1));
    return at::adaptive_avg_pool2d(map.unsqueeze(0), {rows, cols}).squeeze(0);
}

SeedTensors seedTensors(const SeedSample &sample, size_t index, int64_t context)
{
    const int64_t length = std::min<int64_t>(static_cast<int64_t>(sample.inputIds.size()), context);
    if (length < 2)
        throw Error("seed sample " + std::to_string(index + 1) + " has fewer than two tokens");
    auto ids = torch::tensor(std::vector<int64_t>(sample.inputIds.begin(), sample.inputIds.begin() + length)).unsqueeze(0);
    auto labels = torch::tensor(std::vector<int64_t>(sample.labels.begin(), sample.labels.begin() + length)).unsqueeze(0);
    if (labels.narrow(1, 1, length - 1).ne(-100).sum().item<int64_t>() == 0)
        throw Error("seed sample " + std::to_string(index + 1) +
                    " has no answer tokens within the context; it cannot be scored");
    return {ids, labels};
}

SensitivityMap computeSensitivity(LlamaForCausalLM &model, const std::vector<SeedSample> &samples,
                                  const SensitivityOptions &options, Progress &progress,
                                  const std::function<void(const SensitivityProgress &)> &onSample)
{
    SensitivityMap map;
    map.metric = options.metric;
    map.computeDtype = model->dtype();
    auto parameters = model->named_parameters();
    const bool wasTraining = model->is_training();
    model->eval();   // no dropout: scores must not depend on chance

    if (options.metric == SensitivityMetric::Magnitude) {
        torch::NoGradGuard noGrad;
        for (const auto &item : parameters)
            map.scores[item.key()] = item.value().detach().abs().to(at::kFloat);
        if (onSample)
            onSample({0, 0, 0.0, &map});
        model->train(wasTraining);
        return map;
    }
    if (samples.empty())
        throw Error("sensitivity needs at least one seed sample");

    for (const auto &item : parameters)
        map.scores[item.key()] = torch::zeros_like(item.value(), item.value().options().dtype(at::kFloat));
    // Restores requires_grad and drops gradients on every exit, cancel included.
    struct GradientScope
    {
        torch::OrderedDict<std::string, at::Tensor> &parameters;
        LlamaForCausalLM &model;
        bool wasTraining;
        std::vector<bool> requiredGrad;
        ~GradientScope()
        {
            size_t i = 0;
            for (auto &item : parameters) {
                item.value().mutable_grad().reset();
                item.value().set_requires_grad(requiredGrad[i++]);
            }
            model->train(wasTraining);
        }
    } scope{parameters, model, wasTraining, {}};
    for (auto &item : parameters) {
        scope.requiredGrad.push_back(item.value().requires_grad());
        item.value().set_requires_grad(true);
    }

    const int64_t context = options.maxLength > 0 ? std::min(options.maxLength, model->config().maxPositionEmbeddings)
                                                  : model->config().maxPositionEmbeddings;
    torch::AutoGradMode gradMode(true);   // grad mode is thread-local: a worker thread may have it off
    for (size_t index = 0; index < samples.size(); ++index) {
        progress.checkCancelled();
        const auto [ids, labels] = seedTensors(samples[index], index, context);

        const auto loss = causalLmLoss(model->forward(ids), labels);
        const double lossValue = loss.item<double>();
        if (!std::isfinite(lossValue))
            throw Error("the loss of seed sample " + std::to_string(index + 1) + " is not finite");
        loss.backward();
        {
            torch::NoGradGuard noGrad;
            for (auto &item : parameters) {
                auto &grad = item.value().mutable_grad();
                if (!grad.defined())
                    continue;
                // In float32 even for a bfloat16 model: a bfloat16 product would round again.
                accumulateScores(map.scores[item.key()], options.metric, item.value().detach(), grad);
                grad.reset();   // only one sample's gradients are ever alive
            }
        }
        map.samples = static_cast<int64_t>(index + 1);
        progress.report(static_cast<double>(index + 1) / static_cast<double>(samples.size()),
                        "sample " + std::to_string(index + 1) + "/" + std::to_string(samples.size()));
        if (onSample)
            onSample({map.samples, static_cast<int64_t>(samples.size()), lossValue, &map});
    }
    return map;
}

} // namespace nugget
