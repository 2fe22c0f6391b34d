#pragma once
// Where the built-in demo pair lives: beside the sources in a build tree, under the
// data folder once installed, or NUGGET_DEMO_DIR.

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QString>

namespace nugget {

struct TransferRecipe;

inline QString demoFolder()
{
    const QStringList candidates{
        qEnvironmentVariable("NUGGET_DEMO_DIR"),
        QStringLiteral(NUGGET_SOURCE_DEMO_DIR),
        QCoreApplication::applicationDirPath() + QStringLiteral("/../share/nugget/demo"),
    };
    for (const auto &candidate : candidates)
        if (!candidate.isEmpty() && QFileInfo::exists(candidate + QStringLiteral("/teacher/config.json")))
            return QDir(candidate).absolutePath();
    return {};
}

// The demo's transfer recipe (experiment-bioqa.json's "transfer" part) with its paths
// resolved against the demo folder. Throws Error when the file is unreadable.
TransferRecipe demoRecipe(const QString &demoDir);

} // namespace nugget
