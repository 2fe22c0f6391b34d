#pragma once
// Waiting for the engine from a script, a benchmark or a test on the engine's thread:
// a local event loop runs until the engine says so (jobFinished, idle), so the results
// the jobs sent are delivered meanwhile. The interactive window never waits.

#include "EngineResults.h"

namespace nugget {

class WorkbenchEngine;

// The job's outcome once its jobFinished has been delivered to this thread (with every
// result it sent before). On timeout: state Running, and a message saying so; for an id
// the engine never returned: Failed.
JobOutcome waitForJob(WorkbenchEngine &engine, int job, int timeoutMs);
// True once the engine is idle (nothing queued or running, every signal delivered);
// false on timeout.
bool waitForIdle(WorkbenchEngine &engine, int timeoutMs);

} // namespace nugget
