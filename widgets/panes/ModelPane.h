#pragma once
// One model slot of the workbench (teacher or student): what the model is, where it
// lives, its size, and a tree of its layers and modules with shapes. Accepts a model
// folder dropped onto it.

#include "ModelFolderSummary.h"

#include <QString>

#include <QWidget>

#include <functional>
#include <optional>

class QLabel;
class QTreeView;

namespace nugget {

class ModelStructureModel;

class ModelPane : public QWidget
{
    Q_OBJECT

public:
    // Reads a model folder for openFolder; throws std::exception with a message naming
    // the folder when it cannot. The application sets it once (readModelFolderSummary of
    // the workbench library), so the pane needs no core library.
    using FolderReader = std::function<ModelFolderSummary(const QString &dir)>;
    static void setFolderReader(FolderReader reader);

    explicit ModelPane(const QString &role, QWidget *parent = nullptr);

    // Reads the folder and checks it as loading does (names and shapes of the weights
    // against config.json, the tokenizer). On error, or when the folder has problems,
    // keeps the current model, lists the problems in the pane and returns them, a line
    // each (empty on success).
    QString openFolder(const QString &dir);
    // The problems shown for the folder last opened, empty when it had none.
    QStringList problems() const { return m_problemList; }
    void setModelInfo(const ModelFolderSummary &info);
    const std::optional<ModelFolderSummary> &modelInfo() const { return m_info; }
    QString role() const { return m_role; }
    // Where and in which precision the engine holds the model, once loaded.
    void setRuntime(const QString &text);

Q_SIGNALS:
    void modelChanged(const QString &folder);
    void openFailed(const QString &message);
    void openRequested();
    // A folder was dropped on the pane; the window decides whether it can be opened.
    void folderDropped(const QString &dir);

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void showSummary();
    void showProblems(const QString &dir, const QStringList &problems);

    QString m_role;
    std::optional<ModelFolderSummary> m_info;
    QLabel *m_title = nullptr;
    QLabel *m_summary = nullptr;
    QLabel *m_runtime = nullptr;
    QLabel *m_problems = nullptr;
    QStringList m_problemList;
    QTreeView *m_tree = nullptr;
    ModelStructureModel *m_structure = nullptr;
};

} // namespace nugget
