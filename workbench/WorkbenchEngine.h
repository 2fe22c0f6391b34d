#pragma once
// The workbench's compute engine. Every request (load, score, align, preview, run,
// save, export) becomes a job queued on one compute thread that owns the models and the
// torch device; the caller's thread never waits for it. Results come back as signals
// carrying plain values (EngineResults.h). Live results (sensitivity after each seed
// sample, similarity rows, training steps, progress) are coalesced on the compute thread
// to at most one every updateIntervalMs(), with the final state always delivered.
// Cancelling a job (or destroying the engine) stops it at the next sample or
// micro-batch; outputs are written to temporary files and renamed only when complete.

#include "EngineResults.h"

#include <QObject>

#include <functional>
#include <memory>
#include <vector>

namespace nugget {

struct TransferRecipe;

struct SensitivityRequest
{
    QString metric = QStringLiteral("taylor");   // taylor | fisher | magnitude
    int maxLength = 256;                         // tokens per seed sample
    bool includeStudent = false;                 // also score the student
    bool similarity = true;                      // then the teacher x student layer CKA
    // Score layer by layer from the mapped weights (core/transfer/StreamedSensitivity);
    // automatic for a model whose float32 size exceeds half of this machine's memory.
    bool streamed = false;
    // Of the streamed path: float32, bfloat16 or auto (bfloat16 where the device runs it
    // at least twice as fast); empty: auto for a model too large for memory, else float32.
    QString computeDtype;
};

class WorkbenchEngine : public QObject
{
    Q_OBJECT

public:
    explicit WorkbenchEngine(QObject *parent = nullptr);
    // Cancels every job and joins the compute thread.
    ~WorkbenchEngine() override;

    static constexpr int updateIntervalMs() { return 40; }   // about 25 updates a second

    // Each returns the job's id at once. A failing job reports through jobFinished
    // (and logMessage) and leaves the engine's previous state (models, task, scores) intact.
    int loadPair(const QString &teacherDir, const QString &studentDir);
    int loadTask(const TaskFiles &files, int maxLength);
    int computeSensitivity(const SensitivityRequest &request);
    // teacherLayer -1 with module "embed"/"head" for the matrices outside the layers.
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
    struct Job;
    struct State;
    class Worker;
    int enqueue(const QString &title, std::function<void(Job &)> work);

    std::unique_ptr<Worker> m_worker;
};

} // namespace nugget
