#include "plot/SeriesChart.h"

#include "plot/MatrixGrid.h"
#include "plot/PlotExport.h"

#include <QHash>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

namespace nugget {

namespace {

// Running bounds of the points on one axis, so an append never rescans the data.
struct Bounds
{
    double lower = std::numeric_limits<double>::infinity();
    double upper = -std::numeric_limits<double>::infinity();
    void add(double v)
    {
        if (std::isfinite(v)) {
            lower = std::min(lower, v);
            upper = std::max(upper, v);
        }
    }
    bool valid() const { return lower <= upper; }
    QCPRange padded(double fraction) const
    {
        if (!valid())
            return QCPRange(0, 1);
        const double span = upper - lower;
        const double pad = span > 0 ? span * fraction : std::max(std::abs(upper) * 0.1, 1e-9);
        return QCPRange(lower - pad, upper + pad);
    }
};

} // namespace

struct SeriesChart::Items
{
    QHash<QString, QCPGraph *> series;
    QStringList order;   // creation order fixes each series' colour
    QCPTextElement *title = nullptr;
    Bounds x, y, y2;

    void recompute()
    {
        x = y = y2 = Bounds();
        for (auto *graph : std::as_const(series)) {
            Bounds &values = graph->valueAxis() == graph->parentPlot()->yAxis2 ? y2 : y;
            for (auto point = graph->data()->constBegin(); point != graph->data()->constEnd(); ++point) {
                x.add(point->key);
                values.add(point->value);
            }
        }
    }
};

SeriesChart::SeriesChart(const QString &xLabel, const QString &yLabel, QWidget *parent) : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_items = new Items;
    m_plot->xAxis->setLabel(xLabel);
    m_plot->yAxis->setLabel(yLabel);
    m_plot->yAxis2->setTickLabels(true);
    m_plot->legend->setVisible(false);
    m_plot->legend->setBrush(QColor(255, 255, 255, 200));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_items->title = new QCPTextElement(m_plot, QString(), QFont(font().family(), 11, QFont::Bold));
    m_items->title->setVisible(false);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
}

SeriesChart::~SeriesChart()
{
    delete m_items;
}

void SeriesChart::append(const QString &series, double x, double y, bool secondaryAxis)
{
    QCPGraph *graph = m_items->series.value(series);
    if (!graph) {
        QCPAxis *valueAxis = secondaryAxis ? m_plot->yAxis2 : m_plot->yAxis;
        if (secondaryAxis)
            m_plot->yAxis2->setVisible(true);
        graph = m_plot->addGraph(m_plot->xAxis, valueAxis);
        graph->setName(series);
        int colour = int(m_items->order.indexOf(series));
        if (colour < 0) {
            colour = int(m_items->order.size());
            m_items->order << series;
        }
        QPen pen(plot::palette()[colour % plot::palette().size()], 1.5);
        if (secondaryAxis)
            pen.setStyle(Qt::DashLine);
        graph->setPen(pen);
        m_items->series.insert(series, graph);
        m_plot->legend->setVisible(true);
    }
    graph->addData(x, y);
    m_items->x.add(x);
    (graph->valueAxis() == m_plot->yAxis2 ? m_items->y2 : m_items->y).add(y);
    m_plot->xAxis->setRange(m_items->x.padded(0.02));
    m_plot->yAxis->setRange(m_items->y.padded(0.05));
    if (m_items->y2.valid())
        m_plot->yAxis2->setRange(m_items->y2.padded(0.05));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void SeriesChart::setSecondaryAxisLabel(const QString &label)
{
    m_plot->yAxis2->setLabel(label);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void SeriesChart::clearSeries(const QString &series)
{
    QCPGraph *graph = m_items->series.take(series);
    if (!graph)
        return;
    m_plot->removeGraph(graph);
    m_items->recompute();
    m_plot->legend->setVisible(!m_items->series.isEmpty());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void SeriesChart::clearAll()
{
    m_plot->clearGraphs();
    m_items->series.clear();
    m_items->recompute();
    m_plot->legend->setVisible(false);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int SeriesChart::seriesCount() const
{
    return int(m_items->series.size());
}

int SeriesChart::pointCount(const QString &series) const
{
    const QCPGraph *graph = m_items->series.value(series);
    return graph ? graph->dataCount() : 0;
}

void SeriesChart::setTitle(const QString &title)
{
    auto *element = m_items->title;
    const bool shown = m_plot->plotLayout()->hasElement(0, 0) && m_plot->plotLayout()->element(0, 0) == element;
    if (title.isEmpty() && shown) {
        m_plot->plotLayout()->take(element);
        m_plot->plotLayout()->simplify();
        element->setVisible(false);
    } else if (!title.isEmpty() && !shown) {
        m_plot->plotLayout()->insertRow(0);
        m_plot->plotLayout()->addElement(0, 0, element);
        element->setVisible(true);
    }
    element->setText(title);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool SeriesChart::exportTo(const QString &path, QString *error, int width, int height) const
{
    return exportPlot(m_plot, path, width, height, error);
}

} // namespace nugget
