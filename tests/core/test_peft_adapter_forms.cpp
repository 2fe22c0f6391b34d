// The two forms a delta-initialised run's adapter is written in (docs/adapters.md) give
// back the trained model, to Nugget as to PEFT's arithmetic; foreign adapter options are
// honoured or refused by name; merges into half-precision weights round once.

#include "TestSupport.h"

#include "Error.h"
#include "io/PeftAdapter.h"
#include "model/LoraAdapters.h"
#include "transfer/Injection.h"
#include "transfer/TransferRecipe.h"

#include <QFile>
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <torch/torch.h>

#include <cmath>

using namespace nugget;

namespace {

LlamaForCausalLM model(uint64_t seed, bool tied = false)
{
    auto config = test::llamaConfig(32, 64, 2, 4, 2, 48, 64, 8);
    config.tieWordEmbeddings = tied;
    LlamaForCausalLM m(config);
    initialiseWeights(m, 0.2, seed);
    return m;
}

at::Tensor logitsOf(LlamaForCausalLM &m)
{
    torch::NoGradGuard noGrad;
    m->eval();
    return m->forward(torch::tensor(std::vector<int64_t>{1, 5, 9, 14, 22, 31, 40, 7}).unsqueeze(0));
}

double relativeDifference(const at::Tensor &a, const at::Tensor &b)
{
    return ((a - b).abs().max() / b.abs().max()).item<double>();
}

QJsonObject readJson(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

void writeJson(const QString &path, const QJsonObject &object)
{
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(QJsonDocument(object).toJson());
}

// A student trained away from its own-SVD start (the delta trick): the model and its run.
std::pair<LlamaForCausalLM, RunReport> trainedStudent(bool tied = false)
{
    auto student = model(5, tied);
    RunReport run;
    run.init = "own-svd";
    run.initialAdapters = injectOwnSvd(student, modulesOf(TransferOrigin::All), {4, 8, 0.0});
    torch::NoGradGuard noGrad;
    for (auto &p : loraParameters(student))
        p.add_(torch::randn_like(p) * 0.05);
    return {student, run};
}

} // namespace

class TestPeftAdapterForms : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void untouchedBaseFormAppliesToTheUntouchedStudent_data()
    {
        QTest::addColumn<bool>("tied");
        QTest::newRow("untied") << false;
        QTest::newRow("tied embeddings") << true;   // the head's share splits with the embedding
    }

    void untouchedBaseFormAppliesToTheUntouchedStudent()
    {
        QFETCH(bool, tied);
        auto [student, run] = trainedStudent(tied);
        const auto expected = logitsOf(student);
        QTemporaryDir dir;
        exportRunAdapters(student, run, dir.path().toStdString(), "student");
        const auto config = readJson(dir.filePath(QStringLiteral("adapter_config.json")));
        QCOMPARE(config.value(QStringLiteral("r")).toInt(), 8);          // rank 2r
        QCOMPARE(config.value(QStringLiteral("lora_alpha")).toDouble(), 16.0);   // alpha doubled
        QVERIFY(!config.contains(QStringLiteral("nugget_init")));
        QVERIFY(config.value(QStringLiteral("modules_to_save")).isNull());
        QVERIFY(config.value(QStringLiteral("revision")).isNull());
        QVERIFY(QDir::isAbsolutePath(config.value(QStringLiteral("base_model_name_or_path")).toString()));
        QCOMPARE(readJson(dir.filePath(QStringLiteral("nugget_adapter.json"))).value(QStringLiteral("form")).toString(),
                 QStringLiteral("untouched-base"));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("delta"))));

        // Over the untouched student, as PEFT applies it.
        auto base = model(5, tied);
        QVERIFY(relativeDifference(logitsOf(base), expected) > 1e-3);
        attachAdapter(base, readPeftAdapter(dir.path().toStdString()));
        QVERIFY(relativeDifference(logitsOf(base), expected) < 1e-5);

        // Read back for training: initial factors merged, rank-r trained factors attached.
        auto again = model(5, tied);
        const auto initial = attachAdapterForTraining(again, dir.path().toStdString());
        QCOMPARE(initial.size(), run.initialAdapters.size());
        for (const auto &p : loraParameters(again))
            QVERIFY(p.size(0) == 4 || p.size(1) == 4);
        QVERIFY(relativeDifference(logitsOf(again), expected) < 1e-5);
    }

    void deltaFormIsTheTrainedAdapterPlusDelta()
    {
        auto [student, run] = trainedStudent();
        const auto expected = logitsOf(student);
        QTemporaryDir dir;
        exportRunAdapters(student, run, dir.path().toStdString(), "student", parseAdapterForm("delta"));
        QCOMPARE(readJson(dir.filePath(QStringLiteral("adapter_config.json"))).value(QStringLiteral("r")).toInt(), 4);
        QVERIFY(QFile::exists(dir.filePath(QStringLiteral("delta/adapter_model.safetensors"))));
        auto again = model(5);
        attachAdapterForTraining(again, dir.path().toStdString());
        QVERIFY(relativeDifference(logitsOf(again), expected) < 1e-5);
    }

    void rsloraAndPatternsScaleAsPeftDoes()
    {
        auto [student, run] = trainedStudent();
        QTemporaryDir dir;
        writePeftAdapter(dir.path().toStdString(), adapterOf(student, "student"));
        const QString configPath = dir.filePath(QStringLiteral("adapter_config.json"));
        auto config = readJson(configPath);
        config[QStringLiteral("use_rslora")] = true;
        config[QStringLiteral("alpha_pattern")] = QJsonObject{{QStringLiteral("v_proj"), 3}};
        writeJson(configPath, config);
        const auto adapter = readPeftAdapter(dir.path().toStdString());
        QCOMPARE(adapter.factors.at("model.layers.0.self_attn.q_proj.weight").settings->scaling(), 8 / std::sqrt(4.0));
        QCOMPARE(adapter.factors.at("model.layers.1.self_attn.v_proj.weight").settings->scaling(), 3 / std::sqrt(4.0));
    }

    void optionsNuggetCannotApplyAreRefusedByName()
    {
        auto [student, run] = trainedStudent();
        QTemporaryDir dir;
        writePeftAdapter(dir.path().toStdString(), adapterOf(student, "student"));
        const QString configPath = dir.filePath(QStringLiteral("adapter_config.json"));
        const auto original = readJson(configPath);
        for (const auto &[key, value] : std::vector<std::pair<QString, QJsonValue>>{
                 {QStringLiteral("use_dora"), true},
                 {QStringLiteral("modules_to_save"), QJsonArray{QStringLiteral("lm_head")}},
                 {QStringLiteral("init_lora_weights"), QStringLiteral("pissa")},
                 {QStringLiteral("fan_in_fan_out"), true}}) {
            auto config = original;
            config[key] = value;
            writeJson(configPath, config);
            const auto error = test::errorOf([&] { readPeftAdapter(dir.path().toStdString()); });
            QVERIFY2(error.contains(QLatin1Char('\'') + key + QLatin1Char('\'')) && error.contains(configPath),
                     qPrintable(error));
        }
    }

    void halfPrecisionMergeRoundsTheFloat32SumOnce()
    {
        torch::manual_seed(3);
        auto weight = (torch::randn({64, 32}) * 0.2).to(at::kBFloat16);
        const auto delta = torch::randn({64, 32}) * 2e-3;   // a short fine-tuning's change
        const auto expected = (weight.to(at::kFloat) + delta).to(at::kBFloat16);
        auto merged = weight.clone();
        addInFloat32(merged, delta);
        QVERIFY(torch::equal(merged, expected));
        // Rounding the delta first (what adding it in bfloat16 does) gives other weights.
        QVERIFY(!torch::equal(weight + delta.to(at::kBFloat16), expected));
    }
};

QTEST_GUILESS_MAIN(TestPeftAdapterForms)
#include "test_peft_adapter_forms.moc"
