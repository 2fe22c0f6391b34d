#pragma once
// Everything that defines one transfer, as one JSON-serialisable recipe (recorded in
// the session), and the steps of the pipeline as plain functions used by nugget-cli,
// the workbench and the tests:
//   sensitivity -> layer selection -> reduction + SVD -> injection -> LoRA training
//   -> evaluation -> export.

#include "Side.h"
#include "eval/TaskEvaluation.h"
#include "io/PeftAdapter.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "train/LoraTrainer.h"
#include "transfer/Extraction.h"
#include "transfer/Injection.h"
#include "transfer/Sensitivity.h"

#include <QJsonObject>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nugget {

class Session;
class Tokenizer;

struct TransferRecipe
{
    std::string teacher, student;                 // model folders
    std::string seeds, train, eval;               // JSONL task files
    std::string evalMetric = "exact-match";       // exact-match | answer-number | choice
    int64_t evalLimit = 0;
    int64_t maxNewTokens = 48;
    std::string sensitivityMetric = "taylor";
    int64_t maxLength = 512;                      // tokens per example
    std::string layers = "sensitivity";           // or top | last | random | "0,2,5"
    std::string structure = "submatrix";
    std::string origin = "all";
    std::string split = "reference";              // reference | pissa
    std::string svd = "auto";                     // auto | exact | randomized (parseSvdMethod)
    std::string init = "transfer";                // transfer | lora | own-svd | none
    LoraSettings lora{16, 16, 0.05};
    LoraTrainingOptions training;
    uint64_t seed = 1;

    QJsonObject toJson() const;
    // Missing keys keep their defaults; unknown keys and bad values throw Error naming
    // `source` and the key. Relative paths are resolved against `baseDir` when given.
    static TransferRecipe fromJson(const QJsonObject &json, const std::string &source, const std::string &baseDir = {});
    std::vector<std::string> inputFiles() const;   // every file whose hash the session records
};

// Teacher and student as one pair: the checks a transfer needs before anything runs.
struct ModelPair
{
    LoadedModel teacher, student;
    std::shared_ptr<Tokenizer> tokenizer;   // shared by both
};
// How loadModelPair takes the teacher: loaded whole, or only described (config and
// tokenizer checked, `teacher.model` left null) for an extraction that reads its
// weights memory-mapped, one matrix at a time (teacherFromSession).
enum class TeacherWeights { Loaded, Mapped };
// The student is loaded with `options` (device and dtype: bfloat16 for a student too
// large for float32, see studentWeightsDtype); a loaded teacher is float32 on the same
// device. Throws Error when a folder lacks a tokenizer, the tokenizers or vocabulary
// sizes differ, or the teacher is not larger than the student in every dimension a
// transfer reduces.
ModelPair loadModelPair(const std::string &teacherDir, const std::string &studentDir, const LoadOptions &options = {},
                        TeacherWeights teacherWeights = TeacherWeights::Loaded);

std::vector<SeedSample> seedSamples(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples, int64_t maxLength);
// The examples of a task file; throws Error naming the file when it holds none.
std::vector<ChatExample> readTaskFile(const std::string &path);
// Seed samples read from `path`, each checked to have answer tokens within the first
// min(maxLength, context) tokens (else the sample cannot be scored); errors name the
// file and line.
std::vector<SeedSample> seedSamplesFromFile(const Tokenizer &tokenizer, const std::string &path, int64_t maxLength,
                                            int64_t context);
std::vector<TrainingDocument> trainingDocuments(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples,
                                                int64_t maxLength);

// Session storage of a sensitivity map: every parameter's scores, per-layer totals and
// the metric.
void storeSensitivity(Session &session, Side side, const SensitivityMap &map, int64_t layers);
SensitivityMap loadSensitivity(const Session &session, Side side);
// Before a session's teacher scores are reused: throws Error when the session records
// input hashes and none of them is the sha256 of `teacherDir`'s weights (the scores
// were computed for another model).
void checkSessionTeacher(const Session &session, const std::string &teacherDir);

// sha256 of each input file, for the session's record.
std::map<std::string, std::string> hashInputs(const std::vector<std::string> &files);

// Where an extraction reads the teacher's matrices and their scores, one at a time.
struct TeacherSource
{
    TensorLookup weights, scores;
    std::vector<double> layerScores;   // total score per teacher layer, for the layer selection
};
// A loaded teacher and its scores in memory (the workbench, experiments).
TeacherSource teacherInMemory(const LoadedModel &teacher, const SensitivityMap &scores);
// The teacher's checkpoint memory-mapped and its scores read from the session as each
// matrix is reached: only that matrix and its scores are resident (the previous
// matrix's mapped pages are dropped). Layer scores come from the session's per-layer
// totals. The session must outlive the source. Throws Error naming the session when it
// has no teacher scores or its totals cover another layer count.
TeacherSource teacherFromSession(const std::string &teacherDir, const Session &session, int64_t teacherLayers);

// Layer selection, reduction and factorisation of the teacher as the recipe says.
Extraction extractForRecipe(const TransferRecipe &recipe, const ModelConfig &teacher, const ModelConfig &student,
                            const TeacherSource &source, Progress &progress);
// The recipe's metric on `examples` (exact match, answer number or multiple choice).
EvalResult evaluateForRecipe(const TransferRecipe &recipe, LlamaForCausalLM &model, const Tokenizer &tokenizer,
                             const std::vector<ChatExample> &examples, Progress &progress);

struct RunReport
{
    std::string name;
    std::string condition;   // the condition it belongs to (runConditions); else its name
    std::string init;
    std::string metric;      // the recipe's evaluation metric
    uint64_t seed = 0;
    LoraTrainingResult training;
    EvalResult evaluation;
    double seconds = 0;
    std::optional<Extraction> extraction;   // for transfer runs
    InitialAdapters initialAdapters;        // for delta-initialised runs
    // The teacher layer of each student layer, for transfer runs: kept for the run's
    // record when the (large) extraction is dropped.
    std::vector<int64_t> teacherLayers;
};

struct RunCallbacks
{
    std::function<void(const std::string &)> log;
    std::function<void(const TrainingStep &)> onStep;
};

// Which student a run trains: a copy reloaded from the student's folder (in the loaded
// student's device and dtype), leaving `pair.student.model` untouched for further runs,
// or the loaded student itself, when it is the only run (one model in memory: what lets
// a student of half the machine's memory train).
enum class StudentCopy { Reload, UseLoaded };

// One condition end to end: initialise the adapters (`recipe.init`), train (skipped for
// "none"), evaluate. `teacher` is needed for "transfer" only. The trained model is
// returned through `trained` when given.
RunReport runCondition(const TransferRecipe &recipe, const std::string &name, ModelPair &pair,
                       const TeacherSource *teacher, const std::vector<ChatExample> &train,
                       const std::vector<ChatExample> &eval, Progress &progress, const RunCallbacks &callbacks = {},
                       LlamaForCausalLM *trained = nullptr, StudentCopy copy = StudentCopy::Reload);
// The same with the teacher loaded in `pair` and its scores in memory.
RunReport runCondition(const TransferRecipe &recipe, const std::string &name, ModelPair &pair,
                       const SensitivityMap *teacherScores, const std::vector<ChatExample> &train,
                       const std::vector<ChatExample> &eval, Progress &progress, const RunCallbacks &callbacks = {},
                       LlamaForCausalLM *trained = nullptr);

// How a delta-initialised run's adapter is written (docs/adapters.md).
enum class AdapterForm {
    UntouchedBase,   // "base": one adapter of rank r + r0 that applies to the untouched student
    WithDelta,       // "delta": the trained rank-r adapter, with DIR/delta to merge into the student first
};
AdapterForm parseAdapterForm(const std::string &name);
std::string adapterFormHelp();

// The run's adapter in the UntouchedBase form (the trained factors followed by the
// initial ones, negated in B): what PEFT applies to the untouched student.
PeftAdapter runAdapterForBase(LlamaForCausalLM &trained, const RunReport &run, const std::string &baseModel);

// Writes a run's adapter in PEFT format, the folder as a unit (writeFolderAtomically),
// with Nugget's provenance in DIR/nugget_adapter.json. `baseModel` is written as an
// absolute path.
void exportRunAdapters(LlamaForCausalLM &trained, const RunReport &run, const std::string &dir,
                       const std::string &baseModel, AdapterForm form = AdapterForm::UntouchedBase);

// Attaches the adapter folder DIR (either form, or a foreign PEFT adapter) to `student`
// for further training: the initial factors, where the folder has them, are merged into
// the student (the delta trick) and returned; the trained ones are attached.
InitialAdapters attachAdapterForTraining(LlamaForCausalLM &student, const std::string &dir);

} // namespace nugget
