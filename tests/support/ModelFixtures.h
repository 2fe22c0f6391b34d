#pragma once
// Random models and seed samples that tests build their cases from. Each stream is
// fixed by its seed, so a test sees the same numbers on every run.

#include "io/ModelConfig.h"
#include "model/LlamaModel.h"
#include "transfer/Sensitivity.h"

#include <cstdint>
#include <vector>

namespace nugget::test {

// A LLaMA config for random test models (head_dim = hidden / heads unless given).
nugget::ModelConfig llamaConfig(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                                int64_t kvHeads, int64_t vocab, int64_t context, int64_t headDim = 0);

// A model of `config` with normal(0, stddev) weights drawn from `seed` (norms at one).
nugget::LlamaForCausalLM randomModel(const nugget::ModelConfig &config, double stddev, uint64_t seed);

// `count` seed samples of `length` random ids in [3, vocab) after BOS (id 1), the first
// `maskedPrefix` labels masked as a prompt is; drawn from torch's generator seeded with `seed`.
std::vector<nugget::SeedSample> randomSeedSamples(int count, int64_t length, int64_t vocab,
                                                  int64_t maskedPrefix, uint64_t seed);

} // namespace nugget::test
