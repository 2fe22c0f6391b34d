#pragma once
// Measures how long the thread it lives on (the UI thread) fails to process events: a
// fast timer notes the gap between its ticks; the longest gap beyond the interval is the
// longest stall a user would feel. Used by the GUI tests and `nugget-cli bench ui`.

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

namespace nugget {

class UiStallProbe : public QObject
{
    Q_OBJECT

public:
    explicit UiStallProbe(int intervalMs = 5, QObject *parent = nullptr);
    void start();
    void stop();
    double longestStallMs() const { return m_longest; }
    double meanGapMs() const { return m_ticks > 0 ? m_total / double(m_ticks) : 0.0; }
    int ticks() const { return m_ticks; }

private:
    void tick();

    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0;
    int m_interval = 5;
    int m_ticks = 0;
    double m_longest = 0, m_total = 0;
};

} // namespace nugget
