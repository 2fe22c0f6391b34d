#pragma once
// The engine's compute thread and its queue. Jobs run one at a time, in order, on one
// thread that owns the models and the torch device; the caller's thread never waits.
// Each job is followed through a JobTicket (its state now, a future of its outcome,
// cancel). A job queued with a kind supersedes the queued, not yet started jobs of the
// same kind: they end as cancelled without running (a newer preview makes an older
// one pointless). Nothing here knows about models: the work is a function.

#include "EngineResults.h"

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QThread>

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace nugget {

class Progress;

// At most one delivery per interval; the caller forces the last one.
class Throttle
{
public:
    explicit Throttle(int intervalMs) : m_interval(intervalMs) {}
    bool due(bool force = false);

private:
    int m_interval;
    QElapsedTimer m_timer;
};

// What a caller holds of one job. Thread-safe.
class JobTicket
{
public:
    JobTicket(int id, const QString &title, const QString &kind);

    int id() const { return m_id; }
    const QString &title() const { return m_title; }
    const QString &kind() const { return m_kind; }
    JobState state() const;
    bool isFinished() const;
    // Ready once the job has ended, every signal it sent is posted and it is gone from
    // the queue's pending jobs.
    std::shared_future<JobOutcome> outcome() const { return m_future; }
    void cancel();

private:
    friend class JobQueue;
    // Queued -> Running, unless cancelled or superseded meanwhile (then false).
    bool start();
    // True when the job was still queued: it will end without running.
    bool supersede();
    void end(JobState state);                  // state() says so from now on
    void fulfil(const JobOutcome &outcome);    // the future is ready from now on

    const int m_id;
    const QString m_title, m_kind;
    mutable std::mutex m_mutex;
    JobState m_state = JobState::Queued;
    bool m_superseded = false;
    std::shared_ptr<Progress> m_progress;
    std::promise<JobOutcome> m_promise;
    std::shared_future<JobOutcome> m_future;
};

// What a job's work sees while it runs on the compute thread.
struct JobContext
{
    JobContext(int id, const QString &title, Progress &progress, int intervalMs)
        : id(id), title(title), progress(progress), results(intervalMs)
    {
    }
    const int id;
    const QString title;
    Progress &progress;
    Throttle results;   // for the job's live results (grids, training steps)
    QString target;     // what a failure points at (file or setting)
    std::function<void(double, const std::string &)> report;   // throttled progress
};

class JobQueue
{
public:
    // Called on the compute thread, except `queued` (on the caller's thread).
    struct Events
    {
        std::function<void(int job, const QString &title)> queued;
        std::function<void(int job)> started;
        std::function<void(int job, double fraction, const QString &message)> progress;
        std::function<void(int job, const JobOutcome &outcome)> finished;
        std::function<void(const LogEntry &entry)> log;
        std::function<void()> drained;   // after a job's end left nothing queued or running
    };
    using Work = std::function<void(JobContext &)>;

    JobQueue(Events events, int updateIntervalMs);
    // Cancels every job and joins the thread (see shutdown).
    ~JobQueue();

    std::shared_ptr<JobTicket> enqueue(const QString &title, Work work, const QString &kind = {});
    void cancel(int job);
    void cancelAll();
    int pending() const;   // queued or running
    // Any job this queue was given; null for an id it never returned.
    std::shared_ptr<JobTicket> ticket(int job) const;
    // Cancels every job and joins the thread: jobs still queued end as cancelled
    // without running. Idempotent.
    void shutdown();

private:
    void run(const std::shared_ptr<JobTicket> &ticket, const Work &work);

    Events m_events;
    const int m_interval;
    QThread m_thread;
    QObject m_context;   // lives on the compute thread; jobs are posted to it
    mutable std::mutex m_mutex;
    std::map<int, std::shared_ptr<JobTicket>> m_pending, m_all;
    int m_nextId = 1;
};

} // namespace nugget
