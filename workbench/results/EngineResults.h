#pragma once
// What the compute engine reports to the window: plain values, copied across threads
// by queued signals. Nothing here refers to torch, so views need no libtorch headers.

#include "Side.h"

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <vector>

namespace nugget {

struct TaskFiles
{
    QString seeds, train, eval;
    QString metric = QStringLiteral("exact-match");   // exact-match | answer-number | choice
};

enum class LogLevel { Info, Warning, Error };

// One line of the log panel. `target` names what is at fault (a file path or a setting
// key such as "settings/rank") so that a click can take the user there.
struct LogEntry
{
    LogLevel level = LogLevel::Info;
    QString text;
    QString target;
};

enum class JobState { Queued, Running, Done, Failed, Cancelled };

struct JobOutcome
{
    JobState state = JobState::Done;
    QString message;   // the error for Failed
    double seconds = 0;
};

struct PairSummary
{
    QString teacherDir, studentDir;
    int teacherLayers = 0, studentLayers = 0;
    QString device;    // where the models live, e.g. "cpu"
    QString dtype;     // compute dtype
    qint64 teacherBytes = 0, studentBytes = 0;   // parameters in memory (mapped: the checkpoint's bytes on disk)
    // A teacher too large for memory stays on disk, memory-mapped: its sensitivity and
    // layer similarity stream it one layer at a time, its scores go to a session file.
    bool teacherMapped = false;
};

struct TaskSample
{
    QString id;
    QString prompt;    // rendered prompt, as the model sees it
    QString answer;    // the tokens the loss is taken on
    int promptTokens = 0, answerTokens = 0;
};

struct TaskSummary
{
    TaskFiles files;
    int seeds = 0, train = 0, eval = 0;
    int longestSeedTokens = 0;
    int truncatedSeeds = 0;   // longer than the recipe's max_length
    QList<TaskSample> preview;
};

// Sensitivity per layer and module, as totals and weight counts per cell. Rows:
// "embedding", "layer 0" ... "layer N-1", "head"; columns: q k v o gate up down. The
// embedding and head rows carry their single matrix in every column.
struct ScoreGrid
{
    Side side = Side::Teacher;
    QString metric;
    QString computeDtype = QStringLiteral("float32");   // of the forward and backward behind the scores
    int sample = 0, samples = 0;
    double loss = 0;     // the last sample's loss
    bool complete = false;
    QStringList rowLabels, columnLabels;
    std::vector<double> totals, counts;   // rows x columns
    std::vector<double> layerTotals;      // every parameter of each decoder layer (selection uses these)
};

// Linear CKA between teacher layers (rows) and student layers (columns); NaN while a
// row is not computed yet.
struct SimilarityGrid
{
    int teacherLayers = 0, studentLayers = 0;
    std::vector<double> values;
    bool complete = false;
};

// One teacher matrix's scores (downsampled) and what the reduction keeps of it.
struct ReductionPreview
{
    int teacherLayer = -1;      // -1 for the embedding / head
    QString module;             // q k v o gate up down embed head
    QString parameter;          // the teacher parameter's name
    QString structure;
    int64_t fullRows = 0, fullColumns = 0;
    int imageRows = 0, imageColumns = 0;
    std::vector<float> image;
    bool isWindow = false;
    int64_t rowStart = 0, rowCount = 0, columnStart = 0, columnCount = 0;
    std::vector<int64_t> rows, columns;
    int64_t targetRows = 0, targetColumns = 0;
    double keptShare = 0;       // fraction of the matrix's total score inside what is kept
};

struct TrainingProgress
{
    QString run;
    int step = 0, steps = 0, epoch = 0;
    double loss = 0, learningRate = 0, etaSeconds = 0, tokensPerSecond = 0;
};

struct RunSummary
{
    QString name, condition, init;
    quint64 seed = 0;
    QString metric;
    double score = 0;           // accuracy in [0, 1] or perplexity
    qint64 items = 0, correct = 0;
    double seconds = 0;
    std::vector<double> steps, losses;
    QString extraction;         // which teacher layers fed which student layers, for transfer runs
};

struct ConditionResult
{
    QString name;
    std::vector<double> scores;   // one per seed, in [0, 1]
    double mean = 0, spread = 0;  // sample standard deviation
    // Paired with the baselines on the same items and seeds (comparisonSummary, and
    // comparisonBrief for narrow cells); empty for the baseline itself or when it did not run.
    QString versusVanilla, versusLora;
    QString versusVanillaBrief, versusLoraBrief;
};

struct ControlsSummary
{
    QString metric;
    QList<ConditionResult> conditions;
    double seconds = 0;
};

struct SessionSummary
{
    QString path;
    QJsonObject recipe;
    std::vector<int64_t> selection;
    QString selectionStrategy;
    QStringList runs;
};

} // namespace nugget

Q_DECLARE_METATYPE(nugget::LogEntry)
Q_DECLARE_METATYPE(nugget::JobOutcome)
Q_DECLARE_METATYPE(nugget::PairSummary)
Q_DECLARE_METATYPE(nugget::TaskSummary)
Q_DECLARE_METATYPE(nugget::ScoreGrid)
Q_DECLARE_METATYPE(nugget::SimilarityGrid)
Q_DECLARE_METATYPE(nugget::ReductionPreview)
Q_DECLARE_METATYPE(nugget::TrainingProgress)
Q_DECLARE_METATYPE(nugget::RunSummary)
Q_DECLARE_METATYPE(nugget::ControlsSummary)
Q_DECLARE_METATYPE(nugget::SessionSummary)
