// The model pair and the task: loading them resets what was computed on the old ones.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "Error.h"
#include "eval/CandidateSets.h"
#include "io/ModelFolderInfo.h"
#include "io/TensorStore.h"
#include "jobs/Progress.h"
#include "model/MemoryBudget.h"
#include "text/Tokenizer.h"

#include <QFileInfo>

#include <cstring>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

int WorkbenchEngine::loadPair(const QString &teacherDir, const QString &studentDir)
{
    return enqueue(
        tr("Load %1 and %2").arg(QFileInfo(teacherDir).fileName(), QFileInfo(studentDir).fileName()),
        [this, teacherDir, studentDir](JobContext &job) {
            auto &state = this->state();
            job.target = teacherDir;
            LoadOptions options;
            options.device = parseDevice("auto");
            job.progress.report(0.1, "loading the models");
            const auto teacherConfig = describeModelFolder(teacherDir.toStdString()).config;
            const auto studentConfig = describeModelFolder(studentDir.toStdString()).config;
            if (tooLargeForMemory(studentConfig)) {
                job.target = studentDir;
                throw Error(studentDir.toStdString() + ": the student (" +
                            byteSizeText(4.0 * double(studentConfig.parameterCount())) +
                            " in float32) exceeds half of this machine's memory (" + byteSizeText(memoryBytes()) +
                            "); the workbench keeps the student and a copy per run in memory: choose a smaller "
                            "student, or train this one with nugget-cli transfer or train (one copy, in bfloat16)");
            }
            const bool mapped = tooLargeForMemory(teacherConfig);
            auto pair = loadModelPair(teacherDir.toStdString(), studentDir.toStdString(), options,
                                      mapped ? TeacherWeights::Mapped : TeacherWeights::Loaded);
            job.progress.checkCancelled();
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
    return enqueue(tr("Load task %1").arg(QFileInfo(files.seeds).fileName()), [this, files, maxLength](JobContext &job) {
        auto &state = this->state();
        auto &pair = state.requirePair();
        auto read = [&job](const QString &path, const char *what) {
            job.target = path;
            if (path.isEmpty())
                throw Error(std::string("no ") + what + " file chosen");
            // Evaluation items take their candidate answers from the task folder.
            auto examples = std::strcmp(what, "evaluation") == 0 ? readEvaluationItems(path.toStdString())
                                                                  : readChatJsonl(path.toStdString());
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

} // namespace nugget
