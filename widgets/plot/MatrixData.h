#pragma once
// A labelled matrix of numbers for the matrix views (heatmap, alignment, dimension map).
// Row-major; NaN marks a cell without a value (yet).

#include <QString>
#include <QStringList>

#include <cmath>
#include <vector>

namespace nugget {

struct MatrixData
{
    QString title;              // shown above the plot
    QString valueName;          // e.g. "taylor score", "linear CKA"
    QStringList rowLabels;      // one per row (top to bottom)
    QStringList columnLabels;   // one per column (left to right)
    std::vector<double> values; // rows x columns, row-major

    int rows() const { return int(rowLabels.size()); }
    int columns() const { return int(columnLabels.size()); }
    double at(int row, int column) const
    {
        const size_t i = size_t(row) * size_t(columns()) + size_t(column);
        return i < values.size() ? values[i] : std::nan("");
    }
};

} // namespace nugget
