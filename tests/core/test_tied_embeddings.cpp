// A student with tied embeddings (tie_word_embeddings true) and the embedding among the
// adapter targets: the head is the embedding, so it must see the embedding's adapter.
// Checked against the untouched student (the delta trick leaves step 0 unchanged) and
// against the merged model as saved and loaded again (what is exported is what was
// trained and evaluated), for every initialisation.

#include "TestSupport.h"

#include "io/PeftAdapter.h"
#include "io/Safetensors.h"
#include "model/LoraAdapters.h"
#include "model/ModelFolder.h"
#include "transfer/Injection.h"

#include <QTemporaryDir>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

using namespace nugget;

namespace {

ModelConfig tiedConfig()
{
    auto config = test::llamaConfig(32, 64, 2, 4, 2, 96, 64);
    config.tieWordEmbeddings = true;
    return config;
}

// Largest logit difference relative to the largest logit.
double relativeDifference(const at::Tensor &actual, const at::Tensor &expected)
{
    return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

// Teacher-like factors for every target of the student: a random matrix of the
// student's shape, factorised as an extraction does.
Extraction randomExtraction(LlamaForCausalLM &student, const std::set<TargetModule> &modules, int64_t rank,
                            FactorSplit split)
{
    Extraction extraction;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
    for (const auto &target : targetMatrices(student->config(), modules)) {
        const auto shape = weightOf(student, target.parameterName).sizes();
        const auto teacher = at::normal(0.0, 0.3, shape, generator, at::TensorOptions().dtype(at::kFloat));
        extraction.matrices.push_back({target, target.parameterName, {}, factorize(teacher, rank, split)});
    }
    return extraction;
}

} // namespace

class TestTiedEmbeddings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void unchangedAtStepZeroAndMergedEqualsTrained_data()
    {
        QTest::addColumn<QString>("init");
        QTest::addColumn<bool>("pissa");
        QTest::newRow("transfer") << QStringLiteral("transfer") << false;
        QTest::newRow("transfer, pissa split") << QStringLiteral("transfer") << true;
        QTest::newRow("lora") << QStringLiteral("lora") << false;
        QTest::newRow("own-svd") << QStringLiteral("own-svd") << false;
        QTest::newRow("own-svd, pissa split") << QStringLiteral("own-svd") << true;
        QTest::newRow("none") << QStringLiteral("none") << false;
    }

    void unchangedAtStepZeroAndMergedEqualsTrained()
    {
        QFETCH(QString, init);
        QFETCH(bool, pissa);
        const auto split = pissa ? FactorSplit::Balanced : FactorSplit::SingularValuesOnB;
        QTemporaryDir dir;
        const auto studentDir = dir.filePath(QStringLiteral("student")).toStdString();
        {
            LlamaForCausalLM student(tiedConfig());
            initialiseWeights(student, 0.3, 5);
            saveModelFolder(student, studentDir);
        }
        torch::manual_seed(3);
        const auto ids = torch::randint(0, 96, {2, 12}, torch::kLong);
        const auto untouched = loadModelFolder(studentDir).model->forward(ids).detach();

        auto student = loadModelFolder(studentDir).model;
        QVERIFY(student->config().tieWordEmbeddings);
        const auto modules = modulesOf(TransferOrigin::All);   // the embedding among them
        LoraSettings lora;
        lora.rank = 4;
        lora.alpha = 8;
        if (init == QStringLiteral("transfer"))
            injectTransfer(student, randomExtraction(student, modules, lora.rank, split), lora);
        else if (init == QStringLiteral("lora"))
            injectPlainLora(student, modules, lora, 7);
        else if (init == QStringLiteral("own-svd"))
            injectOwnSvd(student, modules, lora, split);
        QCOMPARE(student->model->embed_tokens->hasLora(), init != QStringLiteral("none"));

        student->eval();
        const double atStepZero = relativeDifference(student->forward(ids).detach(), untouched);
        QVERIFY2(atStepZero < 1e-5, qPrintable(QStringLiteral("step 0 differs from the student by %1").arg(atStepZero)));

        // A few real training steps on the adapters.
        if (init != QStringLiteral("none")) {
            freezeAllButLora(student);
            torch::optim::Adam optimizer(loraParameters(student), torch::optim::AdamOptions(0.02));
            student->train();
            for (int step = 0; step < 4; ++step) {
                optimizer.zero_grad();
                causalLmLoss(student->forward(ids), ids).backward();
                optimizer.step();
            }
            student->eval();
        }
        const auto trained = student->forward(ids).detach();
        if (init != QStringLiteral("none"))
            QVERIFY2(relativeDifference(trained, untouched) > 1e-3, "training changed nothing: the comparison below says nothing");

        const auto mergedDir = dir.filePath(QStringLiteral("merged")).toStdString();
        auto merged = mergedCopy(student);
        saveModelFolder(merged, mergedDir);
        auto reloaded = loadModelFolder(mergedDir);
        QVERIFY(reloaded.config.tieWordEmbeddings);
        const double exported = relativeDifference(reloaded.model->forward(ids).detach(), trained);
        QVERIFY2(exported < 1e-5, qPrintable(QStringLiteral("the merged model differs from the trained one by %1").arg(exported)));

        // Merging in place gives the same model.
        mergeAllLora(student);
        QVERIFY(relativeDifference(student->forward(ids).detach(), trained) < 1e-5);
    }

    // The exported PEFT adapter of a tied student means the trained model both to PEFT
    // (which adapts a tied model's lm_head apart from its embedding) and to Nugget.
    void peftAdapterReproducesTheTrainedModel()
    {
        QTemporaryDir dir;
        const auto studentDir = dir.filePath(QStringLiteral("student")).toStdString();
        {
            LlamaForCausalLM student(tiedConfig());
            initialiseWeights(student, 0.3, 5);
            saveModelFolder(student, studentDir);
        }
        torch::manual_seed(4);
        const auto ids = torch::randint(0, 96, {2, 12}, torch::kLong);
        auto student = loadModelFolder(studentDir).model;
        LoraSettings lora;
        lora.rank = 4;
        lora.alpha = 8;
        injectPlainLora(student, {TargetModule::Embed, TargetModule::Q}, lora, 3);
        {
            // Stand-in for training: every factor non-zero.
            torch::NoGradGuard noGrad;
            for (auto &p : loraParameters(student))
                p.normal_(0.0, 0.3);
        }
        student->eval();
        const auto trained = student->forward(ids).detach();
        const auto adapterDir = dir.filePath(QStringLiteral("adapter")).toStdString();
        writePeftAdapter(adapterDir, adapterOf(student, studentDir));

        // PEFT's reading, written out here: W += s B A for each linear layer (lm_head
        // included, on its own copy of the tied matrix), W += s (B A)^T for the embedding.
        auto untiedConfig = tiedConfig();
        untiedConfig.tieWordEmbeddings = false;
        LlamaForCausalLM peft(untiedConfig);
        {
            torch::NoGradGuard noGrad;
            auto base = loadModelFolder(studentDir).model;
            auto target = peft->named_parameters();
            for (const auto &item : base->named_parameters())
                target[item.key()].copy_(item.value());
            target["lm_head.weight"].copy_(base->model->embed_tokens->weight);
            const auto file = SafetensorsFile::open(adapterDir + "/adapter_model.safetensors");
            const std::string prefix = "base_model.model.";
            int adapted = 0;
            for (const auto &info : file->tensors()) {
                const auto &key = info.name;
                const double s = lora.scaling();
                const std::string linearA = ".lora_A.weight", embeddingA = ".lora_embedding_A";
                const auto endsWith = [&](const std::string &suffix) {
                    return key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
                };
                if (endsWith(linearA)) {
                    const auto module = key.substr(prefix.size(), key.size() - prefix.size() - linearA.size());
                    const auto a = file->tensor(key), b = file->tensor(prefix + module + ".lora_B.weight");
                    target[module + ".weight"].add_(s * at::matmul(b, a));
                    ++adapted;
                } else if (endsWith(embeddingA)) {
                    const auto module = key.substr(prefix.size(), key.size() - prefix.size() - embeddingA.size());
                    const auto a = file->tensor(key), b = file->tensor(prefix + module + ".lora_embedding_B");
                    target[module + ".weight"].add_(s * at::matmul(b, a).t());
                    ++adapted;
                }
            }
            QCOMPARE(adapted, 2 + 1 + 1);   // q in two layers, the embedding, the head's share
        }
        peft->eval();
        QVERIFY(relativeDifference(peft->forward(ids).detach(), trained) < 1e-5);

        // Nugget reads it back onto the tied student: the same model.
        auto reloaded = loadModelFolder(studentDir).model;
        attachAdapter(reloaded, readPeftAdapter(adapterDir));
        reloaded->eval();
        QVERIFY(relativeDifference(reloaded->forward(ids).detach(), trained) < 1e-5);

        // An lm_head adapter of its own cannot go onto a tied model.
        auto adapter = readPeftAdapter(adapterDir);
        adapter.factors["lm_head.weight"].b.mul_(2);
        auto other = loadModelFolder(studentDir).model;
        QVERIFY(test::errorOf([&] { attachAdapter(other, adapter); }).contains(QStringLiteral("tie_word_embeddings")));
    }
};

QTEST_GUILESS_MAIN(TestTiedEmbeddings)
#include "test_tied_embeddings.moc"
