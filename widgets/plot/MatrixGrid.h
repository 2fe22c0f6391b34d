#pragma once
// Internal to the plot views (never included by a public header): a labelled grid of
// cells drawn as a QCPColorMap with a colour scale, shared by the heatmap and the
// alignment view. Cell (row, column) is centred on x = column, y = row; row 0 at the top.

#include "plot/QCustomPlotInclude.h"

#include <QColor>
#include <QList>
#include <QPoint>
#include <QStringList>

#include <functional>

namespace nugget::plot {

// The tab10 colours, shared by every chart so a series keeps its colour across views.
const QList<QColor> &palette();

// The map's gradient (dark blue to yellow, perceptually ordered); NaN cells light grey.
QCPColorGradient scoreGradient();

// QCPColorMapData places cell centres on a range, and a single cell has no width; so
// `cells` cells covering [lower, upper] become at least two data cells.
struct CellAxis
{
    int size = 2;      // data cells
    QCPRange centres;  // range of the first and last data cell's centre
    int source(int dataIndex, int cells) const { return cells == 1 ? 0 : dataIndex; }
};
CellAxis cellAxis(int cells, double lower, double upper);

// Merges sorted, de-duplicated indices into half-open runs [first, second).
std::vector<std::pair<int64_t, int64_t>> contiguousRuns(std::vector<int64_t> indices);

class MatrixGrid
{
public:
    explicit MatrixGrid(QCustomPlot *plot);

    // Applies the shape and labels; true when the shape changed (the view is reset).
    bool setShape(const QStringList &rowLabels, const QStringList &columnLabels);
    // Fills every cell from value(row, column); no replot.
    template <typename ValueOf>
    void fill(ValueOf value)
    {
        QCPColorMapData *data = map->data();
        for (int k = 0; k < keys.size; ++k)
            for (int v = 0; v < values.size; ++v)
                data->setCell(k, v, value(values.source(v, rows), keys.source(k, columns)));
    }
    void setTitle(const QString &text);
    void resetView();
    // Left press on a cell calls onRow(row); double-click resets the view. `context`
    // owns the connections.
    void connectClicks(QObject *context, std::function<void(int row)> onRow);

    int rowAt(const QPoint &pos) const;
    int columnAt(const QPoint &pos) const;
    QPoint cellCentre(int row, int column) const;
    // Rectangle item outlining cells [row0, row1] x [column0, column1].
    QCPItemRect *outline(int row0, int column0, int row1, int column1, const QPen &pen);

    QCustomPlot *plot;
    QCPColorMap *map;
    QCPColorScale *scale;
    QCPTextElement *title;
    int rows = 0, columns = 0;

private:
    void applyLabels(QCPAxisTickerText &ticker, const QStringList &labels);

    QSharedPointer<QCPAxisTickerText> m_rowTicker, m_columnTicker;
    QStringList m_rowLabels, m_columnLabels;
    CellAxis keys, values;
};

} // namespace nugget::plot
