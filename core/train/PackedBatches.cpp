#include "train/PackedBatches.h"

#include "Error.h"

#include <numeric>

namespace nugget {

namespace {

uint64_t splitmix(uint64_t &state)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace

std::vector<size_t> seededPermutation(size_t count, uint64_t seed)
{
    std::vector<size_t> order(count);
    std::iota(order.begin(), order.end(), size_t(0));
    uint64_t state = seed;
    for (size_t i = count; i > 1; --i) {
        // Unbiased bounded draw (rejection of the short tail).
        const uint64_t bound = i, limit = UINT64_MAX - UINT64_MAX % bound;
        uint64_t draw;
        do
            draw = splitmix(state);
        while (draw >= limit);
        std::swap(order[i - 1], order[draw % bound]);
    }
    return order;
}

PackedBatches::PackedBatches(std::vector<TrainingDocument> documents, int64_t sequenceLength, int64_t batchSize)
    : m_documents(std::move(documents)), m_sequenceLength(sequenceLength), m_batchSize(batchSize)
{
    if (sequenceLength < 2 || batchSize < 1)
        throw Error("packing needs a sequence length >= 2 and a batch size >= 1");
    for (const auto &document : m_documents) {
        if (document.ids.size() != document.labels.size())
            throw Error("a training document's ids and labels differ in length");
        m_tokens += static_cast<int64_t>(document.ids.size());
    }
    if (m_tokens == 0)
        throw Error("no training tokens");
}

int64_t PackedBatches::batchesPerEpoch() const
{
    const int64_t rows = (m_tokens + m_sequenceLength - 1) / m_sequenceLength;
    return (rows + m_batchSize - 1) / m_batchSize;
}

std::vector<TokenBatch> PackedBatches::epoch(uint64_t seed, int64_t epochIndex) const
{
    const auto order = seededPermutation(m_documents.size(), seed * 1000003ull + static_cast<uint64_t>(epochIndex));
    const int64_t rows = (m_tokens + m_sequenceLength - 1) / m_sequenceLength;
    auto ids = at::zeros({rows * m_sequenceLength}, at::kLong);
    auto labels = at::full({rows * m_sequenceLength}, -100, at::kLong);
    auto *idData = ids.data_ptr<int64_t>();
    auto *labelData = labels.data_ptr<int64_t>();
    int64_t position = 0;
    for (const size_t index : order) {
        const auto &document = m_documents[index];
        std::copy(document.ids.begin(), document.ids.end(), idData + position);
        std::copy(document.labels.begin(), document.labels.end(), labelData + position);
        position += static_cast<int64_t>(document.ids.size());
    }
    ids = ids.view({rows, m_sequenceLength});
    labels = labels.view({rows, m_sequenceLength});
    std::vector<TokenBatch> batches;
    for (int64_t start = 0; start < rows; start += m_batchSize) {
        const int64_t count = std::min(m_batchSize, rows - start);
        batches.push_back({ids.narrow(0, start, count), labels.narrow(0, start, count)});
    }
    return batches;
}

} // namespace nugget
