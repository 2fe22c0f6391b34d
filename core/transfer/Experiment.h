#pragma once
// Conditions x seeds from a recipe file: the controls that tell whether knowledge
// really moved (vanilla student, plain LoRA, the method, the method with a random
// teacher sub-matrix, the student's own SVD, and any ablation), run with the same data
// and budget, summarised as mean and standard deviation per condition. The runs
// themselves are the pipeline's (runConditions in transfer/Pipeline.h).

#include "transfer/Pipeline.h"

#include <string>
#include <vector>

namespace nugget {

struct ExperimentRecipe
{
    TransferRecipe base;
    std::vector<uint64_t> seeds{1, 2, 3};
    std::vector<ExperimentCondition> conditions = defaultConditions();

    // Every value is checked here, conditions included, before anything runs: a typo
    // must not surface an hour into the runs. Throws Error naming the file.
    static ExperimentRecipe fromJsonFile(const std::string &path);
    static std::vector<ExperimentCondition> defaultConditions() { return nugget::defaultConditions(); }
};

// Runs every condition for every seed. Teacher sensitivity is computed once (the seed
// samples do not depend on the run's seed). With a session the teacher stays on disk:
// its scores stream into the session (or are reused from it) and every run's record is
// written there; without one the teacher is loaded and scored in memory.
ExperimentResult runExperiment(const ExperimentRecipe &recipe, Progress &progress, const ConditionCallbacks &callbacks = {},
                               Session *session = nullptr);

} // namespace nugget
