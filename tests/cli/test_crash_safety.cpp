// kill -9 at random moments while nugget-cli exports an adapter and writes a session:
// afterwards the previous files are always there and readable (or the complete new
// ones, when the kill came after the switch), never a mix or a half-written file.

#include "TestSupport.h"

#include "io/PeftAdapter.h"
#include "io/Session.h"

#include <QDirIterator>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>

#include <csignal>
#include <thread>

#include <signal.h>

using nugget::test::readAll;
using nugget::test::sourceDir;

namespace {

QString demo(const QString &relative) { return sourceDir() + QStringLiteral("/resources/demo/") + relative; }

std::map<QString, QByteArray> folderBytes(const QString &dir)
{
    std::map<QString, QByteArray> files;
    QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        files[QDir(dir).relativeFilePath(path)] = readAll(path);
    }
    return files;
}

// The adapter folder is whole: config and weights of one write (same rank
// everywhere), with a delta of that rank too. Returns the rank.
int64_t checkAdapter(const QString &dir)
{
    const auto config = QJsonDocument::fromJson(readAll(dir + QStringLiteral("/adapter_config.json"))).object();
    const int64_t rank = config.value(QStringLiteral("r")).toInteger(-1);
    const auto adapter = nugget::readPeftAdapter(dir.toStdString());
    const auto delta = nugget::readPeftAdapter((dir + QStringLiteral("/delta")).toStdString());
    if (adapter.factors.empty() || delta.factors.size() != adapter.factors.size())
        throw nugget::Error(dir.toStdString() + ": adapter and delta do not match");
    for (const auto *a : {&adapter, &delta})
        for (const auto &[name, f] : a->factors)
            if (f.a.size(0) != rank || f.b.size(1) != rank || a->settings.rank != rank)
                throw nugget::Error(dir.toStdString() + ": '" + name + "' is not of rank " + std::to_string(rank) +
                                    " like adapter_config.json");
    return rank;
}

void checkSession(const QString &path)
{
    auto session = nugget::Session::openReadOnly(path.toStdString());
    const auto names = session.sensitivityParameters(nugget::Side::Teacher);
    if (names.empty())
        throw nugget::Error(path.toStdString() + ": no teacher sensitivity");
    for (const auto &name : names)
        session.readSensitivity(nugget::Side::Teacher, name);
    if (session.hasSelection())
        session.readSelection();
}

bool hasTemporary(const QString &dir, const QString &pattern)
{
    return !QDir(dir).entryList({pattern}, QDir::AllEntries | QDir::Hidden).isEmpty();
}

void removeStale(const QString &dir)
{
    for (const QString &name : QDir(dir).entryList({QStringLiteral("*.tmp-*"), QStringLiteral("*.old-*")},
                                                   QDir::AllEntries | QDir::Hidden)) {
        const QString path = dir + u'/' + name;
        if (QFileInfo(path).isDir())
            QDir(path).removeRecursively();
        else
            QFile::remove(path);
    }
}

} // namespace

class TestCrashSafety : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString path(const QString &relative) const { return m_dir.path() + u'/' + relative; }

    QStringList extractArguments(int rank) const
    {
        return {QStringLiteral("extract"), QStringLiteral("--teacher"), demo(QStringLiteral("teacher")),
                QStringLiteral("--student"), demo(QStringLiteral("student")), QStringLiteral("--session"),
                path(QStringLiteral("s.h5")), QStringLiteral("--rank"), QString::number(rank),
                QStringLiteral("--adapter-form"), QStringLiteral("delta"),   // a folder of two adapters
                QStringLiteral("--out"), path(QStringLiteral("adapter"))};
    }
    QStringList sensitivityArguments() const
    {
        return {QStringLiteral("sensitivity"), QStringLiteral("--model"), demo(QStringLiteral("teacher")),
                QStringLiteral("--metric"), QStringLiteral("magnitude"), QStringLiteral("--out"), path(QStringLiteral("s.h5"))};
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto run = nugget::test::runCli(sensitivityArguments());
        QVERIFY2(run.exitCode == 0, run.err.constData());
        run = nugget::test::runCli(extractArguments(4));
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QCOMPARE(checkAdapter(path(QStringLiteral("adapter"))), int64_t(4));
    }

    void killDuringExportAndSessionWrites()
    {
        // Three ways to pick the moment: as soon as the adapter's staging folder
        // appears (plus 0-2 ms), uniformly over an extract run, and while a session
        // update's temporary file exists (plus 0-60 ms).
        // The quicker of two uncut runs (the first one also warms the file cache).
        qint64 extractMs = std::numeric_limits<qint64>::max();
        for (const int rank : {5, 6}) {
            QElapsedTimer clock;
            clock.start();
            const auto full = nugget::test::runCli(extractArguments(rank));
            QVERIFY2(full.exitCode == 0, full.err.constData());
            extractMs = std::min(extractMs, clock.elapsed());
        }

        constexpr int kTrials = 24;
        QRandomGenerator rng(20261122);
        int killed = 0, killedWhileWriting = 0, sessionReplaced = 0, adapterReplaced = 0;
        for (int trial = 0; trial < kTrials; ++trial) {
            removeStale(m_dir.path());
            const int mode = trial % 3;
            const int rank = 2 + trial % 7;
            const QByteArray sessionBefore = readAll(path(QStringLiteral("s.h5")));
            const auto adapterBefore = folderBytes(path(QStringLiteral("adapter")));

            QProcess process;
            process.start(QStringLiteral(NUGGET_CLI_PATH), mode == 2 ? sensitivityArguments() : extractArguments(rank));
            QVERIFY(process.waitForStarted());
            QElapsedTimer since;
            since.start();
            const qint64 uniformMs = rng.bounded(static_cast<int>(extractMs * 9 / 10) + 1);
            qint64 deadline = -1;   // ms on `since` at which to kill, once known
            bool writing = false;
            while (process.state() != QProcess::NotRunning) {
                if (deadline < 0) {
                    if (mode == 0 && hasTemporary(m_dir.path(), QStringLiteral("adapter.tmp-*")))
                        deadline = since.elapsed() + rng.bounded(3);
                    else if (mode == 1)
                        deadline = uniformMs;
                    else if (mode == 2 && hasTemporary(m_dir.path(), QStringLiteral("s.h5.tmp-*")))
                        deadline = since.elapsed() + rng.bounded(60);
                }
                if (deadline >= 0 && since.elapsed() >= deadline) {
                    writing = hasTemporary(m_dir.path(), QStringLiteral("*.tmp-*"));
                    ::kill(static_cast<pid_t>(process.processId()), SIGKILL);
                    break;
                }
                process.waitForFinished(0);
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            if (process.state() != QProcess::NotRunning)
                QVERIFY(process.waitForFinished(60000));
            const bool wasKilled = process.exitStatus() == QProcess::CrashExit;
            if (!wasKilled)
                QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
            qInfo("trial %d (%s): %s%s after %lld ms", trial, mode == 0 ? "extract, at export" : mode == 1 ? "extract, uniform" : "session update",
                  wasKilled ? "killed" : "finished", wasKilled && writing ? " while writing" : "", since.elapsed());
            killed += wasKilled;
            killedWhileWriting += wasKilled && writing;
            // An uncut trial is a timing too: on a busy machine the runs before the loop
            // can be far slower than the trials, and the uniform moments would miss.
            if (!wasKilled && mode != 2)
                extractMs = std::min(extractMs, since.elapsed());

            // Readable, whole, and either the previous bytes or a complete new version.
            const QString sessionProblem = nugget::test::errorOf([&] { checkSession(path(QStringLiteral("s.h5"))); });
            QVERIFY2(sessionProblem.isEmpty(), qPrintable(QStringLiteral("trial %1: %2").arg(trial).arg(sessionProblem)));
            const QString adapterProblem = nugget::test::errorOf([&] { checkAdapter(path(QStringLiteral("adapter"))); });
            QVERIFY2(adapterProblem.isEmpty(), qPrintable(QStringLiteral("trial %1: %2").arg(trial).arg(adapterProblem)));
            sessionReplaced += readAll(path(QStringLiteral("s.h5"))) != sessionBefore;
            adapterReplaced += folderBytes(path(QStringLiteral("adapter"))) != adapterBefore;
        }
        qInfo("%d trials (uncut extract: %lld ms): %d killed, %d of them while a temporary file or folder existed; "
              "session replaced %d times, adapter %d times, previous version kept otherwise",
              kTrials, extractMs, killed, killedWhileWriting, sessionReplaced, adapterReplaced);
        QVERIFY2(killed >= 20, "too few trials ended in a kill");
        QVERIFY2(killedWhileWriting >= 12, "too few kills landed while an output was being written");
    }
};

QTEST_GUILESS_MAIN(TestCrashSafety)
#include "test_crash_safety.moc"
