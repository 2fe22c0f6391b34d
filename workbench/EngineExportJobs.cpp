// Writing the trained student: its adapters (PEFT layout) or the merged model.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "jobs/Progress.h"
#include "model/LoraAdapters.h"

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
        auto merged = mergedCopy(state.trained);
        job.progress.checkCancelled();
        SaveOptions save;
        save.tokenizerPath = pair.student.tokenizerPath;
        saveModelFolder(merged, dir.toStdString(), save);
        Q_EMIT logMessage({LogLevel::Info, tr("Merged model written to %1").arg(dir), dir});
    });
}

} // namespace nugget
