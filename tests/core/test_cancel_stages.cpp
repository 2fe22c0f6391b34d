// Cancel takes effect within one second at every long stage of the core: sensitivity
// (in memory and layer-streamed), layer similarity, extraction, LoRA training and task
// evaluation. Each stage runs on its own thread on a workload that takes several
// seconds; once it is under way the test cancels it from the main thread, as the
// workbench's Cancel button does, and times how long the stage takes to give up.

#include "TestSupport.h"

#include "model/LlamaModel.h"
#include "model/LoraAdapters.h"
#include "model/ModelFolder.h"
#include "eval/TaskEvaluation.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "train/LoraTrainer.h"
#include "transfer/Extraction.h"
#include "transfer/LayerSimilarity.h"
#include "transfer/Sensitivity.h"
#include "transfer/StreamedSensitivity.h"

#include <QElapsedTimer>
#include <QTemporaryDir>

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace nugget;

namespace {

ModelConfig config(int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kvHeads)
{
    return test::llamaConfig(hidden, inter, layers, heads, kvHeads, 512, 256);
}

LlamaForCausalLM randomModel(const ModelConfig &c, uint64_t seed) { return test::randomModel(c, 0.05, seed); }

std::vector<SeedSample> samples(int count, int64_t length)
{
    return test::randomSeedSamples(count, length, 512, length / 2, 7);
}

struct CancelOutcome
{
    bool cancelled = false;    // the stage threw Cancelled
    bool completed = false;    // the stage returned before the cancel reached it
    QString failure;           // any other exception
    qint64 milliseconds = -1;  // from cancel() to the stage giving up
};

// Runs `stage` on its own thread. `underWay` (also called for every progress report)
// tells the test the stage is doing its work; 150 ms later the test cancels it.
CancelOutcome cancelMidway(const std::function<void(Progress &, const std::function<void()> &underWay)> &stage)
{
    Progress progress;
    std::atomic<bool> started{false};
    const std::function<void()> underWay = [&] { started.store(true); };
    progress.setReporter([&](double, const std::string &) { underWay(); });

    CancelOutcome outcome;
    std::promise<void> finished;
    auto done = finished.get_future();
    std::thread worker([&] {
        try {
            stage(progress, underWay);
            outcome.completed = true;
        } catch (const Cancelled &) {
            outcome.cancelled = true;
        } catch (const std::exception &e) {
            outcome.failure = QString::fromUtf8(e.what());
        }
        finished.set_value();
    });
    QElapsedTimer clock;
    clock.start();
    while (!started.load() && done.wait_for(std::chrono::milliseconds(5)) == std::future_status::timeout
           && clock.elapsed() < 120000) {
    }
    if (done.wait_for(std::chrono::milliseconds(150)) == std::future_status::timeout) {
        clock.restart();
        progress.cancel();
        done.wait();
        outcome.milliseconds = clock.elapsed();
    }
    worker.join();
    return outcome;
}

void verifyPromptCancel(const char *stage, const CancelOutcome &outcome)
{
    QVERIFY2(outcome.failure.isEmpty(), qPrintable(QString::fromLatin1(stage) + ": " + outcome.failure));
    QVERIFY2(!outcome.completed,
             qPrintable(QString::fromLatin1(stage) + " finished before it was cancelled: the workload is too small "
                                                     "to test cancelling"));
    QVERIFY2(outcome.cancelled, stage);
    qInfo("%s: cancelled after %lld ms", stage, static_cast<long long>(outcome.milliseconds));
    QVERIFY2(outcome.milliseconds < 1000,
             qPrintable(QStringLiteral("%1 took %2 ms to stop").arg(QString::fromLatin1(stage)).arg(outcome.milliseconds)));
}

} // namespace

class TestCancelStages : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::set_num_threads(int(std::max(1u, std::thread::hardware_concurrency())));
    }

    void sensitivity()
    {
        auto teacher = randomModel(config(256, 688, 4, 8, 4), 1);
        const auto seeds = samples(400, 128);
        verifyPromptCancel("sensitivity", cancelMidway([&](Progress &progress, const std::function<void()> &underWay) {
            computeSensitivity(teacher, seeds, {}, progress, [&](const SensitivityProgress &) { underWay(); });
        }));
        // The model is left as it was: no gradients hanging on.
        for (const auto &p : teacher->parameters())
            QVERIFY(!p.grad().defined());
    }

    void streamedSensitivity()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto c = config(256, 688, 4, 8, 4);
        auto teacher = randomModel(c, 2);
        saveModelFolder(teacher, dir.path().toStdString());
        const auto store = TensorStore::openFolder(dir.path().toStdString());
        const auto seeds = samples(400, 128);
        verifyPromptCancel("streamed sensitivity",
                           cancelMidway([&](Progress &progress, const std::function<void()> &underWay) {
                               computeStreamedSensitivity(c, store, seeds, {}, progress,
                                                          [&](const std::string &, const at::Tensor &) { underWay(); });
                           }));
    }

    void layerSimilarity()
    {
        auto teacher = randomModel(config(256, 688, 6, 8, 4), 3);
        auto student = randomModel(config(128, 344, 4, 4, 2), 4);
        const auto seeds = samples(300, 128);
        verifyPromptCancel("layer similarity", cancelMidway([&](Progress &progress, const std::function<void()> &underWay) {
            nugget::layerSimilarity(teacher, student, seeds, progress, 300 * 128,
                                    [&](int64_t, const at::Tensor &) { underWay(); });
        }));
    }

    void extraction()
    {
        // Exact SVDs of 768 x 2048 matrices: a fraction of a second each, 28 of them.
        const auto teacherConfig = config(1024, 2816, 4, 16, 8);
        const auto studentConfig = config(768, 2048, 4, 12, 6);
        auto teacher = randomModel(teacherConfig, 5);
        auto params = teacher->named_parameters();
        torch::manual_seed(9);
        std::map<std::string, at::Tensor> scores;
        for (const auto &item : params)
            scores[item.key()] = torch::rand(item.value().sizes());
        LayerSelection selection;
        selection.teacherLayers = {0, 1, 2, 3};
        ExtractionOptions options;
        options.origin = TransferOrigin::All;
        verifyPromptCancel("extraction", cancelMidway([&](Progress &progress, const std::function<void()> &underWay) {
            extractKnowledge(
                teacherConfig, [&](const std::string &name) { return params[name].detach(); },
                [&](const std::string &name) { return scores.at(name); }, studentConfig, selection, options, progress,
                [&](const ExtractedMatrix &) { underWay(); });
        }));
    }

    void loraTraining()
    {
        const auto c = config(256, 688, 4, 8, 4);
        auto student = randomModel(c, 6);
        LoraSettings settings;
        for (const auto &target : targetMatrices(c, modulesOf(TransferOrigin::FeedForward))) {
            const auto shape = targetShape(c, target.module);   // [out, in]
            attachLora(student, target.parameterName, settings, torch::randn({settings.rank, shape[1]}) * 0.01,
                       torch::zeros({shape[0], settings.rank}));
        }
        std::vector<TrainingDocument> documents;
        for (const auto &s : samples(512, 128))
            documents.push_back({s.inputIds, s.labels});
        LoraTrainingOptions options;
        options.epochs = 4;
        options.batchSize = 8;
        options.microBatchSize = 2;   // cancel is polled per micro-batch: about 0.2 s each here
        verifyPromptCancel("LoRA training", cancelMidway([&](Progress &progress, const std::function<void()> &underWay) {
            trainLora(student, documents, {}, options, progress, [&](const TrainingStep &) { underWay(); });
        }));
    }

    void taskEvaluation()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto folder = test::sharedPath(QStringLiteral("models/stories260K")).toStdString();
        auto loaded = loadModelFolder(folder);
        const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
        std::vector<ChatExample> examples;
        for (int i = 0; i < 400; ++i) {
            ChatExample example;
            example.id = std::to_string(i);
            example.messages = {{"user", "Once upon a time there was a little girl number " + std::to_string(i)},
                                {"assistant", "She liked to play."}};
            examples.push_back(example);
        }
        EvalOptions options;
        options.maxNewTokens = 64;
        verifyPromptCancel("task evaluation", cancelMidway([&](Progress &progress, const std::function<void()> &) {
            evaluateGenerated(loaded.model, *tokenizer, examples, EvalMetric::ExactMatch, options, &progress);
        }));
    }
};

QTEST_GUILESS_MAIN(TestCancelStages)
#include "test_cancel_stages.moc"
