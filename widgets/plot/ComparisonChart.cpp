#include "plot/ComparisonChart.h"

#include "plot/PlotExport.h"
#include "plot/QCustomPlotInclude.h"

#include <QVBoxLayout>

namespace nugget {

namespace {

const QList<QColor> kPalette = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                QColor(227, 119, 194), QColor(127, 127, 127)};

} // namespace

ComparisonChart::ComparisonChart(QWidget *parent) : QWidget(parent)
{
    m_scores = new QCustomPlot(this);
    m_losses = new QCustomPlot(this);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_scores);
    layout->addWidget(m_losses);
}

void ComparisonChart::setScores(const std::vector<ConditionScores> &conditions, const QString &metric)
{
    m_scores->clearPlottables();
    auto *bars = new QCPBars(m_scores->xAxis, m_scores->yAxis);
    bars->setBrush(QColor(31, 119, 180, 120));
    bars->setPen(QPen(QColor(31, 119, 180)));
    bars->setWidth(0.6);
    auto *errors = new QCPErrorBars(m_scores->xAxis, m_scores->yAxis);
    errors->setDataPlottable(bars);
    auto *dots = m_scores->addGraph();
    dots->setLineStyle(QCPGraph::lsNone);
    dots->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(20, 20, 20), 6));

    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    double top = 1;
    for (size_t i = 0; i < conditions.size(); ++i) {
        const auto &c = conditions[i];
        const double x = static_cast<double>(i + 1);
        bars->addData(x, c.mean);
        errors->addData(c.spread);
        for (const double s : c.scores) {
            dots->addData(x, s);
            top = std::max(top, s);
        }
        top = std::max(top, c.mean + c.spread);
        QString label = c.name;
        label.replace(QStringLiteral(" ("), QStringLiteral("\n("));
        ticker->addTick(x, label);
    }
    m_scores->xAxis->setTicker(ticker);
    m_scores->xAxis->setRange(0.4, static_cast<double>(conditions.size()) + 0.6);
    m_scores->yAxis->setRange(0, top * 1.15 + 0.5);
    m_scores->yAxis->setLabel(metric + QStringLiteral(" (%), mean ± sd over seeds; dots: seeds"));
    m_scores->replot();
}

void ComparisonChart::setLossCurves(const std::vector<LossCurve> &curves)
{
    m_losses->clearGraphs();
    m_losses->legend->setVisible(true);
    QStringList named;
    double maxStep = 1, maxLoss = 0.1;
    for (const auto &curve : curves) {
        if (curve.steps.empty())
            continue;
        const int colour = static_cast<int>(named.indexOf(curve.name) >= 0 ? named.indexOf(curve.name) : named.size());
        auto *graph = m_losses->addGraph();
        graph->setPen(QPen(kPalette[colour % kPalette.size()], 1.5));
        graph->setData(QVector<double>(curve.steps.begin(), curve.steps.end()),
                       QVector<double>(curve.losses.begin(), curve.losses.end()));
        if (named.contains(curve.name)) {
            graph->removeFromLegend();
        } else {
            graph->setName(curve.name);
            named << curve.name;
        }
        maxStep = std::max(maxStep, curve.steps.back());
        for (const double l : curve.losses)
            maxLoss = std::max(maxLoss, l);
    }
    m_losses->xAxis->setRange(0, maxStep);
    m_losses->yAxis->setRange(0, maxLoss * 1.05);
    m_losses->xAxis->setLabel(tr("optimiser step"));
    m_losses->yAxis->setLabel(tr("training loss (answer tokens)"));
    m_losses->replot();
}

bool ComparisonChart::saveScores(const QString &path, QString *error, int width, int height)
{
    return exportPlot(m_scores, path, width, height, error);
}

bool ComparisonChart::saveLossCurves(const QString &path, QString *error, int width, int height)
{
    return exportPlot(m_losses, path, width, height, error);
}

} // namespace nugget
