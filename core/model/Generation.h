#pragma once
// Autoregressive generation with a key/value cache: greedy at temperature 0, otherwise
// temperature + nucleus (top-p) sampling from a seeded generator.

#include "jobs/Progress.h"
#include "model/LlamaModel.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace nugget {

struct SamplingOptions
{
    int64_t maxNewTokens = 256;
    double temperature = 0.0;    // 0: greedy
    double topP = 1.0;           // 1: no nucleus truncation
    uint64_t seed = 0;
    std::vector<int64_t> stopIds;   // generation ends after emitting one of these
};

// Generates after `promptIds` (which should start with BOS). Returns only the new ids;
// a stop id that ended generation is included. `onToken` is called with each new id as
// it is produced. Polls `progress` for cancellation once per token.
std::vector<int64_t> generate(LlamaForCausalLM &model, const std::vector<int64_t> &promptIds,
                              const SamplingOptions &options, Progress *progress = nullptr,
                              const std::function<void(int64_t)> &onToken = {});

// Picks the next token from one row of logits; exposed for tests.
class TokenSampler
{
public:
    TokenSampler(double temperature, double topP, uint64_t seed);
    int64_t next(const at::Tensor &logits);

private:
    double m_temperature;
    double m_topP;
    uint64_t m_state;
    double uniform();
};

} // namespace nugget
