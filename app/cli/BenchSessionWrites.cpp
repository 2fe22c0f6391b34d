// nugget-cli bench session-writes: writing float16 sensitivity scores of 13B-shaped
// layer matrices. The same chunks through HDF5's single-threaded filter pipeline (the
// filter order sessions had before, and the order they have now) against the chunks
// encoded on every intra-op thread and written with H5Dwrite_chunk, and the whole
// Session::writeSensitivity(Float16) call. Prints MB/s of float16 data, the speed-up
// and the file sizes, and checks that the parallel chunks equal HDF5's own encoding.

#include "CommandLine.h"
#include "Commands.h"

#include "io/ScoreChunks.h"
#include "io/Session.h"

#include <H5Cpp.h>

#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>

#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <functional>
#include <vector>

namespace nugget::cli {

namespace {

double processCpuSeconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// Wall time and the process's CPU time of one run of `fn`: their ratio is how many
// cores it kept busy.
struct Timing
{
    double wall = 0, cpu = 0;
    Timing &operator+=(const Timing &other)
    {
        wall += other.wall;
        cpu += other.cpu;
        return *this;
    }
};

Timing timed(const std::function<void()> &fn)
{
    const double cpuStart = processCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    fn();
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
            processCpuSeconds() - cpuStart};
}

H5::H5File createFile(const std::string &path)
{
    H5::FileAccPropList access;
    H5Pset_libver_bounds(access.getId(), H5F_LIBVER_V110, H5F_LIBVER_V110);
    return H5::H5File(path, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
}

// Every chunk's bytes, in chunk order; empty when the dataset cannot be listed.
std::vector<std::vector<char>> chunkBytes(const H5::DataSet &dataset)
{
    std::vector<std::vector<char>> chunks;
    const H5::DataSpace space = dataset.getSpace();
    const int rank = space.getSimpleExtentNdims();
    hsize_t count = 0;
    if (H5Dget_num_chunks(dataset.getId(), space.getId(), &count) < 0)
        return {};
    for (hsize_t i = 0; i < count; ++i) {
        std::vector<hsize_t> offset(static_cast<size_t>(rank));
        unsigned mask = 0;
        haddr_t address = 0;
        hsize_t size = 0;
        uint32_t filters = 0;
        std::vector<char> bytes;
        if (H5Dget_chunk_info(dataset.getId(), space.getId(), i, offset.data(), &mask, &address, &size) < 0)
            return {};
        bytes.resize(size);
        if (H5Dread_chunk(dataset.getId(), H5P_DEFAULT, offset.data(), &filters, bytes.data()) < 0 || filters != 0)
            return {};
        chunks.push_back(std::move(bytes));
    }
    return chunks;
}

} // namespace

int benchSessionWrites(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("session-writes"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("rows"), QStringLiteral("Rows of each score matrix (default 5120, a 13B hidden size)."),
         QStringLiteral("N"), QStringLiteral("5120")},
        {QStringLiteral("cols"), QStringLiteral("Columns of each score matrix (default 13824, a 13B MLP width)."),
         QStringLiteral("N"), QStringLiteral("13824")},
        {QStringLiteral("matrices"), QStringLiteral("Score matrices written per method (default 3)."),
         QStringLiteral("N"), QStringLiteral("3")},
        {QStringLiteral("folder"), QStringLiteral("Where the temporary files go (default: the system's temporary folder)."),
         QStringLiteral("DIR"), QDir::tempPath()},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Float16 sensitivity score writes: HDF5's single-threaded filter pipeline against "
                               "chunks encoded on every thread and written directly, with MB/s, speed-up and file "
                               "sizes."));
    const int64_t rows = integerOption(parser, QStringLiteral("rows"));
    const int64_t cols = integerOption(parser, QStringLiteral("cols"));
    const int64_t matrices = integerOption(parser, QStringLiteral("matrices"));
    if (rows <= 0 || cols <= 0 || matrices <= 0)
        throw Error("--rows, --cols and --matrices must be positive");
    QTemporaryDir dir(QDir(parser.value(QStringLiteral("folder"))).filePath(QStringLiteral("nugget-bench-XXXXXX")));
    if (!dir.isValid())
        throw Error(parser.value(QStringLiteral("folder")).toStdString() + ": cannot create a temporary folder: "
                    + dir.errorString().toStdString());
    H5::Exception::dontPrint();

    // Scores like |w * g|, scaled to [0, 1] and rounded to half as sessions store them.
    std::fprintf(stderr, "generating %lld score matrices of %lldx%lld...\n", static_cast<long long>(matrices),
                 static_cast<long long>(rows), static_cast<long long>(cols));
    torch::manual_seed(1);
    std::vector<at::Tensor> halves;
    for (int64_t i = 0; i < matrices; ++i) {
        const at::Tensor scores = (torch::randn({rows, cols}) * torch::randn({rows, cols})).abs_();
        halves.push_back((scores / scores.max()).to(at::kHalf).contiguous());
    }
    const double megabytes = double(matrices * rows * cols * 2) / 1e6;
    const auto name = [](int64_t i) { return "scores" + std::to_string(i); };

    // The whole Session call first: its datasets give the chunk shape the others use.
    const std::string sessionPath = dir.filePath(QStringLiteral("session.h5")).toStdString();
    std::vector<at::Tensor> inputs;   // float32 scores, made before the clock starts
    Timing sessionTiming;
    {
        Session session = Session::create(sessionPath);
        for (int64_t i = 0; i < matrices; ++i) {
            const at::Tensor input = halves[size_t(i)].to(at::kFloat);
            sessionTiming += timed([&] {
                session.writeSensitivity(Side::Teacher, name(i), input, Session::ScoreStorage::Float16);
            });
        }
        sessionTiming += timed([&] { session.commit(); });
    }
    std::vector<hsize_t> chunk(2);
    {
        const H5::H5File file(sessionPath, H5F_ACC_RDONLY);
        file.openDataSet("/sensitivity/teacher/" + name(0)).getCreatePlist().getChunk(2, chunk.data());
    }

    const H5::FloatType type = hdf5::halfType();
    const std::vector<hsize_t> dims{hsize_t(rows), hsize_t(cols)};
    enum class Method { PipelineBefore, PipelineNow, Encoded };
    const auto writeFile = [&](const std::string &path, Method method) {
        return timed([&] {
            H5::H5File file = createFile(path);
            for (int64_t i = 0; i < matrices; ++i) {
                H5::DSetCreatPropList dcpl;
                dcpl.setChunk(2, chunk.data());
                if (method == Method::PipelineBefore) {
                    dcpl.setFletcher32();
                    dcpl.setShuffle();
                    dcpl.setDeflate(1);
                } else {
                    hdf5::addEncodedChunkFilters(dcpl.getId(), 1);
                }
                H5::DataSet dataset = file.createDataSet(name(i), type, H5::DataSpace(2, dims.data()), dcpl);
                if (method == Method::Encoded)
                    hdf5::writeEncodedChunks(dataset.getId(), halves[size_t(i)].data_ptr());
                else
                    dataset.write(halves[size_t(i)].data_ptr(), type);
                dataset.close();
            }
            file.close();
        });
    };
    const std::string beforePath = dir.filePath(QStringLiteral("pipeline-before.h5")).toStdString();
    const std::string nowPath = dir.filePath(QStringLiteral("pipeline-now.h5")).toStdString();
    const std::string encodedPath = dir.filePath(QStringLiteral("encoded.h5")).toStdString();
    std::fprintf(stderr, "HDF5 pipeline, filters as before...\n");
    const Timing before = writeFile(beforePath, Method::PipelineBefore);
    std::fprintf(stderr, "HDF5 pipeline, filters as now...\n");
    const Timing now = writeFile(nowPath, Method::PipelineNow);
    std::fprintf(stderr, "encoded on %d threads...\n", at::get_num_threads());
    const Timing encoded = writeFile(encodedPath, Method::Encoded);

    // The parallel chunks must be HDF5's own bytes, and read back through its filters.
    bool identicalChunks = true, identicalValues = true;
    {
        const H5::H5File nowFile(nowPath, H5F_ACC_RDONLY), encodedFile(encodedPath, H5F_ACC_RDONLY);
        for (int64_t i = 0; i < matrices; ++i) {
            const H5::DataSet expected = nowFile.openDataSet(name(i)), written = encodedFile.openDataSet(name(i));
            const auto expectedChunks = chunkBytes(expected);
            identicalChunks = identicalChunks && !expectedChunks.empty() && chunkBytes(written) == expectedChunks;
            at::Tensor back = at::empty({rows, cols}, at::kHalf);
            written.read(back.data_ptr(), type);
            identicalValues = identicalValues && at::equal(back.view(at::kShort), halves[size_t(i)].view(at::kShort));
        }
    }

    const auto size = [](const std::string &path) { return double(QFileInfo(QString::fromStdString(path)).size()) / 1e6; };
    std::printf("%lld float16 score matrices of %lldx%lld (%.1f MB of float16), chunks of %llux%llu, "
                "%d intra-op threads\n\n",
                static_cast<long long>(matrices), static_cast<long long>(rows), static_cast<long long>(cols), megabytes,
                static_cast<unsigned long long>(chunk[0]), static_cast<unsigned long long>(chunk[1]),
                at::get_num_threads());
    std::printf("%-68s %8s %8s %9s %6s %9s\n", "method", "seconds", "MB/s", "speed-up", "cores", "file MB");
    const auto line = [&](const char *method, const Timing &t, const std::string &path) {
        std::printf("%-68s %8.2f %8.1f %8.2fx %6.2f %9.1f\n", method, t.wall, megabytes / t.wall,
                    before.wall / t.wall, t.cpu / t.wall, size(path));
    };
    line("HDF5 pipeline, one thread: Fletcher-32, shuffle, deflate 1 (before)", before, beforePath);
    line("HDF5 pipeline, one thread: shuffle, deflate 1, Fletcher-32", now, nowPath);
    line("encoded on every thread + H5Dwrite_chunk (same filters)", encoded, encodedPath);
    line("Session::writeSensitivity(Float16) + commit (scale, convert, encode)", sessionTiming, sessionPath);
    std::printf("(cores: process CPU time / wall time)\n");
    std::printf("\nparallel chunks byte-identical to HDF5's encoding: %s; read back through HDF5's filters: %s\n",
                identicalChunks ? "yes" : "NO", identicalValues ? "identical" : "DIFFERENT");
    return identicalChunks && identicalValues ? 0 : 1;
}

} // namespace nugget::cli
