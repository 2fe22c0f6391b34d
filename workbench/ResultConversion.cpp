#include "ResultConversion.h"

#include "Error.h"
#include "transfer/StreamedSensitivity.h"
#include "io/ModelFolderInfo.h"
#include "io/Session.h"
#include "transfer/TransferRecipe.h"

#include <algorithm>
#include <cmath>

namespace nugget {

namespace {

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

const std::vector<TargetModule> &gridModules()
{
    static const std::vector<TargetModule> modules{TargetModule::Q,    TargetModule::K,  TargetModule::V,
                                                   TargetModule::O,    TargetModule::Gate, TargetModule::Up,
                                                   TargetModule::Down};
    return modules;
}

std::pair<double, double> cellTotal(const at::Tensor &scores)
{
    return {scores.sum(at::kDouble).item<double>(), static_cast<double>(scores.numel())};
}

CellTotals cellTotals(const SensitivityMap &map)
{
    CellTotals cells;
    for (const auto &[name, scores] : map.scores)
        cells[name] = cellTotal(scores);
    return cells;
}

CellTotals cellTotals(const Session &session, Side side, const ModelConfig &config)
{
    CellTotals cells;
    const auto [totals, modules] = session.readLayerTotals(side);
    if (totals.size(0) != config.numHiddenLayers)
        throw Error(session.path() + ": the " + std::string(sideName(side)) + " layer totals cover " + std::to_string(totals.size(0)) +
                    " layers but the model has " + std::to_string(config.numHiddenLayers));
    for (int64_t l = 0; l < config.numHiddenLayers; ++l) {
        const auto prefix = "model.layers." + std::to_string(l) + ".";
        for (size_t column = 0; column < modules.size(); ++column) {
            const double total = totals[l][static_cast<int64_t>(column)].item<double>();
            if (modules[column] == "input_norm" || modules[column] == "post_norm") {
                cells[prefix + (modules[column] == "input_norm" ? "input_layernorm.weight"
                                                                : "post_attention_layernorm.weight")] =
                    {total, static_cast<double>(config.hiddenSize)};
                continue;
            }
            const auto module = parseTargetModule(modules[column]);
            const auto shape = targetShape(config, module);
            cells[targetParameterName(module, l)] = {total, static_cast<double>(shape[0] * shape[1])};
        }
    }
    const auto stored = session.sensitivityParameters(side);
    for (const auto module : {TargetModule::Embed, TargetModule::Head}) {
        const auto name = targetParameterName(module, 0);
        if (std::find(stored.begin(), stored.end(), name) == stored.end())
            continue;   // the head of a tied model
        cells[name] = cellTotal(session.readSensitivity(side, name));
    }
    return cells;
}

ScoreGrid scoreGrid(Side side, SensitivityMetric metric, at::ScalarType computeDtype,
                    const CellTotals &cells, const ModelConfig &config, int sample, int samples, double loss,
                    bool complete)
{
    ScoreGrid grid;
    grid.side = side;
    grid.metric = qs(sensitivityMetricName(metric));
    grid.computeDtype = qs(computeDtypeName(computeDtype));
    grid.sample = sample;
    grid.samples = samples;
    grid.loss = loss;
    grid.complete = complete;
    for (const auto module : gridModules())
        grid.columnLabels << qs(targetModuleKey(module));
    const auto layers = config.numHiddenLayers;
    grid.rowLabels << QStringLiteral("embedding");
    for (int64_t l = 0; l < layers; ++l)
        grid.rowLabels << QStringLiteral("layer %1").arg(l);
    grid.rowLabels << QStringLiteral("head");
    const auto columns = static_cast<size_t>(grid.columnLabels.size());
    grid.totals.assign(static_cast<size_t>(grid.rowLabels.size()) * columns, std::nan(""));
    grid.counts.assign(grid.totals.size(), 0);
    auto fillRow = [&](size_t row, const std::string &parameter) {
        const auto found = cells.find(parameter);
        if (found == cells.end())
            return;
        for (size_t c = 0; c < columns; ++c) {
            grid.totals[row * columns + c] = found->second.first;
            grid.counts[row * columns + c] = found->second.second;
        }
    };
    fillRow(0, targetParameterName(TargetModule::Embed, 0));
    fillRow(static_cast<size_t>(layers) + 1, targetParameterName(TargetModule::Head, 0));   // absent when tied
    for (int64_t l = 0; l < layers; ++l)
        for (size_t c = 0; c < columns; ++c) {
            const auto found = cells.find(targetParameterName(gridModules()[c], l));
            if (found == cells.end())
                continue;
            const auto cell = static_cast<size_t>(l + 1) * columns + c;
            grid.totals[cell] = found->second.first;
            grid.counts[cell] = found->second.second;
        }
    // Every parameter of a layer counts toward its total (norms included).
    grid.layerTotals.assign(static_cast<size_t>(layers), 0.0);
    for (int64_t l = 0; l < layers; ++l) {
        const auto prefix = "model.layers." + std::to_string(l) + ".";
        for (auto it = cells.lower_bound(prefix); it != cells.end() && it->first.compare(0, prefix.size(), prefix) == 0;
             ++it)
            grid.layerTotals[static_cast<size_t>(l)] += it->second.first;
    }
    return grid;
}

ScoreGrid scoreGrid(Side side, const SensitivityMap &map, const ModelConfig &config, int sample, int samples,
                    double loss, bool complete)
{
    return scoreGrid(side, map.metric, map.computeDtype, cellTotals(map), config, sample, samples, loss, complete);
}

SimilarityGrid similarityGrid(const at::Tensor &matrix, bool complete)
{
    SimilarityGrid grid;
    grid.teacherLayers = static_cast<int>(matrix.size(0));
    grid.studentLayers = static_cast<int>(matrix.size(1));
    auto flat = matrix.contiguous().to(at::kDouble);
    grid.values.assign(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    grid.complete = complete;
    return grid;
}

RunSummary runSummary(const RunReport &run, const QString &condition, const std::string &metric)
{
    RunSummary summary;
    summary.name = qs(run.name);
    summary.condition = condition;
    summary.init = qs(run.init);
    summary.seed = run.seed;
    summary.metric = qs(metric);
    summary.score = run.evaluation.score;
    summary.items = run.evaluation.items;
    summary.correct = run.evaluation.correct;
    summary.seconds = run.seconds;
    for (const auto &step : run.training.steps) {
        summary.steps.push_back(static_cast<double>(step.step));
        summary.losses.push_back(step.loss);
    }
    if (run.extraction) {
        QStringList pairs;
        const auto &layers = run.extraction->selection.teacherLayers;
        for (size_t i = 0; i < layers.size(); ++i)
            pairs << QStringLiteral("%1→%2").arg(layers[i]).arg(i);
        summary.extraction = pairs.join(QStringLiteral(", "));
    }
    return summary;
}

TrainingProgress trainingProgress(const QString &run, const TrainingStep &step)
{
    return {run,       int(step.step),   int(step.totalSteps), int(step.epoch),
            step.loss, step.learningRate, step.etaSeconds,     step.tokensPerSecond};
}

ModelFolderSummary modelFolderSummary(const ModelFolderInfo &info)
{
    ModelFolderSummary summary;
    summary.folder = info.folder;
    const auto &c = info.config;
    summary.config = {c.architecture,      c.numHiddenLayers,  c.hiddenSize, c.intermediateSize, c.numAttentionHeads,
                      c.numKeyValueHeads, c.headDim,          c.vocabSize,  c.parameterCount()};
    for (const auto &tensor : info.tensors)
        summary.tensors.push_back({tensor.name, tensor.dtypeName, tensor.shape, shapeText(tensor.shape), tensor.numel()});
    summary.storedBytes = info.storedBytes;
    summary.storedBytesText = byteSizeText(static_cast<double>(info.storedBytes));
    summary.float32BytesText = byteSizeText(4.0 * static_cast<double>(c.parameterCount()));
    summary.problems = info.problems;
    return summary;
}

ModelFolderSummary readModelFolderSummary(const QString &dir)
{
    return modelFolderSummary(ModelFolderInfo::read(dir.toStdString()));
}

} // namespace nugget
