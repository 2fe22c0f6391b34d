#pragma once
// A live line chart of one or more named series (training loss per step, learning
// rate on a second axis). Points are appended while a job runs; replot is cheap enough
// for the workbench's coalesced updates.

#include <QString>
#include <QWidget>

class QCustomPlot;

namespace nugget {

class SeriesChart : public QWidget
{
    Q_OBJECT

public:
    explicit SeriesChart(const QString &xLabel, const QString &yLabel, QWidget *parent = nullptr);
    ~SeriesChart() override;

    // Creates the series on first use; `secondaryAxis` plots it against the right axis
    // (e.g. the learning rate).
    void append(const QString &series, double x, double y, bool secondaryAxis = false);
    void setSecondaryAxisLabel(const QString &label);
    void clearSeries(const QString &series);
    void clearAll();
    int seriesCount() const;
    int pointCount(const QString &series) const;
    void setTitle(const QString &title);
    bool exportTo(const QString &path, QString *error = nullptr, int width = 900, int height = 520) const;

private:
    QCustomPlot *m_plot = nullptr;
    struct Items;
    Items *m_items = nullptr;
};

} // namespace nugget
