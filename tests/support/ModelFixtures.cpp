#include "ModelFixtures.h"

#include <torch/torch.h>

namespace nugget::test {

nugget::ModelConfig llamaConfig(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                                int64_t kvHeads, int64_t vocab, int64_t context, int64_t headDim)
{
    nugget::ModelConfig c;
    c.hiddenSize = hidden;
    c.intermediateSize = intermediate;
    c.numHiddenLayers = layers;
    c.numAttentionHeads = heads;
    c.numKeyValueHeads = kvHeads;
    c.headDim = headDim > 0 ? headDim : hidden / heads;
    c.vocabSize = vocab;
    c.maxPositionEmbeddings = context;
    c.rmsNormEps = 1e-5;
    return c;
}

nugget::LlamaForCausalLM randomModel(const nugget::ModelConfig &config, double stddev, uint64_t seed)
{
    nugget::LlamaForCausalLM model(config);
    nugget::initialiseWeights(model, stddev, seed);
    return model;
}

std::vector<nugget::SeedSample> randomSeedSamples(int count, int64_t length, int64_t vocab,
                                                  int64_t maskedPrefix, uint64_t seed)
{
    std::vector<nugget::SeedSample> samples;
    torch::manual_seed(seed);
    for (int i = 0; i < count; ++i) {
        const auto ids = torch::randint(3, vocab, {length}, torch::kLong);
        nugget::SeedSample s;
        s.inputIds.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
        s.inputIds[0] = 1;
        s.labels = s.inputIds;
        for (int64_t t = 0; t < maskedPrefix; ++t)
            s.labels[size_t(t)] = -100;
        samples.push_back(std::move(s));
    }
    return samples;
}

} // namespace nugget::test
