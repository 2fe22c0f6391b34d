#include "transfer/Factorization.h"

#include "Error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace nugget {

bool usesRandomizedSvd(SvdMethod method, int64_t rows, int64_t cols)
{
    return method == SvdMethod::Randomized || (method == SvdMethod::Auto && rows * cols >= kRandomizedSvdElements);
}

namespace {

void checkRank(const at::Tensor &matrix, int64_t rank)
{
    if (matrix.dim() != 2)
        throw Error("only matrices can be factorised");
    if (rank < 1 || rank > std::min(matrix.size(0), matrix.size(1)))
        throw Error("rank " + std::to_string(rank) + " is outside 1.." +
                    std::to_string(std::min(matrix.size(0), matrix.size(1))) + " for a " +
                    std::to_string(matrix.size(0)) + "x" + std::to_string(matrix.size(1)) + " matrix");
}

LowRankFactors splitFactors(const at::Tensor &matrix, const at::Tensor &u, const at::Tensor &s, const at::Tensor &vh,
                            int64_t rank, FactorSplit split)
{
    const auto ur = u.narrow(1, 0, rank), sr = s.narrow(0, 0, rank), vr = vh.narrow(0, 0, rank);
    LowRankFactors factors;
    if (split == FactorSplit::SingularValuesOnB) {
        factors.b = ur * sr.unsqueeze(0);
        factors.a = vr;
    } else {
        const auto root = sr.sqrt();
        factors.b = ur * root.unsqueeze(0);
        factors.a = root.unsqueeze(1) * vr;
    }
    factors.a = factors.a.to(matrix.scalar_type()).contiguous();
    factors.b = factors.b.to(matrix.scalar_type()).contiguous();
    return factors;
}

} // namespace

LowRankFactors factorize(const at::Tensor &matrix, int64_t rank, FactorSplit split, at::ScalarType precision)
{
    checkRank(matrix, rank);
    const auto work = matrix.detach().to(precision);
    const auto [u, s, vh] = torch::linalg::svd(work, /*full_matrices=*/false, c10::nullopt);
    return splitFactors(matrix, u, s, vh, rank, split);
}

LowRankFactors factorizeRandomized(const at::Tensor &matrix, int64_t rank, FactorSplit split,
                                   at::ScalarType precision, int64_t oversampling, int64_t powerIterations,
                                   uint64_t seed)
{
    checkRank(matrix, rank);
    const auto work = matrix.detach().to(precision);
    const int64_t sketch = std::min({rank + oversampling, work.size(0), work.size(1)});
    // Drawn on the CPU from our own generator so the result does not depend on the device.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto omega = at::normal(0.0, 1.0, {work.size(1), sketch}, generator, at::TensorOptions().dtype(precision))
                           .to(work.device());
    // Orthonormal basis of the range, re-orthonormalised after each pass for stability.
    auto q = std::get<0>(torch::linalg::qr(at::matmul(work, omega)));
    for (int64_t i = 0; i < powerIterations; ++i) {
        const auto z = std::get<0>(torch::linalg::qr(at::matmul(work.t(), q)));
        q = std::get<0>(torch::linalg::qr(at::matmul(work, z)));
    }
    const auto [ub, s, vh] = torch::linalg::svd(at::matmul(q.t(), work), /*full_matrices=*/false, c10::nullopt);
    return splitFactors(matrix, at::matmul(q, ub), s, vh, rank, split);
}

} // namespace nugget
