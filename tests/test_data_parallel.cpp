// Data-parallel sensitivity on libtorch's c10d: two local processes over loopback
// (nugget-cli sensitivity --launch 2) give the scores of one process.

#include "TestSupport.h"

#include "dist/DataParallel.h"
#include "io/Session.h"
#include "model/LoraAdapters.h"
#include "train/LoraTrainer.h"
#include "transfer/Injection.h"
#include "transfer/TransferRecipe.h"

#include <QTemporaryDir>


#include <thread>

#include <torch/torch.h>

using namespace nugget;

class TestDataParallel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void twoProcessesEqualOne_data()
    {
        QTest::addColumn<QString>("metric");
        QTest::newRow("taylor") << QStringLiteral("taylor");
        QTest::newRow("magnitude (nothing to sum)") << QStringLiteral("magnitude");
    }

    void twoProcessesEqualOne()
    {
        QFETCH(QString, metric);
        if (!dataParallelAvailable())
            QSKIP("this build has no c10d/Gloo");
        QTemporaryDir dir;
        // Five seed samples: rank 0 takes three, rank 1 two.
        const auto lines = test::readAll(test::sourceDir() + QStringLiteral("/resources/demo/tasks/transfer_seeds.jsonl")).split('\n');
        QVERIFY(lines.size() >= 5);
        const QString seeds = dir.filePath(QStringLiteral("seeds.jsonl"));
        QVERIFY(test::writeBytes(seeds, lines.mid(0, 5).join('\n') + '\n'));
        const QString teacher = test::sourceDir() + QStringLiteral("/resources/demo/teacher");
        const QStringList common{QStringLiteral("sensitivity"), QStringLiteral("--model"), teacher,
                                 QStringLiteral("--seeds"), seeds, QStringLiteral("--max-length"), QStringLiteral("64"),
                                 QStringLiteral("--streamed"), QStringLiteral("--score-dtype"), QStringLiteral("float32"),
                                 QStringLiteral("--device"), QStringLiteral("cpu"), QStringLiteral("--metric"), metric};
        const QString one = dir.filePath(QStringLiteral("one.h5")), two = dir.filePath(QStringLiteral("two.h5"));
        const auto single = test::runCli(common + QStringList{QStringLiteral("--out"), one});
        QVERIFY2(single.exitCode == 0, single.err.constData());
        const auto parallel = test::runCli(common + QStringList{QStringLiteral("--out"), two, QStringLiteral("--launch"), QStringLiteral("2")});
        QVERIFY2(parallel.exitCode == 0, parallel.err.constData());
        const bool magnitude = metric == QStringLiteral("magnitude");
        QVERIFY2(parallel.out.contains(magnitude ? "over 0 samples (streamed, 2 processes)"
                                                 : "over 5 samples (streamed, 2 processes)"),
                 parallel.out.constData());

        const auto a = loadSensitivity(Session::openReadOnly(one.toStdString()), "teacher");
        const auto b = loadSensitivity(Session::openReadOnly(two.toStdString()), "teacher");
        QCOMPARE(b.samples, magnitude ? int64_t(0) : int64_t(5));
        QCOMPARE(a.scores.size(), b.scores.size());
        for (const auto &[name, scores] : a.scores) {
            const double scale = scores.abs().max().item<double>();
            QVERIFY2((b.at(name) - scores).abs().max().item<double>() <= 1e-5 * scale, name.c_str());
        }
    }

    void loraTrainingAveragesGradientsOverTheGroup()
    {
        if (!dataParallelAvailable())
            QSKIP("this build has no c10d/Gloo");
        ModelConfig config;
        config.hiddenSize = 32;
        config.intermediateSize = 64;
        config.numHiddenLayers = 2;
        config.numAttentionHeads = 4;
        config.numKeyValueHeads = 2;
        config.headDim = 8;
        config.vocabSize = 48;
        config.maxPositionEmbeddings = 64;
        std::vector<TrainingDocument> train;
        torch::manual_seed(4);
        for (int i = 0; i < 12; ++i) {
            const auto ids = torch::randint(3, 48, {10 + i % 3}, torch::kLong);
            TrainingDocument d;
            d.ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
            d.labels = d.ids;
            train.push_back(d);
        }
        auto student = [&] {
            LlamaForCausalLM m(config);
            initialiseWeights(m, 0.2, 5);
            injectPlainLora(m, modulesOf(TransferOrigin::All), {4, 8, 0.0}, 3);
            return m;
        };
        LoraTrainingOptions options;
        options.epochs = 2;
        options.batchSize = 6;
        options.microBatchSize = 1;   // six micro-batches per step: three per rank
        options.learningRate = 1e-2;
        Progress progress;
        auto single = student();
        const auto expected = trainLora(single, train, {}, options, progress);

        // Two ranks in two threads of this process, over loopback.
        const auto master = "127.0.0.1:" + std::to_string(freeLoopbackPort());
        std::vector<LlamaForCausalLM> models{student(), student()};
        std::vector<LoraTrainingResult> results(2);
        std::vector<std::string> errors(2);
        std::vector<std::thread> ranks;
        for (int rank = 0; rank < 2; ++rank)
            ranks.emplace_back([&, rank] {
                try {
                    DataParallelOptions dp;
                    dp.worldSize = 2;
                    dp.rank = rank;
                    dp.master = master;
                    DataParallelGroup group(dp);
                    auto mine = options;
                    mine.rank = rank;
                    mine.worldSize = 2;
                    mine.allReduce = [&](at::Tensor &t) { group.allReduceSum(t); };
                    Progress own;
                    results[static_cast<size_t>(rank)] = trainLora(models[static_cast<size_t>(rank)], train, {}, mine, own);
                } catch (const std::exception &e) {
                    errors[static_cast<size_t>(rank)] = e.what();
                }
            });
        for (auto &t : ranks)
            t.join();
        QVERIFY2(errors[0].empty() && errors[1].empty(), (errors[0] + " " + errors[1]).c_str());
        QCOMPARE(results[0].steps.size(), expected.steps.size());
        for (size_t i = 0; i < expected.steps.size(); ++i)
            QVERIFY(std::abs(results[0].steps[i].loss - expected.steps[i].loss) < 1e-5);
        const auto reference = loraParameters(single);
        for (int rank = 0; rank < 2; ++rank) {
            const auto trained = loraParameters(models[static_cast<size_t>(rank)]);
            QCOMPARE(trained.size(), reference.size());
            for (size_t p = 0; p < trained.size(); ++p)
                QVERIFY((trained[p] - reference[p]).abs().max().item<double>() < 1e-5);
        }
    }

    void badMasterAddressIsNamed()
    {
        const auto message = test::errorOf([] {
            DataParallelOptions options;
            options.worldSize = 2;
            options.master = "127.0.0.1:notaport";
            DataParallelGroup group(options);
        });
        QVERIFY2(message.contains(QStringLiteral("ADDR:PORT")), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(TestDataParallel)
#include "test_data_parallel.moc"
