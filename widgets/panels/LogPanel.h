#pragma once
// Messages, warnings and errors of the workbench. An entry that names what is at fault
// (a file, or a setting as "settings/<key>") can be activated to go there.

#include "EngineResults.h"

#include <QWidget>

class QListWidget;

namespace nugget {

class LogPanel : public QWidget
{
    Q_OBJECT

public:
    explicit LogPanel(QWidget *parent = nullptr);
    void append(const LogEntry &entry);
    int count() const;
    int errorCount() const { return m_errors; }
    LogEntry entry(int row) const;
    // As if the user activated the row (double-click or Enter).
    void activate(int row);

Q_SIGNALS:
    void targetActivated(const QString &target);
    void errorLogged(const QString &text);

private:
    QListWidget *m_list = nullptr;
    int m_errors = 0;
};

} // namespace nugget
