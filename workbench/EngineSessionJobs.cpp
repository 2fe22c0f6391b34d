// Saving the engine's state to a session file and opening one: scores (checked against
// the loaded models), the layer selection, the recipe and the runs.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "io/ModelFolderInfo.h"
#include "io/TensorStore.h"
#include "jobs/Progress.h"
#include "transfer/Pipeline.h"
#include "transfer/StreamedSensitivity.h"

#include <QFileInfo>

#include <torch/torch.h>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

int WorkbenchEngine::saveSession(const QString &path, const TransferRecipe &recipe,
                                 const std::vector<int64_t> &selection, const QString &selectionStrategy)
{
    return enqueue(
        tr("Save session %1").arg(QFileInfo(path).fileName()),
        [this, path, recipe, selection, selectionStrategy](JobContext &job) {
            auto &state = this->state();
            auto &pair = state.requirePair();
            job.target = path;
            auto session = Session::create(path.toStdString());
            job.progress.report(0.1, "hashing the inputs");
            session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
            job.progress.checkCancelled();
            if (state.teacherScores)
                storeSensitivity(session, Side::Teacher, *state.teacherScores, pair.teacher.config.numHiddenLayers);
            if (state.teacherOnDisk) {   // copied one parameter at a time
                const Session &from = *state.teacherOnDisk->session;
                const auto parameters = from.sensitivityParameters(Side::Teacher);
                for (size_t i = 0; i < parameters.size(); ++i) {
                    job.progress.checkCancelled();
                    session.writeSensitivity(Side::Teacher, parameters[i], from.readSensitivity(Side::Teacher, parameters[i]),
                                             defaultScoreStorage(pair.teacher.config));
                    job.progress.report(0.1 + 0.8 * double(i + 1) / double(parameters.size()),
                                        "teacher scores: " + parameters[i]);
                }
                const auto info = from.sensitivityInfo(Side::Teacher);
                session.setSensitivityInfo(Side::Teacher, info.metric, info.samples, info.computeDtype);
                const auto [totals, modules] = from.readLayerTotals(Side::Teacher);
                session.writeLayerTotals(Side::Teacher, totals, modules);
            }
            job.progress.checkCancelled();
            if (state.studentScores)
                storeSensitivity(session, Side::Student, *state.studentScores, pair.student.config.numHiddenLayers);
            // The layer selection and kept rows and columns of the last transfer run, as
            // `nugget-cli transfer` records them; else the selection on screen.
            if (state.lastRun && state.lastRun->extraction)
                writeExtractionRecord(session, *state.lastRun->extraction,
                                      reductionStructureName(state.lastRun->extraction->options.structure));
            else if (!selection.empty())
                session.writeSelection(selection, selectionStrategy.toStdString());
            for (const auto &run : state.runs)
                writeRunRecord(session, run);   // the layout nugget-cli writes
            job.progress.checkCancelled();
            session.commit();
            job.progress.report(1.0, "saved");
            Q_EMIT logMessage({LogLevel::Info, tr("Session saved to %1").arg(path), path});
        });
}

int WorkbenchEngine::openSession(const QString &path)
{
    return enqueue(tr("Open session %1").arg(QFileInfo(path).fileName()), [this, path](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        job.target = path;
        auto session = Session::openReadOnly(path.toStdString());
        // Scores only make sense for the model they were computed on: every scored
        // parameter must exist in the loaded model with the same shape.
        auto checked = [&](Side which, LoadedModel &model) -> std::optional<SensitivityMap> {
            const std::string side = sideName(which);
            if (!session.hasSensitivity(which))
                return std::nullopt;
            auto map = loadSensitivity(session, which);
            const auto parameters = model.model->named_parameters();
            for (const auto &[name, scores] : map.scores) {
                const auto *p = parameters.find(name);
                if (!p)
                    throw Error(path.toStdString() + ": the " + side + " scores name parameter " + name +
                                ", which the loaded " + side + " does not have (the session is for another model)");
                if (p->sizes() != scores.sizes())
                    throw Error(path.toStdString() + ": the " + side + " scores of " + name + " have shape " +
                                shapeText(scores.sizes().vec()) + " but the loaded " + side + "'s parameter is " +
                                shapeText(p->sizes().vec()) + " (the session is for another model)");
            }
            return map;
        };
        // A teacher kept on disk: its scores stay in the session, checked against the
        // checkpoint's tensors and read one parameter at a time.
        std::optional<EngineState::ScoresOnDisk> teacherOnDisk;
        std::optional<SensitivityMap> teacher;
        if (state.teacherMapped() && session.hasSensitivity(Side::Teacher)) {
            const auto weights = TensorStore::openFolder(pair.teacher.folder);
            for (const auto &name : session.sensitivityParameters(Side::Teacher)) {
                if (!weights.contains(name))
                    throw Error(path.toStdString() + ": the teacher scores name parameter " + name +
                                ", which the teacher's checkpoint does not have (the session is for another model)");
                const auto shape = weights.tensor(name).sizes().vec();
                const auto stored = session.sensitivityShape(Side::Teacher, name);
                if (stored != shape)
                    throw Error(path.toStdString() + ": the teacher scores of " + name + " have shape " +
                                shapeText(stored) + " but the teacher's tensor is " + shapeText(shape) +
                                " (the session is for another model)");
            }
            EngineState::ScoresOnDisk disk;
            const auto info = session.sensitivityInfo(Side::Teacher);
            disk.metric = parseSensitivityMetric(info.metric);
            disk.computeDtype = info.computeDtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
            disk.samples = info.samples;
            disk.cells = cellTotals(session, Side::Teacher, pair.teacher.config);
            teacherOnDisk = std::move(disk);
        } else {
            teacher = checked(Side::Teacher, pair.teacher);
        }
        auto student = checked(Side::Student, pair.student);
        SessionSummary summary;
        summary.path = path;
        if (session.hasRecipe())
            summary.recipe = session.recipe();
        if (session.hasSelection()) {
            summary.selection = session.readSelection();
            summary.selectionStrategy = qs(session.selectionStrategy());
        }
        for (const auto &name : session.runNames())
            summary.runs << qs(name);
        state.teacherScores = std::move(teacher);
        state.studentScores = std::move(student);
        state.teacherOnDisk.reset();
        if (teacherOnDisk) {
            teacherOnDisk->session = std::make_unique<Session>(std::move(session));
            state.teacherOnDisk = std::move(teacherOnDisk);
            const auto &disk = *state.teacherOnDisk;
            const int n = static_cast<int>(disk.samples);
            Q_EMIT sensitivityUpdated(scoreGrid(Side::Teacher, disk.metric, disk.computeDtype, disk.cells,
                                                pair.teacher.config, n, n, 0, true));
        }
        if (state.teacherScores) {
            const int n = static_cast<int>(state.teacherScores->samples);
            Q_EMIT sensitivityUpdated(
                scoreGrid(Side::Teacher, *state.teacherScores, pair.teacher.config, n, n, 0, true));
        }
        if (state.studentScores) {
            const int n = static_cast<int>(state.studentScores->samples);
            Q_EMIT sensitivityUpdated(
                scoreGrid(Side::Student, *state.studentScores, pair.student.config, n, n, 0, true));
        }
        Q_EMIT sessionOpened(summary);
    });
}

} // namespace nugget
