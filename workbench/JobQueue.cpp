#include "JobQueue.h"

#include "Error.h"
#include "jobs/Progress.h"

#include <new>

namespace nugget {

namespace {

// Error text for failures that are not nugget::Error: allocation failures become an
// out-of-memory message instead of ending the program.
QString failureText(const std::exception &e)
{
    const QString what = QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 0);
    if (what.contains(QLatin1String("alloc"), Qt::CaseInsensitive) ||
        what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
        return QStringLiteral("out of memory: %1").arg(what);
    return what;
}

} // namespace

bool Throttle::due(bool force)
{
    if (force || !m_timer.isValid() || m_timer.elapsed() >= m_interval) {
        m_timer.restart();
        return true;
    }
    return false;
}

JobTicket::JobTicket(int id, const QString &title, const QString &kind)
    : m_id(id), m_title(title), m_kind(kind), m_progress(std::make_shared<Progress>()),
      m_future(m_promise.get_future().share())
{
}

JobState JobTicket::state() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_state;
}

bool JobTicket::isFinished() const
{
    const auto s = state();
    return s != JobState::Queued && s != JobState::Running;
}

void JobTicket::cancel() { m_progress->cancel(); }

bool JobTicket::start()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_superseded || m_progress->isCancelled())
        return false;
    m_state = JobState::Running;
    return true;
}

bool JobTicket::supersede()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_state != JobState::Queued)
        return false;
    m_superseded = true;
    m_progress->cancel();
    return true;
}

void JobTicket::end(JobState state)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_state = state;
}

void JobTicket::fulfil(const JobOutcome &outcome) { m_promise.set_value(outcome); }

JobQueue::JobQueue(Events events, int updateIntervalMs) : m_events(std::move(events)), m_interval(updateIntervalMs)
{
    m_thread.setObjectName(QStringLiteral("nugget-compute"));
    m_context.moveToThread(&m_thread);
    m_thread.start();
}

JobQueue::~JobQueue() { shutdown(); }

void JobQueue::shutdown()
{
    cancelAll();
    m_thread.quit();
    m_thread.wait();
}

std::shared_ptr<JobTicket> JobQueue::enqueue(const QString &title, Work work, const QString &kind)
{
    std::shared_ptr<JobTicket> ticket;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!kind.isEmpty())
            for (auto &[id, older] : m_pending)
                if (older->kind() == kind)
                    older->supersede();
        ticket = std::make_shared<JobTicket>(m_nextId++, title, kind);
        m_pending[ticket->id()] = ticket;
        m_all[ticket->id()] = ticket;
    }
    if (m_events.queued)
        m_events.queued(ticket->id(), title);
    QMetaObject::invokeMethod(
        &m_context, [this, ticket, work = std::move(work)] { run(ticket, work); }, Qt::QueuedConnection);
    return ticket;
}

void JobQueue::run(const std::shared_ptr<JobTicket> &ticket, const Work &work)
{
    const int id = ticket->id();
    Progress &progress = *ticket->m_progress;
    JobContext job(id, ticket->title(), progress, m_interval);
    JobOutcome outcome;
    QElapsedTimer clock;
    clock.start();
    if (!ticket->start()) {
        outcome.state = JobState::Cancelled;
        if (ticket->m_superseded)
            outcome.message = QStringLiteral("superseded by a newer request");
    } else {
        if (m_events.started)
            m_events.started(id);
        Throttle reports(m_interval);
        job.report = [this, id, &reports](double fraction, const std::string &message) {
            if (reports.due(fraction >= 1.0) && m_events.progress)
                m_events.progress(id, fraction, QString::fromStdString(message));
        };
        progress.setReporter(job.report);
        try {
            work(job);
            outcome.state = JobState::Done;
        } catch (const Cancelled &) {
            outcome.state = JobState::Cancelled;
        } catch (const Error &e) {
            outcome = {JobState::Failed, QString::fromUtf8(e.what()), 0};
        } catch (const std::bad_alloc &) {
            outcome = {JobState::Failed, QStringLiteral("out of memory"), 0};
        } catch (const std::exception &e) {
            outcome = {JobState::Failed, failureText(e), 0};
        }
        progress.setReporter({});
    }
    outcome.seconds = double(clock.elapsed()) / 1000.0;
    if (m_events.log) {
        if (outcome.state == JobState::Failed)
            m_events.log({LogLevel::Error, QStringLiteral("%1: %2").arg(job.title, outcome.message), job.target});
        else if (outcome.state == JobState::Cancelled && outcome.message.isEmpty())
            m_events.log({LogLevel::Info, QStringLiteral("%1: cancelled").arg(job.title), {}});
    }
    ticket->end(outcome.state);   // before its signal: a receiver sees it ended
    if (m_events.finished)
        m_events.finished(id, outcome);
    // Only now is the job gone from pending(): its last signal is already posted. The
    // ticket's future is ready last, when the queue's own bookkeeping is done too.
    bool drained = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_pending.erase(id);
        drained = m_pending.empty();
    }
    if (drained && m_events.drained)
        m_events.drained();
    ticket->fulfil(outcome);
}

void JobQueue::cancel(int job)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto found = m_pending.find(job);
    if (found != m_pending.end())
        found->second->cancel();
}

void JobQueue::cancelAll()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    for (auto &[id, ticket] : m_pending)
        ticket->cancel();
}

int JobQueue::pending() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return static_cast<int>(m_pending.size());
}

std::shared_ptr<JobTicket> JobQueue::ticket(int job) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto found = m_all.find(job);
    return found == m_all.end() ? nullptr : found->second;
}

} // namespace nugget
