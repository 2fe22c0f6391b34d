#include "MainWindow.h"

#include "panes/ModelPane.h"

#include <QAction>
#include <QApplication>
#include <QFileDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>

namespace nugget {

namespace {
const auto kRecentKey = QStringLiteral("recentModelFolders");
constexpr int kRecentCount = 8;
} // namespace

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    setWindowTitle(tr("Nugget: parametric knowledge transfer workbench"));
    m_teacher = new ModelPane(tr("Teacher"), this);
    m_student = new ModelPane(tr("Student"), this);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_teacher);
    splitter->addWidget(m_student);
    setCentralWidget(splitter);

    for (auto *pane : {m_teacher, m_student}) {
        connect(pane, &ModelPane::openRequested, this, [this, pane] { chooseFolder(pane); });
        connect(pane, &ModelPane::modelChanged, this, [this, pane](const QString &folder) {
            rememberRecent(folder);
            statusBar()->showMessage(tr("%1: %2").arg(pane->role(), folder), 5000);
        });
        connect(pane, &ModelPane::openFailed, this,
                [this](const QString &message) { statusBar()->showMessage(message); });
    }

    auto *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &Teacher…"), QKeySequence(tr("Ctrl+T")), this, [this] { chooseFolder(m_teacher); });
    file->addAction(tr("Open &Student…"), QKeySequence(tr("Ctrl+S")), this, [this] { chooseFolder(m_student); });
    m_recentTeacher = file->addMenu(tr("Recent as Teacher"));
    m_recentStudent = file->addMenu(tr("Recent as Student"));
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::closeAllWindows);
    rebuildRecentMenu();

    resize(1280, 800);
    statusBar()->showMessage(tr("Open a teacher and a student model folder."));
}

bool MainWindow::openModel(ModelPane *pane, const QString &dir, bool quiet)
{
    const QString error = pane->openFolder(dir);
    if (error.isEmpty())
        return true;
    if (!quiet)
        QMessageBox::warning(this, tr("Cannot open %1 model").arg(pane->role().toLower()), error);
    return false;
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
    const auto recent = QSettings().value(kRecentKey).toStringList();
    for (auto [menu, pane] : {std::pair{m_recentTeacher, m_teacher}, std::pair{m_recentStudent, m_student}}) {
        menu->clear();
        for (const auto &dir : recent)
            menu->addAction(dir, this, [this, pane = pane, dir] { openModel(pane, dir); });
        menu->setEnabled(!recent.isEmpty());
    }
}

} // namespace nugget
