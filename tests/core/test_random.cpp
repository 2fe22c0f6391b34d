// The seeded generators against values computed independently from the published
// definitions of splitmix64 and xoshiro256** (a separate script, arbitrary-precision
// integers masked to 64 bits). Saved worlds, demos and training orders depend on these.

#include "Random.h"
#include "model/Generation.h"
#include "train/PackedBatches.h"
#include "zoo/ZooCommon.h"

#include <QTest>

#include <algorithm>
#include <numeric>

using namespace nugget;

class TestRandom : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void splitmix64MatchesReference()
    {
        const struct { uint64_t seed, first[3]; } cases[] = {
            {0, {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full}},
            {1234567, {0x599ed017fb08fc85ull, 0x2c73f08458540fa5ull, 0x883ebce5a3f27c77ull}},
            {42, {0xbdd732262feb6e95ull, 0x28efe333b266f103ull, 0x47526757130f9f52ull}},
        };
        for (const auto &c : cases) {
            nugget::random::SplitMix64 stream{c.seed};
            for (uint64_t expected : c.first)
                QCOMPARE(stream.next(), expected);
        }
    }

    void xoshiroSeededBySplitmixMatchesReference()
    {
        nugget::random::Xoshiro256StarStar zero(0);
        QCOMPARE(zero.next(), 0x99ec5f36cb75f2b4ull);
        QCOMPARE(zero.next(), 0xbf6e1f784956452aull);
        QCOMPARE(zero.next(), 0x1a5f849d4933e6e0ull);
        // The world generator's stream is the same xoshiro256** stream.
        zoo::WorldRng world(42);
        QCOMPARE(world.next(), 0x15780b2e0c2ec716ull);
        QCOMPARE(world.next(), 0x6104d9866d113a7eull);
        QCOMPARE(world.next(), 0xae17533239e499a1ull);
    }

    void boundedDrawsReduceTheReferenceStream()
    {
        // Bounds far below 2^64 reject (almost) nothing, so each draw is the raw output mod bound.
        zoo::WorldRng world(42);
        QCOMPARE(world.below(1000), 0x15780b2e0c2ec716ull % 1000);
        QCOMPARE(world.below(7), 0x6104d9866d113a7eull % 7);
        nugget::random::SplitMix64 stream{1234567};
        QCOMPARE(stream.below(10), 0x599ed017fb08fc85ull % 10);
    }

    void permutationIsFisherYatesOverSplitmix()
    {
        // count 3, seed 0: i=3 swaps [2] with [draw0 % 3], i=2 swaps [1] with [draw1 % 2].
        std::vector<size_t> expected = {0, 1, 2};
        std::swap(expected[2], expected[0xe220a8397b1dcdafull % 3]);
        std::swap(expected[1], expected[0x6e789e6aa1b965f4ull % 2]);
        QCOMPARE(seededPermutation(3, 0), expected);
    }

    void samplerUniformIsTopBitsOfSplitmix()
    {
        QCOMPARE(nugget::random::unitDouble(0xe220a8397b1dcdafull), double(0xe220a8397b1dcdafull >> 11) / 9007199254740992.0);
        // Seed 0 falls back to the golden-ratio seed; its first uniform comes from the script.
        nugget::random::SplitMix64 golden{0x9E3779B97F4A7C15ull};
        QCOMPARE(nugget::random::unitDouble(golden.next()), 0.43152799704850997);
        nugget::random::SplitMix64 seven{7};
        QCOMPARE(nugget::random::unitDouble(seven.next()), 0.3898297483912715);
    }
};

QTEST_GUILESS_MAIN(TestRandom)
#include "test_random.moc"
