#pragma once
// The task: seed, training and evaluation files (JSONL chat samples), the evaluation
// metric and the token limit, with a preview of a few rendered seed samples whose
// answer (the tokens the loss is taken on) is highlighted.

#include "EngineResults.h"

#include <QWidget>

class QComboBox;
class QFormLayout;
class QLineEdit;
class QSpinBox;
class QTextBrowser;
class QLabel;

namespace nugget {

struct RecipeSettings;

class TaskPanel : public QWidget
{
    Q_OBJECT

public:
    explicit TaskPanel(QWidget *parent = nullptr);

    TaskFiles files() const;
    void setFiles(const TaskFiles &files);
    int maxLength() const;
    void applyTo(RecipeSettings &recipe) const;   // files, metric, max_length
    void loadFrom(const RecipeSettings &recipe);
    void setSummary(const TaskSummary &summary);
    QString previewHtml() const;
    // Focuses the field showing `path` (a log entry's target); false when none does.
    bool focusFile(const QString &path);

Q_SIGNALS:
    void loadRequested();

private:
    QLineEdit *fileField(const QString &key, const QString &label, QFormLayout *form);

    QLineEdit *m_seeds = nullptr, *m_train = nullptr, *m_eval = nullptr;
    QComboBox *m_metric = nullptr;
    QSpinBox *m_maxLength = nullptr;
    QLabel *m_counts = nullptr;
    QTextBrowser *m_preview = nullptr;
};

} // namespace nugget
