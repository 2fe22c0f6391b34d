// `nugget-cli info` as a user runs it on a sound and on broken model folders: a broken
// folder exits non-zero and every problem is named.

#include "ModelFolderFixtures.h"

#include <QTemporaryDir>

using namespace nugget;
using nugget::test::runCli;

class TestInfoCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void soundFolderExitsZero()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        const auto run = runCli({QStringLiteral("info"), dir.path()});
        QVERIFY2(run.exitCode == 0, run.out.constData());
        QVERIFY(!run.out.contains("problem"));
        QVERIFY(run.out.contains("model.layers.3.mlp.down_proj.weight"));
    }

    void brokenFolderExitsNonZeroNamingTheProblem_data()
    {
        QTest::addColumn<int>("index");
        const auto cases = test::brokenFolders();
        for (int i = 0; i < static_cast<int>(cases.size()); ++i)
            QTest::newRow(qPrintable(cases[static_cast<size_t>(i)].name)) << i;
    }

    void brokenFolderExitsNonZeroNamingTheProblem()
    {
        QFETCH(int, index);
        const auto broken = test::brokenFolders().at(static_cast<size_t>(index));
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        broken.breakIt(dir.path());
        const auto run = runCli({QStringLiteral("info"), dir.path()});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("problem"), run.err.constData());
        const QString out = QString::fromUtf8(run.out);
        for (const auto &word : broken.expected)
            QVERIFY2(out.contains(word), qPrintable(out));

        // --headers-only skips the values and nothing else.
        const auto headers = runCli({QStringLiteral("info"), QStringLiteral("--headers-only"), dir.path()});
        QCOMPARE(headers.exitCode, broken.headersShow ? 1 : 0);
    }

    void everyProblemIsListed()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        test::editWeights(dir.path(), [](auto &t) {
            t.erase("model.layers.0.self_attn.q_proj.weight");
            t["model.layers.2.mlp.gate_proj.weight"] = t["model.layers.2.mlp.gate_proj.weight"].t().contiguous();
        });
        test::writeBytes(dir.filePath(QStringLiteral("tokenizer.model")), "garbage");
        const auto run = runCli({QStringLiteral("info"), QStringLiteral("--no-tensors"), dir.path()});
        QCOMPARE(run.exitCode, 1);
        QCOMPARE(run.out.count("\nproblem "), 3);
        QVERIFY(run.out.contains("'model.layers.0.self_attn.q_proj.weight' is missing"));
        QVERIFY(run.out.contains("'model.layers.2.mlp.gate_proj.weight' has shape [128, 344]"));
        QVERIFY(run.out.contains("not a sentencepiece model"));
    }

    // Keys that change the model are refused, naming the key and config.json.
    void unsupportedConfigKeysAreNamed()
    {
        QTemporaryDir dir;
        QVERIFY(test::copyDemoStudent(dir.path()));
        test::editConfig(dir.path(), [](QJsonObject &c) {
            c[QStringLiteral("rope_scaling")] = QJsonObject{{QStringLiteral("rope_type"), QStringLiteral("yarn")},
                                                            {QStringLiteral("factor"), 4.0}};
            c[QStringLiteral("hidden_act")] = QStringLiteral("gelu");
        });
        const auto run = runCli({QStringLiteral("info"), dir.path()});
        QCOMPARE(run.exitCode, 1);
        const QString err = QString::fromUtf8(run.err);
        QVERIFY2(err.contains(dir.filePath(QStringLiteral("config.json")) + QStringLiteral(": key 'rope_scaling' has rope_type 'yarn'")),
                 qPrintable(err));
        QVERIFY2(err.contains(QStringLiteral("key 'hidden_act' is 'gelu'")), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestInfoCli)
#include "test_info_cli.moc"
