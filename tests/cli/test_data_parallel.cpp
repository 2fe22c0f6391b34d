// Data parallelism on libtorch's c10d: two local processes over loopback give the
// sensitivity scores (nugget-cli sensitivity --launch 2) and the trained LoRA adapter
// (nugget-cli train --launch 2) of one process.

#include "TestSupport.h"

#include "dist/DataParallel.h"
#include "io/PeftAdapter.h"
#include "io/Session.h"
#include "model/LoraAdapters.h"
#include "train/LoraTrainer.h"
#include "transfer/Injection.h"
#include "transfer/TransferRecipe.h"

#include <QDir>
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

        const auto a = loadSensitivity(Session::openReadOnly(one.toStdString()), Side::Teacher);
        const auto b = loadSensitivity(Session::openReadOnly(two.toStdString()), Side::Teacher);
        QCOMPARE(b.samples, magnitude ? int64_t(0) : int64_t(5));
        QCOMPARE(a.scores.size(), b.scores.size());
        for (const auto &[name, scores] : a.scores) {
            const double scale = scores.abs().max().item<double>();
            QVERIFY2((b.at(name) - scores).abs().max().item<double>() <= 1e-5 * scale, name.c_str());
        }
    }

    void trainTwoProcessesEqualOne_data()
    {
        QTest::addColumn<QStringList>("group");   // how the two ranks are started
        QTest::newRow("--launch 2") << QStringList{QStringLiteral("--launch"), QStringLiteral("2")};
        QTest::newRow("two commands with --world-size, --process-rank, --master") << QStringList{};
        // What torchrun (and Slurm scripts written for it) give each process instead of flags.
        QTest::newRow("torchrun environment: WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT")
            << QStringList{QStringLiteral("torchrun")};
    }

    void trainTwoProcessesEqualOne()
    {
        QFETCH(QStringList, group);
        if (!dataParallelAvailable())
            QSKIP("this build has no c10d/Gloo");
        QTemporaryDir dir;
        // Twelve examples, batches of four in two micro-batches: one per rank and step. The
        // sum of two gradients does not depend on their order, so the group's step is the
        // single process's to the bit. (With two micro-batches per rank the float sums run
        // in another order, and Adam's normalisation magnifies that in near-zero
        // gradients: up to 5e-5 on entries of 0.1 after three steps, measured.)
        const auto lines = test::readAll(test::sourceDir() + QStringLiteral("/resources/demo/tasks/transfer_train.jsonl")).split('\n');
        QVERIFY(lines.size() >= 12);
        const QString train = dir.filePath(QStringLiteral("train.jsonl"));
        QVERIFY(test::writeBytes(train, lines.mid(0, 12).join('\n') + '\n'));
        // No dropout: with it the ranks would draw other masks than one process does.
        const QStringList common{QStringLiteral("train"), QStringLiteral("--student"),
                                 test::sourceDir() + QStringLiteral("/resources/demo/student"), QStringLiteral("--init"),
                                 QStringLiteral("lora"), QStringLiteral("--train"), train, QStringLiteral("--epochs"),
                                 QStringLiteral("1"), QStringLiteral("--batch-size"), QStringLiteral("4"),
                                 QStringLiteral("--micro-batch-size"), QStringLiteral("2"), QStringLiteral("--learning-rate"),
                                 QStringLiteral("1e-2"), QStringLiteral("--dropout"), QStringLiteral("0"),
                                 QStringLiteral("--max-length"), QStringLiteral("64"), QStringLiteral("--rank"),
                                 QStringLiteral("4"), QStringLiteral("--device"), QStringLiteral("cpu")};
        const QString one = dir.filePath(QStringLiteral("one")), two = dir.filePath(QStringLiteral("two"));
        const auto single = test::runCli(common + QStringList{QStringLiteral("--out"), one});
        QVERIFY2(single.exitCode == 0, single.err.constData());
        if (group == QStringList{QStringLiteral("torchrun")}) {
            const QString port = QString::number(freeLoopbackPort());
            const auto environment = [&](int rank) {
                return QStringList{QStringLiteral("WORLD_SIZE=2"), QStringLiteral("RANK=%1").arg(rank),
                                   QStringLiteral("LOCAL_RANK=%1").arg(rank), QStringLiteral("MASTER_ADDR=127.0.0.1"),
                                   QStringLiteral("MASTER_PORT=") + port};
            };
            const QStringList options{QStringLiteral("--out"), two};
            test::CliRun rank1;
            std::thread other([&] { rank1 = test::runCli(common + options, {}, 300000, environment(1)); });
            const auto rank0 = test::runCli(common + options, {}, 300000, environment(0));
            other.join();
            QVERIFY2(rank0.exitCode == 0, rank0.err.constData());
            QVERIFY2(rank1.exitCode == 0, rank1.err.constData());
            QVERIFY2(rank0.out.contains("trained 3 steps"), rank0.out.constData());
            QVERIFY2(!rank1.out.contains("trained"), rank1.out.constData());   // rank 1 writes nothing
        } else if (!group.isEmpty()) {
            const auto parallel = test::runCli(common + QStringList{QStringLiteral("--out"), two} + group);
            QVERIFY2(parallel.exitCode == 0, parallel.err.constData());
        } else {
            // What a user types on two machines, here both on loopback.
            const QString master = QStringLiteral("127.0.0.1:%1").arg(freeLoopbackPort());
            const QStringList options{QStringLiteral("--out"), two, QStringLiteral("--world-size"), QStringLiteral("2"),
                                      QStringLiteral("--master"), master};
            test::CliRun rank1;
            std::thread other([&] {
                rank1 = test::runCli(common + options + QStringList{QStringLiteral("--process-rank"), QStringLiteral("1")});
            });
            const auto rank0 = test::runCli(common + options + QStringList{QStringLiteral("--process-rank"), QStringLiteral("0")});
            other.join();
            QVERIFY2(rank0.exitCode == 0, rank0.err.constData());
            QVERIFY2(rank1.exitCode == 0, rank1.err.constData());
            QVERIFY2(rank0.out.contains("trained 3 steps"), rank0.out.constData());
            QVERIFY2(!rank1.out.contains("trained"), rank1.out.constData());   // rank 1 writes nothing
        }
        QVERIFY2(single.out.contains("trained 3 steps"), single.out.constData());

        const auto a = readPeftAdapter(one.toStdString()), b = readPeftAdapter(two.toStdString());
        QCOMPARE(b.factors.size(), a.factors.size());
        QVERIFY(!a.factors.empty());
        for (const auto &[name, factors] : a.factors) {
            QVERIFY2(b.factors.count(name), name.c_str());
            for (const auto &[x, y] : {std::pair{b.factors.at(name).a, factors.a}, std::pair{b.factors.at(name).b, factors.b}}) {
                QVERIFY2(x.sizes() == y.sizes(), name.c_str());
                QVERIFY2((x - y).abs().max().item<double>() <= 1e-5 * std::max(1.0, y.abs().max().item<double>()), name.c_str());
            }
        }
        // Training moved B away from its zero start, so equal adapters are not trivially equal.
        QVERIFY(a.factors.begin()->second.b.abs().max().item<double>() > 0);
    }

    void loraTrainingAveragesGradientsOverTheGroup()
    {
        if (!dataParallelAvailable())
            QSKIP("this build has no c10d/Gloo");
        const ModelConfig config = test::llamaConfig(32, 64, 2, 4, 2, 48, 64, 8);
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
            auto m = test::randomModel(config, 0.2, 5);
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
        // The group sums the same gradients in another order (float32), and Adam divides
        // each step by the gradient's own size, so a rounding difference in a gradient near
        // zero shows in its weight (measured: 1.5e-3 of the movement). Bound the difference
        // by a hundredth of how far training moved that matrix, not by an absolute number:
        // a rank's gradients left out or counted twice changes the direction of the steps
        // and so the weights by the order of the movement itself.
        const auto reference = loraParameters(single);
        auto untrained = student();
        const auto initial = loraParameters(untrained);
        for (int rank = 0; rank < 2; ++rank) {
            const auto trained = loraParameters(models[static_cast<size_t>(rank)]);
            QCOMPARE(trained.size(), reference.size());
            for (size_t p = 0; p < trained.size(); ++p) {
                const double moved = (reference[p] - initial[p]).abs().max().item<double>();
                const double difference = (trained[p] - reference[p]).abs().max().item<double>();
                QVERIFY2(moved > 1e-3 && difference < 1e-2 * moved,
                         qPrintable(QStringLiteral("rank %1, parameter %2: training moved it by %3, the group's "
                                                   "result differs by %4")
                                        .arg(rank).arg(p).arg(moved).arg(difference)));
            }
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

    // A half-set torchrun environment is named before any work, never guessed.
    void incompleteTorchrunEnvironmentIsNamed()
    {
        const QStringList train{QStringLiteral("train"), QStringLiteral("--student"),
                                test::sourceDir() + QStringLiteral("/resources/demo/student"), QStringLiteral("--init"),
                                QStringLiteral("lora"), QStringLiteral("--train"),
                                test::sourceDir() + QStringLiteral("/resources/demo/tasks/transfer_train.jsonl"),
                                QStringLiteral("--out"), QDir::tempPath() + QStringLiteral("/never-written")};
        auto run = test::runCli(train, {}, 300000, {QStringLiteral("WORLD_SIZE=2")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("RANK is not"), run.err.constData());
        run = test::runCli(train, {}, 300000, {QStringLiteral("WORLD_SIZE=two"), QStringLiteral("RANK=0")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("WORLD_SIZE is \"two\""), run.err.constData());
        run = test::runCli(train, {}, 300000,
                           {QStringLiteral("WORLD_SIZE=2"), QStringLiteral("RANK=0"), QStringLiteral("MASTER_ADDR=127.0.0.1")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("MASTER_PORT"), run.err.constData());
        QVERIFY(!QFileInfo::exists(QDir::tempPath() + QStringLiteral("/never-written")));
    }
};

QTEST_GUILESS_MAIN(TestDataParallel)
#include "test_data_parallel.moc"
