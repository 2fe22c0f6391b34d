#include "dist/DataParallel.h"

#include "Error.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef NUGGET_HAVE_C10D
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace nugget {

namespace {

std::pair<std::string, uint16_t> parseMaster(const std::string &master)
{
    const auto colon = master.rfind(':');
    if (colon == std::string::npos || colon == 0)
        throw Error("--master expects ADDR:PORT, got '" + master + "'");
    const std::string host = master.substr(0, colon), portText = master.substr(colon + 1);
    size_t used = 0;
    int port = 0;
    try {
        port = std::stoi(portText, &used);
    } catch (const std::exception &) {
        used = 0;
    }
    if (used != portText.size() || port <= 0 || port > 65535)
        throw Error("--master expects ADDR:PORT with a port in 1..65535, got '" + master + "'");
    return {host, static_cast<uint16_t>(port)};
}

} // namespace

#ifdef NUGGET_HAVE_C10D

bool dataParallelAvailable() { return true; }

struct DataParallelGroup::Impl
{
    int rank = 0, worldSize = 1;
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

DataParallelGroup::DataParallelGroup(const DataParallelOptions &options) : d(std::make_unique<Impl>())
{
    if (options.worldSize < 1 || options.rank < 0 || options.rank >= options.worldSize)
        throw Error("rank " + std::to_string(options.rank) + " is outside a world of " +
                    std::to_string(options.worldSize) + " processes");
    const auto [host, port] = parseMaster(options.master);
    d->rank = options.rank;
    d->worldSize = options.worldSize;
    try {
        c10d::TCPStoreOptions storeOptions;
        storeOptions.port = port;
        storeOptions.isServer = options.rank == 0;
        storeOptions.numWorkers = static_cast<size_t>(options.worldSize);
        storeOptions.timeout = options.timeout;
        d->store = c10::make_intrusive<c10d::TCPStore>(host, storeOptions);
        auto groupOptions = c10d::ProcessGroupGloo::Options::create();
        groupOptions->timeout = options.timeout;
        // On one machine bind to loopback; across machines let Gloo pick this host's
        // interface from its name.
        const bool local = host == "127.0.0.1" || host == "localhost";
        groupOptions->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                              : c10d::ProcessGroupGloo::createDefaultDevice());
        d->group = c10::make_intrusive<c10d::ProcessGroupGloo>(d->store, options.rank, options.worldSize, groupOptions);
    } catch (const std::exception &e) {
        throw Error("cannot join the data-parallel group at " + options.master + " as rank " +
                    std::to_string(options.rank) + " of " + std::to_string(options.worldSize) + ": " + e.what());
    }
}

DataParallelGroup::~DataParallelGroup() = default;

int DataParallelGroup::rank() const { return d->rank; }
int DataParallelGroup::worldSize() const { return d->worldSize; }

void DataParallelGroup::allReduceSum(at::Tensor &tensor)
{
    if (d->worldSize == 1)
        return;
    try {
        std::vector<at::Tensor> tensors{tensor.is_contiguous() ? tensor : tensor.contiguous()};
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        d->group->allreduce(tensors, options)->wait();
        if (!tensor.is_same(tensors[0]))
            tensor.copy_(tensors[0]);
    } catch (const std::exception &e) {
        throw Error("data-parallel all-reduce failed on rank " + std::to_string(d->rank) + ": " + e.what());
    }
}

void DataParallelGroup::barrier()
{
    if (d->worldSize == 1)
        return;
    try {
        d->group->barrier()->wait();
    } catch (const std::exception &e) {
        throw Error("data-parallel barrier failed on rank " + std::to_string(d->rank) + ": " + e.what());
    }
}

#else

bool dataParallelAvailable() { return false; }

struct DataParallelGroup::Impl
{
};

DataParallelGroup::DataParallelGroup(const DataParallelOptions &options)
{
    parseMaster(options.master);
    throw Error("this build of Nugget has no data parallelism: libtorch's c10d with Gloo (headers of "
                "torch/csrc/distributed/c10d and gloo) was not found when it was configured");
}

DataParallelGroup::~DataParallelGroup() = default;
int DataParallelGroup::rank() const { return 0; }
int DataParallelGroup::worldSize() const { return 1; }
void DataParallelGroup::allReduceSum(at::Tensor &) {}
void DataParallelGroup::barrier() {}

#endif

int freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0;
    if (fd >= 0)
        ::close(fd);
    if (!ok)
        throw Error("cannot find a free loopback port for the data-parallel group");
    return ntohs(address.sin_port);
}

} // namespace nugget
