#include "models/JobListModel.h"

namespace nugget {

QString jobStateText(JobState state)
{
    switch (state) {
    case JobState::Queued: return QObject::tr("queued");
    case JobState::Running: return QObject::tr("running");
    case JobState::Done: return QObject::tr("done");
    case JobState::Failed: return QObject::tr("failed");
    case JobState::Cancelled: return QObject::tr("cancelled");
    }
    return {};
}

JobListModel::JobListModel(QObject *parent) : QAbstractTableModel(parent) {}

int JobListModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : int(m_jobs.size()); }
int JobListModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant JobListModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_jobs.size()))
        return {};
    const auto &job = m_jobs[size_t(index.row())];
    switch (role) {
    case JobIdRole: return job.id;
    case FractionRole: return job.fraction;
    case ActiveRole: return job.state == JobState::Queued || job.state == JobState::Running;
    case Qt::ToolTipRole: return job.message.isEmpty() ? job.title : job.title + QLatin1Char('\n') + job.message;
    case Qt::DisplayRole:
        switch (index.column()) {
        case Title: return job.title;
        case State: return jobStateText(job.state);
        case Progress: return QStringLiteral("%1 %").arg(int(job.fraction * 100));
        case Message: return job.message;
        case Seconds:
            return QString::number(job.state == JobState::Running ? job.clock.elapsed() / 1000.0 : job.seconds, 'f', 1);
        }
        break;
    default: break;
    }
    return {};
}

QVariant JobListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Title: return tr("Job");
    case State: return tr("State");
    case Progress: return tr("Progress");
    case Message: return tr("Message");
    case Seconds: return tr("Seconds");
    }
    return {};
}

int JobListModel::rowOf(int job) const
{
    for (size_t i = 0; i < m_jobs.size(); ++i)
        if (m_jobs[i].id == job)
            return int(i);
    return -1;
}

JobState JobListModel::stateOf(int job) const
{
    const int row = rowOf(job);
    return row < 0 ? JobState::Done : m_jobs[size_t(row)].state;
}

int JobListModel::activeJobs() const
{
    int active = 0;
    for (const auto &job : m_jobs)
        active += job.state == JobState::Queued || job.state == JobState::Running;
    return active;
}

void JobListModel::changed(int row)
{
    if (row >= 0)
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void JobListModel::jobQueued(int job, const QString &title)
{
    beginInsertRows({}, int(m_jobs.size()), int(m_jobs.size()));
    Entry entry;
    entry.id = job;
    entry.title = title;
    m_jobs.push_back(entry);
    endInsertRows();
}

void JobListModel::jobStarted(int job)
{
    const int row = rowOf(job);
    if (row < 0)
        return;
    m_jobs[size_t(row)].state = JobState::Running;
    m_jobs[size_t(row)].clock.start();
    changed(row);
}

void JobListModel::jobProgress(int job, double fraction, const QString &message)
{
    const int row = rowOf(job);
    if (row < 0)
        return;
    m_jobs[size_t(row)].fraction = std::clamp(fraction, 0.0, 1.0);
    m_jobs[size_t(row)].message = message;
    changed(row);
}

void JobListModel::jobFinished(int job, const JobOutcome &outcome)
{
    const int row = rowOf(job);
    if (row < 0)
        return;
    auto &entry = m_jobs[size_t(row)];
    entry.state = outcome.state;
    entry.seconds = outcome.seconds;
    if (outcome.state == JobState::Done)
        entry.fraction = 1.0;
    if (!outcome.message.isEmpty())
        entry.message = outcome.message;
    changed(row);
}

} // namespace nugget
