// The engine's pure conversions from core results to what the views draw, each against
// values worked out by hand: score grids (rows, columns, NaN for cells not scored yet,
// layer totals with the norms), cell totals from a score map and from a session's
// per-layer totals, similarity grids, run summaries, model-folder summaries, and the
// panels' recipe values written to and read from a recipe.

#include "TestSupport.h"

#include "PanelBindings.h"
#include "ResultConversion.h"
#include "io/ModelFolderInfo.h"
#include "io/Session.h"
#include "transfer/TransferRecipe.h"

#include <QTemporaryDir>

#include <cmath>

using namespace nugget;

namespace {

// 2 layers, hidden 8, intermediate 16: q/k/v/o are 8x8 (64 weights), gate/up 16x8 and
// down 8x16 (128 weights).
ModelConfig twoLayers() { return test::llamaConfig(8, 16, 2, 2, 2, 10, 2048); }

constexpr int kColumns = 7;   // q k v o gate up down

double cell(const ScoreGrid &grid, int row, int column) { return grid.totals[size_t(row * kColumns + column)]; }
double count(const ScoreGrid &grid, int row, int column) { return grid.counts[size_t(row * kColumns + column)]; }

} // namespace

class TestEngineResults : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void scoreGridPlacesEachCell()
    {
        CellTotals cells;
        cells["model.embed_tokens.weight"] = {5.0, 80};
        cells["model.layers.0.self_attn.q_proj.weight"] = {1.5, 64};
        cells["model.layers.0.mlp.down_proj.weight"] = {2.0, 128};
        cells["model.layers.0.input_layernorm.weight"] = {0.25, 8};
        cells["model.layers.1.self_attn.k_proj.weight"] = {3.0, 64};
        const auto grid = scoreGrid(Side::Teacher, SensitivityMetric::Fisher, at::kBFloat16, cells,
                                    twoLayers(), 3, 8, 0.75, false);

        QCOMPARE(grid.side, Side::Teacher);
        QCOMPARE(grid.metric, QStringLiteral("fisher"));
        QCOMPARE(grid.computeDtype, QStringLiteral("bfloat16"));
        QCOMPARE(grid.sample, 3);
        QCOMPARE(grid.samples, 8);
        QCOMPARE(grid.loss, 0.75);
        QVERIFY(!grid.complete);
        QCOMPARE(grid.rowLabels, (QStringList{"embedding", "layer 0", "layer 1", "head"}));
        QCOMPARE(grid.columnLabels, (QStringList{"q", "k", "v", "o", "gate", "up", "down"}));
        QCOMPARE(grid.totals.size(), size_t(4 * kColumns));
        // The embedding's single matrix fills its whole row.
        for (int c = 0; c < kColumns; ++c) {
            QCOMPARE(cell(grid, 0, c), 5.0);
            QCOMPARE(count(grid, 0, c), 80.0);
        }
        QCOMPARE(cell(grid, 1, 0), 1.5);
        QCOMPARE(count(grid, 1, 0), 64.0);
        QCOMPARE(cell(grid, 1, 6), 2.0);
        QCOMPARE(count(grid, 1, 6), 128.0);
        QCOMPARE(cell(grid, 2, 1), 3.0);
        // Not scored yet (and the head, absent here as for a tied model): NaN, no weights.
        for (const auto &[row, column] : {std::pair{1, 1}, {1, 5}, {2, 0}, {3, 0}, {3, 6}}) {
            QVERIFY(std::isnan(cell(grid, row, column)));
            QCOMPARE(count(grid, row, column), 0.0);
        }
        // Layer totals take every parameter of the layer, the norm included.
        QCOMPARE(grid.layerTotals, (std::vector<double>{1.5 + 2.0 + 0.25, 3.0}));
    }

    void cellTotalsSumEachScoreMap()
    {
        SensitivityMap map;
        map.scores["model.layers.0.self_attn.q_proj.weight"] = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.5f}});
        map.scores["lm_head.weight"] = torch::tensor({-1.0f, 0.5f, 0.25f});
        const auto cells = cellTotals(map);
        QCOMPARE(cells.size(), size_t(2));
        QCOMPARE(cells.at("model.layers.0.self_attn.q_proj.weight"), (std::pair<double, double>{10.5, 4}));
        QCOMPARE(cells.at("lm_head.weight"), (std::pair<double, double>{-0.25, 3}));
    }

    // A session keeps per-layer module totals (q k v o gate up down input_norm post_norm)
    // and every parameter's scores; the cells come from the totals, with the weight
    // counts of the model's shapes, and the embedding read once.
    void cellTotalsFromASessionUseItsLayerTotals()
    {
        QTemporaryDir dir;
        const auto path = dir.filePath(QStringLiteral("scores.h5")).toStdString();
        {
            auto session = Session::create(path);
            auto totals = torch::arange(18, torch::kDouble).view({2, 9});   // layer l, column c: 9l + c
            session.writeLayerTotals(Side::Teacher, totals, layerModuleNames());
            session.writeSensitivity(Side::Teacher, "model.embed_tokens.weight", torch::full({10, 8}, 0.5f),
                                     Session::ScoreStorage::Float32);
            session.setSensitivityInfo(Side::Teacher, "taylor", 4, "float32");
            session.commit();
        }
        const auto session = Session::openReadOnly(path);
        const auto cells = cellTotals(session, Side::Teacher, twoLayers());
        QCOMPARE(cells.at("model.layers.0.self_attn.q_proj.weight"), (std::pair<double, double>{0, 64}));
        QCOMPARE(cells.at("model.layers.0.mlp.gate_proj.weight"), (std::pair<double, double>{4, 128}));
        QCOMPARE(cells.at("model.layers.1.mlp.down_proj.weight"), (std::pair<double, double>{15, 128}));
        QCOMPARE(cells.at("model.layers.1.input_layernorm.weight"), (std::pair<double, double>{16, 8}));
        QCOMPARE(cells.at("model.layers.1.post_attention_layernorm.weight"), (std::pair<double, double>{17, 8}));
        QCOMPARE(cells.at("model.embed_tokens.weight"), (std::pair<double, double>{40, 80}));
        QVERIFY(!cells.count("lm_head.weight"));
        QCOMPARE(cells.size(), size_t(2 * 9 + 1));

        auto threeLayers = twoLayers();
        threeLayers.numHiddenLayers = 3;
        QVERIFY_THROWS_EXCEPTION(Error, cellTotals(session, Side::Teacher, threeLayers));
    }

    void similarityGridIsRowMajor()
    {
        const auto grid = similarityGrid(torch::tensor({{0.1f, 0.2f, 0.3f}, {0.4f, 0.5f, 0.6f}}), true);
        QCOMPARE(grid.teacherLayers, 2);
        QCOMPARE(grid.studentLayers, 3);
        QVERIFY(grid.complete);
        const std::vector<double> expected{0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
        QCOMPARE(grid.values.size(), expected.size());
        for (size_t i = 0; i < expected.size(); ++i)
            QVERIFY(std::abs(grid.values[i] - expected[i]) < 1e-7);
        // A partial matrix keeps its NaN rows.
        const auto partial = similarityGrid(torch::tensor({{0.5, std::nan("")}}), false);
        QVERIFY(std::isnan(partial.values[1]));
        QVERIFY(!partial.complete);
    }

    void runSummaryListsTheCurveAndTheLayerPairs()
    {
        RunReport run;
        run.name = "method-seed3";
        run.init = "transfer";
        run.seed = 3;
        run.evaluation.score = 0.5;
        run.evaluation.items = 4;
        run.evaluation.correct = 2;
        run.seconds = 1.5;
        TrainingStep first, second;
        first.step = 1;
        first.loss = 2.0;
        second.step = 2;
        second.loss = 1.25;
        run.training.steps = {first, second};
        Extraction extraction;
        extraction.selection.teacherLayers = {1, 3};
        run.extraction = extraction;

        const auto summary = runSummary(run, QStringLiteral("method"), "exact-match");
        QCOMPARE(summary.name, QStringLiteral("method-seed3"));
        QCOMPARE(summary.condition, QStringLiteral("method"));
        QCOMPARE(summary.init, QStringLiteral("transfer"));
        QCOMPARE(summary.seed, quint64(3));
        QCOMPARE(summary.metric, QStringLiteral("exact-match"));
        QCOMPARE(summary.score, 0.5);
        QCOMPARE(summary.items, qint64(4));
        QCOMPARE(summary.correct, qint64(2));
        QCOMPARE(summary.seconds, 1.5);
        QCOMPARE(summary.steps, (std::vector<double>{1, 2}));
        QCOMPARE(summary.losses, (std::vector<double>{2.0, 1.25}));
        QCOMPARE(summary.extraction, QStringLiteral("1→0, 3→1"));

        run.extraction.reset();
        QVERIFY(runSummary(run, {}, "choice").extraction.isEmpty());
    }

    void trainingProgressCopiesTheStep()
    {
        TrainingStep step;
        step.step = 7;
        step.totalSteps = 20;
        step.epoch = 1;
        step.loss = 0.5;
        step.learningRate = 1e-4;
        step.etaSeconds = 12;
        step.tokensPerSecond = 900;
        const auto progress = trainingProgress(QStringLiteral("lora"), step);
        QCOMPARE(progress.run, QStringLiteral("lora"));
        QCOMPARE(progress.step, 7);
        QCOMPARE(progress.steps, 20);
        QCOMPARE(progress.epoch, 1);
        QCOMPARE(progress.loss, 0.5);
        QCOMPARE(progress.learningRate, 1e-4);
        QCOMPARE(progress.etaSeconds, 12.0);
        QCOMPARE(progress.tokensPerSecond, 900.0);
    }

    void modelFolderSummaryKeepsWhatThePaneShows()
    {
        ModelFolderInfo info;
        info.folder = "/models/tiny";
        info.config = twoLayers();
        TensorInfo tensor;
        tensor.name = "model.layers.0.mlp.up_proj.weight";
        tensor.dtypeName = "BF16";
        tensor.dtype = at::kBFloat16;
        tensor.shape = {16, 8};
        tensor.begin = 0;
        tensor.end = 256;
        info.tensors = {tensor};
        info.storedBytes = 1536;
        const auto summary = modelFolderSummary(info);
        QCOMPARE(summary.folder, std::string("/models/tiny"));
        QCOMPARE(summary.config.numHiddenLayers, int64_t(2));
        QCOMPARE(summary.config.hiddenSize, int64_t(8));
        QCOMPARE(summary.config.vocabSize, int64_t(10));
        QCOMPARE(summary.config.parameterCount(), twoLayers().parameterCount());
        QCOMPARE(summary.tensors.size(), size_t(1));
        QCOMPARE(summary.tensors[0].name, tensor.name);
        QCOMPARE(summary.tensors[0].dtypeName, std::string("BF16"));
        QCOMPARE(summary.tensors[0].shapeText, std::string("[16, 8]"));
        QCOMPARE(summary.tensors[0].numel(), int64_t(128));
        QCOMPARE(summary.storedBytesText, std::string("1.50 KiB"));
    }

    // The panels edit a copy of the recipe's values; what no panel shows survives.
    void recipeSettingsRoundTrip()
    {
        TransferRecipe recipe;
        recipe.seeds = "s.jsonl";
        recipe.evalMetric = "choice";
        recipe.layers = "0,2,5";
        recipe.lora = {8, 4, 0.1};
        recipe.training.epochs = 2;
        recipe.training.microBatchSize = 3;
        recipe.seed = 9;
        recipe.svd = "randomized";
        auto settings = recipeSettings(recipe);
        QCOMPARE(settings.seeds, QStringLiteral("s.jsonl"));
        QCOMPARE(settings.layers, QStringLiteral("0,2,5"));
        QCOMPARE(settings.rank, int64_t(8));
        QCOMPARE(settings.alpha, 4.0);
        QCOMPARE(settings.microBatchSize, int64_t(3));
        settings.structure = QStringLiteral("random");
        settings.learningRate = 0.01;
        TransferRecipe edited = recipe;
        applySettings(settings, edited);
        QCOMPARE(edited.structure, std::string("random"));
        QCOMPARE(edited.training.learningRate, 0.01);
        QCOMPARE(edited.svd, std::string("randomized"));
        QCOMPARE(edited.toJson().value(QStringLiteral("layers")), recipe.toJson().value(QStringLiteral("layers")));
        QCOMPARE(edited.seed, uint64_t(9));
        QCOMPARE(edited.training.epochs, int64_t(2));
    }

    void proposeLayersFollowsTheStrategy()
    {
        const std::vector<double> scores{0.1, 0.9, 0.3, 0.8, 0.2};
        QCOMPARE(proposeLayers(QStringLiteral("sensitivity"), scores, 2, 0), (std::vector<int64_t>{1, 3}));
        QCOMPARE(proposeLayers(QStringLiteral("last"), scores, 2, 0), (std::vector<int64_t>{3, 4}));
        QVERIFY_THROWS_EXCEPTION(Error, proposeLayers(QStringLiteral("best"), scores, 2, 0));
    }
};

QTEST_GUILESS_MAIN(TestEngineResults)
#include "test_engine_results.moc"
