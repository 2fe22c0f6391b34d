#include "plot/PlotExport.h"

#include "plot/QCustomPlotInclude.h"

#include "Error.h"
#include "io/AtomicFile.h"

#include <QFileInfo>
#include <QSvgGenerator>

namespace nugget {

namespace {

bool fail(QString *error, const QString &path, const QString &problem)
{
    if (error)
        *error = path + QStringLiteral(": ") + problem;
    return false;
}

bool writeSvg(QCustomPlot *plot, const QString &path, int width, int height)
{
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(QSize(width, height));
    generator.setViewBox(QRect(0, 0, width, height));
    generator.setTitle(plot->windowTitle());
    // Point sizes as on screen, so the SVG matches the PNG.
    generator.setResolution(plot->logicalDpiX());
    QCPPainter painter;
    if (!painter.begin(&generator))
        return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, width, height);
    return painter.end();
}

} // namespace

bool exportPlot(QCustomPlot *plot, const QString &path, int width, int height, QString *error)
{
    const QFileInfo target(path);
    const QString suffix = target.suffix().toLower();
    if (suffix != QLatin1String("png") && suffix != QLatin1String("svg") && suffix != QLatin1String("pdf"))
        return fail(error, path, QStringLiteral("unsupported format \"%1\" (use .png, .svg or .pdf)").arg(target.suffix()));
    if (!plot || width <= 0 || height <= 0)
        return fail(error, path, QStringLiteral("nothing to draw at %1 x %2").arg(width).arg(height));
    if (target.isDir())
        return fail(error, path, QStringLiteral("is a directory"));
    const QFileInfo directory(target.absolutePath());
    if (!directory.isDir())
        return fail(error, path, QStringLiteral("directory %1 does not exist").arg(directory.filePath()));

    // Drawn beside the target and renamed over it only once complete, so a failed export
    // never leaves a partial file and never touches an existing one.
    try {
        writeFileByName(path.toStdString(), [&](const std::string &staging) {
            const QString file = QString::fromStdString(staging);
            bool written = false;
            if (suffix == QLatin1String("png"))
                written = plot->savePng(file, width, height);
            else if (suffix == QLatin1String("pdf"))
                written = plot->savePdf(file, width, height);
            else
                written = writeSvg(plot, file, width, height);
            if (!written || QFileInfo(file).size() == 0)
                throw Error(path.toStdString() + ": cannot write the " + suffix.toUpper().toStdString() + " file");
        });
    } catch (const Error &e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    return true;
}

} // namespace nugget
