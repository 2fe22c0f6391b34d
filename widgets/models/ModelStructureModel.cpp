#include "models/ModelStructureModel.h"

#include <QLocale>

namespace nugget {

namespace {

QStandardItem *childNamed(QStandardItem *parent, const QString &name)
{
    for (int row = 0; row < parent->rowCount(); ++row)
        if (parent->child(row, 0)->text() == name)
            return parent->child(row, 0);
    QList<QStandardItem *> row;
    row << new QStandardItem(name);
    for (int column = 1; column < ModelStructureModel::ColumnCount; ++column)
        row << new QStandardItem();
    for (auto *item : row)
        item->setEditable(false);
    parent->appendRow(row);
    return row.first();
}

// Fills the parameter column of inner rows with the sum of their children.
qint64 sumParameters(QStandardItem *item)
{
    if (!item->hasChildren())
        return item->parent() ? item->parent()->child(item->row(), ModelStructureModel::ParametersColumn)
                                    ->data(Qt::UserRole).toLongLong()
                              : 0;
    qint64 total = 0;
    for (int row = 0; row < item->rowCount(); ++row)
        total += sumParameters(item->child(row, 0));
    auto *parent = item->parent() ? item->parent() : item->model()->invisibleRootItem();
    auto *cell = parent->child(item->row(), ModelStructureModel::ParametersColumn);
    cell->setData(total, Qt::UserRole);
    cell->setText(QLocale().toString(total));
    return total;
}

} // namespace

ModelStructureModel::ModelStructureModel(QObject *parent) : QStandardItemModel(parent)
{
    setHorizontalHeaderLabels({tr("Name"), tr("Shape"), tr("Dtype"), tr("Parameters")});
}

void ModelStructureModel::clearModel()
{
    removeRows(0, rowCount());
}

void ModelStructureModel::setModelInfo(const ModelFolderSummary &info)
{
    clearModel();
    for (const auto &tensor : info.tensors) {
        QStandardItem *node = invisibleRootItem();
        const auto parts = QString::fromStdString(tensor.name).split(u'.');
        for (const auto &part : parts)
            node = childNamed(node, part);
        auto *parent = node->parent() ? node->parent() : invisibleRootItem();
        const int row = node->row();
        node->setData(QString::fromStdString(tensor.name), TensorNameRole);
        node->setToolTip(QString::fromStdString(tensor.name));
        parent->child(row, ShapeColumn)->setText(QString::fromStdString(tensor.shapeText));
        parent->child(row, DtypeColumn)->setText(QString::fromStdString(tensor.dtypeName));
        auto *count = parent->child(row, ParametersColumn);
        count->setData(static_cast<qint64>(tensor.numel()), Qt::UserRole);
        count->setText(QLocale().toString(static_cast<qint64>(tensor.numel())));
    }
    for (int row = 0; row < invisibleRootItem()->rowCount(); ++row)
        sumParameters(invisibleRootItem()->child(row, 0));
}

} // namespace nugget
