#pragma once
// The light feedback object handed to every long core function: a cancel flag polled
// at least once per sample or step, and a callback for progress reports. Callbacks run
// on the worker's thread; a GUI forwards them with queued signals.

#include "Error.h"

#include <atomic>
#include <functional>
#include <string>

namespace nugget {

class Progress
{
public:
    using Reporter = std::function<void(double fraction, const std::string &message)>;

    Progress() = default;
    explicit Progress(Reporter reporter) : m_reporter(std::move(reporter)) {}

    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool isCancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    // Throws Cancelled when cancel() was called; core loops call this between units of work.
    void checkCancelled() const
    {
        if (isCancelled())
            throw Cancelled();
    }

    void report(double fraction, const std::string &message = {}) const
    {
        if (m_reporter)
            m_reporter(fraction, message);
    }
    void setReporter(Reporter reporter) { m_reporter = std::move(reporter); }

private:
    std::atomic<bool> m_cancelled{false};
    Reporter m_reporter;
};

} // namespace nugget
