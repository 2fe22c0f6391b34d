#pragma once
// Paths to test material, fixed at configure time.

#include "TestPaths.h"

#include "Error.h"
#include "io/ModelConfig.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QTest>

#include <functional>

namespace nugget::test {

// Runs `fn` and returns the message of the nugget::Error it throws; empty when it
// throws nothing (the empty string never matches an expected fragment).
inline QString errorOf(const std::function<void()> &fn)
{
    try {
        fn();
    } catch (const nugget::Error &e) {
        return QString::fromStdString(e.what());
    }
    return QString();
}

inline QByteArray readAll(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

inline bool writeBytes(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

// nugget-cli as a user runs it: exit code (-1 on time-out, -2 on a crash) and output.
struct CliRun
{
    int exitCode = -1;
    QByteArray out, err;
};

inline CliRun runCli(const QStringList &arguments, const QString &workingDirectory = {}, int timeoutMs = 300000)
{
    QProcess process;
    if (!workingDirectory.isEmpty())
        process.setWorkingDirectory(workingDirectory);
    process.start(QStringLiteral(NUGGET_CLI_PATH), arguments);
    CliRun run;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

// A LLaMA config for random test models (head_dim = hidden / heads unless given).
inline nugget::ModelConfig llamaConfig(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                                       int64_t kvHeads, int64_t vocab, int64_t context, int64_t headDim = 0)
{
    nugget::ModelConfig c;
    c.hiddenSize = hidden;
    c.intermediateSize = intermediate;
    c.numHiddenLayers = layers;
    c.numAttentionHeads = heads;
    c.numKeyValueHeads = kvHeads;
    c.headDim = headDim > 0 ? headDim : hidden / heads;
    c.vocabSize = vocab;
    c.maxPositionEmbeddings = context;
    c.rmsNormEps = 1e-5;
    return c;
}

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
