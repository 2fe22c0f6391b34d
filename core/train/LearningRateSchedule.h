#pragma once
// Linear warm-up, then cosine decay to a floor: the schedule of both pretraining and
// LoRA fine-tuning.

#include <cstdint>

namespace nugget {

struct LearningRateSchedule
{
    double peak = 1e-3;
    int64_t warmupSteps = 0;
    int64_t totalSteps = 1;
    double floorRatio = 0.1;   // final learning rate as a fraction of the peak

    double at(int64_t step) const;   // step counts from 0
};

} // namespace nugget
