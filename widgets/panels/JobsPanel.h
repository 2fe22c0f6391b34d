#pragma once
// The jobs area: every job of the compute engine with its state, a progress bar and a
// cancel button while it is queued or running.

#include <QWidget>

class QTableView;

namespace nugget {

class JobListModel;

class JobsPanel : public QWidget
{
    Q_OBJECT

public:
    explicit JobsPanel(JobListModel *model, QWidget *parent = nullptr);
    // The cancel button of a job's row (null when the job is not listed); for tests.
    QWidget *cancelButton(int job) const;

Q_SIGNALS:
    void cancelRequested(int job);

private:
    void addCancelButtons(int first, int last);
    void refreshButtons();

    JobListModel *m_model = nullptr;
    QTableView *m_view = nullptr;
};

} // namespace nugget
