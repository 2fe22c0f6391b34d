// The engine's job queue: a ticket follows each job (state, a future of its outcome,
// cancel), jobs run one at a time in order, a newer job of a kind supersedes the queued
// ones of that kind (not a running one), and the engine says when it is idle. Then the
// same on the engine itself: a burst of dimension-map requests behind a sensitivity job
// draws only the last one.

#include "TestSupport.h"

#include "EngineTestSupport.h"
#include "EngineWaits.h"
#include "JobQueue.h"
#include "WorkbenchEngine.h"
#include "jobs/Progress.h"

#include <QSignalSpy>

#include <atomic>
#include <chrono>
#include <future>

using namespace nugget;
using namespace std::chrono_literals;

namespace {

QString demoDir() { return test::sourceDir() + QStringLiteral("/resources/demo"); }

// Holds the compute thread until opened; says when the job holding it has started.
struct Gate
{
    std::promise<void> promise, startedPromise;
    std::shared_future<void> opened{promise.get_future().share()};
    std::future<void> started{startedPromise.get_future()};
    JobQueue::Work work()
    {
        auto wait = opened;
        return [this, wait](JobContext &) {
            startedPromise.set_value();
            wait.wait();
        };
    }
};

std::future_status waitFor(const std::shared_ptr<JobTicket> &ticket)
{
    return ticket->outcome().wait_for(30s);
}

} // namespace

class TestEngineJobs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void ticketsFollowEachJob()
    {
        std::atomic<int> drained{0};
        JobQueue::Events events;
        events.drained = [&drained] { ++drained; };
        JobQueue queue(events, 40);
        Gate gate;
        const auto blocking = queue.enqueue(QStringLiteral("blocking"), gate.work());
        const auto failing = queue.enqueue(QStringLiteral("failing"), [](JobContext &job) {
            job.target = QStringLiteral("settings/rank");
            throw Error("rank must be positive");
        });
        const auto cancelled = queue.enqueue(QStringLiteral("cancelled"), [](JobContext &job) {
            job.progress.checkCancelled();
        });
        std::atomic<bool> ran{false};
        const auto done = queue.enqueue(QStringLiteral("done"), [&ran](JobContext &) { ran = true; });
        QCOMPARE(queue.pending(), 4);
        QCOMPARE(queue.ticket(done->id()), done);
        QVERIFY(!queue.ticket(done->id() + 1));

        cancelled->cancel();   // while queued: it ends without running
        QCOMPARE(failing->state(), JobState::Queued);
        gate.promise.set_value();
        QCOMPARE(waitFor(done), std::future_status::ready);
        QCOMPARE(blocking->outcome().get().state, JobState::Done);
        const auto failure = failing->outcome().get();
        QCOMPARE(failure.state, JobState::Failed);
        QCOMPARE(failure.message, QStringLiteral("rank must be positive"));
        QCOMPARE(cancelled->outcome().get().state, JobState::Cancelled);
        QCOMPARE(done->outcome().get().state, JobState::Done);
        QVERIFY(ran);
        QVERIFY(done->isFinished());
        QCOMPARE(queue.pending(), 0);
        QCOMPARE(drained.load(), 1);   // once, when the last of the four ended
    }

    void aNewerJobOfAKindSupersedesTheQueuedOnes()
    {
        JobQueue queue({}, 40);
        Gate gate;
        std::atomic<int> runs{0};
        auto counted = [&runs](JobContext &) { ++runs; };
        // A running preview is not superseded: it was asked for and is under way.
        const auto running = queue.enqueue(QStringLiteral("preview 0"), gate.work(), QStringLiteral("preview"));
        QCOMPARE(gate.started.wait_for(30s), std::future_status::ready);
        QCOMPARE(running->state(), JobState::Running);
        const auto first = queue.enqueue(QStringLiteral("preview 1"), counted, QStringLiteral("preview"));
        const auto other = queue.enqueue(QStringLiteral("save"), counted, QStringLiteral("save"));
        const auto second = queue.enqueue(QStringLiteral("preview 2"), counted, QStringLiteral("preview"));
        const auto plain = queue.enqueue(QStringLiteral("run"), counted);
        const auto last = queue.enqueue(QStringLiteral("preview 3"), counted, QStringLiteral("preview"));
        gate.promise.set_value();
        QCOMPARE(waitFor(last), std::future_status::ready);
        QCOMPARE(running->outcome().get().state, JobState::Done);
        for (const auto &superseded : {first, second}) {
            const auto outcome = superseded->outcome().get();
            QCOMPARE(outcome.state, JobState::Cancelled);
            QVERIFY2(outcome.message.contains(QLatin1String("superseded")), qPrintable(outcome.message));
        }
        QCOMPARE(other->outcome().get().state, JobState::Done);
        QCOMPARE(plain->outcome().get().state, JobState::Done);
        QCOMPARE(last->outcome().get().state, JobState::Done);
        QCOMPARE(runs.load(), 3);   // save, run and the last preview
    }

    void theEngineSaysWhenItIsIdle()
    {
        WorkbenchEngine engine;
        QSignalSpy idle(&engine, &WorkbenchEngine::idle);
        QSignalSpy finished(&engine, &WorkbenchEngine::jobFinished);
        // Without a pair both fail at once; idle follows the second only.
        const int a = engine.loadTask({}, 64);
        const int b = engine.previewReduction(0, QStringLiteral("q"), QStringLiteral("submatrix"), 1);
        QVERIFY(idle.wait(30000));
        QCOMPARE(finished.count(), 2);
        QCOMPARE(idle.count(), 1);
        QCOMPARE(engine.pendingJobs(), 0);
        QCOMPARE(engine.job(a)->state(), JobState::Failed);
        QVERIFY2(engine.job(b)->outcome().get().message.contains(QLatin1String("no model pair")),
                 qPrintable(engine.job(b)->outcome().get().message));
        QVERIFY(waitForIdle(engine, 1000));
        QCOMPARE(idle.count(), 1);   // nothing ran since
    }

    void aBurstOfPreviewsDrawsOnlyTheLast()
    {
        if (!QFileInfo::exists(demoDir() + QStringLiteral("/teacher/config.json")))
            QSKIP("the demo pair is missing");
        WorkbenchEngine engine;
        test::JobOutcomes outcomes(engine);
        QList<ReductionPreview> previews;
        QObject::connect(&engine, &WorkbenchEngine::reductionPreviewed, &engine,
                         [&previews](const ReductionPreview &p) { previews << p; });
        QCOMPARE(outcomes.wait(engine.loadPair(demoDir() + QStringLiteral("/teacher"),
                                               demoDir() + QStringLiteral("/student")))
                     .state,
                 JobState::Done);
        QCOMPARE(outcomes.wait(engine.loadTask({demoDir() + QStringLiteral("/tasks/transfer_seeds.jsonl"),
                                                demoDir() + QStringLiteral("/tasks/transfer_train.jsonl"),
                                                demoDir() + QStringLiteral("/tasks/transfer_eval.jsonl"),
                                                QStringLiteral("exact-match")},
                                               96))
                     .state,
                 JobState::Done);
        SensitivityRequest request;
        request.similarity = false;
        const int scores = engine.computeSensitivity(request);
        // Queued behind the sensitivity job, as clicks through the layers would be.
        QList<int> burst;
        for (int layer = 0; layer < 4; ++layer)
            burst << engine.previewReduction(layer, QStringLiteral("up"), QStringLiteral("submatrix"), 1);
        QVERIFY(waitForIdle(engine, 300000));
        QCOMPARE(engine.job(scores)->state(), JobState::Done);
        for (int i = 0; i < 3; ++i) {
            const auto outcome = engine.job(burst[i])->outcome().get();
            QCOMPARE(outcome.state, JobState::Cancelled);
            QVERIFY(outcome.message.contains(QLatin1String("superseded")));
        }
        QCOMPARE(engine.job(burst[3])->state(), JobState::Done);
        QCOMPARE(previews.size(), 1);
        QCOMPARE(previews[0].teacherLayer, 3);
        QCOMPARE(previews[0].parameter, QStringLiteral("model.layers.3.mlp.up_proj.weight"));
    }
};

QTEST_GUILESS_MAIN(TestEngineJobs)
#include "test_engine_jobs.moc"
