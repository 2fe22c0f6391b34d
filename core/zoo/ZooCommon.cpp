#include "zoo/ZooCommon.h"

#include <cmath>

namespace nugget::zoo {

namespace {

uint64_t splitmix64(uint64_t &state)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fnv1a(std::string_view text)
{
    uint64_t hash = 0xCBF29CE484222325ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001B3ULL;
    }
    return hash;
}

} // namespace

WorldRng::WorldRng(uint64_t seed)
{
    uint64_t state = seed;
    for (uint64_t &word : m_state)
        word = splitmix64(state);
}

WorldRng::WorldRng(uint64_t seed, std::string_view stream, uint64_t index)
{
    uint64_t mix = seed;
    uint64_t combined = splitmix64(mix);
    mix = combined ^ fnv1a(stream);
    combined = splitmix64(mix);
    mix = combined ^ (index * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
    uint64_t state = splitmix64(mix);
    for (uint64_t &word : m_state)
        word = splitmix64(state);
}

uint64_t WorldRng::next()
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

uint64_t WorldRng::below(uint64_t bound)
{
    // Values below `threshold` would make some residues more likely: reject them.
    const uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        const uint64_t r = next();
        if (r >= threshold)
            return r % bound;
    }
}

int64_t WorldRng::between(int64_t low, int64_t high)
{
    const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
    if (span == 0)   // the full 64-bit range
        return static_cast<int64_t>(next());
    return static_cast<int64_t>(static_cast<uint64_t>(low) + below(span));
}

std::string jsonQuoted(std::string_view text)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (byte < 0x20) {
                out += "\\u00";
                out += hex[byte >> 4];
                out += hex[byte & 0xF];
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

std::string chatJsonLine(const ChatItem &item)
{
    return "{\"dataset\": " + jsonQuoted(item.dataset) + ", \"id\": " + jsonQuoted(item.id) +
           ", \"messages\": [{\"role\": \"user\", \"content\": " + jsonQuoted(item.user) +
           "}, {\"role\": \"assistant\", \"content\": " + jsonQuoted(item.assistant) + "}]}";
}

int64_t fractionOf(int64_t count, double fraction)
{
    const double scaled = static_cast<double>(count) * fraction;
    const auto value = static_cast<int64_t>(std::floor(scaled + 0.5));
    return value < 0 ? 0 : (value > count ? count : value);
}

} // namespace nugget::zoo
