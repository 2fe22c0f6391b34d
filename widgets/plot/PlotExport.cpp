#include "plot/PlotExport.h"

#include "plot/QCustomPlotInclude.h"

#include <QFileInfo>
#include <QSvgGenerator>
#include <QTemporaryFile>

#include <filesystem>
#include <system_error>

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

    // The plot is drawn beside the target and renamed over it only once complete, so a
    // failed export never leaves a partial file and never touches an existing one.
    QTemporaryFile temporary(target.absolutePath() + u'/' + u'.' + target.completeBaseName() +
                             QStringLiteral(".XXXXXX.") + suffix);
    if (!temporary.open())
        return fail(error, path, QStringLiteral("cannot write in %1 (%2)").arg(directory.filePath(), temporary.errorString()));
    temporary.close();
    const QString temporaryPath = temporary.fileName();

    bool written = false;
    if (suffix == QLatin1String("png"))
        written = plot->savePng(temporaryPath, width, height);
    else if (suffix == QLatin1String("pdf"))
        written = plot->savePdf(temporaryPath, width, height);
    else
        written = writeSvg(plot, temporaryPath, width, height);
    if (!written || QFileInfo(temporaryPath).size() == 0)
        return fail(error, path, QStringLiteral("cannot write the %1 file").arg(suffix.toUpper()));

    // QTemporaryFile creates owner-only files; an export is an ordinary document.
    const auto permissions = target.exists() ? QFile::permissions(path)
                                             : QFile::ReadOwner | QFile::WriteOwner | QFile::ReadUser |
                                                   QFile::WriteUser | QFile::ReadGroup | QFile::ReadOther;
    QFile::setPermissions(temporaryPath, permissions);
    std::error_code renamed;
    std::filesystem::rename(std::filesystem::path(QFile::encodeName(temporaryPath).toStdString()),
                            std::filesystem::path(QFile::encodeName(target.absoluteFilePath()).toStdString()), renamed);
    if (renamed)
        return fail(error, path, QStringLiteral("cannot replace the file (%1)").arg(QString::fromStdString(renamed.message())));
    temporary.setAutoRemove(false);
    return true;
}

} // namespace nugget
