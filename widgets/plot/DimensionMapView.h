#pragma once
// Dimension alignment of one module: the teacher matrix's score map (already
// downsampled to a size the widget can show) with what the reduction keeps drawn over
// it, in the full matrix's coordinates: a window (submatrix), or kept rows and columns
// (rowcol, neuron, random). A caption states the teacher and student shapes.

#include <QPoint>
#include <QString>
#include <QWidget>

#include <cstdint>
#include <vector>

class QCustomPlot;

namespace nugget {

struct ScoreMapImage
{
    QString title;                 // e.g. "layer 3 · down_proj"
    int64_t fullRows = 0, fullColumns = 0;   // the teacher matrix's shape
    int imageRows = 0, imageColumns = 0;     // the downsampled map's shape
    std::vector<float> values;     // imageRows x imageColumns, row-major
};

struct KeptRegion
{
    // Either a window ...
    bool isWindow = false;
    int64_t rowStart = 0, rowCount = 0, columnStart = 0, columnCount = 0;
    // ... or sets of kept rows / columns (full-matrix indices).
    std::vector<int64_t> rows, columns;
    int64_t targetRows = 0, targetColumns = 0;   // the student's matrix shape
};

class DimensionMapView : public QWidget
{
    Q_OBJECT

public:
    explicit DimensionMapView(QWidget *parent = nullptr);
    ~DimensionMapView() override;

    void setScoreMap(const ScoreMapImage &image);
    void setKept(const KeptRegion &kept);
    void clear();
    const ScoreMapImage &scoreMap() const { return m_image; }
    const KeptRegion &kept() const { return m_kept; }
    QString caption() const;   // "teacher 768 x 192 -> student 512 x 128, window rows 12-523, ..."
    bool exportTo(const QString &path, QString *error = nullptr, int width = 800, int height = 600) const;

    // Tooltip for a position of the plot: the full-matrix row and column and the score
    // of the map cell covering it (empty outside the map).
    QString toolTipAt(const QPoint &plotPos) const;

private:
    void redraw();

    ScoreMapImage m_image;
    KeptRegion m_kept;
    QCustomPlot *m_plot = nullptr;
    struct Items;
    Items *m_items = nullptr;
};

} // namespace nugget
