#include "transfer/LayerSimilarity.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace nugget {

std::vector<at::Tensor> layerStates(LlamaForCausalLM &model, const std::vector<SeedSample> &samples,
                                    int64_t maxTokens, Progress &progress)
{
    torch::NoGradGuard noGrad;
    const bool wasTraining = model->is_training();
    model->eval();
    const auto layers = model->config().numHiddenLayers;
    std::vector<std::vector<at::Tensor>> perLayer(static_cast<size_t>(layers));
    int64_t tokens = 0;
    for (const auto &sample : samples) {
        progress.checkCancelled();
        if (tokens >= maxTokens)
            break;
        const int64_t take = std::min<int64_t>(static_cast<int64_t>(sample.inputIds.size()), maxTokens - tokens);
        if (take <= 0)
            continue;
        auto ids = torch::tensor(std::vector<int64_t>(sample.inputIds.begin(), sample.inputIds.begin() + take),
                                 torch::kLong).unsqueeze(0);
        std::vector<at::Tensor> outputs;
        model->hiddenStates(ids, nullptr, &outputs);
        for (size_t i = 0; i < outputs.size(); ++i)
            perLayer[i].push_back(outputs[i][0].to(torch::kCPU, torch::kFloat));
        tokens += take;
    }
    model->train(wasTraining);
    std::vector<at::Tensor> states;
    for (auto &chunks : perLayer)
        states.push_back(chunks.empty() ? torch::zeros({0, model->config().hiddenSize}) : torch::cat(chunks, 0));
    return states;
}

namespace {

// Linear CKA has two equal forms: through the tokens' n x n Gram matrices
//   <Kx, Ky> / (|Kx| |Ky|),  K = X X^T of the centred states,
// and through the features' cross-covariance
//   |X^T Y|^2 / (|X^T X| |Y^T Y|).
// The first costs n^2 memory, the second d1 x d2; the one with the smaller
// intermediate is used, so many tokens never ask for an n x n matrix.
struct Representation
{
    at::Tensor gram;        // normalised centred Gram [n, n] (Gram form)
    at::Tensor centred;     // centred states [n, d], scaled by |X^T X|^-1/2 (feature form)
};

bool useGramForm(int64_t tokens, int64_t features1, int64_t features2)
{
    return double(tokens) * double(tokens) <= double(features1) * double(features2);
}

Representation represent(const at::Tensor &states, bool gramForm)
{
    auto x = states.to(torch::kDouble);
    x = x - x.mean(0, true);
    Representation r;
    if (gramForm) {
        auto gram = torch::matmul(x, x.t());
        const double norm = gram.norm().item<double>();
        r.gram = norm > 0 ? gram / norm : gram;   // zero for a constant representation
    } else {
        const double norm = torch::matmul(x.t(), x).norm().item<double>();
        r.centred = norm > 0 ? x / std::sqrt(norm) : x;
    }
    return r;
}

double similarity(const Representation &a, const Representation &b)
{
    if (a.gram.defined())
        return (a.gram * b.gram).sum().item<double>();
    return torch::matmul(a.centred.t(), b.centred).square().sum().item<double>();
}

} // namespace

double linearCka(const at::Tensor &x, const at::Tensor &y)
{
    if (x.dim() != 2 || y.dim() != 2 || x.size(0) != y.size(0))
        throw Error("linear CKA needs two [tokens, features] matrices over the same tokens");
    const bool gramForm = useGramForm(x.size(0), x.size(1), y.size(1));
    return similarity(represent(x, gramForm), represent(y, gramForm));
}

at::Tensor layerSimilarity(const ModelConfig &teacherConfig, const LayerStatesSource &teacher, LlamaForCausalLM &student,
                           const std::vector<SeedSample> &samples, Progress &progress, int64_t maxTokens,
                           const std::function<void(int64_t, const at::Tensor &)> &onRow)
{
    const auto studentStates = layerStates(student, samples, maxTokens, progress);
    const int64_t tokens = studentStates.empty() ? 0 : studentStates.front().size(0);
    const bool gramForm = useGramForm(tokens, teacherConfig.hiddenSize, student->config().hiddenSize);
    std::vector<Representation> studentRepresentations;
    for (const auto &states : studentStates) {
        progress.checkCancelled();
        studentRepresentations.push_back(represent(states, gramForm));
    }
    const auto rows = teacherConfig.numHiddenLayers;
    const auto cols = static_cast<int64_t>(studentRepresentations.size());
    auto matrix = torch::full({rows, cols}, std::numeric_limits<double>::quiet_NaN(), torch::kDouble);
    teacher([&](int64_t t, const at::Tensor &states) {
        progress.checkCancelled();
        if (t < 0 || t >= rows)
            throw Error("internal error: teacher layer " + std::to_string(t) + " out of range");
        if (states.size(0) != tokens)
            throw Error("teacher and student saw different token counts; they must share a tokenizer");
        const auto teacherRepresentation = represent(states, gramForm);
        for (int64_t s = 0; s < cols; ++s) {
            progress.checkCancelled();   // a cell can take a while with many tokens
            matrix[t][s] = similarity(teacherRepresentation, studentRepresentations[s]);
        }
        progress.report(double(t + 1) / double(rows), "layer similarity");
        if (onRow)
            onRow(t, matrix);
    });
    return matrix;
}

at::Tensor layerSimilarity(LlamaForCausalLM &teacher, LlamaForCausalLM &student, const std::vector<SeedSample> &samples,
                           Progress &progress, int64_t maxTokens,
                           const std::function<void(int64_t, const at::Tensor &)> &onRow)
{
    const auto source = [&](const std::function<void(int64_t, const at::Tensor &)> &onLayer) {
        const auto states = layerStates(teacher, samples, maxTokens, progress);
        for (size_t t = 0; t < states.size(); ++t)
            onLayer(static_cast<int64_t>(t), states[t]);
    };
    return layerSimilarity(teacher->config(), source, student, samples, progress, maxTokens, onRow);
}

} // namespace nugget
