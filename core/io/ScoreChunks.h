#pragma once
// Chunked HDF5 writes whose filters run on every core. HDF5 runs a dataset's filter
// pipeline on the calling thread, and deflate then dominates writing large score
// tensors. Here the chunks are encoded exactly as HDF5's own filters would (byte
// shuffle, deflate, Fletcher-32) on the intra-op threads and handed to HDF5 as
// finished chunks (H5Dwrite_chunk, filter mask 0). The file stays plain HDF5: readers
// run the normal pipeline, verify the checksum and decompress.

#include <H5Cpp.h>
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nugget::hdf5 {

// Adds the filters this writer reproduces to a chunked dataset's creation property
// list, in the order HDF5 applies them on write: shuffle, deflate at `level`, then
// Fletcher-32 over the compressed bytes (so a reader checks the stored bytes before
// inflating them). This is also the order h5py uses.
void addEncodedChunkFilters(hid_t dcpl, unsigned level);

// IEEE 754 half precision, little-endian, as h5py defines it (HDF5 1.10 has no
// predefined type): the file type of float16 scores.
H5::FloatType halfType();

// HDF5's Fletcher-32 (H5_checksum_fletcher32): 16-bit big-endian words, sums folded
// modulo 65535 lazily, an odd trailing byte taken as the high byte of a last word.
uint32_t fletcher32(const uint8_t *data, size_t size);

// The stored bytes of one chunk: `raw` (a whole chunk, edge chunks zero-padded) through
// shuffle for `elementSize`-byte elements, deflate at `level`, and the Fletcher-32 of
// the result appended little-endian. `scratch` is reused between calls.
std::vector<uint8_t> encodeChunk(const uint8_t *raw, size_t bytes, size_t elementSize, int level,
                                 std::vector<uint8_t> &scratch);

// Writes all of `data` (row-major, in the dataset's file type, one element per point of
// its dataspace) into `dataset`, which must be chunked with exactly the filters of
// addEncodedChunkFilters. Chunks are encoded in batches on the intra-op threads and
// written in order from the calling thread, so memory stays within about one batch.
// Throws H5::Exception on failure.
void writeEncodedChunks(hid_t dataset, const void *data);

} // namespace nugget::hdf5
