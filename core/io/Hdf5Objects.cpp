#include "io/Hdf5Objects.h"

#include "Error.h"
#include "io/Hdf5Errors.h"
#include "io/ScoreChunks.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

namespace nugget::hdf5 {

namespace {

constexpr hsize_t kMaxStringBytes = hsize_t(64) << 20;   // bounds what a damaged file can ask for

H5::StrType utf8Type(size_t length)
{
    H5::StrType type(H5::PredType::C_S1, std::max<size_t>(length, 1));
    type.setCset(H5T_CSET_UTF8);
    type.setStrpad(H5T_STR_NULLPAD);
    return type;
}

// `values` side by side in a zero-filled buffer of `width` bytes each.
std::vector<char> packStrings(const std::vector<std::string> &values, size_t width)
{
    std::vector<char> buffer(values.size() * width, '\0');
    for (size_t i = 0; i < values.size(); ++i)
        std::memcpy(buffer.data() + i * width, values[i].data(), values[i].size());
    return buffer;
}

size_t widest(const std::vector<std::string> &values)
{
    size_t width = 1;
    for (const std::string &value : values)
        width = std::max(width, value.size());
    return width;
}

// (creation order, name) of each link; the order is -1 where the group does not track it.
herr_t collectLink(hid_t, const char *name, const H5L_info_t *info, void *data)
{
    static_cast<std::vector<std::pair<int64_t, std::string>> *>(data)->emplace_back(
        info && info->corder_valid ? int64_t(info->corder) : int64_t(-1), name);
    return 0;
}

H5::Attribute replaceAttribute(const H5::H5Object &object, const std::string &name, const H5::DataType &type,
                               const H5::DataSpace &space)
{
    if (object.attrExists(name))
        object.removeAttr(name);
    return object.createAttribute(name, type, space);
}

// Absent attributes and attributes of the wrong kind throw Error naming the object.
H5::Attribute openAttribute(const std::string &path, const H5::H5Object &object, const std::string &objectName,
                            const std::string &name, H5T_class_t expected)
{
    if (!object.attrExists(name))
        throw Error(path + ": " + objectName + " has no attribute \"" + name + "\"");
    H5::Attribute attribute = object.openAttribute(name);
    if (attribute.getTypeClass() != expected)
        throw Error(path + ": attribute \"" + name + "\" of " + objectName + " has the wrong type ("
                    + (expected == H5T_STRING ? "expected a string" : "expected an integer") + ")");
    return attribute;
}

// The fixed-length strings of an attribute or dataset of `count` elements; `read`
// fills the buffer in the file's own string type.
std::vector<std::string> readFixedStrings(const std::string &path, const std::string &what, const H5::StrType &type,
                                          hssize_t count, const std::function<void(const H5::StrType &, void *)> &read)
{
    if (type.isVariableStr())
        throw Error(path + ": " + what + " is a variable-length string, which Nugget sessions do not use");
    const size_t width = type.getSize();
    if (count < 0 || width == 0 || hsize_t(count) * width > kMaxStringBytes)
        throw Error(path + ": " + what + " has an implausible size");
    std::vector<char> buffer(size_t(count) * width, '\0');
    if (!buffer.empty())
        read(type, buffer.data());
    std::vector<std::string> values;
    for (hssize_t i = 0; i < count; ++i) {
        const char *start = buffer.data() + size_t(i) * width;
        values.emplace_back(start, strnlen(start, width));
    }
    return values;
}

std::vector<std::string> readAttributeStrings(const std::string &path, const H5::Attribute &attribute,
                                              const std::string &what)
{
    return readFixedStrings(path, what, attribute.getStrType(), attribute.getSpace().getSimpleExtentNpoints(),
                            [&](const H5::StrType &type, void *buffer) { attribute.read(type, buffer); });
}

std::string single(const std::string &path, const std::string &what, const std::vector<std::string> &values)
{
    if (values.size() != 1)
        throw Error(path + ": " + what + " is not a single string");
    return values.front();
}

herr_t copyAttribute(hid_t location, const char *name, const H5A_info_t *, void *data)
{
    const hid_t target = *static_cast<hid_t *>(data);
    Handle attribute(H5Aopen(location, name, H5P_DEFAULT));
    if (attribute.get() < 0)
        return -1;
    Handle fileType(H5Aget_type(attribute.get()));
    Handle memType(H5Tget_native_type(fileType.get(), H5T_DIR_DEFAULT));
    Handle space(H5Aget_space(attribute.get()));
    if (fileType.get() < 0 || memType.get() < 0 || space.get() < 0)
        return -1;
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    std::vector<unsigned char> buffer(size_t(std::max<hssize_t>(count, 1)) * H5Tget_size(memType.get()));
    if (H5Aread(attribute.get(), memType.get(), buffer.data()) < 0)
        return -1;
    Handle copy(H5Acreate2(target, name, fileType.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    const bool ok = copy.get() >= 0 && H5Awrite(copy.get(), memType.get(), buffer.data()) >= 0;
    if (H5Tdetect_class(memType.get(), H5T_VLEN) > 0 || H5Tis_variable_str(memType.get()) > 0)
        H5Dvlen_reclaim(memType.get(), space.get(), H5P_DEFAULT, buffer.data());
    return ok ? 0 : -1;
}

} // namespace

H5::FileAccPropList fileAccess()
{
    H5::FileAccPropList fapl;
    // File systems without flock (some NFS mounts) must not make sessions unreadable.
    check(H5Pset_file_locking(fapl.getId(), true, true), "H5Pset_file_locking");
    // The 1.10 format checksums every superblock, object header and index block, so a
    // damaged file fails to open instead of sending HDF5 round a corrupt B-tree.
    check(H5Pset_libver_bounds(fapl.getId(), H5F_LIBVER_V110, H5F_LIBVER_V110), "H5Pset_libver_bounds");
    return fapl;
}

bool hasLink(const H5::Group &group, const std::string &name)
{
    return check(H5Lexists(group.getId(), name.c_str(), H5P_DEFAULT), "H5Lexists") > 0;
}

bool hasDataset(const H5::Group &group, const std::string &name)
{
    return hasLink(group, name) && group.childObjType(name) == H5O_TYPE_DATASET;
}

std::optional<H5::Group> findGroup(const H5::Group &root, const std::vector<std::string> &parts)
{
    H5::Group group = root;
    for (const std::string &part : parts) {
        if (!hasLink(group, part) || group.childObjType(part) != H5O_TYPE_GROUP)
            return std::nullopt;
        group = group.openGroup(part);
    }
    return group;
}

H5::Group ensureGroup(const H5::Group &root, const std::vector<std::string> &parts)
{
    H5::Group group = root;
    for (const std::string &part : parts) {
        if (hasLink(group, part)) {
            group = group.openGroup(part);
            continue;
        }
        Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate"));
        check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
              "H5Pset_link_creation_order");
        Handle id(check(H5Gcreate2(group.getId(), part.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                        "H5Gcreate2"));
        group = H5::Group(id.get());   // the wrapper takes its own reference
    }
    return group;
}

void removeLink(const H5::Group &group, const std::string &name)
{
    if (hasLink(group, name))
        group.unlink(name);
}

// HDF5 1.10 is asked for its native order and the sorting happens here: for an
// explicit order it first builds a table of the links, and when a damaged file makes
// that fail half-way it frees the table's unfilled entries, wild pointers (found by
// tests/fuzz fuzz_session).
std::vector<std::string> linkNames(const H5::Group &group)
{
    std::vector<std::pair<int64_t, std::string>> links;
    hsize_t position = 0;
    check(H5Literate(group.getId(), H5_INDEX_NAME, H5_ITER_NATIVE, &position, collectLink, &links), "H5Literate");
    std::sort(links.begin(), links.end());
    std::vector<std::string> names;
    names.reserve(links.size());
    for (auto &link : links)
        names.push_back(std::move(link.second));
    return names;
}

void writeStringAttribute(const H5::H5Object &object, const std::string &name, const std::string &value)
{
    const H5::StrType type = utf8Type(value.size());
    replaceAttribute(object, name, type, H5::DataSpace(H5S_SCALAR)).write(type, packStrings({value}, type.getSize()).data());
}

void writeStringListAttribute(const H5::H5Object &object, const std::string &name,
                              const std::vector<std::string> &values)
{
    const H5::StrType type = utf8Type(widest(values));
    const hsize_t count = values.size();
    H5::Attribute attribute = replaceAttribute(object, name, type, H5::DataSpace(1, &count));
    if (!values.empty())
        attribute.write(type, packStrings(values, type.getSize()).data());
}

void writeIntAttribute(const H5::H5Object &object, const std::string &name, int64_t value)
{
    replaceAttribute(object, name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_INT64, &value);
}

void writeDoubleAttribute(const H5::H5Object &object, const std::string &name, double value)
{
    replaceAttribute(object, name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_DOUBLE, &value);
}

std::string readStringAttribute(const std::string &path, const H5::H5Object &object, const std::string &objectName,
                                const std::string &name)
{
    const std::string what = "attribute \"" + name + "\" of " + objectName;
    return single(path, what,
                  readAttributeStrings(path, openAttribute(path, object, objectName, name, H5T_STRING), what));
}

std::vector<std::string> readStringListAttribute(const std::string &path, const H5::H5Object &object,
                                                 const std::string &objectName, const std::string &name)
{
    return readAttributeStrings(path, openAttribute(path, object, objectName, name, H5T_STRING),
                                "attribute \"" + name + "\" of " + objectName);
}

int64_t readIntAttribute(const std::string &path, const H5::H5Object &object, const std::string &objectName,
                         const std::string &name)
{
    int64_t value = 0;
    openAttribute(path, object, objectName, name, H5T_INTEGER).read(H5::PredType::NATIVE_INT64, &value);
    return value;
}

void writeStringDataset(const H5::Group &group, const std::string &name, const std::string &text)
{
    removeLink(group, name);
    const H5::StrType type = utf8Type(text.size());
    const hsize_t one = 1;
    H5::DSetCreatPropList dcpl;
    dcpl.setChunk(1, &one);
    dcpl.setFletcher32();
    H5::DataSet dataset = group.createDataSet(name, type, H5::DataSpace(1, &one), dcpl);
    dataset.write(packStrings({text}, type.getSize()).data(), type);
    dataset.close();
}

std::string readStringDataset(const std::string &path, const H5::DataSet &dataset, const std::string &where)
{
    if (dataset.getTypeClass() != H5T_STRING)
        throw Error(path + ": " + where + " is not a string");
    return single(path, where,
                  readFixedStrings(path, where, dataset.getStrType(), dataset.getSpace().getSimpleExtentNpoints(),
                                   [&](const H5::StrType &type, void *buffer) { dataset.read(buffer, type); }));
}

void writeStringArrayDataset(const H5::Group &group, const std::string &name, const std::vector<std::string> &values)
{
    removeLink(group, name);
    const H5::StrType type = utf8Type(widest(values));
    const hsize_t count = values.size();
    // Fixed-width rows padded to the longest: deflate takes the padding back.
    const hsize_t rows = std::max<hsize_t>(1, std::min<hsize_t>(count, (hsize_t(1) << 20) / type.getSize()));
    H5::DSetCreatPropList dcpl;
    if (count > 0) {   // a chunk may not exceed a fixed extent of 0
        dcpl.setChunk(1, &rows);
        dcpl.setDeflate(4);
        dcpl.setFletcher32();
    }
    H5::DataSet dataset = group.createDataSet(name, type, H5::DataSpace(1, &count, nullptr), dcpl);
    if (!values.empty())
        dataset.write(packStrings(values, type.getSize()).data(), type);
    dataset.close();
}

std::vector<std::string> readStringArrayDataset(const std::string &path, const H5::DataSet &dataset, const std::string &where)
{
    if (dataset.getTypeClass() != H5T_STRING || dataset.getSpace().getSimpleExtentNdims() != 1)
        throw Error(path + ": " + where + " is not a list of strings");
    return readFixedStrings(path, where, dataset.getStrType(), dataset.getSpace().getSimpleExtentNpoints(),
                            [&](const H5::StrType &type, void *buffer) { dataset.read(buffer, type); });
}

std::vector<hsize_t> chunkShape(const std::vector<hsize_t> &dims)
{
    constexpr hsize_t kBudget = hsize_t(1) << 18;
    std::vector<hsize_t> chunk(dims);
    for (size_t i = 0; i < chunk.size(); ++i) {
        hsize_t inner = 1;
        for (size_t j = i + 1; j < dims.size(); ++j)
            inner *= dims[j];
        if (inner >= kBudget) {
            chunk[i] = 1;
            continue;
        }
        chunk[i] = std::min(dims[i], std::max<hsize_t>(1, kBudget / inner));
        break;
    }
    return chunk;
}

H5::DSetCreatPropList creationList(const std::vector<hsize_t> &dims, Layout layout)
{
    H5::DSetCreatPropList dcpl;
    hsize_t elements = dims.empty() ? 0 : 1;
    for (hsize_t d : dims)
        elements *= d;
    const bool compressible = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0;
    if (layout == Layout::Contiguous || elements == 0 || !compressible)
        return dcpl;
    const std::vector<hsize_t> chunk = chunkShape(dims);
    dcpl.setChunk(int(chunk.size()), chunk.data());
    if (layout == Layout::EncodedChunks) {
        addEncodedChunkFilters(dcpl.getId(), 1);
    } else {
        dcpl.setFletcher32();
        dcpl.setShuffle();
        dcpl.setDeflate(1);
    }
    return dcpl;
}

std::vector<hsize_t> shapeOf(const H5::DataSet &dataset)
{
    const H5::DataSpace space = dataset.getSpace();
    std::vector<hsize_t> dims(size_t(std::max(space.getSimpleExtentNdims(), 0)));
    if (!dims.empty())
        space.getSimpleExtentDims(dims.data());
    return dims;
}

H5::DataSpace spaceOf(const std::vector<hsize_t> &dims)
{
    return dims.empty() ? H5::DataSpace(H5S_SCALAR) : H5::DataSpace(int(dims.size()), dims.data());
}

void writeArray(const H5::Group &group, const std::string &name, const at::Tensor &data,
                const H5::DataType &fileType, const H5::DataType &memType, Layout layout)
{
    removeLink(group, name);
    const std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
    H5::DataSet dataset = group.createDataSet(name, fileType, spaceOf(dims), creationList(dims, layout));
    if (layout == Layout::EncodedChunks && dataset.getCreatePlist().getLayout() == H5D_CHUNKED)
        writeEncodedChunks(dataset.getId(), data.data_ptr());
    else if (data.numel() > 0)   // HDF5 rejects a null buffer even for zero elements
        dataset.write(data.data_ptr(), memType);
    dataset.close();   // compressed chunks reach the disk here: a failure must throw
}

at::Tensor readArray(const std::string &path, const H5::DataSet &dataset, const std::string &where,
                     c10::ScalarType dtype, const H5::PredType &memType, H5T_class_t expected)
{
    const H5T_class_t found = dataset.getTypeClass();
    if (found != expected && !(expected == H5T_FLOAT && found == H5T_INTEGER))
        throw Error(path + ": " + where + " is not " + (expected == H5T_FLOAT ? "floating-point" : "integer")
                    + " data");
    const std::vector<hsize_t> dims = shapeOf(dataset);
    at::Tensor out = at::empty(std::vector<int64_t>(dims.begin(), dims.end()), at::TensorOptions().dtype(dtype));
    if (out.numel() > 0)
        dataset.read(out.data_ptr(), memType);
    return out;
}

void copyInto(const H5::H5File &source, const std::string &target)
{
    Handle fcpl(check(H5Fget_create_plist(source.getId()), "H5Fget_create_plist"));
    const H5::FileAccPropList fapl = fileAccess();
    Handle file(check(H5Fcreate(target.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.getId()), "H5Fcreate"));
    Handle sourceRoot(check(H5Gopen2(source.getId(), "/", H5P_DEFAULT), "H5Gopen2"));
    Handle targetRoot(check(H5Gopen2(file.get(), "/", H5P_DEFAULT), "H5Gopen2"));
    hid_t targetId = targetRoot.get();
    hsize_t position = 0;
    check(H5Aiterate2(sourceRoot.get(), H5_INDEX_NAME, H5_ITER_INC, &position, copyAttribute, &targetId),
          "H5Aiterate2");
    for (const std::string &name : linkNames(source.openGroup("/")))
        check(H5Ocopy(source.getId(), name.c_str(), file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), "H5Ocopy");
    targetRoot.close();
    file.close();
}

} // namespace nugget::hdf5
