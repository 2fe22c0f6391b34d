#include "panels/PickerPanel.h"

#include "models/LayerSelectionModel.h"
#include "EngineRequests.h"
#include "transfer/RecipeChoices.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

namespace nugget {

namespace {
// The names of a recipe choice, as its table lists them.
template <typename E>
QStringList names(const ChoiceTable<E> &table)
{
    QStringList list;
    for (const auto &name : table.names())
        list << QString::fromStdString(name);
    return list;
}

QComboBox *combo(QWidget *parent, const QString &key, const QStringList &items, const QString &tip)
{
    auto *box = new QComboBox(parent);
    box->setObjectName(key);
    box->addItems(items);
    box->setToolTip(tip);
    return box;
}
} // namespace

PickerPanel::PickerPanel(LayerSelectionModel *selection, QWidget *parent) : QWidget(parent), m_selection(selection)
{
    auto *scoring = new QGroupBox(tr("Sensitivity"), this);
    auto *scoringForm = new QFormLayout(scoring);
    m_metric = combo(this, QStringLiteral("settings/metric"),
                     names(sensitivityMetrics()),
                     tr("taylor |W·dL/dW| (the method's), fisher (dL/dW)², magnitude |W|"));
    scoringForm->addRow(tr("Score"), m_metric);
    m_student = new QCheckBox(tr("Also score the student"), this);
    m_similarity = new QCheckBox(tr("Layer similarity (linear CKA)"), this);
    m_similarity->setChecked(true);
    scoringForm->addRow(m_student);
    scoringForm->addRow(m_similarity);
    m_compute = new QPushButton(tr("Compute sensitivity"), this);
    m_compute->setToolTip(tr("One forward and backward pass per seed sample; the heatmap fills in as it runs"));
    connect(m_compute, &QPushButton::clicked, this, &PickerPanel::computeRequested);
    scoringForm->addRow(m_compute);

    auto *layers = new QGroupBox(tr("Teacher layers"), this);
    auto *layersForm = new QFormLayout(layers);
    m_strategy = combo(this, QStringLiteral("settings/layers"),
                       names(layerStrategies()),
                       tr("sensitivity: the most sensitive layers; top/last: the first/last layers; random: a seeded "
                          "random set; manual: click heatmap or alignment rows"));
    layersForm->addRow(tr("Choose by"), m_strategy);
    m_seed = new QSpinBox(this);
    m_seed->setObjectName(QStringLiteral("settings/seed"));
    m_seed->setRange(0, 1000000);
    m_seed->setValue(1);
    m_seed->setToolTip(tr("Seed of the random layer choice, the random structure and training"));
    layersForm->addRow(tr("Seed"), m_seed);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    layersForm->addRow(m_status);

    auto *cut = new QGroupBox(tr("Matrices"), this);
    auto *cutForm = new QFormLayout(cut);
    m_structure = combo(this, QStringLiteral("settings/structure"),
                        names(reductionStructures()),
                        tr("submatrix: the best contiguous window; rowcol: top rows and columns; neuron: whole "
                           "output neurons; random: seeded random rows and columns (a control)"));
    cutForm->addRow(tr("Structure"), m_structure);
    m_origin = combo(this, QStringLiteral("settings/origin"),
                     names(transferOrigins()),
                     tr("Which teacher matrices are transferred"));
    cutForm->addRow(tr("Origin"), m_origin);
    m_split = combo(this, QStringLiteral("settings/split"), names(factorSplits()),
                    tr("reference: B = U S, A = Vᵀ; pissa: √S on both factors"));
    cutForm->addRow(tr("SVD split"), m_split);
    m_rank = new QSpinBox(this);
    m_rank->setObjectName(QStringLiteral("settings/rank"));
    m_rank->setRange(1, 4096);
    m_rank->setValue(16);
    cutForm->addRow(tr("Rank"), m_rank);
    m_alpha = new QDoubleSpinBox(this);
    m_alpha->setObjectName(QStringLiteral("settings/alpha"));
    m_alpha->setRange(0.1, 4096);
    m_alpha->setValue(16);
    cutForm->addRow(tr("Alpha"), m_alpha);
    m_dropout = new QDoubleSpinBox(this);
    m_dropout->setObjectName(QStringLiteral("settings/dropout"));
    m_dropout->setRange(0, 0.9);
    m_dropout->setSingleStep(0.05);
    m_dropout->setValue(0.05);
    cutForm->addRow(tr("Dropout"), m_dropout);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(scoring);
    layout->addWidget(layers);
    layout->addWidget(cut);
    layout->addStretch(1);

    connect(m_strategy, &QComboBox::currentTextChanged, this, [this](const QString &name) {
        m_selection->setStrategy(name, name == LayerSelectionModel::manual() ? 0 : quint64(m_seed->value()));
    });
    connect(m_seed, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
        if (m_selection->strategy() == QLatin1String("random"))
            m_selection->setStrategy(QStringLiteral("random"), quint64(m_seed->value()));
    });
    connect(m_structure, &QComboBox::currentTextChanged, this, &PickerPanel::structureChanged);
    connect(m_selection, &LayerSelectionModel::changed, this, &PickerPanel::syncFromSelection);
    syncFromSelection();
}

void PickerPanel::syncFromSelection()
{
    const QSignalBlocker block(m_strategy);
    m_strategy->setCurrentText(m_selection->strategyName());
    m_status->setText(m_selection->message());
}

QString PickerPanel::statusText() const { return m_status->text(); }

SensitivityRequest PickerPanel::sensitivityRequest(int maxLength) const
{
    SensitivityRequest request;
    request.metric = m_metric->currentText();
    request.maxLength = maxLength;
    request.includeStudent = m_student->isChecked();
    request.similarity = m_similarity->isChecked();
    return request;
}

QString PickerPanel::structure() const { return m_structure->currentText(); }
quint64 PickerPanel::seed() const { return quint64(m_seed->value()); }

void PickerPanel::applyTo(RecipeSettings &recipe) const
{
    recipe.sensitivityMetric = m_metric->currentText();
    recipe.layers = m_selection->recipeValue();
    recipe.structure = m_structure->currentText();
    recipe.origin = m_origin->currentText();
    recipe.split = m_split->currentText();
    recipe.rank = m_rank->value();
    recipe.alpha = m_alpha->value();
    recipe.dropout = m_dropout->value();
    recipe.seed = quint64(m_seed->value());
}

void PickerPanel::loadFrom(const RecipeSettings &recipe)
{
    m_metric->setCurrentText(recipe.sensitivityMetric);
    m_structure->setCurrentText(recipe.structure);
    m_origin->setCurrentText(recipe.origin);
    m_split->setCurrentText(recipe.split);
    m_rank->setValue(int(recipe.rank));
    m_alpha->setValue(recipe.alpha);
    m_dropout->setValue(recipe.dropout);
    m_seed->setValue(int(recipe.seed));
    const auto &layers = recipe.layers;
    if (m_strategy->findText(layers) >= 0)
        m_strategy->setCurrentText(layers);
}

} // namespace nugget
