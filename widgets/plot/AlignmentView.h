#pragma once
// Layer alignment: teacher layers (rows) x student layers (columns). The background is a
// similarity between the layers (linear CKA of their hidden states on the seed samples);
// the chosen mapping (teacher layer i -> student layer j) is drawn on top as outlined
// cells joined by a line. Clicking a row emits rowClicked(teacher layer).

#include "plot/MatrixData.h"

#include <QWidget>

#include <vector>

class QCustomPlot;

namespace nugget {

class AlignmentView : public QWidget
{
    Q_OBJECT

public:
    explicit AlignmentView(QWidget *parent = nullptr);
    ~AlignmentView() override;

    // Sets the grid size and labels; values may be all NaN before the similarity is known.
    void setSimilarity(const MatrixData &similarity);
    const MatrixData &similarity() const { return m_similarity; }
    // mapping[j] = teacher layer feeding student layer j (or -1 when not chosen yet).
    void setMapping(const std::vector<int> &mapping);
    const std::vector<int> &mapping() const { return m_mapping; }
    int updateCount() const { return m_updates; }

    QString toolTipText(int teacherLayer, int studentLayer) const;
    int rowAt(const QPoint &plotPos) const;
    QPoint cellCentre(int row, int column) const;
    QWidget *plotWidget() const;
    bool exportTo(const QString &path, QString *error = nullptr, int width = 700, int height = 700) const;

Q_SIGNALS:
    void rowClicked(int teacherLayer);

private:
    void redraw();

    MatrixData m_similarity;
    std::vector<int> m_mapping;
    int m_updates = 0;
    QCustomPlot *m_plot = nullptr;
    struct Items;
    Items *m_items = nullptr;
};

} // namespace nugget
