#include "UiStallProbe.h"

#include <algorithm>

namespace nugget {

UiStallProbe::UiStallProbe(int intervalMs, QObject *parent) : QObject(parent), m_interval(intervalMs)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &UiStallProbe::tick);
}

void UiStallProbe::start()
{
    m_longest = m_total = 0;
    m_ticks = 0;
    m_clock.start();
    m_last = m_clock.nsecsElapsed();
    m_timer.start();
}

void UiStallProbe::stop() { m_timer.stop(); }

void UiStallProbe::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    const double gap = double(now - m_last) / 1e6;
    m_last = now;
    ++m_ticks;
    m_total += gap;
    m_longest = std::max(m_longest, gap - m_interval);
}

} // namespace nugget
