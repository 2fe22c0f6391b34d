#pragma once
// Per-parameter sensitivity of a model on a task's seed samples: one forward and
// backward pass per sample (batch size 1, loss on the answer tokens only, as in the
// reference), scores accumulated over samples:
//   taylor     |W * dL/dW|   (first-order Taylor importance; the method's default)
//   fisher     (dL/dW)^2
//   magnitude  |W|           (no samples needed)

#include "jobs/Progress.h"
#include "model/LlamaModel.h"
#include "transfer/RecipeChoices.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace nugget {

// SensitivityMetric, parseSensitivityMetric and sensitivityMetricName: transfer/RecipeChoices.h

// One tokenized seed sample.
struct SeedSample
{
    std::vector<int64_t> inputIds;
    std::vector<int64_t> labels;   // -100 where no loss is taken
};

// A seed sample as the model's input: ids and labels [1, T] (int64, CPU), cut to
// `context` tokens. Throws Error naming the sample (1-based `index`) when it has fewer
// than two tokens or no answer token within the context.
struct SeedTensors
{
    at::Tensor ids, labels;
};
SeedTensors seedTensors(const SeedSample &sample, size_t index, int64_t context);

// Column order of the per-layer, per-module totals: the seven matrices, then both
// norms of the layer.
const std::vector<std::string> &layerModuleNames();   // q k v o gate up down input_norm post_norm

class SensitivityMap
{
public:
    SensitivityMetric metric = SensitivityMetric::Taylor;
    int64_t samples = 0;
    at::ScalarType computeDtype = at::kFloat;   // of the forward and backward (scores are float32)
    std::map<std::string, at::Tensor> scores;   // parameter name -> float32 [shape], CPU or model device

    // Sum of all scores of each decoder layer (the reference's layer score).
    std::vector<double> layerTotals(int64_t layers) const;
    // [layers, layerModuleNames().size()] float64 totals.
    at::Tensor layerModuleTotals(int64_t layers) const;
    // Totals of the parameters outside the decoder layers (embedding, final norm, head).
    std::map<std::string, double> outsideLayerTotals() const;
    const at::Tensor &at(const std::string &parameter) const;   // throws Error when absent
};

// Average-pools a 2-D map to at most maxRows x maxCols (float32 CPU) for the views.
at::Tensor downsampleMap(const at::Tensor &scores, int64_t maxRows, int64_t maxCols);

struct SensitivityProgress
{
    int64_t sample = 0;      // samples done
    int64_t samples = 0;     // total
    double loss = 0;         // this sample's loss
    const SensitivityMap *map = nullptr;   // the partial sums so far
};

struct SensitivityOptions
{
    SensitivityMetric metric = SensitivityMetric::Taylor;
    int64_t maxLength = 0;   // truncate samples to this many tokens (0: the model's context)
};

// Computes the scores of every parameter. Only the accumulated scores and one sample's
// gradients are alive at a time. `onSample` runs after each sample; the progress is
// polled for cancellation between samples. The model's parameters end with no grad.
SensitivityMap computeSensitivity(LlamaForCausalLM &model, const std::vector<SeedSample> &samples,
                                  const SensitivityOptions &options, Progress &progress,
                                  const std::function<void(const SensitivityProgress &)> &onSample = {});

} // namespace nugget
