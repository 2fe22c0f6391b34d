// End-to-end: nugget-cli as a user runs it, on the real stories260K model.

#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>

using nugget::test::runCli;
using nugget::test::readAll;

namespace {

QString stories() { return nugget::test::sharedPath(QStringLiteral("models/stories260K")); }

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void greedyTextMatchesLlama2c()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/reference/ref_greedy_noprompt.txt");
        const auto run = runCli({QStringLiteral("generate"), stories(), QStringLiteral("--max-new-tokens"),
                                 QStringLiteral("256"), QStringLiteral("--temperature"), QStringLiteral("0")});
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(run.out, readAll(stories() + QStringLiteral("/reference/ref_greedy_noprompt.txt")));
    }

    void greedyIdsMatchLlama2c()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/reference/ref_greedy_noprompt.ids");
        const auto run = runCli({QStringLiteral("generate"), stories(), QStringLiteral("--max-new-tokens"),
                                 QStringLiteral("256"), QStringLiteral("--temperature"), QStringLiteral("0"),
                                 QStringLiteral("--ids")});
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(run.out.simplified(),
                 readAll(stories() + QStringLiteral("/reference/ref_greedy_noprompt.ids")).simplified());
    }

    void promptIsPrintedBeforeContinuation()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto run = runCli({QStringLiteral("generate"), stories(), QStringLiteral("--prompt"),
                                 QStringLiteral("Lily saw a cat"), QStringLiteral("--max-new-tokens"),
                                 QStringLiteral("20"), QStringLiteral("--temperature"), QStringLiteral("0")});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.startsWith("Lily saw a cat"), run.out.constData());
        QVERIFY(run.out.size() > QByteArray("Lily saw a cat\n").size());
    }

    void sampledOutputIsReproducibleForASeed()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const QStringList args{QStringLiteral("generate"), stories(), QStringLiteral("--max-new-tokens"),
                               QStringLiteral("40"), QStringLiteral("--temperature"), QStringLiteral("0.9"),
                               QStringLiteral("--top-p"), QStringLiteral("0.9"), QStringLiteral("--seed"),
                               QStringLiteral("7"), QStringLiteral("--ids")};
        const auto a = runCli(args), b = runCli(args);
        QCOMPARE(a.exitCode, 0);
        QCOMPARE(a.out, b.out);
        QCOMPARE(a.out.simplified().split(' ').size(), 41);
    }

    void infoDescribesTheModel()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/model.safetensors");
        const auto run = runCli({QStringLiteral("info"), stories()});
        QCOMPARE(run.exitCode, 0);
        QVERIFY(run.out.contains("LlamaForCausalLM"));
        QVERIFY(run.out.contains("model.layers.4.mlp.down_proj.weight"));
        QVERIFY(run.out.contains("[64, 172]"));
        QVERIFY(run.out.contains("key/value heads 4"));
    }

    void badInputGivesOneLineErrorAndNonZeroExit_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown command") << QStringList{QStringLiteral("frobnicate")} << QStringLiteral("unknown command");
        QTest::newRow("missing folder") << QStringList{QStringLiteral("info"), QStringLiteral("/nonexistent/model")}
                                        << QStringLiteral("/nonexistent/model");
        QTest::newRow("missing argument") << QStringList{QStringLiteral("generate")} << QStringLiteral("MODEL_DIR");
        QTest::newRow("bad number") << QStringList{QStringLiteral("generate"), stories(), QStringLiteral("--temperature"),
                                                   QStringLiteral("warm")}
                                    << QStringLiteral("--temperature");
        QTest::newRow("bad device") << QStringList{QStringLiteral("generate"), stories(), QStringLiteral("--device"),
                                                   QStringLiteral("tpu")}
                                    << QStringLiteral("tpu");
        QTest::newRow("bad side") << QStringList{QStringLiteral("sensitivity"), QStringLiteral("--model"), stories(),
                                                 QStringLiteral("--metric"), QStringLiteral("magnitude"),
                                                 QStringLiteral("--side"), QStringLiteral("teachr"),
                                                 QStringLiteral("--out"), QDir::tempPath() + QStringLiteral("/never.h5")}
                                  << QStringLiteral("--side expects teacher or student, not \"teachr\"");
    }

    void badInputGivesOneLineErrorAndNonZeroExit()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const auto run = runCli(arguments);
        QVERIFY(run.exitCode > 0);
        QVERIFY2(QString::fromUtf8(run.err).contains(expected), run.err.constData());
    }

    void folderWithoutConfigIsRejected()
    {
        QTemporaryDir dir;
        const auto run = runCli({QStringLiteral("generate"), dir.path()});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("config.json"), run.err.constData());
        QCOMPARE(run.err.count('\n'), 1);
    }

    // The command list of `nugget-cli --help` is the one a user sees; every command on it
    // answers --help with exit 0 and a usage line that names the command.
    void everyCommandHasHelp_data()
    {
        QTest::addColumn<QString>("command");
        const QStringList expected{QStringLiteral("bench"),      QStringLiteral("eval"),        QStringLiteral("experiment"),
                                   QStringLiteral("extract"),    QStringLiteral("generate"),    QStringLiteral("info"),
                                   QStringLiteral("logits"),     QStringLiteral("pretrain"),   QStringLiteral("sensitivity"), QStringLiteral("train"),
                                   QStringLiteral("transfer"),   QStringLiteral("zoo")};
        const auto usage = runCli({QStringLiteral("--help")});
        QStringList listed;
        bool inList = false;
        for (const auto &line : QString::fromUtf8(usage.out).split(u'\n')) {
            if (line.startsWith(QStringLiteral("Commands:")))
                inList = true;
            else if (inList && line.startsWith(QStringLiteral("  ")))
                listed << line.trimmed().section(u' ', 0, 0);
        }
        listed.sort();
        QCOMPARE(listed, expected);
        for (const auto &command : listed)
            QTest::newRow(qPrintable(command)) << command;
    }

    void everyCommandHasHelp()
    {
        QFETCH(QString, command);
        const auto run = runCli({command, QStringLiteral("--help")});
        QCOMPARE(run.exitCode, 0);
        const auto usage = QString::fromUtf8(run.out).section(u'\n', 0, 0);
        QVERIFY2(usage.startsWith(QStringLiteral("Usage: nugget-cli %1 ").arg(command)), qPrintable(usage));
        QVERIFY2(!usage.contains(u'/'), qPrintable(usage));   // no path to the executable
    }

    // The UI benchmark needs the window, which nugget-cli does not link: it says which
    // program runs it instead.
    void benchUiNamesItsOwnProgram()
    {
        const auto run = runCli({QStringLiteral("bench"), QStringLiteral("ui")});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("nugget-bench-ui"), run.err.constData());
        QVERIFY(QFileInfo(QFileInfo(QStringLiteral(NUGGET_CLI_PATH)).dir().filePath(QStringLiteral("nugget-bench-ui")))
                    .isExecutable());
    }

    // nugget-cli runs itself again with OpenMP's passive wait policy unless the user set
    // one (the bench reports the policy it ran under).
    void runsWithPassiveOpenMpWaitUnlessSet_data()
    {
        QTest::addColumn<QString>("setting");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("unset") << QStringLiteral("OMP_WAIT_POLICY=") << QByteArray("OpenMP wait policy passive");
        QTest::newRow("user's choice") << QStringLiteral("OMP_WAIT_POLICY=active") << QByteArray("OpenMP wait policy active");
    }

    void runsWithPassiveOpenMpWaitUnlessSet()
    {
        QFETCH(QString, setting);
        QFETCH(QByteArray, expected);
        const QString demo = nugget::test::sourceDir() + QStringLiteral("/resources/demo/");
        const auto run = runCli({QStringLiteral("bench"), QStringLiteral("candidates"), QStringLiteral("--model"),
                                 demo + QStringLiteral("teacher"), QStringLiteral("--data"),
                                 demo + QStringLiteral("tasks/transfer_eval.jsonl"), QStringLiteral("--items"),
                                 QStringLiteral("1"), QStringLiteral("--baseline-items"), QStringLiteral("1")},
                                {}, 300000, {setting});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QVERIFY2(run.out.contains(expected), run.out.constData());
        QVERIFY2(run.out.contains("speed-up:"), run.out.constData());
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"

