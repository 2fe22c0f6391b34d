#include "train/PackedBatches.h"

#include "Error.h"
#include "Random.h"

#include <numeric>

namespace nugget {

std::vector<size_t> seededPermutation(size_t count, uint64_t seed)
{
    std::vector<size_t> order(count);
    std::iota(order.begin(), order.end(), size_t(0));
    random::SplitMix64 stream{seed};
    for (size_t i = count; i > 1; --i)
        std::swap(order[i - 1], order[random::belowByTailRejection([&] { return stream.next(); }, i)]);
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
