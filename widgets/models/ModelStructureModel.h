#pragma once
// A model's tensors as a tree (model > layers > 3 > self_attn > q_proj > weight) with
// shape, dtype and parameter count per row; inner rows sum their children.

#include "ModelFolderSummary.h"

#include <QStandardItemModel>

namespace nugget {

class ModelStructureModel : public QStandardItemModel
{
    Q_OBJECT

public:
    enum Column { NameColumn, ShapeColumn, DtypeColumn, ParametersColumn, ColumnCount };
    enum Role { TensorNameRole = Qt::UserRole + 1 };

    explicit ModelStructureModel(QObject *parent = nullptr);
    void setModelInfo(const ModelFolderSummary &info);
    void clearModel();
};

} // namespace nugget
