// Sensitivity of the teacher (and optionally the student), then the teacher x student
// layer similarity. A teacher kept on disk streams its scores into a session file.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "bench/MachineLimits.h"
#include "io/ModelFolderInfo.h"
#include "io/TensorStore.h"
#include "jobs/Progress.h"
#include "model/MemoryBudget.h"
#include "transfer/LayerSimilarity.h"
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
        SensitivityOptions options;
        options.metric = parseSensitivityMetric(request.metric.toStdString());
        options.maxLength = request.maxLength;
        const auto device = pair.student.model->device();   // the teacher may have no model in memory
        const int n = static_cast<int>(state.seedSamples.size());
        auto streamedOptions = [&](const ModelConfig &config, const QString &side) {
            StreamedSensitivityOptions streamed;
            streamed.metric = options.metric;
            streamed.maxLength = options.maxLength;
            streamed.device = device;
            streamed.computeDtype = request.computeDtype.isEmpty()
                                        ? defaultComputeDtype(config, device)
                                        : parseComputeDtype(request.computeDtype.toStdString(), device);
            if (streamed.computeDtype != at::kFloat)
                Q_EMIT logMessage({LogLevel::Info,
                                   tr("%1 sensitivity computes in bfloat16 (this device runs it faster; scores "
                                      "are summed in float32)")
                                       .arg(side),
                                   {}});
            return streamed;
        };
        auto score = [&](LoadedModel &model, const QString &side) {
            const auto &config = model.config;
            Throttle &throttle = job.results;
            // The same rule as nugget-cli sensitivity: above half of the memory, the
            // in-memory pass (with a gradient for every weight) would not fit.
            if (request.streamed || tooLargeForMemory(config)) {
                SensitivityMap map;
                map.metric = options.metric;
                const auto streamed = streamedOptions(config, side);
                map.computeDtype = streamed.computeDtype;
                // Scores arrive per parameter, from the top layer down: the heatmap fills
                // in layer by layer.
                const auto result = computeStreamedSensitivity(
                    config, TensorStore::openFolder(model.folder), state.seedSamples, streamed, job.progress,
                    [&](const std::string &name, const at::Tensor &scores) {
                        map.scores[name] = scores.to(at::kCPU);
                        if (throttle.due())
                            Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, false));
                    });
                map.samples = result.samples;
                Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, true));
                return map;
            }
            auto map = nugget::computeSensitivity(
                model.model, state.seedSamples, options, job.progress, [&](const SensitivityProgress &p) {
                    job.progress.report(double(p.sample) / double(p.samples),
                                        side.toStdString() + " sample " + std::to_string(p.sample) + "/" +
                                            std::to_string(p.samples));
                    const bool last = p.sample == p.samples;
                    if (!last && throttle.due())
                        Q_EMIT sensitivityUpdated(
                            scoreGrid(side, *p.map, config, int(p.sample), int(p.samples), p.loss, false));
                });
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
            disk.metric = options.metric;
            {
                auto session = Session::create(path);
                const auto storage = defaultScoreStorage(config);
                const auto streamed = streamedOptions(config, QStringLiteral("teacher"));
                disk.computeDtype = streamed.computeDtype;
                const auto result = computeStreamedSensitivity(
                    config, TensorStore::openFolder(pair.teacher.folder), state.seedSamples, streamed, job.progress,
                    [&](const std::string &name, const at::Tensor &scores) {
                        session.writeSensitivity("teacher", name, scores, storage);
                        disk.cells[name] = cellTotal(scores);
                        if (job.results.due())
                            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("teacher"), disk.metric,
                                                                disk.computeDtype, disk.cells, config, n, n, 0, false));
                    });
                session.setSensitivityInfo("teacher", sensitivityMetricName(options.metric), result.samples,
                                           computeDtypeName(streamed.computeDtype));
                session.writeLayerTotals("teacher", result.layerModuleTotals, layerModuleNames());
                session.commit();
                disk.samples = result.samples;
            }
            disk.session = std::make_unique<Session>(Session::openReadOnly(path));
            Q_EMIT logMessage({LogLevel::Info,
                               tr("Teacher scores kept in %1 (%2) until the pair or the task changes; "
                                  "File > Save Session As keeps a copy")
                                   .arg(qs(path), qs(byteSizeText(double(QFileInfo(qs(path)).size())))),
                               qs(path)});
            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("teacher"), disk.metric, disk.computeDtype, disk.cells,
                                                config, n, n, 0, true));
            return disk;
        };
        if (state.teacherMapped())
            state.teacherOnDisk = scoreOnDisk();   // replaced only when complete
        else
            state.teacherScores = score(pair.teacher, QStringLiteral("teacher"));
        if (request.includeStudent)
            state.studentScores = score(pair.student, QStringLiteral("student"));
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
                const auto layerOptions = streamedOptions(config, QStringLiteral("teacher"));
                const auto weights = TensorStore::openFolder(pair.teacher.folder);
                matrix = layerSimilarity(
                    config,
                    [&](const std::function<void(int64_t, const at::Tensor &)> &onLayer) {
                        streamedLayerStates(config, weights, state.seedSamples, maxTokens, device,
                                            layerOptions.computeDtype, job.progress, onLayer);
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
