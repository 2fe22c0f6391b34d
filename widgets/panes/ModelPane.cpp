#include "panes/ModelPane.h"

#include "models/ModelStructureModel.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMimeData>
#include <QPushButton>
#include <QTreeView>
#include <QVBoxLayout>

#include <stdexcept>

namespace nugget {

namespace {

ModelPane::FolderReader &folderReader()
{
    static ModelPane::FolderReader reader;
    return reader;
}

} // namespace

void ModelPane::setFolderReader(FolderReader reader) { folderReader() = std::move(reader); }

ModelPane::ModelPane(const QString &role, QWidget *parent) : QWidget(parent), m_role(role)
{
    setAcceptDrops(true);
    m_title = new QLabel(this);
    m_title->setTextFormat(Qt::RichText);
    m_summary = new QLabel(this);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_summary->setWordWrap(true);
    auto *openButton = new QPushButton(tr("Open %1 model…").arg(role.toLower()), this);
    connect(openButton, &QPushButton::clicked, this, &ModelPane::openRequested);

    m_structure = new ModelStructureModel(this);
    m_tree = new QTreeView(this);
    m_tree->setModel(m_structure);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setSectionResizeMode(ModelStructureModel::NameColumn, QHeaderView::Stretch);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addWidget(m_summary);
    m_runtime = new QLabel(this);
    m_runtime->setWordWrap(true);
    layout->addWidget(m_runtime);
    m_problems = new QLabel(this);
    m_problems->setObjectName(QStringLiteral("problems"));
    m_problems->setWordWrap(true);
    m_problems->setTextFormat(Qt::PlainText);
    m_problems->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_problems->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_problems->hide();
    layout->addWidget(m_problems);
    layout->addWidget(openButton, 0, Qt::AlignLeft);
    layout->addWidget(m_tree, 1);
    showSummary();
}

QString ModelPane::openFolder(const QString &dir)
{
    QStringList problems;
    try {
        if (!folderReader())
            throw std::runtime_error(dir.toStdString() + ": no reader of model folders is set");
        const auto info = folderReader()(dir);
        if (info.problems.empty()) {
            setModelInfo(info);
            return {};
        }
        for (const auto &problem : info.problems)
            problems << QString::fromStdString(problem);
    } catch (const std::exception &e) {
        problems << QString::fromUtf8(e.what()).split(u'\n');
    }
    showProblems(dir, problems);
    const QString message = problems.join(u'\n');
    Q_EMIT openFailed(message);
    return message;
}

void ModelPane::showProblems(const QString &dir, const QStringList &problems)
{
    m_problemList = problems;
    if (problems.isEmpty()) {
        m_problems->clear();
        m_problems->hide();
        return;
    }
    QString text = tr("%n problem(s) in %1; it cannot be used:", nullptr, static_cast<int>(problems.size())).arg(dir);
    for (const auto &problem : problems)
        text += QStringLiteral("\n\u2022 ") + problem;
    m_problems->setText(text);
    m_problems->show();
}

void ModelPane::setModelInfo(const ModelFolderSummary &info)
{
    QStringList problems;
    for (const auto &problem : info.problems)
        problems << QString::fromStdString(problem);
    showProblems(QString::fromStdString(info.folder), problems);
    m_info = info;
    m_structure->setModelInfo(info);
    m_tree->expandToDepth(0);
    showSummary();
    Q_EMIT modelChanged(QString::fromStdString(info.folder));
}

void ModelPane::setRuntime(const QString &text) { m_runtime->setText(text); }

void ModelPane::showSummary()
{
    if (!m_info) {
        m_title->setText(tr("<b>%1</b>: no model").arg(m_role));
        m_summary->setText(tr("Open a Hugging Face model folder (config.json, model.safetensors, "
                              "tokenizer.model) or drop one here."));
        return;
    }
    const auto &c = m_info->config;
    const auto name = QFileInfo(QString::fromStdString(m_info->folder)).fileName();
    m_title->setText(tr("<b>%1</b>: %2").arg(m_role, name.toHtmlEscaped()));
    QStringList dtypes;
    for (const auto &tensor : m_info->tensors)
        if (!dtypes.contains(QString::fromStdString(tensor.dtypeName)))
            dtypes << QString::fromStdString(tensor.dtypeName);
    const QLocale locale;
    m_summary->setText(
        tr("%1\n%2: %3 layers, hidden %4, intermediate %5, %6 heads (%7 key/value, head dim %8), vocab %9\n"
           "%10 parameters (%13 as float32), stored as %11 (%12 on disk)")
            .arg(QString::fromStdString(m_info->folder), QString::fromStdString(c.architecture))
            .arg(c.numHiddenLayers)
            .arg(c.hiddenSize)
            .arg(c.intermediateSize)
            .arg(c.numAttentionHeads)
            .arg(c.numKeyValueHeads)
            .arg(c.headDim)
            .arg(c.vocabSize)
            .arg(locale.toString(static_cast<qint64>(c.parameterCount())), dtypes.join(u'/'),
                 QString::fromStdString(m_info->storedBytesText), QString::fromStdString(m_info->float32BytesText)));
}

void ModelPane::dragEnterEvent(QDragEnterEvent *event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() && QFileInfo(urls.first().toLocalFile()).isDir())
        event->acceptProposedAction();
}

void ModelPane::dropEvent(QDropEvent *event)
{
    Q_EMIT folderDropped(event->mimeData()->urls().first().toLocalFile());
}

} // namespace nugget
