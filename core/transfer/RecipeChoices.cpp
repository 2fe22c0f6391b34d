#include "transfer/RecipeChoices.h"

#include "Error.h"

#include <algorithm>
#include <cctype>

namespace nugget {

namespace {

std::string lowered(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

} // namespace

template <typename E>
E ChoiceTable<E>::parse(const std::string &text) const
{
    const auto key = lowered(text);
    for (const auto &c : choices)
        if (key == c.name)
            return c.value;
    throw Error("unknown " + std::string(what) + " '" + text + "' (use " + nameList() + ")");
}

template <typename E>
const char *ChoiceTable<E>::name(E value) const
{
    for (const auto &c : choices)
        if (c.value == value)
            return c.name;
    return "unknown";
}

template <typename E>
const char *ChoiceTable<E>::description(E value) const
{
    for (const auto &c : choices)
        if (c.value == value)
            return c.description;
    return "";
}

template <typename E>
std::vector<std::string> ChoiceTable<E>::names() const
{
    std::vector<std::string> result;
    for (const auto &c : choices)
        result.emplace_back(c.name);
    return result;
}

template <typename E>
std::string ChoiceTable<E>::nameList() const
{
    std::string text;
    const auto all = names();
    const bool more = *alsoAccepted != '\0';
    for (size_t i = 0; i < all.size(); ++i) {
        if (i > 0)
            text += (i + 1 == all.size() && !more) ? " or " : ", ";
        text += all[i];
    }
    if (more)
        text += std::string(" or ") + alsoAccepted;
    return text;
}

template <typename E>
std::string ChoiceTable<E>::help() const
{
    std::string text;
    for (const auto &c : choices)
        text += (text.empty() ? "" : "; ") + std::string(c.name) + ": " + c.description;
    return text;
}

template <typename E>
bool ChoiceTable<E>::contains(const std::string &text) const
{
    const auto key = lowered(text);
    return std::any_of(choices.begin(), choices.end(), [&](const Choice<E> &c) { return key == c.name; });
}

template struct ChoiceTable<SensitivityMetric>;
template struct ChoiceTable<LayerStrategy>;
template struct ChoiceTable<ReductionStructure>;
template struct ChoiceTable<TransferOrigin>;
template struct ChoiceTable<FactorSplit>;
template struct ChoiceTable<SvdMethod>;
template struct ChoiceTable<AdapterInit>;
template struct ChoiceTable<RunInit>;
template struct ChoiceTable<EvalMetric>;
template struct ChoiceTable<ComputeDtype>;

const ChoiceTable<SensitivityMetric> &sensitivityMetrics()
{
    static const ChoiceTable<SensitivityMetric> table{
        "sensitivity metric",
        {{SensitivityMetric::Taylor, "taylor", "|W dL/dW|, first-order Taylor importance (the method's)"},
         {SensitivityMetric::Fisher, "fisher", "(dL/dW)^2, the diagonal Fisher information"},
         {SensitivityMetric::Magnitude, "magnitude", "|W|, the weights alone (no samples needed)"}}};
    return table;
}

const ChoiceTable<LayerStrategy> &layerStrategies()
{
    static const ChoiceTable<LayerStrategy> table{
        "layer selection",
        {{LayerStrategy::Sensitivity, "sensitivity", "the teacher layers with the highest total score"},
         {LayerStrategy::Top, "top", "the first layers"},
         {LayerStrategy::Last, "last", "the last layers"},
         {LayerStrategy::Random, "random", "a seeded random set"},
         {LayerStrategy::Manual, "manual", "layers picked by hand (a list like 0,2,5)"}},
        "a list like 0,2,5"};
    return table;
}

const ChoiceTable<ReductionStructure> &reductionStructures()
{
    static const ChoiceTable<ReductionStructure> table{
        "reduction structure",
        {{ReductionStructure::Submatrix, "submatrix", "the contiguous window with the highest total score"},
         {ReductionStructure::RowCol, "rowcol", "the top-scoring rows and columns"},
         {ReductionStructure::Neuron, "neuron", "whole output neurons"},
         {ReductionStructure::Random, "random", "seeded random rows and columns (a control)"}}};
    return table;
}

const ChoiceTable<TransferOrigin> &transferOrigins()
{
    static const ChoiceTable<TransferOrigin> table{
        "origin",
        {{TransferOrigin::All, "all", "every matrix of the selected layers"},
         {TransferOrigin::FeedForward, "ffn", "the feed-forward matrices (gate, up, down)"},
         {TransferOrigin::Attention, "attention", "the attention matrices (q, k, v, o)"},
         {TransferOrigin::Embedding, "embedding", "the token embedding"}}};
    return table;
}

const ChoiceTable<FactorSplit> &factorSplits()
{
    static const ChoiceTable<FactorSplit> table{
        "factor split",
        {{FactorSplit::SingularValuesOnB, "reference", "B = U S, A = V^T (the reference's split)"},
         {FactorSplit::Balanced, "pissa", "sqrt(S) on both factors (PiSSA)"}}};
    return table;
}

const ChoiceTable<SvdMethod> &svdMethods()
{
    static const ChoiceTable<SvdMethod> table{
        "SVD method",
        {{SvdMethod::Auto, "auto", "randomized for matrices of 4096 x 4096 and more (7B-13B models), else exact"},
         {SvdMethod::Exact, "exact", "the exact truncated SVD"},
         {SvdMethod::Randomized, "randomized", "the randomized SVD (about a second per 7B-sized matrix)"}}};
    return table;
}

const ChoiceTable<AdapterInit> &adapterInits()
{
    static const ChoiceTable<AdapterInit> table{
        "adapter initialisation",
        {{AdapterInit::Transfer, "transfer", "the teacher's factorised matrices (the method)"},
         {AdapterInit::Plain, "lora", "plain LoRA"},
         {AdapterInit::OwnSvd, "own-svd", "the student's own SVD (a control)"}}};
    return table;
}

const ChoiceTable<RunInit> &runInits()
{
    static const ChoiceTable<RunInit> table{
        "initialisation",
        {{RunInit::Transfer, "transfer", "the teacher's factorised matrices (the method)"},
         {RunInit::Lora, "lora", "plain LoRA"},
         {RunInit::OwnSvd, "own-svd", "the student's own SVD (a control)"},
         {RunInit::None, "none", "no adapters: the student evaluated untouched"}}};
    return table;
}

const ChoiceTable<EvalMetric> &evalMetrics()
{
    static const ChoiceTable<EvalMetric> table{
        "metric",
        {{EvalMetric::ExactMatch, "exact-match", "the generated answer equals the expected one"},
         {EvalMetric::AnswerNumber, "answer-number", "the number after \"So the answer is\" is right"},
         {EvalMetric::Choice, "choice", "the most likely option is the right one"},
         {EvalMetric::Perplexity, "perplexity", "perplexity of the answers"}}};
    return table;
}

const ChoiceTable<EvalMetric> &recipeEvalMetrics()
{
    static const ChoiceTable<EvalMetric> table{"evaluation metric of a transfer",
                                              {evalMetrics().choices.begin(), evalMetrics().choices.end() - 1}};
    return table;
}

const ChoiceTable<ComputeDtype> &computeDtypes()
{
    static const ChoiceTable<ComputeDtype> table{
        "compute dtype",
        {{ComputeDtype::Float32, "float32", "exact"},
         {ComputeDtype::BFloat16, "bfloat16", "8 significant bits, scores still summed in float32"},
         {ComputeDtype::Auto, "auto",
          "bfloat16 where this device multiplies it at least twice as fast (GPUs, CPUs with AMX), else float32"}}};
    return table;
}

SensitivityMetric parseSensitivityMetric(const std::string &name) { return sensitivityMetrics().parse(name); }
std::string sensitivityMetricName(SensitivityMetric metric) { return sensitivityMetrics().name(metric); }
LayerStrategy parseLayerStrategy(const std::string &name) { return layerStrategies().parse(name); }
std::string layerStrategyName(LayerStrategy strategy) { return layerStrategies().name(strategy); }
ReductionStructure parseReductionStructure(const std::string &name) { return reductionStructures().parse(name); }
std::string reductionStructureName(ReductionStructure structure) { return reductionStructures().name(structure); }
TransferOrigin parseTransferOrigin(const std::string &name) { return transferOrigins().parse(name); }
std::string transferOriginKey(TransferOrigin origin) { return transferOrigins().name(origin); }
FactorSplit parseFactorSplit(const std::string &name) { return factorSplits().parse(name); }
SvdMethod parseSvdMethod(const std::string &name) { return svdMethods().parse(name); }
AdapterInit parseAdapterInit(const std::string &name) { return adapterInits().parse(name); }
std::string adapterInitName(AdapterInit init) { return adapterInits().name(init); }
EvalMetric parseEvalMetric(const std::string &name) { return evalMetrics().parse(name); }
std::string evalMetricName(EvalMetric metric) { return evalMetrics().name(metric); }

void checkLayerSpec(const std::string &spec)
{
    const bool list = !spec.empty() && (std::isdigit(static_cast<unsigned char>(spec[0])) || spec.find(',') != std::string::npos);
    if (!list) {
        if (parseLayerStrategy(spec) == LayerStrategy::Manual)
            throw Error("'manual' needs the layers themselves: give a list like 0,2,5");
        return;
    }
    // The range and the count are checked against the models (manualLayers).
    for (const char c : spec)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != ',' && c != ' ')
            throw Error("layer list '" + spec + "': expected teacher layer numbers separated by commas, like 0,2,5");
}

} // namespace nugget
