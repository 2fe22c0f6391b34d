#pragma once
// The workbench window. Teacher and student side by side on top; below them the
// sensitivity heatmaps and the alignment views; on the right the task, the layer picker
// and the run panel; at the bottom the jobs and the log. Every computation is a job of
// the compute engine; the window only sends requests and shows what comes back.

#include "EngineResults.h"
#include "ModelFolderSummary.h"

#include <QMainWindow>

#include <memory>
#include <optional>

class QComboBox;
class QLabel;
class QMenu;
class QTabWidget;

namespace nugget {

class AlignmentView;
class DimensionMapView;
class HeatmapView;
class JobListModel;
class JobsPanel;
class LayerSelectionModel;
class LogPanel;
class ModelPane;
class PickerPanel;
class RunPanel;
class TaskPanel;
class WorkbenchEngine;
struct TransferRecipe;

class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // Message boxes for errors (off in scripted runs and tests: the log and the status
    // bar still show every error).
    void setInteractive(bool on) { m_interactive = on; }

    // Opens a folder into a pane. The pane changes only once the folder has been read
    // and, when the other side is loaded too, once the pair passes its checks (shared
    // tokenizer, teacher larger than student); otherwise the previous model stays.
    // Returns false when the folder itself cannot be read.
    bool openModel(ModelPane *pane, const QString &dir);
    // Recipe defaults (and task files) from a recipe JSON object, e.g. the demo's.
    void setBaseRecipe(const TransferRecipe &recipe);
    TransferRecipe currentRecipe() const;

    int loadTask();
    int computeSensitivity();
    int runTransfer();
    int runControls();
    int evaluateStudent();
    int saveSession(const QString &path);
    int openSession(const QString &path);
    int exportAdapter(const QString &dir);
    int exportMerged(const QString &dir);
    // Every plot to DIR/<name>.<suffix> (png, svg or pdf); returns the files written.
    QStringList exportPlots(const QString &dir, const QString &suffix, QString *error = nullptr);
    void showView(const QString &name);   // heatmap | student-heatmap | layer-alignment | dimension | loss | runs | controls

    ModelPane *teacherPane() const { return m_teacher; }
    ModelPane *studentPane() const { return m_student; }
    WorkbenchEngine *engine() const { return m_engine; }
    HeatmapView *teacherHeatmap() const { return m_teacherHeatmap; }
    HeatmapView *studentHeatmap() const { return m_studentHeatmap; }
    AlignmentView *alignmentView() const { return m_alignment; }
    DimensionMapView *dimensionView() const { return m_dimension; }
    LayerSelectionModel *selection() const { return m_selection; }
    TaskPanel *taskPanel() const { return m_task; }
    PickerPanel *pickerPanel() const { return m_picker; }
    RunPanel *runPanel() const { return m_run; }
    JobsPanel *jobsPanel() const { return m_jobsPanel; }
    JobListModel *jobs() const { return m_jobs; }
    LogPanel *logPanel() const { return m_log; }
    QString lastError() const { return m_lastError; }

Q_SIGNALS:
    void pairReady();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildMenus();
    void chooseFolder(ModelPane *pane);
    void rememberRecent(const QString &dir);
    void rebuildRecentMenu();
    void showError(const QString &title, const QString &message);
    void onPairLoaded(const PairSummary &pair);
    void onSensitivity(const ScoreGrid &grid);
    void onSimilarity(const SimilarityGrid &grid);
    void onSelectionChanged();
    void onHeatmapRow(int row);
    void redrawHeatmap(Side side);
    void requestReduction();
    void goToTarget(const QString &target);

    WorkbenchEngine *m_engine = nullptr;
    LayerSelectionModel *m_selection = nullptr;
    JobListModel *m_jobs = nullptr;
    ModelPane *m_teacher = nullptr;
    ModelPane *m_student = nullptr;
    HeatmapView *m_teacherHeatmap = nullptr;
    HeatmapView *m_studentHeatmap = nullptr;
    AlignmentView *m_alignment = nullptr;
    DimensionMapView *m_dimension = nullptr;
    QComboBox *m_heatmapMode = nullptr;
    QComboBox *m_dimensionLayer = nullptr;
    QComboBox *m_dimensionModule = nullptr;
    QLabel *m_heatmapStatus = nullptr;
    QTabWidget *m_heatmapTabs = nullptr;
    QTabWidget *m_alignmentTabs = nullptr;
    QTabWidget *m_sideTabs = nullptr;
    QTabWidget *m_bottomTabs = nullptr;
    TaskPanel *m_task = nullptr;
    PickerPanel *m_picker = nullptr;
    RunPanel *m_run = nullptr;
    JobsPanel *m_jobsPanel = nullptr;
    LogPanel *m_log = nullptr;
    QMenu *m_recentTeacher = nullptr;
    QMenu *m_recentStudent = nullptr;

    std::unique_ptr<TransferRecipe> m_baseRecipe;
    std::optional<ScoreGrid> m_teacherGrid, m_studentGrid;
    // A pane's model before a pair load that may still fail, restored on failure.
    struct PendingPair
    {
        int job = 0;
        ModelPane *pane = nullptr;
        std::optional<ModelFolderSummary> previous;
    };
    std::optional<PendingPair> m_pending;
    bool m_interactive = true;
    QString m_lastError;
};

} // namespace nugget
