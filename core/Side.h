#pragma once
// Which model of the pair a result belongs to. Sessions store scores under the side's
// name (sensitivity/teacher, sensitivity/student); the views title their grids with it.
// Free of Qt and libtorch so that every layer, the widgets included, can use it.

#include <optional>
#include <string_view>

namespace nugget {

enum class Side { Teacher, Student };

constexpr const char *sideName(Side side) { return side == Side::Teacher ? "teacher" : "student"; }

// The side named `name` ("teacher" or "student"), or nothing for any other text.
constexpr std::optional<Side> parseSide(std::string_view name)
{
    if (name == "teacher")
        return Side::Teacher;
    if (name == "student")
        return Side::Student;
    return std::nullopt;
}

} // namespace nugget
