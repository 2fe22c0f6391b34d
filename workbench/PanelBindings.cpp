#include "PanelBindings.h"

#include "transfer/LayerSelection.h"
#include "transfer/TransferRecipe.h"

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

RecipeSettings recipeSettings(const TransferRecipe &recipe)
{
    RecipeSettings s;
    s.seeds = qs(recipe.seeds);
    s.train = qs(recipe.train);
    s.eval = qs(recipe.eval);
    s.evalMetric = qs(recipe.evalMetric);
    s.maxLength = recipe.maxLength;
    s.sensitivityMetric = qs(recipe.sensitivityMetric);
    s.layers = qs(recipe.layers);
    s.structure = qs(recipe.structure);
    s.origin = qs(recipe.origin);
    s.split = qs(recipe.split);
    s.rank = recipe.lora.rank;
    s.alpha = recipe.lora.alpha;
    s.dropout = recipe.lora.dropout;
    s.seed = recipe.seed;
    s.init = qs(recipe.init);
    s.epochs = recipe.training.epochs;
    s.batchSize = recipe.training.batchSize;
    s.microBatchSize = recipe.training.microBatchSize;
    s.learningRate = recipe.training.learningRate;
    s.evalLimit = recipe.evalLimit;
    s.maxNewTokens = recipe.maxNewTokens;
    return s;
}

void applySettings(const RecipeSettings &s, TransferRecipe &recipe)
{
    recipe.seeds = s.seeds.toStdString();
    recipe.train = s.train.toStdString();
    recipe.eval = s.eval.toStdString();
    recipe.evalMetric = s.evalMetric.toStdString();
    recipe.maxLength = s.maxLength;
    recipe.sensitivityMetric = s.sensitivityMetric.toStdString();
    recipe.layers = s.layers.toStdString();
    recipe.structure = s.structure.toStdString();
    recipe.origin = s.origin.toStdString();
    recipe.split = s.split.toStdString();
    recipe.lora.rank = s.rank;
    recipe.lora.alpha = s.alpha;
    recipe.lora.dropout = s.dropout;
    recipe.seed = s.seed;
    recipe.init = s.init.toStdString();
    recipe.training.epochs = s.epochs;
    recipe.training.batchSize = s.batchSize;
    recipe.training.microBatchSize = s.microBatchSize;
    recipe.training.learningRate = s.learningRate;
    recipe.evalLimit = s.evalLimit;
    recipe.maxNewTokens = s.maxNewTokens;
}

std::vector<int64_t> proposeLayers(const QString &strategy, const std::vector<double> &scores, int studentLayers,
                                   quint64 seed)
{
    return selectLayers(parseLayerStrategy(strategy.toStdString()), scores, studentLayers, seed).teacherLayers;
}

} // namespace nugget
