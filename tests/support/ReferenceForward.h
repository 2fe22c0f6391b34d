#pragma once
// A deliberately naive float64 forward pass over plain arrays, written from the
// definitions (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU), sharing no
// code with the model: the oracle of the forward pass and of answer log-probabilities.

#include "io/ModelConfig.h"
#include "io/TensorStore.h"

#include <cstdint>
#include <vector>

namespace nugget::test {

// Logits [time][vocab] of `ids` under the weights in `store` (plain LLaMA: no biases,
// default RoPE).
std::vector<std::vector<double>> referenceLogits(const ModelConfig &c, const TensorStore &store,
                                                 const std::vector<int64_t> &ids);

// Sum of log p(ids[t] | ids[..t]) over t in [from, ids.size()), in float64 from
// referenceLogits; the per-token values go to `tokens` when given.
double referenceLogProb(const ModelConfig &c, const TensorStore &store, const std::vector<int64_t> &ids, size_t from,
                        std::vector<double> *tokens = nullptr);

} // namespace nugget::test
