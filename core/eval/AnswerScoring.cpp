#include "eval/AnswerScoring.h"

#include "Error.h"
#include "text/Tokenizer.h"

#include <torch/torch.h>

#include <algorithm>

namespace nugget {

namespace {

// A chunk's logits stay under 32 MB (float32). 32 rows a chunk measured fastest on the
// demo teacher (nugget-cli bench candidates: 0.16 s/item, against 0.20 s at 16 rows and
// 0.25 s at 128), small chunks also padding less.
constexpr int64_t kChunkElements = int64_t(1) << 23;
constexpr size_t kChunkRows = 32;

ChatExample withAnswer(const ChatExample &example, const std::string &answer)
{
    ChatExample copy = example;
    for (size_t i = copy.messages.size(); i-- > 0;)
        if (copy.messages[i].role == "assistant") {
            copy.messages[i].content = answer;
            return copy;
        }
    throw Error("example " + example.id + ": no assistant message");
}

// Log-probabilities of rows[b][t + 1] given rows[b][..t], for t in [from, from + count[b]).
// logits [batch, time, vocab]. Only the normaliser runs over the vocabulary (logsumexp,
// in float32: its relative error ~1e-7 stays far below what rankings and sums need); the
// picked logits minus it are summed in float64.
void gatherLogProbs(const at::Tensor &logits, const std::vector<std::vector<int64_t>> &rows, int64_t from,
                    const std::vector<int64_t> &counts, std::vector<AnswerLikelihood *> &out)
{
    const auto values = logits.to(at::kFloat).cpu().contiguous();
    const auto normalisers = torch::logsumexp(values, -1).to(at::kDouble).contiguous();
    const auto table = values.accessor<float, 3>();
    const auto norms = normalisers.accessor<double, 2>();
    for (size_t b = 0; b < rows.size(); ++b) {
        AnswerLikelihood &answer = *out[b];
        const auto row = static_cast<int64_t>(b);
        for (int64_t t = from; t < from + counts[b]; ++t) {
            const int64_t id = rows[b][static_cast<size_t>(t + 1)];
            const double value = static_cast<double>(table[row][t][id]) - norms[row][t];
            answer.tokenIds.push_back(id);
            answer.tokenLogProbs.push_back(value);
            answer.logProb += value;
        }
    }
}

// The whole sequence in one forward pass (no shared prompt).
void scoreAlone(LlamaForCausalLM &model, const TokenizedExample &tokens, AnswerLikelihood &out)
{
    const auto options = torch::TensorOptions().dtype(at::kLong).device(model->device());
    const auto logits = model->forward(torch::tensor(tokens.inputIds, options).unsqueeze(0));
    std::vector<AnswerLikelihood *> target{&out};
    const int64_t start = std::max<int64_t>(tokens.promptLength, 1) - 1;
    gatherLogProbs(logits, {tokens.inputIds}, start, {static_cast<int64_t>(tokens.inputIds.size()) - 1 - start}, target);
}

} // namespace

std::vector<AnswerLikelihood> scoreAnswers(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                                           const ChatExample &example, const std::vector<std::string> &answers)
{
    torch::NoGradGuard noGrad;
    model->eval();
    std::vector<AnswerLikelihood> result(answers.size());
    if (answers.empty())
        return result;
    std::vector<TokenizedExample> tokens;
    tokens.reserve(answers.size());
    for (const auto &answer : answers)
        tokens.push_back(tokenizeChat(tokenizer, withAnswer(example, answer)));

    // The prompt every answer shares, but its last token: that one starts each batch row,
    // so that the row's first logits predict the answer's first token.
    const int64_t promptLength = tokens.front().promptLength;
    const std::vector<int64_t> prompt(tokens.front().inputIds.begin(), tokens.front().inputIds.begin() + promptLength);
    std::vector<size_t> shared;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const auto &ids = tokens[i].inputIds;
        const bool continues = promptLength >= 2 && tokens[i].promptLength == promptLength &&
                               static_cast<int64_t>(ids.size()) > promptLength &&
                               std::equal(prompt.begin(), prompt.end(), ids.begin());
        if (continues)
            shared.push_back(i);
        else
            scoreAlone(model, tokens[i], result[i]);
    }
    if (shared.empty())
        return result;

    const auto options = torch::TensorOptions().dtype(at::kLong).device(model->device());
    KVCache promptCache;
    model->forward(torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end() - 1), options).unsqueeze(0),
                   &promptCache);
    // Shortest first, in chunks of similar length: a chunk is padded to its longest row
    // only, and its logits stay under kChunkElements.
    const auto rowLength = [&](size_t i) {
        return static_cast<int64_t>(tokens[i].inputIds.size()) - promptLength + 1;
    };
    std::stable_sort(shared.begin(), shared.end(), [&](size_t a, size_t b) { return rowLength(a) < rowLength(b); });
    const int64_t vocab = model->config().vocabSize;
    for (size_t begin = 0; begin < shared.size();) {
        size_t end = begin + 1;
        while (end < shared.size() && end - begin < kChunkRows &&
               rowLength(shared[end]) * vocab * static_cast<int64_t>(end - begin + 1) <= kChunkElements)
            ++end;
        const int64_t longest = rowLength(shared[end - 1]);
        const auto batch = static_cast<int64_t>(end - begin);
        std::vector<std::vector<int64_t>> rows;
        std::vector<int64_t> counts, flat;
        std::vector<AnswerLikelihood *> targets;
        for (size_t k = begin; k < end; ++k) {
            const auto &ids = tokens[shared[k]].inputIds;
            std::vector<int64_t> row(ids.begin() + promptLength - 1, ids.end());
            counts.push_back(static_cast<int64_t>(row.size()) - 1);
            // Padding after the answer: causal attention keeps it out of the answer's logits.
            row.resize(static_cast<size_t>(longest), ids.back());
            flat.insert(flat.end(), row.begin(), row.end());
            rows.push_back(std::move(row));
            targets.push_back(&result[shared[k]]);
        }
        KVCache cache;
        for (size_t layer = 0; layer < promptCache.keys.size(); ++layer) {
            cache.keys.push_back(promptCache.keys[layer].expand({batch, -1, -1, -1}));
            cache.values.push_back(promptCache.values[layer].expand({batch, -1, -1, -1}));
        }
        const auto logits = model->forward(torch::tensor(flat, options).view({batch, longest}), &cache);
        gatherLogProbs(logits, rows, 0, counts, targets);
        begin = end;
    }
    return result;
}

int64_t rankOf(double target, const std::vector<double> &logProbs)
{
    return 1 + std::count_if(logProbs.begin(), logProbs.end(), [&](double value) { return value > target; });
}

} // namespace nugget
