#pragma once
// How alike a teacher layer and a student layer are: linear CKA (centred kernel
// alignment, Kornblith et al. 2019) between their hidden states on the same seed tokens.
// CKA compares representations of different widths and is invariant to rotations and
// isotropic scaling, so a 192-wide teacher layer and a 128-wide student layer can be
// compared directly. The workbench draws it behind the layer mapping.

#include "jobs/Progress.h"
#include "model/LlamaModel.h"
#include "transfer/Sensitivity.h"

#include <functional>
#include <vector>

namespace nugget {

// Output of every decoder layer for the seed samples' tokens, concatenated over samples
// and truncated to `maxTokens` rows: one float32 [tokens, hidden] tensor per layer, CPU.
std::vector<at::Tensor> layerStates(LlamaForCausalLM &model, const std::vector<SeedSample> &samples,
                                    int64_t maxTokens, Progress &progress);

// Linear CKA of two representations of the same n tokens, [n, d1] and [n, d2]: in
// [0, 1], 1 for representations equal up to rotation and scale. Computed in float64.
double linearCka(const at::Tensor &x, const at::Tensor &y);

// [teacher layers, student layers] float64 CKA matrix. `onRow` runs after each teacher
// layer's row is complete (row index, the matrix so far with NaN in unfinished rows).
// Throws Error when the two models tokenise to different lengths (they must share a
// tokenizer) and Cancelled when the progress is cancelled.
at::Tensor layerSimilarity(LlamaForCausalLM &teacher, LlamaForCausalLM &student, const std::vector<SeedSample> &samples,
                           Progress &progress, int64_t maxTokens = 1024,
                           const std::function<void(int64_t row, const at::Tensor &matrix)> &onRow = {});

// Calls its argument with each teacher layer's states in layer order, as layerStates()
// would give them (streamedLayerStates() for a teacher kept on disk).
using LayerStatesSource =
    std::function<void(const std::function<void(int64_t layer, const at::Tensor &states)> &onLayer)>;

// The same with the teacher's states from `teacher`, one layer at a time: only one
// teacher layer's states are held at once.
at::Tensor layerSimilarity(const ModelConfig &teacherConfig, const LayerStatesSource &teacher, LlamaForCausalLM &student,
                           const std::vector<SeedSample> &samples, Progress &progress, int64_t maxTokens = 1024,
                           const std::function<void(int64_t row, const at::Tensor &matrix)> &onRow = {});

} // namespace nugget
