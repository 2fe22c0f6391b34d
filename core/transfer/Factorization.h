#pragma once
// Low-rank factors of a matrix for LoRA initialisation.

#include "transfer/RecipeChoices.h"

#include <ATen/ATen.h>

#include <string>

namespace nugget {

// FactorSplit and parseFactorSplit, SvdMethod and parseSvdMethod: transfer/RecipeChoices.h

// How an extraction factorises each reduced matrix: the exact truncated SVD, the
// randomized one, or (Auto) the randomized one for matrices above
// kRandomizedSvdElements only. Exact SVD costs O(out * in * min(out, in)): about half a
// minute per 7B-sized matrix on two cores, nearly two hours for the 226 matrices of a
// 13B -> 7B transfer; the randomized one takes about a second each.
constexpr int64_t kRandomizedSvdElements = int64_t(1) << 24;   // 16.8 M: 4096 x 4096
bool usesRandomizedSvd(SvdMethod method, int64_t rows, int64_t cols);

struct LowRankFactors
{
    at::Tensor a;   // [rank, in]
    at::Tensor b;   // [out, rank]
};

// Truncated SVD of `matrix` [out, in] computed in float32 or float64 (`precision`),
// returned in the matrix's dtype and device. B A is the best rank-r approximation.
LowRankFactors factorize(const at::Tensor &matrix, int64_t rank, FactorSplit split = FactorSplit::SingularValuesOnB,
                         at::ScalarType precision = at::kFloat);

// The same factors from a randomized truncated SVD (Halko, Martinsson and Tropp): a
// range sketch of rank + oversampling columns refined by power iterations, then the
// exact SVD of the small projected matrix. O(out * in * (rank + oversampling)) per
// iteration instead of the full SVD's O(out * in * min(out, in)): the choice for
// 13B-sized matrices. Deterministic for a seed; close to factorize() when the spectrum
// decays, as in trained weights.
LowRankFactors factorizeRandomized(const at::Tensor &matrix, int64_t rank,
                                   FactorSplit split = FactorSplit::SingularValuesOnB,
                                   at::ScalarType precision = at::kFloat, int64_t oversampling = 16,
                                   int64_t powerIterations = 4, uint64_t seed = 0);

} // namespace nugget
