#pragma once
// One condition against a baseline on the same items and seeds, from their item
// records: how much more likely the expected answers became (mean difference of
// answer_logprob), how much higher they rank among their candidates (mean difference of
// the reciprocal rank), each with a 95 % bootstrap interval that resamples items and
// seeds, and which items flipped under exact match, with McNemar's exact test.
//
// McNemar's test needs independent pairs: the items are, the seeds of one item are not.
// So each item's verdict is its majority over seeds (right in more than half of them),
// and the test runs on those verdicts; the flip lists are the items whose verdict changed.

#include "eval/PairedStatistics.h"
#include "eval/TaskEvaluation.h"

#include <optional>
#include <string>
#include <vector>

namespace nugget {

struct ItemComparison
{
    std::string condition;
    std::string baseline;
    int64_t items = 0;
    int64_t seeds = 0;
    Interval logProb;                          // nats per item, condition - baseline
    std::optional<Interval> reciprocalRank;    // over the items with candidates
    int64_t rankedItems = 0;
    McNemarResult exactMatch;                  // gained: wrong under the baseline, right under the condition
    std::vector<std::string> gainedIds;
    std::vector<std::string> lostIds;
};

// conditionRuns[s] and baselineRuns[s] are the evaluations of seed s. Throws Error when
// the seed counts differ, a run has no item records, or the runs do not hold the same
// items in the same order.
ItemComparison compareItems(const std::string &condition, const std::vector<const EvalResult *> &conditionRuns,
                            const std::string &baseline, const std::vector<const EvalResult *> &baselineRuns,
                            const BootstrapOptions &options = {});

// One line for tables and tooltips: "Δ log p +0.123 [+0.051, +0.198] · Δ RR +0.0100
// [-0.0020, +0.0210] · flips +3 / −1, McNemar p 0.625".
std::string comparisonSummary(const ItemComparison &comparison);
// The log-probability change alone, for narrow cells: "+0.123 [+0.051, +0.198]".
std::string comparisonBrief(const ItemComparison &comparison);

} // namespace nugget
