// Reading and writing safetensors files, single and sharded checkpoints.

#include "Error.h"
#include "TestSupport.h"
#include "io/Safetensors.h"
#include "io/TensorStore.h"

#include <torch/torch.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <cstdint>
#include <functional>

using nugget::test::errorOf;
using nugget::test::readAll;
using nugget::test::writeBytes;

using nugget::Error;
using nugget::SafetensorsFile;
using nugget::TensorStore;

namespace {

// A safetensors file from a header text and a data section, built by hand.
QByteArray craft(const QByteArray &header, const QByteArray &data = QByteArray())
{
    char length[8];
    qToLittleEndian<quint64>(quint64(header.size()), length);
    return QByteArray(length, 8) + header + data;
}

QByteArray craftWithLength(quint64 length, const QByteArray &rest)
{
    char bytes[8];
    qToLittleEndian<quint64>(length, bytes);
    return QByteArray(bytes, 8) + rest;
}

at::Tensor sample(c10::ScalarType dtype, at::IntArrayRef shape)
{
    switch (dtype) {
    case c10::ScalarType::Bool:
        return at::randint(0, 2, shape, at::kLong).gt(0);
    case c10::ScalarType::Byte:
        return at::randint(0, 256, shape, at::kLong).to(dtype);
    case c10::ScalarType::Char:
        return at::randint(-128, 128, shape, at::kLong).to(dtype);
    case c10::ScalarType::Short:
    case c10::ScalarType::Int:
    case c10::ScalarType::Long:
        return at::randint(-30000, 30000, shape, at::kLong).to(dtype);
    default:
        return at::randn(shape, at::kDouble).mul(100).to(dtype);
    }
}

// The line of /proc/self/maps whose range holds `address`, or empty.
QString mappingOf(const void *address)
{
    const auto a = reinterpret_cast<quintptr>(address);
    const QList<QByteArray> lines = readAll(QStringLiteral("/proc/self/maps")).split('\n');
    for (const QByteArray &line : lines) {
        const qsizetype dash = line.indexOf('-');
        const qsizetype space = line.indexOf(' ');
        if (dash < 0 || space < dash)
            continue;
        const quintptr begin = line.left(dash).toULongLong(nullptr, 16);
        const quintptr end = line.mid(dash + 1, space - dash - 1).toULongLong(nullptr, 16);
        if (a >= begin && a < end)
            return QString::fromLocal8Bit(line);
    }
    return QString();
}

} // namespace

class TestSafetensors : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void dtypeNames();
    void roundTrip_data();
    void roundTrip();
    void shapesAndMetadata();
    void writeIsAtomic();
    void writeRejectsDuplicates();
    void malformed_data();
    void malformed();
    void zeroCopy();
    void unalignedDataIsCopied();
    void shardedFolder();
    void shardedErrors();
    void folderWithoutCheckpoint();
    void stories260K();
};

void TestSafetensors::dtypeNames()
{
    for (const char *name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"})
        QCOMPARE(nugget::safetensorsDtypeName(nugget::safetensorsDtype(name)), std::string(name));
    QVERIFY(errorOf([] { nugget::safetensorsDtype("F8_E4M3"); }).contains("F8_E4M3"));
    QVERIFY(errorOf([] { nugget::safetensorsDtypeName(c10::ScalarType::ComplexFloat); })
                .contains("cannot be stored"));
}

void TestSafetensors::roundTrip_data()
{
    QTest::addColumn<QString>("name");
    for (const char *name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"})
        QTest::newRow(name) << QString::fromLatin1(name);
}

void TestSafetensors::roundTrip()
{
    QFETCH(QString, name);
    const c10::ScalarType dtype = nugget::safetensorsDtype(name.toStdString());
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("t.safetensors"));

    // Odd sizes so that offsets are not all multiples of 8; one non-contiguous input.
    const at::Tensor a = sample(dtype, {3, 5});
    const at::Tensor b = sample(dtype, {7});
    const at::Tensor c = sample(dtype, {4, 3}).t();
    const at::Tensor scalar = sample(dtype, {});
    const at::Tensor empty = sample(dtype, {0, 4});
    QVERIFY(!c.is_contiguous());
    nugget::writeSafetensors(path.toStdString(),
                             {{"a", a}, {"b", b}, {"c", c}, {"scalar", scalar}, {"empty", empty}});

    const QByteArray bytes = readAll(path);
    QVERIFY(bytes.size() >= 8);
    const quint64 headerLength = qFromLittleEndian<quint64>(bytes.constData());
    QCOMPARE((8 + headerLength) % 8, quint64(0));
    // Tensors appear in the given order with contiguous offsets.
    const QByteArray header = bytes.mid(8, qsizetype(headerLength));
    QVERIFY(header.indexOf("\"a\"") < header.indexOf("\"b\""));
    QVERIFY(header.indexOf("\"b\"") < header.indexOf("\"c\""));
    QVERIFY(header.indexOf("\"c\"") < header.indexOf("\"scalar\""));

    const auto file = SafetensorsFile::open(path.toStdString());
    QCOMPARE(file->tensors().size(), size_t(5));
    QCOMPARE(file->fileSize(), quint64(bytes.size()));
    uint64_t expectedBegin = 0;
    for (const auto &info : file->tensors()) {
        QCOMPARE(info.begin, expectedBegin);
        expectedBegin = info.end;
        QCOMPARE(info.dtypeName, name.toStdString());
    }
    QCOMPARE(expectedBegin, quint64(bytes.size()) - 8 - headerLength);

    const std::pair<const char *, at::Tensor> expected[] = {
        {"a", a}, {"b", b}, {"c", c}, {"scalar", scalar}, {"empty", empty}};
    for (const auto &[tensorName, original] : expected) {
        const at::Tensor loaded = file->tensor(tensorName);
        QCOMPARE(loaded.scalar_type(), dtype);
        QCOMPARE(loaded.sizes().vec(), original.sizes().vec());
        QVERIFY2(at::equal(loaded, original), tensorName);
    }
    QCOMPARE(file->find("scalar")->shape.size(), size_t(0));
    QCOMPARE(file->find("scalar")->numel(), int64_t(1));
    QCOMPARE(file->find("empty")->numel(), int64_t(0));
    QVERIFY(file->find("missing") == nullptr);
    QVERIFY(errorOf([&] { file->tensor("missing"); }).contains("missing"));
}

void TestSafetensors::shapesAndMetadata()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("m.safetensors"));
    const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                         {"note", "quote \" and \\ and ü"}};
    const at::Tensor odd = at::arange(24, at::kFloat).reshape({2, 3, 4});
    nugget::writeSafetensors(path.toStdString(), {{"weird \"name\"/ü", odd}}, metadata);

    const auto file = SafetensorsFile::open(path.toStdString());
    QCOMPARE(file->metadata(), metadata);
    QCOMPARE(file->path(), path.toStdString());
    QVERIFY(at::equal(file->tensor("weird \"name\"/ü"), odd));
    QCOMPARE(file->find("weird \"name\"/ü")->shape, (std::vector<int64_t>{2, 3, 4}));

    // The header must be plain JSON any other reader accepts.
    const QByteArray bytes = readAll(path);
    const quint64 n = qFromLittleEndian<quint64>(bytes.constData());
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(bytes.mid(8, qsizetype(n)), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(doc.object().value("__metadata__").toObject().value("format").toString(),
             QStringLiteral("pt"));
}

void TestSafetensors::writeIsAtomic()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("keep.safetensors"));
    nugget::writeSafetensors(path.toStdString(), {{"x", at::ones({4})}});
    const QByteArray before = readAll(path);
    QVERIFY(!before.isEmpty());

    // A tensor that cannot be read fails half-way through writing the data.
    const at::Tensor unreadable = at::empty({16}, at::TensorOptions().device(at::kMeta));
    const QString failed = errorOf([&] {
        nugget::writeSafetensors(path.toStdString(),
                                 {{"y", at::zeros({1000})}, {"bad", unreadable}});
    });
    QVERIFY2(failed.contains(path) && failed.contains("bad"), qPrintable(failed));
    QCOMPARE(readAll(path), before);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden),
             QStringList{QStringLiteral("keep.safetensors")});

    // A folder that does not exist: the error names the path.
    const QString nowhere = dir.filePath(QStringLiteral("no/such/folder/x.safetensors"));
    const QString missingDir = errorOf(
        [&] { nugget::writeSafetensors(nowhere.toStdString(), {{"x", at::ones({1})}}); });
    QVERIFY2(missingDir.contains(nowhere), qPrintable(missingDir));
    QVERIFY(!QFileInfo::exists(nowhere));

    // Unsupported dtypes are refused before anything is written.
    const QString complex = errorOf([&] {
        nugget::writeSafetensors(path.toStdString(),
                                 {{"z", at::zeros({2}, at::kComplexFloat)}});
    });
    QVERIFY2(complex.contains("'z'"), qPrintable(complex));
    QCOMPARE(readAll(path), before);
}

void TestSafetensors::writeRejectsDuplicates()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("dup.safetensors"));
    const QString message = errorOf([&] {
        nugget::writeSafetensors(path.toStdString(),
                                 {{"w", at::ones({2})}, {"v", at::ones({2})}, {"w", at::ones({3})}});
    });
    QVERIFY2(message.contains("duplicate") && message.contains("'w'"), qPrintable(message));
    QVERIFY(!QFileInfo::exists(path));
}

void TestSafetensors::malformed_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");

    const QByteArray data24(24, '\0');
    QTest::newRow("empty file") << QByteArray() << "at least 8 bytes";
    QTest::newRow("shorter than 8 bytes") << QByteArray("\x02\0\0\0", 4) << "at least 8 bytes";
    QTest::newRow("header beyond file")
        << craftWithLength(500, "{}") << "exceeds the file size";
    QTest::newRow("header over 100 MB")
        << craftWithLength(200ull * 1024 * 1024, "{}") << "100 MB";
    QTest::newRow("invalid JSON") << craft("{\"a\": {") << "not valid JSON";
    QTest::newRow("not an object") << craft("[1, 2]") << "must be an object";
    QTest::newRow("unknown dtype")
        << craft(R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", QByteArray(2, 0))
        << "unknown dtype 'F8'";
    QTest::newRow("missing dtype")
        << craft(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", QByteArray(8, 0)) << "dtype";
    QTest::newRow("size mismatch")
        << craft(R"({"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})", data24)
        << "data_offsets [0, 12] span 12 bytes but shape [2,3] of F32 needs 24";
    QTest::newRow("offsets beyond data")
        << craft(R"({"x":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data24)
        << "beyond the data section";
    QTest::newRow("begin after end")
        << craft(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", data24)
        << "begin after they end";
    QTest::newRow("offsets not a pair")
        << craft(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0]}})", data24)
        << "data_offsets";
    QTest::newRow("negative offset")
        << craft(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}})", data24)
        << "data_offsets";
    QTest::newRow("overlapping tensors")
        << craft(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                 data24)
        << "overlap";
    QTest::newRow("duplicate names")
        << craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 data24)
        << "duplicate tensor name 'a'";
    QTest::newRow("duplicate escaped names")
        << craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("\u0061":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 data24)
        << "duplicate tensor name 'a'";
    QTest::newRow("negative shape")
        << craft(R"({"x":{"dtype":"U8","shape":[-2],"data_offsets":[0,0]}})", data24)
        << "non-negative integers";
    QTest::newRow("non-integer shape")
        << craft(R"({"x":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", data24)
        << "non-negative integers";
    QTest::newRow("string shape")
        << craft(R"({"x":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}})", data24)
        << "non-negative integers";
    QTest::newRow("entry not an object")
        << craft(R"({"x":[1,2]})", data24) << "must be an object";
    QTest::newRow("metadata not strings")
        << craft(R"({"__metadata__":{"n":3}})") << "__metadata__";
}

void TestSafetensors::malformed()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("bad.safetensors"));
    QVERIFY(writeBytes(path, bytes));
    const QString message = errorOf([&] { SafetensorsFile::open(path.toStdString()); });
    QVERIFY2(message.contains(expected), qPrintable(message));
    QVERIFY2(message.contains(path), qPrintable(message));
}

void TestSafetensors::zeroCopy()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("z.safetensors"));
    const at::Tensor w = at::arange(1000, at::kFloat).reshape({10, 100});
    nugget::writeSafetensors(path.toStdString(), {{"w", w}, {"b", at::ones({3}, at::kInt)}});
    const QByteArray before = readAll(path);

    at::Tensor loaded;
    {
        const auto file = SafetensorsFile::open(path.toStdString());
        loaded = file->tensor("w");
        const QString region = mappingOf(loaded.data_ptr());
        QVERIFY2(region.endsWith(QFileInfo(path).canonicalFilePath()), qPrintable(region));
        const QString other = mappingOf(file->tensor("b").data_ptr());
        QCOMPARE(other, region);   // same mapping, no copies
        QCOMPARE(static_cast<const char *>(file->tensor("b").data_ptr()) -
                     static_cast<const char *>(loaded.data_ptr()),
                 ptrdiff_t(file->find("b")->begin - file->find("w")->begin));
    }
    // The SafetensorsFile is gone; the tensor keeps the mapping alive.
    QVERIFY(at::equal(loaded, w));
    QVERIFY(!mappingOf(loaded.data_ptr()).isEmpty());

    // In-place writes are private to this process.
    loaded.add_(1);
    QVERIFY(at::equal(loaded, w + 1));
    QCOMPARE(readAll(path), before);
    QVERIFY(at::equal(SafetensorsFile::open(path.toStdString())->tensor("w"), w));

    // The mapping is released with the last tensor.
    const void *address = loaded.data_ptr();
    loaded = at::Tensor();
    QVERIFY(!mappingOf(address).contains(QFileInfo(path).fileName()));
}

void TestSafetensors::unalignedDataIsCopied()
{
    // Written by a tool that does not pad the header: the data section starts at an odd
    // address. The values must still come back right.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("u.safetensors"));
    const float values[3] = {1.5f, -2.25f, 1e30f};
    const QByteArray header = R"({"v":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
    QVERIFY((8 + header.size()) % 4 != 0);
    QVERIFY(writeBytes(path, craft(header, QByteArray(reinterpret_cast<const char *>(values),
                                                      sizeof values))));
    const at::Tensor v = SafetensorsFile::open(path.toStdString())->tensor("v");
    QCOMPARE(reinterpret_cast<quintptr>(v.data_ptr()) % alignof(float), quintptr(0));
    QVERIFY(at::equal(v, at::tensor({1.5f, -2.25f, 1e30f})));
}

void TestSafetensors::shardedFolder()
{
    QTemporaryDir dir;
    const at::Tensor a = at::randn({4, 4});
    const at::Tensor b = at::randint(0, 100, {5}, at::kLong);
    const at::Tensor c = at::randn({2, 3}).to(at::kBFloat16);
    nugget::writeSafetensors(dir.filePath("model-00001-of-00002.safetensors").toStdString(),
                             {{"a", a}, {"b", b}});
    nugget::writeSafetensors(dir.filePath("model-00002-of-00002.safetensors").toStdString(),
                             {{"c", c}, {"unlisted", at::ones({1})}});
    QVERIFY(writeBytes(dir.filePath("model.safetensors.index.json"), R"({
        "metadata": {"total_size": 0},
        "weight_map": {"c": "model-00002-of-00002.safetensors",
                       "a": "model-00001-of-00002.safetensors",
                       "b": "model-00001-of-00002.safetensors"}})"));

    const TensorStore store = TensorStore::openFolder(dir.path().toStdString());
    QCOMPARE(store.names(), (std::vector<std::string>{"a", "b", "c"}));
    QCOMPARE(store.files().size(), size_t(2));
    QVERIFY(store.contains("a") && !store.contains("unlisted"));
    QVERIFY(at::equal(store.tensor("a"), a));
    QVERIFY(at::equal(store.tensor("b"), b));
    QVERIFY(at::equal(store.tensor("c"), c));
    QCOMPARE(store.info("c").dtypeName, std::string("BF16"));
    QCOMPARE(store.totalBytes(), quint64(16 * 4 + 5 * 8 + 6 * 2));
    QVERIFY(errorOf([&] { store.tensor("zz"); }).contains("'zz'"));
    QVERIFY(errorOf([&] { store.info("zz"); }).contains("'zz'"));

    // A single model.safetensors wins and offers all its tensors.
    QTemporaryDir single;
    nugget::writeSafetensors(single.filePath("model.safetensors").toStdString(),
                             {{"x", a}, {"y", c}});
    const TensorStore one = TensorStore::openFolder(single.path().toStdString());
    QCOMPARE(one.names(), (std::vector<std::string>{"x", "y"}));
    QCOMPARE(one.files().size(), size_t(1));
    QVERIFY(at::equal(one.tensor("y"), c));
    QCOMPARE(TensorStore::openFile(single.filePath("model.safetensors").toStdString()).names(),
             one.names());
}

void TestSafetensors::shardedErrors()
{
    QTemporaryDir dir;
    const QString index = dir.filePath(QStringLiteral("model.safetensors.index.json"));
    nugget::writeSafetensors(dir.filePath("shard1.safetensors").toStdString(),
                             {{"a", at::ones({2})}});
    const auto openMessage = [&] {
        return errorOf([&] { TensorStore::openFolder(dir.path().toStdString()); });
    };

    QVERIFY(writeBytes(index, R"({"weight_map": {"a": "shard1.safetensors",
                                                 "b": "shard2.safetensors"}})"));
    QString message = openMessage();
    QVERIFY2(message.contains("shard2.safetensors") && message.contains("does not exist"),
             qPrintable(message));

    QVERIFY(writeBytes(index, R"({"weight_map": {"a": "shard1.safetensors",
                                                 "ghost": "shard1.safetensors"}})"));
    message = openMessage();
    QVERIFY2(message.contains("'ghost'") && message.contains("shard1.safetensors"),
             qPrintable(message));

    QVERIFY(writeBytes(index, R"({"weight_map": {"a": "shard1.safetensors",)"));
    message = openMessage();
    QVERIFY2(message.contains("model.safetensors.index.json") && message.contains("JSON"),
             qPrintable(message));

    QVERIFY(writeBytes(index, R"({"metadata": {}})"));
    message = openMessage();
    QVERIFY2(message.contains("weight_map"), qPrintable(message));

    for (const char *evil : {"../shard1.safetensors", "/etc/passwd", "sub\\\\x.safetensors"}) {
        QVERIFY(writeBytes(index, QByteArray(R"({"weight_map": {"a": ")") + evil + "\"}}"));
        message = openMessage();
        QVERIFY2(message.contains("plain file name"), qPrintable(message));
    }

    // A malformed shard names the shard.
    QVERIFY(writeBytes(dir.filePath("broken.safetensors"), "xyz"));
    QVERIFY(writeBytes(index, R"({"weight_map": {"a": "broken.safetensors"}})"));
    message = openMessage();
    QVERIFY2(message.contains("broken.safetensors"), qPrintable(message));
}

void TestSafetensors::folderWithoutCheckpoint()
{
    QTemporaryDir dir;
    const QString message =
        errorOf([&] { TensorStore::openFolder(dir.path().toStdString()); });
    QCOMPARE(message, dir.path() + ": no model.safetensors or model.safetensors.index.json");
    const QString gone = dir.filePath(QStringLiteral("absent"));
    QVERIFY(errorOf([&] { TensorStore::openFolder(gone.toStdString()); }).contains(gone));
}

void TestSafetensors::stories260K()
{
    NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
    const QString path = nugget::test::sharedPath("models/stories260K/model.safetensors");
    const auto file = SafetensorsFile::open(path.toStdString());
    QCOMPARE(file->tensors().size(), size_t(48));
    const nugget::TensorInfo *embed = file->find("model.embed_tokens.weight");
    QVERIFY(embed);
    QCOMPARE(embed->dtypeName, std::string("F32"));
    QCOMPARE(embed->shape, (std::vector<int64_t>{512, 64}));
    const at::Tensor t = file->tensor("model.embed_tokens.weight");
    QCOMPARE(t.scalar_type(), at::kFloat);
    QVERIFY(t.isfinite().all().item<bool>());
    QVERIFY(t.abs().sum().item<double>() > 0);

    const TensorStore store = TensorStore::openFolder(
        nugget::test::sharedPath("models/stories260K").toStdString());
    QCOMPARE(store.names().size(), size_t(48));
    int64_t params = 0;
    for (const auto &info : file->tensors())
        params += info.numel();
    QCOMPARE(store.totalBytes(), quint64(params) * 4);
}

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"

