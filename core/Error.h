#pragma once
// The one exception type the core throws. Its message is meant for a user: what went
// wrong, in which file or setting, and when possible what to do about it.

#include <stdexcept>
#include <string>

namespace nugget {

class Error : public std::runtime_error
{
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

// Thrown when a job was cancelled through its Progress; not an error a user must fix.
class Cancelled : public Error
{
public:
    Cancelled() : Error("cancelled") {}
};

} // namespace nugget
