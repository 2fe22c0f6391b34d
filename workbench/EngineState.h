#pragma once
// What the engine holds between jobs: the model pair, the task, the scores, the layer
// similarity and the runs. Touched on the compute thread only.

#include "EngineResults.h"
#include "ResultConversion.h"

#include "io/Session.h"
#include "transfer/TransferRecipe.h"

#include <QTemporaryDir>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace nugget {

struct EngineState
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
    std::vector<RunReport> runs;   // for the session (without their extraction factors)

    ModelPair &requirePair();
    void requireTask() const;
    // The teacher stays on disk (memory-mapped) when its float32 size exceeds half of
    // the memory; the student is always loaded (it is trained).
    bool teacherMapped() const { return pair && !pair->teacher.model; }
    void clearScores();
    void requireTeacherScores() const;
    at::Tensor teacherScore(const std::string &parameter) const;
    // What the extraction reads: weights and scores, one matrix at a time when on disk.
    TeacherSource teacherSource();
};

} // namespace nugget
