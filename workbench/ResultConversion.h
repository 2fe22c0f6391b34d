#pragma once
// Pure conversions from the core's results (score maps, sessions, similarity matrices,
// run reports, training steps) to the plain values of EngineResults.h that the views
// draw. No state, no threads: the engine's jobs call these, and so do the tests.

#include "EngineResults.h"
#include "ModelFolderSummary.h"

#include "io/ModelConfig.h"
#include "model/LoraAdapters.h"
#include "transfer/Sensitivity.h"

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>

namespace nugget {

struct ModelFolderInfo;
class Session;
struct RunReport;
struct TrainingStep;

// The columns of a score grid, in order: q k v o gate up down.
const std::vector<TargetModule> &gridModules();

// Parameter name -> (sum of its scores, number of weights): all a score grid needs.
using CellTotals = std::map<std::string, std::pair<double, double>>;

// One cell per scored parameter.
CellTotals cellTotals(const SensitivityMap &map);
// The cells of scores kept in a session: the per-layer module totals it records (norms
// included, with hiddenSize weights each) and the embedding and head read once each
// (they are outside the layers; the head is absent for a tied model). Throws Error
// naming the session when its totals cover another layer count than `config`.
CellTotals cellTotals(const Session &session, Side side, const ModelConfig &config);
// The cell of one parameter's scores.
std::pair<double, double> cellTotal(const at::Tensor &scores);

// Totals and weight counts per layer and module, plus the embedding and head rows (their
// single matrix in every column), from a partial or complete set of cells: cells not
// scored yet are NaN with count 0. layerTotals sums every parameter of each decoder
// layer, norms included.
ScoreGrid scoreGrid(Side side, SensitivityMetric metric, at::ScalarType computeDtype,
                    const CellTotals &cells, const ModelConfig &config, int sample, int samples, double loss,
                    bool complete);
ScoreGrid scoreGrid(Side side, const SensitivityMap &map, const ModelConfig &config, int sample, int samples,
                    double loss, bool complete);

// A [teacher layers, student layers] matrix, row-major.
SimilarityGrid similarityGrid(const at::Tensor &matrix, bool complete);

// A finished run as the run panel lists it: score, items, the loss curve, and which
// teacher layers fed which student layers ("1→0, 3→1") for a transfer run.
RunSummary runSummary(const RunReport &run, const QString &condition, const std::string &metric);

TrainingProgress trainingProgress(const QString &run, const TrainingStep &step);

// A model folder as its pane shows it, and the folder read and converted (throws Error
// naming the folder when it is not a LLaMA-family folder): the widgets' reader.
ModelFolderSummary modelFolderSummary(const ModelFolderInfo &info);
ModelFolderSummary readModelFolderSummary(const QString &dir);

} // namespace nugget
