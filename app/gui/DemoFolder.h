#pragma once
// Where the built-in demo pair lives: beside the sources in a build tree, under the
// data folder once installed, or NUGGET_DEMO_DIR.

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QString>

namespace nugget {

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

} // namespace nugget
