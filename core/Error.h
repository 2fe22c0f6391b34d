#pragma once
// The exceptions the core throws. Error's message is meant for a user: what went wrong,
// in which file or setting, and when possible what to do about it.

#include <exception>
#include <stdexcept>
#include <string>

namespace nugget {

class Error : public std::runtime_error
{
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

// Thrown when a job was cancelled through its Progress. A cancel is not an error: it is
// deliberately not an Error, so code that wraps or reports failures (catch Error) lets it
// pass unchanged. Code that catches std::exception as a last resort must catch Cancelled
// before it.
class Cancelled : public std::exception
{
public:
    const char *what() const noexcept override { return "cancelled"; }
};

} // namespace nugget
