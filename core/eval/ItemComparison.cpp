#include "eval/ItemComparison.h"

#include "Error.h"

#include <cstdio>

namespace nugget {

ItemComparison compareItems(const std::string &condition, const std::vector<const EvalResult *> &conditionRuns,
                            const std::string &baseline, const std::vector<const EvalResult *> &baselineRuns,
                            const BootstrapOptions &options)
{
    const std::string what = "comparing " + condition + " with " + baseline + ": ";
    if (conditionRuns.empty() || conditionRuns.size() != baselineRuns.size())
        throw Error(what + "the two need the same, non-zero number of seeds");
    const auto &reference = conditionRuns.front()->details;
    if (reference.empty())
        throw Error(what + "the runs kept no item records");
    for (const auto *runs : {&conditionRuns, &baselineRuns})
        for (const EvalResult *run : *runs) {
            if (run->details.size() != reference.size())
                throw Error(what + "the runs evaluated different numbers of items");
            for (size_t i = 0; i < reference.size(); ++i)
                if (run->details[i].id != reference[i].id)
                    throw Error(what + "item " + std::to_string(i + 1) + " is " + reference[i].id + " in one run and " +
                                run->details[i].id + " in another");
        }

    ItemComparison result;
    result.condition = condition;
    result.baseline = baseline;
    result.items = static_cast<int64_t>(reference.size());
    result.seeds = static_cast<int64_t>(conditionRuns.size());
    std::vector<std::vector<double>> logProbs, reciprocalRanks;
    std::vector<int> conditionRight(reference.size(), 0), baselineRight(reference.size(), 0);
    for (size_t s = 0; s < conditionRuns.size(); ++s) {
        const auto &after = conditionRuns[s]->details;
        const auto &before = baselineRuns[s]->details;
        logProbs.emplace_back();
        reciprocalRanks.emplace_back();
        for (size_t i = 0; i < after.size(); ++i) {
            logProbs.back().push_back(after[i].answerLogProb - before[i].answerLogProb);
            if (after[i].rank > 0 && before[i].rank > 0)
                reciprocalRanks.back().push_back(1.0 / static_cast<double>(after[i].rank) -
                                                 1.0 / static_cast<double>(before[i].rank));
            conditionRight[i] += after[i].correct;
            baselineRight[i] += before[i].correct;
        }
    }
    result.logProb = crossedBootstrapMean(logProbs, options);
    result.rankedItems = static_cast<int64_t>(reciprocalRanks.front().size());
    if (result.rankedItems > 0)
        result.reciprocalRank = crossedBootstrapMean(reciprocalRanks, options);

    int64_t gained = 0, lost = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
        const bool after = 2 * conditionRight[i] > static_cast<int>(conditionRuns.size());
        const bool before = 2 * baselineRight[i] > static_cast<int>(conditionRuns.size());
        if (after && !before) {
            ++gained;
            result.gainedIds.push_back(reference[i].id);
        } else if (before && !after) {
            ++lost;
            result.lostIds.push_back(reference[i].id);
        }
    }
    result.exactMatch = mcnemarExact(gained, lost);
    return result;
}

std::string comparisonBrief(const ItemComparison &comparison)
{
    char text[96];
    std::snprintf(text, sizeof text, "%+.3f [%+.3f, %+.3f]", comparison.logProb.estimate, comparison.logProb.low,
                  comparison.logProb.high);
    return text;
}

std::string comparisonSummary(const ItemComparison &comparison)
{
    char text[256];
    std::snprintf(text, sizeof text, "Δ log p %+.3f [%+.3f, %+.3f]", comparison.logProb.estimate, comparison.logProb.low,
                  comparison.logProb.high);
    std::string line = text;
    if (comparison.reciprocalRank) {
        const auto &rr = *comparison.reciprocalRank;
        std::snprintf(text, sizeof text, " · Δ RR %+.4f [%+.4f, %+.4f]", rr.estimate, rr.low, rr.high);
        line += text;
    }
    std::snprintf(text, sizeof text, " · flips +%lld / −%lld, McNemar p %.3g",
                  static_cast<long long>(comparison.exactMatch.gained), static_cast<long long>(comparison.exactMatch.lost),
                  comparison.exactMatch.pValue);
    return line + text;
}

} // namespace nugget
