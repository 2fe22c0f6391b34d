#pragma once
// Every named choice of a transfer recipe, once: the enum, and one table of {value,
// name, description} that the command line parses and prints in its help, the recipe
// JSON reads and writes, and the workbench's combo boxes list. Free of libtorch, so
// views can include it.

#include <string>
#include <vector>

namespace nugget {

enum class SensitivityMetric { Taylor, Fisher, Magnitude };
enum class LayerStrategy { Sensitivity, Top, Last, Random, Manual };
enum class ReductionStructure { Submatrix, RowCol, Neuron, Random };
enum class TransferOrigin { All, FeedForward, Attention, Embedding };
enum class FactorSplit
{
    SingularValuesOnB,   // B = U_r S_r, A = V_r^T (the reference's split)
    Balanced,            // B = U_r sqrt(S_r), A = sqrt(S_r) V_r^T (PiSSA)
};
enum class SvdMethod { Auto, Exact, Randomized };
enum class AdapterInit { Transfer, Plain, OwnSvd };
// How a run starts: the adapter initialisations, or no adapters at all (the untouched
// student, evaluated as a control).
enum class RunInit { Transfer, Lora, OwnSvd, None };
enum class EvalMetric { ExactMatch, AnswerNumber, Choice, Perplexity };
// Of the sensitivity's forward and backward; Auto measures which one the device runs faster.
enum class ComputeDtype { Float32, BFloat16, Auto };

template <typename E>
struct Choice
{
    E value;
    const char *name;
    const char *description;
};

template <typename E>
struct ChoiceTable
{
    const char *what;                // "sensitivity metric": in messages
    std::vector<Choice<E>> choices;  // in the order help texts and combo boxes list them
    const char *alsoAccepted = "";   // said after the names in an error, e.g. "a list like 0,2,5"

    // Throws Error "unknown <what> '<name>' (use a, b or c)" for a name not in the table.
    E parse(const std::string &name) const;
    const char *name(E value) const;
    const char *description(E value) const;
    std::vector<std::string> names() const;
    std::string nameList() const;   // "a, b or c"
    std::string help() const;       // "a: what a is; b: what b is"
    bool contains(const std::string &name) const;
};

const ChoiceTable<SensitivityMetric> &sensitivityMetrics();
const ChoiceTable<LayerStrategy> &layerStrategies();
const ChoiceTable<ReductionStructure> &reductionStructures();
const ChoiceTable<TransferOrigin> &transferOrigins();
const ChoiceTable<FactorSplit> &factorSplits();
const ChoiceTable<SvdMethod> &svdMethods();
const ChoiceTable<AdapterInit> &adapterInits();
const ChoiceTable<RunInit> &runInits();
const ChoiceTable<EvalMetric> &evalMetrics();
// The metrics a recipe's runs are compared by: the accuracies (perplexity is not one:
// `nugget-cli eval` measures it).
const ChoiceTable<EvalMetric> &recipeEvalMetrics();
const ChoiceTable<ComputeDtype> &computeDtypes();

// The same as free functions, as the rest of the code calls them.
SensitivityMetric parseSensitivityMetric(const std::string &name);
std::string sensitivityMetricName(SensitivityMetric metric);
LayerStrategy parseLayerStrategy(const std::string &name);
std::string layerStrategyName(LayerStrategy strategy);
ReductionStructure parseReductionStructure(const std::string &name);
std::string reductionStructureName(ReductionStructure structure);
TransferOrigin parseTransferOrigin(const std::string &name);
std::string transferOriginKey(TransferOrigin origin);
FactorSplit parseFactorSplit(const std::string &name);
SvdMethod parseSvdMethod(const std::string &name);
AdapterInit parseAdapterInit(const std::string &name);
std::string adapterInitName(AdapterInit init);
EvalMetric parseEvalMetric(const std::string &name);
std::string evalMetricName(EvalMetric metric);

// A recipe's "layers": a strategy name or a list of teacher layers such as "0,2,5".
// Throws Error naming the allowed names when it is neither.
void checkLayerSpec(const std::string &spec);

} // namespace nugget
