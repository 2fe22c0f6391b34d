#include "CommandLine.h"
#include "Commands.h"

#include "io/ModelFolderInfo.h"

#include <cstdio>
#include <map>

namespace nugget::cli {

int runInfo(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("MODEL_DIR"), QStringLiteral("Hugging Face model folder"));
    parser.addOption({QStringLiteral("no-tensors"), QStringLiteral("Omit the per-tensor table.")});
    parser.addOption({QStringLiteral("headers-only"),
                      QStringLiteral("Check the weights' names and shapes only, without reading their values "
                                     "(faster on a large model; loading still checks the values).")});
    parseOrExit(parser, arguments,
                QStringLiteral("Prints a model folder's architecture, tensor shapes, parameter count, dtypes and file sizes, "
                               "and checks the folder as loading does: every problem is listed and the exit status "
                               "is 1 when there is any."));
    const auto info = ModelFolderInfo::read(requiredPositional(parser, 0, "MODEL_DIR").toStdString(),
                                            parser.isSet(QStringLiteral("headers-only")) ? ModelFolderInfo::Values::Unread
                                                                                          : ModelFolderInfo::Values::Checked);
    const auto &c = info.config;

    std::printf("model          %s\n", info.folder.c_str());
    std::printf("architecture   %s (%s)\n", c.architecture.c_str(), c.modelType.c_str());
    std::printf("layers         %lld\n", static_cast<long long>(c.numHiddenLayers));
    std::printf("hidden         %lld\n", static_cast<long long>(c.hiddenSize));
    std::printf("intermediate   %lld\n", static_cast<long long>(c.intermediateSize));
    std::printf("heads          %lld (key/value heads %lld, head dim %lld)\n", static_cast<long long>(c.numAttentionHeads),
                static_cast<long long>(c.numKeyValueHeads), static_cast<long long>(c.headDim));
    std::printf("vocab          %lld\n", static_cast<long long>(c.vocabSize));
    std::printf("context        %lld\n", static_cast<long long>(c.maxPositionEmbeddings));
    std::printf("rope theta     %g\n", c.ropeTheta);
    std::printf("rms norm eps   %g\n", c.rmsNormEps);
    std::printf("tied embedding %s\n", c.tieWordEmbeddings ? "yes" : "no");
    std::printf("parameters     %lld (%s in float32)\n", static_cast<long long>(c.parameterCount()),
                byteSizeText(4.0 * static_cast<double>(c.parameterCount())).c_str());

    std::map<std::string, int64_t> elementsByDtype;
    for (const auto &tensor : info.tensors)
        elementsByDtype[tensor.dtypeName] += tensor.numel();
    std::printf("stored         %lld elements in %zu tensors (%s);", static_cast<long long>(info.storedElements),
                info.tensors.size(), byteSizeText(static_cast<double>(info.storedBytes)).c_str());
    for (const auto &[dtype, count] : elementsByDtype)
        std::printf(" %s: %lld", dtype.c_str(), static_cast<long long>(count));
    std::printf("\n");
    for (const auto &file : info.files)
        std::printf("file           %-40s %s\n", file.name.c_str(), byteSizeText(static_cast<double>(file.bytes)).c_str());

    if (!parser.isSet(QStringLiteral("no-tensors"))) {
        std::printf("\n%-56s %-6s %s\n", "tensor", "dtype", "shape");
        for (const auto &tensor : info.tensors)
            std::printf("%-56s %-6s %s\n", tensor.name.c_str(), tensor.dtypeName.c_str(), shapeText(tensor.shape).c_str());
    }

    if (info.problems.empty())
        return 0;
    std::printf("\n%zu problem%s: the folder cannot be used as it is\n", info.problems.size(),
                info.problems.size() == 1 ? "" : "s");
    for (const auto &problem : info.problems)
        std::printf("problem        %s\n", problem.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "nugget-cli info: error: %zu problem%s in %s (listed above)\n", info.problems.size(),
                 info.problems.size() == 1 ? "" : "s", info.folder.c_str());
    return 1;
}

} // namespace nugget::cli
