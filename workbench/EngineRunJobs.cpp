// Transfer runs, the controls (conditions x seeds with mean and spread) and evaluating
// the student as it is.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "jobs/Progress.h"
#include "transfer/Experiment.h"

#include <QElapsedTimer>

#include <cmath>

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
        state.runs.emplace_back(run, recipe.evalMetric);
        Q_EMIT runFinished(runSummary(run, name, recipe.evalMetric));
        Q_EMIT trainedModelChanged(static_cast<bool>(state.trained));
    });
}

int WorkbenchEngine::runControls(const TransferRecipe &recipe, const std::vector<quint64> &seeds, bool includeVanilla)
{
    return enqueue(tr("Controls (%1 seeds)").arg(seeds.size()), [this, recipe, seeds, includeVanilla](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        state.requireTask();
        const auto teacher = state.teacherSource();
        QElapsedTimer clock;
        clock.start();
        ControlsSummary summary;
        summary.metric = qs(recipe.evalMetric);
        auto conditions = ExperimentRecipe::defaultConditions();
        if (!includeVanilla)
            conditions.erase(conditions.begin());
        const double runs = double(conditions.size() * seeds.size());
        int done = 0;
        Progress &outer = job.progress;
        for (const auto &condition : conditions) {
            ConditionResult result;
            result.name = qs(condition.name);
            for (const auto seed : seeds) {
                auto json = recipe.toJson();
                for (auto it = condition.overrides.begin(); it != condition.overrides.end(); ++it)
                    json[it.key()] = it.value();
                json[QStringLiteral("seed")] = static_cast<qint64>(seed);
                const auto runRecipe = TransferRecipe::fromJson(json, "control " + condition.name);
                const auto name = QStringLiteral("%1-seed%2").arg(result.name).arg(seed);
                if (outer.isCancelled())
                    throw Cancelled();
                // The run reports its own fraction; scale it into this job's.
                outer.setReporter([&job, done, runs](double f, const std::string &message) {
                    job.report((done + f) / runs, message);
                });
                RunCallbacks callbacks;
                callbacks.onStep = [this, &job, name](const TrainingStep &step) {
                    if (job.results.due(step.step == step.totalSteps))
                        Q_EMIT trainingProgressed(trainingProgress(name, step));
                };
                auto run = runCondition(runRecipe, name.toStdString(), pair, &teacher, state.train, state.eval, outer,
                                        callbacks);
                result.scores.push_back(run.evaluation.score);
                state.runs.emplace_back(run, runRecipe.evalMetric);
                Q_EMIT runFinished(runSummary(run, result.name, runRecipe.evalMetric));
                ++done;
            }
            double mean = 0;
            for (const auto s : result.scores)
                mean += s;
            mean /= double(result.scores.size());
            double variance = 0;
            for (const auto s : result.scores)
                variance += (s - mean) * (s - mean);
            result.mean = mean;
            result.spread = result.scores.size() > 1 ? std::sqrt(variance / double(result.scores.size() - 1)) : 0.0;
            summary.conditions.append(result);
        }
        summary.seconds = double(clock.elapsed()) / 1000.0;
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
        run.evaluation = evaluateForRecipe(recipe, model, *pair.tokenizer, state.eval, job.progress);
        run.seconds = double(clock.elapsed()) / 1000.0;
        Q_EMIT runFinished(runSummary(run, qs(run.name), recipe.evalMetric));
    });
}

} // namespace nugget
