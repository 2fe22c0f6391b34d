#include "WorkbenchEngine.h"

#include "EngineState.h"

namespace nugget {

WorkbenchEngine::WorkbenchEngine(QObject *parent) : QObject(parent), m_state(std::make_unique<EngineState>())
{
    qRegisterMetaType<nugget::LogEntry>();
    qRegisterMetaType<nugget::JobOutcome>();
    qRegisterMetaType<nugget::PairSummary>();
    qRegisterMetaType<nugget::TaskSummary>();
    qRegisterMetaType<nugget::ScoreGrid>();
    qRegisterMetaType<nugget::SimilarityGrid>();
    qRegisterMetaType<nugget::ReductionPreview>();
    qRegisterMetaType<nugget::TrainingProgress>();
    qRegisterMetaType<nugget::RunSummary>();
    qRegisterMetaType<nugget::ControlsSummary>();
    qRegisterMetaType<nugget::SessionSummary>();

    JobQueue::Events events;
    events.queued = [this](int job, const QString &title) { Q_EMIT jobQueued(job, title); };
    events.started = [this](int job) { Q_EMIT jobStarted(job); };
    events.progress = [this](int job, double fraction, const QString &message) {
        Q_EMIT jobProgress(job, fraction, message);
    };
    events.finished = [this](int job, const JobOutcome &outcome) { Q_EMIT jobFinished(job, outcome); };
    events.log = [this](const LogEntry &entry) { Q_EMIT logMessage(entry); };
    // Posted behind the finished job's signals, and checked again on arrival: a receiver
    // of those signals may have queued more work.
    events.drained = [this] {
        QMetaObject::invokeMethod(
            this,
            [this] {
                if (pendingJobs() == 0)
                    Q_EMIT idle();
            },
            Qt::QueuedConnection);
    };
    m_queue = std::make_unique<JobQueue>(std::move(events), updateIntervalMs());
}

WorkbenchEngine::~WorkbenchEngine()
{
    // Join while the state is still there: jobs already queued run (cancelled at once)
    // and reach it until the thread has stopped.
    m_queue->shutdown();
    m_queue.reset();
}

int WorkbenchEngine::enqueue(const QString &title, std::function<void(JobContext &)> work, const QString &kind)
{
    return m_queue->enqueue(title, std::move(work), kind)->id();
}

std::shared_ptr<JobTicket> WorkbenchEngine::job(int id) const { return m_queue->ticket(id); }
void WorkbenchEngine::cancel(int job) { m_queue->cancel(job); }
void WorkbenchEngine::cancelAll() { m_queue->cancelAll(); }
int WorkbenchEngine::pendingJobs() const { return m_queue->pending(); }

} // namespace nugget
