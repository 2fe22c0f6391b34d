#pragma once

// The one seeded generator of the project: splitmix64 (Steele, Lea, Flood) and
// xoshiro256** (Blackman, Vigna) seeded through it. Pure integer arithmetic, so every
// stream is the same on every platform and device; saved worlds and demos depend on that.

#include <cstdint>

namespace nugget::random {

// One splitmix64 step: advances `state` and returns the mixed output.
inline uint64_t splitmix64(uint64_t &state)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The top 53 bits of a 64-bit draw as a double in [0, 1).
inline double unitDouble(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Uniform in [0, bound), bound >= 1: rejects draws below 2^64 mod bound, then reduces.
template <typename NextBits>
uint64_t belowByLowRejection(NextBits &&next, uint64_t bound)
{
    const uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        const uint64_t r = next();
        if (r >= threshold)
            return r % bound;
    }
}

// Uniform in [0, bound), bound >= 1: rejects the short tail above the last whole multiple
// of bound below UINT64_MAX, then reduces. A different stream from belowByLowRejection,
// kept because training-order permutations were defined with it.
template <typename NextBits>
uint64_t belowByTailRejection(NextBits &&next, uint64_t bound)
{
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw;
    do
        draw = next();
    while (draw >= limit);
    return draw % bound;
}

// A splitmix64 stream.
struct SplitMix64
{
    uint64_t state;
    uint64_t next() { return splitmix64(state); }
    uint64_t below(uint64_t bound) { return belowByLowRejection([this] { return next(); }, bound); }
};

// xoshiro256**, its four state words filled by splitmix64 from `seed`.
class Xoshiro256StarStar
{
public:
    explicit Xoshiro256StarStar(uint64_t seed)
    {
        for (uint64_t &word : m_state)
            word = splitmix64(seed);
    }

    uint64_t next()
    {
        const uint64_t result = rotl(m_state[1] * 5, 7) * 9;
        const uint64_t t = m_state[1] << 17;
        m_state[2] ^= m_state[0];
        m_state[3] ^= m_state[1];
        m_state[1] ^= m_state[2];
        m_state[0] ^= m_state[3];
        m_state[2] ^= t;
        m_state[3] = rotl(m_state[3], 45);
        return result;
    }

    uint64_t below(uint64_t bound) { return belowByLowRejection([this] { return next(); }, bound); }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t m_state[4];
};

} // namespace nugget::random
