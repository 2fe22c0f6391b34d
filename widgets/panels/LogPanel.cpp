#include "panels/LogPanel.h"

#include <QApplication>
#include <QDateTime>
#include <QListWidget>
#include <QStyle>
#include <QVBoxLayout>

namespace nugget {

namespace {
constexpr int kLevelRole = Qt::UserRole + 1;
constexpr int kTargetRole = Qt::UserRole + 2;
constexpr int kTextRole = Qt::UserRole + 3;
} // namespace

LogPanel::LogPanel(QWidget *parent) : QWidget(parent)
{
    m_list = new QListWidget(this);
    m_list->setWordWrap(true);
    m_list->setAlternatingRowColors(true);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_list);
    connect(m_list, &QListWidget::itemActivated, this,
            [this](QListWidgetItem *item) { activate(m_list->row(item)); });
}

void LogPanel::append(const LogEntry &entry)
{
    auto *item = new QListWidgetItem(QStringLiteral("%1  %2").arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss")),
                                                               entry.text));
    const auto icon = entry.level == LogLevel::Error     ? QStyle::SP_MessageBoxCritical
                      : entry.level == LogLevel::Warning ? QStyle::SP_MessageBoxWarning
                                                         : QStyle::SP_MessageBoxInformation;
    item->setIcon(QApplication::style()->standardIcon(icon));
    item->setData(kLevelRole, int(entry.level));
    item->setData(kTargetRole, entry.target);
    item->setData(kTextRole, entry.text);
    if (!entry.target.isEmpty())
        item->setToolTip(tr("Double-click to go to %1").arg(entry.target));
    m_list->addItem(item);
    m_list->scrollToBottom();
    if (entry.level == LogLevel::Error) {
        ++m_errors;
        Q_EMIT errorLogged(entry.text);
    }
}

int LogPanel::count() const { return m_list->count(); }

LogEntry LogPanel::entry(int row) const
{
    const auto *item = m_list->item(row);
    if (!item)
        return {};
    return {LogLevel(item->data(kLevelRole).toInt()), item->data(kTextRole).toString(), item->data(kTargetRole).toString()};
}

void LogPanel::activate(int row)
{
    const auto target = entry(row).target;
    if (!target.isEmpty())
        Q_EMIT targetActivated(target);
}

} // namespace nugget
