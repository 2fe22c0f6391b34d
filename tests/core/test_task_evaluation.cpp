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

QString demoTokenizer() { return nugget::test::sourceDir() + QStringLiteral("/resources/demo/tokenizer.model"); }

// A one-layer model whose next-token choice is fixed by construction: the attention and
// MLP outputs are zeroed, so each position's logits depend on its own token only. The
// newline that ends every prompt ("<|assistant|>\n") carries a marker that the head maps
// to `letter` (as a piece alone or after a space), and that letter carries a second marker
// that the head maps to EOS. Every other token has both markers at zero, so after the
// prompt "letter, EOS" has probability near 1 and any other letter near e^-20.
// `extraEos`: more ids that end generation, as config.json's eos_token_id list gives them.
LlamaForCausalLM modelAnswering(const Tokenizer &tokenizer, const std::string &letter,
                                const std::vector<int64_t> &extraEos = {})
{
    const int64_t hidden = 16;
    auto config = test::llamaConfig(hidden, 32, 1, 2, 2, tokenizer.vocabSize(), 256);
    config.extraEosTokenIds = extraEos;
    LlamaForCausalLM model(config);
    initialiseWeights(model, 0.02, 7);
    torch::NoGradGuard noGrad;
    model->model->layer(0)->self_attn->o_proj->weight.zero_();
    model->model->layer(0)->mlp->down_proj->weight.zero_();

    const int64_t promptEnd = 0, letterMark = 1;
    const double strength = 20.0 / std::sqrt(double(hidden));   // RMSNorm scales a unit marker to sqrt(hidden)
    auto embedding = model->model->embed_tokens->weight;
    auto head = model->lm_head->weight;
    embedding.narrow(1, 0, 2).zero_();
    head.narrow(1, 0, 2).zero_();

    const int64_t newline = tokenizer.pieceToId("<0x0A>");
    embedding[newline].zero_();
    embedding[newline][promptEnd] = 1.0;
    for (const std::string &piece : {letter, "\u2581" + letter}) {
        const int64_t id = tokenizer.pieceToId(piece);
        if (id == tokenizer.unkId())
            continue;
        embedding[id].zero_();
        embedding[id][letterMark] = 1.0;
        head[id][promptEnd] = strength;
    }
    head[tokenizer.eosId()][letterMark] = strength;
    return model;
}

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

    // A model whose config lists several eos ids (Llama 3 does) ends its answer at any
    // of them, not only at the tokenizer's EOS, and the stop id is not part of the answer.
    void generatedAnswerEndsAtAnyEosIdOfTheModel()
    {
        const auto tokenizer = Tokenizer::load(demoTokenizer().toStdString());
        const std::vector<ChatExample> items{example("b", "Which letter?", "B")};
        EvalOptions options;
        options.maxNewTokens = 4;
        auto plain = modelAnswering(*tokenizer, "B");
        auto result = evaluateGenerated(plain, *tokenizer, items, EvalMetric::ExactMatch, options);
        QCOMPARE(QString::fromStdString(result.details[0].predicted).trimmed(), QStringLiteral("B"));
        QVERIFY(result.details[0].correct);

        // The same weights, with the letter's pieces listed as eos ids in the config.
        auto stopsAtTheLetter = modelAnswering(*tokenizer, "B", {tokenizer->pieceToId("B"), tokenizer->pieceToId("\u2581B")});
        result = evaluateGenerated(stopsAtTheLetter, *tokenizer, items, EvalMetric::ExactMatch, options);
        QCOMPARE(result.details[0].predicted, std::string());
        QVERIFY(!result.details[0].correct);
    }

    void choicePicksTheMostLikelyOption()
    {
        const auto tokenizer = Tokenizer::load(demoTokenizer().toStdString());
        const ChatExample threeOptions = example("three", "Pick one.\nA. cat\nB. dog\nC. sun", "B");
        const ChatExample threeOptionsExpectingA = example("three-a", "Pick one.\nA. cat\nB. dog\nC. sun", "A");
        const ChatExample fiveOptions =
            example("five", "Which is red?\nA. sky\nB. grass\nC. snow\nD. coal\nE. blood", "E");
        const ChatExample fiveOptionsExpectingC =
            example("five-c", "Which is red?\nA. sky\nB. grass\nC. snow\nD. coal\nE. blood", "C");

        // The construction keys on the newline that ends each prompt and on the letters' pieces.
        for (const auto &item : {threeOptions, fiveOptions})
            QCOMPARE(tokenizePrompt(*tokenizer, item).back(), tokenizer->pieceToId("<0x0A>"));
        for (const std::string letter : {"A", "B", "E"})
            QVERIFY(tokenizer->pieceToId(letter) != tokenizer->unkId());

        // Wherever the construction points, the pick follows and `correct` compares it with
        // the item's own letter.
        auto preferB = modelAnswering(*tokenizer, "B");
        auto result = evaluateChoice(preferB, *tokenizer, {threeOptions, threeOptionsExpectingA});
        QCOMPARE(result.items, int64_t(2));
        QCOMPARE(result.details[0].predicted, std::string("B"));
        QVERIFY(result.details[0].correct);
        QCOMPARE(result.details[1].predicted, std::string("B"));
        QVERIFY(!result.details[1].correct);
        QCOMPARE(result.correct, int64_t(1));
        QCOMPARE(result.score, 0.5);

        auto preferA = modelAnswering(*tokenizer, "A");
        result = evaluateChoice(preferA, *tokenizer, {threeOptions, threeOptionsExpectingA});
        QCOMPARE(result.details[0].predicted, std::string("A"));
        QVERIFY(!result.details[0].correct);
        QCOMPARE(result.details[1].predicted, std::string("A"));
        QVERIFY(result.details[1].correct);
        QCOMPARE(result.correct, int64_t(1));

        // E is only a candidate when the options are read from the prompt (the fallback is A-D).
        auto preferE = modelAnswering(*tokenizer, "E");
        result = evaluateChoice(preferE, *tokenizer, {fiveOptions, fiveOptionsExpectingC});
        QCOMPARE(result.details[0].predicted, std::string("E"));
        QVERIFY(result.details[0].correct);
        QCOMPARE(result.details[1].predicted, std::string("E"));
        QVERIFY(!result.details[1].correct);
        QCOMPARE(result.correct, int64_t(1));
        QCOMPARE(result.score, 0.5);

        // A letter that is not among the options is never picked, however likely.
        result = evaluateChoice(preferE, *tokenizer, {threeOptions});
        QVERIFY(result.details[0].predicted != "E");
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
