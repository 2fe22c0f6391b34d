#pragma once
// Waiting for the workbench engine's jobs in tests.

#include "EngineResults.h"
#include "WorkbenchEngine.h"

#include <QElapsedTimer>
#include <QTest>

#include <map>

namespace nugget::test {

// Outcomes by job id, recorded from the moment the engine exists: a fast job can finish
// before a spy created after the call would connect. Signals come from the compute
// thread; the engine as context queues them to this thread.
class JobOutcomes
{
public:
    explicit JobOutcomes(WorkbenchEngine &engine)
    {
        QObject::connect(&engine, &WorkbenchEngine::jobFinished, &engine,
                         [this](int job, const JobOutcome &outcome) { m_outcomes[job] = outcome; });
    }
    JobOutcome wait(int job)
    {
        QElapsedTimer clock;
        clock.start();
        while (!m_outcomes.count(job) && clock.elapsed() < 300000)
            QTest::qWait(20);
        if (m_outcomes.count(job))
            return m_outcomes[job];
        JobOutcome timedOut;
        timedOut.state = JobState::Queued;
        timedOut.message = QStringLiteral("no outcome within 300 s");
        return timedOut;
    }

private:
    std::map<int, JobOutcome> m_outcomes;
};

} // namespace nugget::test
