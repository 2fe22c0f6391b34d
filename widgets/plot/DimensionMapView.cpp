#include "plot/DimensionMapView.h"

#include "plot/MatrixGrid.h"
#include "plot/PlotExport.h"

#include <QLabel>
#include <QToolTip>
#include <QVBoxLayout>

#include <cmath>

namespace nugget {

namespace {

// A step graph that is `height` over every run and 0 elsewhere, filled to 0: one graph
// draws any number of kept bands, however scattered the indices are.
void setBands(QCPGraph *graph, const std::vector<int64_t> &indices, double extent, double height)
{
    QVector<double> keys, values;
    keys << 0;
    values << 0;
    for (const auto &[first, end] : plot::contiguousRuns(indices)) {
        keys << double(first) << double(end);
        values << height << 0;
    }
    keys << extent;
    values << 0;
    graph->setData(keys, values, true);
}

QString runText(int64_t first, int64_t count)
{
    return QStringLiteral("%1-%2").arg(first).arg(first + count - 1);
}

// ", keeps 96 of 192 columns (0-95)" or ", keeps 512 of 4096 rows (512 runs)".
QString keptText(const std::vector<int64_t> &indices, int64_t total, const QString &what)
{
    if (indices.empty())
        return QString();
    const auto runs = plot::contiguousRuns(indices);
    int64_t kept = 0;
    for (const auto &[first, end] : runs)
        kept += end - first;
    const QString where = runs.size() == 1 ? runText(runs[0].first, kept)
                                           : DimensionMapView::tr("%1 runs").arg(runs.size());
    return DimensionMapView::tr(", keeps %1 of %2 %3 (%4)").arg(kept).arg(total).arg(what, where);
}

} // namespace

struct DimensionMapView::Items
{
    QCPColorMap *map = nullptr;
    QCPColorScale *scale = nullptr;
    QCPTextElement *title = nullptr;
    QCPItemRect *window = nullptr;
    QCPGraph *keptRows = nullptr;     // key axis vertical: rows
    QCPGraph *keptColumns = nullptr;
    QLabel *caption = nullptr;
    int64_t shownRows = -1, shownColumns = -1;   // the full shape the axes were fitted to
};

DimensionMapView::DimensionMapView(QWidget *parent) : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_items = new Items;
    auto *it = m_items;
    m_plot->setInteractions(QCP::iRangeZoom | QCP::iRangeDrag);
    m_plot->axisRect()->setupFullAxesBox(true);
    m_plot->yAxis->setRangeReversed(true);
    m_plot->yAxis2->setRangeReversed(true);
    m_plot->xAxis->setLabel(tr("column (input dimension)"));
    m_plot->yAxis->setLabel(tr("row (output dimension)"));
    m_plot->xAxis->grid()->setVisible(false);
    m_plot->yAxis->grid()->setVisible(false);

    it->title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, it->title);

    it->map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    it->map->setInterpolate(false);
    it->scale = new QCPColorScale(m_plot);
    it->scale->setType(QCPAxis::atRight);
    it->scale->axis()->setLabel(tr("score"));
    m_plot->plotLayout()->addElement(1, 1, it->scale);
    it->map->setColorScale(it->scale);
    it->map->setGradient(plot::scoreGradient());
    auto *margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    it->scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);

    const QColor kept(255, 255, 255, 70);
    it->keptColumns = m_plot->addGraph(m_plot->xAxis, m_plot->yAxis);
    it->keptRows = m_plot->addGraph(m_plot->yAxis, m_plot->xAxis);
    for (auto *graph : {it->keptColumns, it->keptRows}) {
        graph->setLineStyle(QCPGraph::lsStepLeft);
        graph->setPen(Qt::NoPen);
        graph->setBrush(kept);
        graph->setSelectable(QCP::stNone);
        graph->setAdaptiveSampling(false);
    }
    it->window = new QCPItemRect(m_plot);
    it->window->setPen(QPen(QColor(220, 20, 60), 2));
    it->window->setBrush(QColor(255, 255, 255, 40));
    it->window->setSelectable(false);

    it->caption = new QLabel(this);
    it->caption->setWordWrap(true);
    it->caption->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addWidget(it->caption);

    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent *event) {
        const QPoint pos = event->position().toPoint();
        const QString text = toolTipAt(pos);
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(m_plot->mapToGlobal(pos), text, m_plot);
    });
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] {
        m_items->shownRows = m_items->shownColumns = -1;
        redraw();
    });
    redraw();
}

DimensionMapView::~DimensionMapView()
{
    delete m_items;
}

void DimensionMapView::setScoreMap(const ScoreMapImage &image)
{
    m_image = image;
    redraw();
}

void DimensionMapView::setKept(const KeptRegion &kept)
{
    m_kept = kept;
    redraw();
}

void DimensionMapView::clear()
{
    m_image = ScoreMapImage();
    m_kept = KeptRegion();
    redraw();
}

QString DimensionMapView::toolTipAt(const QPoint &plotPos) const
{
    if (!m_items->map->visible() || !m_plot->axisRect()->rect().contains(plotPos))
        return QString();
    const double column = m_plot->xAxis->pixelToCoord(plotPos.x());
    const double row = m_plot->yAxis->pixelToCoord(plotPos.y());
    if (column < 0 || row < 0 || column >= double(m_image.fullColumns) || row >= double(m_image.fullRows))
        return QString();
    const int imageRow = std::min(m_image.imageRows - 1, int(row * m_image.imageRows / double(m_image.fullRows)));
    const int imageColumn =
        std::min(m_image.imageColumns - 1, int(column * m_image.imageColumns / double(m_image.fullColumns)));
    const float score = m_image.values[size_t(imageRow) * size_t(m_image.imageColumns) + size_t(imageColumn)];
    return tr("row %1, column %2\nscore %3").arg(int64_t(row)).arg(int64_t(column)).arg(QString::asprintf("%.4g", double(score)));
}

QString DimensionMapView::caption() const
{
    if (m_image.fullRows <= 0 || m_image.fullColumns <= 0)
        return tr("no score map");
    QString text = tr("teacher %1 x %2").arg(m_image.fullRows).arg(m_image.fullColumns);
    if (m_kept.targetRows > 0 || m_kept.targetColumns > 0)
        text += tr(" -> student %1 x %2").arg(m_kept.targetRows).arg(m_kept.targetColumns);
    if (m_kept.isWindow) {
        text += tr(", window rows %1, columns %2")
                    .arg(runText(m_kept.rowStart, m_kept.rowCount), runText(m_kept.columnStart, m_kept.columnCount));
    } else {
        text += keptText(m_kept.rows, m_image.fullRows, tr("rows"));
        text += keptText(m_kept.columns, m_image.fullColumns, tr("columns"));
    }
    if (m_image.imageRows > 0 && (m_image.imageRows != m_image.fullRows || m_image.imageColumns != m_image.fullColumns))
        text += tr("; map shown at %1 x %2").arg(m_image.imageRows).arg(m_image.imageColumns);
    return text;
}

bool DimensionMapView::exportTo(const QString &path, QString *error, int width, int height) const
{
    return exportPlot(m_plot, path, width, height, error);
}

void DimensionMapView::redraw()
{
    auto *it = m_items;
    it->title->setText(m_image.title);
    const double fullRows = double(std::max<int64_t>(m_image.fullRows, 1));
    const double fullColumns = double(std::max<int64_t>(m_image.fullColumns, 1));
    const bool hasImage = m_image.imageRows > 0 && m_image.imageColumns > 0 &&
                          m_image.values.size() >= size_t(m_image.imageRows) * size_t(m_image.imageColumns);
    it->map->setVisible(hasImage);
    if (hasImage) {
        // Each image cell covers its share of the full matrix.
        const auto keys = plot::cellAxis(m_image.imageColumns, 0, fullColumns);
        const auto values = plot::cellAxis(m_image.imageRows, 0, fullRows);
        auto *data = it->map->data();
        data->setSize(keys.size, values.size);
        data->setRange(keys.centres, values.centres);
        for (int k = 0; k < keys.size; ++k)
            for (int v = 0; v < values.size; ++v) {
                const size_t row = size_t(values.source(v, m_image.imageRows));
                const size_t column = size_t(keys.source(k, m_image.imageColumns));
                data->setCell(k, v, double(m_image.values[row * size_t(m_image.imageColumns) + column]));
            }
        it->map->rescaleDataRange(true);
    }

    it->window->setVisible(m_kept.isWindow);
    if (m_kept.isWindow) {
        it->window->topLeft->setCoords(double(m_kept.columnStart), double(m_kept.rowStart));
        it->window->bottomRight->setCoords(double(m_kept.columnStart + m_kept.columnCount),
                                           double(m_kept.rowStart + m_kept.rowCount));
    }
    setBands(it->keptColumns, m_kept.isWindow ? std::vector<int64_t>() : m_kept.columns, fullColumns, fullRows);
    setBands(it->keptRows, m_kept.isWindow ? std::vector<int64_t>() : m_kept.rows, fullRows, fullColumns);

    // A new matrix refits the axes; a new kept set keeps the user's zoom.
    if (m_image.fullRows != it->shownRows || m_image.fullColumns != it->shownColumns) {
        m_plot->xAxis->setRange(0, fullColumns);
        m_plot->yAxis->setRange(0, fullRows);
        it->shownRows = m_image.fullRows;
        it->shownColumns = m_image.fullColumns;
    }
    it->caption->setText(caption());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace nugget
