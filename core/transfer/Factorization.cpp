#include "transfer/Factorization.h"

#include "Error.h"

#include <torch/torch.h>

namespace nugget {

FactorSplit parseFactorSplit(const std::string &name)
{
    if (name == "reference")
        return FactorSplit::SingularValuesOnB;
    if (name == "pissa")
        return FactorSplit::Balanced;
    throw Error("unknown factor split '" + name + "' (use reference or pissa)");
}

LowRankFactors factorize(const at::Tensor &matrix, int64_t rank, FactorSplit split, at::ScalarType precision)
{
    if (matrix.dim() != 2)
        throw Error("only matrices can be factorised");
    if (rank < 1 || rank > std::min(matrix.size(0), matrix.size(1)))
        throw Error("rank " + std::to_string(rank) + " is outside 1.." +
                    std::to_string(std::min(matrix.size(0), matrix.size(1))) + " for a " +
                    std::to_string(matrix.size(0)) + "x" + std::to_string(matrix.size(1)) + " matrix");
    const auto work = matrix.detach().to(precision);
    const auto [u, s, vh] = torch::linalg::svd(work, /*full_matrices=*/false, c10::nullopt);
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

} // namespace nugget
