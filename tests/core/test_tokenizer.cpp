// The sentencepiece tokenizer behind its plugin: real LLaMA-2 and llama2.c models,
// streaming text, corrupt files, training, and libtorch in the same process.

#include "TestSupport.h"

#include "Error.h"
#include "text/Tokenizer.h"

#include <ATen/ATen.h>

#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <random>
#include <string>
#include <vector>

using nugget::test::readAll;

using nugget::Tokenizer;
using Ids = std::vector<int64_t>;

Q_DECLARE_METATYPE(std::string)

namespace {

QString llamaPath() { return nugget::test::sharedPath(QStringLiteral("tokenizers/llama2/tokenizer.model")); }
QString storiesPath()
{
    return nugget::test::sharedPath(QStringLiteral("models/stories260K/tokenizer.model"));
}

// A corpus of simple generated sentences, deterministic.
QByteArray generatedCorpus(int sentences)
{
    const char *subjects[] = {"The cat", "A small dog", "Lily", "Tom", "The old man", "Her friend",
                              "The bird", "Our teacher"};
    const char *verbs[] = {"saw", "liked", "found", "wanted", "made", "played with", "looked at",
                           "walked to"};
    const char *objects[] = {"the red ball", "a big tree", "the park", "some water", "a happy song",
                             "the blue sky", "a little boat", "the garden"};
    const char *endings[] = {".", "!", " today.", " in the morning.", " again.", " with 3 friends."};
    std::mt19937 random(7);
    QByteArray text;
    for (int i = 0; i < sentences; ++i) {
        text += subjects[random() % 8];
        text += ' ';
        text += verbs[random() % 8];
        text += ' ';
        text += objects[random() % 8];
        text += endings[random() % 6];
        text += '\n';
    }
    return text;
}

} // namespace

class TestTokenizer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void llamaEncodesKnownIds();
    void llamaSpecialIds();
    void roundTrip_data();
    void roundTrip();
    void pieceLookupRoundTrip();
    void storiesTokenizer();
    void streamPieceFollowsRunC();
    void corruptFilesAreErrors_data();
    void corruptFilesAreErrors();
    void missingFileIsError();
    void outOfRangeIdsAreErrors();
    void trainsSmallModel();
    void trainsByteFallbackModel();
    void trainingErrorIsReported();
    void libtorchInSameProcess();
};

void TestTokenizer::llamaEncodesKnownIds()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    QCOMPARE(tokenizer->encode("Once upon a time"), (Ids{9038, 2501, 263, 931}));
    QCOMPARE(tokenizer->encode("Once upon a time", true), (Ids{1, 9038, 2501, 263, 931}));
    QCOMPARE(tokenizer->encode(""), Ids{});
    QCOMPARE(tokenizer->encode("", true), Ids{1});
    QCOMPARE(tokenizer->path(), llamaPath().toStdString());
    QVERIFY(QString::fromStdString(Tokenizer::pluginPath()).endsWith(QStringLiteral("/libnugget_spm.so")));
}

void TestTokenizer::llamaSpecialIds()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    QCOMPARE(tokenizer->vocabSize(), int64_t(32000));
    QCOMPARE(tokenizer->unkId(), int64_t(0));
    QCOMPARE(tokenizer->bosId(), int64_t(1));
    QCOMPARE(tokenizer->eosId(), int64_t(2));
    QCOMPARE(tokenizer->padId(), int64_t(-1));
    QCOMPARE(tokenizer->piece(1), std::string("<s>"));
    QCOMPARE(tokenizer->piece(2), std::string("</s>"));
}

void TestTokenizer::roundTrip_data()
{
    QTest::addColumn<std::string>("text");
    QTest::newRow("ascii") << std::string("Once upon a time, there was a little girl.");
    QTest::newRow("non-ascii") << std::string("naïve café 日本");
    QTest::newRow("newlines") << std::string("line one\nline two\n\nline four\n");
    QTest::newRow("template") << std::string("<|user|>\nWhat is 12+30?\n\n<|assistant|>\n42");
    QTest::newRow("spaces and tabs") << std::string("  two leading,\ttab, trailing  ");
    QTest::newRow("emoji (byte fallback)") << std::string("smile 🙂 ok");
    QTest::newRow("digits") << std::string("1234567890 and 3.14159");
}

void TestTokenizer::roundTrip()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    QFETCH(std::string, text);
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    const Ids ids = tokenizer->encode(text);
    QVERIFY(!ids.empty());
    QCOMPARE(tokenizer->decode(ids), text);
    // BOS decodes to nothing.
    QCOMPARE(tokenizer->decode(tokenizer->encode(text, true)), text);
}

void TestTokenizer::pieceLookupRoundTrip()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    for (int64_t id = 0; id < tokenizer->vocabSize(); id += 97)
        QCOMPARE(tokenizer->pieceToId(tokenizer->piece(id)), id);
    QCOMPARE(tokenizer->pieceToId(tokenizer->piece(31999)), int64_t(31999));
    QCOMPARE(tokenizer->piece(9038), std::string("\xe2\x96\x81Once"));
    QCOMPARE(tokenizer->pieceToId("<0x0A>"), int64_t(13));
    QCOMPARE(tokenizer->pieceToId("no such piece, surely"), tokenizer->unkId());
}

void TestTokenizer::storiesTokenizer()
{
    NUGGET_REQUIRE_SHARED("models/stories260K/tokenizer.model");
    const auto tokenizer = Tokenizer::load(storiesPath().toStdString());
    QCOMPARE(tokenizer->vocabSize(), int64_t(512));
    QCOMPARE(tokenizer->bosId(), int64_t(1));
    QCOMPARE(tokenizer->eosId(), int64_t(2));
    const std::string text = "Once upon a time, Lily saw a big dog.\nShe was happy.";
    const Ids ids = tokenizer->encode(text);
    for (const int64_t id : ids)
        QVERIFY(id >= 0 && id < 512);
    QCOMPARE(tokenizer->decode(ids), text);
}

void TestTokenizer::streamPieceFollowsRunC()
{
    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    const int64_t once = 9038;   // "▁Once"
    QCOMPARE(tokenizer->streamPiece(tokenizer->bosId(), once), std::string("Once"));
    QCOMPARE(tokenizer->streamPiece(931, once), std::string(" Once"));
    QCOMPARE(tokenizer->streamPiece(once, 2501), std::string(" upon"));
    QCOMPARE(tokenizer->streamPiece(once, tokenizer->pieceToId("<0x0A>")), std::string("\n"));
    // After BOS only a leading space is dropped, never the byte itself.
    QCOMPARE(tokenizer->streamPiece(tokenizer->bosId(), tokenizer->pieceToId("<0x20>")),
             std::string(" "));
    QCOMPARE(tokenizer->streamPiece(once, tokenizer->bosId()), std::string());
    QCOMPARE(tokenizer->streamPiece(once, tokenizer->eosId()), std::string());

    // Streaming a whole encoding gives the decoded text.
    const std::string text = "Once upon a time.\nThe end, naïve café";
    const Ids ids = tokenizer->encode(text, true);
    std::string streamed;
    for (size_t i = 1; i < ids.size(); ++i)
        streamed += tokenizer->streamPiece(ids[i - 1], ids[i]);
    QCOMPARE(streamed, text);
}

void TestTokenizer::corruptFilesAreErrors_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");   // a part of the message besides the path

    std::mt19937 random(42);
    QByteArray noise(4096, Qt::Uninitialized);
    for (char &byte : noise)
        byte = static_cast<char>(random() & 0xff);
    noise[0] = 'x';
    QTest::newRow("random bytes") << noise << QStringLiteral("not a sentencepiece model");
    QByteArray protoLikeNoise = noise;
    protoLikeNoise[0] = 0x0a;
    QTest::newRow("random bytes after 0x0a") << protoLikeNoise
                                             << QStringLiteral("not a sentencepiece model");
    QTest::newRow("empty") << QByteArray() << QStringLiteral("empty");
    QTest::newRow("text") << QByteArray("version https://git-lfs.github.com/spec/v1\noid sha256:9e55\n")
                          << QStringLiteral("not a sentencepiece model");
    // Well-formed at the top level, garbage inside: only sentencepiece can tell.
    QTest::newRow("garbage piece") << QByteArray("\x0a\x03\x61\x62\x63\x1a\x00", 7)
                                   << QStringLiteral("not a sentencepiece model");

    if (!QFileInfo::exists(llamaPath()))
        return;
    const QByteArray model = readAll(llamaPath());
    QTest::newRow("truncated mid-piece") << model.left(model.size() / 2 + 1)
                                         << QStringLiteral("truncated");
    // Cut exactly after 1000 pieces: protobuf alone would accept this as a smaller model.
    int at = 0;
    for (int piece = 0; piece < 1000; ++piece) {
        Q_ASSERT(static_cast<unsigned char>(model[at]) == 0x0a &&
                 static_cast<unsigned char>(model[at + 1]) < 0x80);
        at += 2 + static_cast<unsigned char>(model[at + 1]);
    }
    QTest::newRow("truncated between pieces") << model.left(at) << QStringLiteral("truncated");
}

void TestTokenizer::corruptFilesAreErrors()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("tokenizer.model"));
    QVERIFY(nugget::test::writeBytes(path, bytes));
    const QString message = nugget::test::errorOf([&] { Tokenizer::load(path.toStdString()); });
    QVERIFY2(!message.isEmpty(), "a corrupt tokenizer model loaded");
    QVERIFY2(message.startsWith(path + QStringLiteral(": ")), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
}

void TestTokenizer::missingFileIsError()
{
    QTemporaryDir dir;
    const QString missing = dir.filePath(QStringLiteral("nothing.model"));
    QVERIFY_THROWS_EXCEPTION(nugget::Error, Tokenizer::load(missing.toStdString()));
    try {
        Tokenizer::load(dir.path().toStdString());   // a folder
        QFAIL("a folder loaded as a tokenizer model");
    } catch (const nugget::Error &error) {
        QVERIFY(QString::fromStdString(error.what()).startsWith(dir.path()));
    }
}

void TestTokenizer::outOfRangeIdsAreErrors()
{
    NUGGET_REQUIRE_SHARED("models/stories260K/tokenizer.model");
    const auto tokenizer = Tokenizer::load(storiesPath().toStdString());
    QVERIFY_THROWS_EXCEPTION(nugget::Error, tokenizer->decode({5, 512}));
    QVERIFY_THROWS_EXCEPTION(nugget::Error, tokenizer->decode({-100}));
    QVERIFY_THROWS_EXCEPTION(nugget::Error, tokenizer->piece(512));
    QVERIFY_THROWS_EXCEPTION(nugget::Error, tokenizer->streamPiece(1, -1));
}

void TestTokenizer::trainsSmallModel()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Spaces and a comma in both paths: sentencepiece's own argument parsing could take
    // neither.
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("out dir")));
    const QString corpus = dir.filePath(QStringLiteral("my corpus, v1.txt"));
    QVERIFY(nugget::test::writeBytes(corpus, generatedCorpus(400)));

    nugget::TokenizerTrainingOptions options;
    options.inputFile = corpus.toStdString();
    options.modelPrefix = dir.filePath(QStringLiteral("out dir/tiny tok")).toStdString();
    options.vocabSize = 300;
    options.byteFallback = false;
    options.userDefinedSymbols = {"<|user|>", "<|assistant|>"};
    Tokenizer::train(options);
    QVERIFY(QFileInfo::exists(QString::fromStdString(options.modelPrefix + ".model")));
    QVERIFY(QFileInfo::exists(QString::fromStdString(options.modelPrefix + ".vocab")));

    const auto tokenizer = Tokenizer::load(options.modelPrefix + ".model");
    QCOMPARE(tokenizer->vocabSize(), int64_t(300));
    QCOMPARE(tokenizer->unkId(), int64_t(0));
    QCOMPARE(tokenizer->bosId(), int64_t(1));
    QCOMPARE(tokenizer->eosId(), int64_t(2));
    QCOMPARE(tokenizer->padId(), int64_t(-1));
    const std::string text = "Lily saw the red ball in the garden with 3 friends.";
    QCOMPARE(tokenizer->decode(tokenizer->encode(text)), text);
    // Whitespace kept as is (identity normalisation, no whitespace squeezing).
    QCOMPARE(tokenizer->decode(tokenizer->encode("Tom  played")), std::string("Tom  played"));
    const Ids user = tokenizer->encode("<|user|>");
    QCOMPARE(tokenizer->piece(user.back()), std::string("<|user|>"));
    // split_digits: every digit its own piece.
    const Ids digits = tokenizer->encode("333");
    QCOMPARE(tokenizer->decode(digits), std::string("333"));
    QVERIFY(digits.size() >= 3);
}

void TestTokenizer::trainsByteFallbackModel()
{
    // With byte fallback (the default) 256 byte pieces come first; characters never
    // seen in training still round-trip through them.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString corpus = dir.filePath(QStringLiteral("corpus.txt"));
    QVERIFY(nugget::test::writeBytes(corpus, generatedCorpus(400)));
    nugget::TokenizerTrainingOptions options;
    options.inputFile = corpus.toStdString();
    options.modelPrefix = dir.filePath(QStringLiteral("bytes")).toStdString();
    options.vocabSize = 320;
    Tokenizer::train(options);
    const auto tokenizer = Tokenizer::load(options.modelPrefix + ".model");
    QCOMPARE(tokenizer->vocabSize(), int64_t(320));
    const std::string text = "The cat saw naïve café 日本 🙂";
    const Ids ids = tokenizer->encode(text);
    QCOMPARE(tokenizer->decode(ids), text);
    const int64_t newline = tokenizer->pieceToId("<0x0A>");
    QVERIFY(newline != tokenizer->unkId());
    QCOMPARE(tokenizer->streamPiece(tokenizer->bosId(), newline), std::string("\n"));
}

namespace {
// The message of the Error thrown by Tokenizer::train, empty when nothing was thrown.
QString trainingError(const nugget::TokenizerTrainingOptions &options)
{
    try {
        Tokenizer::train(options);
    } catch (const nugget::Error &error) {
        return QString::fromStdString(error.what());
    }
    return {};
}
} // namespace

void TestTokenizer::trainingErrorIsReported()
{
    QTemporaryDir dir;
    const QString corpus = dir.filePath(QStringLiteral("corpus.txt"));
    QVERIFY(nugget::test::writeBytes(corpus, generatedCorpus(50)));
    nugget::TokenizerTrainingOptions options;
    options.inputFile = corpus.toStdString();
    options.modelPrefix = dir.filePath(QStringLiteral("tok")).toStdString();
    options.vocabSize = 8;   // fewer than the byte pieces and characters the corpus needs
    QString message = trainingError(options);
    QVERIFY2(message.contains(corpus) && message.contains(QStringLiteral("vocab_size")),
             qPrintable(message));

    options.vocabSize = 400;
    options.modelType = "no-such-type";
    message = trainingError(options);
    QVERIFY2(message.contains(QStringLiteral("no-such-type")), qPrintable(message));

    options.modelType = "bpe";
    options.userDefinedSymbols = {"a,b"};
    message = trainingError(options);
    QVERIFY2(message.contains(QStringLiteral("\"a,b\"")), qPrintable(message));

    options.userDefinedSymbols.clear();
    options.inputFile = dir.filePath(QStringLiteral("missing.txt")).toStdString();
    message = trainingError(options);
    QVERIFY2(message.startsWith(QString::fromStdString(options.inputFile)), qPrintable(message));
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("tok.model"))));
}

void TestTokenizer::libtorchInSameProcess()
{
    // The plugin's protobuf and libtorch's must coexist: use both, in both orders.
    const at::Tensor a = at::ones({64, 32});
    const at::Tensor b = at::full({32, 16}, 0.5);
    QCOMPARE(at::matmul(a, b).sum().item<double>(), 64.0 * 16.0 * 16.0);

    NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tokenizer = Tokenizer::load(llamaPath().toStdString());
    const Ids ids = tokenizer->encode("Once upon a time", true);
    const at::Tensor tokens = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
    QCOMPARE(tokens.sum().item<int64_t>(), int64_t(1 + 9038 + 2501 + 263 + 931));
    const at::Tensor table = at::arange(32000, at::kFloat).unsqueeze(1).expand({32000, 8});
    const at::Tensor rows = table.index_select(0, tokens);
    QCOMPARE(rows.select(1, 0).sum().item<double>(), double(1 + 9038 + 2501 + 263 + 931));
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"

