#pragma once
// The layout of an HDF5 session as plain text, read with HDF5's own C API (not through
// nugget::Session, the code under test): one line per group or dataset, in name order,
//   "/runs/transfer/loss dataset float64 [12, 3] attrs columns"
// so that two sessions can be compared line by line, with or without their shapes.

#include <hdf5.h>

#include <QString>
#include <QStringList>

#include <algorithm>
#include <vector>

namespace nugget::test {

namespace detail {

inline QString typeText(hid_t type)
{
    const auto size = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_FLOAT: return QStringLiteral("float%1").arg(size);
    case H5T_INTEGER:
        return QStringLiteral("%1int%2").arg(H5Tget_sign(type) == H5T_SGN_NONE ? QStringLiteral("u") : QString()).arg(size);
    case H5T_STRING: return QStringLiteral("string");
    default: return QStringLiteral("class%1").arg(int(H5Tget_class(type)));
    }
}

inline herr_t collectAttribute(hid_t, const char *name, const H5A_info_t *, void *data)
{
    static_cast<QStringList *>(data)->append(QString::fromUtf8(name));
    return 0;
}

struct LayoutWalk
{
    QStringList lines;
    bool shapes = true;
};

// One group's links, in name order, recursively (H5Literate and H5Iget_type only: the
// same calls on every HDF5 version).
inline void walkGroup(hid_t group, const QString &prefix, LayoutWalk &walk);

struct GroupVisit
{
    LayoutWalk *walk;
    QString prefix;
};

inline herr_t visitLink(hid_t group, const char *name, const H5L_info_t *, void *data)
{
    auto &visit = *static_cast<GroupVisit *>(data);
    const QString path = visit.prefix + QStringLiteral("/") + QString::fromUtf8(name);
    QString line = path;
    const hid_t object = H5Oopen(group, name, H5P_DEFAULT);
    if (object < 0)
        return -1;
    const auto kind = H5Iget_type(object);
    if (kind == H5I_GROUP) {
        line += QStringLiteral(" group");
    } else if (kind == H5I_DATASET) {
        const hid_t type = H5Dget_type(object);
        const hid_t space = H5Dget_space(object);
        line += QStringLiteral(" dataset ") + typeText(type);
        if (visit.walk->shapes) {
            const int rank = H5Sget_simple_extent_ndims(space);
            std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
            H5Sget_simple_extent_dims(space, dims.data(), nullptr);
            QStringList sizes;
            for (const auto d : dims)
                sizes << QString::number(d);
            line += QStringLiteral(" [") + sizes.join(QStringLiteral(", ")) + QStringLiteral("]");
        }
        H5Sclose(space);
        H5Tclose(type);
    }
    QStringList attributes;
    H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, collectAttribute, &attributes);
    if (!attributes.isEmpty())
        line += QStringLiteral(" attrs ") + attributes.join(QStringLiteral(","));
    visit.walk->lines << line;
    if (kind == H5I_GROUP)
        walkGroup(object, path, *visit.walk);
    H5Oclose(object);
    return 0;
}

inline void walkGroup(hid_t group, const QString &prefix, LayoutWalk &walk)
{
    GroupVisit visit{&walk, prefix};
    H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, visitLink, &visit);
}

} // namespace detail

// Every group and dataset of the file at `path` ("/" itself as the first line, with its
// attributes), sorted by name; an empty list when the file cannot be opened.
inline QStringList sessionLayout(const QString &path, bool shapes = true)
{
    const hid_t file = H5Fopen(path.toUtf8().constData(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return {};
    detail::LayoutWalk walk;
    walk.shapes = shapes;
    QStringList rootAttributes;
    H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, detail::collectAttribute, &rootAttributes);
    detail::walkGroup(file, QString(), walk);
    H5Fclose(file);
    walk.lines.sort();
    walk.lines.prepend(QStringLiteral("/ attrs ") + rootAttributes.join(QStringLiteral(",")));
    return walk.lines;
}

} // namespace nugget::test
