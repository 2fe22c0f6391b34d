#pragma once
// The jobs of the compute engine as a table: title, state, progress, message, seconds.
// Fed by the engine's job signals; the jobs panel shows it with progress bars and a
// cancel button per running job.

#include "EngineResults.h"

#include <QAbstractTableModel>
#include <QElapsedTimer>

#include <vector>

namespace nugget {

class JobListModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { Title, State, Progress, Message, Seconds, ColumnCount };
    static constexpr int JobIdRole = Qt::UserRole + 1;
    static constexpr int FractionRole = Qt::UserRole + 2;
    static constexpr int ActiveRole = Qt::UserRole + 3;   // queued or running: can be cancelled

    explicit JobListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void jobQueued(int job, const QString &title);
    void jobStarted(int job);
    void jobProgress(int job, double fraction, const QString &message);
    void jobFinished(int job, const JobOutcome &outcome);

    int rowOf(int job) const;
    JobState stateOf(int job) const;
    int activeJobs() const;

private:
    struct Entry
    {
        int id = 0;
        QString title, message;
        JobState state = JobState::Queued;
        double fraction = 0, seconds = 0;
        QElapsedTimer clock;
    };
    void changed(int row);

    std::vector<Entry> m_jobs;   // newest last
};

QString jobStateText(JobState state);

} // namespace nugget
