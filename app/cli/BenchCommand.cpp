#include "BenchCheckpoint.h"
#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "model/LlamaModel.h"
#include "model/ModelFolder.h"
#include "train/Pretrainer.h"
#include "zoo/DemoRecipe.h"

#include <chrono>

#include <QFileInfo>

#include <torch/torch.h>

#include <cstdio>

namespace nugget::cli {

namespace {

struct ForwardFigures
{
    double forwardTokensPerSecond = 0;
    double trainingTokensPerSecond = 0;
    double forwardGflops = 0;
    double trainingGflops = 0;
};

ForwardFigures measureForward(LlamaForCausalLM &model, int64_t batch, int64_t sequence, int repetitions)
{
    const auto &config = model->config();
    const auto ids = torch::randint(config.vocabSize, {batch, sequence},
                                    at::TensorOptions().dtype(at::kLong).device(model->device()));
    ForwardFigures figures;
    const double tokens = static_cast<double>(batch * sequence);
    const double flops = forwardFlops(config, batch * sequence, sequence);

    model->eval();
    const double forwardSeconds = bestSeconds([&] {
        torch::NoGradGuard noGrad;
        model->forward(ids).sum().item<float>();
    }, repetitions);
    model->train();
    const double trainingSeconds = bestSeconds([&] {
        model->zero_grad();
        const auto loss = causalLmLoss(model->forward(ids), ids);
        loss.backward();
        loss.item<float>();
    }, repetitions);
    model->eval();

    figures.forwardTokensPerSecond = tokens / forwardSeconds;
    figures.trainingTokensPerSecond = tokens / trainingSeconds;
    figures.forwardGflops = flops / forwardSeconds / 1e9;
    figures.trainingGflops = 3.0 * flops / trainingSeconds / 1e9;   // backward ~ 2x forward
    return figures;
}

void printFigures(const char *name, const LlamaForCausalLM &model, int64_t batch, int64_t sequence,
                  const ForwardFigures &f, double machineGflops)
{
    std::printf("%-34s %10lld %6lldx%-5lld %12.0f %9.2f %6.1f%% %14.0f %9.2f %6.1f%%\n", name,
                static_cast<long long>(model->parameterCount()), static_cast<long long>(batch),
                static_cast<long long>(sequence), f.forwardTokensPerSecond, f.forwardGflops,
                100.0 * f.forwardGflops / machineGflops, f.trainingTokensPerSecond, f.trainingGflops,
                100.0 * f.trainingGflops / machineGflops);
}

int benchForward(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("forward"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("model"), QStringLiteral("A real model folder to measure (e.g. ../shared/models/stories260K)."), QStringLiteral("DIR")},
        {QStringLiteral("batch"), QStringLiteral("Sequences per batch (default 4)."), QStringLiteral("N"), QStringLiteral("4")},
        {QStringLiteral("sequence"), QStringLiteral("Tokens per sequence (default 256)."), QStringLiteral("T"), QStringLiteral("256")},
        {QStringLiteral("repetitions"), QStringLiteral("Timed repetitions, best kept (default 5)."), QStringLiteral("N"), QStringLiteral("5")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default auto)."), QStringLiteral("DEVICE"), QStringLiteral("auto")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Tokens/s of forward and forward+backward on a real model and on a random model "
                               "(hidden 512, 8 layers), beside the fp32 matmul GFLOP/s measured in the same run."));
    const int64_t batch = integerOption(parser, QStringLiteral("batch"));
    const int64_t sequence = integerOption(parser, QStringLiteral("sequence"));
    const int repetitions = static_cast<int>(integerOption(parser, QStringLiteral("repetitions")));
    const auto device = parseDevice(parser.value(QStringLiteral("device")).toStdString());

    const auto matmul = measureMatmul(1024, 10, device);
    std::printf("machine: %d intra-op threads, device %s, fp32 matmul %lldx%lld: %.1f GFLOP/s (best of 10)\n\n",
                at::get_num_threads(), device.str().c_str(), static_cast<long long>(matmul.size),
                static_cast<long long>(matmul.size), matmul.gflops);
    std::printf("%-34s %10s %12s %12s %9s %7s %14s %9s %7s\n", "model", "params", "batch x T", "fwd tok/s",
                "GFLOP/s", "of mm", "fwd+bwd tok/s", "GFLOP/s", "of mm");

    if (parser.isSet(QStringLiteral("model"))) {
        LoadOptions load;
        load.device = device;
        auto loaded = loadModelFolder(parser.value(QStringLiteral("model")).toStdString(), load);
        const int64_t t = std::min(sequence, loaded.config.maxPositionEmbeddings);
        const auto f = measureForward(loaded.model, batch, t, repetitions);
        printFigures(qPrintable(QFileInfo(parser.value(QStringLiteral("model"))).fileName()), loaded.model, batch, t,
                     f, matmul.gflops);
    }

    ModelConfig config;
    config.hiddenSize = 512;
    config.intermediateSize = 1376;
    config.numHiddenLayers = 8;
    config.numAttentionHeads = 8;
    config.numKeyValueHeads = 8;
    config.headDim = 64;
    config.vocabSize = 4096;
    config.maxPositionEmbeddings = std::max<int64_t>(sequence, 512);
    config.rmsNormEps = 1e-5;
    LlamaForCausalLM random(config);
    initialiseWeights(random, 0.02, 1);
    random->to(device);
    const auto f = measureForward(random, batch, sequence, repetitions);
    printFigures("random h512 L8 ff1376 v4096", random, batch, sequence, f, matmul.gflops);
    return 0;
}

int benchPretrain(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("pretrain"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("recipe"), QStringLiteral("Demo recipe whose architectures and batch shape are measured "
                                                  "(default resources/demo/recipe.json)."),
         QStringLiteral("FILE"), QStringLiteral("resources/demo/recipe.json")},
        {QStringLiteral("steps"), QStringLiteral("Optimiser steps per model (default 12, after 2 warm-up steps)."),
         QStringLiteral("N"), QStringLiteral("12")},
        {QStringLiteral("vocab"), QStringLiteral("Vocabulary size (default: the recipe's tokenizer size)."), QStringLiteral("N")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Throughput of the pretraining loop (AdamW step on packed random tokens) for the demo "
                               "teacher and student, as tokens/s and as a share of the fp32 matmul GFLOP/s measured "
                               "in the same run."));
    const auto recipe = zoo::DemoRecipe::fromJsonFile(parser.value(QStringLiteral("recipe")).toStdString());
    const int64_t steps = integerOption(parser, QStringLiteral("steps"));
    const int64_t vocab = parser.isSet(QStringLiteral("vocab")) ? integerOption(parser, QStringLiteral("vocab"))
                                                                : recipe.tokenizerVocab;
    const auto matmul = measureMatmul(1024, 10);
    std::printf("machine: %d intra-op threads, fp32 matmul 1024x1024: %.1f GFLOP/s (best of 10)\n\n",
                at::get_num_threads(), matmul.gflops);
    std::printf("%-8s %10s %12s %12s %10s %8s\n", "model", "params", "batch x T", "train tok/s", "GFLOP/s", "of mm");
    for (const auto &[name, side] : {std::pair{"teacher", &recipe.teacher}, std::pair{"student", &recipe.student}}) {
        auto config = side->architecture;
        config.vocabSize = vocab;
        LlamaForCausalLM model(config);
        initialiseWeights(model, 0.02, 1);
        auto options = side->training;
        options.epochs = 1;
        options.evalEvery = 0;
        options.checkpointEvery = 0;
        options.warmupSteps = 0;
        // Random documents of 100 tokens, enough for warm-up plus the timed steps.
        const int64_t tokensNeeded = (steps + 2) * options.batchSize * options.sequenceLength;
        std::vector<TrainingDocument> documents;
        const auto ids = torch::randint(3, vocab, {tokensNeeded}, torch::kLong);
        for (int64_t start = 0; start + 100 <= tokensNeeded; start += 100) {
            TrainingDocument d;
            d.ids.assign(ids.data_ptr<int64_t>() + start, ids.data_ptr<int64_t>() + start + 100);
            d.labels = d.ids;
            documents.push_back(std::move(d));
        }
        Pretrainer trainer(model, std::move(documents), {}, options);
        Progress progress;
        std::chrono::steady_clock::time_point timedStart;
        trainer.onStep = [&](const TrainingStep &step) {
            if (step.step == 2)
                timedStart = std::chrono::steady_clock::now();
            if (step.step == steps + 2)
                progress.cancel();
        };
        try {
            trainer.run(progress);
        } catch (const Cancelled &) {
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - timedStart).count();
        const double tokens = static_cast<double>(steps * options.batchSize * options.sequenceLength);
        const double gflops = 3.0 * forwardFlops(config, options.batchSize * options.sequenceLength, options.sequenceLength) *
                              static_cast<double>(steps) / seconds / 1e9;
        std::printf("%-8s %10lld %6lldx%-5lld %12.0f %10.2f %7.1f%%\n", name, static_cast<long long>(model->parameterCount()),
                    static_cast<long long>(options.batchSize), static_cast<long long>(options.sequenceLength),
                    tokens / seconds, gflops, 100.0 * gflops / matmul.gflops);
    }
    return 0;
}

} // namespace

int runBench(const QStringList &arguments)
{
    const QString which = arguments.size() > 1 ? arguments.at(1) : QString();
    if (which == QLatin1String("forward"))
        return benchForward(arguments);
    if (which == QLatin1String("pretrain"))
        return benchPretrain(arguments);
    if (which == QLatin1String("window"))
        return benchWindow(arguments);
    if (which == QLatin1String("ui"))
        throw Error("the UI benchmark needs the window, which nugget-cli does not link: run nugget-bench-ui "
                    "(beside nugget-cli) instead");
    if (which == QLatin1String("scale"))
        return benchScale(arguments);
    if (which == QLatin1String("jobs"))
        return benchJobs(arguments);
    if (which == QLatin1String("session-writes"))
        return benchSessionWrites(arguments);
    if (which == QLatin1String("train-scale"))
        return benchTrainScale(arguments);
    if (which == QLatin1String("checkpoint"))
        return benchCheckpoint(arguments);
    if (which == QLatin1String("scores"))
        return benchScores(arguments);
    if (which == QLatin1String("candidates"))
        return benchCandidates(arguments);
    std::printf("Usage: nugget-cli bench BENCHMARK [options]\n\nBenchmarks:\n"
                "  forward    tokens/s of forward and forward+backward against the machine's matmul GFLOP/s\n"
                "  window     best-sub-matrix search of dimensionality reduction against a float32 sum and the reference\n"
                "  scores     summing one sample's scores of a 13B matrix: the fused pass against the tensor ops\n"
                "  scale      streamed sensitivity and extraction at 13B -> 7B shapes: peak memory, s/sample, FLOP/s\n"
                "  train-scale  LoRA training of a 7B-shaped student in bfloat16 with float32 adapters: memory, s/step\n"
                "  checkpoint   writes a 7B- or 13B-shaped model folder of random bf16 weights (for runs at scale)\n"
                "  candidates  scoring evaluation items' candidate answers: batched behind the prompt's cache against one pass each\n"
                "  jobs       resident memory over repeated LoRA jobs in one process (a job must release its memory)\n"
                "  session-writes  float16 score writes: HDF5's one-thread filters against chunks encoded on every thread\n"
                "\nThe UI benchmark needs the window: it is its own program, nugget-bench-ui.\n");
    return which == QLatin1String("--help") ? 0 : 2;
}

} // namespace nugget::cli
