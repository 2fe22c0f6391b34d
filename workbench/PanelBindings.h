#pragma once
// What the window hands the torch-free widgets: the panels' plain recipe values to and
// from the core's TransferRecipe, and the core's layer-selection rule for the layer
// selection model.

#include "EngineRequests.h"

#include <QString>

#include <cstdint>
#include <vector>

namespace nugget {

struct TransferRecipe;

// The values the panels show, taken from `recipe`.
RecipeSettings recipeSettings(const TransferRecipe &recipe);
// Writes the panels' values into `recipe`; keys no panel shows keep their value.
void applySettings(const RecipeSettings &settings, TransferRecipe &recipe);

// The teacher layers a strategy (sensitivity | top | last | random) chooses for a student
// of `studentLayers` layers: core/transfer/LayerSelection's selectLayers.
std::vector<int64_t> proposeLayers(const QString &strategy, const std::vector<double> &scores, int studentLayers,
                                   quint64 seed);

} // namespace nugget
