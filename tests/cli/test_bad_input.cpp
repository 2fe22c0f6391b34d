// The bad-input table: files a user may download from strangers or produce by
// accident, fed to nugget-cli and to the core. Every case must end in a message that
// names the file and the problem, a non-zero exit (never a crash), and leave the
// case's folder byte for byte as it was (existing outputs untouched, nothing half
// written left behind). docs/bad-input.md lists this table.

#include "TestSupport.h"

#include "io/PeftAdapter.h"
#include "io/Safetensors.h"
#include "io/Session.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "train/LoraTrainer.h"
#include "train/Pretrainer.h"
#include "model/LoraAdapters.h"
#include "transfer/Injection.h"

#include <QDirIterator>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QScopeGuard>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtEndian>

#include <torch/torch.h>

#include <csignal>
#include <functional>
#include <map>

#include <sys/resource.h>
#include <unistd.h>

using nugget::test::CliRun;
using nugget::test::errorOf;
using nugget::test::readAll;
using nugget::test::sourceDir;
using nugget::test::writeBytes;

namespace {

QString demo(const QString &relative) { return sourceDir() + QStringLiteral("/resources/demo/") + relative; }

bool copyFolder(const QString &from, const QString &to)
{
    if (!QDir().mkpath(to))
        return false;
    for (const QString &name : QDir(from).entryList(QDir::Files))
        if (!QFile::copy(from + u'/' + name, to + u'/' + name))
            return false;
    return true;
}

// Every file under `dir` with its bytes: the state a failed command must leave alone.
std::map<QString, QByteArray> snapshot(const QString &dir)
{
    std::map<QString, QByteArray> files;
    QDirIterator it(dir, QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        files[QDir(dir).relativeFilePath(path)] = QFileInfo(path).isDir() ? QByteArray("<dir>") : readAll(path);
    }
    return files;
}

QString describeDifference(const std::map<QString, QByteArray> &before, const std::map<QString, QByteArray> &after)
{
    QStringList changes;
    for (const auto &[name, bytes] : before) {
        const auto found = after.find(name);
        if (found == after.end())
            changes << QStringLiteral("removed ") + name;
        else if (found->second != bytes)
            changes << QStringLiteral("changed ") + name;
    }
    for (const auto &[name, bytes] : after)
        if (!before.count(name))
            changes << QStringLiteral("added ") + name;
    return changes.join(QStringLiteral(", "));
}

// The 8-byte length, the header and the data of a hand-made safetensors file.
QByteArray safetensors(const QByteArray &header, const QByteArray &data)
{
    QByteArray length(8, '\0');
    qToLittleEndian<quint64>(static_cast<quint64>(header.size()), length.data());
    return length + header + data;
}

// How a case is run: limits applied to the child between fork and exec.
struct ChildLimits
{
    qint64 maxFileBytes = -1;   // RLIMIT_FSIZE: writes beyond fail as on a full disk
    bool dropRoot = false;      // run as nobody, so permission bits apply even for root
};

CliRun runCliWith(const QStringList &arguments, const QString &workingDirectory, const ChildLimits &limits)
{
    QProcess process;
    process.setWorkingDirectory(workingDirectory);
    process.setChildProcessModifier([limits] {
        if (limits.maxFileBytes >= 0) {
            // A full disk fails a write with ENOSPC; the file-size limit fails it with
            // EFBIG the same way once SIGXFSZ (which would kill the process) is ignored.
            std::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{static_cast<rlim_t>(limits.maxFileBytes), static_cast<rlim_t>(limits.maxFileBytes)};
            ::setrlimit(RLIMIT_FSIZE, &limit);
        }
        if (limits.dropRoot && ::geteuid() == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0)
                ::_exit(97);
        }
    });
    process.start(QStringLiteral(NUGGET_CLI_PATH), arguments);
    CliRun run;
    if (!process.waitForFinished(300000)) {
        process.kill();
        process.waitForFinished();
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

struct Case
{
    const char *name;
    // Builds the case's inputs in `dir` (the case's own folder; the shared good inputs
    // are under `base`) and returns the nugget-cli arguments.
    std::function<QStringList(const QString &dir, const QString &base)> prepare;
    QStringList expected;   // fragments the message must contain ("@" stands for the case folder)
    ChildLimits limits = {};
    const char *knownFailure = nullptr;   // why the product does not hold yet (QEXPECT_FAIL)
};

} // namespace

Q_DECLARE_METATYPE(const Case *)

class TestBadInput : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_base;               // good inputs shared by the cases
    std::vector<Case> m_cases;

    QString base(const QString &relative) const { return m_base + u'/' + relative; }

    // A copy of the demo student with its model.safetensors replaced.
    static QString studentWithWeights(const QString &dir, const QString &base, const QByteArray &weights)
    {
        copyFolder(base + QStringLiteral("/student"), dir + QStringLiteral("/model"));
        writeBytes(dir + QStringLiteral("/model/model.safetensors"), weights);
        return dir + QStringLiteral("/model");
    }

    // A copy of the demo student whose config.json has `key` set to `value` (removed when undefined).
    static QString studentWithConfig(const QString &dir, const QString &base, const QString &key, const QJsonValue &value)
    {
        copyFolder(base + QStringLiteral("/student"), dir + QStringLiteral("/model"));
        QJsonObject config = QJsonDocument::fromJson(readAll(base + QStringLiteral("/student/config.json"))).object();
        if (value.isUndefined())
            config.remove(key);
        else
            config[key] = value;
        writeBytes(dir + QStringLiteral("/model/config.json"), QJsonDocument(config).toJson());
        return dir + QStringLiteral("/model");
    }

    // The student's tensors with one of them replaced by `tensor` (or dropped when undefined).
    static QByteArray studentTensorsWith(const QString &base, const std::string &name, const at::Tensor &tensor)
    {
        const auto file = nugget::SafetensorsFile::open((base + QStringLiteral("/student/model.safetensors")).toStdString());
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto &info : file->tensors()) {
            if (info.name != name)
                tensors.emplace_back(info.name, file->tensor(info.name));
            else if (tensor.defined())
                tensors.emplace_back(name, tensor);
        }
        QTemporaryDir scratch;
        const QString path = scratch.filePath(QStringLiteral("w.safetensors"));
        nugget::writeSafetensors(path.toStdString(), tensors);
        return readAll(path);
    }

    // `sensitivity --metric magnitude` loads the whole model and tokenizer and updates an
    // existing session: the cheapest command that reads everything and writes an output.
    static QStringList scoreInto(const QString &model, const QString &dir, const QString &base)
    {
        QFile::copy(base + QStringLiteral("/good.h5"), dir + QStringLiteral("/out.h5"));
        return {QStringLiteral("sensitivity"), QStringLiteral("--model"), model, QStringLiteral("--metric"),
                QStringLiteral("magnitude"), QStringLiteral("--out"), dir + QStringLiteral("/out.h5")};
    }

    // `sensitivity --metric taylor` on seed file `seeds`, updating an existing session.
    static QStringList seedsInto(const QString &seeds, const QString &dir, const QString &base)
    {
        QFile::copy(base + QStringLiteral("/good.h5"), dir + QStringLiteral("/out.h5"));
        return {QStringLiteral("sensitivity"), QStringLiteral("--model"), base + QStringLiteral("/teacher"),
                QStringLiteral("--seeds"), seeds, QStringLiteral("--out"), dir + QStringLiteral("/out.h5")};
    }

    // `extract` from teacher to student into an existing adapter folder and session.
    static QStringList extractInto(const QString &teacher, const QString &student, const QString &session,
                                   const QString &dir, const QString &base)
    {
        copyFolder(base + QStringLiteral("/adapter"), dir + QStringLiteral("/adapter"));
        copyFolder(base + QStringLiteral("/adapter/delta"), dir + QStringLiteral("/adapter/delta"));
        return {QStringLiteral("extract"), QStringLiteral("--teacher"), teacher, QStringLiteral("--student"), student,
                QStringLiteral("--session"), session, QStringLiteral("--rank"), QStringLiteral("4"),
                QStringLiteral("--adapter-form"), QStringLiteral("delta"), QStringLiteral("--out"),
                dir + QStringLiteral("/adapter")};
    }

    void buildCases();

private Q_SLOTS:
    void initTestCase();
    void table_data();
    void table();
    void corruptTokenizersAreErrors();
    void truncatedSessionsAreErrors();
    void fuzzFindingsAreErrors();
    void fullDiskWhileWritingANewSession();
    void nonFiniteLossStopsLoraTraining();
    void nonFiniteLossStopsPretraining();
};

void TestBadInput::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // Readable by everyone: the read-only-folder case runs the CLI as an unprivileged user.
    QFile::setPermissions(m_dir.path(), QFile::permissions(m_dir.path()) | QFileDevice::ReadOther |
                                            QFileDevice::ExeOther | QFileDevice::ReadGroup | QFileDevice::ExeGroup);
    m_base = m_dir.filePath(QStringLiteral("base"));
    QVERIFY(copyFolder(demo(QStringLiteral("teacher")), base(QStringLiteral("teacher"))));
    QVERIFY(copyFolder(demo(QStringLiteral("student")), base(QStringLiteral("student"))));
    QVERIFY(QFile::copy(demo(QStringLiteral("tasks/transfer_seeds.jsonl")), base(QStringLiteral("seeds.jsonl"))));
    QVERIFY(QFile::copy(demo(QStringLiteral("tasks/transfer_train.jsonl")), base(QStringLiteral("train.jsonl"))));

    // A good session with the teacher's magnitude scores and a good adapter with its
    // delta: the existing outputs the failing commands must not touch.
    auto run = nugget::test::runCli({QStringLiteral("sensitivity"), QStringLiteral("--model"), base(QStringLiteral("teacher")),
                                     QStringLiteral("--metric"), QStringLiteral("magnitude"), QStringLiteral("--out"),
                                     base(QStringLiteral("good.h5"))});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(QFile::copy(base(QStringLiteral("good.h5")), base(QStringLiteral("extract.h5"))));
    run = nugget::test::runCli({QStringLiteral("extract"), QStringLiteral("--teacher"), base(QStringLiteral("teacher")),
                                QStringLiteral("--student"), base(QStringLiteral("student")), QStringLiteral("--session"),
                                base(QStringLiteral("extract.h5")), QStringLiteral("--rank"), QStringLiteral("4"),
                                QStringLiteral("--adapter-form"), QStringLiteral("delta"), QStringLiteral("--out"),
                                base(QStringLiteral("adapter"))});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(QFileInfo::exists(base(QStringLiteral("adapter/delta/adapter_model.safetensors"))));
    // A session scored on the student: "a session from a different teacher".
    run = nugget::test::runCli({QStringLiteral("sensitivity"), QStringLiteral("--model"), base(QStringLiteral("student")),
                                QStringLiteral("--metric"), QStringLiteral("magnitude"), QStringLiteral("--out"),
                                base(QStringLiteral("other-teacher.h5"))});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    // Everything readable by an unprivileged user (see above).
    QDirIterator it(m_base, QDir::AllEntries | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        QFile::setPermissions(path, QFile::permissions(path) | QFileDevice::ReadOther |
                                        (QFileInfo(path).isDir() ? QFileDevice::ExeOther : QFileDevice::Permissions()));
    }
    QFile::setPermissions(m_base, QFile::permissions(m_base) | QFileDevice::ReadOther | QFileDevice::ExeOther);
    buildCases();
}

void TestBadInput::buildCases()
{
    const QByteArray studentWeights = readAll(base(QStringLiteral("student/model.safetensors")));
    const QByteArray oneTensor = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
    const QByteArray sixteen(16, '\0');
    auto weights = [](const QByteArray &bytes) {
        return [bytes](const QString &dir, const QString &base) {
            return scoreInto(studentWithWeights(dir, base, bytes), dir, base);
        };
    };
    auto config = [](const char *key, const QJsonValue &value) {
        return [key = QString::fromLatin1(key), value](const QString &dir, const QString &base) {
            return scoreInto(studentWithConfig(dir, base, key, value), dir, base);
        };
    };
    auto seeds = [](const QByteArray &bytes) {
        return [bytes](const QString &dir, const QString &base) {
            writeBytes(dir + QStringLiteral("/seeds.jsonl"), bytes);
            return seedsInto(dir + QStringLiteral("/seeds.jsonl"), dir, base);
        };
    };
    const QByteArray goodSeed =
        R"({"id":"s1","messages":[{"role":"user","content":"Where was Ada born?"},{"role":"assistant","content":"In Paris."}]})";
    const QString ms = QStringLiteral("model.safetensors");

    m_cases = {
        // --- safetensors -------------------------------------------------------------
        {"truncated safetensors", weights(studentWeights.left(studentWeights.size() / 2)), {ms, QStringLiteral("truncated")}},
        {"file shorter than the header length field", weights(QByteArray("\x05\x00\x00", 3)), {ms, QStringLiteral("at least 8 bytes")}},
        {"header length beyond the file", weights(safetensors(oneTensor, sixteen).left(40)), {ms, QStringLiteral("exceeds the file size")}},
        {"header length over 100 MB", weights(QByteArray("\x00\x00\x00\x10\x00\x00\x00\x00{}", 10)), {ms, QStringLiteral("100 MB limit")}},
        {"header not JSON", weights(safetensors("{\"w\":", sixteen)), {ms, QStringLiteral("not valid JSON")}},
        {"header not an object", weights(safetensors("[1,2]   ", {})), {ms, QStringLiteral("must be an object")}},
        {"offsets beyond the data", weights(safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", QByteArray(8, '\0'))),
         {ms, QStringLiteral("beyond the data section")}},
        {"offsets begin after end", weights(safetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", sixteen)),
         {ms, QStringLiteral("begin after they end")}},
        {"overlapping tensors",
         weights(safetensors(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", sixteen)),
         {ms, QStringLiteral("overlap")}},
        {"shape and size disagree", weights(safetensors(R"({"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}})", sixteen)),
         {ms, QStringLiteral("needs 24")}},
        {"dtype and size disagree", weights(safetensors(R"({"w":{"dtype":"F64","shape":[2,2],"data_offsets":[0,16]}})", sixteen)),
         {ms, QStringLiteral("needs 32")}},
        {"unknown dtype", weights(safetensors(R"({"w":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,16]}})", sixteen)),
         {ms, QStringLiteral("unknown dtype 'F8_E4M3'")}},
        {"negative shape", weights(safetensors(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", sixteen)),
         {ms, QStringLiteral("non-negative integers")}},
        {"duplicate tensor names",
         weights(safetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", sixteen)),
         {ms, QStringLiteral("duplicate tensor name 'w'")}},
        {"missing tensor",
         [this](const QString &dir, const QString &b) {
             return scoreInto(studentWithWeights(dir, b, studentTensorsWith(b, "model.norm.weight", {})), dir, b);
         },
         {ms, QStringLiteral("'model.norm.weight' is missing")}},
        {"tensor shape differs from config.json",
         [this](const QString &dir, const QString &b) {
             return scoreInto(studentWithWeights(dir, b, studentTensorsWith(b, "model.norm.weight", torch::ones({64}, at::kBFloat16))), dir, b);
         },
         {ms, QStringLiteral("'model.norm.weight' has shape [64]")}},
        {"NaN weight",
         [this](const QString &dir, const QString &b) {
             auto t = torch::ones({128}, at::kBFloat16);
             t[5] = std::numeric_limits<float>::quiet_NaN();
             return scoreInto(studentWithWeights(dir, b, studentTensorsWith(b, "model.norm.weight", t)), dir, b);
         },
         {ms, QStringLiteral("'model.norm.weight' contains NaN or infinite values")}},
        {"infinite weight",
         [this](const QString &dir, const QString &b) {
             auto t = torch::ones({128}, at::kBFloat16);
             t[0] = -std::numeric_limits<float>::infinity();
             return scoreInto(studentWithWeights(dir, b, studentTensorsWith(b, "model.norm.weight", t)), dir, b);
         },
         {ms, QStringLiteral("contains NaN or infinite values")}},
        {"shard index names a missing shard",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, {});
             QFile::remove(model + QStringLiteral("/model.safetensors"));
             writeBytes(model + QStringLiteral("/model.safetensors.index.json"),
                        R"({"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors"}})");
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("model.safetensors.index.json"), QStringLiteral("does not exist")}},
        {"shard index escapes the folder",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, {});
             QFile::remove(model + QStringLiteral("/model.safetensors"));
             writeBytes(model + QStringLiteral("/model.safetensors.index.json"),
                        R"({"weight_map":{"model.norm.weight":"../../base/student/model.safetensors"}})");
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("model.safetensors.index.json"), QStringLiteral("plain file name")}},
        // --- config.json ------------------------------------------------------------
        {"config without hidden_size", config("hidden_size", QJsonValue::Undefined), {QStringLiteral("config.json"), QStringLiteral("missing key 'hidden_size'")}},
        {"config with zero heads", config("num_attention_heads", 0), {QStringLiteral("config.json"), QStringLiteral("'num_attention_heads' must be positive")}},
        {"config head count not dividing hidden",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithConfig(dir, b, QStringLiteral("head_dim"), QJsonValue::Undefined);
             QJsonObject c = QJsonDocument::fromJson(readAll(model + QStringLiteral("/config.json"))).object();
             c[QStringLiteral("num_attention_heads")] = 3;
             c[QStringLiteral("num_key_value_heads")] = 3;
             writeBytes(model + QStringLiteral("/config.json"), QJsonDocument(c).toJson());
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("config.json"), QStringLiteral("does not divide hidden_size (128)")}},
        {"config key/value heads not dividing heads", config("num_key_value_heads", 3),
         {QStringLiteral("config.json"), QStringLiteral("num_key_value_heads (3) does not divide num_attention_heads (4)")}},
        {"config with absurd hidden size", config("hidden_size", 1e12), {QStringLiteral("config.json"), QStringLiteral("implausibly large")}},
        {"config sizes whose product is absurd",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithConfig(dir, b, QStringLiteral("hidden_size"), 1 << 20);
             QJsonObject c = QJsonDocument::fromJson(readAll(model + QStringLiteral("/config.json"))).object();
             c[QStringLiteral("intermediate_size")] = 1 << 20;
             c[QStringLiteral("num_hidden_layers")] = 1 << 20;
             writeBytes(model + QStringLiteral("/config.json"), QJsonDocument(c).toJson());
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("config.json"), QStringLiteral("parameters, implausibly large")}},
        {"config far larger than its weights", config("num_hidden_layers", 100000),
         {QStringLiteral("config.json"), QStringLiteral("do not belong together")}},
        {"config value of the wrong type", config("num_hidden_layers", QStringLiteral("four")),
         {QStringLiteral("config.json"), QStringLiteral("'num_hidden_layers' must be an integer")}},
        {"config of another architecture",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithConfig(dir, b, QStringLiteral("architectures"), QJsonArray{QStringLiteral("GPT2LMHeadModel")});
             QJsonObject c = QJsonDocument::fromJson(readAll(model + QStringLiteral("/config.json"))).object();
             c[QStringLiteral("model_type")] = QStringLiteral("gpt2");
             writeBytes(model + QStringLiteral("/config.json"), QJsonDocument(c).toJson());
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("config.json"), QStringLiteral("unsupported architecture 'GPT2LMHeadModel'")}},
        {"config not JSON",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, readAll(b + QStringLiteral("/student/model.safetensors")));
             writeBytes(model + QStringLiteral("/config.json"), "{\"hidden_size\": 128,");
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("config.json"), QStringLiteral("not valid JSON")}},
        {"model folder without config.json",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, readAll(b + QStringLiteral("/student/model.safetensors")));
             QFile::remove(model + QStringLiteral("/config.json"));
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("/model"), QStringLiteral("no config.json")}},
        // --- tokenizer ----------------------------------------------------------------
        {"tokenizer.model that is text",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, readAll(b + QStringLiteral("/student/model.safetensors")));
             writeBytes(model + QStringLiteral("/tokenizer.model"), "version https://git-lfs.github.com/spec/v1\n");
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("tokenizer.model"), QStringLiteral("not a sentencepiece model")}},
        {"truncated tokenizer.model",
         [](const QString &dir, const QString &b) {
             const QString model = studentWithWeights(dir, b, readAll(b + QStringLiteral("/student/model.safetensors")));
             const QByteArray bytes = readAll(b + QStringLiteral("/student/tokenizer.model"));
             writeBytes(model + QStringLiteral("/tokenizer.model"), bytes.left(bytes.size() * 2 / 3));
             return scoreInto(model, dir, b);
         },
         {QStringLiteral("tokenizer.model"), QStringLiteral("truncated")}},
        // --- teacher and student --------------------------------------------------------
        {"teacher smaller than the student",
         [](const QString &dir, const QString &b) {
             QFile::copy(b + QStringLiteral("/extract.h5"), dir + QStringLiteral("/s.h5"));
             return extractInto(b + QStringLiteral("/student"), b + QStringLiteral("/teacher"), dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("is smaller than the student"), QStringLiteral("/student")}},
        {"teacher and student with different tokenizers",
         [](const QString &dir, const QString &b) {
             // The same model with one piece renamed (same length, so the file stays valid).
             const QString student = studentWithWeights(dir, b, readAll(b + QStringLiteral("/student/model.safetensors")));
             QByteArray bytes = readAll(student + QStringLiteral("/tokenizer.model"));
             const qsizetype at = bytes.indexOf(QByteArray("\xe2\x96\x81the"));
             if (at >= 0)
                 bytes.replace(at + 3, 3, "QZX");
             writeBytes(student + QStringLiteral("/tokenizer.model"), bytes);
             QFile::copy(b + QStringLiteral("/extract.h5"), dir + QStringLiteral("/s.h5"));
             return extractInto(b + QStringLiteral("/teacher"), student, dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("tokenizers differ"), QStringLiteral("tokenizer.model")}},
        {"teacher and student with different vocabulary sizes",
         [](const QString &dir, const QString &b) {
             // A student like the demo one but with 2100 embedding rows.
             auto config = nugget::ModelConfig::fromJsonFile((b + QStringLiteral("/student/config.json")).toStdString());
             config.vocabSize = 2100;
             nugget::LlamaForCausalLM model(config);
             nugget::initialiseWeights(model, 0.02, 3);
             nugget::SaveOptions save;
             save.tokenizerPath = (b + QStringLiteral("/student/tokenizer.model")).toStdString();
             nugget::saveModelFolder(model, (dir + QStringLiteral("/wide")).toStdString(), save);
             QFile::copy(b + QStringLiteral("/extract.h5"), dir + QStringLiteral("/s.h5"));
             return extractInto(b + QStringLiteral("/teacher"), dir + QStringLiteral("/wide"), dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("vocabularies differ"), QStringLiteral("/wide/config.json")}},
        {"session from a different teacher",
         [](const QString &dir, const QString &b) {
             QFile::copy(b + QStringLiteral("/other-teacher.h5"), dir + QStringLiteral("/s.h5"));
             return extractInto(b + QStringLiteral("/teacher"), b + QStringLiteral("/student"), dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("/s.h5"), QStringLiteral("belongs to another model")}},
        {"transfer into a folder whose session belongs to a different teacher",
         [](const QString &dir, const QString &b) {
             QDir().mkpath(dir + QStringLiteral("/run"));
             QFile::copy(b + QStringLiteral("/other-teacher.h5"), dir + QStringLiteral("/run/session.h5"));
             return QStringList{QStringLiteral("transfer"), QStringLiteral("--teacher"), b + QStringLiteral("/teacher"),
                                QStringLiteral("--student"), b + QStringLiteral("/student"), QStringLiteral("--seeds"),
                                b + QStringLiteral("/seeds.jsonl"), QStringLiteral("--train"), b + QStringLiteral("/train.jsonl"),
                                QStringLiteral("--eval"), b + QStringLiteral("/seeds.jsonl"), QStringLiteral("--out"),
                                dir + QStringLiteral("/run")};
         },
         {QStringLiteral("run/session.h5"), QStringLiteral("belongs to another model")}},
        {"session that is not HDF5",
         [](const QString &dir, const QString &b) {
             writeBytes(dir + QStringLiteral("/s.h5"), QByteArray(4096, 'x'));
             return extractInto(b + QStringLiteral("/teacher"), b + QStringLiteral("/student"), dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("/s.h5"), QStringLiteral("not an HDF5 file")}},
        {"session cut in half",
         [](const QString &dir, const QString &b) {
             const QByteArray bytes = readAll(b + QStringLiteral("/extract.h5"));
             writeBytes(dir + QStringLiteral("/s.h5"), bytes.left(bytes.size() / 2));
             return extractInto(b + QStringLiteral("/teacher"), b + QStringLiteral("/student"), dir + QStringLiteral("/s.h5"), dir, b);
         },
         {QStringLiteral("/s.h5"), QStringLiteral("session")}},
        // --- task files -----------------------------------------------------------------
        {"empty seed file", seeds({}), {QStringLiteral("seeds.jsonl"), QStringLiteral("holds no examples")}},
        {"seed longer than the context",
         seeds(QByteArray(R"({"id":"long","messages":[{"role":"user","content":")") +
               QByteArray("Tell me about Ada Lovelace and her family. ").repeated(200) +
               QByteArray(R"("},{"role":"assistant","content":"Yes."}]})")),
         {QStringLiteral("seeds.jsonl:1"), QStringLiteral("cannot be scored")}},
        {"seed file not UTF-8", seeds(goodSeed + "\n" + QByteArray(R"({"id":"s2","messages":[{"role":"user","content":"caf)") +
                                      QByteArray("\xe9\xff", 2) + QByteArray(R"("},{"role":"assistant","content":"x"}]})")),
         {QStringLiteral("seeds.jsonl:2"), QStringLiteral("invalid UTF-8")}},
        {"seed line not JSON", seeds(goodSeed + "\n{\"id\": 3, \"messages\": [\n"),
         {QStringLiteral("seeds.jsonl:2"), QStringLiteral("invalid JSON")}},
        {"seed without an assistant answer",
         seeds(R"({"id":"q","messages":[{"role":"user","content":"Where was Ada born?"}]})"),
         {QStringLiteral("seeds.jsonl:1"), QStringLiteral("no assistant message")}},
        {"seed with an unknown role",
         seeds(R"({"id":"q","messages":[{"role":"wizard","content":"x"},{"role":"assistant","content":"y"}]})"),
         {QStringLiteral("seeds.jsonl:1"), QStringLiteral("unknown role \"wizard\"")}},
        {"seed file missing", [](const QString &dir, const QString &b) { return seedsInto(dir + QStringLiteral("/absent.jsonl"), dir, b); },
         {QStringLiteral("absent.jsonl"), QStringLiteral("cannot open")}},
        {"empty training file",
         [](const QString &dir, const QString &b) {
             writeBytes(dir + QStringLiteral("/train.jsonl"), "\n\n");
             copyFolder(b + QStringLiteral("/adapter"), dir + QStringLiteral("/trained"));
             return QStringList{QStringLiteral("train"), QStringLiteral("--student"), b + QStringLiteral("/student"),
                                QStringLiteral("--train"), dir + QStringLiteral("/train.jsonl"), QStringLiteral("--out"),
                                dir + QStringLiteral("/trained")};
         },
         {QStringLiteral("train.jsonl"), QStringLiteral("holds no examples")}},
        // --- adapters and outputs --------------------------------------------------------
        {"adapter_config.json not JSON",
         [](const QString &dir, const QString &b) {
             copyFolder(b + QStringLiteral("/adapter"), dir + QStringLiteral("/init"));
             writeBytes(dir + QStringLiteral("/init/adapter_config.json"), "{\"r\": 4,");
             return QStringList{QStringLiteral("train"), QStringLiteral("--student"), b + QStringLiteral("/student"),
                                QStringLiteral("--init"), dir + QStringLiteral("/init"), QStringLiteral("--train"),
                                b + QStringLiteral("/train.jsonl"), QStringLiteral("--out"), dir + QStringLiteral("/trained")};
         },
         {QStringLiteral("init/adapter_config.json"), QStringLiteral("invalid JSON")}},
        {"output folder holding foreign files",
         [](const QString &dir, const QString &b) {
             QDir().mkpath(dir + QStringLiteral("/adapter"));
             writeBytes(dir + QStringLiteral("/adapter/thesis.tex"), "my thesis");
             QFile::copy(b + QStringLiteral("/extract.h5"), dir + QStringLiteral("/s.h5"));
             return QStringList{QStringLiteral("extract"), QStringLiteral("--teacher"), b + QStringLiteral("/teacher"),
                                QStringLiteral("--student"), b + QStringLiteral("/student"), QStringLiteral("--session"),
                                dir + QStringLiteral("/s.h5"), QStringLiteral("--rank"), QStringLiteral("4"),
                                QStringLiteral("--out"), dir + QStringLiteral("/adapter")};
         },
         {QStringLiteral("/adapter"), QStringLiteral("thesis.tex")}},
        {"read-only output folder",
         [](const QString &dir, const QString &b) {
             QStringList args = scoreInto(b + QStringLiteral("/teacher"), dir, b);
             QFile::setPermissions(dir + QStringLiteral("/out.h5"), QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
             QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup |
                                            QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::ExeOther);
             return args;
         },
         {QStringLiteral("out.h5"), QStringLiteral("Permission denied")}, ChildLimits{-1, true}},
        {"full disk while writing the adapter",
         [](const QString &dir, const QString &b) {
             copyFolder(b + QStringLiteral("/adapter"), dir + QStringLiteral("/trained"));
             writeBytes(dir + QStringLiteral("/train.jsonl"), readAll(b + QStringLiteral("/seeds.jsonl")));
             return QStringList{QStringLiteral("train"), QStringLiteral("--student"), b + QStringLiteral("/student"),
                                QStringLiteral("--train"), dir + QStringLiteral("/train.jsonl"), QStringLiteral("--epochs"),
                                QStringLiteral("1"), QStringLiteral("--out"), dir + QStringLiteral("/trained")};
         },
         {QStringLiteral("/trained"), QStringLiteral("File too large")}, ChildLimits{64 * 1024, false}},
        {"full disk while copying the session for an update",
         [](const QString &dir, const QString &b) { return scoreInto(b + QStringLiteral("/teacher"), dir, b); },
         {QStringLiteral("out.h5"), QStringLiteral("cannot copy the session for updating")}, ChildLimits{256 * 1024, false}},
        {"file-size limit (ulimit -f) while writing a new session",
         [](const QString &dir, const QString &b) {
             return QStringList{QStringLiteral("sensitivity"), QStringLiteral("--model"), b + QStringLiteral("/teacher"),
                                QStringLiteral("--metric"), QStringLiteral("magnitude"), QStringLiteral("--out"),
                                dir + QStringLiteral("/new.h5")};
         },
         {QStringLiteral("new.h5"), QStringLiteral("File too large")}, ChildLimits{256 * 1024, false},
         "under a file-size limit (ulimit -f) HDF5 1.10 cannot close a file whose writes failed, and its shutdown "
         "crashes at exit after the error is printed (no file is left behind); a real full disk is handled: "
         "fullDiskWhileWritingANewSession"},
    };
}

void TestBadInput::table_data()
{
    QTest::addColumn<const Case *>("testCase");
    for (const Case &c : m_cases)
        QTest::newRow(c.name) << &c;
}

void TestBadInput::table()
{
    QFETCH(const Case *, testCase);
    const QString dir = m_dir.filePath(QStringLiteral("case-") + QString::number(qHash(QString::fromLatin1(testCase->name)), 16));
    QVERIFY(QDir().mkpath(dir));
    QFile::setPermissions(dir, QFile::permissions(dir) | QFileDevice::ReadOther | QFileDevice::ExeOther);
    const QStringList arguments = testCase->prepare(dir, m_base);
    const auto before = snapshot(dir);

    const CliRun run = runCliWith(arguments, dir, testCase->limits);
    const QString message = QString::fromUtf8(run.err);
    if (testCase->knownFailure)
        QEXPECT_FAIL(testCase->name, testCase->knownFailure, Abort);
    QVERIFY2(run.exitCode != -2, qPrintable(QStringLiteral("nugget-cli crashed: ") + message));
    QVERIFY2(run.exitCode != -1, "nugget-cli did not finish");
    QVERIFY2(run.exitCode != 0, qPrintable(QStringLiteral("nugget-cli accepted the input: ") + QString::fromUtf8(run.out)));
    QVERIFY2(run.exitCode != 97, "could not drop privileges for the read-only case");
    for (const QString &fragment : testCase->expected)
        QVERIFY2(message.contains(fragment), qPrintable(QStringLiteral("expected '%1' in: %2").arg(fragment, message)));
    QVERIFY2(message.contains(QStringLiteral(": error: ")), qPrintable(message));

    QFile::setPermissions(dir, QFile::permissions(dir) | QFileDevice::WriteOwner);
    const auto after = snapshot(dir);
    QVERIFY2(before == after, qPrintable(QStringLiteral("the case folder changed: ") + describeDifference(before, after)));
    // The table in docs/bad-input.md quotes these lines.
    qInfo("%s -> %s", testCase->name, qPrintable(message.trimmed().section(u'\r', -1).section(u'\n', -1)));
}

// Random damage to a real tokenizer.model: an Error or a working tokenizer, never a
// crash (sentencepiece aborts on some inconsistencies, so files are checked first).
void TestBadInput::corruptTokenizersAreErrors()
{
    const QByteArray good = readAll(demo(QStringLiteral("tokenizer.model")));
    QVERIFY(!good.isEmpty());
    QRandomGenerator rng(7);
    const QString path = m_dir.filePath(QStringLiteral("mutated.model"));
    int errors = 0, loaded = 0;
    for (int trial = 0; trial < 300; ++trial) {
        QByteArray bytes = good;
        switch (trial % 4) {
        case 0: bytes.truncate(rng.bounded(static_cast<int>(bytes.size()))); break;
        case 1:
            for (int i = 0; i < 1 + trial % 7; ++i)
                bytes[rng.bounded(static_cast<int>(bytes.size()))] = static_cast<char>(rng.bounded(256));
            break;
        case 2: bytes.insert(rng.bounded(static_cast<int>(bytes.size())), QByteArray(1 + trial % 5, static_cast<char>(rng.bounded(256)))); break;
        default: bytes.remove(rng.bounded(static_cast<int>(bytes.size())), 1 + rng.bounded(16)); break;
        }
        QVERIFY(writeBytes(path, bytes));
        try {
            const auto tokenizer = nugget::Tokenizer::load(path.toStdString());
            // Whatever loaded must work.
            const auto ids = tokenizer->encode("Ada was born in Paris.", true);
            tokenizer->decode(ids);
            ++loaded;
        } catch (const nugget::Error &e) {
            QVERIFY2(QString::fromUtf8(e.what()).startsWith(path), e.what());
            ++errors;
        }
    }
    qInfo("300 damaged tokenizer models: %d errors, %d still loadable", errors, loaded);
    QVERIFY(errors > 100);
}

void TestBadInput::truncatedSessionsAreErrors()
{
    const QByteArray good = readAll(base(QStringLiteral("extract.h5")));
    const QString path = m_dir.filePath(QStringLiteral("cut.h5"));
    for (const double fraction : {0.0, 0.001, 0.1, 0.5, 0.9, 0.999}) {
        QVERIFY(writeBytes(path, good.left(static_cast<qsizetype>(good.size() * fraction))));
        const QString message = errorOf([&] {
            auto session = nugget::Session::openReadOnly(path.toStdString());
            // Opening may succeed on a file cut near its end; reading what it lacks may not.
            for (const auto &name : session.sensitivityParameters(nugget::Side::Teacher))
                session.readSensitivity(nugget::Side::Teacher, name);
            session.readSelection();
            for (const auto &name : session.reductionParameters())
                session.readReduction(name);
        });
        QVERIFY2(message.startsWith(path), qPrintable(QStringLiteral("cut at %1: '%2'").arg(fraction).arg(message)));
    }
}

// Every input that crashed a fuzz target (tests/fuzz/regressions, named after the
// target): now an Error naming the file.
void TestBadInput::fuzzFindingsAreErrors()
{
    const QDir findings(sourceDir() + QStringLiteral("/tests/fuzz/regressions"));
    const auto files = findings.entryList(QDir::Files);
    QVERIFY(!files.isEmpty());
    for (const QString &name : files) {
        const QString path = m_dir.filePath(name);
        QFile::remove(path);
        QVERIFY(QFile::copy(findings.filePath(name), path));
        QString message;
        if (name.startsWith(QStringLiteral("session-"))) {
            message = errorOf([&] {
                auto session = nugget::Session::openReadOnly(path.toStdString());
                for (const auto side : {nugget::Side::Teacher, nugget::Side::Student})
                    for (const auto &parameter : session.sensitivityParameters(side))
                        session.readSensitivity(side, parameter);
            });
        } else {
            QFAIL(qPrintable(QStringLiteral("no reader for finding ") + name));
        }
        QVERIFY2(message.startsWith(path), qPrintable(name + QStringLiteral(": ") + message));
        qInfo("%s -> %s", qPrintable(name), qPrintable(message.mid(path.size())));
    }
}

// A real full disk: a 256 KiB tmpfs mounted in the case folder (root only). Each write
// fails with ENOSPC; the command says so, exits 1 without crashing, leaves no temporary
// file, and the file already there stays as it was.
void TestBadInput::fullDiskWhileWritingANewSession()
{
    const QString mountPoint = m_dir.filePath(QStringLiteral("full-disk"));
    QVERIFY(QDir().mkpath(mountPoint));
    QProcess mount;
    mount.start(QStringLiteral("mount"), {QStringLiteral("-t"), QStringLiteral("tmpfs"), QStringLiteral("-o"),
                                          QStringLiteral("size=256k"), QStringLiteral("tmpfs"), mountPoint});
    if (!mount.waitForFinished(30000) || mount.exitStatus() != QProcess::NormalExit || mount.exitCode() != 0)
        QSKIP(qPrintable(QStringLiteral("cannot mount a small tmpfs here (needs root): ") +
                         QString::fromUtf8(mount.readAllStandardError())));
    const auto unmount = qScopeGuard([&] { QProcess::execute(QStringLiteral("umount"), {mountPoint}); });
    QVERIFY(writeBytes(mountPoint + QStringLiteral("/kept.txt"), QByteArray(1000, 'k')));

    const QStringList commands[] = {
        {QStringLiteral("sensitivity"), QStringLiteral("--model"), base(QStringLiteral("teacher")), QStringLiteral("--metric"),
         QStringLiteral("magnitude"), QStringLiteral("--out"), mountPoint + QStringLiteral("/new.h5")},
        {QStringLiteral("sensitivity"), QStringLiteral("--model"), base(QStringLiteral("teacher")),
         QStringLiteral("--seeds"), base(QStringLiteral("seeds.jsonl")), QStringLiteral("--out"),
         mountPoint + QStringLiteral("/new.h5")},
        {QStringLiteral("extract"), QStringLiteral("--teacher"), base(QStringLiteral("teacher")), QStringLiteral("--student"),
         base(QStringLiteral("student")), QStringLiteral("--session"), base(QStringLiteral("good.h5")),
         QStringLiteral("--rank"), QStringLiteral("4"), QStringLiteral("--out"), mountPoint + QStringLiteral("/adapter")},
    };
    for (const QStringList &arguments : commands) {
        const auto before = snapshot(mountPoint);
        const CliRun run = nugget::test::runCli(arguments);
        const QString message = QString::fromUtf8(run.err);
        QVERIFY2(run.exitCode != -2, qPrintable(QStringLiteral("crashed: ") + message));
        QVERIFY2(run.exitCode == 1, qPrintable(QString::number(run.exitCode) + QStringLiteral(": ") + message));
        QVERIFY2(message.contains(mountPoint) && message.contains(QLatin1String("No space left on device")),
                 qPrintable(message));
        QVERIFY(snapshot(mountPoint) == before);
        qInfo("%s -> %s", qPrintable(arguments.first()), qPrintable(message.trimmed().section(u'\n', -1)));
    }
}

// A model whose forward pass produces NaN: LoRA training stops at the first step and
// says so.
void TestBadInput::nonFiniteLossStopsLoraTraining()
{
    auto loaded = nugget::loadModelFolder(base(QStringLiteral("student")).toStdString());
    {
        torch::NoGradGuard noGrad;
        loaded.model->named_parameters()["model.norm.weight"].fill_(std::numeric_limits<float>::infinity());
    }
    nugget::injectPlainLora(loaded.model, {nugget::TargetModule::Q, nugget::TargetModule::V}, {4, 4, 0.0}, 1);
    const auto tokenizer = nugget::Tokenizer::load(loaded.tokenizerPath);
    std::vector<nugget::TrainingDocument> documents;
    for (const auto &example : nugget::readChatJsonl(base(QStringLiteral("seeds.jsonl")).toStdString())) {
        auto t = nugget::tokenizeChat(*tokenizer, example, 128);
        documents.push_back({t.inputIds, t.labels});
    }
    nugget::LoraTrainingOptions options;
    options.epochs = 1;
    options.batchSize = 4;
    options.microBatchSize = 4;
    options.maxLength = 128;
    nugget::Progress progress;
    const QString message = errorOf([&] { nugget::trainLora(loaded.model, documents, {}, options, progress); });
    QVERIFY2(message.contains(QStringLiteral("LoRA training stopped")) && message.contains(QStringLiteral("at step 1")),
             qPrintable(message));
}

void TestBadInput::nonFiniteLossStopsPretraining()
{
    auto config = nugget::ModelConfig::fromJsonFile(base(QStringLiteral("student/config.json")).toStdString());
    nugget::LlamaForCausalLM model(config);
    {
        torch::NoGradGuard noGrad;
        model->named_parameters()["model.norm.weight"].fill_(std::numeric_limits<float>::quiet_NaN());
    }
    std::vector<nugget::TrainingDocument> documents;
    for (int d = 0; d < 8; ++d) {
        std::vector<int64_t> ids(70);
        for (size_t i = 0; i < ids.size(); ++i)
            ids[i] = static_cast<int64_t>((d * 31 + i * 7) % 2000 + 3);
        documents.push_back({ids, ids});
    }
    nugget::PretrainOptions options;
    options.sequenceLength = 32;
    options.batchSize = 2;
    options.epochs = 1;
    nugget::Pretrainer trainer(model, documents, {}, options);
    nugget::Progress progress;
    const QString message = errorOf([&] { trainer.run(progress); });
    QVERIFY2(message.contains(QStringLiteral("training stopped")) && message.contains(QStringLiteral("at step 1")),
             qPrintable(message));
}

QTEST_GUILESS_MAIN(TestBadInput)
#include "test_bad_input.moc"
