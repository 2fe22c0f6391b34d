#pragma once
// Injection, LoRA training and evaluation: the training budget, one button per action,
// the live loss and learning-rate curve with step and ETA, a table of every finished
// run, and the controls (plain LoRA, random structure, own SVD) run with the same
// budget over several seeds, shown as a comparison chart with their spread.

#include "EngineResults.h"
#include "plot/ComparisonChart.h"

#include <QWidget>

#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QStandardItemModel;
class QTableView;

namespace nugget {



class SeriesChart;
struct RecipeSettings;

class RunPanel : public QWidget
{
    Q_OBJECT

public:
    explicit RunPanel(QWidget *parent = nullptr);

    void applyTo(RecipeSettings &recipe) const;   // init, training budget, evaluation limit
    void loadFrom(const RecipeSettings &recipe);
    // Seeds for the controls, e.g. "1,2,3"; empty when the field does not parse.
    std::vector<quint64> controlSeeds() const;
    bool includeVanilla() const;

    void showTrainingProgress(const TrainingProgress &progress);
    void addRun(const RunSummary &run);
    // Controls start: the comparison's loss curves will hold only their runs.
    void startControls();
    void showControls(const ControlsSummary &summary);
    void clearRuns();

    SeriesChart *lossChart() const { return m_loss; }
    ComparisonChart *comparisonChart() const { return m_comparison; }
    QStandardItemModel *results() const { return m_results; }
    // One row per condition of the last controls: mean, spread, every seed.
    QStandardItemModel *controlsTable() const { return m_controlsTable; }
    QString progressText() const;
    QPushButton *runButton() const { return m_run; }
    QPushButton *controlsButton() const { return m_controls; }

Q_SIGNALS:
    void runRequested();
    void evaluateRequested();
    void controlsRequested();

private:
    QComboBox *m_init = nullptr;
    QSpinBox *m_epochs = nullptr, *m_batch = nullptr, *m_evalLimit = nullptr, *m_maxNewTokens = nullptr;
    QDoubleSpinBox *m_learningRate = nullptr;
    QLineEdit *m_seeds = nullptr;
    QCheckBox *m_vanilla = nullptr;
    QPushButton *m_run = nullptr, *m_evaluate = nullptr, *m_controls = nullptr;
    QLabel *m_progress = nullptr;
    SeriesChart *m_loss = nullptr;
    QStandardItemModel *m_results = nullptr;
    QTableView *m_table = nullptr;
    ComparisonChart *m_comparison = nullptr;
    QStandardItemModel *m_controlsTable = nullptr;
    std::vector<LossCurve> m_curves;   // every finished run's training loss
};

} // namespace nugget
