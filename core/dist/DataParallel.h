#pragma once
// A data-parallel process group on libtorch's own c10d: a TCPStore at the master's
// address for the rendezvous, ProcessGroupGloo for the collectives (CPU tensors, and
// CUDA tensors where the libtorch build has CUDA). Built only when the c10d and Gloo
// headers are present (NUGGET_HAVE_C10D); otherwise connecting throws Error.

#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <string>

namespace nugget {

struct DataParallelOptions
{
    int worldSize = 1;
    int rank = 0;
    std::string master = "127.0.0.1:29500";   // ADDR:PORT of rank 0's store
    std::chrono::seconds timeout{300};        // for the rendezvous and each collective
};

// True when this build has c10d with Gloo.
bool dataParallelAvailable();

// A TCP port free on loopback right now, for a local group's rendezvous store.
int freeLoopbackPort();

class DataParallelGroup
{
public:
    // Joins the group; returns once every rank has joined. Throws Error for a bad
    // master address, a rank outside [0, worldSize), a build without c10d, or when the
    // other ranks do not come within the timeout.
    explicit DataParallelGroup(const DataParallelOptions &options);
    ~DataParallelGroup();
    DataParallelGroup(const DataParallelGroup &) = delete;
    DataParallelGroup &operator=(const DataParallelGroup &) = delete;

    int rank() const;
    int worldSize() const;
    // Sums the tensor over all ranks in place (every rank ends with the same values).
    void allReduceSum(at::Tensor &tensor);
    void barrier();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace nugget
