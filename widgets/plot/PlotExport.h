#pragma once
// Writes a QCustomPlot to PNG, SVG or PDF (chosen by the file's suffix), through a
// temporary file in the same directory that is renamed over the target only when
// complete (io/AtomicFile.h). Used by every view's exportTo().

#include <QString>

class QCustomPlot;

namespace nugget {

// Supported suffixes: png, svg, pdf (case-insensitive). Returns false with `error`
// naming the file and the problem (unsupported suffix, unwritable directory, ...).
bool exportPlot(QCustomPlot *plot, const QString &path, int width, int height, QString *error);

} // namespace nugget
