// Task data in the reference JSONL format: reading, the chat template, loss masking.

#include "TestSupport.h"

#include "Error.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <string>
#include <vector>

using nugget::ChatExample;
using nugget::Tokenizer;
using Ids = std::vector<int64_t>;

namespace {

QString gsmPath() { return nugget::test::sharedPath(QStringLiteral("data/paraknowtransfer/sample_gsm.jsonl")); }
QString mmluPath()
{
    return nugget::test::sharedPath(QStringLiteral("data/paraknowtransfer/sample_mmlu.jsonl"));
}
QString llamaPath() { return nugget::test::sharedPath(QStringLiteral("tokenizers/llama2/tokenizer.model")); }
QString storiesPath()
{
    return nugget::test::sharedPath(QStringLiteral("models/stories260K/tokenizer.model"));
}

const QByteArray kGoodLine =
    R"({"dataset": "t", "id": "t_1", "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]})";

ChatExample singleTurn(const std::string &user, const std::string &answer)
{
    ChatExample example;
    example.id = "x";
    example.messages = {{"user", user}, {"assistant", answer}};
    return example;
}

} // namespace

class TestChatDataset : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readsGsmSample();
    void readsMmluSample();
    void readsEveryTaskFile_data();
    void readsEveryTaskFile();
    void rendersTemplate();
    void rendersMultiTurn();
    void masksPromptLlama();
    void masksPromptStories();
    void promptIsPrefixOnRealData();
    void multiTurnPutsEosIds();
    void truncates();
    void malformedLines_data();
    void malformedLines();
    void skipsBlankLines();
    void missingFileIsError();
};

void TestChatDataset::readsGsmSample()
{
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer/sample_gsm.jsonl");
    const auto examples = nugget::readChatJsonl(gsmPath().toStdString());
    QCOMPARE(examples.size(), size_t(32));
    QCOMPARE(examples.front().dataset, std::string("gsm"));
    QCOMPARE(examples.front().id, std::string("gsm_4234"));
    QCOMPARE(examples.front().lineNumber, 1);
    QCOMPARE(examples.back().lineNumber, 32);
    QCOMPARE(examples.front().messages.size(), size_t(2));
    QCOMPARE(examples.front().messages[0].role, std::string("user"));
    QVERIFY(nugget::answerText(examples.front()).rfind("Answer: There are three times", 0) == 0);
    QVERIFY(examples.front().category.empty());
}

void TestChatDataset::readsMmluSample()
{
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer/sample_mmlu.jsonl");
    const auto examples = nugget::readChatJsonl(mmluPath().toStdString());
    QCOMPARE(examples.size(), size_t(32));
    QCOMPARE(examples.front().dataset, std::string("mmlu"));
    QCOMPARE(examples.front().category, std::string("moral_scenarios"));
    QCOMPARE(nugget::answerText(examples.front()), std::string("A"));
    for (const ChatExample &example : examples) {
        const std::string prompt = nugget::renderPrompt(example);
        QVERIFY(prompt.rfind("<|user|>\n", 0) == 0);
        QVERIFY(prompt.size() > 14 && prompt.compare(prompt.size() - 14, 14, "<|assistant|>\n") == 0);
    }
}

void TestChatDataset::readsEveryTaskFile_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("count");
    for (const char *task : {"gsm", "mmlu", "super_ni"}) {
        const QString name = QString::fromLatin1(task);
        QTest::newRow(qPrintable(QStringLiteral("sample_") + name))
            << QStringLiteral("sample_%1.jsonl").arg(name) << 32;
        QTest::newRow(qPrintable(name + QStringLiteral("_data_1000")))
            << QStringLiteral("%1_data_1000.jsonl").arg(name) << 1000;
    }
}

void TestChatDataset::readsEveryTaskFile()
{
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer");
    QFETCH(QString, file);
    QFETCH(int, count);
    const QString path = nugget::test::sharedPath(QStringLiteral("data/paraknowtransfer/") + file);
    const auto examples = nugget::readChatJsonl(path.toStdString());
    QCOMPARE(int(examples.size()), count);
    for (const ChatExample &example : examples) {
        QVERIFY(!example.id.empty());
        QVERIFY(!nugget::answerText(example).empty());
        const std::string prompt = nugget::renderPrompt(example);
        QVERIFY(prompt.size() > 14 && prompt.compare(prompt.size() - 14, 14, "<|assistant|>\n") == 0);
    }
}

void TestChatDataset::rendersTemplate()
{
    const ChatExample example = singleTurn("What is 2+2?", "4");
    QCOMPARE(nugget::renderPrompt(example), std::string("<|user|>\nWhat is 2+2?\n\n<|assistant|>\n"));
    QCOMPARE(nugget::answerText(example), std::string("4"));

    ChatExample withSystem = example;
    withSystem.messages.insert(withSystem.messages.begin(), {"system", "Be brief."});
    QCOMPARE(nugget::renderPrompt(withSystem),
             std::string("<|system|>\nBe brief.\n\n<|user|>\nWhat is 2+2?\n\n<|assistant|>\n"));

    ChatExample noAnswer;
    noAnswer.messages = {{"user", "Hi"}};
    QVERIFY_THROWS_EXCEPTION(nugget::Error, nugget::renderPrompt(noAnswer));
}

void TestChatDataset::rendersMultiTurn()
{
    ChatExample example;
    example.messages = {{"user", "A?"}, {"assistant", "a"}, {"user", "B?"}, {"assistant", "b"}};
    QCOMPARE(nugget::renderPrompt(example),
             std::string("<|user|>\nA?\n\n<|assistant|>\na</s><|user|>\nB?\n\n<|assistant|>\n"));
    QCOMPARE(nugget::answerText(example), std::string("b"));
}

void TestChatDataset::masksPromptLlama()
{
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer/sample_gsm.jsonl");
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    const ChatExample example = nugget::readChatJsonl(gsmPath().toStdString()).front();
    const auto tokenized = nugget::tokenizeChat(*tokenizer, example);

    const Ids &ids = tokenized.inputIds;
    const Ids &labels = tokenized.labels;
    QCOMPARE(labels.size(), ids.size());
    QCOMPARE(ids.front(), int64_t(1));
    QCOMPARE(ids.back(), int64_t(2));
    const Ids promptIds = tokenizer->encode(nugget::renderPrompt(example));
    QCOMPARE(tokenized.promptLength, int64_t(1 + promptIds.size()));
    for (int64_t i = 0; i < int64_t(ids.size()); ++i) {
        if (i < tokenized.promptLength)
            QCOMPARE(labels[size_t(i)], nugget::kIgnoredLabel);
        else
            QCOMPARE(labels[size_t(i)], ids[size_t(i)]);
    }
    QCOMPARE(labels.back(), int64_t(2));
    const Ids answer(labels.begin() + tokenized.promptLength, labels.end());
    QCOMPARE(tokenizer->decode(answer), nugget::answerText(example));
    QCOMPARE(nugget::tokenizePrompt(*tokenizer, example),
             Ids(ids.begin(), ids.begin() + tokenized.promptLength));
}

void TestChatDataset::masksPromptStories()
{
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer/sample_gsm.jsonl");
    NUGGET_REQUIRE_SHARED("models/stories260K/tokenizer.model");
    const auto tokenizer = Tokenizer::load(storiesPath().toStdString());
    const ChatExample example = nugget::readChatJsonl(gsmPath().toStdString()).front();
    const auto tokenized = nugget::tokenizeChat(*tokenizer, example);
    QCOMPARE(tokenized.labels.size(), tokenized.inputIds.size());
    QCOMPARE(tokenized.inputIds.front(), tokenizer->bosId());
    QCOMPARE(tokenized.labels.back(), tokenizer->eosId());
    QVERIFY(std::all_of(tokenized.labels.begin(), tokenized.labels.begin() + tokenized.promptLength,
                        [](int64_t label) { return label == nugget::kIgnoredLabel; }));
    const Ids answer(tokenized.labels.begin() + tokenized.promptLength, tokenized.labels.end());
    QVERIFY(std::none_of(answer.begin(), answer.end(),
                         [](int64_t label) { return label == nugget::kIgnoredLabel; }));
    QCOMPARE(tokenizer->decode(answer), nugget::answerText(example));
}

void TestChatDataset::promptIsPrefixOnRealData()
{
    // tokenizeChat masks by the length of the prompt's own tokens; that is exact when
    // those tokens are a prefix of prompt + answer's, which holds for all seed data.
    NUGGET_REQUIRE_SHARED("data/paraknowtransfer/sample_gsm.jsonl");
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    for (const QString &path : {gsmPath(), mmluPath()}) {
        for (const ChatExample &example : nugget::readChatJsonl(path.toStdString())) {
            const std::string prompt = nugget::renderPrompt(example);
            const Ids promptIds = tokenizer->encode(prompt);
            const Ids whole = tokenizer->encode(prompt + nugget::answerText(example));
            QVERIFY2(whole.size() > promptIds.size() &&
                         std::equal(promptIds.begin(), promptIds.end(), whole.begin()),
                     example.id.c_str());
        }
    }
}

void TestChatDataset::multiTurnPutsEosIds()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    ChatExample example;
    example.messages = {{"user", "A?"}, {"assistant", "a"}, {"user", "B?"}, {"assistant", "b"}};
    const auto tokenized = nugget::tokenizeChat(*tokenizer, example);
    const Ids &ids = tokenized.inputIds;
    QCOMPARE(std::count(ids.begin(), ids.end(), tokenizer->eosId()), 2l);
    QCOMPARE(std::count(ids.begin(), ids.end(), tokenizer->bosId()), 1l);
    // The earlier answer's EOS sits inside the masked prompt; only "b" + EOS are learned.
    const Ids learned(tokenized.labels.begin() + tokenized.promptLength, tokenized.labels.end());
    QCOMPARE(tokenizer->decode(learned), std::string("b"));
    QCOMPARE(learned.back(), tokenizer->eosId());
}

void TestChatDataset::truncates()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    const ChatExample example = singleTurn("Tell me a long story about a cat.", "Once upon a time there was a cat.");
    const auto full = nugget::tokenizeChat(*tokenizer, example);
    QVERIFY(full.inputIds.size() > 12);

    const auto cut = nugget::tokenizeChat(*tokenizer, example, full.promptLength + 3);
    QCOMPARE(cut.inputIds, Ids(full.inputIds.begin(), full.inputIds.begin() + full.promptLength + 3));
    QCOMPARE(cut.labels, Ids(full.labels.begin(), full.labels.begin() + full.promptLength + 3));
    QCOMPARE(cut.promptLength, full.promptLength);

    const auto inPrompt = nugget::tokenizeChat(*tokenizer, example, 4);
    QCOMPARE(inPrompt.inputIds.size(), size_t(4));
    QCOMPARE(inPrompt.promptLength, int64_t(4));
    QCOMPARE(inPrompt.labels, Ids(4, nugget::kIgnoredLabel));

    const auto longEnough = nugget::tokenizeChat(*tokenizer, example, 100000);
    QCOMPARE(longEnough.inputIds, full.inputIds);
}

void TestChatDataset::malformedLines_data()
{
    QTest::addColumn<QByteArray>("badLine");
    QTest::addColumn<QString>("expected");
    QTest::newRow("bad JSON") << QByteArray(R"({"messages": [)") << QStringLiteral("invalid JSON");
    QTest::newRow("not an object") << QByteArray(R"([1, 2])") << QStringLiteral("object");
    QTest::newRow("missing messages") << QByteArray(R"({"id": "x"})") << QStringLiteral("messages");
    QTest::newRow("messages not array") << QByteArray(R"({"messages": "hi"})")
                                        << QStringLiteral("not an array");
    QTest::newRow("empty messages") << QByteArray(R"({"messages": []})") << QStringLiteral("empty");
    QTest::newRow("unknown role")
        << QByteArray(R"({"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]})")
        << QStringLiteral("unknown role \"robot\"");
    QTest::newRow("no assistant") << QByteArray(R"({"messages": [{"role": "user", "content": "x"}]})")
                                  << QStringLiteral("no assistant");
    QTest::newRow("non-string content")
        << QByteArray(R"({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]})")
        << QStringLiteral("message 1 has no string \"content\"");
    QTest::newRow("missing role") << QByteArray(R"({"messages": [{"content": "y"}]})")
                                  << QStringLiteral("message 1 has no string \"role\"");
    QTest::newRow("invalid UTF-8")
        << QByteArray("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}")
        << QStringLiteral("UTF-8");
}

void TestChatDataset::malformedLines()
{
    QFETCH(QByteArray, badLine);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Two good lines, then the bad one as line 3.
    const QString path = dir.filePath(QStringLiteral("data.jsonl"));
    QVERIFY(nugget::test::writeBytes(path, kGoodLine + '\n' + kGoodLine + '\n' + badLine + '\n'));
    const QString message = nugget::test::errorOf([&] { nugget::readChatJsonl(path.toStdString()); });
    QVERIFY2(!message.isEmpty(), "a malformed line was accepted");
    QVERIFY2(message.startsWith(path + QStringLiteral(":3: ")), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
}

void TestChatDataset::skipsBlankLines()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("data.jsonl"));
    QVERIFY(nugget::test::writeBytes(path, "\n" + kGoodLine + "\r\n   \n\n" + kGoodLine));   // no final newline
    const auto examples = nugget::readChatJsonl(path.toStdString());
    QCOMPARE(examples.size(), size_t(2));
    QCOMPARE(examples[0].lineNumber, 2);
    QCOMPARE(examples[1].lineNumber, 5);
    QCOMPARE(examples[1].messages[1].content, std::string("Hello."));

    const QString blankThenBad = dir.filePath(QStringLiteral("bad.jsonl"));
    QVERIFY(nugget::test::writeBytes(blankThenBad, "\n\n{oops}\n"));
    try {
        nugget::readChatJsonl(blankThenBad.toStdString());
        QFAIL("a malformed line was accepted");
    } catch (const nugget::Error &error) {
        QVERIFY2(QString::fromStdString(error.what()).startsWith(blankThenBad + QStringLiteral(":3: ")),
                 error.what());
    }
}

void TestChatDataset::missingFileIsError()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("none.jsonl"));
    try {
        nugget::readChatJsonl(path.toStdString());
        QFAIL("a missing file was read");
    } catch (const nugget::Error &error) {
        QVERIFY(QString::fromStdString(error.what()).startsWith(path));
    }
}

QTEST_GUILESS_MAIN(TestChatDataset)
#include "test_chat_dataset.moc"
