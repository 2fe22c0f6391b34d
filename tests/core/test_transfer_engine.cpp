// The transfer engine on tiny random models: sensitivity, layer selection, extraction
// shapes, injection invariants (the model is unchanged at step 0), merging, PEFT
// export, and LoRA training.

#include "TestSupport.h"

#include "Error.h"
#include "io/PeftAdapter.h"
#include "io/Session.h"
#include "transfer/TransferRecipe.h"
#include "io/Safetensors.h"
#include "model/LoraAdapters.h"
#include "train/LoraTrainer.h"
#include "transfer/Extraction.h"
#include "transfer/Injection.h"
#include "transfer/LayerSimilarity.h"
#include "transfer/ScoreAccumulation.h"
#include "transfer/Sensitivity.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <torch/torch.h>

using namespace nugget;

namespace {

ModelConfig config(int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kvHeads)
{
    return test::llamaConfig(hidden, inter, layers, heads, kvHeads, 48, 64, 8);
}

ModelConfig teacherConfig() { return config(48, 96, 5, 6, 3); }
ModelConfig studentConfig() { return config(32, 64, 3, 4, 2); }

LlamaForCausalLM model(const ModelConfig &c, uint64_t seed) { return test::randomModel(c, 0.2, seed); }

std::vector<SeedSample> seeds(int count, uint64_t seed) { return test::randomSeedSamples(count, 12, 48, 7, seed); }

at::Tensor logitsOf(LlamaForCausalLM &m)
{
    torch::NoGradGuard noGrad;
    m->eval();
    return m->forward(torch::tensor(std::vector<int64_t>{1, 5, 9, 14, 22, 31, 40, 7}).unsqueeze(0));
}

double maxDifference(const at::Tensor &a, const at::Tensor &b) { return (a - b).abs().max().item<double>(); }

// 16 random documents and the settings that fit adapters to them in 16 steps.
std::vector<TrainingDocument> trainingDocuments()
{
    std::vector<TrainingDocument> train;
    for (const auto &s : seeds(16, 9))
        train.push_back({s.inputIds, s.labels});
    return train;
}

LoraTrainingOptions quickTraining()
{
    LoraTrainingOptions options;
    options.epochs = 8;
    options.batchSize = 8;
    options.microBatchSize = 4;
    options.learningRate = 1e-2;
    options.padId = 2;
    return options;
}

Extraction extract(LlamaForCausalLM &teacher, const SensitivityMap &scores, const ModelConfig &student,
                   ReductionStructure structure, int64_t rank, SvdMethod svd = SvdMethod::Exact)
{
    auto params = teacher->named_parameters();
    Progress progress;
    ExtractionOptions options;
    options.structure = structure;
    options.rank = rank;
    options.svd = svd;
    const auto selection = selectLayers(LayerStrategy::Sensitivity, scores.layerTotals(teacher->config().numHiddenLayers),
                                        student.numHiddenLayers);
    return extractKnowledge(
        teacher->config(), [&](const std::string &n) { return params[n].detach(); },
        [&](const std::string &n) { return scores.at(n); }, student, selection, options, progress);
}

} // namespace

class TestTransferEngine : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void taylorScoresEqualSumOfWeightTimesGradient()
    {
        auto teacher = model(teacherConfig(), 1);
        const auto samples = seeds(3, 2);
        Progress progress;
        std::vector<int64_t> reported;
        const auto map = computeSensitivity(teacher, samples, {}, progress,
                                            [&](const SensitivityProgress &p) { reported.push_back(p.sample); });
        QCOMPARE(reported, (std::vector<int64_t>{1, 2, 3}));
        QCOMPARE(map.samples, int64_t(3));

        // Independent: per-sample gradients with autograd::grad, summed by hand.
        auto params = teacher->named_parameters();
        const std::string name = "model.layers.2.mlp.up_proj.weight";
        auto expected = torch::zeros_like(params[name]);
        for (const auto &s : samples) {
            const auto loss = causalLmLoss(teacher->forward(torch::tensor(s.inputIds).unsqueeze(0)),
                                           torch::tensor(s.labels).unsqueeze(0));
            const auto grad = torch::autograd::grad({loss}, {params[name]})[0];
            expected += (params[name].detach() * grad).abs();
        }
        QVERIFY(torch::allclose(map.at(name), expected, 1e-5, 1e-7));
        QVERIFY(!params[name].grad().defined());   // no gradient left behind

        const auto totals = map.layerTotals(5);
        double layer2 = 0;
        for (const auto &[n, s] : map.scores)
            if (n.rfind("model.layers.2.", 0) == 0)
                layer2 += s.sum().item<double>();
        QVERIFY(std::abs(totals[2] - layer2) < 1e-6 * std::max(1.0, layer2));
        QCOMPARE(map.layerModuleTotals(5).sizes(), (at::IntArrayRef{5, 9}));
    }

    // The fused pass that sums every sample's scores gives what the tensor ops give:
    // exactly for taylor (the method's metric), to float rounding for fisher; over
    // several samples, in float32 and bfloat16, split over threads (large tensors) or
    // not, and through the tensor ops for a tensor it cannot take (non-contiguous).
    void fusedScoreSumsEqualTheTensorOps_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::addColumn<int>("metric");
        QTest::addColumn<qint64>("size");
        QTest::addColumn<bool>("contiguous");
        for (const auto dtype : {at::kFloat, at::kBFloat16})
            for (const auto metric : {SensitivityMetric::Taylor, SensitivityMetric::Fisher})
                for (const qint64 size : {qint64(7), qint64(1) << 21})
                    QTest::addRow("%s %s %lld", dtype == at::kFloat ? "float32" : "bfloat16",
                                  sensitivityMetricName(metric).c_str(), static_cast<long long>(size))
                        << int(dtype) << int(metric) << size << true;
        QTest::addRow("bfloat16 taylor transposed") << int(at::kBFloat16) << int(SensitivityMetric::Taylor)
                                                    << qint64(1 << 20) << false;
    }

    void fusedScoreSumsEqualTheTensorOps()
    {
        QFETCH(int, dtype);
        QFETCH(int, metric);
        QFETCH(qint64, size);
        QFETCH(bool, contiguous);
        const auto type = static_cast<at::ScalarType>(dtype);
        const auto how = static_cast<SensitivityMetric>(metric);
        torch::manual_seed(11);
        const std::vector<int64_t> shape = contiguous ? std::vector<int64_t>{size} : std::vector<int64_t>{1024, 1024};
        auto weight = (torch::randn(shape) * 0.05).to(type);
        if (!contiguous)
            weight = weight.t();
        auto fused = torch::zeros(weight.sizes()), reference = torch::zeros(weight.sizes());
        for (int sample = 0; sample < 3; ++sample) {
            auto grad = torch::randn(weight.sizes()).to(type) * 1e-3;
            auto gradCopy = grad.clone();
            accumulateScores(fused, how, weight, grad);
            accumulateScoresWithTensorOps(reference, how, weight, gradCopy);
        }
        QVERIFY(fused.abs().sum().item<double>() > 0);
        if (how == SensitivityMetric::Taylor)
            QVERIFY(torch::equal(fused, reference));
        else
            QVERIFY(torch::allclose(fused, reference, 1e-6, 0));
    }

    void fisherAndMagnitudeScores()
    {
        auto teacher = model(teacherConfig(), 1);
        Progress progress;
        SensitivityOptions fisher;
        fisher.metric = SensitivityMetric::Fisher;
        const auto f = computeSensitivity(teacher, seeds(1, 2), fisher, progress);
        auto params = teacher->named_parameters();
        const auto s = seeds(1, 2)[0];
        const auto loss = causalLmLoss(teacher->forward(torch::tensor(s.inputIds).unsqueeze(0)),
                                       torch::tensor(s.labels).unsqueeze(0));
        const auto grad = torch::autograd::grad({loss}, {params["lm_head.weight"]})[0];
        QVERIFY(torch::allclose(f.at("lm_head.weight"), grad.square(), 1e-5, 1e-10));

        SensitivityOptions magnitude;
        magnitude.metric = SensitivityMetric::Magnitude;
        const auto m = computeSensitivity(teacher, {}, magnitude, progress);
        QVERIFY(torch::equal(m.at("model.norm.weight"), params["model.norm.weight"].detach().abs()));
    }

    void sensitivityCancelsBetweenSamples()
    {
        auto teacher = model(teacherConfig(), 1);
        Progress progress;
        int64_t done = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, computeSensitivity(teacher, seeds(5, 2), {}, progress,
                                                               [&](const SensitivityProgress &p) {
                                                                   done = p.sample;
                                                                   if (p.sample == 2)
                                                                       progress.cancel();
                                                               }));
        QCOMPARE(done, int64_t(2));
        for (const auto &p : teacher->parameters())
            QVERIFY(!p.grad().defined());
    }

    // Linear CKA: 1 for the same representation up to rotation and scale, and the same
    // value whether computed through token Gram matrices (few tokens) or feature
    // cross-covariances (many tokens); both are checked against the textbook formula.
    void linearCkaBothForms()
    {
        const auto textbook = [](at::Tensor x, at::Tensor y) {
            x = x.to(torch::kDouble);
            y = y.to(torch::kDouble);
            x = x - x.mean(0, true);
            y = y - y.mean(0, true);
            const auto kx = torch::matmul(x, x.t()), ky = torch::matmul(y, y.t());
            return ((kx * ky).sum() / (kx.norm() * ky.norm())).item<double>();
        };
        torch::manual_seed(11);
        for (const int64_t tokens : {5, 40}) {   // 25 <= 8 * 6 uses Gram matrices, 1600 > 48 does not
            const auto x = torch::randn({tokens, 8});
            const auto y = torch::randn({tokens, 6}) + 0.5 * x.narrow(1, 0, 6);
            QVERIFY(std::abs(linearCka(x, y) - textbook(x, y)) < 1e-10);
            const auto rotation = std::get<0>(torch::linalg::qr(torch::randn({8, 8}, torch::kDouble)));
            QVERIFY(std::abs(linearCka(x, 3.0 * torch::matmul(x.to(torch::kDouble), rotation)) - 1.0) < 1e-10);
            QVERIFY(linearCka(x, y) < 1.0 - 1e-3);
        }
    }

    void layerSelectionStrategies()
    {
        const std::vector<double> scores{3, 9, 1, 9, 5};
        QCOMPARE(selectLayers(LayerStrategy::Sensitivity, scores, 3).teacherLayers, (std::vector<int64_t>{1, 3, 4}));
        // Ties: the shallower layer wins (stable order), then depth order.
        QCOMPARE(selectLayers(LayerStrategy::Sensitivity, scores, 1).teacherLayers, (std::vector<int64_t>{1}));
        QCOMPARE(selectLayers(LayerStrategy::Top, scores, 2).teacherLayers, (std::vector<int64_t>{0, 1}));
        QCOMPARE(selectLayers(LayerStrategy::Last, scores, 2).teacherLayers, (std::vector<int64_t>{3, 4}));
        const auto random = selectLayers(LayerStrategy::Random, scores, 3, 7).teacherLayers;
        QCOMPARE(random, selectLayers(LayerStrategy::Random, scores, 3, 7).teacherLayers);
        QVERIFY(std::is_sorted(random.begin(), random.end()));
        QCOMPARE(selectLayers("0,2,4", scores, 3).teacherLayers, (std::vector<int64_t>{0, 2, 4}));
        QVERIFY_THROWS_EXCEPTION(Error, selectLayers("0,2", scores, 3));
        QVERIFY_THROWS_EXCEPTION(Error, selectLayers("0,2,9", scores, 3));
        QVERIFY_THROWS_EXCEPTION(Error, selectLayers("1,1,2", scores, 3));
        QVERIFY_THROWS_EXCEPTION(Error, selectLayers(LayerStrategy::Top, scores, 6));
    }

    void factorsGiveTheBestRankRApproximation()
    {
        torch::manual_seed(3);
        const auto m = torch::randn({20, 12});
        const auto reference = factorize(m, 4, FactorSplit::SingularValuesOnB);
        const auto pissa = factorize(m, 4, FactorSplit::Balanced);
        QCOMPARE(reference.a.sizes(), (at::IntArrayRef{4, 12}));
        QCOMPARE(reference.b.sizes(), (at::IntArrayRef{20, 4}));
        const auto [u, s, vh] = torch::linalg::svd(m.to(torch::kDouble), false, c10::nullopt);
        const auto best = torch::matmul(u.narrow(1, 0, 4) * s.narrow(0, 0, 4), vh.narrow(0, 0, 4)).to(torch::kFloat);
        QVERIFY(torch::allclose(torch::matmul(reference.b, reference.a), best, 1e-4, 1e-5));
        QVERIFY(torch::allclose(torch::matmul(pissa.b, pissa.a), best, 1e-4, 1e-5));
        // The reference split puts all of S on B: A's rows are orthonormal.
        QVERIFY(torch::allclose(torch::matmul(reference.a, reference.a.t()), torch::eye(4), 1e-4, 1e-5));
    }

    void randomizedFactorsMatchTheExactOnesWhenTheSpectrumDecays()
    {
        // A 300x200 matrix with singular values 2^-i, like trained weights' decay.
        torch::manual_seed(5);
        const auto u = std::get<0>(torch::linalg::qr(torch::randn({300, 200}, torch::kDouble)));
        const auto v = std::get<0>(torch::linalg::qr(torch::randn({200, 200}, torch::kDouble)));
        const auto s = torch::pow(2.0, -torch::arange(200, torch::kDouble));
        const auto m = torch::matmul(u * s.unsqueeze(0), v.t()).to(torch::kFloat);
        const auto exact = factorize(m, 8);
        const auto fast = factorizeRandomized(m, 8, FactorSplit::SingularValuesOnB, at::kFloat, 16, 4, 1);
        QCOMPARE(fast.a.sizes(), exact.a.sizes());
        QCOMPARE(fast.b.sizes(), exact.b.sizes());
        const auto exactProduct = torch::matmul(exact.b, exact.a), fastProduct = torch::matmul(fast.b, fast.a);
        QVERIFY(maxDifference(fastProduct, exactProduct) < 1e-5);
        // Deterministic for a seed.
        const auto again = factorizeRandomized(m, 8, FactorSplit::SingularValuesOnB, at::kFloat, 16, 4, 1);
        QVERIFY(torch::equal(again.a, fast.a));
    }

    // Auto takes the randomized SVD from 4096 x 4096 up (7B-13B matrices, where the exact
    // one would cost nearly two hours per transfer) and the exact one below; an
    // extraction honours the choice; recipes carry it and refuse an unknown one by name.
    void svdMethodFollowsTheMatrixSize()
    {
        QVERIFY(usesRandomizedSvd(SvdMethod::Auto, 4096, 4096));
        QVERIFY(usesRandomizedSvd(SvdMethod::Auto, 11008, 4096));
        QVERIFY(!usesRandomizedSvd(SvdMethod::Auto, 2048, 5632));   // TinyLlama's FFN: exact
        QVERIFY(!usesRandomizedSvd(SvdMethod::Exact, 11008, 4096));
        QVERIFY(usesRandomizedSvd(SvdMethod::Randomized, 8, 8));

        auto teacher = model(teacherConfig(), 1);
        Progress progress;
        const auto scores = computeSensitivity(teacher, seeds(2, 3), {}, progress);
        const auto exact = extract(teacher, scores, studentConfig(), ReductionStructure::Submatrix, 4);
        const auto automatic = extract(teacher, scores, studentConfig(), ReductionStructure::Submatrix, 4, SvdMethod::Auto);
        const auto randomized =
            extract(teacher, scores, studentConfig(), ReductionStructure::Submatrix, 4, SvdMethod::Randomized);
        QCOMPARE(randomized.matrices.size(), exact.matrices.size());
        bool differs = false;
        for (size_t i = 0; i < exact.matrices.size(); ++i) {
            QVERIFY(torch::equal(automatic.matrices[i].factors.a, exact.matrices[i].factors.a));   // small: exact
            QCOMPARE(randomized.matrices[i].factors.a.sizes(), exact.matrices[i].factors.a.sizes());
            differs |= !torch::equal(randomized.matrices[i].factors.a, exact.matrices[i].factors.a);
        }
        QVERIFY(differs);

        TransferRecipe recipe;
        QCOMPARE(recipe.svd, std::string("auto"));
        auto json = recipe.toJson();
        json[QStringLiteral("svd")] = QStringLiteral("randomized");
        QCOMPARE(TransferRecipe::fromJson(json, "r.json").svd, std::string("randomized"));
        json[QStringLiteral("svd")] = QStringLiteral("fast");
        try {
            TransferRecipe::fromJson(json, "r.json");
            QFAIL("an unknown SVD method was accepted");
        } catch (const Error &e) {
            QVERIFY2(std::string(e.what()).find("unknown SVD method 'fast'") != std::string::npos, e.what());
        }
    }

    void extractionMatchesStudentShapes_data()
    {
        QTest::addColumn<QString>("structure");
        for (const char *s : {"submatrix", "rowcol", "neuron", "random"})
            QTest::newRow(s) << QString::fromLatin1(s);
    }

    void extractionMatchesStudentShapes()
    {
        QFETCH(QString, structure);
        auto teacher = model(teacherConfig(), 1);
        Progress progress;
        const auto scores = computeSensitivity(teacher, seeds(2, 2), {}, progress);
        const auto student = studentConfig();
        const auto extraction = extract(teacher, scores, student, parseReductionStructure(structure.toStdString()), 4);
        QCOMPARE(extraction.matrices.size(), size_t(1 + 3 * 7 + 1));   // embed, 3 layers x 7, head
        for (const auto &m : extraction.matrices) {
            const auto shape = targetShape(student, m.student.module);
            QCOMPARE(static_cast<int64_t>(m.indices.rows.size()), shape[0]);
            QCOMPARE(static_cast<int64_t>(m.indices.cols.size()), shape[1]);
            QCOMPARE(m.factors.b.sizes(), (at::IntArrayRef{shape[0], 4}));
            QCOMPARE(m.factors.a.sizes(), (at::IntArrayRef{4, shape[1]}));
            if (m.student.layer >= 0)
                QVERIFY(m.teacherParameter.find("layers." + std::to_string(
                            extraction.selection.teacherLayers[static_cast<size_t>(m.student.layer)]) + ".") !=
                        std::string::npos);
        }
    }

    void extractionFromASessionMatchesTheReferenceAlgorithm()
    {
        // A teacher of a few hundred rows per matrix, scores stored in and read back
        // from a session, compared with the reference's algorithm written plainly.
        const auto teacherConfig = config(256, 320, 4, 8, 4);
        const auto studentConfig = config(192, 256, 2, 6, 2);
        auto teacher = model(teacherConfig, 1);
        Progress progress;
        const auto computed = computeSensitivity(teacher, seeds(2, 2), {}, progress);
        QTemporaryDir dir;
        const auto path = (dir.path() + QStringLiteral("/s.h5")).toStdString();
        {
            auto session = Session::create(path);
            storeSensitivity(session, Side::Teacher, computed, teacherConfig.numHiddenLayers);
            session.commit();
        }
        const auto scores = loadSensitivity(Session::openReadOnly(path), Side::Teacher);
        const auto extraction = extract(teacher, scores, studentConfig, ReductionStructure::Submatrix, 8);

        // Reference layer selection: Python's sorted(range(n), key=score, reverse=True)[:k], re-sorted.
        const auto totals = scores.layerTotals(teacherConfig.numHiddenLayers);
        std::vector<int64_t> order{0, 1, 2, 3};
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return totals[a] > totals[b]; });
        std::vector<int64_t> expected(order.begin(), order.begin() + 2);
        std::sort(expected.begin(), expected.end());
        QCOMPARE(extraction.selection.teacherLayers, expected);

        auto weights = teacher->named_parameters();
        for (const auto &m : extraction.matrices) {
            const auto shape = targetShape(studentConfig, m.student.module);
            const auto window = referenceWindowScan(scores.at(m.teacherParameter), shape[0], shape[1]);
            QVERIFY(m.indices.window);
            QCOMPARE(m.indices.window->row, window.row);
            QCOMPARE(m.indices.window->col, window.col);
            // The reference's product: SVD of the window in float64, rank r.
            const auto block = weights[m.teacherParameter].detach().to(torch::kDouble)
                                   .narrow(0, window.row, shape[0]).narrow(1, window.col, shape[1]);
            const auto [u, sv, vh] = torch::linalg::svd(block, false, c10::nullopt);
            const auto best = torch::matmul(u.narrow(1, 0, 8) * sv.narrow(0, 0, 8), vh.narrow(0, 0, 8));
            const auto product = torch::matmul(m.factors.b, m.factors.a).to(torch::kDouble);
            const double relative = ((product - best).norm() / best.norm()).item<double>();
            QVERIFY2(relative < 1e-4, qPrintable(QStringLiteral("%1: %2").arg(QString::fromStdString(m.teacherParameter)).arg(relative)));
        }
    }

    void extractionRefusesMismatchedVocabularies()
    {
        auto teacher = model(teacherConfig(), 1);
        Progress progress;
        const auto scores = computeSensitivity(teacher, {}, {SensitivityMetric::Magnitude}, progress);
        auto student = studentConfig();
        student.vocabSize = 50;
        QVERIFY_THROWS_EXCEPTION(Error, extract(teacher, scores, student, ReductionStructure::Submatrix, 4));
    }

    void injectionLeavesTheStudentUnchangedAtStepZero_data()
    {
        QTest::addColumn<QString>("init");
        for (const char *s : {"transfer", "lora", "own-svd"})
            QTest::newRow(s) << QString::fromLatin1(s);
    }

    void injectionLeavesTheStudentUnchangedAtStepZero()
    {
        QFETCH(QString, init);
        auto teacher = model(teacherConfig(), 1);
        auto student = model(studentConfig(), 5);
        const auto before = logitsOf(student);
        Progress progress;
        const auto scores = computeSensitivity(teacher, seeds(2, 2), {}, progress);
        LoraSettings lora{4, 8, 0.0};
        const auto kind = parseAdapterInit(init.toStdString());
        if (kind == AdapterInit::Transfer)
            injectTransfer(student, extract(teacher, scores, student->config(), ReductionStructure::Submatrix, 4), lora);
        else if (kind == AdapterInit::Plain)
            injectPlainLora(student, modulesOf(TransferOrigin::All), lora, 3);
        else
            injectOwnSvd(student, modulesOf(TransferOrigin::All), lora);
        QCOMPARE(loraParameters(student).size(), size_t(2 * (1 + 3 * 7 + 1)));
        const double difference = maxDifference(before, logitsOf(student));
        QVERIFY2(difference < 1e-5, qPrintable(QString::number(difference)));
    }

    void mergedModelEqualsBasePlusAdapter()
    {
        auto student = model(studentConfig(), 5);
        injectOwnSvd(student, modulesOf(TransferOrigin::All), {4, 8, 0.0});
        {
            torch::NoGradGuard noGrad;   // stand-in for training: move every factor
            for (auto &p : loraParameters(student))
                p.add_(torch::randn_like(p) * 0.05);
        }
        const auto adapted = logitsOf(student);
        mergeAllLora(student);
        QVERIFY(loraParameters(student).empty());
        const double difference = maxDifference(adapted, logitsOf(student));
        QVERIFY2(difference < 1e-4, qPrintable(QString::number(difference)));
    }

    void peftExportFollowsTheConventionAndRoundTrips()
    {
        auto base = model(studentConfig(), 5);
        auto student = model(studentConfig(), 5);
        injectPlainLora(student, modulesOf(TransferOrigin::All), {4, 8, 0.0}, 3);
        {
            torch::NoGradGuard noGrad;
            for (auto &p : loraParameters(student))
                p.add_(torch::randn_like(p) * 0.05);
        }
        QTemporaryDir dir;
        writePeftAdapter(dir.path().toStdString(), adapterOf(student, "student"));

        const auto file = SafetensorsFile::open((dir.path() + QStringLiteral("/adapter_model.safetensors")).toStdString());
        const auto *q = file->find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
        QVERIFY(q);
        QCOMPARE(q->shape, (std::vector<int64_t>{4, 32}));
        QCOMPARE(file->find("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")->shape,
                 (std::vector<int64_t>{16, 4}));   // 2 kv heads x 8
        QCOMPARE(file->find("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight")->shape,
                 (std::vector<int64_t>{4, 64}));
        QCOMPARE(file->find("base_model.model.model.embed_tokens.lora_embedding_A")->shape, (std::vector<int64_t>{4, 48}));
        QCOMPARE(file->find("base_model.model.model.embed_tokens.lora_embedding_B")->shape, (std::vector<int64_t>{32, 4}));
        QCOMPARE(file->find("base_model.model.lm_head.lora_B.weight")->shape, (std::vector<int64_t>{48, 4}));
        QFile config(dir.path() + QStringLiteral("/adapter_config.json"));
        QVERIFY(config.open(QIODevice::ReadOnly));
        const auto json = QJsonDocument::fromJson(config.readAll()).object();
        QCOMPARE(json.value(QStringLiteral("peft_type")).toString(), QStringLiteral("LORA"));
        QCOMPARE(json.value(QStringLiteral("r")).toInt(), 4);
        QCOMPARE(json.value(QStringLiteral("target_modules")).toArray().size(), 9);

        attachAdapter(base, readPeftAdapter(dir.path().toStdString()));
        QVERIFY(maxDifference(logitsOf(base), logitsOf(student)) < 1e-6);
    }

    void deltaAdapterReproducesTheTrainedStudent()
    {
        auto base = model(studentConfig(), 5);
        auto student = model(studentConfig(), 5);
        const LoraSettings lora{4, 8, 0.0};
        const auto initial = injectOwnSvd(student, modulesOf(TransferOrigin::FeedForward), lora);
        {
            torch::NoGradGuard noGrad;
            for (auto &p : loraParameters(student))
                p.add_(torch::randn_like(p) * 0.05);
        }
        PeftAdapter delta;
        delta.settings = lora;
        for (const auto &[name, f] : initial)
            delta.factors[name] = {f.a, -f.b};
        const auto trained = adapterOf(student, "student");
        // base + delta, merged, then + trained: the fine-tuned student.
        attachAdapter(base, delta);
        mergeAllLora(base);
        attachAdapter(base, trained);
        QVERIFY(maxDifference(logitsOf(base), logitsOf(student)) < 1e-5);
    }

    // A student held in bfloat16 (how a 7B student fits in 24 GB) trains float32
    // adapters: the base stays bfloat16 and untouched, the loss falls as far as the
    // float32 student's, and merging gives bfloat16 weights that compute what base plus
    // adapter computed.
    void bfloat16StudentTrainsFloat32Adapters()
    {
        auto exact = model(studentConfig(), 5);
        auto halved = model(studentConfig(), 5);
        halved->to(at::kBFloat16);
        for (auto *m : {&exact, &halved})
            injectPlainLora(*m, modulesOf(TransferOrigin::All), {4, 8, 0.0}, 3);
        std::map<std::string, at::Tensor> base;
        for (const auto &item : halved->named_parameters()) {
            const bool factor = item.key().find(".lora_") != std::string::npos;
            QCOMPARE(item.value().scalar_type(), factor ? at::kFloat : at::kBFloat16);
            if (!factor)
                base[item.key()] = item.value().detach().clone();
        }
        const auto train = trainingDocuments();
        const auto options = quickTraining();
        Progress progress;
        const double before = documentsLoss(halved, train, 4, 2);
        const auto exactResult = trainLora(exact, train, train, options, progress);
        const auto halvedResult = trainLora(halved, train, train, options, progress);
        const double exactLoss = exactResult.evaluations.back().loss, halvedLoss = halvedResult.evaluations.back().loss;
        qInfo("loss %.4f before; after training: bfloat16 base %.4f, float32 base %.4f", before, halvedLoss, exactLoss);
        QVERIFY2(halvedLoss < 0.7 * before && std::abs(halvedLoss - exactLoss) < 0.05 * exactLoss,
                 qPrintable(QStringLiteral("bfloat16 %1 -> %2, float32 -> %3").arg(before).arg(halvedLoss).arg(exactLoss)));
        for (const auto &item : halved->named_parameters()) {
            if (item.key().find(".lora_") != std::string::npos)
                QCOMPARE(item.value().scalar_type(), at::kFloat);
            else
                QVERIFY2(torch::equal(item.value(), base.at(item.key())), item.key().c_str());
        }
        const auto withAdapter = logitsOf(halved).to(at::kFloat);
        auto merged = mergedCopy(halved);
        for (const auto &item : merged->named_parameters())
            QCOMPARE(item.value().scalar_type(), at::kBFloat16);
        const auto mergedLogits = logitsOf(merged).to(at::kFloat);
        const double scale = withAdapter.abs().max().item<double>();
        QVERIFY2(maxDifference(mergedLogits, withAdapter) < 0.05 * scale,
                 qPrintable(QStringLiteral("%1 of %2").arg(maxDifference(mergedLogits, withAdapter)).arg(scale)));
    }

    // With gradient checkpointing each layer runs again in the backward pass, with the
    // same dropout masks: the gradients and a whole training run are those without it.
    void gradientCheckpointingGivesTheSameTraining()
    {
        auto plain = model(studentConfig(), 5);
        auto checkpointed = model(studentConfig(), 5);
        for (auto *m : {&plain, &checkpointed})
            injectPlainLora(*m, modulesOf(TransferOrigin::All), {4, 8, 0.1}, 3);
        checkpointed->setGradientCheckpointing(true);
        const auto documents = trainingDocuments();
        const auto batch = padBatch({&documents[0], &documents[1]}, 2, 0);
        std::map<std::string, at::Tensor> gradients;
        for (auto *m : {&plain, &checkpointed}) {
            (*m)->train();
            freezeAllButLora(*m);
            torch::manual_seed(7);
            const auto logits = (*m)->forward(batch.inputIds);
            // The checkpointed model's graph holds one checkpoint node per layer.
            int checkpoints = 0;
            std::vector<torch::autograd::Node *> pending{logits.grad_fn().get()};
            std::set<torch::autograd::Node *> seen;
            while (!pending.empty()) {
                auto *node = pending.back();
                pending.pop_back();
                if (!node || !seen.insert(node).second)
                    continue;
                checkpoints += node->name().find("CheckpointedLayer") != std::string::npos;
                for (const auto &edge : node->next_edges())
                    pending.push_back(edge.function.get());
            }
            QCOMPARE(checkpoints, m == &checkpointed ? int(studentConfig().numHiddenLayers) : 0);
            causalLmLoss(logits, batch.labels).backward();
            for (const auto &item : (*m)->named_parameters())
                if (item.key().find(".lora_") != std::string::npos) {
                    QVERIFY2(item.value().grad().defined(), item.key().c_str());
                    if (m == &plain)
                        gradients[item.key()] = item.value().grad().clone();
                    else
                        QVERIFY2(torch::allclose(item.value().grad(), gradients.at(item.key()), 1e-4, 1e-7),
                                 item.key().c_str());
                }
        }
        auto options = quickTraining();
        options.epochs = 2;
        Progress progress;
        const auto plainRun = trainLora(plain, documents, {}, options, progress);
        const auto checkpointedRun = trainLora(checkpointed, documents, {}, options, progress);
        QCOMPARE(checkpointedRun.steps.size(), plainRun.steps.size());
        for (size_t i = 0; i < plainRun.steps.size(); ++i)
            QVERIFY2(std::abs(checkpointedRun.steps[i].loss - plainRun.steps[i].loss) < 1e-4,
                     qPrintable(QStringLiteral("step %1: %2 vs %3").arg(i).arg(checkpointedRun.steps[i].loss)
                                    .arg(plainRun.steps[i].loss)));
    }

    void loraTrainingLowersTheLossAndCancels()
    {
        auto student = model(studentConfig(), 5);
        injectPlainLora(student, modulesOf(TransferOrigin::All), {4, 8, 0.0}, 3);
        const auto train = trainingDocuments();
        const auto options = quickTraining();
        const double before = documentsLoss(student, train, 4, 2);
        Progress progress;
        const auto result = trainLora(student, train, train, options, progress);
        QCOMPARE(result.steps.size(), size_t(16));
        QVERIFY2(result.evaluations.back().loss < 0.7 * before,
                 qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(result.evaluations.back().loss)));
        // Base weights stayed frozen.
        for (const auto &item : student->named_parameters())
            QCOMPARE(item.value().requires_grad(), item.key().find(".lora_") != std::string::npos);

        Progress cancelling;
        int64_t last = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, trainLora(student, train, {}, options, cancelling,
                                                      [&](const TrainingStep &s) {
                                                          last = s.step;
                                                          if (s.step == 3)
                                                              cancelling.cancel();
                                                      }));
        QCOMPARE(last, int64_t(3));
    }
};

QTEST_GUILESS_MAIN(TestTransferEngine)
#include "test_transfer_engine.moc"
