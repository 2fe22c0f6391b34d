// Layer-streamed sensitivity equals the in-memory computation on real checkpoints (the
// demo teacher, bf16 on disk, untied head; stories260K, float32, tied embedding), with
// hidden states in RAM or spilled to a file; it streams into a session, and cancels.

#include "TestSupport.h"

#include "Error.h"
#include "io/Session.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "transfer/LayerSimilarity.h"
#include "transfer/StreamedSensitivity.h"
#include "transfer/TransferRecipe.h"

#include <QTemporaryDir>

#include <torch/torch.h>

using namespace nugget;

namespace {

QString demoTeacher() { return test::sourceDir() + QStringLiteral("/resources/demo/teacher"); }

// The first `count` seed samples of the demo's transfer task, tokenized.
std::vector<SeedSample> demoSeeds(size_t count)
{
    const auto tokenizer = Tokenizer::load((demoTeacher() + QStringLiteral("/tokenizer.model")).toStdString());
    auto examples = readChatJsonl((test::sourceDir() + QStringLiteral("/resources/demo/tasks/transfer_seeds.jsonl")).toStdString());
    examples.resize(std::min(count, examples.size()));
    return seedSamples(*tokenizer, examples, 96);
}

// Random token sequences with the loss on their second half.
std::vector<SeedSample> randomSeeds(int count, int64_t vocab, int64_t length)
{
    std::vector<SeedSample> samples;
    torch::manual_seed(7);
    for (int i = 0; i < count; ++i) {
        const auto ids = torch::randint(3, vocab, {length + i}, torch::kLong);
        SeedSample s;
        s.inputIds.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
        s.inputIds[0] = 1;
        s.labels = s.inputIds;
        for (int64_t t = 0; t < length / 2; ++t)
            s.labels[static_cast<size_t>(t)] = -100;
        samples.push_back(s);
    }
    return samples;
}

// A test row's model folder and seed samples: the demo teacher with three of its task's
// seeds, or stories260K with three random sequences.
std::pair<std::string, std::vector<SeedSample>> modelAndSeeds(const QString &model)
{
    if (model == QStringLiteral("demo"))
        return {demoTeacher().toStdString(), demoSeeds(3)};
    return {test::sharedPath(QStringLiteral("models/stories260K")).toStdString(), randomSeeds(3, 512, 24)};
}

std::map<std::string, at::Tensor> streamed(const std::string &folder, const std::vector<SeedSample> &samples,
                                           StreamedSensitivityOptions options, StreamedSensitivityResult *result = nullptr)
{
    const auto config = ModelConfig::fromJsonFile(folder + "/config.json");
    const auto store = TensorStore::openFolder(folder);
    std::map<std::string, at::Tensor> scores;
    Progress progress;
    auto r = computeStreamedSensitivity(config, store, samples, options, progress,
                                        [&](const std::string &name, const at::Tensor &s) {
                                            QVERIFY2(!scores.count(name), name.c_str());   // each parameter once
                                            scores[name] = s.to(at::kCPU);
                                        });
    if (result)
        *result = r;
    return scores;
}

// Every parameter's scores agree within float32 summation-order tolerance.
void compareMaps(const std::map<std::string, at::Tensor> &actual, const SensitivityMap &expected)
{
    QCOMPARE(actual.size(), expected.scores.size());
    for (const auto &[name, reference] : expected.scores) {
        const auto found = actual.find(name);
        QVERIFY2(found != actual.end(), name.c_str());
        QCOMPARE(found->second.sizes(), reference.sizes());
        const double scale = reference.abs().max().item<double>();
        const double difference = (found->second - reference).abs().max().item<double>();
        QVERIFY2(scale > 0 || name.find("embed") != std::string::npos, name.c_str());
        QVERIFY2(difference <= 1e-4 * scale + 1e-12,
                 qPrintable(QStringLiteral("%1: max difference %2 against scale %3")
                                .arg(QString::fromStdString(name)).arg(difference).arg(scale)));
    }
}

// How far bfloat16 rounding can move a sample's loss. The loss is the mean over the
// labelled positions t of l_t = lse(z_t) - z_t[y]. If no logit of position t moves by more
// than D_t, Taylor's theorem bounds the change of l_t by 2 (1 - p_t[y]) D_t + D_t^2 / 2:
// the gradient of l_t is p_t - onehot(y), whose L1 norm is 2 (1 - p_t[y]), and the
// Hessian's quadratic form is a variance under p_t, at most D_t^2. D_t is measured: the
// largest logit difference between the model run in float32 and in bfloat16 (on this
// CPU's bfloat16 kernels, whether AVX-512 BF16, AMX or emulated), doubled because the
// streamed path rounds in another order. The bound holds however small the loss is (a
// teacher that knows its seeds has a loss near zero), where a relative one does not.
double bfloat16LossBound(LlamaForCausalLM &exact, LlamaForCausalLM &rounded, const SeedSample &sample, int64_t maxLength)
{
    torch::NoGradGuard noGrad;
    const int64_t context = maxLength > 0 ? maxLength : exact->config().maxPositionEmbeddings;
    const auto length = std::min<int64_t>(static_cast<int64_t>(sample.inputIds.size()), context);
    const auto ids = torch::tensor(sample.inputIds, torch::kLong).narrow(0, 0, length).unsqueeze(0);
    const auto labels = torch::tensor(sample.labels, torch::kLong).narrow(0, 0, length);
    // Position t predicts token t + 1.
    const auto z = exact->forward(ids)[0].narrow(0, 0, length - 1);
    const auto zRounded = rounded->forward(ids)[0].narrow(0, 0, length - 1).to(at::kFloat);
    const auto next = labels.narrow(0, 1, length - 1);
    const auto labelled = next.ne(-100);
    const auto d = 2 * std::get<0>((zRounded - z).abs().max(-1)).masked_select(labelled);
    const auto p = torch::softmax(z, -1).gather(1, next.clamp_min(0).unsqueeze(1)).squeeze(1).masked_select(labelled);
    return (2 * (1 - p) * d + d * d / 2).mean().item<double>();
}

} // namespace

class TestStreamedSensitivity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void equalsInMemory_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("metric");
        QTest::addColumn<bool>("spill");
        QTest::newRow("demo teacher, taylor") << QStringLiteral("demo") << QStringLiteral("taylor") << false;
        QTest::newRow("demo teacher, fisher") << QStringLiteral("demo") << QStringLiteral("fisher") << false;
        QTest::newRow("demo teacher, taylor, spilled") << QStringLiteral("demo") << QStringLiteral("taylor") << true;
        QTest::newRow("demo teacher, magnitude") << QStringLiteral("demo") << QStringLiteral("magnitude") << false;
        QTest::newRow("stories260K (tied), taylor") << QStringLiteral("stories") << QStringLiteral("taylor") << false;
        QTest::newRow("stories260K (tied), fisher") << QStringLiteral("stories") << QStringLiteral("fisher") << true;
    }

    void equalsInMemory()
    {
        QFETCH(QString, model);
        QFETCH(QString, metric);
        QFETCH(bool, spill);
        if (model != QStringLiteral("demo"))
            NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto [folder, samples] = modelAndSeeds(model);
        SensitivityOptions reference;
        reference.metric = parseSensitivityMetric(metric.toStdString());
        auto loaded = loadModelFolder(folder);   // float32, as the streamed path computes
        Progress progress;
        const auto expected = computeSensitivity(loaded.model, samples, reference, progress);

        StreamedSensitivityOptions options;
        options.metric = reference.metric;
        if (spill)
            options.inMemoryActivationBytes = 0;
        StreamedSensitivityResult result;
        const auto actual = streamed(folder, samples, options, &result);
        compareMaps(actual, expected);
        QCOMPARE(result.spilled, spill && reference.metric != SensitivityMetric::Magnitude);
        QCOMPARE(result.samples, reference.metric == SensitivityMetric::Magnitude ? int64_t(0) : int64_t(samples.size()));
        const auto totals = expected.layerModuleTotals(loaded.config.numHiddenLayers);
        QVERIFY(torch::allclose(result.layerModuleTotals, totals, 1e-4, 1e-12));
    }

    // bfloat16 weights and hidden states round every product to 8 significant bits;
    // scores still sum in float32. What a user relies on: the same per-layer picture
    // (totals within a few percent, the same order of layers), each matrix's scores
    // close to the float32 ones, and a visible difference (it really ran in bfloat16).
    void bfloat16ComputeStaysCloseToFloat32_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("metric");
        QTest::addColumn<bool>("spill");
        QTest::newRow("demo teacher, taylor") << QStringLiteral("demo") << QStringLiteral("taylor") << false;
        QTest::newRow("demo teacher, fisher, spilled") << QStringLiteral("demo") << QStringLiteral("fisher") << true;
        QTest::newRow("stories260K (tied), taylor") << QStringLiteral("stories") << QStringLiteral("taylor") << false;
    }

    void bfloat16ComputeStaysCloseToFloat32()
    {
        QFETCH(QString, model);
        QFETCH(QString, metric);
        QFETCH(bool, spill);
        if (model != QStringLiteral("demo"))
            NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto [folder, samples] = modelAndSeeds(model);
        StreamedSensitivityOptions options;
        options.metric = parseSensitivityMetric(metric.toStdString());
        StreamedSensitivityResult exactResult, roundedResult;
        const auto exact = streamed(folder, samples, options, &exactResult);
        options.computeDtype = at::kBFloat16;
        if (spill)
            options.inMemoryActivationBytes = 0;
        const auto rounded = streamed(folder, samples, options, &roundedResult);
        QCOMPARE(roundedResult.spilled, spill);

        QCOMPARE(rounded.size(), exact.size());
        double largestDifference = 0;
        for (const auto &[name, reference] : exact) {
            const auto found = rounded.find(name);
            QVERIFY2(found != rounded.end(), name.c_str());
            const auto &scores = found->second;
            QCOMPARE(scores.scalar_type(), at::kFloat);
            QCOMPARE(scores.sizes(), reference.sizes());
            QVERIFY2(torch::isfinite(scores).all().item<bool>(), name.c_str());
            const double mass = reference.abs().sum().item<double>();
            if (mass == 0)
                continue;
            const double relativeL1 = (scores - reference).abs().sum().item<double>() / mass;
            largestDifference = std::max(largestDifference, relativeL1);
            QVERIFY2(relativeL1 < 0.1, qPrintable(QStringLiteral("%1: relative L1 difference %2")
                                                      .arg(QString::fromStdString(name)).arg(relativeL1)));
        }
        QVERIFY2(largestDifference > 1e-4, "bfloat16 scores equal the float32 ones: the option had no effect");

        const auto exactTotals = exactResult.layerModuleTotals, roundedTotals = roundedResult.layerModuleTotals;
        const double totalsDifference =
            ((roundedTotals - exactTotals).abs() / exactTotals.abs().clamp_min(1e-30)).max().item<double>();
        // Fisher squares the gradient: twice its relative rounding error.
        const double tolerance = options.metric == SensitivityMetric::Fisher ? 0.06 : 0.03;
        QVERIFY2(totalsDifference < tolerance, qPrintable(QStringLiteral("layer-module totals differ by %1").arg(totalsDifference)));
        QVERIFY(torch::equal(std::get<1>(exactTotals.sum(1).sort()), std::get<1>(roundedTotals.sum(1).sort())));
        QCOMPARE(roundedResult.losses.size(), exactResult.losses.size());
        auto exactModel = loadModelFolder(folder).model;
        LoadOptions bfloat16;
        bfloat16.dtype = at::kBFloat16;
        auto roundedModel = loadModelFolder(folder, bfloat16).model;
        for (size_t i = 0; i < exactResult.losses.size(); ++i) {
            const double difference = std::abs(roundedResult.losses[i] - exactResult.losses[i]);
            const double bound = bfloat16LossBound(exactModel, roundedModel, samples[i], options.maxLength);
            qInfo("sample %zu: loss %.6g in float32, %.6g in bfloat16; difference %.3g, bound %.3g", i + 1,
                  exactResult.losses[i], roundedResult.losses[i], difference, bound);
            QVERIFY2(difference <= bound, qPrintable(QStringLiteral("sample %1: the bfloat16 loss differs by %2, more "
                                                                    "than rounding explains (%3)")
                                                         .arg(i + 1).arg(difference).arg(bound)));
        }
        qInfo("largest relative L1 difference of a matrix %.3g, of a layer-module total %.3g", largestDifference,
              totalsDifference);
    }

    // The layer outputs layer similarity compares, computed one layer at a time from
    // the mapped weights, equal those of the loaded model (cut at maxTokens alike).
    void streamedLayerStatesEqualTheLoadedModels()
    {
        const auto folder = demoTeacher().toStdString();
        const auto samples = demoSeeds(4);
        const int64_t maxTokens = 150;   // cuts the second or third sample short
        auto loaded = loadModelFolder(folder);
        Progress progress;
        const auto expected = layerStates(loaded.model, samples, maxTokens, progress);
        std::vector<int64_t> order;
        streamedLayerStates(loaded.config, TensorStore::openFolder(folder), samples, maxTokens, at::kCPU, at::kFloat,
                            progress, [&](int64_t layer, const at::Tensor &states) {
                                order.push_back(layer);
                                const auto &reference = expected.at(static_cast<size_t>(layer));
                                QCOMPARE(states.sizes(), reference.sizes());
                                QCOMPARE(states.size(0), maxTokens);
                                const double scale = reference.abs().max().item<double>();
                                QVERIFY((states - reference).abs().max().item<double>() <= 1e-5 * scale);
                            });
        QCOMPARE(order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    }

    void storesIntoSessionAndLoadsBack()
    {
        const auto folder = demoTeacher().toStdString();
        const auto samples = demoSeeds(2);
        QTemporaryDir dir;
        const auto path = dir.filePath(QStringLiteral("s.h5")).toStdString();
        Progress progress;
        {
            auto session = Session::create(path);
            storeStreamedSensitivity(&session, Side::Teacher, folder, samples, {}, progress);
            session.commit();
        }
        auto loaded = loadModelFolder(folder);
        const auto expected = computeSensitivity(loaded.model, samples, {}, progress);
        const auto session = Session::openReadOnly(path);
        const auto map = loadSensitivity(session, Side::Teacher);
        QCOMPARE(map.samples, int64_t(2));
        compareMaps(map.scores, expected);
        const auto [totals, modules] = session.readLayerTotals(Side::Teacher);
        QCOMPARE(modules, layerModuleNames());
        QVERIFY(torch::allclose(totals, expected.layerModuleTotals(6), 1e-4, 1e-12));
    }

    void float16SessionKeepsScoresWithinHalfPrecision()
    {
        const auto folder = demoTeacher().toStdString();
        const auto samples = demoSeeds(2);
        QTemporaryDir dir;
        const auto path = dir.filePath(QStringLiteral("s16.h5")).toStdString();
        Progress progress;
        StreamedSensitivityOptions fisher;   // the widest range of values
        fisher.metric = SensitivityMetric::Fisher;
        std::map<std::string, at::Tensor> exact;
        {
            auto session = Session::create(path);
            storeStreamedSensitivity(&session, Side::Teacher, folder, samples, fisher, progress, Session::ScoreStorage::Float16);
            session.commit();
            exact = streamed(folder, samples, fisher);
        }
        const auto session = Session::openReadOnly(path);
        QCOMPARE(session.sensitivityParameters(Side::Teacher).size(), exact.size());
        for (const auto &[name, reference] : exact) {
            const auto stored = session.readSensitivity(Side::Teacher, name);
            QCOMPARE(stored.scalar_type(), at::kFloat);
            const double scale = reference.max().item<double>();
            const double difference = (stored - reference).abs().max().item<double>();
            QVERIFY2(difference <= 1e-3 * scale, name.c_str());   // half: 2^-11 relative to the largest
        }
        // About half the bytes of float32 scores (2 per parameter, plus the file's overhead).
        const auto parameters = ModelConfig::fromJsonFile(folder + "/config.json").parameterCount();
        QVERIFY(static_cast<double>(QFileInfo(QString::fromStdString(path)).size()) < 2.4 * static_cast<double>(parameters));
    }

    void cancelsAndLeavesNoPartialSession()
    {
        const auto folder = demoTeacher().toStdString();
        QTemporaryDir dir;
        const auto path = dir.filePath(QStringLiteral("s.h5")).toStdString();
        Progress progress;
        int reports = 0;
        progress.setReporter([&](double, const std::string &) {
            if (++reports == 10)
                progress.cancel();
        });
        {
            auto session = Session::create(path);
            QVERIFY_THROWS_EXCEPTION(Cancelled, storeStreamedSensitivity(&session, Side::Teacher, folder, demoSeeds(3),
                                                                         {}, progress));
        }
        QCOMPARE(reports, 10);
        QVERIFY(!QFileInfo::exists(QString::fromStdString(path)));
    }

    void namesTheMissingTensor()
    {
        auto config = ModelConfig::fromJsonFile(demoTeacher().toStdString() + "/config.json");
        config.numHiddenLayers = 7;   // the checkpoint has six
        const auto store = TensorStore::openFolder(demoTeacher().toStdString());
        Progress progress;
        const auto message = test::errorOf([&] {
            computeStreamedSensitivity(config, store, demoSeeds(1), {}, progress, [](const std::string &, const at::Tensor &) {});
        });
        QVERIFY2(message.contains(QStringLiteral("model.layers.6.")), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(TestStreamedSensitivity)
#include "test_streamed_sensitivity.moc"
