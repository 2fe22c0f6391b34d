#include "WorkbenchEngine.h"

#include "bench/MachineLimits.h"
#include "io/ModelFolderInfo.h"
#include "io/Session.h"
#include "model/LoraAdapters.h"
#include "text/Tokenizer.h"
#include "transfer/Experiment.h"
#include "transfer/LayerSimilarity.h"
#include "transfer/StreamedSensitivity.h"
#include "transfer/TransferRecipe.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QThread>

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <mutex>
#include <new>
#include <optional>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

// At most one delivery per interval; the caller forces the last one.
class Throttle
{
public:
    bool due(bool force = false)
    {
        if (force || !m_timer.isValid() || m_timer.elapsed() >= WorkbenchEngine::updateIntervalMs()) {
            m_timer.restart();
            return true;
        }
        return false;
    }

private:
    QElapsedTimer m_timer;
};

const std::vector<TargetModule> &gridModules()
{
    static const std::vector<TargetModule> modules{TargetModule::Q,    TargetModule::K,  TargetModule::V,
                                                   TargetModule::O,    TargetModule::Gate, TargetModule::Up,
                                                   TargetModule::Down};
    return modules;
}

// Parameter name -> (sum of its scores, number of weights): all a score grid needs.
using CellTotals = std::map<std::string, std::pair<double, double>>;

CellTotals cellTotals(const SensitivityMap &map)
{
    CellTotals cells;
    for (const auto &[name, scores] : map.scores)
        cells[name] = {scores.sum(at::kDouble).item<double>(), static_cast<double>(scores.numel())};
    return cells;
}

// The cells of scores kept in a session: the per-layer module totals it records (norms
// included), and the embedding and head read once each (they are outside the layers).
CellTotals cellTotals(const Session &session, const std::string &side, const ModelConfig &config)
{
    CellTotals cells;
    const auto [totals, modules] = session.readLayerTotals(side);
    if (totals.size(0) != config.numHiddenLayers)
        throw Error(session.path() + ": the " + side + " layer totals cover " + std::to_string(totals.size(0)) +
                    " layers but the model has " + std::to_string(config.numHiddenLayers));
    for (int64_t l = 0; l < config.numHiddenLayers; ++l) {
        const auto prefix = "model.layers." + std::to_string(l) + ".";
        for (size_t column = 0; column < modules.size(); ++column) {
            const double total = totals[l][static_cast<int64_t>(column)].item<double>();
            if (modules[column] == "input_norm" || modules[column] == "post_norm") {
                cells[prefix + (modules[column] == "input_norm" ? "input_layernorm.weight"
                                                                : "post_attention_layernorm.weight")] =
                    {total, static_cast<double>(config.hiddenSize)};
                continue;
            }
            const auto module = parseTargetModule(modules[column]);
            const auto shape = targetShape(config, module);
            cells[targetParameterName(module, l)] = {total, static_cast<double>(shape[0] * shape[1])};
        }
    }
    const auto stored = session.sensitivityParameters(side);
    for (const auto module : {TargetModule::Embed, TargetModule::Head}) {
        const auto name = targetParameterName(module, 0);
        if (std::find(stored.begin(), stored.end(), name) == stored.end())
            continue;   // the head of a tied model
        const auto scores = session.readSensitivity(side, name);
        cells[name] = {scores.sum(at::kDouble).item<double>(), static_cast<double>(scores.numel())};
    }
    return cells;
}

// Totals and weight counts per layer and module (plus the embedding and head rows) from
// a partial or complete set of cells.
ScoreGrid scoreGrid(const QString &side, SensitivityMetric metric, at::ScalarType computeDtype, const CellTotals &cells,
                    const ModelConfig &config, int sample, int samples, double loss, bool complete)
{
    ScoreGrid grid;
    grid.side = side;
    grid.metric = qs(sensitivityMetricName(metric));
    grid.computeDtype = qs(computeDtypeName(computeDtype));
    grid.sample = sample;
    grid.samples = samples;
    grid.loss = loss;
    grid.complete = complete;
    for (const auto module : gridModules())
        grid.columnLabels << qs(targetModuleKey(module));
    const auto layers = config.numHiddenLayers;
    grid.rowLabels << QStringLiteral("embedding");
    for (int64_t l = 0; l < layers; ++l)
        grid.rowLabels << QStringLiteral("layer %1").arg(l);
    grid.rowLabels << QStringLiteral("head");
    const auto columns = static_cast<size_t>(grid.columnLabels.size());
    grid.totals.assign(static_cast<size_t>(grid.rowLabels.size()) * columns, std::nan(""));
    grid.counts.assign(grid.totals.size(), 0);
    auto fillRow = [&](size_t row, const std::string &parameter) {
        const auto found = cells.find(parameter);
        if (found == cells.end())
            return;
        for (size_t c = 0; c < columns; ++c) {
            grid.totals[row * columns + c] = found->second.first;
            grid.counts[row * columns + c] = found->second.second;
        }
    };
    fillRow(0, targetParameterName(TargetModule::Embed, 0));
    fillRow(static_cast<size_t>(layers) + 1, targetParameterName(TargetModule::Head, 0));   // absent when tied
    for (int64_t l = 0; l < layers; ++l)
        for (size_t c = 0; c < columns; ++c) {
            const auto found = cells.find(targetParameterName(gridModules()[c], l));
            if (found == cells.end())
                continue;
            const auto cell = static_cast<size_t>(l + 1) * columns + c;
            grid.totals[cell] = found->second.first;
            grid.counts[cell] = found->second.second;
        }
    // Every parameter of a layer counts toward its total (norms included).
    grid.layerTotals.assign(static_cast<size_t>(layers), 0.0);
    for (int64_t l = 0; l < layers; ++l) {
        const auto prefix = "model.layers." + std::to_string(l) + ".";
        for (auto it = cells.lower_bound(prefix); it != cells.end() && it->first.compare(0, prefix.size(), prefix) == 0;
             ++it)
            grid.layerTotals[static_cast<size_t>(l)] += it->second.first;
    }
    return grid;
}

ScoreGrid scoreGrid(const QString &side, const SensitivityMap &map, const ModelConfig &config, int sample,
                    int samples, double loss, bool complete)
{
    return scoreGrid(side, map.metric, map.computeDtype, cellTotals(map), config, sample, samples, loss, complete);
}

SimilarityGrid similarityGrid(const at::Tensor &matrix, bool complete)
{
    SimilarityGrid grid;
    grid.teacherLayers = static_cast<int>(matrix.size(0));
    grid.studentLayers = static_cast<int>(matrix.size(1));
    auto flat = matrix.contiguous().to(at::kDouble);
    grid.values.assign(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    grid.complete = complete;
    return grid;
}

RunSummary runSummary(const RunReport &run, const QString &condition, const std::string &metric)
{
    RunSummary summary;
    summary.name = qs(run.name);
    summary.condition = condition;
    summary.init = qs(run.init);
    summary.seed = run.seed;
    summary.metric = qs(metric);
    summary.score = run.evaluation.score;
    summary.items = run.evaluation.items;
    summary.correct = run.evaluation.correct;
    summary.seconds = run.seconds;
    for (const auto &step : run.training.steps) {
        summary.steps.push_back(static_cast<double>(step.step));
        summary.losses.push_back(step.loss);
    }
    if (run.extraction) {
        QStringList pairs;
        const auto &layers = run.extraction->selection.teacherLayers;
        for (size_t i = 0; i < layers.size(); ++i)
            pairs << QStringLiteral("%1→%2").arg(layers[i]).arg(i);
        summary.extraction = pairs.join(QStringLiteral(", "));
    }
    return summary;
}

// Error text for failures that are not nugget::Error: allocation failures become an
// out-of-memory message instead of ending the program.
QString failureText(const std::exception &e)
{
    const QString what = QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 0);
    if (what.contains(QLatin1String("alloc"), Qt::CaseInsensitive) ||
        what.contains(QLatin1String("out of memory"), Qt::CaseInsensitive))
        return QStringLiteral("out of memory: %1").arg(what);
    return what;
}

} // namespace

struct WorkbenchEngine::Job
{
    int id = 0;
    QString title;
    std::shared_ptr<Progress> progress;
    Throttle results;
    QString target;   // what a failure points at (file or setting)
    std::function<void(double, const std::string &)> report;   // throttled jobProgress
};

struct WorkbenchEngine::State
{
    std::optional<ModelPair> pair;
    TaskFiles files;
    int maxLength = 256;
    std::vector<ChatExample> seeds, train, eval;
    std::vector<SeedSample> seedSamples;
    std::optional<SensitivityMap> teacherScores, studentScores;
    // The teacher's scores in a session file, read one parameter at a time: a teacher
    // kept on disk has float32 scores as large as its float32 weights.
    struct ScoresOnDisk
    {
        std::unique_ptr<QTemporaryDir> scratch;   // holds the file when computed here
        std::unique_ptr<Session> session;         // read-only
        CellTotals cells;
        SensitivityMetric metric = SensitivityMetric::Taylor;
        at::ScalarType computeDtype = at::kFloat;
        int64_t samples = 0;
    };
    std::optional<ScoresOnDisk> teacherOnDisk;
    std::optional<at::Tensor> similarity;
    LlamaForCausalLM trained{nullptr};
    std::optional<RunReport> lastRun;
    std::vector<std::pair<RunReport, std::string>> runs;   // for the session, with the metric

    ModelPair &requirePair()
    {
        if (!pair)
            throw Error("no model pair is loaded: open a teacher and a student first");
        return *pair;
    }
    void requireTask()
    {
        if (seedSamples.empty())
            throw Error("no task is loaded: choose the seed, training and evaluation files first");
    }
    // The teacher stays on disk (memory-mapped) when its float32 size exceeds half of
    // the memory; the student is always loaded (it is trained).
    bool teacherMapped() const { return pair && !pair->teacher.model; }
    void clearScores()
    {
        teacherScores.reset();
        teacherOnDisk.reset();
        studentScores.reset();
        similarity.reset();
    }
    void requireTeacherScores() const
    {
        if (!teacherScores && !teacherOnDisk)
            throw Error("the teacher has no sensitivity scores yet: compute them (or open a session) first");
    }
    at::Tensor teacherScore(const std::string &parameter) const
    {
        requireTeacherScores();
        return teacherOnDisk ? teacherOnDisk->session->readSensitivity("teacher", parameter)
                             : teacherScores->at(parameter);
    }
    // What the extraction reads: weights and scores, one matrix at a time when on disk.
    TeacherSource teacherSource()
    {
        requireTeacherScores();
        return teacherOnDisk ? teacherFromSession(pair->teacher.folder, *teacherOnDisk->session,
                                                  pair->teacher.config.numHiddenLayers)
                             : teacherInMemory(pair->teacher, *teacherScores);
    }
};

class WorkbenchEngine::Worker
{
public:
    Worker()
    {
        thread.setObjectName(QStringLiteral("nugget-compute"));
        context.moveToThread(&thread);
        thread.start();
    }
    ~Worker()
    {
        thread.quit();
        thread.wait();
    }

    QThread thread;
    QObject context;   // lives on the compute thread; queued jobs are posted to it
    State state;       // touched on the compute thread only
    mutable std::mutex mutex;
    std::map<int, std::shared_ptr<Progress>> jobs;   // queued or running
    int nextId = 1;
};

WorkbenchEngine::WorkbenchEngine(QObject *parent) : QObject(parent), m_worker(std::make_unique<Worker>())
{
    qRegisterMetaType<nugget::LogEntry>();
    qRegisterMetaType<nugget::JobOutcome>();
    qRegisterMetaType<nugget::PairSummary>();
    qRegisterMetaType<nugget::TaskSummary>();
    qRegisterMetaType<nugget::ScoreGrid>();
    qRegisterMetaType<nugget::SimilarityGrid>();
    qRegisterMetaType<nugget::ReductionPreview>();
    qRegisterMetaType<nugget::TrainingProgress>();
    qRegisterMetaType<nugget::RunSummary>();
    qRegisterMetaType<nugget::ControlsSummary>();
    qRegisterMetaType<nugget::SessionSummary>();
}

WorkbenchEngine::~WorkbenchEngine()
{
    cancelAll();
    // Join while m_worker is still set: jobs already queued run (cancelled at once) and
    // reach m_worker until the thread has stopped.
    m_worker->thread.quit();
    m_worker->thread.wait();
    m_worker.reset();
}

void WorkbenchEngine::cancel(int job)
{
    std::lock_guard<std::mutex> lock(m_worker->mutex);
    const auto found = m_worker->jobs.find(job);
    if (found != m_worker->jobs.end())
        found->second->cancel();
}

void WorkbenchEngine::cancelAll()
{
    std::lock_guard<std::mutex> lock(m_worker->mutex);
    for (auto &[id, progress] : m_worker->jobs)
        progress->cancel();
}

int WorkbenchEngine::pendingJobs() const
{
    std::lock_guard<std::mutex> lock(m_worker->mutex);
    return static_cast<int>(m_worker->jobs.size());
}

int WorkbenchEngine::enqueue(const QString &title, std::function<void(Job &)> work)
{
    auto progress = std::make_shared<Progress>();
    int id = 0;
    {
        std::lock_guard<std::mutex> lock(m_worker->mutex);
        id = m_worker->nextId++;
        m_worker->jobs[id] = progress;
    }
    Q_EMIT jobQueued(id, title);
    QMetaObject::invokeMethod(
        &m_worker->context,
        [this, id, title, progress, work = std::move(work)] {
            Job job;
            job.id = id;
            job.title = title;
            job.progress = progress;
            JobOutcome outcome;
            QElapsedTimer clock;
            clock.start();
            if (progress->isCancelled()) {
                outcome.state = JobState::Cancelled;
            } else {
                Q_EMIT jobStarted(id);
                Throttle reports;
                job.report = [this, id, &reports](double fraction, const std::string &message) {
                    if (reports.due(fraction >= 1.0))
                        Q_EMIT jobProgress(id, fraction, qs(message));
                };
                progress->setReporter(job.report);
                try {
                    work(job);
                    outcome.state = JobState::Done;
                } catch (const Cancelled &) {
                    outcome.state = JobState::Cancelled;
                } catch (const Error &e) {
                    outcome = {JobState::Failed, QString::fromUtf8(e.what()), 0};
                } catch (const std::bad_alloc &) {
                    outcome = {JobState::Failed, QStringLiteral("out of memory"), 0};
                } catch (const std::exception &e) {
                    outcome = {JobState::Failed, failureText(e), 0};
                }
                progress->setReporter({});
            }
            outcome.seconds = double(clock.elapsed()) / 1000.0;
            if (outcome.state == JobState::Failed)
                Q_EMIT logMessage({LogLevel::Error, QStringLiteral("%1: %2").arg(title, outcome.message), job.target});
            else if (outcome.state == JobState::Cancelled)
                Q_EMIT logMessage({LogLevel::Info, QStringLiteral("%1: cancelled").arg(title), {}});
            Q_EMIT jobFinished(id, outcome);
            // Only now is the job gone from pendingJobs(): its last signal is already posted.
            std::lock_guard<std::mutex> lock(m_worker->mutex);
            m_worker->jobs.erase(id);
        },
        Qt::QueuedConnection);
    return id;
}

int WorkbenchEngine::loadPair(const QString &teacherDir, const QString &studentDir)
{
    return enqueue(tr("Load %1 and %2").arg(QFileInfo(teacherDir).fileName(), QFileInfo(studentDir).fileName()),
                   [this, teacherDir, studentDir](Job &job) {
                       auto &state = m_worker->state;
                       job.target = teacherDir;
                       LoadOptions options;
                       options.device = parseDevice("auto");
                       job.progress->report(0.1, "loading the models");
                       const auto teacherConfig = describeModelFolder(teacherDir.toStdString()).config;
                       const auto studentConfig = describeModelFolder(studentDir.toStdString()).config;
                       if (tooLargeForMemory(studentConfig)) {
                           job.target = studentDir;
                           throw Error(studentDir.toStdString() + ": the student (" +
                                       byteSizeText(4.0 * double(studentConfig.parameterCount())) +
                                       " in float32) exceeds half of this machine's memory (" +
                                       byteSizeText(memoryBytes()) +
                                       "); the workbench keeps the student and a copy per run in memory: choose a smaller student, or "
                                       "train this one with nugget-cli transfer or train (one copy, in bfloat16)");
                       }
                       const bool mapped = tooLargeForMemory(teacherConfig);
                       auto pair = loadModelPair(teacherDir.toStdString(), studentDir.toStdString(), options,
                                                 mapped ? TeacherWeights::Mapped : TeacherWeights::Loaded);
                       job.progress->checkCancelled();
                       // A new pair invalidates everything computed on the old one.
                       state.pair = std::move(pair);
                       state.clearScores();
                       state.trained = nullptr;
                       state.lastRun.reset();
                       state.runs.clear();
                       if (!state.seeds.empty())
                           state.seedSamples = seedSamples(*state.pair->tokenizer, state.seeds, state.maxLength);
                       PairSummary summary;
                       summary.teacherDir = teacherDir;
                       summary.studentDir = studentDir;
                       summary.teacherLayers = static_cast<int>(state.pair->teacher.config.numHiddenLayers);
                       summary.studentLayers = static_cast<int>(state.pair->student.config.numHiddenLayers);
                       const auto &student = *state.pair->student.model;
                       summary.device = qs(student.device().str());
                       summary.dtype = qs(std::string(c10::toString(student.dtype())));
                       summary.teacherMapped = mapped;
                       summary.teacherBytes = mapped ? TensorStore::openFolder(teacherDir.toStdString()).totalBytes()
                                                     : state.pair->teacher.model->parameterBytes();
                       summary.studentBytes = student.parameterBytes();
                       if (mapped)
                           Q_EMIT logMessage({LogLevel::Info,
                                              tr("The teacher (%1 in float32) is too large for half of this "
                                                 "machine's memory: it stays on disk, memory-mapped. Its "
                                                 "sensitivity and layer similarity stream it one layer at a time; "
                                                 "its scores go to a session file.")
                                                  .arg(qs(byteSizeText(4.0 * double(teacherConfig.parameterCount())))),
                                              teacherDir});
                       Q_EMIT pairLoaded(summary);
                       Q_EMIT trainedModelChanged(false);
                   });
}

int WorkbenchEngine::loadTask(const TaskFiles &files, int maxLength)
{
    return enqueue(tr("Load task %1").arg(QFileInfo(files.seeds).fileName()), [this, files, maxLength](Job &job) {
        auto &state = m_worker->state;
        auto &pair = state.requirePair();
        auto read = [&job](const QString &path, const char *what) {
            job.target = path;
            if (path.isEmpty())
                throw Error(std::string("no ") + what + " file chosen");
            auto examples = readChatJsonl(path.toStdString());
            if (examples.empty())
                throw Error(path.toStdString() + ": no samples in this " + what + " file");
            return examples;
        };
        auto seeds = read(files.seeds, "seed");
        auto train = read(files.train, "training");
        auto eval = read(files.eval, "evaluation");
        job.target = files.seeds;
        auto samples = seedSamples(*pair.tokenizer, seeds, maxLength);

        TaskSummary summary;
        summary.files = files;
        summary.seeds = static_cast<int>(seeds.size());
        summary.train = static_cast<int>(train.size());
        summary.eval = static_cast<int>(eval.size());
        for (size_t i = 0; i < seeds.size(); ++i) {
            const auto prompt = tokenizePrompt(*pair.tokenizer, seeds[i]);
            const auto full = tokenizeChat(*pair.tokenizer, seeds[i], 0);
            const int tokens = static_cast<int>(full.inputIds.size());
            summary.longestSeedTokens = std::max(summary.longestSeedTokens, tokens);
            if (tokens > maxLength)
                ++summary.truncatedSeeds;
            if (summary.preview.size() < 4)
                summary.preview.append({qs(seeds[i].id), qs(renderPrompt(seeds[i])), qs(answerText(seeds[i])),
                                        static_cast<int>(prompt.size()), tokens - static_cast<int>(prompt.size())});
        }
        if (summary.truncatedSeeds > 0)
            Q_EMIT logMessage({LogLevel::Warning,
                               tr("%1 of %2 seed samples are longer than %3 tokens and are cut to that length")
                                   .arg(summary.truncatedSeeds)
                                   .arg(summary.seeds)
                                   .arg(maxLength),
                               QStringLiteral("settings/max_length")});
        state.files = files;
        state.maxLength = maxLength;
        state.seeds = std::move(seeds);
        state.train = std::move(train);
        state.eval = std::move(eval);
        state.seedSamples = std::move(samples);
        state.clearScores();
        Q_EMIT taskLoaded(summary);
    });
}

int WorkbenchEngine::computeSensitivity(const SensitivityRequest &request)
{
    return enqueue(tr("Sensitivity (%1)").arg(request.metric), [this, request](Job &job) {
        auto &state = m_worker->state;
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
                                      "are summed in float32)").arg(side),
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
                    config, TensorStore::openFolder(model.folder), state.seedSamples, streamed,
                    *job.progress, [&](const std::string &name, const at::Tensor &scores) {
                        map.scores[name] = scores.to(at::kCPU);
                        if (throttle.due())
                            Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, false));
                    });
                map.samples = result.samples;
                Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, true));
                return map;
            }
            auto map = nugget::computeSensitivity(model.model, state.seedSamples, options, *job.progress,
                                          [&](const SensitivityProgress &p) {
                                              job.progress->report(double(p.sample) / double(p.samples),
                                                                   side.toStdString() + " sample " +
                                                                       std::to_string(p.sample) + "/" +
                                                                       std::to_string(p.samples));
                                              const bool last = p.sample == p.samples;
                                              if (!last && throttle.due())
                                                  Q_EMIT sensitivityUpdated(scoreGrid(side, *p.map, config,
                                                                                      int(p.sample), int(p.samples),
                                                                                      p.loss, false));
                                          });
            Q_EMIT sensitivityUpdated(scoreGrid(side, map, config, n, n, 0, true));
            return map;
        };
        // A teacher kept on disk: its scores stream into a session file in a scratch
        // folder; only each parameter's total stays in memory, for the grid.
        auto scoreOnDisk = [&] {
            const auto &config = pair.teacher.config;
            State::ScoresOnDisk disk;
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
                    config, TensorStore::openFolder(pair.teacher.folder), state.seedSamples, streamed, *job.progress,
                    [&](const std::string &name, const at::Tensor &scores) {
                        session.writeSensitivity("teacher", name, scores, storage);
                        disk.cells[name] = {scores.sum(at::kDouble).item<double>(), static_cast<double>(scores.numel())};
                        if (job.results.due())
                            Q_EMIT sensitivityUpdated(
                                scoreGrid(QStringLiteral("teacher"), disk.metric, disk.computeDtype, disk.cells, config, n, n, 0, false));
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
            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("teacher"), disk.metric, disk.computeDtype, disk.cells, config, n, n, 0, true));
            return disk;
        };
        if (state.teacherMapped())
            state.teacherOnDisk = scoreOnDisk();   // replaced only when complete
        else
            state.teacherScores = score(pair.teacher, QStringLiteral("teacher"));
        if (request.includeStudent)
            state.studentScores = score(pair.student, QStringLiteral("student"));
        if (request.similarity) {
            job.progress->report(0, "layer similarity");
            const auto onRow = [&](int64_t row, const at::Tensor &partial) {
                if (row + 1 < partial.size(0) && job.results.due())
                    Q_EMIT similarityUpdated(similarityGrid(partial, false));
            };
            constexpr int64_t maxTokens = 1024;
            at::Tensor matrix;
            if (state.teacherMapped()) {
                // The teacher's layers one at a time from the mapped checkpoint.
                const auto &config = pair.teacher.config;
                const auto options = streamedOptions(config, QStringLiteral("teacher"));
                const auto weights = TensorStore::openFolder(pair.teacher.folder);
                matrix = layerSimilarity(
                    config,
                    [&](const std::function<void(int64_t, const at::Tensor &)> &onLayer) {
                        streamedLayerStates(config, weights, state.seedSamples, maxTokens, device,
                                            options.computeDtype, *job.progress, onLayer);
                    },
                    pair.student.model, state.seedSamples, *job.progress, maxTokens, onRow);
            } else {
                matrix = layerSimilarity(pair.teacher.model, pair.student.model, state.seedSamples, *job.progress,
                                         maxTokens, onRow);
            }
            state.similarity = matrix;
            Q_EMIT similarityUpdated(similarityGrid(matrix, true));
        }
    });
}

int WorkbenchEngine::previewReduction(int teacherLayer, const QString &module, const QString &structure, quint64 seed,
                                      int maxImageSide)
{
    return enqueue(tr("Dimension map %1 %2").arg(teacherLayer).arg(module),
                   [this, teacherLayer, module, structure, seed, maxImageSide](Job &job) {
                       auto &state = m_worker->state;
                       auto &pair = state.requirePair();
                       const auto target = parseTargetModule(module.toStdString());
                       const auto parameter = targetParameterName(target, std::max(teacherLayer, 0));
                       const auto map = state.teacherScore(parameter).to(at::kCPU, at::kFloat);
                       const auto shape = targetShape(pair.student.config, target);
                       // Embedding matrices are stored [vocab, hidden]; shapes follow the scores.
                       const bool fits = map.size(0) >= shape[0] && map.size(1) >= shape[1];
                       const int64_t rows = fits ? shape[0] : shape[1];
                       const int64_t cols = rows == shape[0] ? shape[1] : shape[0];
                       const auto structureKind = parseReductionStructure(structure.toStdString());
                       const auto indices = reduceIndices(map, rows, cols, structureKind, seed);
                       const auto image = downsampleMap(map, maxImageSide, maxImageSide).contiguous();

                       ReductionPreview preview;
                       preview.teacherLayer = teacherLayer;
                       preview.module = module;
                       preview.parameter = qs(parameter);
                       preview.structure = structure;
                       preview.fullRows = map.size(0);
                       preview.fullColumns = map.size(1);
                       preview.imageRows = static_cast<int>(image.size(0));
                       preview.imageColumns = static_cast<int>(image.size(1));
                       preview.image.assign(image.data_ptr<float>(), image.data_ptr<float>() + image.numel());
                       preview.targetRows = rows;
                       preview.targetColumns = cols;
                       if (indices.window) {
                           preview.isWindow = true;
                           preview.rowStart = indices.window->row;
                           preview.rowCount = indices.window->rows;
                           preview.columnStart = indices.window->col;
                           preview.columnCount = indices.window->cols;
                       }
                       preview.rows = indices.rows;
                       preview.columns = indices.cols;
                       const double total = map.sum(at::kDouble).item<double>();
                       const auto kept = gatherReduced(map, indices).sum(at::kDouble).item<double>();
                       preview.keptShare = total > 0 ? kept / total : 0;
                       job.progress->report(1.0, "dimension map");
                       Q_EMIT reductionPreviewed(preview);
                   });
}

int WorkbenchEngine::runTransfer(const TransferRecipe &recipe, const QString &name)
{
    return enqueue(tr("Run %1").arg(name), [this, recipe, name](Job &job) {
        auto &state = m_worker->state;
        auto &pair = state.requirePair();
        state.requireTask();
        std::optional<TeacherSource> teacher;
        if (recipe.init == "transfer")
            teacher = state.teacherSource();
        RunCallbacks callbacks;
        callbacks.log = [this](const std::string &line) { Q_EMIT logMessage({LogLevel::Info, qs(line), {}}); };
        callbacks.onStep = [this, &job, name](const TrainingStep &step) {
            if (job.results.due(step.step == step.totalSteps))
                Q_EMIT trainingProgressed({name, int(step.step), int(step.totalSteps), int(step.epoch), step.loss,
                                           step.learningRate, step.etaSeconds, step.tokensPerSecond});
        };
        LlamaForCausalLM trained{nullptr};
        auto run = runCondition(recipe, name.toStdString(), pair, teacher ? &*teacher : nullptr, state.train, state.eval,
                                *job.progress, callbacks, &trained);
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
    return enqueue(tr("Controls (%1 seeds)").arg(seeds.size()), [this, recipe, seeds, includeVanilla](Job &job) {
        auto &state = m_worker->state;
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
        Progress &outer = *job.progress;
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
                        Q_EMIT trainingProgressed({name, int(step.step), int(step.totalSteps), int(step.epoch),
                                                   step.loss, step.learningRate, step.etaSeconds,
                                                   step.tokensPerSecond});
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
    return enqueue(tr("Evaluate the student"), [this, recipe](Job &job) {
        auto &state = m_worker->state;
        auto &pair = state.requirePair();
        state.requireTask();
        const bool trained = static_cast<bool>(state.trained);
        auto &model = trained ? state.trained : pair.student.model;
        QElapsedTimer clock;
        clock.start();
        RunReport run;
        run.name = trained ? "trained student" : "student as loaded";
        run.init = trained && state.lastRun ? state.lastRun->init : "none";
        run.evaluation = evaluateForRecipe(recipe, model, *pair.tokenizer, state.eval, *job.progress);
        run.seconds = double(clock.elapsed()) / 1000.0;
        Q_EMIT runFinished(runSummary(run, qs(run.name), recipe.evalMetric));
    });
}

int WorkbenchEngine::saveSession(const QString &path, const TransferRecipe &recipe,
                                 const std::vector<int64_t> &selection, const QString &selectionStrategy)
{
    return enqueue(tr("Save session %1").arg(QFileInfo(path).fileName()),
                   [this, path, recipe, selection, selectionStrategy](Job &job) {
                       auto &state = m_worker->state;
                       auto &pair = state.requirePair();
                       job.target = path;
                       auto session = Session::create(path.toStdString());
                       job.progress->report(0.1, "hashing the inputs");
                       session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
                       job.progress->checkCancelled();
                       if (state.teacherScores)
                           storeSensitivity(session, "teacher", *state.teacherScores,
                                            pair.teacher.config.numHiddenLayers);
                       if (state.teacherOnDisk) {   // copied one parameter at a time
                           const Session &from = *state.teacherOnDisk->session;
                           const auto parameters = from.sensitivityParameters("teacher");
                           for (size_t i = 0; i < parameters.size(); ++i) {
                               job.progress->checkCancelled();
                               session.writeSensitivity("teacher", parameters[i],
                                                        from.readSensitivity("teacher", parameters[i]),
                                                        defaultScoreStorage(pair.teacher.config));
                               job.progress->report(0.1 + 0.8 * double(i + 1) / double(parameters.size()),
                                                    "teacher scores: " + parameters[i]);
                           }
                           const auto info = from.sensitivityInfo("teacher");
                           session.setSensitivityInfo("teacher", info.metric, info.samples, info.computeDtype);
                           const auto [totals, modules] = from.readLayerTotals("teacher");
                           session.writeLayerTotals("teacher", totals, modules);
                       }
                       job.progress->checkCancelled();
                       if (state.studentScores)
                           storeSensitivity(session, "student", *state.studentScores,
                                            pair.student.config.numHiddenLayers);
                       if (!selection.empty())
                           session.writeSelection(selection, selectionStrategy.toStdString());
                       for (const auto &[run, metric] : state.runs) {
                           std::vector<float> curve;
                           for (const auto &s : run.training.steps)
                               curve.insert(curve.end(), {float(s.step), float(s.loss), float(s.learningRate)});
                           const auto steps = static_cast<int64_t>(run.training.steps.size());
                           session.writeRun(run.name, torch::tensor(curve).view({steps, 3}),
                                            {"step", "loss", "learning_rate"},
                                            {{QStringLiteral("init"), qs(run.init)},
                                             {QStringLiteral("seed"), static_cast<qint64>(run.seed)},
                                             {QStringLiteral("metric"), qs(metric)},
                                             {QStringLiteral("score"), run.evaluation.score},
                                             {QStringLiteral("items"), static_cast<qint64>(run.evaluation.items)},
                                             {QStringLiteral("seconds"), run.seconds}});
                       }
                       job.progress->checkCancelled();
                       session.commit();
                       job.progress->report(1.0, "saved");
                       Q_EMIT logMessage({LogLevel::Info, tr("Session saved to %1").arg(path), path});
                   });
}

int WorkbenchEngine::openSession(const QString &path)
{
    return enqueue(tr("Open session %1").arg(QFileInfo(path).fileName()), [this, path](Job &job) {
        auto &state = m_worker->state;
        auto &pair = state.requirePair();
        job.target = path;
        auto session = Session::openReadOnly(path.toStdString());
        // Scores only make sense for the model they were computed on: every scored
        // parameter must exist in the loaded model with the same shape.
        auto checked = [&](const std::string &side, LoadedModel &model) -> std::optional<SensitivityMap> {
            if (!session.hasSensitivity(side))
                return std::nullopt;
            auto map = loadSensitivity(session, side);
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
        std::optional<State::ScoresOnDisk> teacherOnDisk;
        std::optional<SensitivityMap> teacher;
        if (state.teacherMapped() && session.hasSensitivity("teacher")) {
            const auto weights = TensorStore::openFolder(pair.teacher.folder);
            for (const auto &name : session.sensitivityParameters("teacher")) {
                if (!weights.contains(name))
                    throw Error(path.toStdString() + ": the teacher scores name parameter " + name +
                                ", which the teacher's checkpoint does not have (the session is for another model)");
                const auto shape = weights.tensor(name).sizes().vec();
                const auto stored = session.sensitivityShape("teacher", name);
                if (stored != shape)
                    throw Error(path.toStdString() + ": the teacher scores of " + name + " have shape " +
                                shapeText(stored) + " but the teacher's tensor is " + shapeText(shape) +
                                " (the session is for another model)");
            }
            State::ScoresOnDisk disk;
            const auto info = session.sensitivityInfo("teacher");
            disk.metric = parseSensitivityMetric(info.metric);
            disk.computeDtype = info.computeDtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
            disk.samples = info.samples;
            disk.cells = cellTotals(session, "teacher", pair.teacher.config);
            teacherOnDisk = std::move(disk);
        } else {
            teacher = checked("teacher", pair.teacher);
        }
        auto student = checked("student", pair.student);
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
            const int n = static_cast<int>(state.teacherOnDisk->samples);
            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("teacher"), state.teacherOnDisk->metric, state.teacherOnDisk->computeDtype,
                                                state.teacherOnDisk->cells, pair.teacher.config, n, n, 0, true));
        }
        if (state.teacherScores) {
            const int n = static_cast<int>(state.teacherScores->samples);
            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("teacher"), *state.teacherScores, pair.teacher.config,
                                                n, n, 0, true));
        }
        if (state.studentScores) {
            const int n = static_cast<int>(state.studentScores->samples);
            Q_EMIT sensitivityUpdated(scoreGrid(QStringLiteral("student"), *state.studentScores, pair.student.config,
                                                n, n, 0, true));
        }
        Q_EMIT sessionOpened(summary);
    });
}

int WorkbenchEngine::exportAdapter(const QString &dir)
{
    return enqueue(tr("Export adapter to %1").arg(dir), [this, dir](Job &job) {
        auto &state = m_worker->state;
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
    return enqueue(tr("Export merged model to %1").arg(dir), [this, dir](Job &job) {
        auto &state = m_worker->state;
        auto &pair = state.requirePair();
        job.target = dir;
        if (!state.trained)
            throw Error("no trained student yet: run injection and training first");
        auto merged = mergedCopy(state.trained);
        job.progress->checkCancelled();
        SaveOptions save;
        save.tokenizerPath = pair.student.tokenizerPath;
        saveModelFolder(merged, dir.toStdString(), save);
        Q_EMIT logMessage({LogLevel::Info, tr("Merged model written to %1").arg(dir), dir});
    });
}

} // namespace nugget
