// Task metrics: answer normalisation, answer-number extraction, exact match through
// real generation, multiple-choice scoring and perplexity against direct computation.

#include "TestSupport.h"

#include "eval/TaskEvaluation.h"
#include "model/Generation.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"

#include <torch/torch.h>

#include <cmath>

using namespace nugget;

namespace {

ChatExample example(const std::string &id, const std::string &user, const std::string &assistant)
{
    ChatExample e;
    e.id = id;
    e.messages = {{"user", user}, {"assistant", assistant}};
    return e;
}

QString stories() { return nugget::test::sharedPath(QStringLiteral("models/stories260K")); }

} // namespace

class TestTaskEvaluation : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void normalisation_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<bool>("equal");
        QTest::newRow("period") << "Princeton, NJ." << "Princeton, NJ" << true;
        QTest::newRow("case and space") << "  princeton, nj. " << "Princeton, NJ." << true;
        QTest::newRow("different") << "Princeton, NJ." << "Trenton, NJ." << false;
        QTest::newRow("inner period kept") << "U.S. Bank" << "US Bank" << false;
    }

    void normalisation()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(bool, equal);
        QCOMPARE(normaliseAnswer(a.toStdString()) == normaliseAnswer(b.toStdString()), equal);
    }

    void answerNumbers()
    {
        QCOMPARE(extractAnswerNumber("15-5=10 cats. So the answer is 10."), std::string("10"));
        QCOMPARE(extractAnswerNumber("So the answer is 1,250."), std::string("1250"));
        QCOMPARE(extractAnswerNumber("the answer is 3. No wait, the answer is 4."), std::string("4"));
        QCOMPARE(extractAnswerNumber("no number here"), std::string());
        QCOMPARE(extractAnswerNumber("So the answer is -7."), std::string("-7"));
    }

    void exactMatchScoresTheModelsOwnGreedyAnswer()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        auto loaded = loadModelFolder(stories().toStdString());
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        auto probe = example("a", "Once upon a time", "placeholder");
        SamplingOptions greedy;
        greedy.maxNewTokens = 12;
        greedy.stopIds = {tokenizer->eosId()};
        auto ids = generate(loaded.model, tokenizePrompt(*tokenizer, probe), greedy);
        if (!ids.empty() && ids.back() == tokenizer->eosId())
            ids.pop_back();
        const std::string greedyText = tokenizer->decode(ids);

        const std::vector<ChatExample> items{example("right", "Once upon a time", greedyText),
                                             example("wrong", "Once upon a time", greedyText + " and more")};
        EvalOptions options;
        options.maxNewTokens = 12;
        const auto result = evaluateGenerated(loaded.model, *tokenizer, items, EvalMetric::ExactMatch, options);
        QCOMPARE(result.items, int64_t(2));
        QCOMPARE(result.correct, int64_t(1));
        QVERIFY(result.details[0].correct);
        QCOMPARE(result.details[1].predicted, greedyText);
        QCOMPARE(result.score, 0.5);
    }

    void choicePicksTheMostLikelyOption()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        auto loaded = loadModelFolder(stories().toStdString());
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        const auto item = example("q", "Pick one.\nA. cat\nB. dog\nC. sun\nAnswer:", "B");
        const auto result = evaluateChoice(loaded.model, *tokenizer, {item});

        // Direct: log-likelihood of each letter + EOS after the prompt.
        torch::NoGradGuard noGrad;
        const auto prompt = tokenizePrompt(*tokenizer, item);
        const std::string promptText = renderPrompt(item);
        std::string best;
        double bestScore = -INFINITY;
        for (const std::string letter : {"A", "B", "C"}) {
            auto joint = tokenizer->encode(promptText + letter);
            std::vector<int64_t> answer(joint.begin() + static_cast<long>(tokenizer->encode(promptText).size()), joint.end());
            answer.push_back(tokenizer->eosId());
            auto all = prompt;
            all.insert(all.end(), answer.begin(), answer.end());
            const auto logProbs = torch::log_softmax(loaded.model->forward(torch::tensor(all).unsqueeze(0))[0].to(at::kDouble), -1);
            double score = 0;
            for (size_t i = 0; i < answer.size(); ++i)
                score += logProbs[static_cast<int64_t>(prompt.size() + i - 1)][answer[i]].item<double>();
            if (score > bestScore) {
                bestScore = score;
                best = letter;
            }
        }
        QCOMPARE(result.details[0].predicted, best);
        QCOMPARE(result.correct, int64_t(best == "B"));
    }

    void perplexityIsTheExponentialOfTheMeanLoss()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        auto loaded = loadModelFolder(stories().toStdString());
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        const std::vector<std::string> texts{"Once upon a time, there was a cat.", "Lily went to the park."};
        const auto result = evaluatePerplexity(loaded.model, *tokenizer, texts);

        torch::NoGradGuard noGrad;
        double nll = 0;
        int64_t tokens = 0;
        for (const auto &text : texts) {
            auto ids = tokenizer->encode(text, true);
            ids.push_back(tokenizer->eosId());
            const auto logProbs = torch::log_softmax(loaded.model->forward(torch::tensor(ids).unsqueeze(0))[0].to(at::kDouble), -1);
            for (size_t t = 1; t < ids.size(); ++t)
                nll -= logProbs[static_cast<int64_t>(t - 1)][ids[t]].item<double>();
            tokens += static_cast<int64_t>(ids.size()) - 1;
        }
        QCOMPARE(result.tokens, tokens);
        QVERIFY(std::abs(result.score - std::exp(nll / tokens)) < 1e-3 * result.score);
    }
};

QTEST_GUILESS_MAIN(TestTaskEvaluation)
#include "test_task_evaluation.moc"
