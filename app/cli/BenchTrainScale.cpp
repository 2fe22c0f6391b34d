// nugget-cli bench train-scale: LoRA training of a LLaMA-2 7B-shaped student of random
// bf16 weights generated onto the local disk (13.5 GB for all 32 layers), held in the
// dtype the memory rule picks (bfloat16 with float32 adapters where float32 does not
// fit). Prints load time, peak resident memory and seconds per optimiser step, with a
// baseline from the same run: a student of fewer layers of the same shape trained once
// with float32 and once with bfloat16 weights.

#include "BenchCheckpoint.h"
#include "CommandLine.h"
#include "Commands.h"

#include "Error.h"
#include "bench/MachineLimits.h"
#include "io/ModelFolderInfo.h"
#include "model/LoraAdapters.h"
#include "model/MemoryBudget.h"
#include "model/ModelFolder.h"
#include "train/LoraTrainer.h"
#include "transfer/Injection.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

namespace nugget::cli {

namespace {

struct TrainingMeasure
{
    double loadSeconds = 0;
    double loadedGiB = 0;     // peak resident while loading
    double secondsPerStep = 0;
    double peakGiB = 0;
    double firstLoss = 0, lastLoss = 0;
    int64_t adapterParameters = 0;
};

// Loads the student in `dtype`, attaches rank-`rank` adapters to every matrix of every
// layer and trains `steps` optimiser steps on `documents` (one batch). The first step (warm-up
// of the allocator and the kernels) is left out of the seconds per step.
TrainingMeasure measureTraining(const std::string &dir, at::ScalarType dtype, bool checkpointing, int64_t rank,
                                const std::vector<TrainingDocument> &documents, int64_t steps, int64_t batch,
                                Progress &progress)
{
    TrainingMeasure measure;
    resetPeakResident();
    double start = now();
    LoadOptions load;
    load.dtype = dtype;
    auto student = loadModelFolder(dir, load).model;
    measure.loadSeconds = now() - start;
    measure.loadedGiB = peakResidentGiB();
    student->setGradientCheckpointing(checkpointing);
    injectPlainLora(student, modulesOf(TransferOrigin::All), {rank, static_cast<double>(rank), 0.0}, 1);
    for (const auto &p : loraParameters(student))
        measure.adapterParameters += p.numel();

    LoraTrainingOptions options;
    options.epochs = steps;   // one step per epoch: the same batch every step
    options.batchSize = batch;
    options.microBatchSize = batch;
    options.learningRate = 1e-3;
    options.warmupRatio = 0;
    options.padId = 2;
    std::vector<double> stepEnds;
    std::vector<double> losses;
    start = now();
    trainLora(student, documents, {}, options, progress, [&](const TrainingStep &step) {
        stepEnds.push_back(now());
        losses.push_back(step.loss);
    });
    measure.peakGiB = peakResidentGiB();
    if (stepEnds.size() > 1)
        measure.secondsPerStep = (stepEnds.back() - stepEnds.front()) / static_cast<double>(stepEnds.size() - 1);
    else if (!stepEnds.empty())
        measure.secondsPerStep = stepEnds.front() - start;
    measure.firstLoss = losses.empty() ? 0 : losses.front();
    measure.lastLoss = losses.empty() ? 0 : losses.back();
    return measure;
}

const char *dtypeName(at::ScalarType dtype) { return dtype == at::kBFloat16 ? "bfloat16" : "float32"; }

} // namespace

int benchTrainScale(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("train-scale"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("dir"), QStringLiteral("Local folder for the generated checkpoints (default "
                                               "nugget-bench-train-scale; deleted afterwards unless --keep)."),
         QStringLiteral("DIR"), QStringLiteral("nugget-bench-train-scale")},
        {QStringLiteral("layers"), QStringLiteral("Student decoder layers of the 7B shape (default 32: 13.5 GB)."),
         QStringLiteral("N"), QStringLiteral("32")},
        {QStringLiteral("baseline-layers"), QStringLiteral("Layers of the baseline student trained in float32 and in "
                                                           "bfloat16 (default 2)."),
         QStringLiteral("N"), QStringLiteral("2")},
        {QStringLiteral("steps"), QStringLiteral("Optimiser steps (default 4; the first is not timed)."),
         QStringLiteral("N"), QStringLiteral("4")},
        {QStringLiteral("batch"), QStringLiteral("Documents per step (default 4)."), QStringLiteral("N"), QStringLiteral("4")},
        {QStringLiteral("tokens"), QStringLiteral("Tokens per document (default 64)."), QStringLiteral("T"), QStringLiteral("64")},
        {QStringLiteral("rank"), QStringLiteral("Adapter rank (default 16)."), QStringLiteral("R"), QStringLiteral("16")},
        {QStringLiteral("gradient-checkpointing"), QStringLiteral("Train the whole student with gradient checkpointing "
                                                                  "(as train and transfer do for a bfloat16 student).")},
        {QStringLiteral("keep"), QStringLiteral("Keep the generated files.")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("LoRA training of a LLaMA-2 7B-shaped student on random bf16 weights, in the dtype "
                               "this machine's memory allows, against a smaller student trained in float32 and "
                               "bfloat16 in the same run."));
    const auto dir = parser.value(QStringLiteral("dir")).toStdString();
    const int64_t layers = integerOption(parser, QStringLiteral("layers"));
    const int64_t baselineLayers = integerOption(parser, QStringLiteral("baseline-layers"));
    const int64_t steps = integerOption(parser, QStringLiteral("steps"));
    const int64_t batch = integerOption(parser, QStringLiteral("batch"));
    const int64_t tokens = integerOption(parser, QStringLiteral("tokens"));
    const int64_t rank = integerOption(parser, QStringLiteral("rank"));
    if (layers < 1 || baselineLayers < 1 || baselineLayers > layers || steps < 2 || batch < 1 || tokens < 2 || rank < 1)
        throw Error("bench train-scale: need layers >= baseline layers >= 1, steps >= 2, batch >= 1, tokens >= 2 "
                    "and rank >= 1");
    const ScratchFolder scratch(dir, parser.isSet(QStringLiteral("keep")));

    const auto student = llamaShape(4096, 11008, layers, 32);
    const auto baseline = llamaShape(4096, 11008, baselineLayers, 32);
    const auto matmul = measureMatmul(1024, 10);
    const auto matmulBf16 = measureMatmul(1024, 10, at::kCPU, at::kBFloat16);
    std::printf("machine: %d intra-op threads, memory %s, matmul 1024^3 (best of 10): fp32 %.1f GFLOP/s, bf16 %.1f "
                "GFLOP/s (%.2fx)\n",
                at::get_num_threads(), byteSizeText(memoryBytes()).c_str(), matmul.gflops, matmulBf16.gflops,
                matmulBf16.gflops / matmul.gflops);
    const double parameters = static_cast<double>(student.parameterCount());
    std::printf("student: 7B shape (hidden 4096, FFN 11008, 32 heads, vocab 32000) with %lld of 32 layers, %.2f B "
                "parameters: %s in float32, %s in bfloat16\n",
                static_cast<long long>(layers), parameters / 1e9, byteSizeText(4 * parameters).c_str(),
                byteSizeText(2 * parameters).c_str());
    std::printf("training: %lld steps of %lld documents x %lld tokens (loss on the second half), rank-%lld adapters on "
                "every matrix\n\n",
                static_cast<long long>(steps), static_cast<long long>(batch), static_cast<long long>(tokens),
                static_cast<long long>(rank));

    auto progress = consoleProgress();
    // One batch of random documents, seen at every step: the loss must fall.
    std::vector<TrainingDocument> documents;
    at::manual_seed(3);
    for (int64_t i = 0; i < batch; ++i) {
        const auto ids = at::randint(3, student.vocabSize, {tokens}, at::kLong);
        TrainingDocument d;
        d.ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + tokens);
        d.labels = d.ids;
        std::fill(d.labels.begin(), d.labels.begin() + tokens / 2, -100);
        documents.push_back(std::move(d));
    }
    // Frozen base: the forward and the backward to the activations, two forwards' work.
    const double stepFlops = 2.0 * forwardFlops(student, tokens, tokens) * static_cast<double>(batch);
    const double baselineStepFlops = 2.0 * forwardFlops(baseline, tokens, tokens) * static_cast<double>(batch);
    auto report = [&](const char *what, const TrainingMeasure &m, double flops) {
        std::printf("%s\n", what);
        std::printf("  load                         %10.1f s, peak resident memory %.2f GiB while loading\n", m.loadSeconds,
                    m.loadedGiB);
        std::printf("  seconds per step             %10.2f s (%.2f GFLOP/s: %.1f%% of fp32 matmul, %.1f%% of bf16)\n",
                    m.secondsPerStep, flops / m.secondsPerStep / 1e9, 100.0 * flops / m.secondsPerStep / 1e9 / matmul.gflops,
                    100.0 * flops / m.secondsPerStep / 1e9 / matmulBf16.gflops);
        std::printf("  peak resident memory         %10.2f GiB\n", m.peakGiB);
        std::printf("  loss                         %10.4f at the first step, %.4f at the last (%lld adapter "
                    "parameters)\n",
                    m.firstLoss, m.lastLoss, static_cast<long long>(m.adapterParameters));
    };

    // 1. The baseline: the same shape with fewer layers, float32 and bfloat16 weights.
    const auto baselineDir = dir + "/baseline";
    writeRandomCheckpoint(baseline, baselineDir, progress);
    const auto exact = measureTraining(baselineDir, at::kFloat, false, rank, documents, steps, batch, progress);
    report(("baseline, " + std::to_string(baselineLayers) + " layers, float32 weights:").c_str(), exact,
           baselineStepFlops);
    const auto halved = measureTraining(baselineDir, at::kBFloat16, false, rank, documents, steps, batch, progress);
    report(("baseline, " + std::to_string(baselineLayers) + " layers, bfloat16 weights with float32 adapters:").c_str(),
           halved, baselineStepFlops);
    std::printf("  against float32              %10.2fx the speed, %.2fx the peak memory\n\n",
                exact.secondsPerStep / halved.secondsPerStep, halved.peakGiB / exact.peakGiB);

    // 2. The whole student, in the dtype the memory rule picks.
    double start = now();
    const auto studentDir = dir + "/student";
    writeRandomCheckpoint(student, studentDir, progress);
    std::printf("checkpoint: %lld layers written in %.0f s\n", static_cast<long long>(layers), now() - start);
    const auto dtype = studentWeightsDtype(student, studentDir);
    const bool checkpointing = parser.isSet(QStringLiteral("gradient-checkpointing"));
    const auto whole = measureTraining(studentDir, dtype, checkpointing, rank, documents, steps, batch, progress);
    report(("the whole student, " + std::to_string(layers) + " layers, " + dtypeName(dtype) + " weights" +
            (dtype == at::kFloat ? "" : " with float32 adapters") + " (the memory rule's choice)" +
            (checkpointing ? ", gradient checkpointing:" : ":"))
               .c_str(),
           whole, stepFlops);
    return 0;
}

} // namespace nugget::cli
