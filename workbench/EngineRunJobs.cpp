// Transfer runs, the controls (conditions x seeds with mean and spread) and evaluating
// the student as it is.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "jobs/Progress.h"
#include "transfer/Pipeline.h"

#include <QElapsedTimer>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

int WorkbenchEngine::runTransfer(const TransferRecipe &recipe, const QString &name)
{
    return enqueue(tr("Run %1").arg(name), [this, recipe, name](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        state.requireTask();
        std::optional<TeacherSource> teacher;
        if (recipe.init == "transfer")
            teacher = state.teacherSource();
        RunCallbacks callbacks;
        callbacks.log = [this](const std::string &line) { Q_EMIT logMessage({LogLevel::Info, qs(line), {}}); };
        callbacks.onStep = [this, &job, name](const TrainingStep &step) {
            if (job.results.due(step.step == step.totalSteps))
                Q_EMIT trainingProgressed(trainingProgress(name, step));
        };
        LlamaForCausalLM trained{nullptr};
        auto run = runCondition(recipe, name.toStdString(), pair, teacher ? &*teacher : nullptr, state.train,
                                state.eval, job.progress, callbacks, &trained);
        if (recipe.init != "none") {
            state.trained = trained;
            state.lastRun = run;
        }
        state.runs.push_back(run);
        Q_EMIT runFinished(runSummary(run, name, recipe.evalMetric));
        Q_EMIT trainedModelChanged(static_cast<bool>(state.trained));
    });
}

namespace {

// The init of the runs of `condition` (the baselines are told apart by it).
std::string recipeInitOf(const std::vector<RunReport> &runs, const std::string &condition)
{
    for (const auto &run : runs)
        if (run.condition == condition)
            return run.init;
    return {};
}

} // namespace

int WorkbenchEngine::runControls(const TransferRecipe &recipe, const std::vector<quint64> &seeds, bool includeVanilla)
{
    return enqueue(tr("Controls (%1 seeds)").arg(seeds.size()), [this, recipe, seeds, includeVanilla](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        state.requireTask();
        const auto teacher = state.teacherSource();
        auto conditions = defaultConditions();
        if (!includeVanilla)
            conditions.erase(conditions.begin());
        // The core's conditions x seeds, as `nugget-cli experiment` runs them.
        ConditionCallbacks callbacks;
        callbacks.log = [this](const std::string &line) { Q_EMIT logMessage({LogLevel::Info, qs(line), {}}); };
        callbacks.onStep = [this, &job](const std::string &name, const TrainingStep &step) {
            if (job.results.due(step.step == step.totalSteps))
                Q_EMIT trainingProgressed(trainingProgress(qs(name), step));
        };
        callbacks.onRun = [this, &state](const RunReport &run) {
            state.runs.push_back(run);
            state.runs.back().extraction.reset();   // the factors are large and no longer needed
            state.runs.back().initialAdapters.clear();
            Q_EMIT runFinished(runSummary(run, qs(run.condition), run.metric));
        };
        const std::vector<uint64_t> runSeeds(seeds.begin(), seeds.end());
        const auto result = runConditions(recipe, conditions, runSeeds, pair, &teacher, state.train, state.eval,
                                          job.progress, callbacks);
        ControlsSummary summary;
        summary.metric = qs(recipe.evalMetric);
        for (const auto &condition : result.conditions) {
            ConditionResult row;
            row.name = qs(condition.name);
            row.scores = condition.scores;
            row.mean = condition.mean;
            row.spread = condition.standardDeviation;
            for (const auto &comparison : result.comparisons) {
                if (comparison.condition != condition.name)
                    continue;
                const auto init = recipeInitOf(result.runs, comparison.baseline);
                const bool vanilla = init == "none";
                (vanilla ? row.versusVanilla : row.versusLora) = qs(comparisonSummary(comparison));
                (vanilla ? row.versusVanillaBrief : row.versusLoraBrief) = qs(comparisonBrief(comparison));
            }
            summary.conditions.append(row);
        }
        summary.seconds = result.seconds;
        Q_EMIT controlsFinished(summary);
    });
}

int WorkbenchEngine::evaluateStudent(const TransferRecipe &recipe)
{
    return enqueue(tr("Evaluate the student"), [this, recipe](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        state.requireTask();
        const bool trained = static_cast<bool>(state.trained);
        auto &model = trained ? state.trained : pair.student.model;
        QElapsedTimer clock;
        clock.start();
        RunReport run;
        run.name = trained ? "trained student" : "student as loaded";
        run.init = trained && state.lastRun ? state.lastRun->init : "none";
        run.condition = run.name;
        run.metric = recipe.evalMetric;
        run.evaluation = evaluateForRecipe(recipe, model, *pair.tokenizer, state.eval, job.progress);
        run.seconds = double(clock.elapsed()) / 1000.0;
        // Kept like every run, so that a saved session holds its item records.
        state.runs.push_back(run);
        Q_EMIT runFinished(runSummary(run, qs(run.name), recipe.evalMetric));
    });
}

} // namespace nugget
