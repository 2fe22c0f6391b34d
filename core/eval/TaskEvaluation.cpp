#include "eval/TaskEvaluation.h"

#include "Error.h"
#include "eval/AnswerScoring.h"
#include "model/Generation.h"
#include "text/Tokenizer.h"

#include <QRegularExpression>
#include <QString>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace nugget {

std::string normaliseAnswer(const std::string &text)
{
    QString s = QString::fromStdString(text).trimmed().toCaseFolded();
    if (s.endsWith(u'.'))
        s.chop(1);
    return s.trimmed().toStdString();
}

std::string extractAnswerNumber(const std::string &text)
{
    static const QRegularExpression pattern(QStringLiteral("answer is\\s*\\$?\\s*(-?[0-9][0-9,]*(?:\\.[0-9]+)?)"),
                                            QRegularExpression::CaseInsensitiveOption);
    QString last;
    auto matches = pattern.globalMatch(QString::fromStdString(text));
    while (matches.hasNext())
        last = matches.next().captured(1);
    last.remove(u',');
    return last.toStdString();
}

namespace {

size_t itemCount(size_t available, const EvalOptions &options)
{
    return options.limit > 0 ? std::min<size_t>(available, static_cast<size_t>(options.limit)) : available;
}

void step(Progress *progress, size_t done, size_t total)
{
    if (!progress)
        return;
    progress->checkCancelled();
    progress->report(total ? static_cast<double>(done) / static_cast<double>(total) : 1.0,
                     std::to_string(done) + "/" + std::to_string(total));
}

// The result of `count` scored items: the share correct, progress at its end.
EvalResult finished(EvalResult result, size_t count, Progress *progress)
{
    step(progress, count, count);
    result.items = static_cast<int64_t>(count);
    result.score = count ? static_cast<double>(result.correct) / static_cast<double>(count) : 0.0;
    return result;
}

// The item's answer likelihoods: the expected answer's, and, with candidates, every
// candidate's and the expected answer's rank among them. `expectedCandidate` is the
// index of the candidate that counts as the expected answer (the item's own text need
// not be one of them, e.g. "B." among the letters A-D).
void scoreExpected(LlamaForCausalLM &model, const Tokenizer &tokenizer, const ChatExample &example,
                   const std::vector<std::string> &candidates, size_t expectedCandidate, EvalItem &item)
{
    std::vector<std::string> answers = candidates;
    auto own = std::find(answers.begin(), answers.end(), item.expected);
    if (own == answers.end())
        own = answers.insert(answers.end(), item.expected);
    const size_t ownIndex = static_cast<size_t>(own - answers.begin());
    auto scored = scoreAnswers(model, tokenizer, example, answers);
    item.answerLogProb = scored[ownIndex].logProb;
    item.answerTokenIds = std::move(scored[ownIndex].tokenIds);
    item.answerTokenLogProbs = std::move(scored[ownIndex].tokenLogProbs);
    if (candidates.empty())
        return;
    item.candidates = candidates;
    for (size_t i = 0; i < candidates.size(); ++i)
        item.candidateLogProbs.push_back(scored[i].logProb);
    item.rank = rankOf(item.candidateLogProbs[expectedCandidate], item.candidateLogProbs);
}

void finishItem(EvalResult &result, EvalItem item, const EvalOptions &options)
{
    result.correct += item.correct;
    if (options.onItem)
        options.onItem(item);
    result.details.push_back(std::move(item));
}

} // namespace

EvalResult evaluateGenerated(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                             const std::vector<ChatExample> &examples, EvalMetric metric,
                             const EvalOptions &options, Progress *progress)
{
    if (metric != EvalMetric::ExactMatch && metric != EvalMetric::AnswerNumber)
        throw Error("evaluateGenerated handles exact-match and answer-number only");
    torch::NoGradGuard noGrad;
    model->eval();
    EvalResult result;
    result.metric = metric;
    const size_t count = itemCount(examples.size(), options);
    SamplingOptions greedy;
    greedy.maxNewTokens = options.maxNewTokens;
    // Any of the model's eos ids ends an answer (Llama 3 lists several), and so does the
    // tokenizer's.
    greedy.stopIds = model->config().eosTokenIds();
    greedy.stopIds.push_back(tokenizer.eosId());
    const auto isStop = [&](int64_t id) {
        return std::find(greedy.stopIds.begin(), greedy.stopIds.end(), id) != greedy.stopIds.end();
    };
    for (size_t i = 0; i < count; ++i) {
        step(progress, i, count);
        const auto &example = examples[i];
        auto generated = generate(model, tokenizePrompt(tokenizer, example), greedy);
        if (!generated.empty() && isStop(generated.back()))
            generated.pop_back();
        EvalItem item;
        item.id = example.id;
        item.prompt = renderPrompt(example);
        item.expected = answerText(example);
        item.predicted = tokenizer.decode(generated);
        item.fields = example.fields;
        if (metric == EvalMetric::ExactMatch) {
            item.correct = normaliseAnswer(item.predicted) == normaliseAnswer(item.expected);
        } else {
            const auto expected = extractAnswerNumber(item.expected);
            if (expected.empty())
                throw Error("item '" + example.id + "' (line " + std::to_string(example.lineNumber) +
                            "): the expected answer has no \"So the answer is N\"");
            item.correct = extractAnswerNumber(item.predicted) == expected;
        }
        const auto &candidates = example.candidates;
        const size_t expectedCandidate = static_cast<size_t>(
            std::find(candidates.begin(), candidates.end(), item.expected) - candidates.begin());
        if (!candidates.empty() && expectedCandidate == candidates.size())
            throw Error("item '" + example.id + "' (line " + std::to_string(example.lineNumber) +
                        "): the expected answer is not among its candidates");
        scoreExpected(model, tokenizer, example, candidates, expectedCandidate, item);
        finishItem(result, std::move(item), options);
    }
    return finished(std::move(result), count, progress);
}

EvalResult evaluateChoice(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                          const std::vector<ChatExample> &examples, const EvalOptions &options, Progress *progress)
{
    static const QRegularExpression optionLine(QStringLiteral("^([A-Z])\\. "), QRegularExpression::MultilineOption);
    torch::NoGradGuard noGrad;
    model->eval();
    EvalResult result;
    result.metric = EvalMetric::Choice;
    const size_t count = itemCount(examples.size(), options);
    for (size_t i = 0; i < count; ++i) {
        step(progress, i, count);
        const auto &example = examples[i];
        QStringList letters;
        auto matches = optionLine.globalMatch(QString::fromStdString(renderPrompt(example)));
        while (matches.hasNext())
            letters << matches.next().captured(1);
        if (letters.isEmpty())
            letters = {QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("C"), QStringLiteral("D")};
        std::vector<std::string> choices;
        for (const auto &letter : letters)
            choices.push_back(letter.toStdString());
        EvalItem item;
        item.id = example.id;
        item.prompt = renderPrompt(example);
        item.expected = answerText(example);
        item.fields = example.fields;
        const auto expectedChoice = std::find_if(choices.begin(), choices.end(), [&](const std::string &choice) {
            return normaliseAnswer(choice) == normaliseAnswer(item.expected);
        });
        if (expectedChoice == choices.end())
            throw Error("item '" + example.id + "' (line " + std::to_string(example.lineNumber) + "): the answer \"" +
                        item.expected + "\" is none of the options " + letters.join(u',').toStdString());
        scoreExpected(model, tokenizer, example, choices, static_cast<size_t>(expectedChoice - choices.begin()), item);
        const auto best = std::max_element(item.candidateLogProbs.begin(), item.candidateLogProbs.end());
        item.predicted = choices[static_cast<size_t>(best - item.candidateLogProbs.begin())];
        item.correct = item.predicted == *expectedChoice;
        finishItem(result, std::move(item), options);
    }
    return finished(std::move(result), count, progress);
}

namespace {

EvalResult perplexityOf(LlamaForCausalLM &model, const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> &documents,
                        Progress *progress)
{
    torch::NoGradGuard noGrad;
    model->eval();
    EvalResult result;
    result.metric = EvalMetric::Perplexity;
    double negativeLogLikelihood = 0;
    const int64_t context = model->config().maxPositionEmbeddings;
    for (size_t i = 0; i < documents.size(); ++i) {
        step(progress, i, documents.size());
        const auto &[ids, labels] = documents[i];
        const int64_t length = std::min<int64_t>(static_cast<int64_t>(ids.size()), context);
        const auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + length)).unsqueeze(0);
        const auto target = torch::tensor(std::vector<int64_t>(labels.begin(), labels.begin() + length)).unsqueeze(0);
        const int64_t targets = target.narrow(1, 1, length - 1).ne(-100).sum().item<int64_t>();
        if (targets == 0)
            continue;
        negativeLogLikelihood += causalLmLoss(model->forward(input), target).item<double>() * static_cast<double>(targets);
        result.tokens += targets;
    }
    step(progress, documents.size(), documents.size());
    result.items = static_cast<int64_t>(documents.size());
    result.score = result.tokens ? std::exp(negativeLogLikelihood / static_cast<double>(result.tokens)) : NAN;
    return result;
}

} // namespace

EvalResult evaluatePerplexity(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                              const std::vector<std::string> &texts, const EvalOptions &options, Progress *progress)
{
    std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> documents;
    for (size_t i = 0; i < itemCount(texts.size(), options); ++i) {
        auto ids = tokenizer.encode(texts[i], true);
        ids.push_back(tokenizer.eosId());
        auto labels = ids;
        labels[0] = kIgnoredLabel;
        documents.emplace_back(std::move(ids), std::move(labels));
    }
    return perplexityOf(model, documents, progress);
}

EvalResult evaluateAnswerPerplexity(LlamaForCausalLM &model, const Tokenizer &tokenizer,
                                    const std::vector<ChatExample> &examples, const EvalOptions &options,
                                    Progress *progress)
{
    std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> documents;
    for (size_t i = 0; i < itemCount(examples.size(), options); ++i) {
        auto tokenized = tokenizeChat(tokenizer, examples[i]);
        documents.emplace_back(std::move(tokenized.inputIds), std::move(tokenized.labels));
    }
    return perplexityOf(model, documents, progress);
}

} // namespace nugget
