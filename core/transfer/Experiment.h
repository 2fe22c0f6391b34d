#pragma once
// Conditions x seeds: the controls that tell whether knowledge really moved (vanilla
// student, plain LoRA, the method, the method with a random teacher sub-matrix, the
// student's own SVD, and any ablation), run with the same data and budget, summarised
// as mean and standard deviation per condition.

#include "transfer/TransferRecipe.h"

#include <QJsonObject>

#include <string>
#include <vector>

namespace nugget {

struct ExperimentCondition
{
    std::string name;
    QJsonObject overrides;   // recipe keys changed for this condition, e.g. {"init": "lora"}
};

struct ExperimentRecipe
{
    TransferRecipe base;
    std::vector<uint64_t> seeds{1, 2, 3};
    std::vector<ExperimentCondition> conditions;   // default: vanilla, lora, pkt, pkt-random, own-svd

    static ExperimentRecipe fromJsonFile(const std::string &path);
    static std::vector<ExperimentCondition> defaultConditions();
};

struct ConditionSummary
{
    std::string name;
    std::vector<double> scores;   // one per seed, in [0, 1]
    double mean = 0;
    double standardDeviation = 0;   // sample standard deviation (n - 1)
    double seconds = 0;             // total over seeds
};

struct ExperimentResult
{
    std::vector<ConditionSummary> conditions;
    std::vector<RunReport> runs;
    double seconds = 0;

    std::string markdown(const ExperimentRecipe &recipe) const;
    std::string csv() const;
};

// Runs every condition for every seed. Teacher sensitivity is computed once (the seed
// samples do not depend on the run's seed) and stored in `session` when given.
ExperimentResult runExperiment(const ExperimentRecipe &recipe, Progress &progress, const RunCallbacks &callbacks = {},
                               Session *session = nullptr);

} // namespace nugget
