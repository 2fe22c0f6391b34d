// Pretraining: the loss falls, the result round-trips through the HF format, an
// interrupted run resumes exactly where it stopped, and cancel stops within one step.

#include "TestSupport.h"

#include "Error.h"
#include "model/ModelFolder.h"
#include "train/LearningRateSchedule.h"
#include "train/Pretrainer.h"

#include <QTemporaryDir>

#include <torch/torch.h>

using namespace nugget;

namespace {

ModelConfig tinyConfig() { return test::llamaConfig(32, 64, 2, 4, 2, 40, 64, 8); }

// Documents a model can learn quickly: BOS, then a run of consecutive ids from a
// random start, then EOS.
std::vector<TrainingDocument> countingDocuments(int count, uint64_t seed)
{
    std::vector<TrainingDocument> documents;
    const auto order = seededPermutation(static_cast<size_t>(count) * 7, seed);
    for (int i = 0; i < count; ++i) {
        TrainingDocument d;
        d.ids.push_back(1);
        const int64_t start = 3 + static_cast<int64_t>(order[static_cast<size_t>(i)] % 20);
        for (int64_t k = 0; k < 10; ++k)
            d.ids.push_back(start + k);
        d.ids.push_back(2);
        d.labels = d.ids;
        d.labels[0] = -100;
        documents.push_back(std::move(d));
    }
    return documents;
}

PretrainOptions quickOptions()
{
    PretrainOptions o;
    o.sequenceLength = 32;
    o.batchSize = 4;
    o.epochs = 6;
    o.learningRate = 3e-3;
    o.warmupSteps = 5;
    o.evalEvery = 0;
    o.checkpointEvery = 0;
    o.seed = 5;
    return o;
}

LlamaForCausalLM freshModel()
{
    LlamaForCausalLM model(tinyConfig());
    initialiseWeights(model, 0.02, 3);
    return model;
}

bool sameWeights(LlamaForCausalLM &a, LlamaForCausalLM &b, double tolerance)
{
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto &item : pa)
        if (!torch::allclose(item.value(), pb[item.key()], 0.0, tolerance))
            return false;
    return true;
}

} // namespace

class TestPretrainer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void scheduleWarmsUpThenDecays()
    {
        LearningRateSchedule s{1.0, 10, 110, 0.1};
        QCOMPARE(s.at(0), 0.1);
        QCOMPARE(s.at(9), 1.0);
        QVERIFY(std::abs(s.at(60) - 0.55) < 1e-12);   // half-way down the cosine
        QVERIFY(std::abs(s.at(110) - 0.1) < 1e-12);
        QVERIFY(s.at(30) > s.at(31));
    }

    void packingKeepsEveryTokenOnce()
    {
        const auto documents = countingDocuments(10, 1);
        PackedBatches packed(documents, 16, 3);
        QCOMPARE(packed.tokenCount(), int64_t(120));
        const auto batches = packed.epoch(1, 0);
        QCOMPARE(static_cast<int64_t>(batches.size()), packed.batchesPerEpoch());
        int64_t tokens = 0, eos = 0;
        for (const auto &b : batches) {
            tokens += b.labels.ne(-100).sum().item<int64_t>();
            eos += b.inputIds.eq(2).logical_and(b.labels.ne(-100)).sum().item<int64_t>();
        }
        QCOMPARE(tokens, int64_t(110));   // every token but the 10 BOS
        QCOMPARE(eos, int64_t(10));
        // Another epoch is another order, the same epoch the same order.
        QVERIFY(!torch::equal(packed.epoch(1, 1)[0].inputIds, batches[0].inputIds));
        QVERIFY(torch::equal(packed.epoch(1, 0)[0].inputIds, batches[0].inputIds));
    }

    void lossFallsAndModelRoundTrips()
    {
        auto model = freshModel();
        auto options = quickOptions();
        options.epochs = 20;
        Pretrainer trainer(model, countingDocuments(64, 2), countingDocuments(8, 99), options);
        const double before = trainer.evaluationLoss();
        Progress progress;
        const auto result = trainer.run(progress);
        QCOMPARE(static_cast<int64_t>(result.steps.size()), trainer.totalSteps());
        const double after = result.evaluations.back().loss;
        qInfo("held-out loss %.3f -> %.3f over %lld steps", before, after, static_cast<long long>(trainer.totalSteps()));
        QVERIFY2(after < 0.5 * before, qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(after)));

        QTemporaryDir dir;
        saveModelFolder(model, dir.path().toStdString());
        auto reloaded = loadModelFolder(dir.path().toStdString());
        QVERIFY(sameWeights(model, reloaded.model, 0.0));
    }

    void cancelStopsWithinOneStepAndResumeContinues()
    {
        // The uninterrupted run.
        auto straight = freshModel();
        Pretrainer reference(straight, countingDocuments(64, 2), {}, quickOptions());
        Progress quiet;
        reference.run(quiet);

        // The same run, cancelled after step 17...
        QTemporaryDir dir;
        auto options = quickOptions();
        options.checkpointDir = (dir.path() + QStringLiteral("/checkpoint")).toStdString();
        auto interrupted = freshModel();
        Pretrainer first(interrupted, countingDocuments(64, 2), {}, options);
        Progress progress;
        int64_t lastStep = 0;
        first.onStep = [&](const TrainingStep &step) {
            lastStep = step.step;
            if (step.step == 17)
                progress.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, first.run(progress));
        QCOMPARE(lastStep, int64_t(17));
        QVERIFY(QFileInfo::exists(dir.path() + QStringLiteral("/checkpoint/trainer_state.json")));

        // ...then resumed by a new process-like start from a fresh model.
        auto resumed = freshModel();
        Pretrainer second(resumed, countingDocuments(64, 2), {}, options);
        Progress again;
        const auto result = second.run(again);
        QCOMPARE(result.resumedFromStep, int64_t(17));
        QCOMPARE(result.steps.front().step, int64_t(18));
        QVERIFY(sameWeights(straight, resumed, 1e-6));
    }

    void checkpointOfOtherSettingsIsRefused()
    {
        QTemporaryDir dir;
        auto options = quickOptions();
        options.checkpointDir = (dir.path() + QStringLiteral("/checkpoint")).toStdString();
        auto model = freshModel();
        Pretrainer first(model, countingDocuments(64, 2), {}, options);
        Progress progress;
        first.onStep = [&](const TrainingStep &step) {
            if (step.step == 3)
                progress.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, first.run(progress));
        options.batchSize = 8;
        auto other = freshModel();
        Pretrainer second(other, countingDocuments(64, 2), {}, options);
        Progress again;
        QVERIFY_THROWS_EXCEPTION(Error, second.run(again));
    }

    void nonFiniteLossStopsWithTheStep()
    {
        auto model = freshModel();
        auto options = quickOptions();
        options.learningRate = 1e30;   // diverges at once
        options.warmupSteps = 0;
        options.gradientClip = 1e30;
        Pretrainer trainer(model, countingDocuments(64, 2), {}, options);
        Progress progress;
        try {
            trainer.run(progress);
            QFAIL("a diverging run must stop");
        } catch (const Error &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("at step")), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestPretrainer)
#include "test_pretrainer.moc"
