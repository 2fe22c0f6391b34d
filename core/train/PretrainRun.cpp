#include "train/PretrainRun.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QStringDecoder>

#include <torch/torch.h>

namespace nugget {

std::vector<std::string> readTextLines(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot read: " + file.errorString().toStdString());
    std::vector<std::string> lines;
    int number = 0;
    while (!file.atEnd()) {
        ++number;
        const QByteArray line = file.readLine().trimmed();
        if (line.isEmpty())
            continue;
        QStringDecoder decoder(QStringDecoder::Utf8);
        const QString text = decoder(line);
        if (decoder.hasError())
            throw Error(path + ":" + std::to_string(number) + ": not valid UTF-8");
        lines.push_back(line.toStdString());
    }
    return lines;
}

namespace {

int64_t integer(const QJsonObject &json, const char *key, int64_t fallback)
{
    const auto value = json.value(QLatin1String(key));
    return value.isUndefined() ? fallback : value.toInteger(fallback);
}

double number(const QJsonObject &json, const char *key, double fallback)
{
    const auto value = json.value(QLatin1String(key));
    return value.isUndefined() ? fallback : value.toDouble(fallback);
}

std::vector<std::string> strings(const QJsonObject &json, const char *key)
{
    std::vector<std::string> out;
    for (const auto &value : json.value(QLatin1String(key)).toArray())
        out.push_back(value.toString().toStdString());
    return out;
}

} // namespace

PretrainSpec PretrainSpec::fromJson(const QJsonObject &json, const std::string &source)
{
    PretrainSpec spec;
    if (!json.value(QStringLiteral("architecture")).isObject())
        throw Error(source + ": missing object 'architecture' (a config.json body)");
    spec.architecture = ModelConfig::fromJson(json.value(QStringLiteral("architecture")).toObject(), source);
    const auto training = json.value(QStringLiteral("training")).toObject();
    auto &o = spec.options;
    o.sequenceLength = integer(training, "sequence_length", o.sequenceLength);
    o.batchSize = integer(training, "batch_size", o.batchSize);
    o.epochs = integer(training, "epochs", o.epochs);
    o.learningRate = number(training, "learning_rate", o.learningRate);
    o.floorRatio = number(training, "final_lr_ratio", o.floorRatio);
    o.warmupSteps = integer(training, "warmup_steps", o.warmupSteps);
    o.weightDecay = number(training, "weight_decay", o.weightDecay);
    o.gradientClip = number(training, "gradient_clip", o.gradientClip);
    o.evalEvery = integer(training, "eval_every", o.evalEvery);
    o.checkpointEvery = integer(training, "checkpoint_every", o.checkpointEvery);
    o.seed = static_cast<uint64_t>(integer(training, "seed", static_cast<int64_t>(o.seed)));
    spec.initStd = number(training, "init_std", spec.initStd);
    spec.initSeed = static_cast<uint64_t>(integer(training, "init_seed", static_cast<int64_t>(spec.initSeed)));
    if (o.sequenceLength < 2 || o.sequenceLength > spec.architecture.maxPositionEmbeddings)
        throw Error(source + ": training.sequence_length must be between 2 and the model's context (" +
                    std::to_string(spec.architecture.maxPositionEmbeddings) + ")");
    if (o.batchSize < 1 || o.epochs < 1 || !(o.learningRate > 0))
        throw Error(source + ": training.batch_size, epochs and learning_rate must be positive");
    spec.textFiles = strings(json, "text_files");
    spec.chatFiles = strings(json, "chat_files");
    spec.evalTextFiles = strings(json, "eval_text_files");
    return spec;
}

PretrainSummary runPretraining(const PretrainSpec &spec, Progress &progress,
                               const std::function<void(const TrainingStep &)> &onStep)
{
    const auto tokenizer = Tokenizer::load(spec.tokenizerPath);
    if (tokenizer->vocabSize() != spec.architecture.vocabSize)
        throw Error(spec.tokenizerPath + ": the tokenizer has " + std::to_string(tokenizer->vocabSize()) +
                    " pieces but the architecture's vocab_size is " + std::to_string(spec.architecture.vocabSize));

    std::vector<TrainingDocument> train;
    for (const auto &file : spec.textFiles) {
        auto documents = textDocuments(*tokenizer, readTextLines(file));
        train.insert(train.end(), std::make_move_iterator(documents.begin()), std::make_move_iterator(documents.end()));
    }
    for (const auto &file : spec.chatFiles) {
        auto documents = chatDocuments(*tokenizer, readChatJsonl(file));
        train.insert(train.end(), std::make_move_iterator(documents.begin()), std::make_move_iterator(documents.end()));
    }
    if (train.empty())
        throw Error("pretraining needs at least one non-empty text or chat file");
    std::vector<std::string> evalTexts;
    for (const auto &file : spec.evalTextFiles) {
        auto lines = readTextLines(file);
        evalTexts.insert(evalTexts.end(), lines.begin(), lines.end());
    }
    if (spec.evalDocumentLimit > 0 && static_cast<int64_t>(evalTexts.size()) > spec.evalDocumentLimit)
        evalTexts.resize(static_cast<size_t>(spec.evalDocumentLimit));

    LlamaForCausalLM model(spec.architecture);
    initialiseWeights(model, spec.initStd, spec.initSeed);
    model->to(spec.device);

    auto options = spec.options;
    options.checkpointDir = spec.outputDir + ".checkpoint";
    options.tokenizerPath = spec.tokenizerPath;
    Pretrainer trainer(model, std::move(train), textDocuments(*tokenizer, evalTexts), options);
    trainer.onStep = onStep;

    PretrainSummary summary;
    summary.parameters = model->parameterCount();
    summary.result = trainer.run(progress);
    summary.finalEvalLoss = summary.result.evaluations.empty() ? NAN : summary.result.evaluations.back().loss;

    SaveOptions save;
    save.storageDtype = spec.storageDtype;
    save.tokenizerPath = spec.tokenizerPath;
    saveModelFolder(model, spec.outputDir, save);

    QJsonArray steps, evaluations;
    for (const auto &step : summary.result.steps)
        steps.append(QJsonArray{static_cast<qint64>(step.step), step.loss, step.learningRate, step.gradientNorm});
    for (const auto &point : summary.result.evaluations)
        evaluations.append(QJsonArray{static_cast<qint64>(point.step), point.loss});
    QJsonObject log;
    log[QStringLiteral("columns_steps")] = QJsonArray{QStringLiteral("step"), QStringLiteral("loss"),
                                                      QStringLiteral("learning_rate"), QStringLiteral("gradient_norm")};
    log[QStringLiteral("steps")] = steps;
    log[QStringLiteral("evaluations")] = evaluations;
    log[QStringLiteral("seconds")] = summary.result.seconds;
    log[QStringLiteral("resumed_from_step")] = static_cast<qint64>(summary.result.resumedFromStep);
    log[QStringLiteral("tokens_seen")] = static_cast<qint64>(summary.result.tokensSeen);
    log[QStringLiteral("parameters")] = static_cast<qint64>(summary.parameters);
    const QString logPath = QDir(QString::fromStdString(spec.outputDir)).filePath(QStringLiteral("training_log.json"));
    writeFileAtomically(logPath.toStdString(), QJsonDocument(log).toJson(QJsonDocument::Compact));

    QDir(QString::fromStdString(options.checkpointDir)).removeRecursively();
    return summary;
}

} // namespace nugget
