#include "plot/MatrixGrid.h"

#include <algorithm>
#include <cmath>

namespace nugget::plot {

const QList<QColor> &palette()
{
    static const QList<QColor> colours = {QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),
                                          QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                                          QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                          QColor(23, 190, 207)};
    return colours;
}

QCPColorGradient scoreGradient()
{
    // Stops sampled from viridis (QCustomPlot 2.1 has no such preset).
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(68, 1, 84));
    gradient.setColorStopAt(0.25, QColor(59, 82, 139));
    gradient.setColorStopAt(0.5, QColor(33, 145, 140));
    gradient.setColorStopAt(0.75, QColor(94, 201, 98));
    gradient.setColorStopAt(1.0, QColor(253, 231, 37));
    gradient.setNanHandling(QCPColorGradient::nhNanColor);
    gradient.setNanColor(QColor(225, 225, 225));
    return gradient;
}

CellAxis cellAxis(int cells, double lower, double upper)
{
    CellAxis axis;
    axis.size = std::max(cells, 2);
    const double half = (upper - lower) / (2.0 * axis.size);
    axis.centres = QCPRange(lower + half, upper - half);
    return axis;
}

std::vector<std::pair<int64_t, int64_t>> contiguousRuns(std::vector<int64_t> indices)
{
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    std::vector<std::pair<int64_t, int64_t>> runs;
    for (const int64_t i : indices) {
        if (!runs.empty() && runs.back().second == i)
            runs.back().second = i + 1;
        else
            runs.emplace_back(i, i + 1);
    }
    return runs;
}

MatrixGrid::MatrixGrid(QCustomPlot *plot_) : plot(plot_)
{
    plot->setMouseTracking(true);
    plot->setInteractions(QCP::iRangeZoom);
    plot->axisRect()->setupFullAxesBox(false);
    plot->xAxis->grid()->setVisible(false);
    plot->yAxis->grid()->setVisible(false);
    plot->yAxis->setRangeReversed(true);
    plot->yAxis2->setRangeReversed(true);
    plot->xAxis->setTickLabelRotation(-40);
    m_rowTicker.reset(new QCPAxisTickerText);
    m_columnTicker.reset(new QCPAxisTickerText);
    plot->xAxis->setTicker(m_columnTicker);
    plot->yAxis->setTicker(m_rowTicker);

    title = new QCPTextElement(plot, QString(), QFont(plot->font().family(), 11, QFont::Bold));
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, title);

    map = new QCPColorMap(plot->xAxis, plot->yAxis);
    map->setInterpolate(false);
    map->setTightBoundary(false);
    scale = new QCPColorScale(plot);
    plot->plotLayout()->addElement(1, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->setRangeDrag(false);
    scale->setRangeZoom(false);
    map->setColorScale(scale);
    map->setGradient(scoreGradient());

    // Keeps the colour scale as tall as the axis rect.
    auto *margins = new QCPMarginGroup(plot);
    plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    map->setVisible(false);
}

void MatrixGrid::applyLabels(QCPAxisTickerText &ticker, const QStringList &labels)
{
    // Every label up to 40, then every n-th one so they do not overlap.
    const int stride = std::max(1, int((labels.size() + 39) / 40));
    ticker.clear();
    for (int i = 0; i < labels.size(); i += stride)
        ticker.addTick(i, labels[i]);
}

bool MatrixGrid::setShape(const QStringList &rowLabels, const QStringList &columnLabels)
{
    const bool reshaped = rowLabels.size() != rows || columnLabels.size() != columns;
    if (rowLabels != m_rowLabels) {
        applyLabels(*m_rowTicker, rowLabels);
        m_rowLabels = rowLabels;
    }
    if (columnLabels != m_columnLabels) {
        applyLabels(*m_columnTicker, columnLabels);
        m_columnLabels = columnLabels;
    }
    if (!reshaped)
        return false;
    rows = int(rowLabels.size());
    columns = int(columnLabels.size());
    keys = cellAxis(columns, -0.5, columns - 0.5);
    values = cellAxis(rows, -0.5, rows - 0.5);
    map->data()->setSize(keys.size, values.size);
    map->data()->setRange(keys.centres, values.centres);
    map->data()->fill(std::nan(""));
    map->setVisible(rows > 0 && columns > 0);
    resetView();
    return true;
}

void MatrixGrid::setTitle(const QString &text)
{
    if (title->text() != text)
        title->setText(text);
}

void MatrixGrid::connectClicks(QObject *context, std::function<void(int)> onRow)
{
    QObject::connect(plot, &QCustomPlot::mousePress, context, [this, onRow](QMouseEvent *event) {
        if (event->button() != Qt::LeftButton)
            return;
        const int row = rowAt(event->position().toPoint());
        if (row >= 0)
            onRow(row);
    });
    QObject::connect(plot, &QCustomPlot::mouseDoubleClick, context, [this] {
        resetView();
        plot->replot(QCustomPlot::rpQueuedReplot);
    });
}

void MatrixGrid::resetView()
{
    plot->xAxis->setRange(-0.5, std::max(columns, 1) - 0.5);
    plot->yAxis->setRange(-0.5, std::max(rows, 1) - 0.5);
}

int MatrixGrid::rowAt(const QPoint &pos) const
{
    if (!plot->axisRect()->rect().contains(pos) || rows == 0)
        return -1;
    const int row = int(std::floor(plot->yAxis->pixelToCoord(pos.y()) + 0.5));
    return row >= 0 && row < rows ? row : -1;
}

int MatrixGrid::columnAt(const QPoint &pos) const
{
    if (!plot->axisRect()->rect().contains(pos) || columns == 0)
        return -1;
    const int column = int(std::floor(plot->xAxis->pixelToCoord(pos.x()) + 0.5));
    return column >= 0 && column < columns ? column : -1;
}

QPoint MatrixGrid::cellCentre(int row, int column) const
{
    return QPoint(int(std::lround(plot->xAxis->coordToPixel(column))),
                  int(std::lround(plot->yAxis->coordToPixel(row))));
}

QCPItemRect *MatrixGrid::outline(int row0, int column0, int row1, int column1, const QPen &pen)
{
    auto *rect = new QCPItemRect(plot);
    rect->topLeft->setCoords(column0 - 0.5, row0 - 0.5);
    rect->bottomRight->setCoords(column1 + 0.5, row1 + 0.5);
    rect->setPen(pen);
    rect->setBrush(Qt::NoBrush);
    rect->setSelectable(false);
    return rect;
}

} // namespace nugget::plot
