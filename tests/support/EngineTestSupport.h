#pragma once
// Waiting for the workbench engine's jobs in tests: a local event loop until the engine
// reports the job's end (or goes idle), never polling.

#include "EngineResults.h"
#include "EngineWaits.h"
#include "WorkbenchEngine.h"

namespace nugget::test {

class JobOutcomes
{
public:
    explicit JobOutcomes(WorkbenchEngine &engine) : m_engine(engine) {}
    // The job's outcome once its jobFinished (and every result it sent before) has been
    // delivered here; on timeout a Running outcome saying so.
    JobOutcome wait(int job, int timeoutMs = 300000) { return waitForJob(m_engine, job, timeoutMs); }

private:
    WorkbenchEngine &m_engine;
};

} // namespace nugget::test
