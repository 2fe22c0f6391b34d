// Per-item evaluation records: the expected answer's log-probability and token count
// against the independent float64 loop forward pass, candidate scores against scoring
// each candidate alone, the record format's round trip, and candidate sets.

#include "ReferenceForward.h"
#include "TestSupport.h"

#include "eval/AnswerScoring.h"
#include "eval/CandidateSets.h"
#include "eval/ItemRecords.h"
#include "eval/TaskEvaluation.h"
#include "io/TensorStore.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include <torch/torch.h>

#include <cmath>

using namespace nugget;

namespace {

QString demo(const QString &relative) { return test::sourceDir() + QStringLiteral("/resources/demo/") + relative; }

ChatExample chat(const std::string &id, const std::string &user, const std::string &assistant)
{
    ChatExample e;
    e.id = id;
    e.messages = {{"user", user}, {"assistant", assistant}};
    return e;
}

// The answer's token ids and where they start, tokenized independently of tokenizeChat:
// BOS + the prompt and answer as one text + EOS, split where the prompt alone ends.
std::pair<std::vector<int64_t>, size_t> referenceTokens(const Tokenizer &tokenizer, const ChatExample &example)
{
    const std::string prompt = renderPrompt(example);
    std::vector<int64_t> ids{tokenizer.bosId()};
    const auto whole = tokenizer.encode(prompt + answerText(example));
    ids.insert(ids.end(), whole.begin(), whole.end());
    ids.push_back(tokenizer.eosId());
    return {ids, 1 + tokenizer.encode(prompt).size()};
}

// log p of ids[from..] under `model` in one forward pass, float64 log-softmax.
double directLogProb(LlamaForCausalLM &model, const std::vector<int64_t> &ids, size_t from)
{
    torch::NoGradGuard noGrad;
    const auto logProbs = torch::log_softmax(model->forward(torch::tensor(ids).unsqueeze(0))[0].to(at::kDouble), -1);
    double total = 0;
    for (size_t t = from; t < ids.size(); ++t)
        total += logProbs[static_cast<int64_t>(t - 1)][ids[t]].item<double>();
    return total;
}

} // namespace

class TestItemRecords : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void answerLogProbMatchesTheFloat64Reference_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("data");   // empty: a story prompt for stories260K
        QTest::newRow("stories260K") << test::sharedPath(QStringLiteral("models/stories260K")) << QString();
        QTest::newRow("demo teacher") << demo(QStringLiteral("teacher")) << demo(QStringLiteral("tasks/transfer_eval.jsonl"));
        QTest::newRow("demo student") << demo(QStringLiteral("student")) << demo(QStringLiteral("tasks/transfer_eval.jsonl"));
    }

    void answerLogProbMatchesTheFloat64Reference()
    {
        QFETCH(QString, model);
        QFETCH(QString, data);
        if (!QFileInfo::exists(model + QStringLiteral("/model.safetensors")))
            QSKIP("model not present");
        auto loaded = loadModelFolder(model.toStdString());
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        const auto store = TensorStore::openFolder(model.toStdString());
        std::vector<ChatExample> examples;
        if (data.isEmpty()) {
            examples = {chat("story", "Tell me about Lily.", "Once upon a time, Lily saw a big cat."),
                        chat("short", "Where did Tom go?", "Tom went to the park.")};
        } else {
            // A date question (no candidates) and a city question (scored among every city).
            const auto all = readEvaluationItems(data.toStdString());
            examples = {all[0], all[1]};
            QVERIFY(examples[0].candidates.empty());
            QVERIFY(examples[1].candidates.size() >= 200);
        }
        EvalOptions options;
        options.maxNewTokens = 8;
        const auto result = evaluateGenerated(loaded.model, *tokenizer, examples, EvalMetric::ExactMatch, options);
        QCOMPARE(result.details.size(), examples.size());
        for (size_t i = 0; i < examples.size(); ++i) {
            const EvalItem &item = result.details[i];
            const auto [ids, from] = referenceTokens(*tokenizer, examples[i]);
            std::vector<double> perToken;
            const double expected = test::referenceLogProb(loaded.config, store, ids, from, &perToken);
            QCOMPARE(item.answerTokens(), static_cast<int64_t>(ids.size() - from));
            QCOMPARE(item.answerTokenIds, std::vector<int64_t>(ids.begin() + static_cast<long>(from), ids.end()));
            QVERIFY2(std::abs(item.answerLogProb - expected) <= 1e-3 * std::abs(expected),
                     qPrintable(QStringLiteral("%1: %2 vs reference %3").arg(QString::fromStdString(item.id))
                                    .arg(item.answerLogProb, 0, 'g', 10).arg(expected, 0, 'g', 10)));
            for (size_t t = 0; t < perToken.size(); ++t)
                QVERIFY(std::abs(item.answerTokenLogProbs[t] - perToken[t]) <= 1e-3 * std::max(1.0, std::abs(perToken[t])));
            QCOMPARE(item.prompt, renderPrompt(examples[i]));
            QCOMPARE(item.expected, answerText(examples[i]));
        }
        if (!data.isEmpty()) {
            QCOMPARE(result.details[1].fields.value(QStringLiteral("attribute")).toString(), QStringLiteral("birth_city"));
            QVERIFY(result.details[1].rank >= 1);
            QCOMPARE(result.details[0].rank, int64_t(0));
        }
    }

    // The batched pass (shared prompt in a key/value cache, candidates padded in one batch)
    // gives each candidate the log-probability of scoring it alone, and the rank follows.
    void candidatesScoreAsIfAlone()
    {
        auto loaded = loadModelFolder(demo(QStringLiteral("teacher")).toStdString());
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        const auto items = readEvaluationItems(demo(QStringLiteral("tasks/transfer_eval.jsonl")).toStdString());
        const ChatExample &university = items[2];
        QCOMPARE(university.fields.value(QStringLiteral("attribute")).toString(), QStringLiteral("university"));
        const auto scored = scoreAnswers(loaded.model, *tokenizer, university, university.candidates);
        QCOMPARE(scored.size(), university.candidates.size());
        std::vector<double> alone;
        for (size_t c = 0; c < university.candidates.size(); ++c) {
            ChatExample one = university;
            one.messages.back().content = university.candidates[c];
            const auto [ids, from] = referenceTokens(*tokenizer, one);
            alone.push_back(directLogProb(loaded.model, ids, from));
            QVERIFY2(std::abs(scored[c].logProb - alone.back()) < 1e-4 * std::max(1.0, std::abs(alone.back())),
                     university.candidates[c].c_str());
        }
        const auto truth = std::find(university.candidates.begin(), university.candidates.end(), answerText(university));
        const double trueLogProb = alone[static_cast<size_t>(truth - university.candidates.begin())];
        int64_t rank = 1;
        for (const double value : alone)
            rank += value > trueLogProb;
        const auto result = evaluateGenerated(loaded.model, *tokenizer, {university}, EvalMetric::ExactMatch);
        QCOMPARE(result.details[0].rank, rank);
        QCOMPARE(result.details[0].candidateLogProbs.size(), university.candidates.size());
        QCOMPARE(rankOf(2.0, {3.0, 2.0, 1.0, 2.0}), int64_t(2));
    }

    void recordsRoundTripAndPassFieldsThrough()
    {
        EvalItem item;
        item.id = "bioqa_3_major";
        item.prompt = "<|user|>\nWhat?\n\n<|assistant|>\n";
        item.expected = "Physics.";
        item.predicted = "Chemistry.";
        item.answerLogProb = -3.25;
        item.answerTokenIds = {7, 8, 2};
        item.answerTokenLogProbs = {-1.0, -2.0, -0.25};
        item.rank = 2;
        item.candidates = {"Chemistry.", "Physics.", "Art."};
        item.candidateLogProbs = {-3.0, -3.25, -9.0};
        item.fields = {{QStringLiteral("attribute"), QStringLiteral("major")},
                       {QStringLiteral("rank"), QStringLiteral("the user's own rank field")}};
        const QJsonObject record = itemRecord(item);
        for (const char *key : {"id", "expected", "predicted", "correct", "answer_logprob", "answer_tokens", "rank",
                                "candidates", "candidate_logprobs", "attribute", "input_rank"})
            QVERIFY2(record.contains(QLatin1String(key)), key);
        QCOMPARE(record.value(QStringLiteral("answer_tokens")).toInt(), 3);
        QCOMPARE(record.value(QStringLiteral("reciprocal_rank")).toDouble(), 0.5);
        QCOMPARE(record.value(QStringLiteral("rank")).toInt(), 2);

        const auto back = parseItemRecordsJsonl(itemRecordsJsonl({item, item}), "records.jsonl");
        QCOMPARE(back.size(), size_t(2));
        QCOMPARE(back[1].id, item.id);
        QCOMPARE(back[1].answerLogProb, item.answerLogProb);
        QCOMPARE(back[1].answerTokenIds, item.answerTokenIds);
        QCOMPARE(back[1].candidateLogProbs, item.candidateLogProbs);
        QCOMPARE(back[1].rank, item.rank);
        QCOMPARE(back[1].fields, item.fields);

        const QString broken = test::errorOf([] {
            parseItemRecordsJsonl("{\"id\": \"x\"}\n", "records.jsonl");
        });
        QVERIFY2(broken.contains(QStringLiteral("records.jsonl:1")) && broken.contains(QStringLiteral("prompt")),
                 qPrintable(broken));
    }

    void candidateSetsAreCheckedAndNamed()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString data = dir.filePath(QStringLiteral("eval.jsonl"));
        test::writeBytes(data, R"({"id": "a", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "Oslo."}], "attribute": "city"})"
                               "\n"
                               R"({"id": "b", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "Rome."}], "candidates": ["Rome.", "Bern."]})"
                               "\n");
        // Without candidates.json only the item's own list counts.
        auto items = readEvaluationItems(data.toStdString());
        QVERIFY(items[0].candidates.empty());
        QCOMPARE(items[1].candidates, (std::vector<std::string>{"Rome.", "Bern."}));
        QCOMPARE(items[0].fields.value(QStringLiteral("attribute")).toString(), QStringLiteral("city"));

        const QString sets = dir.filePath(QStringLiteral("candidates.json"));
        test::writeBytes(sets, R"({"field": "attribute", "sets": {"city": ["Paris.", "Oslo.", "Lima."]}})");
        items = readEvaluationItems(data.toStdString());
        QCOMPARE(items[0].candidates, (std::vector<std::string>{"Paris.", "Oslo.", "Lima."}));
        QCOMPARE(items[1].candidates.size(), size_t(2));

        test::writeBytes(sets, R"({"field": "attribute", "sets": {"city": ["Paris.", "Lima."]}})");
        QString e = test::errorOf([&] { readEvaluationItems(data.toStdString()); });
        QVERIFY2(e.contains(QStringLiteral("eval.jsonl:1")) && e.contains(QStringLiteral("Oslo.")), qPrintable(e));

        test::writeBytes(sets, R"({"field": "attribute", "sets": {"city": ["Paris.", "Paris."]}})");
        e = test::errorOf([&] { readEvaluationItems(data.toStdString()); });
        QVERIFY2(e.contains(QStringLiteral("candidates.json")) && e.contains(QStringLiteral("twice")), qPrintable(e));

        test::writeBytes(sets, R"({"field": "attribute", "set": {}})");
        e = test::errorOf([&] { readEvaluationItems(data.toStdString()); });
        QVERIFY2(e.contains(QStringLiteral("candidates.json")) && e.contains(QStringLiteral("\"set\"")), qPrintable(e));

        test::writeBytes(data, R"({"id": "c", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], "candidates": "A"})"
                               "\n");
        e = test::errorOf([&] { readChatJsonl(data.toStdString()); });
        QVERIFY2(e.contains(QStringLiteral("eval.jsonl:1")) && e.contains(QStringLiteral("candidates")), qPrintable(e));
    }
};

QTEST_GUILESS_MAIN(TestItemRecords)
#include "test_item_records.moc"
