#pragma once
// Charts of an experiment: one bar per condition (mean over seeds) with its spread and
// every seed's score as a dot, and the training-loss curves of every run. A widget for
// the workbench and a PNG/PDF writer for nugget-cli; QCustomPlot stays hidden here.

#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace nugget {

struct ConditionScores
{
    QString name;
    std::vector<double> scores;   // one per seed, in percent
    double mean = 0;
    double spread = 0;            // standard deviation, percentage points
};

struct LossCurve
{
    QString name;                 // condition
    std::vector<double> steps, losses;
};

class ComparisonChart : public QWidget
{
    Q_OBJECT

public:
    explicit ComparisonChart(QWidget *parent = nullptr);
    void setScores(const std::vector<ConditionScores> &conditions, const QString &metric);
    void setLossCurves(const std::vector<LossCurve> &curves);
    // Writes the scores chart and the loss chart; the format follows the file suffix
    // (.png, .svg or .pdf). Returns false with `error` set when a file cannot be written.
    bool saveScores(const QString &path, QString *error = nullptr, int width = 900, int height = 520);
    bool saveLossCurves(const QString &path, QString *error = nullptr, int width = 900, int height = 520);

private:
    QCustomPlot *m_scores = nullptr;
    QCustomPlot *m_losses = nullptr;
};

} // namespace nugget
