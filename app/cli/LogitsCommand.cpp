#include "CommandLine.h"
#include "Commands.h"

#include "io/Safetensors.h"
#include "model/ModelFolder.h"

#include <torch/torch.h>

#include <cstdio>

namespace nugget::cli {

// The model's logits for given token ids, for comparing Nugget's forward pass with
// another implementation's on the same checkpoint.
int runLogits(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("MODEL_DIR"), QStringLiteral("Hugging Face model folder"));
    parser.addOptions({
        {QStringLiteral("ids"), QStringLiteral("Token ids of one sequence, as given to the model (\"1 306 4966\")."),
         QStringLiteral("IDS")},
        {QStringLiteral("out"), QStringLiteral("safetensors file to write: \"logits\" [tokens, vocab] float32 and "
                                               "\"ids\" [tokens] int64."),
         QStringLiteral("FILE")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default cpu)."), QStringLiteral("DEVICE"),
         QStringLiteral("cpu")},
        {QStringLiteral("dtype"), QStringLiteral("Compute dtype: float32, float16 or bfloat16 (default float32)."),
         QStringLiteral("DTYPE"), QStringLiteral("float32")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Writes a model's logits for a sequence of token ids, from one forward pass over the "
                               "whole sequence, into a safetensors file (replaced in one step)."));
    const QString dir = requiredPositional(parser, 0, "MODEL_DIR");
    if (!parser.isSet(QStringLiteral("ids")))
        throw Error("missing --ids (see --help)");
    const QString out = parser.value(QStringLiteral("out"));
    if (out.isEmpty())
        throw Error("missing --out FILE (see --help)");

    LoadOptions load;
    load.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    load.dtype = parseDtype(parser.value(QStringLiteral("dtype")).toStdString());
    auto loaded = loadModelFolder(dir.toStdString(), load);
    const auto ids = parseTokenIds(parser.value(QStringLiteral("ids")), loaded.config.vocabSize, "--ids");
    if (static_cast<int64_t>(ids.size()) > loaded.config.maxPositionEmbeddings)
        throw Error("--ids: " + std::to_string(ids.size()) + " tokens exceed the model's context of " +
                    std::to_string(loaded.config.maxPositionEmbeddings));

    torch::NoGradGuard noGrad;
    const auto input = torch::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
    const auto logits = loaded.model->forward(input)[0].to(at::kCPU, at::kFloat).contiguous();
    // writeSafetensors publishes the file atomically: a reader sees the old file or the whole new one.
    writeSafetensors(out.toStdString(), {{"logits", logits}, {"ids", input[0].clone()}},
                     {{"format", "pt"}, {"model", loaded.folder}});
    std::printf("wrote %s: logits [%lld, %lld] for %zu ids\n", qPrintable(out), static_cast<long long>(logits.size(0)),
                static_cast<long long>(logits.size(1)), ids.size());
    return 0;
}

} // namespace nugget::cli
