#pragma once
// Task metrics: exact match of the generated answer, the number after "So the answer
// is", multiple-choice log-likelihood, and perplexity. The accuracy metrics keep one
// record per item (eval/ItemRecords.h writes them): the greedy answer and, from
// eval/AnswerScoring.h, the expected answer's log-probability and its rank among the
// item's candidates.

#include "jobs/Progress.h"
#include "model/LlamaModel.h"
#include "text/ChatDataset.h"
#include "transfer/RecipeChoices.h"

#include <QJsonObject>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace nugget {

class Tokenizer;

// EvalMetric, parseEvalMetric and evalMetricName: transfer/RecipeChoices.h

struct EvalItem
{
    std::string id;
    std::string prompt;      // as rendered for the model (renderPrompt)
    std::string expected;
    std::string predicted;   // greedy answer, or the best-scored choice
    bool correct = false;    // by the task's metric
    // The expected answer teacher-forced after the prompt: the tokens the training loss
    // scores (answer and EOS), each one's log-probability, and their sum.
    double answerLogProb = NAN;
    std::vector<int64_t> answerTokenIds;
    std::vector<double> answerTokenLogProbs;
    // With alternatives (a multiple-choice item's letters, a candidate set): the expected
    // answer's rank among them (1 = most likely; 0: no alternatives) and each one's
    // log-probability.
    int64_t rank = 0;
    std::vector<std::string> candidates;
    std::vector<double> candidateLogProbs;
    QJsonObject fields;      // the item's other input fields, passed through

    int64_t answerTokens() const { return static_cast<int64_t>(answerTokenIds.size()); }
};

struct EvalResult
{
    EvalMetric metric = EvalMetric::ExactMatch;
    double score = 0;          // accuracy in [0, 1], or perplexity
    int64_t items = 0;
    int64_t correct = 0;       // accuracy metrics only
    int64_t tokens = 0;        // perplexity: tokens scored
    std::vector<EvalItem> details;
};

struct EvalOptions
{
    int64_t maxNewTokens = 48;
    int64_t limit = 0;         // evaluate only the first N items (0: all)
    // Called with each finished item, in order, on the evaluating thread (live views).
    std::function<void(const EvalItem &)> onItem;
};

// Case, surrounding whitespace and final period are ignored.
std::string normaliseAnswer(const std::string &text);
// N from "... So the answer is N." (commas and a trailing period removed); empty if absent.
std::string extractAnswerNumber(const std::string &text);

// Greedy-decodes each example's prompt and compares with its last assistant message.
EvalResult evaluateGenerated(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                             const std::vector<ChatExample> &examples, EvalMetric metric,
                             const EvalOptions &options = {}, Progress *progress = nullptr);
// Picks the option (letters from "A. ..." lines of the prompt, else A-D) whose answer
// has the highest log-likelihood after the prompt; the letters are the item's candidates.
EvalResult evaluateChoice(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                          const std::vector<ChatExample> &examples, const EvalOptions &options = {},
                          Progress *progress = nullptr);
// exp(mean negative log-likelihood) over every token after BOS of each text.
EvalResult evaluatePerplexity(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                              const std::vector<std::string> &texts, const EvalOptions &options = {},
                              Progress *progress = nullptr);
// Perplexity of chat examples on their answers only.
EvalResult evaluateAnswerPerplexity(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                                    const std::vector<ChatExample> &examples, const EvalOptions &options = {},
                                    Progress *progress = nullptr);

} // namespace nugget
