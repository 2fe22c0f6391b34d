// nugget-cli bench scale: layer-streamed sensitivity and streamed extraction on a
// LLaMA-2 13B-shaped checkpoint of random bf16 weights generated onto the local disk
// (26 GB for all 40 layers; --layers takes fewer), into a 7B-shaped student adapter.
// Prints peak resident memory, seconds per sample, the FLOP/s of the forward+backward
// against the fp32 matmul GFLOP/s measured in the same run, and the extraction against
// the reference window scan's cost extrapolated from a timed sample.

#include "BenchCheckpoint.h"
#include "CommandLine.h"
#include "Commands.h"

#include "bench/MachineLimits.h"
#include "io/PeftAdapter.h"
#include "io/Safetensors.h"
#include "io/Session.h"
#include "io/TensorStore.h"
#include "model/LlamaModel.h"
#include "transfer/DimensionReduction.h"
#include "transfer/Extraction.h"
#include "transfer/LayerSelection.h"
#include "transfer/StreamedSensitivity.h"
#include "transfer/TransferRecipe.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>

namespace nugget::cli {

namespace {

double windowCount(int64_t R, int64_t C, int64_t r, int64_t c)
{
    return static_cast<double>(R - r + 1) * static_cast<double>(C - c + 1);
}

} // namespace

int benchScale(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("scale"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("dir"), QStringLiteral("Local folder for the generated checkpoint, session and adapter "
                                               "(default nugget-bench-scale; deleted afterwards unless --keep)."),
         QStringLiteral("DIR"), QStringLiteral("nugget-bench-scale")},
        {QStringLiteral("layers"), QStringLiteral("Teacher decoder layers of the 13B shape (default 40: 26 GB)."),
         QStringLiteral("N"), QStringLiteral("40")},
        {QStringLiteral("student-layers"), QStringLiteral("Student decoder layers of the 7B shape (default: 32/40 "
                                                          "of the teacher's)."),
         QStringLiteral("N")},
        {QStringLiteral("samples"), QStringLiteral("Seed samples (default 2)."), QStringLiteral("N"), QStringLiteral("2")},
        {QStringLiteral("tokens"), QStringLiteral("Tokens per sample (default 64)."), QStringLiteral("T"), QStringLiteral("64")},
        {QStringLiteral("rank"), QStringLiteral("Adapter rank (default 16)."), QStringLiteral("R"), QStringLiteral("16")},
        {QStringLiteral("keep"), QStringLiteral("Keep the generated files.")},
        {QStringLiteral("float32-only"), QStringLiteral("Skip the second sensitivity run in bfloat16 compute.")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Streamed sensitivity and extraction at LLaMA-2 13B -> 7B shapes on random bf16 "
                               "weights, with peak memory and throughput against this machine's limits."));
    const auto dir = parser.value(QStringLiteral("dir")).toStdString();
    const int64_t layers = integerOption(parser, QStringLiteral("layers"));
    const int64_t studentLayers = parser.isSet(QStringLiteral("student-layers"))
                                      ? integerOption(parser, QStringLiteral("student-layers"))
                                      : std::max<int64_t>(1, layers * 32 / 40);
    const int64_t sampleCount = integerOption(parser, QStringLiteral("samples"));
    const int64_t tokens = integerOption(parser, QStringLiteral("tokens"));
    const int64_t rank = integerOption(parser, QStringLiteral("rank"));
    if (layers < 1 || studentLayers < 1 || studentLayers > layers || sampleCount < 1 || tokens < 2)
        throw Error("bench scale: need layers >= student layers >= 1, samples >= 1 and tokens >= 2");

    const auto teacher = llamaShape(5120, 13824, layers, 40);
    const auto student = llamaShape(4096, 11008, studentLayers, 32);
    const bool compareBfloat16 = !parser.isSet(QStringLiteral("float32-only"));
    const auto matmul = measureMatmul(1024, 10);
    const auto matmulBf16 = measureMatmul(1024, 10, at::kCPU, at::kBFloat16);
    std::printf("machine: %d intra-op threads, matmul 1024^3 (best of 10): fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s "
                "(%.2fx)\n",
                at::get_num_threads(), matmul.gflops, matmulBf16.gflops, matmulBf16.gflops / matmul.gflops);
    std::printf("teacher: 13B shape (hidden 5120, FFN 13824, 40 heads, vocab 32000) with %lld of 40 layers, "
                "%.2f B parameters, bf16\n",
                static_cast<long long>(layers), static_cast<double>(teacher.parameterCount()) / 1e9);
    std::printf("student: 7B shape (hidden 4096, FFN 11008, 32 heads) with %lld of 32 layers\n\n",
                static_cast<long long>(studentLayers));

    auto progress = consoleProgress();
    const ScratchFolder scratch(dir, parser.isSet(QStringLiteral("keep")));

    // 1. The checkpoint.
    double start = now();
    const auto modelDir = dir + "/teacher";
    writeRandomCheckpoint(teacher, modelDir, progress);
    const auto store = TensorStore::openFolder(modelDir);
    std::printf("checkpoint: %.2f GB of bf16 in %lld shards, written in %.0f s\n",
                static_cast<double>(store.totalBytes()) / 1e9, static_cast<long long>(store.files().size()),
                now() - start);

    // 2. Streamed sensitivity into a session (float16 scores).
    std::vector<SeedSample> samples;
    at::manual_seed(3);
    for (int64_t i = 0; i < sampleCount; ++i) {
        const auto ids = at::randint(3, teacher.vocabSize, {tokens}, at::kLong);
        SeedSample s;
        s.inputIds.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + tokens);
        s.labels = s.inputIds;
        for (int64_t t = 0; t < tokens / 2; ++t)
            s.labels[static_cast<size_t>(t)] = -100;
        samples.push_back(std::move(s));
    }
    const auto sessionPath = dir + "/session.h5";
    resetPeakResident();
    start = now();
    double writeSeconds = 0;
    StreamedSensitivityResult result;
    {
        auto session = Session::create(sessionPath);
        StreamedSensitivityOptions options;
        result = computeStreamedSensitivity(teacher, store, samples, options, progress,
                                            [&](const std::string &name, const at::Tensor &scores) {
                                                const double begin = now();
                                                session.writeSensitivity(Side::Teacher, name, scores,
                                                                         Session::ScoreStorage::Float16);
                                                writeSeconds += now() - begin;
                                            });
        session.setSensitivityInfo(Side::Teacher, "taylor", result.samples, computeDtypeName(options.computeDtype));
        session.writeLayerTotals(Side::Teacher, result.layerModuleTotals, layerModuleNames());
        const double begin = now();
        session.commit();
        writeSeconds += now() - begin;
    }
    const double sensitivitySeconds = now() - start;
    const double sensitivityPeak = peakResidentGiB();
    const double computeSeconds = sensitivitySeconds - writeSeconds;
    // Useful work: forward + backward = 3 forwards; the streamed path also recomputes
    // each layer's forward once (4 forwards executed for the decoder layers).
    const double forward = forwardFlops(teacher, tokens, tokens);
    const double usefulGflops = 3.0 * forward * static_cast<double>(sampleCount) / computeSeconds / 1e9;
    const double executedGflops = 4.0 * forward * static_cast<double>(sampleCount) / computeSeconds / 1e9;
    const double sessionBytes = static_cast<double>(QFileInfo(QString::fromStdString(sessionPath)).size());
    std::printf("\nstreamed sensitivity (taylor), %lld samples x %lld tokens:\n", static_cast<long long>(sampleCount),
                static_cast<long long>(tokens));
    std::printf("  wall time                    %10.1f s (compute %.1f s, session writes %.1f s)\n",
                sensitivitySeconds, computeSeconds, writeSeconds);
    std::printf("  seconds per sample           %10.1f s (compute only)\n", computeSeconds / static_cast<double>(sampleCount));
    std::printf("  peak resident memory         %10.2f GiB\n", sensitivityPeak);
    std::printf("  extrapolated to 40 layers    %10.0f s per sample (compute grows with the layer count, memory does not)\n",
                computeSeconds / static_cast<double>(sampleCount) * 40.0 / static_cast<double>(layers));
    std::printf("  forward+backward             %10.2f GFLOP/s useful (%.1f%% of matmul), %.2f GFLOP/s executed "
                "with the recomputed forward (%.1f%%)\n",
                usefulGflops, 100.0 * usefulGflops / matmul.gflops, executedGflops, 100.0 * executedGflops / matmul.gflops);
    std::printf("  session (float16 scores)     %10.2f GB for %.2f B parameters (%.2f bytes per parameter)\n",
                sessionBytes / 1e9, static_cast<double>(teacher.parameterCount()) / 1e9,
                sessionBytes / static_cast<double>(teacher.parameterCount()));

    // 2b. The same samples with bfloat16 weights and activations (scores in float32), not
    // stored: its time, memory and agreement with the float32 run above.
    if (compareBfloat16) {
        resetPeakResident();
        start = now();
        StreamedSensitivityOptions options;
        options.computeDtype = at::kBFloat16;
        const auto bf16 = computeStreamedSensitivity(teacher, store, samples, options, progress,
                                                     [](const std::string &, const at::Tensor &) {});
        const double seconds = now() - start;
        const double peak = peakResidentGiB();
        const double useful = 3.0 * forward * static_cast<double>(sampleCount) / seconds / 1e9;
        const auto reference = result.layerModuleTotals;
        const double totalsDifference =
            ((bf16.layerModuleTotals - reference).abs() / reference.abs().clamp_min(1e-300)).max().item<double>();
        double lossDifference = 0;
        for (size_t i = 0; i < bf16.losses.size() && i < result.losses.size(); ++i)
            lossDifference = std::max(lossDifference, std::abs(bf16.losses[i] - result.losses[i]));
        std::printf("\nthe same in bfloat16 compute (scores summed in float32; not stored):\n");
        std::printf("  seconds per sample           %10.1f s (float32 above: %.1f s; %.2fx faster)\n",
                    seconds / static_cast<double>(sampleCount), computeSeconds / static_cast<double>(sampleCount),
                    computeSeconds / seconds);
        std::printf("  peak resident memory         %10.2f GiB\n", peak);
        std::printf("  forward+backward             %10.2f GFLOP/s useful (%.1f%% of bf16 matmul, %.1f%% of fp32 matmul)\n",
                    useful, 100.0 * useful / matmulBf16.gflops, 100.0 * useful / matmul.gflops);
        std::printf("  agreement with float32       %10.2e largest relative difference of a layer-module total, "
                    "%.2e largest loss difference\n",
                    totalsDifference, lossDifference);
    }

    // 3. Streamed extraction: one teacher matrix and its scores at a time.
    resetPeakResident();
    start = now();
    const auto session = Session::openReadOnly(sessionPath);
    const auto source = teacherFromSession(modelDir, session, layers);   // as nugget-cli extract reads it
    const auto selection = selectLayers(LayerStrategy::Sensitivity, source.layerScores, studentLayers);
    ExtractionOptions options;
    options.rank = rank;
    options.svd = SvdMethod::Randomized;
    PeftAdapter adapter;
    adapter.settings = {rank, static_cast<double>(rank), 0.0};
    adapter.baseModel = "7B-shaped student";
    const auto extraction = extractKnowledge(
        teacher, source.weights, source.scores, student, selection, options, progress,
        [&](const ExtractedMatrix &matrix) {
            const bool embedding = matrix.student.module == TargetModule::Embed;
            // PEFT stores the embedding's delta transposed: A [rank, vocab], B [hidden, rank].
            adapter.factors[matrix.student.parameterName] =
                embedding ? AdapterFactors{matrix.factors.b.t().contiguous(), matrix.factors.a.t().contiguous()}
                          : AdapterFactors{matrix.factors.a, matrix.factors.b};
        });
    writePeftAdapter(dir + "/adapter", adapter);
    const double extractionSeconds = now() - start;
    const double extractionPeak = peakResidentGiB();

    // The reference's window scan, priced per window on a timed sample.
    at::manual_seed(1);
    const int64_t sample = 1024;
    const auto sampleTable = summedAreaTable(at::rand({sample, sample}));
    const double sampleScan = bestSeconds([&] { referenceScanTable(sampleTable, sample / 2, sample / 2); }, 2);
    const double perWindow = sampleScan / windowCount(sample, sample, sample / 2, sample / 2);
    // ... and its float64 summed-area table, timed once per teacher matrix shape.
    std::map<std::vector<int64_t>, double> tableSeconds;
    double windows = 0, tables = 0;
    for (const auto &matrix : extraction.matrices) {
        const auto shape = targetShape(student, matrix.student.module);
        const auto teacherShape = targetShape(teacher, matrix.student.module);
        windows += windowCount(teacherShape[0], teacherShape[1], shape[0], shape[1]);
        if (!tableSeconds.count(teacherShape)) {
            const auto scores = at::rand(teacherShape);
            tableSeconds[teacherShape] = bestSeconds([&] { summedAreaTable(scores); }, 1);
        }
        tables += tableSeconds[teacherShape];
    }
    std::printf("\nstreamed extraction into the 7B-shaped student (rank %lld, submatrix, randomized SVD), "
                "%zu matrices:\n", static_cast<long long>(rank), extraction.matrices.size());
    std::printf("  wall time                    %10.1f s (selection, window search, SVD, adapter written)\n",
                extractionSeconds);
    std::printf("  peak resident memory         %10.2f GiB\n", extractionPeak);
    std::printf("  reference window search      %10.1f s extrapolated: tables %.1f s (timed per shape) + scan "
                "%.1f s (%.4f us per window x %.3g windows, timed on a %lldx%lld sample)\n",
                tables + perWindow * windows, tables, perWindow * windows, perWindow * 1e6, windows,
                static_cast<long long>(sample), static_cast<long long>(sample));
    std::printf("  extrapolated to 40 -> 32 layers %7.0f s (%.1f s per matrix x %d matrices)\n",
                extractionSeconds / static_cast<double>(extraction.matrices.size()) * (32 * 7 + 2),
                extractionSeconds / static_cast<double>(extraction.matrices.size()), 32 * 7 + 2);
    std::printf("  reference memory             %10.1f GB (the whole teacher in fp32 plus its gradients and scores)\n",
                3.0 * 4.0 * static_cast<double>(teacher.parameterCount()) / 1e9);
    return 0;
}

} // namespace nugget::cli
