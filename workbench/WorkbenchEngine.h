#pragma once
// The workbench's compute engine. Every request (load, score, align, preview, run,
// save, export) becomes a job queued on one compute thread (JobQueue.h) that owns the
// models and the torch device; the caller's thread never waits for it. Results come
// back as signals carrying plain values (EngineResults.h). Live results (sensitivity
// after each seed sample, similarity rows, training steps, progress) are coalesced on
// the compute thread to at most one every updateIntervalMs(), with the final state
// always delivered. Cancelling a job (or destroying the engine) stops it at the next
// sample or micro-batch; outputs are written to temporary files and renamed only when
// complete. A newer dimension-map preview supersedes one still queued.
//
// The jobs live one family per file: EnginePairJobs.cpp (pair, task),
// EngineSensitivityJobs.cpp, EnginePreviewJobs.cpp, EngineRunJobs.cpp (runs, controls,
// evaluation), EngineSessionJobs.cpp (save, open), EngineExportJobs.cpp.

#include "EngineRequests.h"
#include "EngineResults.h"
#include "JobQueue.h"

#include <QObject>

#include <functional>
#include <memory>
#include <vector>

namespace nugget {

struct EngineState;
struct TransferRecipe;

class WorkbenchEngine : public QObject
{
    Q_OBJECT

public:
    explicit WorkbenchEngine(QObject *parent = nullptr);
    // Cancels every job and joins the compute thread.
    ~WorkbenchEngine() override;

    static constexpr int updateIntervalMs() { return 40; }   // about 25 updates a second

    // Each returns the job's id at once (follow it through job(id) or the job signals).
    // A failing job reports through jobFinished (and logMessage) and leaves the engine's
    // previous state (models, task, scores) intact.
    int loadPair(const QString &teacherDir, const QString &studentDir);
    int loadTask(const TaskFiles &files, int maxLength);
    int computeSensitivity(const SensitivityRequest &request);
    // teacherLayer -1 with module "embed"/"head" for the matrices outside the layers.
    // Supersedes a preview still queued: that one ends cancelled without running.
    int previewReduction(int teacherLayer, const QString &module, const QString &structure, quint64 seed,
                         int maxImageSide = 256);
    // Injection (as recipe.init says, with recipe.layers as the layer choice), LoRA
    // training and evaluation on a fresh copy of the student. The trained student is kept
    // for exportAdapter/exportMerged.
    int runTransfer(const TransferRecipe &recipe, const QString &name);
    // The controls with the same budget: plain LoRA, the method, the method on a random
    // teacher sub-matrix, the student's own SVD (and the untouched student), per seed.
    int runControls(const TransferRecipe &recipe, const std::vector<quint64> &seeds, bool includeVanilla = true);
    int evaluateStudent(const TransferRecipe &recipe);
    int saveSession(const QString &path, const TransferRecipe &recipe, const std::vector<int64_t> &selection,
                    const QString &selectionStrategy);
    int openSession(const QString &path);
    int exportAdapter(const QString &dir);
    int exportMerged(const QString &dir);

    // The job with this id, queued, running or finished: its state, a future of its
    // outcome, cancel. Null for an id this engine never returned.
    std::shared_ptr<JobTicket> job(int id) const;
    void cancel(int job);
    void cancelAll();
    // Jobs queued or running.
    int pendingJobs() const;

Q_SIGNALS:
    void jobQueued(int job, const QString &title);
    void jobStarted(int job);
    void jobProgress(int job, double fraction, const QString &message);
    void jobFinished(int job, const nugget::JobOutcome &outcome);
    void logMessage(const nugget::LogEntry &entry);
    // Nothing is queued or running, and every signal the finished jobs sent has been
    // delivered to receivers on this engine's thread. Emitted on this engine's thread
    // each time the queue drains.
    void idle();

    void pairLoaded(const nugget::PairSummary &pair);
    void taskLoaded(const nugget::TaskSummary &task);
    void sensitivityUpdated(const nugget::ScoreGrid &grid);
    void similarityUpdated(const nugget::SimilarityGrid &grid);
    void reductionPreviewed(const nugget::ReductionPreview &preview);
    void trainingProgressed(const nugget::TrainingProgress &progress);
    void runFinished(const nugget::RunSummary &run);
    void controlsFinished(const nugget::ControlsSummary &summary);
    void sessionOpened(const nugget::SessionSummary &session);
    void trainedModelChanged(bool available);

private:
    // `kind`: a newer job of the same kind supersedes this one while it is queued.
    int enqueue(const QString &title, std::function<void(JobContext &)> work, const QString &kind = {});
    EngineState &state() { return *m_state; }

    std::unique_ptr<EngineState> m_state;   // declared first: outlives the queue's thread
    std::unique_ptr<JobQueue> m_queue;
};

} // namespace nugget
