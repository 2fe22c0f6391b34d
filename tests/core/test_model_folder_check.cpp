// The check of a model folder against its config.json that loading and `info` share:
// every problem is listed, each names its file, and loading refuses what it lists.

#include "ModelFolderFixtures.h"

#include "io/ModelFolderInfo.h"
#include "model/ModelFolder.h"

#include <QTemporaryDir>

using namespace nugget;
using nugget::test::errorOf;

namespace {

QString problemsText(const ModelFolderInfo &info)
{
    QStringList lines;
    for (const auto &problem : info.problems)
        lines << QString::fromStdString(problem);
    return lines.join(u'\n');
}

} // namespace

class TestModelFolderCheck : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void demoStudentHasNoProblems()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        const auto info = ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked);
        QVERIFY2(info.problems.empty(), qPrintable(problemsText(info)));
    }

    // stories260K stores lm_head.weight beside its tied embedding (equal values): fine.
    void tiedCheckpointWithItsHeadStoredHasNoProblems()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto info = ModelFolderInfo::read(test::sharedPath(QStringLiteral("models/stories260K")).toStdString(),
                                                ModelFolderInfo::Values::Checked);
        QVERIFY(info.config.tieWordEmbeddings);
        QVERIFY2(info.problems.empty(), qPrintable(problemsText(info)));
    }

    void eachBrokenFolderIsNamed_data()
    {
        QTest::addColumn<int>("index");
        const auto cases = test::brokenFolders();
        for (int i = 0; i < static_cast<int>(cases.size()); ++i)
            QTest::newRow(qPrintable(cases[static_cast<size_t>(i)].name)) << i;
    }

    void eachBrokenFolderIsNamed()
    {
        QFETCH(int, index);
        const auto broken = test::brokenFolders().at(static_cast<size_t>(index));
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        broken.breakIt(dir.path());

        const auto checked = ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked);
        const QString listed = problemsText(checked);
        for (const auto &word : broken.expected)
            QVERIFY2(listed.contains(word), qPrintable(listed));
        const auto headers = ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Unread);
        QCOMPARE(headers.problems.empty(), !broken.headersShow);

        // Loading applies the same rule: it refuses the folder with the same words.
        const QString loadError = errorOf([&] { loadModelFolder(dir.path().toStdString()); });
        if (broken.loadingRefuses) {
            for (const auto &word : broken.expected)
                QVERIFY2(loadError.contains(word), qPrintable(loadError));
        } else {
            QVERIFY2(loadError.isEmpty(), qPrintable(loadError));
        }
    }

    // Every problem, not the first: three at once are three lines, each naming its file.
    void listsEveryProblem()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        test::editWeights(dir.path(), [](auto &t) {
            t.erase("model.layers.3.self_attn.k_proj.weight");
            t["model.layers.1.self_attn.o_proj.weight"] = t["model.layers.1.self_attn.o_proj.weight"].narrow(0, 0, 64).clone();
            t["extra.weight"] = torch::zeros({4});
        });
        QFile::remove(dir.filePath(QStringLiteral("tokenizer.model")));
        const auto info = ModelFolderInfo::read(dir.path().toStdString());
        QCOMPARE(info.problems.size(), size_t(4));
        const QString listed = problemsText(info);
        for (const char *word : {"'model.layers.3.self_attn.k_proj.weight' is missing",
                                 "'model.layers.1.self_attn.o_proj.weight' has shape [64, 128] but config.json implies [128, 128]",
                                 "'extra.weight' is not used", "no tokenizer.model"})
            QVERIFY2(listed.contains(QLatin1String(word)), qPrintable(listed));
        const QString loadError = errorOf([&] { loadModelFolder(dir.path().toStdString()); });
        QCOMPARE(loadError.count(u'\n'), 2);   // the three weight problems, a line each
    }

    // Loading names the config.json of a model-changing key and the safetensors file of a
    // tensor the model would not use, with their paths.
    void loadingNamesTheKeyOrTensorAndTheFile()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        test::editConfig(dir.path(), [](QJsonObject &c) { c[QStringLiteral("hidden_act")] = QStringLiteral("gelu"); });
        QString error = errorOf([&] { loadModelFolder(dir.path().toStdString()); });
        QVERIFY2(error.startsWith(dir.filePath(QStringLiteral("config.json")) + QStringLiteral(": key 'hidden_act' is 'gelu'")),
                 qPrintable(error));
        QVERIFY(errorOf([&] { describeModelFolder(dir.path().toStdString()); }).contains(QStringLiteral("'hidden_act'")));

        test::editConfig(dir.path(), [](QJsonObject &c) { c[QStringLiteral("hidden_act")] = QStringLiteral("silu"); });
        test::editWeights(dir.path(), [](auto &t) { t["model.layers.0.mlp.up_proj.bias"] = torch::zeros({344}); });
        error = errorOf([&] { loadModelFolder(dir.path().toStdString()); });
        QVERIFY2(error.startsWith(dir.filePath(QStringLiteral("model.safetensors")) +
                                  QStringLiteral(": tensor 'model.layers.0.mlp.up_proj.bias' is not used")),
                 qPrintable(error));
        // The memory-mapped path (a streamed teacher) checks the same.
        QVERIFY(errorOf([&] { describeModelFolder(dir.path().toStdString()); }).contains(QStringLiteral("up_proj.bias")));
    }

    // Checkpoint buffers Hugging Face once saved: rotary frequencies are recomputed from
    // rope_theta, so they are accepted when they are the config's, refused otherwise.
    void rotaryFrequencyBuffers()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        const auto frequencies = 1.0 / torch::pow(10000.0, torch::arange(0, 32, 2, at::kDouble) / 32.0);
        test::editWeights(dir.path(), [&](auto &t) {
            for (int l = 0; l < 4; ++l)
                t["model.layers." + std::to_string(l) + ".self_attn.rotary_emb.inv_freq"] = frequencies.to(at::kFloat);
        });
        QVERIFY(ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked).problems.empty());
        QVERIFY(loadModelFolder(dir.path().toStdString()).model);

        test::editWeights(dir.path(), [&](auto &t) {
            t["model.layers.2.self_attn.rotary_emb.inv_freq"] = (frequencies / 4).to(at::kFloat);   // scaled RoPE
        });
        const QString listed =
            problemsText(ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked));
        QVERIFY2(listed.contains(QStringLiteral("'model.layers.2.self_attn.rotary_emb.inv_freq' holds other rotary frequencies")),
                 qPrintable(listed));
        QVERIFY(errorOf([&] { loadModelFolder(dir.path().toStdString()); }).contains(QStringLiteral("rotary frequencies")));
    }

    // A tied model ignores a stored lm_head.weight: fine when it is the embedding,
    // refused when it is not (the model would silently compute another head).
    void tiedModelWithAnotherHeadIsRefused()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        test::editConfig(dir.path(), [](QJsonObject &c) { c[QStringLiteral("tie_word_embeddings")] = true; });
        const auto listed =
            problemsText(ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked));
        QVERIFY2(listed.contains(QStringLiteral("'lm_head.weight' differs from 'model.embed_tokens.weight'")),
                 qPrintable(listed));
        QVERIFY(errorOf([&] { loadModelFolder(dir.path().toStdString()); }).contains(QStringLiteral("tie_word_embeddings")));

        test::editWeights(dir.path(), [](auto &t) { t["lm_head.weight"] = t["model.embed_tokens.weight"].clone(); });
        QVERIFY(ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked).problems.empty());
        test::editWeights(dir.path(), [](auto &t) { t.erase("lm_head.weight"); });
        QVERIFY(ModelFolderInfo::read(dir.path().toStdString(), ModelFolderInfo::Values::Checked).problems.empty());
        QVERIFY(loadModelFolder(dir.path().toStdString()).model);
    }

    // The tensors the check expects are exactly the parameters the model has.
    void expectedTensorsAreTheModelsParameters_data()
    {
        QTest::addColumn<bool>("tied");
        QTest::addColumn<int>("kvHeads");
        QTest::newRow("untied, grouped-query") << false << 2;
        QTest::newRow("tied, multi-head") << true << 4;
    }

    void expectedTensorsAreTheModelsParameters()
    {
        QFETCH(bool, tied);
        QFETCH(int, kvHeads);
        auto config = test::llamaConfig(32, 72, 3, 4, kvHeads, 100, 64, 16);
        config.tieWordEmbeddings = tied;
        LlamaForCausalLM model(config);
        std::map<std::string, std::vector<int64_t>> parameters, expected;
        for (const auto &item : model->named_parameters())
            parameters[item.key()] = item.value().sizes().vec();
        for (const auto &tensor : expectedTensors(config))
            expected[tensor.name] = tensor.shape;
        QCOMPARE(expected.size(), parameters.size());
        QVERIFY(expected == parameters);
    }
};

QTEST_GUILESS_MAIN(TestModelFolderCheck)
#include "test_model_folder_check.moc"
