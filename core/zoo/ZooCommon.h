#pragma once
// Pieces shared by the synthetic worlds: a pseudo-random generator whose output is
// identical on every platform and standard library, and the writer of task-data lines
// in the reference JSONL format.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "Random.h"

namespace nugget::zoo {

// xoshiro256** seeded through splitmix64. Bounded draws use rejection sampling, so they
// are unbiased and do not depend on any implementation-defined distribution.
class WorldRng
{
public:
    explicit WorldRng(uint64_t seed);
    // An independent stream for one purpose of one world: (seed, stream, index) always
    // gives the same sequence, and different streams are unrelated.
    WorldRng(uint64_t seed, std::string_view stream, uint64_t index = 0);

    uint64_t next();
    // Uniform in [0, bound); bound must be > 0.
    uint64_t below(uint64_t bound);
    // Uniform in [low, high] (inclusive); low <= high.
    int64_t between(int64_t low, int64_t high);
    // Uniform index into a container of `size` elements (size > 0).
    size_t index(size_t size) { return static_cast<size_t>(below(size)); }

    template <typename T> const T &pick(const std::vector<T> &values)
    {
        return values[index(values.size())];
    }

    // Fisher-Yates, drawing with below().
    template <typename T> void shuffle(std::vector<T> &values)
    {
        for (size_t i = values.size(); i > 1; --i)
            std::swap(values[i - 1], values[index(i)]);
    }

private:
    static uint64_t mixedSeed(uint64_t seed, std::string_view stream, uint64_t index);
    random::Xoshiro256StarStar m_generator;
};

// One single-turn task example.
struct ChatItem
{
    std::string dataset;
    std::string id;
    std::string user;
    std::string assistant;
    // More string keys after "messages" (the world's "person" and "attribute"), in order.
    std::vector<std::pair<std::string, std::string>> fields;
};

// `text` as a JSON string literal (quotes included). Non-ASCII UTF-8 is kept as is,
// control characters are escaped, as Python's json.dumps(..., ensure_ascii=False).
std::string jsonQuoted(std::string_view text);

// {"dataset": ..., "id": ..., "messages": [{"role": "user", "content": ...},
//  {"role": "assistant", "content": ...}]} on one line, without the line break,
// spaced exactly like the reference data; the item's fields follow "messages".
std::string chatJsonLine(const ChatItem &item);

// round(fraction * count), computed identically everywhere; fraction in [0, 1].
int64_t fractionOf(int64_t count, double fraction);

} // namespace nugget::zoo
