#include "panels/TaskPanel.h"

#include "EngineRequests.h"
#include "transfer/RecipeChoices.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextBrowser>
#include <QToolButton>
#include <QVBoxLayout>

namespace nugget {

TaskPanel::TaskPanel(QWidget *parent) : QWidget(parent)
{
    auto *form = new QFormLayout;
    m_seeds = fileField(QStringLiteral("task/seeds"), tr("Seed samples"), form);
    m_train = fileField(QStringLiteral("task/train"), tr("Training set"), form);
    m_eval = fileField(QStringLiteral("task/eval"), tr("Evaluation set"), form);
    m_metric = new QComboBox(this);
    m_metric->setObjectName(QStringLiteral("settings/eval_metric"));
    for (const auto &name : recipeEvalMetrics().names())
        m_metric->addItem(QString::fromStdString(name));
    m_metric->setToolTip(tr("How an evaluation answer is scored"));
    form->addRow(tr("Metric"), m_metric);
    m_maxLength = new QSpinBox(this);
    m_maxLength->setObjectName(QStringLiteral("settings/max_length"));
    m_maxLength->setRange(16, 1 << 16);
    m_maxLength->setValue(256);
    m_maxLength->setSuffix(tr(" tokens"));
    m_maxLength->setToolTip(tr("Samples longer than this are cut (seeds, training and evaluation)"));
    form->addRow(tr("Max length"), m_maxLength);

    auto *load = new QPushButton(tr("Load task"), this);
    connect(load, &QPushButton::clicked, this, &TaskPanel::loadRequested);
    m_counts = new QLabel(tr("No task loaded."), this);
    m_counts->setWordWrap(true);
    m_preview = new QTextBrowser(this);
    m_preview->setPlaceholderText(tr("Seed samples appear here once the task is loaded."));

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(load);
    layout->addWidget(m_counts);
    layout->addWidget(m_preview, 1);
}

QLineEdit *TaskPanel::fileField(const QString &key, const QString &label, QFormLayout *form)
{
    auto *edit = new QLineEdit(this);
    edit->setObjectName(key);
    edit->setPlaceholderText(tr("JSONL file of chat samples"));
    auto *browse = new QToolButton(this);
    browse->setText(QStringLiteral("…"));
    browse->setToolTip(tr("Choose the %1 file").arg(label.toLower()));
    connect(browse, &QToolButton::clicked, this, [this, edit, label] {
        const QString file = QFileDialog::getOpenFileName(this, label, edit->text(), tr("JSON Lines (*.jsonl);;All files (*)"));
        if (!file.isEmpty())
            edit->setText(file);
    });
    auto *row = new QHBoxLayout;
    row->addWidget(edit, 1);
    row->addWidget(browse);
    form->addRow(label, row);
    return edit;
}

TaskFiles TaskPanel::files() const
{
    return {m_seeds->text().trimmed(), m_train->text().trimmed(), m_eval->text().trimmed(), m_metric->currentText()};
}

void TaskPanel::setFiles(const TaskFiles &files)
{
    m_seeds->setText(files.seeds);
    m_train->setText(files.train);
    m_eval->setText(files.eval);
    m_metric->setCurrentText(files.metric);
}

int TaskPanel::maxLength() const { return m_maxLength->value(); }

void TaskPanel::applyTo(RecipeSettings &recipe) const
{
    const auto f = files();
    recipe.seeds = f.seeds;
    recipe.train = f.train;
    recipe.eval = f.eval;
    recipe.evalMetric = f.metric;
    recipe.maxLength = m_maxLength->value();
}

void TaskPanel::loadFrom(const RecipeSettings &recipe)
{
    setFiles({recipe.seeds, recipe.train,
              recipe.eval, recipe.evalMetric});
    m_maxLength->setValue(int(recipe.maxLength));
}

void TaskPanel::setSummary(const TaskSummary &summary)
{
    m_counts->setText(tr("%1 seed samples (longest %2 tokens%3), %4 training, %5 evaluation samples.")
                          .arg(summary.seeds)
                          .arg(summary.longestSeedTokens)
                          .arg(summary.truncatedSeeds ? tr(", %1 cut").arg(summary.truncatedSeeds) : QString())
                          .arg(summary.train)
                          .arg(summary.eval));
    QString html;
    for (const auto &sample : summary.preview) {
        html += QStringLiteral("<p><b>%1</b> <small>(%2 prompt + %3 answer tokens)</small><br>")
                    .arg(sample.id.toHtmlEscaped())
                    .arg(sample.promptTokens)
                    .arg(sample.answerTokens);
        html += QStringLiteral("<span style='color:#555'>%1</span>")
                    .arg(sample.prompt.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
        // The loss is taken on these tokens only.
        html += QStringLiteral("<span style='background:#ffe08a;font-weight:bold'>%1</span></p>")
                    .arg(sample.answer.toHtmlEscaped());
    }
    m_preview->setHtml(html);
}

QString TaskPanel::previewHtml() const { return m_preview->toHtml(); }

bool TaskPanel::focusFile(const QString &path)
{
    for (auto *edit : {m_seeds, m_train, m_eval})
        if (!path.isEmpty() && edit->text() == path) {
            edit->setFocus();
            edit->selectAll();
            return true;
        }
    return false;
}

} // namespace nugget
