#pragma once
// The layer picker: how sensitivity is scored, how teacher layers are chosen (a
// strategy, or by hand through clicks on the heatmap and alignment rows) and how each
// chosen matrix is cut to the student's shape and factorised.

#include "EngineRequests.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace nugget {

class LayerSelectionModel;
struct RecipeSettings;

class PickerPanel : public QWidget
{
    Q_OBJECT

public:
    PickerPanel(LayerSelectionModel *selection, QWidget *parent = nullptr);

    SensitivityRequest sensitivityRequest(int maxLength) const;
    QString structure() const;
    quint64 seed() const;
    void applyTo(RecipeSettings &recipe) const;   // layers, structure, origin, split, LoRA shape, metric
    void loadFrom(const RecipeSettings &recipe);
    QPushButton *computeButton() const { return m_compute; }
    QString statusText() const;

Q_SIGNALS:
    void computeRequested();
    void structureChanged();

private:
    void syncFromSelection();

    LayerSelectionModel *m_selection = nullptr;
    QComboBox *m_metric = nullptr, *m_strategy = nullptr, *m_structure = nullptr, *m_origin = nullptr,
              *m_split = nullptr;
    QCheckBox *m_student = nullptr, *m_similarity = nullptr;
    QSpinBox *m_seed = nullptr, *m_rank = nullptr;
    QDoubleSpinBox *m_alpha = nullptr, *m_dropout = nullptr;
    QLabel *m_status = nullptr;
    QPushButton *m_compute = nullptr;
};

} // namespace nugget
