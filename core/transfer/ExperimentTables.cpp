// The experiment's tables: mean and spread per condition, and every condition paired
// with the baselines on the same items (eval/ItemComparison.h).

#include "transfer/Pipeline.h"

#include <cstdio>
#include <map>

namespace nugget {

namespace {

std::string formatted(const char *format, double a, double b = 0, double c = 0)
{
    char text[128];
    std::snprintf(text, sizeof text, format, a, b, c);
    return text;
}

std::string intervalText(const Interval &interval, const char *format)
{
    const std::string f = std::string(format) + " [" + format + ", " + format + "]";
    return formatted(f.c_str(), interval.estimate, interval.low, interval.high);
}

// "-" for an absent value; CSV cells for an interval otherwise.
std::string intervalCells(const std::optional<Interval> &interval)
{
    if (!interval)
        return ",,";
    return formatted("%.6g,%.6g,%.6g", interval->estimate, interval->low, interval->high);
}

// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csvField(const std::string &text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (const char c : text)
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

} // namespace

std::vector<ItemComparison> compareWithBaselines(const std::vector<RunReport> &runs)
{
    // Runs of each condition in seed order, conditions in the order they ran.
    std::vector<std::string> order;
    std::map<std::string, std::vector<const RunReport *>> byCondition;
    for (const auto &run : runs) {
        if (run.evaluation.details.empty())
            continue;
        auto &list = byCondition[run.condition];
        if (list.empty())
            order.push_back(run.condition);
        list.push_back(&run);
    }
    auto firstWithInit = [&](const std::string &init) -> std::string {
        for (const auto &name : order)
            if (byCondition[name].front()->init == init)
                return name;
        return {};
    };
    auto evaluations = [&](const std::string &name) {
        std::vector<const EvalResult *> list;
        for (const RunReport *run : byCondition[name])
            list.push_back(&run->evaluation);
        return list;
    };
    std::vector<ItemComparison> comparisons;
    for (const std::string &baseline : {firstWithInit("none"), firstWithInit("lora")}) {
        if (baseline.empty())
            continue;
        for (const auto &name : order)
            if (name != baseline && byCondition[name].size() == byCondition[baseline].size())
                comparisons.push_back(compareItems(name, evaluations(name), baseline, evaluations(baseline)));
    }
    return comparisons;
}

std::string ExperimentResult::markdown(const std::string &evalMetric) const
{
    std::string text = "| condition | " + evalMetric + " mean (%) | std (pp) | per seed (%) | seconds |\n"
                       "|---|---|---|---|---|\n";
    for (const auto &c : conditions) {
        std::string perSeed;
        for (const double s : c.scores)
            perSeed += formatted(perSeed.empty() ? "%.1f" : ", %.1f", 100.0 * s);
        text += "| " + c.name + " | " + formatted("%.1f | %.1f", 100.0 * c.mean, 100.0 * c.standardDeviation) + " | " +
                perSeed + " | " + formatted("%.0f", c.seconds) + " |\n";
    }
    std::string baseline;
    for (const auto &c : comparisons) {
        if (c.baseline != baseline) {
            baseline = c.baseline;
            text += "\nPaired with " + baseline + " on the same " + std::to_string(c.items) + " items and " +
                    std::to_string(c.seeds) +
                    " seeds (estimate [95 % interval], resampling items and seeds; flips and McNemar's exact test on "
                    "each item's majority over seeds):\n\n"
                    "| condition | Δ answer log-prob (nats) | Δ reciprocal rank | flips + / − | McNemar p |\n"
                    "|---|---|---|---|---|\n";
        }
        text += "| " + c.condition + " | " + intervalText(c.logProb, "%+.3f") + " | " +
                (c.reciprocalRank ? intervalText(*c.reciprocalRank, "%+.4f") : std::string("-")) + " | " +
                std::to_string(c.exactMatch.gained) + " / " + std::to_string(c.exactMatch.lost) + " | " +
                formatted("%.3g", c.exactMatch.pValue) + " |\n";
    }
    return text;
}

std::string ExperimentResult::csv() const
{
    std::string text = "condition,seed,score,seconds\n";
    for (const auto &run : runs)
        text += csvField(run.condition) + "," + std::to_string(run.seed) + "," + std::to_string(run.evaluation.score) + "," +
                std::to_string(run.seconds) + "\n";
    return text;
}

std::string ExperimentResult::comparisonsCsv() const
{
    std::string text = "condition,baseline,items,seeds,logprob_diff,logprob_low,logprob_high,"
                       "reciprocal_rank_diff,reciprocal_rank_low,reciprocal_rank_high,ranked_items,gained,lost,"
                       "mcnemar_p\n";
    for (const auto &c : comparisons)
        text += csvField(c.condition) + "," + csvField(c.baseline) + "," + std::to_string(c.items) + "," + std::to_string(c.seeds) + "," +
                intervalCells(c.logProb) + "," + intervalCells(c.reciprocalRank) + "," +
                std::to_string(c.rankedItems) + "," + std::to_string(c.exactMatch.gained) + "," +
                std::to_string(c.exactMatch.lost) + "," + formatted("%.6g", c.exactMatch.pValue) + "\n";
    return text;
}

} // namespace nugget
