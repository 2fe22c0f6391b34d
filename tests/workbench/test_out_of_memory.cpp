// Running out of memory during a job is reported, not fatal: the workbench's engine is
// given an address-space limit, asked to load a teacher whose float32 weights do not
// fit under it, reports the failure as out of memory naming the folder, releases what
// the job had allocated, and then loads a pair that fits.

#include "TestSupport.h"

#include "EngineResults.h"
#include "WorkbenchEngine.h"
#include "EngineTestSupport.h"
#include "io/Safetensors.h"
#include "model/LlamaModel.h"
#include "model/ModelFolder.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <torch/torch.h>

#include <sys/resource.h>

#include <fstream>

using namespace nugget;

namespace {

ModelConfig config(int64_t hidden, int64_t inter, int64_t layers, int64_t heads)
{
    return test::llamaConfig(hidden, inter, layers, heads, heads, 32000, 256);
}

QString tokenizerPath() { return test::sharedPath(QStringLiteral("tokenizers/llama2/tokenizer.model")); }

// A real, loadable checkpoint of zeros in bfloat16 whose data is a sparse file: about
// 1.1 GB on paper, nothing on disk, 2.1 GB once loaded in float32.
void writeSparseCheckpoint(const QString &dir, const ModelConfig &c)
{
    QVERIFY(QDir().mkpath(dir));
    QJsonObject header;
    header.insert(QStringLiteral("__metadata__"), QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")}});
    const auto shapeOf = [&](const std::string &name) -> std::vector<int64_t> {
        const int64_t h = c.hiddenSize, i = c.intermediateSize;
        if (name == "model.embed_tokens.weight" || name == "lm_head.weight")
            return {c.vocabSize, h};
        if (name.find("norm") != std::string::npos)
            return {h};
        if (name.find("gate_proj") != std::string::npos || name.find("up_proj") != std::string::npos)
            return {i, h};
        if (name.find("down_proj") != std::string::npos)
            return {h, i};
        return {h, h};
    };
    std::vector<std::string> names;
    // The names from a tiny model of the same depth; the shapes from `c`.
    for (const auto &item : LlamaForCausalLM(config(8, 16, c.numHiddenLayers, 1))->named_parameters())
        names.push_back(item.key());
    int64_t offset = 0;
    for (const auto &name : names) {
        const auto shape = shapeOf(name);
        int64_t count = 1;
        QJsonArray dims;
        for (const auto d : shape) {
            count *= d;
            dims.append(static_cast<qint64>(d));
        }
        header.insert(QString::fromStdString(name),
                      QJsonObject{{QStringLiteral("dtype"), QStringLiteral("BF16")},
                                  {QStringLiteral("shape"), dims},
                                  {QStringLiteral("data_offsets"),
                                   QJsonArray{static_cast<qint64>(offset), static_cast<qint64>(offset + 2 * count)}}});
        offset += 2 * count;
    }
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while (json.size() % 8)
        json.append(' ');
    const QString weights = dir + QStringLiteral("/model.safetensors");
    {
        std::ofstream out(weights.toStdString(), std::ios::binary);
        const uint64_t length = uint64_t(json.size());
        out.write(reinterpret_cast<const char *>(&length), 8);
        out.write(json.constData(), json.size());
    }
    QVERIFY(QFile::resize(weights, 8 + json.size() + offset));   // sparse zeros
    c.saveJsonFile((dir + QStringLiteral("/config.json")).toStdString());
    QVERIFY(QFile::copy(tokenizerPath(), dir + QStringLiteral("/tokenizer.model")));
}

void writeSmallModel(const QString &dir, const ModelConfig &c, uint64_t seed)
{
    LlamaForCausalLM model(c);
    initialiseWeights(model, 0.02, seed);
    SaveOptions options;
    options.tokenizerPath = tokenizerPath().toStdString();
    saveModelFolder(model, dir.toStdString(), options);
}

qint64 statusKiB(const char *field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(status, line))
        if (line.rfind(key, 0) == 0)
            return std::stoll(line.substr(key.size()));
    return -1;
}

} // namespace

class TestOutOfMemory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void loadingTooLargeAModelIsAReportedFailure()
    {
        NUGGET_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString big = dir.filePath(QStringLiteral("big-teacher"));
        const QString teacher = dir.filePath(QStringLiteral("teacher"));
        const QString student = dir.filePath(QStringLiteral("student"));
        writeSparseCheckpoint(big, config(2048, 5504, 8, 16));
        writeSmallModel(teacher, config(128, 344, 4, 4), 1);
        writeSmallModel(student, config(64, 172, 2, 4), 2);

        WorkbenchEngine engine;
        test::JobOutcomes outcomes(engine);
        // Warm up the compute thread and libtorch's allocator on the small pair.
        QCOMPARE(outcomes.wait(engine.loadPair(teacher, student)).state, JobState::Done);

        // Room for the mapped bfloat16 file (1.1 GB) but not for its float32 copy (2.1 GB).
        const qint64 before = statusKiB("VmSize");
        QVERIFY(before > 0);
        rlimit original{};
        QCOMPARE(::getrlimit(RLIMIT_AS, &original), 0);
        const rlim_t limit = rlim_t(before) * 1024 + (rlim_t(1600) << 20);
        const rlimit tight{limit, original.rlim_max};
        QCOMPARE(::setrlimit(RLIMIT_AS, &tight), 0);

        QSignalSpy loaded(&engine, &WorkbenchEngine::pairLoaded);
        const JobOutcome failed = outcomes.wait(engine.loadPair(big, student));
        const qint64 afterFailure = statusKiB("VmSize");
        QCOMPARE(::setrlimit(RLIMIT_AS, &original), 0);

        QCOMPARE(failed.state, JobState::Failed);
        qInfo("message: %s", qPrintable(failed.message));
        QVERIFY2(failed.message.contains(QLatin1String("out of memory"), Qt::CaseInsensitive), qPrintable(failed.message));
        QVERIFY2(failed.message.contains(big), qPrintable(failed.message));
        QCOMPARE(loaded.count(), 0);
        // What the failed job allocated was given back (within 256 MiB of the start).
        qInfo("address space: %lld MiB before, %lld MiB after the failed job", before / 1024, afterFailure / 1024);
        QVERIFY(afterFailure < before + 256 * 1024);

        // The engine goes on working.
        QCOMPARE(outcomes.wait(engine.loadPair(teacher, student)).state, JobState::Done);
        QCOMPARE(loaded.count(), 1);
    }
};

QTEST_GUILESS_MAIN(TestOutOfMemory)
#include "test_out_of_memory.moc"
