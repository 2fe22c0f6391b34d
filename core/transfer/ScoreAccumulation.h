#pragma once
// Adding one sample's scores of a parameter to its running sum: where sensitivity spends
// its time per weight once the matmuls run in bfloat16.

#include "transfer/Sensitivity.h"

#include <ATen/ATen.h>

namespace nugget {

// scores += |weight * grad| (taylor) or grad^2 (fisher), element by element, in float32
// whatever the dtype of `weight` and `grad` (float32 or bfloat16; a bfloat16 product is
// exact in float32). `grad` may be overwritten. On the CPU, with contiguous tensors, this
// is one fused pass on every thread, reading each operand once; elsewhere the tensor ops
// do it (a float32 copy of a bfloat16 gradient, then the product, the magnitude and the
// sum). Both give the same values.
void accumulateScores(at::Tensor &scores, SensitivityMetric metric, const at::Tensor &weight, at::Tensor &grad);

// The tensor-op form above, for any device: the reference the fused pass is held to.
void accumulateScoresWithTensorOps(at::Tensor &scores, SensitivityMetric metric, const at::Tensor &weight,
                                   at::Tensor &grad);

} // namespace nugget
