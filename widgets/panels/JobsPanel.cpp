#include "panels/JobsPanel.h"

#include "models/JobListModel.h"

#include <QApplication>
#include <QHeaderView>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace nugget {

namespace {

// Draws the progress column as a progress bar.
class ProgressDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override
    {
        QStyleOptionProgressBar bar;
        bar.rect = option.rect.adjusted(2, 3, -2, -3);
        bar.minimum = 0;
        bar.maximum = 1000;
        bar.progress = int(index.data(JobListModel::FractionRole).toDouble() * 1000);
        bar.text = index.data().toString();
        bar.textVisible = true;
        bar.state = option.state | QStyle::State_Horizontal;
        QApplication::style()->drawControl(QStyle::CE_ProgressBar, &bar, painter);
    }
};


} // namespace

JobsPanel::JobsPanel(JobListModel *model, QWidget *parent) : QWidget(parent), m_model(model)
{
    m_view = new QTableView(this);
    m_view->setModel(model);
    m_view->setItemDelegateForColumn(JobListModel::Progress, new ProgressDelegate(m_view));
    m_view->verticalHeader()->hide();
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->horizontalHeader()->setSectionResizeMode(JobListModel::Title, QHeaderView::ResizeToContents);
    m_view->horizontalHeader()->setSectionResizeMode(JobListModel::Message, QHeaderView::Stretch);
    m_view->setColumnWidth(JobListModel::Progress, 160);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_view);

    connect(model, &QAbstractItemModel::rowsInserted, this,
            [this](const QModelIndex &, int first, int last) { addCancelButtons(first, last); });
    connect(model, &QAbstractItemModel::dataChanged, this, [this] { refreshButtons(); });
}

void JobsPanel::addCancelButtons(int first, int last)
{
    for (int row = first; row <= last; ++row) {
        const int job = m_model->data(m_model->index(row, 0), JobListModel::JobIdRole).toInt();
        auto *button = new QToolButton(m_view);
        button->setText(tr("Cancel"));
        button->setToolTip(tr("Stop this job (within a second; nothing half-written is left)"));
        button->setProperty("job", job);
        connect(button, &QToolButton::clicked, this, [this, job] { Q_EMIT cancelRequested(job); });
        // The title column's widget would hide the title; put the button in the state column.
        m_view->setIndexWidget(m_model->index(row, JobListModel::State), button);
        m_view->scrollToBottom();
    }
}

void JobsPanel::refreshButtons()
{
    for (int row = 0; row < m_model->rowCount(); ++row) {
        const auto index = m_model->index(row, JobListModel::State);
        auto *button = m_view->indexWidget(index);
        if (button && !m_model->data(index, JobListModel::ActiveRole).toBool()) {
            // Finished: the state text replaces the button.
            m_view->setIndexWidget(index, nullptr);
        }
    }
}

QWidget *JobsPanel::cancelButton(int job) const
{
    const int row = m_model->rowOf(job);
    return row < 0 ? nullptr : m_view->indexWidget(m_model->index(row, JobListModel::State));
}

} // namespace nugget
