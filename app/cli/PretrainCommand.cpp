#include "CommandLine.h"
#include "Commands.h"

#include "model/ModelFolder.h"
#include "train/PretrainRun.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>

#include <cstdio>

namespace nugget::cli {

void printTrainingStep(const TrainingStep &step)
{
    const int everyN = std::max<int64_t>(1, step.totalSteps / 200);
    if (step.step % everyN != 0 && step.step != step.totalSteps)
        return;
    std::fprintf(stderr, "step %lld/%lld  epoch %lld  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  ETA %.0f s\n",
                 static_cast<long long>(step.step), static_cast<long long>(step.totalSteps),
                 static_cast<long long>(step.epoch), step.loss, step.learningRate, step.gradientNorm,
                 step.tokensPerSecond, step.etaSeconds);
}

int runPretrain(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("spec"), QStringLiteral("JSON with 'architecture' (config.json body), 'training' (epochs, "
                                                "batch_size, sequence_length, learning_rate, warmup_steps, ...), "
                                                "'text_files', 'chat_files', 'eval_text_files' (relative to the spec)."),
         QStringLiteral("FILE")},
        {QStringLiteral("tokenizer"), QStringLiteral("tokenizer.model shared by the data and the model."), QStringLiteral("FILE")},
        {QStringLiteral("out"), QStringLiteral("Output model folder."), QStringLiteral("DIR")},
        {QStringLiteral("storage-dtype"), QStringLiteral("float32, float16 or bfloat16 on disk (default float32)."),
         QStringLiteral("DTYPE"), QStringLiteral("float32")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default auto)."), QStringLiteral("DEVICE"),
         QStringLiteral("auto")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Trains a LLaMA-architecture model from scratch (AdamW, warm-up + cosine decay, clipping, "
                               "packed sequences). Resumes from OUT.checkpoint when a previous run was interrupted."));
    for (const char *required : {"spec", "tokenizer", "out"})
        if (!parser.isSet(QLatin1String(required)))
            throw Error(std::string("missing --") + required + " (see --help)");

    const QString specPath = parser.value(QStringLiteral("spec"));
    QFile file(specPath);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(specPath.toStdString() + ": cannot read: " + file.errorString().toStdString());
    QJsonParseError error;
    const auto document = QJsonDocument::fromJson(file.readAll(), &error);
    if (!document.isObject())
        throw Error(specPath.toStdString() + ": not a JSON object (" + error.errorString().toStdString() + ")");
    auto spec = PretrainSpec::fromJson(document.object(), specPath.toStdString());
    const QDir base = QFileInfo(specPath).absoluteDir();
    for (auto *files : {&spec.textFiles, &spec.chatFiles, &spec.evalTextFiles})
        for (auto &path : *files)
            path = base.filePath(QString::fromStdString(path)).toStdString();
    spec.tokenizerPath = parser.value(QStringLiteral("tokenizer")).toStdString();
    spec.outputDir = parser.value(QStringLiteral("out")).toStdString();
    spec.storageDtype = parseDtype(parser.value(QStringLiteral("storage-dtype")).toStdString());
    spec.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());

    Progress progress;
    const auto summary = runPretraining(spec, progress, printTrainingStep);
    std::printf("trained %lld parameters for %lld steps in %.1f s (%.0f tokens/s); held-out loss %.4f -> %s\n",
                static_cast<long long>(summary.parameters), static_cast<long long>(summary.result.steps.size()),
                summary.result.seconds, summary.result.tokensSeen / std::max(summary.result.seconds, 1e-9),
                summary.finalEvalLoss, spec.outputDir.c_str());
    return 0;
}

} // namespace nugget::cli
