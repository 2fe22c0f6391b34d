#include "panels/RunPanel.h"

#include "plot/ComparisonChart.h"
#include "plot/SeriesChart.h"
#include "EngineRequests.h"
#include "transfer/RecipeChoices.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace nugget {

namespace {
QString durationText(double seconds)
{
    if (seconds < 90)
        return QObject::tr("%1 s").arg(int(seconds + 0.5));
    return QObject::tr("%1 min").arg(seconds / 60.0, 0, 'f', 1);
}
} // namespace

RunPanel::RunPanel(QWidget *parent) : QWidget(parent)
{
    auto *form = new QFormLayout;
    m_init = new QComboBox(this);
    m_init->setObjectName(QStringLiteral("settings/init"));
    for (const auto &name : runInits().names())
        m_init->addItem(QString::fromStdString(name));
    m_init->setToolTip(tr("transfer: the teacher's factorised matrices (the method); lora: plain LoRA; own-svd: the "
                          "student's own SVD (a control); none: evaluate the student untouched"));
    form->addRow(tr("Initialise"), m_init);
    m_epochs = new QSpinBox(this);
    m_epochs->setObjectName(QStringLiteral("settings/epochs"));
    m_epochs->setRange(1, 1000);
    m_epochs->setValue(3);
    form->addRow(tr("Epochs"), m_epochs);
    m_batch = new QSpinBox(this);
    m_batch->setObjectName(QStringLiteral("settings/batch_size"));
    m_batch->setRange(1, 4096);
    m_batch->setValue(16);
    form->addRow(tr("Batch size"), m_batch);
    m_learningRate = new QDoubleSpinBox(this);
    m_learningRate->setObjectName(QStringLiteral("settings/learning_rate"));
    m_learningRate->setDecimals(5);
    m_learningRate->setRange(1e-5, 1.0);
    m_learningRate->setSingleStep(1e-4);
    m_learningRate->setValue(2e-3);
    form->addRow(tr("Learning rate"), m_learningRate);
    m_evalLimit = new QSpinBox(this);
    m_evalLimit->setObjectName(QStringLiteral("settings/eval_limit"));
    m_evalLimit->setRange(0, 1000000);
    m_evalLimit->setSpecialValueText(tr("all"));
    m_evalLimit->setToolTip(tr("Evaluate only the first N items (0: all)"));
    form->addRow(tr("Evaluate"), m_evalLimit);
    m_maxNewTokens = new QSpinBox(this);
    m_maxNewTokens->setObjectName(QStringLiteral("settings/max_new_tokens"));
    m_maxNewTokens->setRange(1, 4096);
    m_maxNewTokens->setValue(24);
    form->addRow(tr("Answer tokens"), m_maxNewTokens);

    m_run = new QPushButton(tr("Inject, train and evaluate"), this);
    m_evaluate = new QPushButton(tr("Evaluate student"), this);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_evaluate);

    m_seeds = new QLineEdit(QStringLiteral("1,2,3"), this);
    m_seeds->setObjectName(QStringLiteral("settings/control_seeds"));
    m_seeds->setToolTip(tr("Seeds of the controls, comma-separated"));
    m_vanilla = new QCheckBox(tr("with the untouched student"), this);
    m_vanilla->setChecked(true);
    m_controls = new QPushButton(tr("Run the controls"), this);
    m_controls->setToolTip(tr("Plain LoRA, the method, the method on a random teacher sub-matrix and the student's own "
                              "SVD, with the same budget, for every seed"));
    auto *controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Seeds"), this));
    controls->addWidget(m_seeds, 1);
    controls->addWidget(m_vanilla);
    controls->addWidget(m_controls);

    m_progress = new QLabel(tr("No run yet."), this);
    m_progress->setWordWrap(true);
    m_loss = new SeriesChart(tr("step"), tr("training loss"), this);
    m_loss->setSecondaryAxisLabel(tr("learning rate"));
    m_loss->setTitle(tr("Training"));

    m_results = new QStandardItemModel(0, 7, this);
    m_results->setHorizontalHeaderLabels(
        {tr("Run"), tr("Init"), tr("Seed"), tr("Score"), tr("Items"), tr("Seconds"), tr("Teacher → student layers")});
    m_table = new QTableView(this);
    m_table->setModel(m_results);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setSortingEnabled(true);
    m_comparison = new ComparisonChart(this);
    m_controlsTable = new QStandardItemModel(0, 6, this);
    m_controlsTable->setHorizontalHeaderLabels({tr("Condition"), tr("Mean"), tr("Spread (sd)"), tr("Per seed"),
                                                tr("Δ log p vs plain LoRA"), tr("Δ log p vs vanilla")});
    const QString paired =
        tr("Paired with the baseline on the same items and seeds: mean difference of the expected answer's "
           "log-probability (Δ log p, nats) and of its reciprocal rank among the candidate answers (Δ RR), each with "
           "a 95 % bootstrap interval over items and seeds; items that flipped to right (+) and to wrong (−) by "
           "their majority over seeds, with McNemar's exact p. The cell shows Δ log p; its tooltip all of it.");
    for (const int column : {4, 5})
        m_controlsTable->horizontalHeaderItem(column)->setToolTip(paired);
    auto *controlsView = new QTableView(this);
    controlsView->setModel(m_controlsTable);
    controlsView->verticalHeader()->hide();
    controlsView->horizontalHeader()->setStretchLastSection(true);
    controlsView->setWordWrap(false);   // elided, the tooltip has the whole text
    auto *controlsSplit = new QSplitter(Qt::Vertical, this);
    controlsSplit->addWidget(m_comparison);
    controlsSplit->addWidget(controlsView);
    controlsSplit->setStretchFactor(0, 3);
    controlsSplit->setStretchFactor(1, 1);

    auto *tabs = new QTabWidget(this);
    tabs->addTab(m_loss, tr("Loss"));
    tabs->addTab(m_table, tr("Runs"));
    tabs->addTab(controlsSplit, tr("Controls"));
    tabs->setObjectName(QStringLiteral("runTabs"));

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addLayout(controls);
    layout->addWidget(m_progress);
    layout->addWidget(tabs, 1);

    connect(m_run, &QPushButton::clicked, this, &RunPanel::runRequested);
    connect(m_evaluate, &QPushButton::clicked, this, &RunPanel::evaluateRequested);
    connect(m_controls, &QPushButton::clicked, this, &RunPanel::controlsRequested);
}

void RunPanel::applyTo(RecipeSettings &recipe) const
{
    recipe.init = m_init->currentText();
    recipe.epochs = m_epochs->value();
    recipe.batchSize = m_batch->value();
    recipe.microBatchSize = std::min<int64_t>(recipe.microBatchSize, m_batch->value());
    recipe.learningRate = m_learningRate->value();
    recipe.evalLimit = m_evalLimit->value();
    recipe.maxNewTokens = m_maxNewTokens->value();
}

void RunPanel::loadFrom(const RecipeSettings &recipe)
{
    m_init->setCurrentText(recipe.init);
    m_epochs->setValue(int(recipe.epochs));
    m_batch->setValue(int(recipe.batchSize));
    m_learningRate->setValue(recipe.learningRate);
    m_evalLimit->setValue(int(recipe.evalLimit));
    m_maxNewTokens->setValue(int(recipe.maxNewTokens));
}

std::vector<quint64> RunPanel::controlSeeds() const
{
    std::vector<quint64> seeds;
    for (const auto &part : m_seeds->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const auto seed = part.trimmed().toULongLong(&ok);
        if (!ok)
            return {};
        seeds.push_back(seed);
    }
    return seeds;
}

bool RunPanel::includeVanilla() const { return m_vanilla->isChecked(); }

void RunPanel::showTrainingProgress(const TrainingProgress &progress)
{
    m_progress->setText(tr("%1: step %2 of %3 (epoch %4), loss %5, learning rate %6, %7 tokens/s, about %8 left")
                            .arg(progress.run)
                            .arg(progress.step)
                            .arg(progress.steps)
                            .arg(progress.epoch + 1)
                            .arg(progress.loss, 0, 'f', 4)
                            .arg(progress.learningRate, 0, 'g', 3)
                            .arg(progress.tokensPerSecond, 0, 'f', 0)
                            .arg(durationText(progress.etaSeconds)));
    m_loss->append(progress.run, progress.step, progress.loss);
    m_loss->append(progress.run + tr(" (lr)"), progress.step, progress.learningRate, true);
}

void RunPanel::addRun(const RunSummary &run)
{
    const bool accuracy = run.metric != QLatin1String("perplexity");
    const QString score = accuracy ? QStringLiteral("%1 %").arg(100.0 * run.score, 0, 'f', 1)
                                   : QString::number(run.score, 'f', 2);
    QList<QStandardItem *> row;
    for (const auto &text : {run.name, run.init, QString::number(run.seed), score,
                             QStringLiteral("%1/%2").arg(run.correct).arg(run.items), QString::number(run.seconds, 'f', 0),
                             run.extraction})
        row << new QStandardItem(text);
    row[3]->setData(run.score, Qt::UserRole);
    if (!run.steps.empty())
        m_curves.push_back({run.name, run.steps, run.losses});
    m_results->appendRow(row);
    m_progress->setText(tr("%1: %2 %3 (%4 of %5 items) in %6")
                            .arg(run.name, run.metric, score)
                            .arg(run.correct)
                            .arg(run.items)
                            .arg(durationText(run.seconds)));
}

void RunPanel::startControls()
{
    m_curves.clear();
    m_loss->clearAll();
}

void RunPanel::showControls(const ControlsSummary &summary)
{
    std::vector<ConditionScores> conditions;
    QStringList summaryLora, summaryVanilla, briefLora, briefVanilla;
    for (const auto &c : summary.conditions) {
        summaryLora << c.versusLora;
        summaryVanilla << c.versusVanilla;
        briefLora << c.versusLoraBrief;
        briefVanilla << c.versusVanillaBrief;
        ConditionScores scores;
        scores.name = c.name;
        for (const auto s : c.scores)
            scores.scores.push_back(100.0 * s);
        scores.mean = 100.0 * c.mean;
        scores.spread = 100.0 * c.spread;
        conditions.push_back(scores);
    }
    m_comparison->setScores(conditions, summary.metric);
    m_comparison->setLossCurves(m_curves);
    m_controlsTable->removeRows(0, m_controlsTable->rowCount());
    for (size_t i = 0; i < conditions.size(); ++i) {
        const auto &c = conditions[i];
        QStringList seeds;
        for (const auto s : c.scores)
            seeds << QString::number(s, 'f', 1);
        auto *versusLora = new QStandardItem(briefLora[qsizetype(i)]);
        versusLora->setToolTip(summaryLora[qsizetype(i)]);
        auto *versusVanilla = new QStandardItem(briefVanilla[qsizetype(i)]);
        versusVanilla->setToolTip(summaryVanilla[qsizetype(i)]);
        m_controlsTable->appendRow({new QStandardItem(c.name), new QStandardItem(QStringLiteral("%1 %").arg(c.mean, 0, 'f', 1)),
                                    new QStandardItem(QStringLiteral("%1 pp").arg(c.spread, 0, 'f', 1)),
                                    new QStandardItem(seeds.join(QStringLiteral(", "))), versusLora, versusVanilla});
    }
    if (auto *tabs = findChild<QTabWidget *>(QStringLiteral("runTabs")))
        tabs->setCurrentIndex(2);
    m_progress->setText(tr("Controls done in %1.").arg(durationText(summary.seconds)));
}

void RunPanel::clearRuns()
{
    m_results->removeRows(0, m_results->rowCount());
    m_loss->clearAll();
    m_curves.clear();
}

QString RunPanel::progressText() const { return m_progress->text(); }

} // namespace nugget
