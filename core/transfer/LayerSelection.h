#pragma once
// Which teacher layers feed which student layers. The i-th selected teacher layer (in
// depth order) maps to student layer i.

#include "transfer/RecipeChoices.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nugget {

// LayerStrategy, parseLayerStrategy and layerStrategyName: transfer/RecipeChoices.h

struct LayerSelection
{
    LayerStrategy strategy = LayerStrategy::Sensitivity;
    std::vector<int64_t> teacherLayers;   // one per student layer, strictly increasing
};

// sensitivity: the studentLayers highest layer scores (ties: the shallower layer first,
//              as a stable sort does), re-sorted by depth; the reference's choice.
// top / last:  the first / last studentLayers layers.
// random:      a seeded random subset, sorted by depth.
// Throws Error when the teacher has fewer layers than the student.
LayerSelection selectLayers(LayerStrategy strategy, const std::vector<double> &teacherLayerScores,
                            int64_t studentLayers, uint64_t seed = 0);
// A manual list such as "0,2,5": must name studentLayers distinct layers in range.
LayerSelection manualLayers(const std::string &list, int64_t teacherLayers, int64_t studentLayers);
// Parses the command-line form: a strategy name or a manual list.
LayerSelection selectLayers(const std::string &spec, const std::vector<double> &teacherLayerScores,
                            int64_t studentLayers, uint64_t seed = 0);

} // namespace nugget
