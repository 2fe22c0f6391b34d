#pragma once
// Sensitivity heatmap: rows are teacher (or student) layers plus the embedding and head
// rows, columns the modules (q k v o gate up down). A colour scale with its legend,
// hover tooltips with the exact value, a log-scale toggle and global or per-column
// (per-module) normalisation. Selected rows are outlined; a click on a row emits
// rowClicked. QCustomPlot stays inside the .cpp.

#include "plot/MatrixData.h"

#include <QSet>
#include <QWidget>

class QCustomPlot;
class QCheckBox;
class QComboBox;

namespace nugget {

class HeatmapView : public QWidget
{
    Q_OBJECT

public:
    enum class Normalisation { Global, PerColumn };

    explicit HeatmapView(QWidget *parent = nullptr);
    ~HeatmapView() override;

    // Replaces the numbers (a live job calls this repeatedly); keeps selection, scale
    // settings and zoom. Counts calls in updateCount() for tests and the probe.
    void setData(const MatrixData &data);
    const MatrixData &data() const { return m_data; }
    int updateCount() const { return m_updates; }

    void setSelectedRows(const QSet<int> &rows);
    QSet<int> selectedRows() const { return m_selected; }

    void setLogScale(bool on);          // also reflected in the view's own check box
    bool logScale() const;
    void setNormalisation(Normalisation n);
    Normalisation normalisation() const;

    // The colour value shown for a cell: the raw value divided by the global or its
    // column's maximum (so 0..1), then log10 when log scale is on (cells <= 0 are NaN).
    double displayedValue(int row, int column) const;
    // Tooltip text for a cell: row and column label and the exact raw value (%.6g) and
    // its share of the row/column/global total.
    QString toolTipText(int row, int column) const;
    // Row under a widget-local position of the plot (-1 when outside); used by clicks.
    int rowAt(const QPoint &plotPos) const;
    // Centre of a cell in the coordinates of plotWidget(); lets tests click a row.
    QPoint cellCentre(int row, int column) const;
    QWidget *plotWidget() const;

    // PNG, SVG or PDF by suffix, written atomically; false with `error` set on failure.
    bool exportTo(const QString &path, QString *error = nullptr, int width = 900, int height = 600) const;

Q_SIGNALS:
    void rowClicked(int row);
    void cellHovered(int row, int column);

private:
    void redraw();

    MatrixData m_data;
    QSet<int> m_selected;
    int m_updates = 0;
    QCustomPlot *m_plot = nullptr;
    QCheckBox *m_log = nullptr;
    QComboBox *m_norm = nullptr;
    struct Items;
    Items *m_items = nullptr;
};

} // namespace nugget
