// Writing the trained student: its adapters (PEFT layout) or the merged model.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "jobs/Progress.h"
#include "model/LoraAdapters.h"
#include "model/MergedModelFolder.h"

namespace nugget {

int WorkbenchEngine::exportAdapter(const QString &dir)
{
    return enqueue(tr("Export adapter to %1").arg(dir), [this, dir](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        job.target = dir;
        if (!state.trained || !state.lastRun)
            throw Error("no trained adapter yet: run injection and training first");
        exportRunAdapters(state.trained, *state.lastRun, dir.toStdString(), pair.student.folder);
        Q_EMIT logMessage({LogLevel::Info, tr("Adapter written to %1").arg(dir), dir});
    });
}

int WorkbenchEngine::exportMerged(const QString &dir)
{
    return enqueue(tr("Export merged model to %1").arg(dir), [this, dir](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        job.target = dir;
        if (!state.trained)
            throw Error("no trained student yet: run injection and training first");
        job.progress.checkCancelled();
        // The untouched student plus the run's adapter, merged in float32 and rounded once.
        MergedFolderOptions options;
        if (state.lastRun) {
            const auto adapter = runAdapterForBase(state.trained, *state.lastRun, pair.student.folder);
            writeMergedModelFolder(state.trained, pair.student.folder, &adapter, dir.toStdString(), options);
        } else {
            writeMergedModelFolder(state.trained, pair.student.folder, nullptr, dir.toStdString(), options);
        }
        Q_EMIT logMessage({LogLevel::Info, tr("Merged model written to %1").arg(dir), dir});
    });
}

} // namespace nugget
