#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "model/LlamaModel.h"
#include "model/ModelFolder.h"

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

} // namespace

int runBench(const QStringList &arguments)
{
    const QString which = arguments.size() > 1 ? arguments.at(1) : QString();
    if (which == QLatin1String("forward"))
        return benchForward(arguments);
    std::printf("Usage: nugget-cli bench BENCHMARK [options]\n\nBenchmarks:\n"
                "  forward    tokens/s of forward and forward+backward against the machine's matmul GFLOP/s\n");
    return which == QLatin1String("--help") ? 0 : 2;
}

} // namespace nugget::cli
