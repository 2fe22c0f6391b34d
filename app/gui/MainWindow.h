#pragma once
// The workbench window: teacher on the left, student on the right.

#include <QMainWindow>

class QMenu;

namespace nugget {

class ModelPane;

class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);

    ModelPane *teacherPane() const { return m_teacher; }
    ModelPane *studentPane() const { return m_student; }
    // Opens a folder into a pane; errors go to the status bar and a message box
    // (unless quiet), and the pane keeps its previous model.
    bool openModel(ModelPane *pane, const QString &dir, bool quiet = false);

private:
    void chooseFolder(ModelPane *pane);
    void rememberRecent(const QString &dir);
    void rebuildRecentMenu();

    ModelPane *m_teacher = nullptr;
    ModelPane *m_student = nullptr;
    QMenu *m_recentTeacher = nullptr;
    QMenu *m_recentStudent = nullptr;
};

} // namespace nugget
