// Sensitivity of the teacher (and optionally the student), then the teacher x student
// layer similarity. A teacher kept on disk streams its scores into a session file.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "io/ModelFolderInfo.h"
#include "io/TensorStore.h"
#include "jobs/Progress.h"
#include "transfer/LayerSimilarity.h"
#include "transfer/Pipeline.h"
#include "transfer/StreamedSensitivity.h"

#include <QDir>
#include <QFileInfo>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

int WorkbenchEngine::computeSensitivity(const SensitivityRequest &request)
{
    return enqueue(tr("Sensitivity (%1)").arg(request.metric), [this, request](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        state.requireTask();
        job.target = QStringLiteral("settings/metric");
        SensitivitySettings settings;
        settings.metric = parseSensitivityMetric(request.metric.toStdString());
        settings.maxLength = request.maxLength;
        settings.device = pair.student.model->device();   // the teacher may have no model in memory
        const auto device = settings.device;
        const int n = static_cast<int>(state.seedSamples.size());
        // The core's one rule (planSensitivity), as nugget-cli applies it: a model held in
        // memory is scored in memory (its partial sums feed the heatmap after every
        // sample) unless the request streams it or it is too large for memory.
        auto plan = [&](const LoadedModel &model, Side side) {
            SensitivityChoices choices;
            if (request.streamed)
                choices.streamed = true;
            choices.computeDtype = request.computeDtype.toStdString();
            choices.modelLoaded = static_cast<bool>(model.model);
            const auto planned = planSensitivity(model.config, device, choices);
            Q_EMIT logMessage({LogLevel::Info, tr("%1 sensitivity: %2").arg(QLatin1String(sideName(side)), qs(planned.summary)), {}});
            return planned;
        };
        auto score = [&](LoadedModel &model, Side side) {
            const auto &config = model.config;
            Throttle &throttle = job.results;
            const auto planned = plan(model, side);
            SensitivityMap map;
            map.metric = settings.metric;
            map.computeDtype = planned.computeDtype;
            // Streamed, scores arrive per parameter from the top layer down: the heatmap
            // fills in layer by layer. In memory, they arrive as partial sums per sample.
            auto result = scoreIntoSession(
                nullptr, side, model, state.seedSamples, settings, planned, job.progress,
                [&](const std::string &name, const at::Tensor &scores) {
                    if (!planned.streamed)
                        return;
                    map.scores[name] = scores.to(at::kCPU);
                    if (throttle.due())
                        Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, false));
                },
                [&](const SensitivityProgress &p) {
                    job.progress.report(double(p.sample) / double(p.samples),
                                        std::string(sideName(side)) + " sample " + std::to_string(p.sample) + "/" +
                                            std::to_string(p.samples));
                    const bool last = p.sample == p.samples;
                    if (!last && throttle.due())
                        Q_EMIT sensitivityUpdated(
                            scoreGrid(side, *p.map, config, int(p.sample), int(p.samples), p.loss, false));
                });
            if (result.map)
                map = std::move(*result.map);
            map.samples = result.samples;
            Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, true));
            return map;
        };
        // A teacher kept on disk: its scores stream into a session file in a scratch
        // folder; only each parameter's total stays in memory, for the grid.
        auto scoreOnDisk = [&] {
            const auto &config = pair.teacher.config;
            EngineState::ScoresOnDisk disk;
            const QString temp = QDir::tempPath();
            disk.scratch = std::make_unique<QTemporaryDir>(QDir(temp).filePath(QStringLiteral("nugget-scores-XXXXXX")));
            if (!disk.scratch->isValid())
                throw Error(temp.toStdString() + ": cannot create a folder for the teacher's scores: " +
                            disk.scratch->errorString().toStdString());
            const auto path = disk.scratch->filePath(QStringLiteral("teacher-scores.h5")).toStdString();
            disk.metric = settings.metric;
            {
                auto session = Session::create(path);
                const auto planned = plan(pair.teacher, Side::Teacher);
                disk.computeDtype = planned.computeDtype;
                const auto result = scoreIntoSession(
                    &session, Side::Teacher, pair.teacher, state.seedSamples, settings, planned, job.progress,
                    [&](const std::string &name, const at::Tensor &scores) {
                        disk.cells[name] = cellTotal(scores);
                        if (job.results.due())
                            Q_EMIT sensitivityUpdated(scoreGrid(Side::Teacher, disk.metric,
                                                                disk.computeDtype, disk.cells, config, n, n, 0, false));
                    });
                session.commit();
                disk.samples = result.samples;
            }
            disk.session = std::make_unique<Session>(Session::openReadOnly(path));
            Q_EMIT logMessage({LogLevel::Info,
                               tr("Teacher scores kept in %1 (%2) until the pair or the task changes; "
                                  "File > Save Session As keeps a copy")
                                   .arg(qs(path), qs(byteSizeText(double(QFileInfo(qs(path)).size())))),
                               qs(path)});
            Q_EMIT sensitivityUpdated(scoreGrid(Side::Teacher, disk.metric, disk.computeDtype, disk.cells,
                                                config, n, n, 0, true));
            return disk;
        };
        if (state.teacherMapped())
            state.teacherOnDisk = scoreOnDisk();   // replaced only when complete
        else
            state.teacherScores = score(pair.teacher, Side::Teacher);
        if (request.includeStudent)
            state.studentScores = score(pair.student, Side::Student);
        if (request.similarity) {
            job.progress.report(0, "layer similarity");
            const auto onRow = [&](int64_t row, const at::Tensor &partial) {
                if (row + 1 < partial.size(0) && job.results.due())
                    Q_EMIT similarityUpdated(similarityGrid(partial, false));
            };
            constexpr int64_t maxTokens = 1024;
            at::Tensor matrix;
            if (state.teacherMapped()) {
                // The teacher's layers one at a time from the mapped checkpoint.
                const auto &config = pair.teacher.config;
                const auto computeDtype = state.teacherOnDisk ? state.teacherOnDisk->computeDtype
                                                              : planSensitivity(config, device, {}).computeDtype;
                const auto weights = TensorStore::openFolder(pair.teacher.folder);
                matrix = layerSimilarity(
                    config,
                    [&](const std::function<void(int64_t, const at::Tensor &)> &onLayer) {
                        streamedLayerStates(config, weights, state.seedSamples, maxTokens, device,
                                            computeDtype, job.progress, onLayer);
                    },
                    pair.student.model, state.seedSamples, job.progress, maxTokens, onRow);
            } else {
                matrix = layerSimilarity(pair.teacher.model, pair.student.model, state.seedSamples, job.progress,
                                         maxTokens, onRow);
            }
            state.similarity = matrix;
            Q_EMIT similarityUpdated(similarityGrid(matrix, true));
        }
    });
}

} // namespace nugget
