#pragma once
// What every test uses: paths to test material (fixed at configure time), running
// nugget-cli as a user does, reading and writing files, catching nugget errors.

#include "TestPaths.h"

#include "ModelFixtures.h"

#include <QByteArray>
#include <QFileInfo>
#include <QString>
#include <QStringList>
#include <QTest>

#include <functional>

namespace nugget::test {

// Runs `fn` and returns the message of the nugget::Error it throws; empty when it
// throws nothing (the empty string never matches an expected fragment).
QString errorOf(const std::function<void()> &fn);

// The file's bytes, empty when it cannot be read.
QByteArray readAll(const QString &path);
// Writes `bytes` to `path`; false when the file cannot be written completely.
bool writeBytes(const QString &path, const QByteArray &bytes);

// nugget-cli as a user runs it: exit code (-1 on time-out, -2 on a crash) and output.
struct CliRun
{
    int exitCode = -1;
    QByteArray out, err;
};
// `environment`: NAME=VALUE entries added to this process's environment for the run.
CliRun runCli(const QStringList &arguments, const QString &workingDirectory = {}, int timeoutMs = 300000,
              const QStringList &environment = {});

inline QString sharedDir() { return QStringLiteral(NUGGET_SHARED_DIR); }
inline QString sourceDir() { return QStringLiteral(NUGGET_SOURCE_DIR); }
inline QString sharedPath(const QString &relative) { return sharedDir() + u'/' + relative; }

} // namespace nugget::test

// Skips (never fails obscurely) when ../shared is not present beside the checkout.
#define NUGGET_REQUIRE_SHARED(relative)                                                  \
    do {                                                                                 \
        if (!QFileInfo::exists(nugget::test::sharedPath(QStringLiteral(relative))))      \
            QSKIP(qPrintable(QStringLiteral("shared material missing: ") +               \
                             nugget::test::sharedPath(QStringLiteral(relative))));       \
    } while (false)
