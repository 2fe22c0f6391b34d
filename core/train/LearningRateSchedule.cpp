#include "train/LearningRateSchedule.h"

#include <algorithm>
#include <cmath>

namespace nugget {

double LearningRateSchedule::at(int64_t step) const
{
    if (step < warmupSteps)
        return peak * static_cast<double>(step + 1) / static_cast<double>(warmupSteps);
    const int64_t decaySteps = std::max<int64_t>(1, totalSteps - warmupSteps);
    const double progress = std::clamp(static_cast<double>(step - warmupSteps) / decaySteps, 0.0, 1.0);
    const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
    return peak * (floorRatio + (1.0 - floorRatio) * cosine);
}

} // namespace nugget
