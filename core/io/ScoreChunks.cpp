#include "io/ScoreChunks.h"

#include "io/Hdf5Errors.h"

#include <ATen/Parallel.h>
#include <H5Cpp.h>
#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#if !H5_VERSION_GE(1, 10, 3)
#error "HDF5 1.10.3 or newer is needed for H5Dwrite_chunk"
#endif

namespace nugget::hdf5 {

namespace {

constexpr size_t kFletcherBytes = 4;
// Raw bytes of the chunks encoded ahead of the writer: enough to keep every thread busy,
// little beside the tensor itself.
constexpr size_t kWindowBytes = size_t(32) << 20;

// Byte-transposes `count` elements of `size` bytes: all first bytes, then all second
// bytes, ... Trailing bytes that make no whole element stay at the end, as in HDF5.
void shuffle(const uint8_t *in, size_t bytes, size_t size, uint8_t *out)
{
    const size_t count = bytes / size;
    if (size <= 1 || count <= 1) {   // HDF5 leaves these unchanged
        std::memcpy(out, in, bytes);
        return;
    }
    if (size == 2) {
        uint8_t *low = out, *high = out + count;
        for (size_t i = 0; i < count; ++i) {
            low[i] = in[2 * i];
            high[i] = in[2 * i + 1];
        }
    } else {
        for (size_t b = 0; b < size; ++b)
            for (size_t i = 0; i < count; ++i)
                out[b * count + i] = in[i * size + b];
    }
    std::memcpy(out + count * size, in + count * size, bytes - count * size);
}

// Where chunks lie in the dataset and how to copy one out of the row-major data.
struct ChunkGeometry
{
    std::vector<hsize_t> dims, chunk, grid;   // grid: chunks along each dimension
    size_t elementSize = 0;
    size_t chunkBytes = 0;
    hsize_t chunkCount = 0;
    // Dimensions after `varying` are spanned whole by every chunk, so the chunk's part
    // of each row of dimension `varying` is one contiguous run in both layouts.
    size_t varying = 0;
    std::vector<hsize_t> dataStride, chunkStride;   // in elements

    std::vector<hsize_t> offsetOf(hsize_t index) const
    {
        std::vector<hsize_t> offset(dims.size());
        for (size_t d = dims.size(); d-- > 0;) {
            offset[d] = (index % grid[d]) * chunk[d];
            index /= grid[d];
        }
        return offset;
    }

    // Copies chunk `offset` of `data` into `out` (chunkBytes), zero-padding past the edge.
    void gather(const uint8_t *data, const std::vector<hsize_t> &offset, uint8_t *out) const
    {
        const size_t rank = dims.size();
        std::vector<hsize_t> extent(rank);
        bool partial = false;
        for (size_t d = 0; d < rank; ++d) {
            extent[d] = std::min(chunk[d], dims[d] - offset[d]);
            partial = partial || extent[d] < chunk[d];
        }
        if (partial)
            std::memset(out, 0, chunkBytes);   // HDF5 pads edge chunks with the fill value, 0
        const size_t runBytes = size_t(extent[varying] * dataStride[varying]) * elementSize;
        std::vector<hsize_t> position(varying, 0);   // within the chunk, outer dimensions
        while (true) {
            hsize_t from = offset[varying] * dataStride[varying], to = 0;
            for (size_t d = 0; d < varying; ++d) {
                from += (offset[d] + position[d]) * dataStride[d];
                to += position[d] * chunkStride[d];
            }
            std::memcpy(out + to * elementSize, data + from * elementSize, runBytes);
            size_t d = varying;
            while (d > 0 && ++position[d - 1] == extent[d - 1])
                position[--d] = 0;
            if (d == 0)
                return;
        }
    }
};

ChunkGeometry geometryOf(hid_t dataset, hid_t dcpl)
{
    ChunkGeometry g;
    Handle space(check(H5Dget_space(dataset), "H5Dget_space"));
    const int rank = check(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims");
    if (rank < 1 || check(H5Pget_layout(dcpl), "H5Pget_layout") != H5D_CHUNKED)
        throw H5::Exception("writeEncodedChunks", "the dataset is not chunked");
    g.dims.resize(size_t(rank));
    g.chunk.resize(size_t(rank));
    check(H5Sget_simple_extent_dims(space.get(), g.dims.data(), nullptr), "H5Sget_simple_extent_dims");
    check(H5Pget_chunk(dcpl, rank, g.chunk.data()), "H5Pget_chunk");
    Handle type(check(H5Dget_type(dataset), "H5Dget_type"));
    g.elementSize = H5Tget_size(type.get());
    if (g.elementSize == 0)
        throw H5::Exception("H5Tget_size", "H5Tget_size failed");

    g.grid.resize(size_t(rank));
    g.chunkCount = 1;
    hsize_t chunkElements = 1;
    for (size_t d = 0; d < size_t(rank); ++d) {
        g.grid[d] = (g.dims[d] + g.chunk[d] - 1) / g.chunk[d];
        g.chunkCount *= g.grid[d];
        chunkElements *= g.chunk[d];
    }
    g.chunkBytes = size_t(chunkElements) * g.elementSize;

    g.dataStride.assign(size_t(rank), 1);
    g.chunkStride.assign(size_t(rank), 1);
    for (size_t d = size_t(rank) - 1; d-- > 0;) {
        g.dataStride[d] = g.dataStride[d + 1] * g.dims[d + 1];
        g.chunkStride[d] = g.chunkStride[d + 1] * g.chunk[d + 1];
    }
    g.varying = size_t(rank) - 1;
    while (g.varying > 0 && g.chunk[g.varying] == g.dims[g.varying])
        --g.varying;
    return g;
}

// The deflate level, after checking that the pipeline is exactly what encodeChunk does.
int deflateLevelOf(hid_t dcpl, size_t elementSize)
{
    const auto fail = [] {
        throw H5::Exception("writeEncodedChunks",
                            "the dataset's filters are not shuffle, deflate, Fletcher-32 in that order");
    };
    if (check(H5Pget_nfilters(dcpl), "H5Pget_nfilters") != 3)
        fail();
    const H5Z_filter_t expected[3] = {H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE, H5Z_FILTER_FLETCHER32};
    int level = -1;
    for (unsigned i = 0; i < 3; ++i) {
        unsigned flags = 0, values[4] = {};
        size_t count = 4;
        const H5Z_filter_t id = H5Pget_filter2(dcpl, i, &flags, &count, values, 0, nullptr, nullptr);
        if (id != expected[i])
            fail();
        if (id == H5Z_FILTER_SHUFFLE && count >= 1 && values[0] != elementSize)
            fail();
        if (id == H5Z_FILTER_DEFLATE) {
            if (count < 1 || values[0] > 9)
                fail();
            level = int(values[0]);
        }
    }
    return level;
}

} // namespace

H5::FloatType halfType()
{
    H5::FloatType type(H5::PredType::IEEE_F32LE);
    type.setFields(15, 10, 5, 0, 10);
    type.setSize(2);
    type.setEbias(15);
    return type;
}

void addEncodedChunkFilters(hid_t dcpl, unsigned level)
{
    check(H5Pset_shuffle(dcpl), "H5Pset_shuffle");
    check(H5Pset_deflate(dcpl, level), "H5Pset_deflate");
    check(H5Pset_fletcher32(dcpl), "H5Pset_fletcher32");
}

uint32_t fletcher32(const uint8_t *data, size_t size)
{
    uint32_t low = 0, high = 0;
    const auto fold = [&] {
        low = (low & 0xffff) + (low >> 16);
        high = (high & 0xffff) + (high >> 16);
    };
    // 360 words is the most that can be summed before the sums could overflow 32 bits.
    for (size_t words = size / 2; words > 0;) {
        const size_t block = std::min<size_t>(words, 360);
        words -= block;
        for (const uint8_t *end = data + 2 * block; data != end; data += 2) {
            low += (uint32_t(data[0]) << 8) | data[1];
            high += low;
        }
        fold();
    }
    if (size % 2) {
        low += uint32_t(data[0]) << 8;
        high += low;
        fold();
    }
    fold();
    return (high << 16) | low;
}

std::vector<uint8_t> encodeChunk(const uint8_t *raw, size_t bytes, size_t elementSize, int level,
                                 std::vector<uint8_t> &scratch)
{
    scratch.resize(bytes);
    shuffle(raw, bytes, elementSize, scratch.data());
    uLongf compressed = compressBound(uLong(bytes));
    std::vector<uint8_t> stored(compressed + kFletcherBytes);
    const int status = compress2(stored.data(), &compressed, scratch.data(), uLong(bytes), level);
    if (status != Z_OK)
        throw std::runtime_error("cannot deflate a chunk (zlib error " + std::to_string(status) + ")");
    const uint32_t sum = fletcher32(stored.data(), compressed);
    for (size_t i = 0; i < kFletcherBytes; ++i)   // little-endian, as HDF5 stores it
        stored[compressed + i] = uint8_t(sum >> (8 * i));
    stored.resize(compressed + kFletcherBytes);
    return stored;
}

void writeEncodedChunks(hid_t dataset, const void *data)
{
    Handle dcpl(check(H5Dget_create_plist(dataset), "H5Dget_create_plist"));
    const ChunkGeometry g = geometryOf(dataset, dcpl.get());
    const int level = deflateLevelOf(dcpl.get(), g.elementSize);
    if (g.chunkCount == 1) {
        // HDF5 1.10.8 keeps a wrong filter mask in memory for a dataset of one chunk
        // written directly (its "single chunk" index; fixed upstream in HDF5 PR #1261):
        // reads through the still-open dataset return the stored bytes unfiltered.
        // One chunk gains nothing from threads, so HDF5's pipeline encodes it.
        Handle type(check(H5Dget_type(dataset), "H5Dget_type"));
        check(H5Dwrite(dataset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite");
        return;
    }
    const auto *bytes = static_cast<const uint8_t *>(data);

    // at::parallel_for would run serially here: its OpenMP loop only exists in
    // translation units built with -fopenmp. Plain threads take chunks in order, at
    // most `window` ahead of the writer, and the calling thread writes each chunk as
    // soon as it is ready (HDF5 is not thread-safe: only this thread calls it).
    const size_t workers = size_t(std::max(1, at::get_num_threads()));
    const hsize_t window = std::max<hsize_t>(2 * workers, kWindowBytes / g.chunkBytes);
    std::vector<std::vector<uint8_t>> slots(static_cast<size_t>(window));   // chunk i waits in slot i % window
    std::vector<char> ready(static_cast<size_t>(window), 0);
    std::mutex lock;
    std::condition_variable encodedOne, wroteOne;
    hsize_t nextToEncode = 0, written = 0;
    bool stop = false;
    std::exception_ptr failure;

    const auto encodeChunks = [&] {
        std::vector<uint8_t> raw(g.chunkBytes), scratch;
        while (true) {
            hsize_t index = 0;
            {
                std::unique_lock<std::mutex> hold(lock);
                wroteOne.wait(hold, [&] { return stop || nextToEncode >= g.chunkCount || nextToEncode < written + window; });
                if (stop || nextToEncode >= g.chunkCount)
                    return;
                index = nextToEncode++;
            }
            try {
                g.gather(bytes, g.offsetOf(index), raw.data());
                std::vector<uint8_t> stored = encodeChunk(raw.data(), raw.size(), g.elementSize, level, scratch);
                const std::lock_guard<std::mutex> hold(lock);
                slots[size_t(index % window)] = std::move(stored);
                ready[size_t(index % window)] = 1;
            } catch (...) {
                const std::lock_guard<std::mutex> hold(lock);
                if (!failure)
                    failure = std::current_exception();
                stop = true;
            }
            encodedOne.notify_all();
        }
    };
    // Stops and joins the workers however the writer leaves (an HDF5 error included).
    struct Workers
    {
        std::vector<std::thread> threads;
        std::function<void()> halt;
        ~Workers()
        {
            halt();
            for (std::thread &thread : threads)
                thread.join();
        }
    } pool;
    pool.halt = [&] {
        {
            const std::lock_guard<std::mutex> hold(lock);
            stop = true;
        }
        wroteOne.notify_all();
    };
    for (size_t i = 0; i < workers; ++i)
        pool.threads.emplace_back(encodeChunks);

    for (hsize_t index = 0; index < g.chunkCount; ++index) {
        std::vector<uint8_t> chunk;
        {
            std::unique_lock<std::mutex> hold(lock);
            encodedOne.wait(hold, [&] { return stop || ready[size_t(index % window)]; });
            if (stop) {   // only a worker's failure stops them before the end
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception &e) {
                    throw H5::Exception("writeEncodedChunks", e.what());
                }
            }
            chunk = std::move(slots[size_t(index % window)]);
            ready[size_t(index % window)] = 0;
        }
        const std::vector<hsize_t> offset = g.offsetOf(index);
        check(H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, offset.data(), chunk.size(), chunk.data()), "H5Dwrite_chunk");
        {
            const std::lock_guard<std::mutex> hold(lock);
            written = index + 1;
        }
        wroteOne.notify_all();
    }
}

} // namespace nugget::hdf5
