#pragma once
// The fixed value lists of the synthetic biography world. Every list is free of
// duplicates, plain ASCII, and free of '.', '"' and line breaks, so a value followed
// by a period is an unambiguous answer. Order matters: values are drawn by index.

#include <string>
#include <vector>

namespace nugget::zoo {

const std::vector<std::string> &firstNames();     // >= kMinFirstNames
const std::vector<std::string> &middleNames();    // >= kMinMiddleNames
const std::vector<std::string> &lastNames();      // >= kMinLastNames
const std::vector<std::string> &cities();         // "City, ST", >= kMinCities
const std::vector<std::string> &universities();   // >= kMinUniversities
const std::vector<std::string> &majors();         // >= kMinMajors
const std::vector<std::string> &employers();      // >= kMinEmployers
const std::vector<std::string> &monthNames();     // "January" .. "December"

inline constexpr int kMinFirstNames = 250;
inline constexpr int kMinMiddleNames = 150;
inline constexpr int kMinLastNames = 250;
inline constexpr int kMinCities = 200;
inline constexpr int kMinUniversities = 120;
inline constexpr int kMinMajors = 100;
inline constexpr int kMinEmployers = 200;

// Birth years are drawn from [kFirstBirthYear, kLastBirthYear].
inline constexpr int kFirstBirthYear = 1900;
inline constexpr int kLastBirthYear = 2010;

// Gregorian calendar; month is 1-12.
inline constexpr bool isLeapYear(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}
inline constexpr int daysInMonth(int year, int month)
{
    constexpr int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && isLeapYear(year) ? 29 : days[month - 1];
}

} // namespace nugget::zoo
