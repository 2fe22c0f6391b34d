#pragma once
// The only place qcustomplot.h is included. The project builds with QT_NO_KEYWORDS
// (Qt's `slots` breaks libtorch headers) but qcustomplot.h uses the plain keywords.

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
