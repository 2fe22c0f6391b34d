// The HDF5 session file: round trips, atomic create/update, damaged files, h5py access.

#include "Error.h"
#include "TestSupport.h"
#include "io/Session.h"

#include <torch/torch.h>

#include <H5Cpp.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <map>
#include <vector>

using nugget::test::errorOf;
using nugget::test::readAll;
using nugget::test::writeBytes;

using nugget::Error;
using nugget::Session;
using nugget::Side;

namespace {

const std::string kUpProj = "model.layers.3.mlp.up_proj.weight";
const std::string kEmbed = "model.embed_tokens.weight";
const std::string kNorm = "model.norm.weight";
const std::string kDownProj = "model.layers.0.mlp.down_proj.weight";   // larger than one chunk

QStringList entries(const QTemporaryDir &dir)
{
    return QDir(dir.path()).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
}

std::string str(const QString &s) { return s.toStdString(); }

bool sameTensor(const at::Tensor &a, const at::Tensor &b)
{
    return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b);
}

QJsonObject sampleRecipe()
{
    QJsonObject recipe;
    recipe.insert("teacher", "/models/teacher (13B) – Zürich");
    recipe.insert("student", "/models/student");
    recipe.insert("seed_samples", 32);
    recipe.insert("rank", 16);
    recipe.insert("modules", QJsonArray{"q_proj", "k_proj", "up_proj"});
    QJsonObject reduction;
    reduction.insert("structure", "submatrix");
    recipe.insert("reduction", reduction);
    return recipe;
}

std::map<std::string, std::string> sampleHashes()
{
    return {{"/models/teacher/model.safetensors", std::string(64, 'a')},
            {"/data/seeds ✓.jsonl", std::string(64, 'b')}};
}

// Everything a transfer records, with fixed values so that readers can compare.
struct Sample
{
    at::Tensor upProj = torch::randn({6, 5});
    at::Tensor embed = torch::randn({10, 4}).to(torch::kBFloat16);
    at::Tensor norm = torch::rand({4}, torch::kFloat64);
    at::Tensor downProj = torch::rand({300, 1000});
    at::Tensor studentUpProj = torch::randn({3, 4});
    at::Tensor totals = torch::rand({4, 3}, torch::kFloat64);
    std::vector<std::string> modules{"q_proj", "up_proj", "down_proj"};
    std::vector<int64_t> selection{0, 2, 3};
    at::Tensor curve = torch::tensor({{1.0, 2.5, 3e-4}, {2.0, 2.25, 2.9e-4}, {3.0, 2.0, 2.5e-4}},
                                     torch::kFloat64);
    std::vector<std::string> columns{"step", "loss", "learning_rate"};
    QJsonObject eval{{"exact_match", 0.375}, {"perplexity", 7.25}};

    void write(Session &s) const
    {
        s.setRecipe(sampleRecipe(), sampleHashes());
        s.setSensitivityInfo(Side::Teacher, "taylor", 32);
        s.writeSensitivity(Side::Teacher, kUpProj, upProj);
        s.writeSensitivity(Side::Teacher, kEmbed, embed);
        s.writeSensitivity(Side::Teacher, kNorm, norm);
        s.writeSensitivity(Side::Teacher, kDownProj, downProj);
        s.setSensitivityInfo(Side::Student, "fisher", 8);
        s.writeSensitivity(Side::Student, kUpProj, studentUpProj);
        s.writeLayerTotals(Side::Teacher, totals, modules);
        s.writeLayerTotals(Side::Student, totals.narrow(0, 0, 2), modules);
        s.writeSelection(selection, "sensitivity");
        s.writeReduction(kUpProj, {1, 2, 4}, {0, 3}, "submatrix");
        s.writeReduction(kEmbed, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2}, "submatrix");
        s.writeRun("pkt-seed1", curve, columns, eval);
        s.writeRun("lora-seed1", curve.narrow(0, 0, 1), {"step", "loss", "learning_rate"}, QJsonObject());
    }

    void verify(const Session &s) const
    {
        QVERIFY(s.hasRecipe());
        QCOMPARE(s.recipe(), sampleRecipe());
        QVERIFY(s.inputSha256() == sampleHashes());

        QVERIFY(s.hasSensitivity(Side::Teacher));
        QVERIFY(s.hasSensitivity(Side::Student));
        const std::vector<std::string> written{kUpProj, kEmbed, kNorm, kDownProj};
        QVERIFY(s.sensitivityParameters(Side::Teacher) == written);
        QVERIFY(s.sensitivityParameters(Side::Student) == std::vector<std::string>{kUpProj});
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kUpProj), upProj));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kEmbed), embed.to(torch::kFloat32)));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kNorm), norm.to(torch::kFloat32)));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kDownProj), downProj));
        QVERIFY(sameTensor(s.readSensitivity(Side::Student, kUpProj), studentUpProj));
        QCOMPARE(s.sensitivityInfo(Side::Teacher).metric, std::string("taylor"));
        QCOMPARE(s.sensitivityInfo(Side::Teacher).samples, int64_t(32));
        QCOMPARE(s.sensitivityInfo(Side::Student).metric, std::string("fisher"));
        QCOMPARE(s.sensitivityInfo(Side::Student).samples, int64_t(8));

        QVERIFY(s.hasLayerTotals(Side::Teacher));
        const auto [teacherTotals, teacherModules] = s.readLayerTotals(Side::Teacher);
        QVERIFY(sameTensor(teacherTotals, totals));
        QVERIFY(teacherModules == modules);
        const auto [studentTotals, studentModules] = s.readLayerTotals(Side::Student);
        QVERIFY(sameTensor(studentTotals, totals.narrow(0, 0, 2).contiguous()));
        QVERIFY(studentModules == modules);

        QVERIFY(s.hasSelection());
        QVERIFY(s.readSelection() == selection);
        QCOMPARE(s.selectionStrategy(), std::string("sensitivity"));

        QVERIFY(s.reductionParameters() == (std::vector<std::string>{kUpProj, kEmbed}));
        const auto up = s.readReduction(kUpProj);
        QVERIFY(up.has_value());
        QVERIFY(up->rows == (std::vector<int64_t>{1, 2, 4}));
        QVERIFY(up->cols == (std::vector<int64_t>{0, 3}));
        QCOMPARE(up->structure, std::string("submatrix"));
        QCOMPARE(s.readReduction(kEmbed)->rows.size(), size_t(10));

        QVERIFY(s.runNames() == (std::vector<std::string>{"pkt-seed1", "lora-seed1"}));
        const auto run = s.readRun("pkt-seed1");
        QVERIFY(run.has_value());
        QVERIFY(sameTensor(run->curve, curve));
        QVERIFY(run->columns == columns);
        QCOMPARE(run->evaluation, eval);
        const auto lora = s.readRun("lora-seed1");
        QVERIFY(lora.has_value());
        QCOMPARE(lora->curve.size(0), int64_t(1));
        QVERIFY(lora->evaluation.isEmpty());
    }
};

// An HDF5 file that is not a session; optionally with our format attribute and a version.
// An HDF5 file other tools could write: in the 1.10 format sessions use (`checksummed`)
// or in the library's default, older format without metadata checksums.
void writePlainHdf5(const QString &path, bool withFormat, int64_t version, bool checksummed = true,
                    bool variableLength = false)
{
    H5::Exception::dontPrint();
    H5::FileAccPropList access;
    if (checksummed)
        H5Pset_libver_bounds(access.getId(), H5F_LIBVER_V110, H5F_LIBVER_V110);
    H5::H5File file(str(path), H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
    const hsize_t n = 3;
    H5::DataSet data = file.createDataSet("numbers", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n));
    const double values[3] = {1, 2, 3};
    data.write(values, H5::PredType::NATIVE_DOUBLE);
    if (withFormat) {
        H5::Group root = file.openGroup("/");
        const std::string format = Session::kFormat;
        H5::StrType type(H5::PredType::C_S1, variableLength ? H5T_VARIABLE : format.size());
        type.setCset(H5T_CSET_UTF8);
        H5::Attribute attribute = root.createAttribute("format", type, H5::DataSpace(H5S_SCALAR));
        if (variableLength)
            attribute.write(type, format);
        else
            attribute.write(type, format.data());
        root.createAttribute("version", H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
            .write(H5::PredType::NATIVE_INT64, &version);
    }
}

// What readSensitivity returns for float16 storage: the scores scaled to [0, 1] by
// their largest value, rounded to half precision and scaled back, computed as the
// writer and the reader do it.
at::Tensor halfStored(const at::Tensor &scores)
{
    const double largest = scores.numel() > 0 ? scores.abs().max().item<double>() : 0.0;
    const double scale = largest > 0 ? largest : 1.0;
    return (scores / scale).to(torch::kHalf);
}

at::Tensor halfRoundTrip(const at::Tensor &scores)
{
    const double largest = scores.numel() > 0 ? scores.abs().max().item<double>() : 0.0;
    const double scale = largest > 0 ? largest : 1.0;
    return halfStored(scores).to(torch::kFloat32).mul_(scale);
}

// Non-negative scores shaped like |w * g|: many small values, a few large ones.
at::Tensor taylorLikeScores(at::IntArrayRef shape)
{
    return (torch::randn(shape) * torch::randn(shape)).abs_() * 1e-3;
}

// One chunk as stored in the file: where it starts in the dataset, its filter mask
// (0: every filter applied), its address in the file and its bytes.
struct StoredChunk
{
    unsigned filterMask = 0;
    haddr_t address = 0;
    QByteArray bytes;
};

std::map<std::vector<hsize_t>, StoredChunk> storedChunks(const H5::DataSet &dataSet)
{
    std::map<std::vector<hsize_t>, StoredChunk> chunks;
    const hid_t dataset = dataSet.getId();
    const H5::DataSpace space = dataSet.getSpace();
    const int rank = space.getSimpleExtentNdims();
    hsize_t count = 0;
    if (rank <= 0 || H5Dget_num_chunks(dataset, space.getId(), &count) < 0)
        return chunks;
    for (hsize_t i = 0; i < count; ++i) {
        std::vector<hsize_t> offset(static_cast<size_t>(rank));
        StoredChunk chunk;
        hsize_t size = 0;
        if (H5Dget_chunk_info(dataset, space.getId(), i, offset.data(), &chunk.filterMask, &chunk.address, &size) < 0)
            return {};
        chunk.bytes.resize(qsizetype(size));
        uint32_t mask = 0;
        if (H5Dread_chunk(dataset, H5P_DEFAULT, offset.data(), &mask, chunk.bytes.data()) < 0)
            return {};
        chunks[offset] = chunk;
    }
    return chunks;
}

std::vector<int64_t> shapeOf(const QList<qint64> &list)
{
    return std::vector<int64_t>(list.begin(), list.end());
}

// Files, groups, datasets and attributes HDF5 still has open (not the library's own
// predefined datatypes).
ssize_t openObjects()
{
    return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_ATTR);
}

// Why h5py cannot check a file here, or empty when `python` imports it.
QString h5pyMissing(const QString &python)
{
    if (!QFileInfo::exists(python))
        return python + QStringLiteral(" is not installed; cannot check the file with h5py");
    QProcess probe;
    probe.start(python, {"-c", "import h5py"});
    if (!probe.waitForFinished(60000) || probe.exitStatus() != QProcess::NormalExit || probe.exitCode() != 0)
        return QStringLiteral("python3-h5py is not installed; cannot check the file with h5py");
    return {};
}

} // namespace

class TestSession : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::manual_seed(7);
    }

    void cleanupTestCase()
    {
        // Every file, group, dataset and attribute the sessions opened is closed again
        // (named datatypes are left out: the C++ API keeps its predefined types open).
        const unsigned kinds = H5F_OBJ_FILE | H5F_OBJ_GROUP | H5F_OBJ_DATASET | H5F_OBJ_ATTR;
        QCOMPARE(H5Fget_obj_count(H5F_OBJ_ALL, kinds), ssize_t(0));
    }

    void roundTrip()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const Sample sample;
        {
            Session session = Session::create(str(path));
            QVERIFY(session.isWritable());
            sample.write(session);
            sample.verify(session);   // readable before commit as well
            if (QTest::currentTestFailed())
                return;
            session.commit();
            QVERIFY(!session.isWritable());
            QVERIFY(errorOf([&] { session.readSelection(); }).contains("closed"));
            QVERIFY(errorOf([&] { session.commit(); }).contains("closed"));
        }
        QCOMPARE(entries(dir), QStringList{"session.h5"});
        const Session reopened = Session::openReadOnly(str(path));
        QCOMPARE(reopened.path(), str(path));
        QVERIFY(!reopened.isWritable());
        sample.verify(reopened);
    }

    void writesTo_floatDtypes_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::newRow("float32") << int(torch::kFloat32);
        QTest::newRow("bfloat16") << int(torch::kBFloat16);
        QTest::newRow("float16") << int(torch::kFloat16);
        QTest::newRow("float64") << int(torch::kFloat64);
    }

    void writesTo_floatDtypes()
    {
        QFETCH(int, dtype);
        QTemporaryDir dir;
        Session session = Session::create(str(dir.filePath("s.h5")));
        const at::Tensor scores = torch::randn({3, 7}).to(c10::ScalarType(dtype));
        session.writeSensitivity(Side::Teacher, kUpProj, scores);
        const at::Tensor back = session.readSensitivity(Side::Teacher, kUpProj);
        QCOMPARE(back.scalar_type(), torch::kFloat32);
        QVERIFY(back.device().is_cpu());
        QVERIFY(sameTensor(back, scores.to(torch::kFloat32)));
    }

    void edgeShapes()
    {
        QTemporaryDir dir;
        Session session = Session::create(str(dir.filePath("s.h5")));
        const at::Tensor scalar = torch::tensor(2.5f);
        const at::Tensor empty = torch::zeros({0, 5});
        const at::Tensor cube = torch::randn({2, 3, 4});
        const at::Tensor strided = torch::randn({5, 6}).t();   // not contiguous
        session.writeSensitivity(Side::Teacher, "scalar", scalar);
        session.writeSensitivity(Side::Teacher, "empty", empty);
        session.writeSensitivity(Side::Teacher, "cube", cube);
        session.writeSensitivity(Side::Teacher, "strided", strided);
        session.writeRun("nothing-yet", torch::zeros({0, 2}), {"step", "loss"}, QJsonObject());
        session.writeSelection({}, "none");
        session.commit();

        const Session s = Session::openReadOnly(str(dir.filePath("s.h5")));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, "scalar"), scalar));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, "empty"), empty));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, "cube"), cube));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, "strided"), strided.contiguous()));
        QCOMPARE(s.readRun("nothing-yet")->curve.sizes(), (at::IntArrayRef{0, 2}));
        QVERIFY(s.readSelection().empty());
        QVERIFY(s.hasSelection());
    }

    void rewriteReplaces()
    {
        QTemporaryDir dir;
        Session session = Session::create(str(dir.filePath("s.h5")));
        session.writeSensitivity(Side::Teacher, kUpProj, torch::ones({4, 4}));
        session.writeSensitivity(Side::Teacher, kNorm, torch::ones({4}));
        session.writeSensitivity(Side::Teacher, kUpProj, torch::full({2, 3}, 5.0));
        QVERIFY(sameTensor(session.readSensitivity(Side::Teacher, kUpProj), torch::full({2, 3}, 5.0)));
        // A replaced item moves to the end of the listing.
        QVERIFY(session.sensitivityParameters(Side::Teacher) == (std::vector<std::string>{kNorm, kUpProj}));
        session.setSensitivityInfo(Side::Teacher, "taylor", 4);
        session.setSensitivityInfo(Side::Teacher, "magnitude", 0);
        QCOMPARE(session.sensitivityInfo(Side::Teacher).metric, std::string("magnitude"));
        session.writeSelection({1, 2}, "top");
        session.writeSelection({3, 4, 5}, "last");
        QVERIFY(session.readSelection() == (std::vector<int64_t>{3, 4, 5}));
        QCOMPARE(session.selectionStrategy(), std::string("last"));
        session.writeReduction(kUpProj, {0}, {1}, "random");
        session.writeReduction(kUpProj, {2, 3}, {4}, "neuron");
        QCOMPARE(session.reductionParameters().size(), size_t(1));
        QVERIFY(session.readReduction(kUpProj)->rows == (std::vector<int64_t>{2, 3}));
        QCOMPARE(session.readReduction(kUpProj)->structure, std::string("neuron"));
        session.writeRun("a", torch::zeros({2, 1}), {"loss"}, QJsonObject{{"x", 1}});
        session.writeRun("a", torch::ones({3, 2}), {"step", "loss"}, QJsonObject{{"x", 2}});
        QCOMPARE(session.runNames().size(), size_t(1));
        QCOMPARE(session.readRun("a")->curve.size(0), int64_t(3));
        QCOMPARE(session.readRun("a")->evaluation.value("x").toInt(), 2);
        session.setRecipe(QJsonObject{{"v", 1}}, {});
        session.setRecipe(QJsonObject{{"v", 2}}, {{"f", "0"}});
        QCOMPARE(session.recipe().value("v").toInt(), 2);
        QCOMPARE(session.inputSha256().size(), size_t(1));
    }

    void createWithoutCommitLeavesNothing()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        {
            Session session = Session::create(str(path));
            session.writeSensitivity(Side::Teacher, kUpProj, torch::ones({8, 8}));
            QCOMPARE(entries(dir).size(), 1);   // the temporary file, beside the target
            QVERIFY(entries(dir).first().startsWith("session.h5.tmp-"));
            QVERIFY(!QFileInfo::exists(path));
            Session moved(std::move(session));   // ownership moves with the object
            moved.writeSelection({0}, "top");
        }
        QVERIFY(entries(dir).isEmpty());
    }

    void createReplacesExistingOnlyOnCommit()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        QVERIFY(writeBytes(path, "previous content"));
        {
            Session session = Session::create(str(path));
            session.writeSelection({1}, "top");
            QCOMPARE(readAll(path), QByteArray("previous content"));
        }
        QCOMPARE(readAll(path), QByteArray("previous content"));
        Session session = Session::create(str(path));
        session.writeSelection({1}, "top");
        session.commit();
        QVERIFY(Session::openReadOnly(str(path)).readSelection() == std::vector<int64_t>{1});
        QCOMPARE(entries(dir), QStringList{"session.h5"});
    }

    void abandonedUpdateLeavesOriginal()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const Sample sample;
        {
            Session session = Session::create(str(path));
            sample.write(session);
            session.commit();
        }
        const QByteArray before = readAll(path);
        QVERIFY(!before.isEmpty());
        {
            Session update = Session::openForUpdate(str(path));
            update.writeSelection({5, 6, 7}, "random");
            update.writeSensitivity(Side::Teacher, kUpProj, torch::zeros({2, 2}));
            update.writeRun("extra", torch::zeros({1, 1}), {"loss"}, QJsonObject());
            QCOMPARE(entries(dir).size(), 2);
            QCOMPARE(readAll(path), before);
        }
        QCOMPARE(readAll(path), before);
        QCOMPARE(entries(dir), QStringList{"session.h5"});
        sample.verify(Session::openReadOnly(str(path)));
    }

    void updateCommitReplacesAndKeepsItems()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const Sample sample;
        {
            Session session = Session::create(str(path));
            sample.write(session);
            session.commit();
        }
        QFile oldHandle(path);   // still sees the old file after the rename
        QVERIFY(oldHandle.open(QIODevice::ReadOnly));
        const QByteArray before = readAll(path);

        Session update = Session::openForUpdate(str(path));
        QVERIFY(update.readSelection() == sample.selection);
        update.writeSelection({1, 3, 5}, "random");
        update.writeRun("plain-lora", sample.curve, sample.columns, QJsonObject{{"exact_match", 0.25}});
        // Readers of the original see it unchanged while the update is open.
        QVERIFY(Session::openReadOnly(str(path)).readSelection() == sample.selection);
        update.commit();

        QCOMPARE(oldHandle.readAll(), before);
        QCOMPARE(entries(dir), QStringList{"session.h5"});
        const Session s = Session::openReadOnly(str(path));
        QVERIFY(s.readSelection() == (std::vector<int64_t>{1, 3, 5}));
        QCOMPARE(s.selectionStrategy(), std::string("random"));
        QVERIFY(s.runNames() == (std::vector<std::string>{"pkt-seed1", "lora-seed1", "plain-lora"}));
        QCOMPARE(s.readRun("plain-lora")->evaluation.value("exact_match").toDouble(), 0.25);
        // Everything not touched is still there.
        QCOMPARE(s.recipe(), sampleRecipe());
        QVERIFY(s.inputSha256() == sampleHashes());
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kDownProj), sample.downProj));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kEmbed), sample.embed.to(torch::kFloat32)));
        QVERIFY(sameTensor(s.readLayerTotals(Side::Teacher).first, sample.totals));
        QVERIFY(s.readReduction(kUpProj)->cols == (std::vector<int64_t>{0, 3}));
        QCOMPARE(s.sensitivityInfo(Side::Teacher).samples, int64_t(32));
    }

    void reopenedSessionYieldsSameSelection()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const std::vector<int64_t> selection{0, 1, 4, 7, 9, 11};
        {
            Session session = Session::create(str(path));
            session.writeSelection(selection, "sensitivity");
            session.commit();
        }
        for (int i = 0; i < 2; ++i) {
            const Session s = Session::openReadOnly(str(path));
            QVERIFY(s.readSelection() == selection);
            QCOMPARE(s.selectionStrategy(), std::string("sensitivity"));
        }
    }

    void updateReclaimsReplacedSpace()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const at::Tensor big = torch::rand({1024, 1024});   // ~4 MiB, barely compressible
        {
            Session session = Session::create(str(path));
            session.writeSensitivity(Side::Teacher, kDownProj, big);
            session.writeSensitivity(Side::Teacher, kUpProj, torch::ones({3, 3}));
            session.writeRun("r", torch::ones({2, 2}), {"step", "loss"}, QJsonObject{{"a", 1}});
            session.setSensitivityInfo(Side::Teacher, "taylor", 2);
            session.commit();
        }
        QVERIFY(QFileInfo(path).size() > 3 * 1024 * 1024);
        {
            Session update = Session::openForUpdate(str(path));
            update.writeSensitivity(Side::Teacher, kDownProj, torch::full({4, 4}, 2.0));
            update.commit();
        }
        QVERIFY2(QFileInfo(path).size() < 1024 * 1024, qPrintable(QString::number(QFileInfo(path).size())));
        QCOMPARE(entries(dir), QStringList{"session.h5"});
        const Session s = Session::openReadOnly(str(path));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kDownProj), torch::full({4, 4}, 2.0)));
        QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kUpProj), torch::ones({3, 3})));
        QVERIFY(s.sensitivityParameters(Side::Teacher) == (std::vector<std::string>{kUpProj, kDownProj}));
        QCOMPARE(s.sensitivityInfo(Side::Teacher).metric, std::string("taylor"));
        QCOMPARE(s.readRun("r")->evaluation.value("a").toInt(), 1);
        QVERIFY(Session::openForUpdate(str(path)).isWritable());   // still a valid session
    }

    // Sessions are checksummed (1.10-format metadata, Fletcher-32 on every score chunk):
    // any single damaged byte either leaves what a reader gets unchanged (unused space)
    // or is an Error naming the file; never different scores.
    void damagedBytesAreErrorsNeverOtherScores()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("s.h5");
        torch::manual_seed(3);
        const at::Tensor scores = torch::rand({40, 48});
        const at::Tensor half = torch::rand({24, 32});
        {
            Session session = Session::create(str(path));
            session.setSensitivityInfo(Side::Teacher, "taylor", 4);
            session.writeSensitivity(Side::Teacher, kDownProj, scores);
            session.writeSensitivity(Side::Teacher, kUpProj, half, Session::ScoreStorage::Float16);
            session.commit();
        }
        const QByteArray original = readAll(path);
        QCOMPARE(static_cast<unsigned char>(original.at(8)), static_cast<unsigned char>(3));   // superblock v3
        at::Tensor halfRead;
        {
            const Session s = Session::openReadOnly(str(path));
            halfRead = s.readSensitivity(Side::Teacher, kUpProj);
        }
        const QString damaged = dir.filePath("damaged.h5");
        int errors = 0, unchanged = 0;
        for (int i = 0; i < original.size(); ++i) {
            QByteArray bytes = original;
            bytes[i] = char(bytes[i] ^ 0x5a);
            QVERIFY(writeBytes(damaged, bytes));
            at::Tensor a, b;
            const QString message = errorOf([&] {
                const Session s = Session::openReadOnly(str(damaged));
                a = s.readSensitivity(Side::Teacher, kDownProj);
                b = s.readSensitivity(Side::Teacher, kUpProj);
            });
            if (!message.isEmpty()) {
                QVERIFY2(message.startsWith(damaged), qPrintable(message));
                if (openObjects() != 0)
                    qWarning("byte %d leaks: %s", i, qPrintable(message));
                ++errors;
                continue;
            }
            QVERIFY2(torch::equal(a, scores) && torch::equal(b, halfRead),
                     qPrintable(QStringLiteral("byte %1 of %2 changed the scores silently").arg(i).arg(original.size())));
            ++unchanged;
        }
        qInfo("%d single-byte damages: %d errors, %d in unused bytes", int(original.size()), errors, unchanged);
        // Every failed open closed what it had opened.
        QCOMPARE(openObjects(), ssize_t(0));
        QVERIFY(errors > original.size() / 2);
    }

    // Float16 scores are deflated on every core and handed to HDF5 as finished chunks
    // (io/ScoreChunks.h); reading goes through HDF5's own filters, which check each
    // chunk's Fletcher-32 and inflate it. Shapes cover edge chunks in every dimension.
    void float16Scores_data()
    {
        QTest::addColumn<QList<qint64>>("shape");
        QTest::addColumn<bool>("zeros");
        QTest::newRow("1-D, one chunk") << QList<qint64>{1000} << false;
        QTest::newRow("one element") << QList<qint64>{1} << false;
        QTest::newRow("1-D, three chunks, the last partial") << QList<qint64>{600000} << false;
        QTest::newRow("smaller than a chunk") << QList<qint64>{37, 29} << false;
        QTest::newRow("2-D, partial last row chunk") << QList<qint64>{300, 1000} << false;
        QTest::newRow("2-D, rows wider than a chunk") << QList<qint64>{3, 300000} << false;
        QTest::newRow("3-D, partial outer chunk") << QList<qint64>{5, 70, 1000} << false;
        QTest::newRow("3-D, partial middle chunk") << QList<qint64>{4, 3, 100000} << false;
        QTest::newRow("4-D") << QList<qint64>{2, 3, 5, 7} << false;
        QTest::newRow("large matrix, 129 chunks, more than the encoding window") << QList<qint64>{4100, 8192} << false;
        QTest::newRow("zeros") << QList<qint64>{100, 100} << true;
        QTest::newRow("empty") << QList<qint64>{0, 5} << false;
        QTest::newRow("scalar") << QList<qint64>{} << false;
    }

    void float16Scores()
    {
        QFETCH(QList<qint64>, shape);
        QFETCH(bool, zeros);
        torch::manual_seed(11);
        const at::Tensor scores = zeros ? torch::zeros(shapeOf(shape)) : taylorLikeScores(shapeOf(shape));
        QTemporaryDir dir;
        const QString path = dir.filePath("s.h5");
        {
            Session session = Session::create(str(path));
            session.writeSensitivity(Side::Teacher, kDownProj, scores, Session::ScoreStorage::Float16);
            QVERIFY(sameTensor(session.readSensitivity(Side::Teacher, kDownProj), halfRoundTrip(scores)));
            session.commit();
        }
        {
            const Session s = Session::openReadOnly(str(path));
            QVERIFY(sameTensor(s.readSensitivity(Side::Teacher, kDownProj), halfRoundTrip(scores)));
        }

        // The chunks are byte for byte what HDF5's own pipeline makes of the same values.
        H5::Exception::dontPrint();
        const H5::H5File file(str(path), H5F_ACC_RDONLY);
        const H5::DataSet dataset = file.openDataSet("/sensitivity/teacher/" + kDownProj);
        const H5::DSetCreatPropList dcpl = dataset.getCreatePlist();
        if (dcpl.getLayout() != H5D_CHUNKED) {
            QVERIFY(scores.numel() == 0 || scores.dim() == 0);   // nothing to chunk
            return;
        }
        QCOMPARE(dcpl.getNfilters(), 3);
        QCOMPARE(H5Pget_filter2(dcpl.getId(), 0, nullptr, nullptr, nullptr, 0, nullptr, nullptr), H5Z_FILTER_SHUFFLE);
        QCOMPARE(H5Pget_filter2(dcpl.getId(), 1, nullptr, nullptr, nullptr, 0, nullptr, nullptr), H5Z_FILTER_DEFLATE);
        QCOMPARE(H5Pget_filter2(dcpl.getId(), 2, nullptr, nullptr, nullptr, 0, nullptr, nullptr), H5Z_FILTER_FLETCHER32);

        const QString referencePath = dir.filePath("reference.h5");
        H5::FileAccPropList access;
        H5Pset_libver_bounds(access.getId(), H5F_LIBVER_V110, H5F_LIBVER_V110);
        H5::H5File reference(str(referencePath), H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
        H5::DataSet pipelined = reference.createDataSet("scores", dataset.getDataType(), dataset.getSpace(), dcpl);
        const at::Tensor half = halfStored(scores).contiguous();
        pipelined.write(half.data_ptr(), dataset.getDataType());
        reference.flush(H5F_SCOPE_LOCAL);

        const auto written = storedChunks(dataset);
        const auto expected = storedChunks(pipelined);
        QVERIFY(!written.empty());
        QCOMPARE(written.size(), expected.size());
        for (const auto &[offset, chunk] : written) {
            QCOMPARE(chunk.filterMask, 0u);
            QVERIFY(expected.count(offset) == 1);
            QCOMPARE(expected.at(offset).filterMask, 0u);
            QVERIFY2(chunk.bytes == expected.at(offset).bytes,
                     qPrintable(QStringLiteral("chunk at %1 differs from HDF5's encoding").arg(offset.front())));
        }
    }

    // A damaged byte anywhere in a compressed score chunk (zlib header, deflate stream,
    // stored checksum) is a read error naming the file.
    void damagedFloat16ChunkIsReadError()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("s.h5");
        torch::manual_seed(5);
        const at::Tensor scores = taylorLikeScores({600, 1000});   // 3 chunks
        {
            Session session = Session::create(str(path));
            session.writeSensitivity(Side::Teacher, kDownProj, scores, Session::ScoreStorage::Float16);
            session.writeSensitivity(Side::Teacher, kUpProj, torch::rand({4, 4}), Session::ScoreStorage::Float16);
            session.commit();
        }
        std::map<std::vector<hsize_t>, StoredChunk> chunks;
        {
            H5::Exception::dontPrint();
            const H5::H5File file(str(path), H5F_ACC_RDONLY);
            chunks = storedChunks(file.openDataSet("/sensitivity/teacher/" + kDownProj));
        }
        QCOMPARE(chunks.size(), size_t(3));
        const QByteArray original = readAll(path);
        const QString damaged = dir.filePath("damaged.h5");
        for (const auto &[offset, chunk] : chunks) {
            const qint64 start = qint64(chunk.address), size = chunk.bytes.size();
            QCOMPARE(original.mid(start, size), chunk.bytes);
            for (const qint64 position : {start, start + 1, start + size / 3, start + size / 2, start + size - 5,
                                          start + size - 1}) {
                QByteArray bytes = original;
                bytes[position] = char(bytes[position] ^ 0x01);
                QVERIFY(writeBytes(damaged, bytes));
                const QString message = errorOf([&] {
                    const Session s = Session::openReadOnly(str(damaged));
                    s.readSensitivity(Side::Teacher, kDownProj);
                });
                QVERIFY2(message.startsWith(damaged), qPrintable(QStringLiteral("byte %1: %2").arg(position).arg(message)));
                QVERIFY2(message.contains("Fletcher32"), qPrintable(message));
                // The other dataset's chunks are untouched and still read.
                const Session s = Session::openReadOnly(str(damaged));
                QCOMPARE(s.readSensitivity(Side::Teacher, kUpProj).sizes(), (at::IntArrayRef{4, 4}));
            }
        }
        QCOMPARE(openObjects(), ssize_t(0));
    }

    void badFiles_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing") << "missing" << "no such file";
        QTest::newRow("empty") << "empty" << "empty";
        QTest::newRow("random bytes") << "random" << "not an HDF5 file";
        QTest::newRow("truncated session") << "truncated" << "damaged";
        QTest::newRow("plain HDF5") << "plain" << "not a Nugget session";
        QTest::newRow("newer version") << "newer" << "newer Nugget";
        // A session in HDF5's default format: no metadata checksums to catch damage.
        QTest::newRow("no checksums") << "unchecked" << "superblock version 0 has no checksums";
        // Variable-length strings live in the global heap, which has no checksum.
        QTest::newRow("variable-length string") << "vlen" << "variable-length string";
        QTest::newRow("folder") << "folder" << "folder";
    }

    void badFiles()
    {
        QFETCH(QString, kind);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.h5");
        if (kind == "empty") {
            QVERIFY(writeBytes(path, QByteArray()));
        } else if (kind == "random") {
            QByteArray bytes(4096, '\0');
            for (int i = 0; i < bytes.size(); ++i)
                bytes[i] = char((i * 7919 + 13) % 251);
            QVERIFY(writeBytes(path, bytes));
        } else if (kind == "truncated") {
            const QString whole = dir.filePath("whole.h5");
            {
                Session session = Session::create(str(whole));
                Sample().write(session);
                session.commit();
            }
            const QByteArray bytes = readAll(whole);
            QVERIFY(writeBytes(path, bytes.left(bytes.size() / 2)));
            QVERIFY(QFile::remove(whole));
        } else if (kind == "plain") {
            writePlainHdf5(path, false, 0);
        } else if (kind == "newer") {
            writePlainHdf5(path, true, Session::kVersion + 1);
        } else if (kind == "vlen") {
            writePlainHdf5(path, true, Session::kVersion, true, true);
        } else if (kind == "unchecked") {
            writePlainHdf5(path, true, Session::kVersion, false);
        } else if (kind == "folder") {
            QVERIFY(QDir(dir.path()).mkdir("bad.h5"));
        }
        const QStringList before = entries(dir);

        const QString readOnly = errorOf([&] { Session::openReadOnly(str(path)); });
        QVERIFY2(readOnly.contains(path), qPrintable(readOnly));
        QVERIFY2(readOnly.contains(expected), qPrintable(readOnly));

        const QString update = errorOf([&] { Session::openForUpdate(str(path)); });
        QVERIFY2(update.contains(path), qPrintable(update));
        QVERIFY2(update.contains(expected), qPrintable(update));
        QCOMPARE(entries(dir), before);   // no temporary file left behind
    }

    void absentItems()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("s.h5");
        {
            Session session = Session::create(str(path));
            session.commit();
        }
        const Session s = Session::openReadOnly(str(path));
        QVERIFY(!s.hasRecipe());
        QVERIFY(!s.hasSensitivity(Side::Teacher));
        QVERIFY(!s.hasLayerTotals(Side::Student));
        QVERIFY(!s.hasSelection());
        QVERIFY(s.sensitivityParameters(Side::Teacher).empty());
        QVERIFY(s.reductionParameters().empty());
        QVERIFY(s.runNames().empty());
        QVERIFY(!s.readReduction(kUpProj).has_value());
        QVERIFY(!s.readRun("pkt").has_value());

        const auto expectAbsent = [&](const std::function<void()> &fn, const QString &item) {
            const QString message = errorOf(fn);
            QVERIFY2(message.contains(path) && message.contains(item), qPrintable(message));
        };
        expectAbsent([&] { s.recipe(); }, "no recipe");
        expectAbsent([&] { s.inputSha256(); }, "/inputs");
        expectAbsent([&] { s.readSensitivity(Side::Teacher, kUpProj); },
                     QString::fromStdString("/sensitivity/teacher/" + kUpProj));
        expectAbsent([&] { s.sensitivityInfo(Side::Student); }, "/sensitivity/student");
        expectAbsent([&] { s.readLayerTotals(Side::Teacher); }, "/sensitivity/layers/teacher");
        expectAbsent([&] { s.readSelection(); }, "/selection/layers");
        expectAbsent([&] { s.selectionStrategy(); }, "/selection/layers");

        // A group present but the attribute missing.
        Session update = Session::openForUpdate(str(path));
        update.writeSensitivity(Side::Student, kUpProj, torch::ones({1}));
        expectAbsent([&] { update.sensitivityInfo(Side::Student); }, "no attribute \"metric\"");
    }

    void invalidUse()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("s.h5");
        Session session = Session::create(str(path));
        QVERIFY(errorOf([&] { session.writeSensitivity(Side::Teacher, "a/b", torch::ones({1})); })
                    .contains("invalid parameter name"));
        QVERIFY(errorOf([&] { session.writeSensitivity(Side::Teacher, "", torch::ones({1})); })
                    .contains("invalid parameter name"));
        QVERIFY(errorOf([&] { session.writeSensitivity(Side::Teacher, kUpProj, at::Tensor()); })
                    .contains("no tensor"));
        QVERIFY(errorOf([&] { session.writeLayerTotals(Side::Teacher, torch::ones({2, 3}), {"q", "k"}); })
                    .contains("[layers, 2 modules]"));
        QVERIFY(errorOf([&] { session.writeRun("r", torch::ones({4}), {"loss"}, QJsonObject()); })
                    .contains("[steps, 1 columns]"));
        QVERIFY(errorOf([&] { session.writeRun("x/y", torch::ones({1, 1}), {"loss"}, QJsonObject()); })
                    .contains("invalid run name"));
        QVERIFY(errorOf([&] { session.writeSelection({0, -1}, "top"); }).contains("negative"));
        session.writeSelection({0}, "top");
        session.commit();

        Session reader = Session::openReadOnly(str(path));
        const QString message = errorOf([&] { reader.writeSelection({1}, "top"); });
        QVERIFY2(message.contains(path) && message.contains("read-only"), qPrintable(message));
        QVERIFY(errorOf([&] { reader.commit(); }).contains("read-only"));
        QVERIFY(reader.readSelection() == std::vector<int64_t>{0});

        Session moved = std::move(reader);
        QVERIFY(errorOf([&] { reader.readSelection(); }).contains("moved from"));
        QVERIFY(moved.readSelection() == std::vector<int64_t>{0});

        const QString noFolder = errorOf([&] { Session::create(str(dir.filePath("missing/s.h5"))); });
        QVERIFY2(noFolder.contains(dir.filePath("missing/s.h5")) && noFolder.contains("No such file"),
                 qPrintable(noFolder));
        QCOMPARE(entries(dir), QStringList{"s.h5"});
    }

    void h5pyReadsSession()
    {
        const QString python = QStringLiteral("/usr/bin/python3");
        if (const auto missing = h5pyMissing(python); !missing.isEmpty())
            QSKIP(qPrintable(missing));

        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        const Sample sample;
        {
            Session session = Session::create(str(path));
            sample.write(session);
            session.commit();
        }
        const char *script = R"(
import json, sys
import h5py
path, up, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
# Fixed-length UTF-8 strings: h5py hands attributes over as bytes.
def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)
with h5py.File(path, "r") as f:
    assert text(f.attrs["format"]) == "nugget-session", f.attrs["format"]
    assert int(f.attrs["version"]) == 2
    d = f["sensitivity/teacher"][up]
    assert d.shape == (6, 5), d.shape
    assert d.dtype == "float32", d.dtype
    assert abs(float(d[1, 2]) - value) < 1e-6, (float(d[1, 2]), value)
    assert text(f["sensitivity/teacher"].attrs["metric"]) == "taylor"
    assert int(f["sensitivity/teacher"].attrs["samples"]) == 32
    assert list(f["selection/layers"][()]) == [0, 2, 3]
    assert text(f["selection/layers"].attrs["strategy"]) == "sensitivity"
    assert [text(m) for m in f["sensitivity/layers/teacher"].attrs["modules"]] == ["q_proj", "up_proj", "down_proj"]
    assert f["sensitivity/layers/teacher"].shape == (4, 3)
    recipe = json.loads(f["recipe"].asstr()[0])
    assert recipe["rank"] == 16 and recipe["teacher"].endswith("Zürich"), recipe
    inputs = json.loads(f["inputs"].asstr()[0])
    assert inputs["/data/seeds ✓.jsonl"] == "b" * 64, inputs
    assert list(f["reduction"][up]["cols"][()]) == [0, 3]
    assert text(f["reduction"][up].attrs["structure"]) == "submatrix"
    loss = f["runs/pkt-seed1/loss"]
    assert loss.shape == (3, 3) and [text(c) for c in loss.attrs["columns"]] == ["step", "loss", "learning_rate"]
    assert json.loads(f["runs/pkt-seed1/eval"].asstr()[0])["exact_match"] == 0.375
print("ok")
)";
        QProcess process;
        process.start(python, {"-c", QString::fromUtf8(script), path, QString::fromStdString(kUpProj),
                               QString::number(sample.upProj[1][2].item<float>(), 'g', 9)});
        QVERIFY(process.waitForFinished(120000));
        const QString output = QString::fromUtf8(process.readAllStandardOutput());
        const QString errors = QString::fromUtf8(process.readAllStandardError());
        QVERIFY2(process.exitCode() == 0 && output.trimmed() == "ok", qPrintable(output + errors));
    }

    // A run's item records: one JSON text per item and their numbers as a table, read back
    // as written and by h5py; items of a run never written, or a table of another length,
    // are refused.
    void runItems()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("items.h5");
        const std::vector<std::string> records = {R"({"id":"q1","expected":"Zürich.","rank":3})",
                                                  R"({"id":"q2","expected":"Bern.","correct":true})"};
        const auto table = torch::tensor({0.0, -1.5, 4.0, 3.0, 1.0, -0.25, 3.0, 0.0}, at::kDouble).view({2, 4});
        const std::vector<std::string> columns = {"correct", "answer_logprob", "answer_tokens", "rank"};
        {
            Session session = Session::create(str(path));
            QVERIFY(!errorOf([&] { session.writeRunItems("later", records, table, columns); }).isEmpty());
            session.writeRun("vanilla student-seed1", torch::zeros({0, 3}), {"step", "loss", "learning_rate"}, QJsonObject());
            const QString rows = errorOf([&] { session.writeRunItems("vanilla student-seed1", records, table.narrow(0, 0, 1), columns); });
            QVERIFY2(rows.contains(path) && rows.contains("one row per record"), qPrintable(rows));
            session.writeRunItems("vanilla student-seed1", records, table, columns);
            QCOMPARE(session.readRunItems("vanilla student-seed1"), records);
            QVERIFY(session.readRunItems("absent").empty());
            session.commit();
        }
        const Session session = Session::openReadOnly(str(path));
        QCOMPARE(session.readRunItems("vanilla student-seed1"), records);

        const QString python = QStringLiteral("/usr/bin/python3");
        if (const auto missing = h5pyMissing(python); !missing.isEmpty())
            QSKIP(qPrintable(missing));
        const char *script = R"(
import json, sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    run = f["runs/vanilla student-seed1"]
    items = [json.loads(t) for t in run["items"].asstr()[:]]
    assert [i["id"] for i in items] == ["q1", "q2"], items
    assert items[0]["expected"] == "Zürich." and items[0]["rank"] == 3, items
    scores = run["item_scores"]
    assert scores.shape == (2, 4) and scores.dtype == "float64", scores
    assert [c.decode() for c in scores.attrs["columns"]] == ["correct", "answer_logprob", "answer_tokens", "rank"]
    assert scores[0, 1] == -1.5 and scores[1, 0] == 1.0, scores[()]
print("ok")
)";
        QProcess process;
        process.start(python, {"-c", QString::fromUtf8(script), path});
        QVERIFY(process.waitForFinished(120000));
        const QString output = QString::fromUtf8(process.readAllStandardOutput());
        QVERIFY2(process.exitCode() == 0 && output.trimmed() == "ok",
                 qPrintable(output + QString::fromUtf8(process.readAllStandardError())));
    }

    // h5py reads float16 scores written chunk by chunk as the same half values, through
    // HDF5's checksum and inflate filters.
    void h5pyReadsFloat16Scores()
    {
        const QString python = QStringLiteral("/usr/bin/python3");
        if (const auto missing = h5pyMissing(python); !missing.isEmpty())
            QSKIP(qPrintable(missing));

        QTemporaryDir dir;
        const QString path = dir.filePath("session.h5");
        torch::manual_seed(13);
        const std::vector<std::pair<std::string, std::vector<int64_t>>> items{
            {"a", {300, 1000}}, {"b", {3, 300000}}, {"c", {37, 29}}, {"d", {600000}}};
        QStringList arguments{"-c", "", path};
        {
            Session session = Session::create(str(path));
            for (const auto &[name, shape] : items) {
                const at::Tensor scores = taylorLikeScores(shape);
                session.writeSensitivity(Side::Teacher, name, scores, Session::ScoreStorage::Float16);
                const at::Tensor half = halfStored(scores).contiguous();
                const QString raw = dir.filePath(QString::fromStdString(name) + ".f16");
                QVERIFY(writeBytes(raw, QByteArray(static_cast<const char *>(half.data_ptr()),
                                                   qsizetype(half.numel() * 2))));
                QStringList dims;
                for (const int64_t d : shape)
                    dims << QString::number(d);
                arguments << QString::fromStdString(name) << raw << dims.join('x');
            }
            session.commit();
        }
        arguments[1] = QString::fromUtf8(R"(
import sys
import h5py, numpy as np
path, rest = sys.argv[1], sys.argv[2:]
with h5py.File(path, "r") as f:
    g = f["sensitivity/teacher"]
    for name, raw, shape in zip(rest[0::3], rest[1::3], rest[2::3]):
        d = g[name]
        shape = tuple(int(n) for n in shape.split("x"))
        assert d.shape == shape, (name, d.shape, shape)
        assert d.dtype == np.float16, (name, d.dtype)
        assert list(d._filters) == ["shuffle", "gzip", "fletcher32"], (name, d._filters)
        assert d.compression_opts == 1, d.compression_opts
        expected = np.fromfile(raw, dtype="<f2").reshape(shape)
        assert np.array_equal(d[()], expected), name
        assert float(d.attrs["scale"]) > 0
print("ok")
)");
        QProcess process;
        process.start(python, arguments);
        QVERIFY(process.waitForFinished(120000));
        const QString output = QString::fromUtf8(process.readAllStandardOutput());
        const QString errors = QString::fromUtf8(process.readAllStandardError());
        QVERIFY2(process.exitCode() == 0 && output.trimmed() == "ok", qPrintable(output + errors));
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"

