#pragma once
// How much of this machine's memory a model may take, and the dtype that lets a large
// student fit: the rules the command line, the experiments and the workbench share.

#include "io/ModelConfig.h"

#include <c10/core/ScalarType.h>

#include <string>

namespace nugget {

// This machine's memory in bytes, or NUGGET_MEMORY_BYTES when set (throws Error when
// that is not a positive number).
double memoryBytes();

// True when the model's float32 size exceeds half of memoryBytes(): the in-memory path
// (the whole model plus its gradients and scores) would not fit, so the CLI and the
// workbench take the streamed one, and the workbench keeps such a teacher on disk.
bool tooLargeForMemory(const ModelConfig &config);

// The dtype a student's weights are held in while its adapters train (the adapters are
// float32 either way): float32 when the model is not tooLargeForMemory, else bfloat16
// when its bfloat16 size is at most three quarters of memoryBytes() (only the adapters,
// their optimiser state and one micro-batch's activations come on top). Throws Error
// naming `folder`, the sizes and the memory when not even bfloat16 fits.
at::ScalarType studentWeightsDtype(const ModelConfig &config, const std::string &folder);

// "float32", "bfloat16", or "auto"/"" for studentWeightsDtype. Throws Error otherwise.
at::ScalarType parseStudentDtype(const std::string &text, const ModelConfig &config, const std::string &folder);

} // namespace nugget
