// Files and folders written as a unit (io/AtomicFile.h, io/AtomicFolder.h): the target is
// untouched until the write completes; a failure or a cancel leaves the previous
// contents and no temporary sibling, and a cancel comes back as Cancelled, not Error.

#include "Error.h"
#include "TestSupport.h"
#include "io/AtomicFile.h"
#include "io/AtomicFolder.h"

#include <QDir>
#include <QFile>
#include <QIODevice>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <set>
#include <type_traits>

using nugget::Cancelled;
using nugget::Error;
using nugget::test::readAll;
using nugget::test::writeBytes;

static_assert(!std::is_base_of_v<Error, Cancelled>, "a cancel must not be caught as an Error");

namespace {

// Everything in `dir` but `keep`: temporary siblings a write left behind.
QStringList leftovers(const QString &dir, const QStringList &keep)
{
    QStringList names = QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
    for (const QString &name : keep)
        names.removeAll(name);
    return names;
}

enum class Outcome { Returned, ThrewCancelled, ThrewError, ThrewOther };

Outcome outcomeOf(const std::function<void()> &fn, QString *message = nullptr)
{
    try {
        fn();
        return Outcome::Returned;
    } catch (const Error &e) {   // first: a Cancelled caught here would be a failure
        if (message)
            *message = QString::fromUtf8(e.what());
        return Outcome::ThrewError;
    } catch (const Cancelled &) {
        return Outcome::ThrewCancelled;
    } catch (...) {
        return Outcome::ThrewOther;
    }
}

} // namespace

class TestAtomicFiles : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void streamedFileCommitsWholeOrNothing()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("log.json"));
        QVERIFY(writeBytes(path, "old"));

        // A writer that has written half, then is cancelled: the old file stays.
        QCOMPARE(outcomeOf([&] {
                     nugget::writeFileAtomically(path.toStdString(), [](QIODevice &out) {
                         out.write("new, half");
                         throw Cancelled();
                     });
                 }),
                 Outcome::ThrewCancelled);
        QCOMPARE(readAll(path), QByteArray("old"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("log.json")}), QStringList());

        // The same with an error: it reaches the caller unchanged.
        QString message;
        QCOMPARE(outcomeOf(
                     [&] {
                         nugget::writeFileAtomically(path.toStdString(), [](QIODevice &out) {
                             out.write("new, half");
                             throw Error("the writer's own message");
                         });
                     },
                     &message),
                 Outcome::ThrewError);
        QCOMPARE(message, QStringLiteral("the writer's own message"));
        QCOMPARE(readAll(path), QByteArray("old"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("log.json")}), QStringList());

        // A completed write replaces the file and keeps its permissions.
        QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner));
        nugget::writeFileAtomically(path.toStdString(), QByteArray("new"));
        QCOMPARE(readAll(path), QByteArray("new"));
        const auto others = QFile::ReadGroup | QFile::WriteGroup | QFile::ReadOther | QFile::WriteOther;
        QVERIFY(QFile::permissions(path).testFlags(QFile::ReadOwner | QFile::WriteOwner));
        QVERIFY(!(QFile::permissions(path) & others));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("log.json")}), QStringList());
    }

    void streamedFileReportsAnUnwritableFolder()
    {
        const std::string path = "/nonexistent-folder-of-nugget/log.json";
        QString message;
        QCOMPARE(outcomeOf([&] { nugget::writeFileAtomically(path, QByteArray("x")); }, &message),
                 Outcome::ThrewError);
        QVERIFY2(message.startsWith(QString::fromStdString(path) + QStringLiteral(": cannot write")), qPrintable(message));
    }

    void stagedFileLeavesTheTargetUntilCommit()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("plot.pdf"));
        QVERIFY(writeBytes(path, "old"));
        {
            nugget::StagedFile staged(path.toStdString());
            const QString staging = QString::fromStdString(staged.stagingPath());
            QVERIFY(staging.startsWith(path + QStringLiteral(".tmp-")));
            QVERIFY(writeBytes(staging, "new"));
            QCOMPARE(readAll(path), QByteArray("old"));   // not yet
            staged.commit();
            QCOMPARE(readAll(path), QByteArray("new"));
            QVERIFY(!QFile::exists(staging));
        }
        {
            nugget::StagedFile abandoned(path.toStdString());
            QVERIFY(writeBytes(QString::fromStdString(abandoned.stagingPath()), "abandoned"));
        }   // destroyed uncommitted
        QCOMPARE(readAll(path), QByteArray("new"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("plot.pdf")}), QStringList());

        // A writer by name that is cancelled half-way.
        QCOMPARE(outcomeOf([&] {
                     nugget::writeFileByName(path.toStdString(), [](const std::string &staging) {
                         writeBytes(QString::fromStdString(staging), "half");
                         throw Cancelled();
                     });
                 }),
                 Outcome::ThrewCancelled);
        QCOMPARE(readAll(path), QByteArray("new"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("plot.pdf")}), QStringList());

        nugget::writeFileByName(path.toStdString(),
                                [](const std::string &staging) { writeBytes(QString::fromStdString(staging), "third"); });
        QCOMPARE(readAll(path), QByteArray("third"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("plot.pdf")}), QStringList());
    }

    void cancelInsideAFolderWriteIsACancelNotAFailure()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString folder = dir.filePath(QStringLiteral("adapter"));
        QVERIFY(QDir().mkpath(folder));
        QVERIFY(writeBytes(folder + QStringLiteral("/adapter_config.json"), "previous"));
        const std::set<std::string> own = {"adapter_config.json"};

        QCOMPARE(outcomeOf([&] {
                     nugget::writeFolderAtomically(folder.toStdString(), own, [](const std::string &staging) {
                         writeBytes(QString::fromStdString(staging) + QStringLiteral("/adapter_config.json"), "half");
                         throw Cancelled();
                     });
                 }),
                 Outcome::ThrewCancelled);
        QCOMPARE(readAll(folder + QStringLiteral("/adapter_config.json")), QByteArray("previous"));
        QCOMPARE(QDir(folder).entryList(QDir::Files), QStringList{QStringLiteral("adapter_config.json")});
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("adapter")}), QStringList());

        // An error, by contrast, is a failure of the write and says which folder.
        QString message;
        QCOMPARE(outcomeOf(
                     [&] {
                         nugget::writeFolderAtomically(folder.toStdString(), own, [](const std::string &) {
                             throw Error("disk full");
                         });
                     },
                     &message),
                 Outcome::ThrewError);
        QCOMPARE(message, folder + QStringLiteral(": cannot write the folder: disk full"));
        QCOMPARE(readAll(folder + QStringLiteral("/adapter_config.json")), QByteArray("previous"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("adapter")}), QStringList());

        nugget::writeFolderAtomically(folder.toStdString(), own, [](const std::string &staging) {
            nugget::writeFileAtomically(staging + "/adapter_config.json", QByteArray("next"));
        });
        QCOMPARE(readAll(folder + QStringLiteral("/adapter_config.json")), QByteArray("next"));
        QCOMPARE(leftovers(dir.path(), {QStringLiteral("adapter")}), QStringList());
    }
};

QTEST_GUILESS_MAIN(TestAtomicFiles)
#include "test_atomic_files.moc"
