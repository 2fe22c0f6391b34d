#include "plot/HeatmapView.h"

#include "plot/MatrixGrid.h"
#include "plot/PlotExport.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nugget {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The divisor of each column: its own maximum, or the global maximum for every column.
std::vector<double> divisors(const MatrixData &data, HeatmapView::Normalisation normalisation)
{
    std::vector<double> maxima(size_t(data.columns()), -std::numeric_limits<double>::infinity());
    for (int r = 0; r < data.rows(); ++r)
        for (int c = 0; c < data.columns(); ++c) {
            const double v = data.at(r, c);
            if (std::isfinite(v))
                maxima[size_t(c)] = std::max(maxima[size_t(c)], v);
        }
    if (normalisation == HeatmapView::Normalisation::Global && !maxima.empty())
        std::fill(maxima.begin(), maxima.end(), *std::max_element(maxima.begin(), maxima.end()));
    return maxima;
}

double shown(double raw, double divisor, bool log)
{
    if (!std::isfinite(raw) || !(divisor > 0) || !std::isfinite(divisor))
        return kNaN;
    const double share = raw / divisor;
    if (!log)
        return share;
    return share > 0 ? std::log10(share) : kNaN;
}

QString percentOf(double value, double total)
{
    if (!(total != 0) || !std::isfinite(total))
        return QStringLiteral("n/a");
    return QString::asprintf("%.3g%%", 100.0 * value / total);
}

} // namespace

struct HeatmapView::Items
{
    explicit Items(QCustomPlot *plot) : grid(plot) {}
    plot::MatrixGrid grid;
    QList<QCPItemRect *> outlines;
    QSet<int> outlinedRows;
    int hoverRow = -1, hoverColumn = -1;
};

HeatmapView::HeatmapView(QWidget *parent) : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_items = new Items(m_plot);
    m_log = new QCheckBox(tr("Log scale"), this);
    m_norm = new QComboBox(this);
    m_norm->addItem(tr("global"));
    m_norm->addItem(tr("per module"));

    auto *toolbar = new QHBoxLayout;
    toolbar->addWidget(m_log);
    toolbar->addSpacing(12);
    toolbar->addWidget(new QLabel(tr("Normalise:"), this));
    toolbar->addWidget(m_norm);
    toolbar->addStretch(1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(toolbar);
    layout->addWidget(m_plot, 1);

    connect(m_log, &QCheckBox::toggled, this, [this] { redraw(); });
    connect(m_norm, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent *event) {
        const QPoint pos = event->position().toPoint();
        const int row = rowAt(pos);
        const int column = m_items->grid.columnAt(pos);
        if (row < 0 || column < 0) {
            m_items->hoverRow = m_items->hoverColumn = -1;
            QToolTip::hideText();
            return;
        }
        QToolTip::showText(m_plot->mapToGlobal(pos), toolTipText(row, column), m_plot);
        if (row != m_items->hoverRow || column != m_items->hoverColumn) {
            m_items->hoverRow = row;
            m_items->hoverColumn = column;
            Q_EMIT cellHovered(row, column);
        }
    });
    m_items->grid.connectClicks(this, [this](int row) { Q_EMIT rowClicked(row); });
    redraw();
}

HeatmapView::~HeatmapView()
{
    delete m_items;
}

void HeatmapView::setData(const MatrixData &data)
{
    m_data = data;
    ++m_updates;
    redraw();
}

void HeatmapView::setSelectedRows(const QSet<int> &rows)
{
    if (rows == m_selected)
        return;
    m_selected = rows;
    redraw();
}

void HeatmapView::setLogScale(bool on)
{
    if (on == logScale())
        return;
    const QSignalBlocker blocker(m_log);
    m_log->setChecked(on);
    redraw();
}

bool HeatmapView::logScale() const
{
    return m_log->isChecked();
}

void HeatmapView::setNormalisation(Normalisation n)
{
    if (n == normalisation())
        return;
    const QSignalBlocker blocker(m_norm);
    m_norm->setCurrentIndex(n == Normalisation::PerColumn ? 1 : 0);
    redraw();
}

HeatmapView::Normalisation HeatmapView::normalisation() const
{
    return m_norm->currentIndex() == 1 ? Normalisation::PerColumn : Normalisation::Global;
}

double HeatmapView::displayedValue(int row, int column) const
{
    if (row < 0 || row >= m_data.rows() || column < 0 || column >= m_data.columns())
        return kNaN;
    return shown(m_data.at(row, column), divisors(m_data, normalisation())[size_t(column)], logScale());
}

QString HeatmapView::toolTipText(int row, int column) const
{
    if (row < 0 || row >= m_data.rows() || column < 0 || column >= m_data.columns())
        return QString();
    const QString name = m_data.valueName.isEmpty() ? tr("value") : m_data.valueName;
    QString text = m_data.rowLabels[row] + QStringLiteral(" · ") + m_data.columnLabels[column] + u'\n';
    const double raw = m_data.at(row, column);
    if (!std::isfinite(raw))
        return text + name + QStringLiteral(": ") + tr("no value yet");
    double rowTotal = 0, columnTotal = 0, total = 0;
    for (int r = 0; r < m_data.rows(); ++r)
        for (int c = 0; c < m_data.columns(); ++c) {
            const double v = m_data.at(r, c);
            if (!std::isfinite(v))
                continue;
            total += v;
            rowTotal += r == row ? v : 0;
            columnTotal += c == column ? v : 0;
        }
    text += name + QStringLiteral(": ") + QString::asprintf("%.6g", raw) + u'\n';
    text += tr("share of row %1, of column %2, of total %3")
                .arg(percentOf(raw, rowTotal), percentOf(raw, columnTotal), percentOf(raw, total));
    return text;
}

int HeatmapView::rowAt(const QPoint &plotPos) const
{
    return m_items->grid.rowAt(plotPos);
}

QPoint HeatmapView::cellCentre(int row, int column) const
{
    return m_items->grid.cellCentre(row, column);
}

QWidget *HeatmapView::plotWidget() const
{
    return m_plot;
}

bool HeatmapView::exportTo(const QString &path, QString *error, int width, int height) const
{
    return exportPlot(m_plot, path, width, height, error);
}

void HeatmapView::redraw()
{
    auto &grid = m_items->grid;
    grid.setTitle(m_data.title);
    const bool reshaped = grid.setShape(m_data.rowLabels, m_data.columnLabels);

    const bool log = logScale();
    const auto divisor = divisors(m_data, normalisation());
    double lowest = std::numeric_limits<double>::infinity();
    grid.fill([&](int row, int column) {
        const double v = shown(m_data.at(row, column), divisor[size_t(column)], log);
        if (std::isfinite(v))
            lowest = std::min(lowest, v);
        return v;
    });
    // Shares run up to 1 (log10: 0); the lower end follows the data.
    QCPRange range = log ? QCPRange(std::isfinite(lowest) ? std::min(lowest, -0.1) : -3.0, 0.0)
                         : QCPRange(std::isfinite(lowest) ? std::min(lowest, 0.0) : 0.0, 1.0);
    grid.map->setDataRange(range);

    const QString name = m_data.valueName.isEmpty() ? tr("value") : m_data.valueName;
    const QString of = normalisation() == Normalisation::PerColumn ? tr("share of module max") : tr("share of max");
    grid.scale->axis()->setLabel(log ? tr("%1 (log10 of %2)").arg(name, of) : tr("%1 (%2)").arg(name, of));

    // The outlines are few and change only with the selection or the grid's shape.
    const bool outlinesStale = reshaped || m_items->outlinedRows != m_selected;
    if (outlinesStale) {
        for (auto *rect : m_items->outlines)
            m_plot->removeItem(rect);
        m_items->outlines.clear();
        m_items->outlinedRows = m_selected;
        for (const int row : m_selected)
            if (row >= 0 && row < grid.rows)
                m_items->outlines << grid.outline(row, 0, row, grid.columns - 1, QPen(QColor(220, 20, 60), 2.5));
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace nugget
