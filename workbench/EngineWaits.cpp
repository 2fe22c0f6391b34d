#include "EngineWaits.h"

#include "WorkbenchEngine.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <optional>

namespace nugget {

JobOutcome waitForJob(WorkbenchEngine &engine, int job, int timeoutMs)
{
    const auto ticket = engine.job(job);
    if (!ticket)
        return {JobState::Failed, QStringLiteral("no job %1").arg(job), 0};
    QEventLoop loop;
    std::optional<JobOutcome> delivered;
    // Connected before the check below: a job ending in between posts to this loop.
    QObject::connect(&engine, &WorkbenchEngine::jobFinished, &loop,
                     [&loop, &delivered, job](int id, const JobOutcome &outcome) {
                         if (id != job)
                             return;
                         delivered = outcome;
                         loop.quit();
                     });
    if (ticket->isFinished()) {
        QCoreApplication::processEvents();   // its signals are posted already
        return ticket->outcome().get();
    }
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    if (delivered)
        return *delivered;
    return {JobState::Running, QStringLiteral("no outcome within %1 s").arg(timeoutMs / 1000.0), 0};
}

bool waitForIdle(WorkbenchEngine &engine, int timeoutMs)
{
    QEventLoop loop;
    bool idle = false;
    QObject::connect(&engine, &WorkbenchEngine::idle, &loop, [&loop, &idle] {
        idle = true;
        loop.quit();
    });
    if (engine.pendingJobs() == 0) {
        QCoreApplication::processEvents();
        return true;
    }
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    return idle;
}

} // namespace nugget
