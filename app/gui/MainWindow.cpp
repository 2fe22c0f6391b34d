#include "MainWindow.h"

#include "PanelBindings.h"
#include "ResultConversion.h"
#include "WorkbenchEngine.h"
#include "models/JobListModel.h"
#include "models/LayerSelectionModel.h"
#include "panels/JobsPanel.h"
#include "panels/LogPanel.h"
#include "panels/PickerPanel.h"
#include "panels/RunPanel.h"
#include "panels/TaskPanel.h"
#include "io/ModelFolderInfo.h"
#include "panes/ModelPane.h"
#include "plot/AlignmentView.h"
#include "plot/ComparisonChart.h"
#include "plot/DimensionMapView.h"
#include "plot/HeatmapView.h"
#include "plot/SeriesChart.h"
#include "transfer/TransferRecipe.h"
#include "Error.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSignalBlocker>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QThread>
#include <QVBoxLayout>

#include <cmath>

namespace nugget {

namespace {
const auto kRecentKey = QStringLiteral("recentModelFolders");
constexpr int kRecentCount = 8;

// Heatmap cells as totals or as the mean score per weight (comparable across matrices
// of different sizes).
MatrixData heatmapData(const ScoreGrid &grid, bool meanPerWeight)
{
    MatrixData data;
    // The compute is named when it is not float32: bfloat16 scores differ by a few percent.
    const QString compute = grid.computeDtype == QLatin1String("float32")
                                ? QString()
                                : QObject::tr(" · %1 compute").arg(grid.computeDtype);
    data.title = QObject::tr("%1 · %2%3 · %4/%5 samples%6")
                     .arg(QLatin1String(sideName(grid.side)), grid.metric, compute)
                     .arg(grid.sample)
                     .arg(grid.samples)
                     .arg(grid.complete ? QString() : QObject::tr(" (running)"));
    data.valueName = meanPerWeight ? QObject::tr("mean %1 score per weight").arg(grid.metric)
                                   : QObject::tr("total %1 score").arg(grid.metric);
    data.rowLabels = grid.rowLabels;
    data.columnLabels = grid.columnLabels;
    data.values = grid.totals;
    if (meanPerWeight)
        for (size_t i = 0; i < data.values.size(); ++i)
            data.values[i] = grid.counts[i] > 0 ? grid.totals[i] / grid.counts[i] : std::nan("");
    return data;
}

MatrixData similarityData(const SimilarityGrid &grid)
{
    MatrixData data;
    data.title = QObject::tr("linear CKA%1").arg(grid.complete ? QString() : QObject::tr(" (running)"));
    data.valueName = QObject::tr("linear CKA");
    for (int t = 0; t < grid.teacherLayers; ++t)
        data.rowLabels << QObject::tr("teacher %1").arg(t);
    for (int s = 0; s < grid.studentLayers; ++s)
        data.columnLabels << QObject::tr("student %1").arg(s);
    data.values = grid.values;
    return data;
}
} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), m_baseRecipe(std::make_unique<TransferRecipe>())
{
    setWindowTitle(tr("Nugget: parametric knowledge transfer workbench"));
    m_engine = new WorkbenchEngine(this);
    m_selection = new LayerSelectionModel(proposeLayers, this);
    m_jobs = new JobListModel(this);

    // Models, side by side.
    ModelPane::setFolderReader(readModelFolderSummary);
    m_teacher = new ModelPane(tr("Teacher"), this);
    m_student = new ModelPane(tr("Student"), this);
    auto *models = new QSplitter(Qt::Horizontal, this);
    models->addWidget(m_teacher);
    models->addWidget(m_student);

    // Sensitivity heatmaps.
    m_teacherHeatmap = new HeatmapView(this);
    m_studentHeatmap = new HeatmapView(this);
    m_heatmapMode = new QComboBox(this);
    m_heatmapMode->addItems({tr("total per matrix"), tr("mean per weight")});
    m_heatmapMode->setToolTip(tr("Totals decide the layer choice; the mean per weight compares matrices of different size"));
    m_heatmapStatus = new QLabel(tr("Compute sensitivity to fill the heatmap."), this);
    m_heatmapTabs = new QTabWidget(this);
    m_heatmapTabs->addTab(m_teacherHeatmap, tr("Teacher sensitivity"));
    m_heatmapTabs->addTab(m_studentHeatmap, tr("Student sensitivity"));
    auto *heatmapBox = new QWidget(this);
    auto *heatmapBar = new QHBoxLayout;
    heatmapBar->addWidget(new QLabel(tr("Cells show"), this));
    heatmapBar->addWidget(m_heatmapMode);
    heatmapBar->addWidget(m_heatmapStatus, 1);
    auto *heatmapLayout = new QVBoxLayout(heatmapBox);
    heatmapLayout->setContentsMargins(0, 0, 0, 0);
    heatmapLayout->addLayout(heatmapBar);
    heatmapLayout->addWidget(m_heatmapTabs, 1);

    // Alignment views.
    m_alignment = new AlignmentView(this);
    m_dimension = new DimensionMapView(this);
    m_dimensionLayer = new QComboBox(this);
    m_dimensionModule = new QComboBox(this);
    m_dimensionModule->addItems({QStringLiteral("q"), QStringLiteral("k"), QStringLiteral("v"), QStringLiteral("o"),
                                 QStringLiteral("gate"), QStringLiteral("up"), QStringLiteral("down")});
    auto *dimensionBox = new QWidget(this);
    auto *dimensionBar = new QHBoxLayout;
    dimensionBar->addWidget(new QLabel(tr("Teacher layer"), this));
    dimensionBar->addWidget(m_dimensionLayer);
    dimensionBar->addWidget(new QLabel(tr("Module"), this));
    dimensionBar->addWidget(m_dimensionModule);
    dimensionBar->addStretch(1);
    auto *dimensionLayout = new QVBoxLayout(dimensionBox);
    dimensionLayout->setContentsMargins(0, 0, 0, 0);
    dimensionLayout->addLayout(dimensionBar);
    dimensionLayout->addWidget(m_dimension, 1);
    m_alignmentTabs = new QTabWidget(this);
    m_alignmentTabs->addTab(m_alignment, tr("Layer alignment"));
    m_alignmentTabs->addTab(dimensionBox, tr("Dimension alignment"));

    auto *views = new QSplitter(Qt::Horizontal, this);
    views->addWidget(heatmapBox);
    views->addWidget(m_alignmentTabs);
    auto *central = new QSplitter(Qt::Vertical, this);
    central->addWidget(models);
    central->addWidget(views);
    central->setStretchFactor(0, 1);
    central->setStretchFactor(1, 3);
    setCentralWidget(central);

    // Task, picker and run on the right.
    m_task = new TaskPanel(this);
    m_picker = new PickerPanel(m_selection, this);
    m_run = new RunPanel(this);
    m_sideTabs = new QTabWidget(this);
    m_sideTabs->addTab(m_task, tr("Task"));
    m_sideTabs->addTab(m_picker, tr("Layers"));
    m_sideTabs->addTab(m_run, tr("Run"));
    auto *side = new QDockWidget(tr("Transfer"), this);
    side->setObjectName(QStringLiteral("transferDock"));
    side->setWidget(m_sideTabs);
    addDockWidget(Qt::RightDockWidgetArea, side);

    // Jobs and log at the bottom.
    m_jobsPanel = new JobsPanel(m_jobs, this);
    m_log = new LogPanel(this);
    m_bottomTabs = new QTabWidget(this);
    m_bottomTabs->addTab(m_jobsPanel, tr("Jobs"));
    m_bottomTabs->addTab(m_log, tr("Log"));
    auto *bottom = new QDockWidget(tr("Jobs and log"), this);
    bottom->setObjectName(QStringLiteral("jobsDock"));
    bottom->setWidget(m_bottomTabs);
    addDockWidget(Qt::BottomDockWidgetArea, bottom);

    // Engine -> window.
    connect(m_engine, &WorkbenchEngine::jobQueued, m_jobs, &JobListModel::jobQueued);
    connect(m_engine, &WorkbenchEngine::jobStarted, m_jobs, &JobListModel::jobStarted);
    connect(m_engine, &WorkbenchEngine::jobProgress, m_jobs, &JobListModel::jobProgress);
    connect(m_engine, &WorkbenchEngine::jobFinished, m_jobs, &JobListModel::jobFinished);
    connect(m_engine, &WorkbenchEngine::jobFinished, this, [this](int job, const JobOutcome &outcome) {
        if (m_pending && m_pending->job == job) {
            if (outcome.state != JobState::Done) {
                // The pair did not load: the pane shows its previous model again.
                if (m_pending->previous)
                    m_pending->pane->setModelInfo(*m_pending->previous);
                showError(tr("Cannot use this model pair"), outcome.message);
            }
            m_pending.reset();
        } else if (outcome.state == JobState::Failed) {
            showError(tr("Job failed"), outcome.message);
        }
    });
    connect(m_engine, &WorkbenchEngine::logMessage, m_log, &LogPanel::append);
    connect(m_engine, &WorkbenchEngine::pairLoaded, this, &MainWindow::onPairLoaded);
    connect(m_engine, &WorkbenchEngine::taskLoaded, m_task, &TaskPanel::setSummary);
    connect(m_engine, &WorkbenchEngine::sensitivityUpdated, this, &MainWindow::onSensitivity);
    connect(m_engine, &WorkbenchEngine::similarityUpdated, this, &MainWindow::onSimilarity);
    connect(m_engine, &WorkbenchEngine::reductionPreviewed, this, [this](const ReductionPreview &p) {
        ScoreMapImage image;
        image.title = tr("teacher layer %1 · %2 (%3)").arg(p.teacherLayer).arg(p.module, p.parameter);
        image.fullRows = p.fullRows;
        image.fullColumns = p.fullColumns;
        image.imageRows = p.imageRows;
        image.imageColumns = p.imageColumns;
        image.values = p.image;
        KeptRegion kept;
        kept.isWindow = p.isWindow;
        kept.rowStart = p.rowStart;
        kept.rowCount = p.rowCount;
        kept.columnStart = p.columnStart;
        kept.columnCount = p.columnCount;
        kept.rows = p.rows;
        kept.columns = p.columns;
        kept.targetRows = p.targetRows;
        kept.targetColumns = p.targetColumns;
        m_dimension->setScoreMap(image);
        m_dimension->setKept(kept);
        statusBar()->showMessage(tr("%1: the %2 keeps %3 % of the matrix's score")
                                     .arg(p.parameter, p.structure)
                                     .arg(100.0 * p.keptShare, 0, 'f', 1),
                                 8000);
    });
    connect(m_engine, &WorkbenchEngine::trainingProgressed, m_run, &RunPanel::showTrainingProgress);
    connect(m_engine, &WorkbenchEngine::runFinished, m_run, &RunPanel::addRun);
    connect(m_engine, &WorkbenchEngine::controlsFinished, m_run, &RunPanel::showControls);
    connect(m_engine, &WorkbenchEngine::sessionOpened, this, [this](const SessionSummary &session) {
        if (!session.recipe.isEmpty()) {
            try {
                const auto settings =
                    recipeSettings(TransferRecipe::fromJson(session.recipe, session.path.toStdString()));
                m_task->loadFrom(settings);
                m_picker->loadFrom(settings);
                m_run->loadFrom(settings);
            } catch (const Error &e) {
                m_log->append({LogLevel::Warning, QString::fromUtf8(e.what()), session.path});
            }
        }
        if (!session.selection.empty())
            m_selection->setManual(session.selection);
        statusBar()->showMessage(tr("Session %1 opened (%2 runs recorded)").arg(session.path).arg(session.runs.size()));
    });

    // Window -> engine.
    connect(m_task, &TaskPanel::loadRequested, this, [this] { loadTask(); });
    connect(m_picker, &PickerPanel::computeRequested, this, [this] { computeSensitivity(); });
    connect(m_picker, &PickerPanel::structureChanged, this, &MainWindow::requestReduction);
    connect(m_run, &RunPanel::runRequested, this, [this] { runTransfer(); });
    connect(m_run, &RunPanel::evaluateRequested, this, [this] { evaluateStudent(); });
    connect(m_run, &RunPanel::controlsRequested, this, [this] { runControls(); });
    connect(m_jobsPanel, &JobsPanel::cancelRequested, m_engine, &WorkbenchEngine::cancel);
    connect(m_log, &LogPanel::targetActivated, this, &MainWindow::goToTarget);

    // Selection <-> views.
    connect(m_selection, &LayerSelectionModel::changed, this, &MainWindow::onSelectionChanged);
    connect(m_selection, &LayerSelectionModel::refused, this,
            [this](const QString &reason) { statusBar()->showMessage(reason, 8000); });
    connect(m_teacherHeatmap, &HeatmapView::rowClicked, this, &MainWindow::onHeatmapRow);
    connect(m_alignment, &AlignmentView::rowClicked, this, [this](int layer) { m_selection->toggle(layer); });
    connect(m_heatmapMode, &QComboBox::currentIndexChanged, this, [this] {
        redrawHeatmap(Side::Teacher);
        redrawHeatmap(Side::Student);
    });
    connect(m_dimensionLayer, &QComboBox::currentIndexChanged, this, &MainWindow::requestReduction);
    connect(m_dimensionModule, &QComboBox::currentIndexChanged, this, &MainWindow::requestReduction);

    for (auto *pane : {m_teacher, m_student}) {
        connect(pane, &ModelPane::openRequested, this, [this, pane] { chooseFolder(pane); });
        connect(pane, &ModelPane::folderDropped, this, [this, pane](const QString &dir) { openModel(pane, dir); });
        connect(pane, &ModelPane::modelChanged, this, [this](const QString &folder) { rememberRecent(folder); });
    }
    buildMenus();
    resize(1600, 1000);
    statusBar()->showMessage(tr("Open a teacher and a student model folder."));
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus()
{
    auto *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &Teacher…"), QKeySequence(tr("Ctrl+T")), this, [this] { chooseFolder(m_teacher); });
    file->addAction(tr("Open &Student…"), QKeySequence(tr("Ctrl+Shift+S")), this, [this] { chooseFolder(m_student); });
    m_recentTeacher = file->addMenu(tr("Recent as Teacher"));
    m_recentStudent = file->addMenu(tr("Recent as Student"));
    file->addSeparator();
    file->addAction(tr("&Open Session…"), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open session"), {}, tr("Nugget sessions (*.h5)"));
        if (!path.isEmpty())
            openSession(path);
    });
    file->addAction(tr("Save Session &As…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save session"), QStringLiteral("session.h5"),
                                                          tr("Nugget sessions (*.h5)"));
        if (!path.isEmpty())
            saveSession(path);
    });
    file->addSeparator();
    file->addAction(tr("Export &Adapter (PEFT)…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the adapter"));
        if (!dir.isEmpty())
            exportAdapter(dir);
    });
    file->addAction(tr("Export &Merged Model…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the merged model"));
        if (!dir.isEmpty())
            exportMerged(dir);
    });
    file->addAction(tr("Export &Plots…"), this, [this] {
        QString filter;
        const QString path = QFileDialog::getSaveFileName(this, tr("Export every plot (the name picks the folder and format)"),
                                                          QStringLiteral("plots.png"),
                                                          tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"), &filter);
        if (path.isEmpty())
            return;
        QString error;
        const auto written = exportPlots(QFileInfo(path).absolutePath(), QFileInfo(path).suffix(), &error);
        if (!error.isEmpty())
            showError(tr("Cannot export the plots"), error);
        else
            statusBar()->showMessage(tr("%1 plots written to %2").arg(written.size()).arg(QFileInfo(path).absolutePath()));
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    rebuildRecentMenu();

    auto *run = menuBar()->addMenu(tr("&Run"));
    run->addAction(tr("Load &Task"), this, [this] { loadTask(); });
    run->addAction(tr("Compute &Sensitivity"), QKeySequence(tr("F5")), this, [this] { computeSensitivity(); });
    run->addAction(tr("&Inject, Train and Evaluate"), QKeySequence(tr("F6")), this, [this] { runTransfer(); });
    run->addAction(tr("&Evaluate Student"), this, [this] { evaluateStudent(); });
    run->addAction(tr("Run the &Controls"), QKeySequence(tr("F7")), this, [this] { runControls(); });
    run->addSeparator();
    run->addAction(tr("Cancel &All Jobs"), QKeySequence(tr("Esc")), m_engine, &WorkbenchEngine::cancelAll);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    // Stops the running job at its next sample or step; outputs are only ever renamed
    // into place complete, so nothing half-written stays behind.
    m_engine->cancelAll();
    event->accept();
}

void MainWindow::showError(const QString &title, const QString &message)
{
    m_lastError = message;
    statusBar()->showMessage(message);
    m_bottomTabs->setCurrentWidget(m_log);
    if (m_interactive) {
        auto *box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();   // not exec(): the window keeps running
    }
}

bool MainWindow::openModel(ModelPane *pane, const QString &dir)
{
    const auto previous = pane->modelInfo();
    const QString error = pane->openFolder(dir);
    if (!error.isEmpty()) {
        m_log->append({LogLevel::Error, error, dir});
        showError(tr("Cannot open %1 model").arg(pane->role().toLower()), error);
        return false;
    }
    if (m_teacher->modelInfo() && m_student->modelInfo()) {
        const int job = m_engine->loadPair(QString::fromStdString(m_teacher->modelInfo()->folder),
                                           QString::fromStdString(m_student->modelInfo()->folder));
        m_pending = PendingPair{job, pane, previous};
    }
    return true;
}

void MainWindow::chooseFolder(ModelPane *pane)
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open %1 model folder").arg(pane->role().toLower()));
    if (!dir.isEmpty())
        openModel(pane, dir);
}

void MainWindow::rememberRecent(const QString &dir)
{
    QSettings settings;
    auto recent = settings.value(kRecentKey).toStringList();
    recent.removeAll(dir);
    recent.prepend(dir);
    settings.setValue(kRecentKey, recent.mid(0, kRecentCount));
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    if (!m_recentTeacher)
        return;
    const auto recent = QSettings().value(kRecentKey).toStringList();
    for (auto [menu, pane] : {std::pair{m_recentTeacher, m_teacher}, std::pair{m_recentStudent, m_student}}) {
        menu->clear();
        for (const auto &dir : recent)
            menu->addAction(dir, this, [this, pane = pane, dir] { openModel(pane, dir); });
        menu->setEnabled(!recent.isEmpty());
    }
}

void MainWindow::setBaseRecipe(const TransferRecipe &recipe)
{
    *m_baseRecipe = recipe;
    const auto settings = recipeSettings(recipe);
    m_task->loadFrom(settings);
    m_picker->loadFrom(settings);
    m_run->loadFrom(settings);
}

TransferRecipe MainWindow::currentRecipe() const
{
    TransferRecipe recipe = *m_baseRecipe;
    if (m_teacher->modelInfo())
        recipe.teacher = m_teacher->modelInfo()->folder;
    if (m_student->modelInfo())
        recipe.student = m_student->modelInfo()->folder;
    auto settings = recipeSettings(recipe);
    m_task->applyTo(settings);
    m_picker->applyTo(settings);
    m_run->applyTo(settings);
    applySettings(settings, recipe);
    recipe.training.seed = recipe.seed;
    return recipe;
}

int MainWindow::loadTask() { return m_engine->loadTask(m_task->files(), m_task->maxLength()); }

int MainWindow::computeSensitivity()
{
    m_heatmapTabs->setCurrentWidget(m_teacherHeatmap);
    return m_engine->computeSensitivity(m_picker->sensitivityRequest(m_task->maxLength()));
}

int MainWindow::runTransfer()
{
    const auto recipe = currentRecipe();
    if (recipe.init == "transfer" && !m_selection->isComplete()) {
        const QString message = m_selection->message();
        m_log->append({LogLevel::Error, tr("Cannot inject: %1").arg(message), QStringLiteral("settings/layers")});
        showError(tr("Layer choice incomplete"), message);
        return 0;
    }
    m_run->lossChart()->clearAll();
    showView(QStringLiteral("loss"));
    return m_engine->runTransfer(recipe, QString::fromStdString(recipe.init));
}

int MainWindow::runControls()
{
    const auto seeds = m_run->controlSeeds();
    if (seeds.empty()) {
        m_log->append({LogLevel::Error, tr("The seeds of the controls must be a comma-separated list of numbers"),
                       QStringLiteral("settings/control_seeds")});
        showError(tr("Bad seeds"), tr("The seeds of the controls must be a comma-separated list of numbers."));
        return 0;
    }
    m_run->startControls();
    showView(QStringLiteral("loss"));
    return m_engine->runControls(currentRecipe(), seeds, m_run->includeVanilla());
}

int MainWindow::evaluateStudent() { return m_engine->evaluateStudent(currentRecipe()); }

int MainWindow::saveSession(const QString &path)
{
    return m_engine->saveSession(path, currentRecipe(), m_selection->chosenLayers(), m_selection->strategyName());
}

int MainWindow::openSession(const QString &path) { return m_engine->openSession(path); }
int MainWindow::exportAdapter(const QString &dir) { return m_engine->exportAdapter(dir); }
int MainWindow::exportMerged(const QString &dir) { return m_engine->exportMerged(dir); }

QStringList MainWindow::exportPlots(const QString &dir, const QString &suffix, QString *error)
{
    QStringList written;
    auto write = [&](const QString &name, auto &&exporter) {
        const QString path = QDir(dir).filePath(name + QLatin1Char('.') + suffix);
        QString problem;
        if (exporter(path, &problem))
            written << path;
        else if (error && error->isEmpty())
            *error = problem;
    };
    write(QStringLiteral("teacher-sensitivity"), [this](const QString &p, QString *e) { return m_teacherHeatmap->exportTo(p, e); });
    if (m_studentGrid)
        write(QStringLiteral("student-sensitivity"), [this](const QString &p, QString *e) { return m_studentHeatmap->exportTo(p, e); });
    write(QStringLiteral("layer-alignment"), [this](const QString &p, QString *e) { return m_alignment->exportTo(p, e); });
    write(QStringLiteral("dimension-alignment"), [this](const QString &p, QString *e) { return m_dimension->exportTo(p, e); });
    write(QStringLiteral("training-loss"), [this](const QString &p, QString *e) { return m_run->lossChart()->exportTo(p, e); });
    write(QStringLiteral("controls"), [this](const QString &p, QString *e) { return m_run->comparisonChart()->saveScores(p, e); });
    return written;
}

void MainWindow::showView(const QString &name)
{
    if (name == QLatin1String("heatmap"))
        m_heatmapTabs->setCurrentWidget(m_teacherHeatmap);
    else if (name == QLatin1String("student-heatmap"))
        m_heatmapTabs->setCurrentWidget(m_studentHeatmap);
    else if (name == QLatin1String("layer-alignment"))
        m_alignmentTabs->setCurrentIndex(0);
    else if (name == QLatin1String("dimension"))
        m_alignmentTabs->setCurrentIndex(1);
    else if (name == QLatin1String("task"))
        m_sideTabs->setCurrentWidget(m_task);
    else if (name == QLatin1String("layers"))
        m_sideTabs->setCurrentWidget(m_picker);
    else if (name == QLatin1String("loss") || name == QLatin1String("runs") || name == QLatin1String("controls")) {
        m_sideTabs->setCurrentWidget(m_run);
        if (auto *tabs = m_run->findChild<QTabWidget *>(QStringLiteral("runTabs")))
            tabs->setCurrentIndex(name == QLatin1String("loss") ? 0 : name == QLatin1String("runs") ? 1 : 2);
    } else if (name == QLatin1String("jobs"))
        m_bottomTabs->setCurrentWidget(m_jobsPanel);
    else if (name == QLatin1String("log"))
        m_bottomTabs->setCurrentWidget(m_log);
}

void MainWindow::onPairLoaded(const PairSummary &pair)
{
    const auto runtime = [&pair](qint64 bytes) {
        return tr("In memory on %1 as %2: %3.")
            .arg(pair.device, pair.dtype, QString::fromStdString(byteSizeText(double(bytes))));
    };
    m_teacher->setRuntime(pair.teacherMapped
                              ? tr("On disk, memory-mapped (%1): too large for half of this machine's memory. "
                                   "Sensitivity and layer similarity stream it one layer at a time.")
                                    .arg(QString::fromStdString(byteSizeText(double(pair.teacherBytes))))
                              : runtime(pair.teacherBytes));
    m_student->setRuntime(runtime(pair.studentBytes));
    m_teacherGrid.reset();
    m_studentGrid.reset();
    m_selection->setLayerCounts(pair.teacherLayers, pair.studentLayers);
    SimilarityGrid empty;
    empty.teacherLayers = pair.teacherLayers;
    empty.studentLayers = pair.studentLayers;
    empty.values.assign(size_t(pair.teacherLayers) * size_t(pair.studentLayers), std::nan(""));
    auto waiting = similarityData(empty);
    waiting.title = tr("linear CKA (computed with the sensitivity)");
    m_alignment->setSimilarity(waiting);
    m_alignment->setMapping(m_selection->mapping());
    m_teacherHeatmap->setData({});
    m_studentHeatmap->setData({});
    m_dimension->clear();
    {
        const QSignalBlocker block(m_dimensionLayer);
        m_dimensionLayer->clear();
        for (int l = 0; l < pair.teacherLayers; ++l)
            m_dimensionLayer->addItem(QString::number(l), l);
    }
    m_run->clearRuns();
    statusBar()->showMessage(tr("Teacher (%1 layers) and student (%2 layers) loaded.").arg(pair.teacherLayers).arg(pair.studentLayers));
    Q_EMIT pairReady();
}

void MainWindow::onSensitivity(const ScoreGrid &grid)
{
    if (grid.side == Side::Student)
        m_studentGrid = grid;
    else
        m_teacherGrid = grid;
    redrawHeatmap(grid.side);
    m_heatmapStatus->setText(tr("%1: %2 of %3 seed samples%4")
                                 .arg(QLatin1String(sideName(grid.side)))
                                 .arg(grid.sample)
                                 .arg(grid.samples)
                                 .arg(grid.complete ? tr(", done") : tr(", last loss %1").arg(grid.loss, 0, 'f', 3)));
    if (grid.side == Side::Teacher && grid.complete) {
        m_selection->setLayerScores(grid.layerTotals);
        requestReduction();
    }
}

void MainWindow::redrawHeatmap(Side side)
{
    const bool mean = m_heatmapMode->currentIndex() == 1;
    if (side == Side::Teacher && m_teacherGrid)
        m_teacherHeatmap->setData(heatmapData(*m_teacherGrid, mean));
    else if (side == Side::Student && m_studentGrid)
        m_studentHeatmap->setData(heatmapData(*m_studentGrid, mean));
}

void MainWindow::onSimilarity(const SimilarityGrid &grid) { m_alignment->setSimilarity(similarityData(grid)); }

void MainWindow::onSelectionChanged()
{
    QSet<int> rows;
    for (const auto layer : m_selection->chosen())
        rows.insert(layer + 1);   // row 0 is the embedding
    m_teacherHeatmap->setSelectedRows(rows);
    m_alignment->setMapping(m_selection->mapping());
    // The dimension view follows the first chosen layer unless the user picked one.
    if (!m_selection->chosen().empty() && m_dimensionLayer->count() > 0) {
        const int first = *m_selection->chosen().begin();
        if (!m_selection->chosen().count(m_dimensionLayer->currentData().toInt()))
            m_dimensionLayer->setCurrentIndex(first);
    }
}

void MainWindow::onHeatmapRow(int row)
{
    const int layer = row - 1;
    if (layer < 0 || layer >= m_selection->teacherLayers()) {
        statusBar()->showMessage(tr("The embedding and head rows are not layers; choose the origin \"embedding\" to "
                                    "transfer the embedding."),
                                 8000);
        return;
    }
    m_selection->toggle(layer);
}

void MainWindow::requestReduction()
{
    if (!m_teacherGrid || !m_teacherGrid->complete || m_dimensionLayer->count() == 0)
        return;
    m_engine->previewReduction(m_dimensionLayer->currentData().toInt(), m_dimensionModule->currentText(),
                               m_picker->structure(), m_picker->seed());
}

void MainWindow::goToTarget(const QString &target)
{
    if (target.startsWith(QLatin1String("settings/")) || target.startsWith(QLatin1String("task/"))) {
        if (auto *widget = findChild<QWidget *>(target)) {
            for (auto *panel : {static_cast<QWidget *>(m_task), static_cast<QWidget *>(m_picker), static_cast<QWidget *>(m_run)})
                if (panel->isAncestorOf(widget))
                    m_sideTabs->setCurrentWidget(panel);
            widget->setFocus();
            return;
        }
    }
    if (m_task->focusFile(target)) {
        m_sideTabs->setCurrentWidget(m_task);
        return;
    }
    statusBar()->showMessage(target);
}

} // namespace nugget
