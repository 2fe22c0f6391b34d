// The LLaMA forward pass against an independent loop implementation, the loss and its
// gradient against finite differences, and cached generation against recomputation.

#include "ReferenceForward.h"
#include "TestSupport.h"

#include "Error.h"
#include "io/TensorStore.h"
#include "model/Generation.h"
#include "model/LlamaModel.h"
#include "model/ModelFolder.h"

#include <QTemporaryDir>

#include <torch/torch.h>

#include <cmath>

using namespace nugget;

namespace {

ModelConfig tinyConfig() { return test::llamaConfig(16, 24, 2, 4, 2, 32, 64, 4); }

QString storiesDir() { return nugget::test::sharedPath(QStringLiteral("models/stories260K")); }

} // namespace

class TestLlamaModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parameterNamesFollowHuggingFace()
    {
        LlamaForCausalLM model(tinyConfig());
        const auto params = model->named_parameters();
        QVERIFY(params.contains("model.embed_tokens.weight"));
        QVERIFY(params.contains("model.layers.1.self_attn.k_proj.weight"));
        QVERIFY(params.contains("model.layers.0.mlp.down_proj.weight"));
        QVERIFY(params.contains("model.layers.0.post_attention_layernorm.weight"));
        QVERIFY(params.contains("model.norm.weight"));
        QVERIFY(params.contains("lm_head.weight"));
        QCOMPARE(params["model.layers.0.self_attn.k_proj.weight"].sizes(), (at::IntArrayRef{8, 16}));
        QCOMPARE(model->parameterCount(), tinyConfig().parameterCount());
    }

    void logitsMatchIndependentReference()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        auto loaded = loadModelFolder(storiesDir().toStdString());
        const auto store = TensorStore::openFolder(storiesDir().toStdString());
        const std::vector<int64_t> ids{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
                                       338, 401, 396, 267, 337, 410, 408, 419};
        const auto expected = test::referenceLogits(loaded.config, store, ids);
        torch::NoGradGuard noGrad;
        const auto logits = loaded.model->forward(torch::tensor(ids).unsqueeze(0))[0].to(at::kDouble).contiguous();
        double worst = 0;
        for (size_t t = 0; t < ids.size(); ++t)
            for (int64_t v = 0; v < loaded.config.vocabSize; ++v)
                worst = std::max(worst, std::abs(logits[t][v].item<double>() - expected[t][v]));
        qInfo("largest logit difference to the loop reference: %.3g", worst);
        QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
    }

    void lossAveragesUnmaskedTokensOnly()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.2, 7);
        const auto ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 3, 17, 2}).unsqueeze(0);
        auto labels = ids.clone();
        labels.index_put_({0, torch::indexing::Slice(0, 3)}, -100);
        const auto logits = model->forward(ids);
        const double loss = causalLmLoss(logits, labels).item<double>();
        // Positions 3..5 are predicted from positions 2..4.
        const auto logProbs = torch::log_softmax(logits[0].to(at::kDouble), -1);
        double manual = 0;
        for (int t = 3; t < 6; ++t)
            manual -= logProbs[t - 1][ids[0][t].item<int64_t>()].item<double>();
        QVERIFY(std::abs(loss - manual / 3) < 1e-5);

        // Masking everything yields zero, not NaN.
        const auto allMasked = torch::full_like(ids, -100);
        QCOMPARE(causalLmLoss(logits, allMasked).item<double>(), 0.0);
    }

    void gradientMatchesFiniteDifferences()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.3, 11);
        model->to(at::kDouble);
        const auto ids = torch::tensor(std::vector<int64_t>{1, 4, 8, 15, 16, 23, 30, 2}).unsqueeze(0);
        auto labels = ids.clone();
        labels.index_put_({0, torch::indexing::Slice(0, 4)}, -100);
        auto lossOf = [&] { return causalLmLoss(model->forward(ids), labels); };
        model->zero_grad();
        lossOf().backward();

        const char *names[] = {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                               "model.layers.1.self_attn.v_proj.weight", "model.layers.0.mlp.gate_proj.weight",
                               "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
                               "model.norm.weight", "lm_head.weight"};
        auto params = model->named_parameters();
        for (const char *name : names) {
            auto p = params[name];
            const auto grad = p.grad().clone();
            for (int64_t flat : {int64_t(0), p.numel() / 2 + 1, p.numel() - 1}) {
                torch::NoGradGuard noGrad;
                auto element = p.view({-1})[flat];
                const double original = element.item<double>(), h = 1e-6;
                element.fill_(original + h);
                const double plus = lossOf().item<double>();
                element.fill_(original - h);
                const double minus = lossOf().item<double>();
                element.fill_(original);
                const double numeric = (plus - minus) / (2 * h);
                const double analytic = grad.view({-1})[flat].item<double>();
                QVERIFY2(std::abs(numeric - analytic) <= 1e-6 + 1e-4 * std::abs(numeric),
                         qPrintable(QStringLiteral("%1[%2]: numeric %3 analytic %4")
                                        .arg(QString::fromLatin1(name)).arg(flat).arg(numeric).arg(analytic)));
            }
        }
    }

    void cachedLogitsEqualFullRecomputation()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.2, 3);
        torch::NoGradGuard noGrad;
        const auto ids = torch::tensor(std::vector<int64_t>{1, 7, 3, 9, 12, 30, 4, 4, 18}).unsqueeze(0);
        const auto full = model->forward(ids);
        KVCache cache;
        auto prefix = model->forward(ids.narrow(1, 0, 5), &cache);
        QCOMPARE(cache.length(), int64_t(5));
        std::vector<at::Tensor> pieces{prefix};
        for (int64_t t = 5; t < ids.size(1); ++t)
            pieces.push_back(model->forward(ids.narrow(1, t, 1), &cache));
        const auto incremental = torch::cat(pieces, 1);
        QVERIFY(torch::allclose(full, incremental, 1e-5, 1e-5));
    }

    void cachedGenerationEqualsRecomputation()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        auto loaded = loadModelFolder(storiesDir().toStdString());
        SamplingOptions greedy;
        greedy.maxNewTokens = 40;
        const std::vector<int64_t> prompt{1, 403, 407};
        const auto cached = generate(loaded.model, prompt, greedy);

        torch::NoGradGuard noGrad;
        std::vector<int64_t> sequence = prompt;
        for (int i = 0; i < 40; ++i) {
            const auto logits = loaded.model->forward(torch::tensor(sequence).unsqueeze(0));
            sequence.push_back(logits[0][-1].argmax().item<int64_t>());
        }
        QCOMPARE(cached, std::vector<int64_t>(sequence.begin() + 3, sequence.end()));
    }

    void samplingIsSeededAndTopPNarrows()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.5, 5);
        SamplingOptions sampled;
        sampled.maxNewTokens = 30;
        sampled.temperature = 1.0;
        sampled.topP = 0.95;
        sampled.seed = 42;
        const auto a = generate(model, {1}, sampled);
        const auto b = generate(model, {1}, sampled);
        QCOMPARE(a, b);
        sampled.seed = 43;
        QVERIFY(generate(model, {1}, sampled) != a);

        // A nucleus this small keeps only the most likely token: greedy.
        sampled.topP = 1e-9;
        SamplingOptions greedy;
        greedy.maxNewTokens = 30;
        QCOMPARE(generate(model, {1}, sampled), generate(model, {1}, greedy));
    }

    void generationStopsOnStopIdAndCancels()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.5, 5);
        SamplingOptions greedy;
        greedy.maxNewTokens = 30;
        const auto free = generate(model, {1}, greedy);
        greedy.stopIds = {free[3]};
        const auto stopped = generate(model, {1}, greedy);
        QVERIFY(stopped.size() <= 4);
        QCOMPARE(stopped.back(), free[3]);

        Progress progress;
        progress.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, generate(model, {1}, greedy, &progress));
    }

    void saveAndReloadRoundTrips()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.2, 9);
        QTemporaryDir dir;
        saveModelFolder(model, dir.path().toStdString());
        auto loaded = loadModelFolder(dir.path().toStdString());
        const auto ids = torch::tensor(std::vector<int64_t>{1, 2, 3, 4}).unsqueeze(0);
        torch::NoGradGuard noGrad;
        QVERIFY(torch::equal(model->forward(ids), loaded.model->forward(ids)));
    }

    void loadingReportsShapeMismatchAndMissingTensors()
    {
        LlamaForCausalLM model(tinyConfig());
        initialiseWeights(model, 0.2, 9);
        QTemporaryDir dir;
        saveModelFolder(model, dir.path().toStdString());
        auto config = tinyConfig();
        config.intermediateSize = 32;   // weights on disk are 24 wide
        config.saveJsonFile((dir.path() + QStringLiteral("/config.json")).toStdString());
        try {
            loadModelFolder(dir.path().toStdString());
            QFAIL("a shape mismatch must be reported");
        } catch (const Error &e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(QStringLiteral("mlp.gate_proj.weight")) && message.contains(QStringLiteral("shape")),
                     e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, loadModelFolder((dir.path() + QStringLiteral("/absent")).toStdString()));
    }
};

QTEST_GUILESS_MAIN(TestLlamaModel)
#include "test_llama_model.moc"
