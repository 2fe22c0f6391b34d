// Data-parallel sensitivity on libtorch's c10d: two local processes over loopback
// (nugget-cli sensitivity --launch 2) give the scores of one process.

#include "TestSupport.h"

#include "dist/DataParallel.h"
#include "io/Session.h"
#include "transfer/TransferRecipe.h"

#include <QTemporaryDir>

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
