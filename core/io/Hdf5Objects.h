#pragma once
// Typed helpers over the HDF5 C++ API for the session store: groups listed in creation
// order, fixed-length UTF-8 strings, scalar and list attributes, numeric arrays to and
// from tensors, checksummed chunk layouts. They throw H5::Exception for the library's
// failures (hdf5::guarded turns those into Error) and Error naming `path` for content
// that is not what the format says.

#include <ATen/ATen.h>
#include <H5Cpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nugget::hdf5 {

// The 1.10 file format (every superblock, object header and index block checksummed),
// and no failure on file systems without flock.
H5::FileAccPropList fileAccess();

bool hasLink(const H5::Group &group, const std::string &name);
bool hasDataset(const H5::Group &group, const std::string &name);
// The group at `parts` below `root`, or nothing when any part is absent or no group.
std::optional<H5::Group> findGroup(const H5::Group &root, const std::vector<std::string> &parts);
// Creates missing groups on the way; new groups track link creation order.
H5::Group ensureGroup(const H5::Group &root, const std::vector<std::string> &parts);
void removeLink(const H5::Group &group, const std::string &name);
// Link names in creation order (by name in groups that do not track it).
std::vector<std::string> linkNames(const H5::Group &group);

// Attributes; writing replaces an attribute of the same name. Strings are fixed-length
// UTF-8 (never variable-length: those live in the unchecksummed global heap).
void writeStringAttribute(const H5::H5Object &object, const std::string &name, const std::string &value);
void writeStringListAttribute(const H5::H5Object &object, const std::string &name,
                              const std::vector<std::string> &values);
void writeIntAttribute(const H5::H5Object &object, const std::string &name, int64_t value);
void writeDoubleAttribute(const H5::H5Object &object, const std::string &name, double value);
// Reading throws Error "<path>: <objectName> has no attribute ..." or "... has the wrong
// type" when the attribute is absent or of another kind.
std::string readStringAttribute(const std::string &path, const H5::H5Object &object, const std::string &objectName,
                                const std::string &name);
std::vector<std::string> readStringListAttribute(const std::string &path, const H5::H5Object &object,
                                                 const std::string &objectName, const std::string &name);
int64_t readIntAttribute(const std::string &path, const H5::H5Object &object, const std::string &objectName,
                         const std::string &name);

// Text (JSON) as one string in a one-element chunked dataset with a Fletcher-32 checksum:
// a damaged byte is a read error, not different text. Writing replaces `name`.
void writeStringDataset(const H5::Group &group, const std::string &name, const std::string &text);
std::string readStringDataset(const std::string &path, const H5::DataSet &dataset, const std::string &where);
// A 1-D dataset of UTF-8 strings (fixed width, deflated), one per value.
void writeStringArrayDataset(const H5::Group &group, const std::string &name, const std::vector<std::string> &values);
std::vector<std::string> readStringArrayDataset(const std::string &path, const H5::DataSet &dataset, const std::string &where);

// How a numeric dataset is stored. Both chunked layouts checksum every chunk (a damaged
// chunk is a read error, never different numbers) and fall back to Contiguous for empty
// or scalar data and when the library lacks deflate or shuffle.
enum class Layout {
    Contiguous,
    Compressed,        // Fletcher-32, shuffle, deflate 1 (HDF5 checksums the inflated bytes)
    EncodedChunks,     // shuffle, deflate 1, Fletcher-32: the order io/ScoreChunks encodes
};
// Chunks of about 1 MiB of float32, spanning whole trailing dimensions where possible.
std::vector<hsize_t> chunkShape(const std::vector<hsize_t> &dims);
H5::DSetCreatPropList creationList(const std::vector<hsize_t> &dims, Layout layout);

std::vector<hsize_t> shapeOf(const H5::DataSet &dataset);
H5::DataSpace spaceOf(const std::vector<hsize_t> &dims);   // scalar for no dimensions

// Writes a CPU contiguous tensor whose elements are `memType` as `name` (replacing it)
// and closes it, so that a failure to store compressed chunks throws here. EncodedChunks
// are encoded on every core (hdf5::writeEncodedChunks).
void writeArray(const H5::Group &group, const std::string &name, const at::Tensor &data,
                const H5::DataType &fileType, const H5::DataType &memType, Layout layout);
// A numeric dataset as a new CPU tensor of `dtype` (HDF5 converts the values). Throws
// Error when the dataset's class is not `expected` (integers are accepted as floats).
at::Tensor readArray(const std::string &path, const H5::DataSet &dataset, const std::string &where,
                     c10::ScalarType dtype, const H5::PredType &memType, H5T_class_t expected);

// Copies the root attributes and every object of `source` into the new file `target`,
// leaving behind the space of replaced items. An existing `target` is overwritten.
void copyInto(const H5::H5File &source, const std::string &target);

} // namespace nugget::hdf5
