#pragma once
// Sequence packing for causal-LM training: documents (BOS ... EOS, with per-token
// labels) are shuffled each epoch, concatenated, and cut into fixed-length rows, so no
// compute is spent on padding.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace nugget {

struct TrainingDocument
{
    std::vector<int64_t> ids;
    std::vector<int64_t> labels;   // same length; -100 where no loss is taken
};

struct TokenBatch
{
    at::Tensor inputIds;   // [batch, sequence] int64
    at::Tensor labels;     // [batch, sequence] int64
};

class PackedBatches
{
public:
    PackedBatches(std::vector<TrainingDocument> documents, int64_t sequenceLength, int64_t batchSize);

    // All batches of one epoch, documents shuffled by (seed, epoch). The last partial
    // row is padded with label -100.
    std::vector<TokenBatch> epoch(uint64_t seed, int64_t epochIndex) const;
    int64_t batchesPerEpoch() const;
    int64_t tokenCount() const { return m_tokens; }
    int64_t sequenceLength() const { return m_sequenceLength; }

private:
    std::vector<TrainingDocument> m_documents;
    int64_t m_sequenceLength;
    int64_t m_batchSize;
    int64_t m_tokens = 0;
};

// Deterministic permutation (Fisher-Yates over splitmix64), identical on every platform.
std::vector<size_t> seededPermutation(size_t count, uint64_t seed);

} // namespace nugget
