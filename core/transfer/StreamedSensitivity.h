#pragma once
// Sensitivity of a checkpoint too large to hold in memory: the weights stay memory-
// mapped and only one decoder layer (or the head, or the embedding) is materialised in
// the compute dtype (float32, or bfloat16 where the device runs it faster) at a time.
//
//   1. Forward, layer by layer over all samples, keeping every decoder layer's input
//      hidden states (in RAM when small, in a temporary file when large).
//   2. The head (final norm + lm_head) on the last hidden states: loss, backward, the
//      head's scores, and the gradient with respect to its input.
//   3. Layer by layer from the top: recompute the layer's forward from its saved input,
//      backward with the gradient from above, accumulate the layer's scores over all
//      samples, hand them over (to be written), pass the input gradient down.
//   4. The embedding, from the gradients of the first layer's input.
//
// Peak memory: one layer's weights and gradients in the compute dtype, its scores in
// float32, plus the per-sample activations of one layer. In float32 the result equals
// computeSensitivity() on the same model loaded in float32 (up to float summation
// order); in bfloat16 the forward and backward round to 8 significant bits while the
// scores still accumulate in float32.

#include "io/ModelConfig.h"
#include "io/Session.h"
#include "io/TensorStore.h"
#include "jobs/Progress.h"
#include "model/MemoryBudget.h"
#include "transfer/Sensitivity.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace nugget {

struct StreamedSensitivityOptions
{
    SensitivityMetric metric = SensitivityMetric::Taylor;
    int64_t maxLength = 0;              // truncate samples to this many tokens (0: the model's context)
    at::Device device = at::kCPU;       // where each layer computes
    at::ScalarType computeDtype = at::kFloat;   // weights and activations: kFloat or kBFloat16
    std::string scratchDir;             // folder of the spilled hidden states (empty: the system's temp folder)
    int64_t inMemoryActivationBytes = int64_t(1) << 30;   // above this, hidden states go to a temporary file
    // Sums a tensor over every process of a data-parallel group in place (unset: one
    // process). Each process passes only its own share of the samples; scores and
    // losses are summed before they are handed over, so every rank sees the totals.
    std::function<void(at::Tensor &)> allReduce;
};

struct StreamedSensitivityResult
{
    int64_t samples = 0;                   // over all processes
    std::vector<double> losses;            // this process's samples, in order
    at::Tensor layerModuleTotals;          // float64 [layers, layerModuleNames()]
    std::map<std::string, double> outsideLayerTotals;
    bool spilled = false;                  // hidden states went to a temporary file
};

// Called once per parameter with its final scores (float32, on the compute device), in
// the order they complete: head, final norm, layers from the top, embedding.
using ScoreSink = std::function<void(const std::string &parameter, const at::Tensor &scores)>;

// Throws Error naming the tensor when the checkpoint lacks one or its shape disagrees
// with the config, and Cancelled when the progress is cancelled (between samples).
StreamedSensitivityResult computeStreamedSensitivity(const ModelConfig &config, const TensorStore &weights,
                                                     const std::vector<SeedSample> &samples,
                                                     const StreamedSensitivityOptions &options, Progress &progress,
                                                     const ScoreSink &sink);

// Streams the scores of the model in `folder` into the session as they complete, then
// records the metric, sample count and per-layer totals. Nothing is committed here.
// A null session computes without storing (the other ranks of a data-parallel group).
StreamedSensitivityResult storeStreamedSensitivity(Session *session, Side side,
                                                   const std::string &folder, const std::vector<SeedSample> &samples,
                                                   const StreamedSensitivityOptions &options, Progress &progress,
                                                   Session::ScoreStorage storage = Session::ScoreStorage::Float32);

// The output of every decoder layer for the seed samples' tokens (concatenated over
// samples, at most `maxTokens` rows), computed one layer at a time from the mapped
// weights as layerStates() computes them from a loaded model: `onLayer` receives layer
// 0, 1, ... as float32 [tokens, hidden] CPU tensors. Peak memory: one layer's weights
// and the tokens' hidden states. Throws Cancelled between layers and samples.
void streamedLayerStates(const ModelConfig &config, const TensorStore &weights, const std::vector<SeedSample> &samples,
                         int64_t maxTokens, at::Device device, at::ScalarType computeDtype, Progress &progress,
                         const std::function<void(int64_t layer, const at::Tensor &states)> &onLayer);

// Defaults of every caller (CLI, experiments, workbench) for the streamed path. A model
// too large for memory computes in bfloat16 where the device runs it at least twice as
// fast (fastestComputeDtype) and stores float16 scores; a model that fits computes and
// stores float32, comparable with the in-memory path.
at::ScalarType defaultComputeDtype(const ModelConfig &config, at::Device device);
// A name of computeDtypes() (transfer/RecipeChoices.h; fp32 and bf16 also read) as a
// compute dtype: "auto" measures fastestComputeDtype. Throws Error listing the names.
at::ScalarType parseComputeDtype(const std::string &text, at::Device device);
// "float32" or "bfloat16" (what a session records; "float16" for half).
std::string computeDtypeName(at::ScalarType dtype);
Session::ScoreStorage defaultScoreStorage(const ModelConfig &config);


} // namespace nugget
