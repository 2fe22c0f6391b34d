#pragma once
// The rules of a transfer, written once and shared by nugget-cli (sensitivity, extract,
// train, transfer, experiment) and the workbench engine, so that a session made by
// either has the same layout and the same choices:
//   planSensitivity     when to stream the model and in which dtypes to compute and store
//   scoreIntoSession    a sensitivity pass, as planned, into a session, parameter by parameter
//   ensureTeacherScores the teacher's scores of a session: reused when they are its own
//   runConditions       conditions x seeds with mean and standard deviation per condition
//   writeRunRecord      what a session holds of one run (one layout for every caller)

#include "eval/ItemComparison.h"
#include "io/Session.h"
#include "transfer/StreamedSensitivity.h"
#include "transfer/TransferRecipe.h"

#include <QJsonObject>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nugget {

// ---------------------------------------------------------------- sensitivity plan

// What a caller asks of a sensitivity pass; what it leaves unset follows the rules of
// planSensitivity.
struct SensitivityChoices
{
    std::optional<bool> streamed;   // forced on (--streamed) or off (--in-memory)
    std::string computeDtype;       // "" (the rule), or a name of kComputeDtypes (auto measures)
    std::string scoreDtype;         // "" (the rule), "float32" or "float16"
    bool modelLoaded = false;       // the caller already holds the model loaded (the workbench)
    int worldSize = 1;              // processes of a data-parallel group (they need the streamed pass)
};

struct SensitivityPlan
{
    bool streamed = true;
    at::ScalarType computeDtype = at::kFloat;
    Session::ScoreStorage storage = Session::ScoreStorage::Float32;
    std::string summary;   // one line for the log: how and why
};

// The one rule (see Pipeline.cpp for the measurements behind it):
//  - streamed, unless the caller already holds the model loaded and it is not too
//    large for memory, or the caller forces the in-memory pass;
//  - computed in float32, or in bfloat16 for a model too large for memory where the
//    device multiplies bfloat16 at least twice as fast (defaultComputeDtype);
//  - stored as float32, or float16 (scaled) for a model too large for memory
//    (defaultScoreStorage).
// Throws Error when the choices contradict each other (an in-memory pass forced for a
// data-parallel group, or an unknown dtype name).
SensitivityPlan planSensitivity(const ModelConfig &config, at::Device device, const SensitivityChoices &choices = {});

// ---------------------------------------------------------------- scoring

struct SensitivitySettings
{
    SensitivityMetric metric = SensitivityMetric::Taylor;
    int64_t maxLength = 0;          // tokens per sample at most (0: the model's context)
    at::Device device = at::kCPU;
    std::string scratchDir;         // spilled hidden states of the streamed pass (empty: temp folder)
    std::function<void(at::Tensor &)> allReduce;   // data-parallel sum (unset: one process)
};

struct ScoringResult
{
    int64_t samples = 0;               // over all processes
    at::Tensor layerModuleTotals;      // float64 [layers, layerModuleNames()]
    bool spilled = false;              // the streamed pass spilled hidden states to a file
    std::optional<SensitivityMap> map; // the in-memory pass keeps every score (the workbench's views)

    std::vector<double> layerTotals() const;   // per decoder layer
};

// Called once per parameter with its final scores (float32), in the order they complete.
using ParameterScores = std::function<void(const std::string &parameter, const at::Tensor &scores)>;

// Scores `model` (its folder streamed, or its loaded weights: `model.model`, loaded
// here in the plan's compute dtype when null) on `samples` as `plan` says, writes every
// parameter's scores, the metric, sample count, compute dtype and per-layer totals into
// `session` as `side` (nothing is committed; a null session stores nothing: the other
// ranks of a group) and hands each parameter to `onParameter`. `onSample` follows the
// in-memory pass sample by sample (the streamed pass completes per parameter).
ScoringResult scoreIntoSession(Session *session, Side side, const LoadedModel &model,
                               const std::vector<SeedSample> &samples, const SensitivitySettings &settings,
                               const SensitivityPlan &plan, Progress &progress, const ParameterScores &onParameter = {},
                               const std::function<void(const SensitivityProgress &)> &onSample = {});

// The teacher's scores in `session`: kept when present (after checkSessionTeacher), else
// computed by the streamed pass from the seed samples in `seedsFile` with the recipe's
// metric and length, as planned for the teacher. Throws Error when they are needed and
// `seedsFile` is empty.
void ensureTeacherScores(Session &session, const ModelPair &pair, const std::string &seedsFile,
                         const TransferRecipe &recipe, at::Device device, const SensitivityChoices &choices,
                         Progress &progress, const std::function<void(const std::string &)> &log = {});

// ---------------------------------------------------------------- sessions and records

// The session at `path` opened for update, or a new one.
Session openOrCreateSession(const std::string &path);
// The session of a whole transfer or experiment at `path`: opened (its teacher scores
// checked against `recipe.teacher` before the recipe replaces the recorded hashes) or
// created, with `recipe` and the hashes of its inputs recorded.
Session openTransferSession(const std::string &path, const TransferRecipe &recipe);

// Columns of /runs/<name>/loss: one row per optimiser step.
const std::vector<std::string> &runRecordColumns();   // step, loss, learning_rate
// The run's attributes (/runs/<name>/eval): condition, init, seed, metric, score,
// correct, items, seconds, teacher_layers (empty unless the run was a transfer).
QJsonObject runRecordAttributes(const RunReport &run);
// Writes the run under its name: the loss curve, the attributes above and, when the
// evaluation kept them, its item records (writeItemRecords).
void writeRunRecord(Session &session, const RunReport &run);
// /runs/<runName>/items and item_scores (Session::writeRunItems) from `items`; the run
// must have been written.
void writeItemRecords(Session &session, const std::string &runName, const std::vector<EvalItem> &items);
// The layer selection and the kept rows and columns of an extraction.
void writeExtractionRecord(Session &session, const Extraction &extraction, const std::string &structure);

// ---------------------------------------------------------------- conditions x seeds

struct ExperimentCondition
{
    std::string name;
    QJsonObject overrides;   // recipe keys changed for this condition, e.g. {"init": "lora"}
};
// vanilla (no training), lora, pkt (the method), pkt-random (a random teacher
// sub-matrix), own-svd (the student's own SVD).
std::vector<ExperimentCondition> defaultConditions();
// The recipe of one condition and seed; throws Error naming the condition on a bad override.
TransferRecipe conditionRecipe(const TransferRecipe &base, const ExperimentCondition &condition, uint64_t seed);
// "<condition>-seed<seed>": the run's name in sessions and views.
std::string conditionRunName(const std::string &condition, uint64_t seed);

struct ConditionSummary
{
    std::string name;
    std::vector<double> scores;     // one per seed, in [0, 1]
    double mean = 0;
    double standardDeviation = 0;   // sample standard deviation (n - 1); 0 for one seed
    double seconds = 0;             // total over seeds
};
// Mean and sample standard deviation of `scores`.
void summariseScores(ConditionSummary &summary);

struct ExperimentResult
{
    std::vector<ConditionSummary> conditions;
    std::vector<RunReport> runs;   // without their extraction and initial adapters (large)
    std::vector<ItemComparison> comparisons;   // compareWithBaselines
    double seconds = 0;

    // transfer/ExperimentTables.cpp: the summary and the paired comparisons.
    std::string markdown(const std::string &evalMetric) const;
    std::string csv() const;              // one row per run
    std::string comparisonsCsv() const;   // one row per comparison
};

// Every condition paired with the baselines on the same items and seeds: the vanilla
// student (the first condition with init "none") and plain LoRA (the first with init
// "lora"), each with every other condition. Runs without item records (perplexity)
// are left out.
std::vector<ItemComparison> compareWithBaselines(const std::vector<RunReport> &runs);

struct ConditionCallbacks
{
    std::function<void(const std::string &)> log;
    // Before each run, with its name, condition and seed.
    std::function<void(const std::string &name, const std::string &condition, uint64_t seed)> onRunStart;
    std::function<void(const std::string &name, const TrainingStep &)> onStep;
    std::function<void(const RunReport &)> onRun;   // each finished run, before its large parts are dropped
};

// Runs every condition for every seed on `pair` (its student reloaded for each run),
// each with the same data and budget; progress covers all runs and is polled for
// cancellation between and inside them. With a session, each run's record is written
// as it finishes (nothing is committed). `teacher` is needed when a condition transfers.
ExperimentResult runConditions(const TransferRecipe &base, const std::vector<ExperimentCondition> &conditions,
                               const std::vector<uint64_t> &seeds, ModelPair &pair, const TeacherSource *teacher,
                               const std::vector<ChatExample> &train, const std::vector<ChatExample> &eval,
                               Progress &progress, const ConditionCallbacks &callbacks = {}, Session *session = nullptr);

} // namespace nugget
