#pragma once
// Low-rank factors of a matrix for LoRA initialisation.

#include <ATen/ATen.h>

#include <string>

namespace nugget {

enum class FactorSplit
{
    SingularValuesOnB,   // B = U_r S_r, A = V_r^T (the reference's split)
    Balanced,            // B = U_r sqrt(S_r), A = sqrt(S_r) V_r^T (PiSSA)
};
FactorSplit parseFactorSplit(const std::string &name);   // reference|pissa

struct LowRankFactors
{
    at::Tensor a;   // [rank, in]
    at::Tensor b;   // [out, rank]
};

// Truncated SVD of `matrix` [out, in] computed in float32 or float64 (`precision`),
// returned in the matrix's dtype and device. B A is the best rank-r approximation.
LowRankFactors factorize(const at::Tensor &matrix, int64_t rank, FactorSplit split = FactorSplit::SingularValuesOnB,
                         at::ScalarType precision = at::kFloat);

} // namespace nugget
