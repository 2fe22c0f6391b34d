#pragma once
// How likely a model finds an answer: the natural-log probability of the answer
// teacher-forced after the prompt, summed over exactly the tokens the training loss
// scores (the last assistant message and the closing EOS, tokenized as tokenizeChat
// does). Alternatives sharing one prompt are scored together: one forward pass over the
// prompt fills a key/value cache, then the answers run as one batch after it.

#include "model/LlamaModel.h"
#include "text/ChatDataset.h"

#include <string>
#include <vector>

namespace nugget {

class Tokenizer;

struct AnswerLikelihood
{
    double logProb = 0;                  // sum of tokenLogProbs
    std::vector<int64_t> tokenIds;       // the scored tokens (answer, then EOS)
    std::vector<double> tokenLogProbs;   // log-probability of each, given everything before it
};

// `answers[i]` in place of the example's last assistant message, each scored after the
// example's prompt (log-softmax of the model's logits: the normaliser in float32, the
// sums in float64). An answer whose
// tokens do not continue the shared prompt tokens (a merge across the boundary) is
// scored on its own. Empty `answers` gives an empty result.
std::vector<AnswerLikelihood> scoreAnswers(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                                           const ChatExample &example, const std::vector<std::string> &answers);

// 1 + the number of log-probabilities strictly above `target` (ties share the better rank).
int64_t rankOf(double target, const std::vector<double> &logProbs);

} // namespace nugget
