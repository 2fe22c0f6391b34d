#include "zoo/ZooCommon.h"

#include "Random.h"

#include <cmath>

namespace nugget::zoo {

namespace {

using random::splitmix64;

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

WorldRng::WorldRng(uint64_t seed) : m_generator(seed) {}

WorldRng::WorldRng(uint64_t seed, std::string_view stream, uint64_t index) : m_generator(mixedSeed(seed, stream, index)) {}

uint64_t WorldRng::mixedSeed(uint64_t seed, std::string_view stream, uint64_t index)
{
    uint64_t mix = seed;
    uint64_t combined = splitmix64(mix);
    mix = combined ^ fnv1a(stream);
    combined = splitmix64(mix);
    mix = combined ^ (index * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
    return splitmix64(mix);
}

uint64_t WorldRng::next() { return m_generator.next(); }

uint64_t WorldRng::below(uint64_t bound) { return m_generator.below(bound); }

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
    std::string line = "{\"dataset\": " + jsonQuoted(item.dataset) + ", \"id\": " + jsonQuoted(item.id) +
                       ", \"messages\": [{\"role\": \"user\", \"content\": " + jsonQuoted(item.user) +
                       "}, {\"role\": \"assistant\", \"content\": " + jsonQuoted(item.assistant) + "}]";
    for (const auto &[key, value] : item.fields)
        line += ", " + jsonQuoted(key) + ": " + jsonQuoted(value);
    return line + "}";
}

int64_t fractionOf(int64_t count, double fraction)
{
    const double scaled = static_cast<double>(count) * fraction;
    const auto value = static_cast<int64_t>(std::floor(scaled + 0.5));
    return value < 0 ? 0 : (value > count ? count : value);
}

} // namespace nugget::zoo
