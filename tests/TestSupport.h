#pragma once
// Paths to test material, fixed at configure time.

#include "TestPaths.h"

#include <QDir>
#include <QString>
#include <QTest>

namespace nugget::test {

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
