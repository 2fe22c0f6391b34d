#include "plot/AlignmentView.h"

#include "plot/MatrixGrid.h"
#include "plot/PlotExport.h"

#include <QToolTip>
#include <QVBoxLayout>

#include <cmath>

namespace nugget {

struct AlignmentView::Items
{
    explicit Items(QCustomPlot *plot) : grid(plot) {}
    plot::MatrixGrid grid;
    QList<QCPItemRect *> cells;
    QCPGraph *path = nullptr;
};

AlignmentView::AlignmentView(QWidget *parent) : QWidget(parent)
{
    m_plot = new QCustomPlot(this);
    m_items = new Items(m_plot);
    auto &grid = m_items->grid;
    grid.map->setDataRange(QCPRange(0, 1));
    grid.plot->xAxis->setLabel(tr("student layer"));
    grid.plot->yAxis->setLabel(tr("teacher layer"));
    m_items->path = m_plot->addGraph(m_plot->xAxis, m_plot->yAxis);
    m_items->path->setPen(QPen(QColor(220, 20, 60), 2));
    m_items->path->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(220, 20, 60), Qt::white, 7));
    m_items->path->setSelectable(QCP::stNone);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);

    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent *event) {
        const QPoint pos = event->position().toPoint();
        const int row = rowAt(pos);
        const int column = m_items->grid.columnAt(pos);
        if (row < 0 || column < 0)
            QToolTip::hideText();
        else
            QToolTip::showText(m_plot->mapToGlobal(pos), toolTipText(row, column), m_plot);
    });
    m_items->grid.connectClicks(this, [this](int row) { Q_EMIT rowClicked(row); });
    redraw();
}

AlignmentView::~AlignmentView()
{
    delete m_items;
}

void AlignmentView::setSimilarity(const MatrixData &similarity)
{
    m_similarity = similarity;
    ++m_updates;
    redraw();
}

void AlignmentView::setMapping(const std::vector<int> &mapping)
{
    m_mapping = mapping;
    ++m_updates;
    redraw();
}

QString AlignmentView::toolTipText(int teacherLayer, int studentLayer) const
{
    if (teacherLayer < 0 || teacherLayer >= m_similarity.rows() || studentLayer < 0 ||
        studentLayer >= m_similarity.columns())
        return QString();
    const QString name = m_similarity.valueName.isEmpty() ? tr("similarity") : m_similarity.valueName;
    const double value = m_similarity.at(teacherLayer, studentLayer);
    const bool mapped = size_t(studentLayer) < m_mapping.size() && m_mapping[size_t(studentLayer)] == teacherLayer;
    return tr("teacher %1 · student %2").arg(m_similarity.rowLabels[teacherLayer], m_similarity.columnLabels[studentLayer]) +
           u'\n' + name + QStringLiteral(": ") +
           (std::isfinite(value) ? QString::asprintf("%.4f", value) : tr("not computed yet")) + u'\n' +
           (mapped ? tr("in the mapping (student layer %1 is initialised from teacher layer %2)")
                         .arg(m_similarity.columnLabels[studentLayer], m_similarity.rowLabels[teacherLayer])
                   : tr("not in the mapping"));
}

int AlignmentView::rowAt(const QPoint &plotPos) const
{
    return m_items->grid.rowAt(plotPos);
}

QPoint AlignmentView::cellCentre(int row, int column) const
{
    return m_items->grid.cellCentre(row, column);
}

QWidget *AlignmentView::plotWidget() const
{
    return m_plot;
}

bool AlignmentView::exportTo(const QString &path, QString *error, int width, int height) const
{
    return exportPlot(m_plot, path, width, height, error);
}

void AlignmentView::redraw()
{
    auto &grid = m_items->grid;
    grid.setTitle(m_similarity.title);
    grid.setShape(m_similarity.rowLabels, m_similarity.columnLabels);
    grid.fill([this](int row, int column) { return m_similarity.at(row, column); });
    grid.scale->axis()->setLabel(m_similarity.valueName.isEmpty() ? tr("similarity") : m_similarity.valueName);

    for (auto *rect : m_items->cells)
        m_plot->removeItem(rect);
    m_items->cells.clear();
    QVector<double> students, teachers;
    for (size_t j = 0; j < m_mapping.size(); ++j) {
        const int teacher = m_mapping[j];
        if (teacher < 0 || teacher >= grid.rows || int(j) >= grid.columns)
            continue;
        m_items->cells << grid.outline(teacher, int(j), teacher, int(j), QPen(Qt::white, 2.5));
        students << double(j);
        teachers << double(teacher);
    }
    m_items->path->setData(students, teachers, true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace nugget
