#include "zoo/DemoRecipe.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/FileHash.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include <chrono>

namespace nugget::zoo {

namespace {

DemoModelRecipe modelRecipe(const QJsonObject &json, const std::string &source, const char *side)
{
    const std::string where = source + " (" + side + ")";
    if (!json.value(QStringLiteral("architecture")).isObject())
        throw Error(where + ": missing object 'architecture'");
    auto architecture = json.value(QStringLiteral("architecture")).toObject();
    // The vocabulary comes from the tokenizer trained on the world; a placeholder lets
    // the rest of the architecture be validated now.
    if (!architecture.contains(QStringLiteral("model_type")) && !architecture.contains(QStringLiteral("architectures")))
        architecture[QStringLiteral("model_type")] = QStringLiteral("llama");   // the demo models are LLaMA by design
    if (!architecture.contains(QStringLiteral("vocab_size")))
        architecture[QStringLiteral("vocab_size")] = 2;
    QJsonObject spec{{QStringLiteral("architecture"), architecture},
                     {QStringLiteral("training"), json.value(QStringLiteral("training"))}};
    const auto parsed = PretrainSpec::fromJson(spec, where);
    return {parsed.architecture, parsed.options, parsed.initStd, parsed.initSeed};
}

void writeJsonFile(const QString &path, const QJsonObject &json)
{
    writeFileAtomically(path.toStdString(), QJsonDocument(json).toJson());
}

} // namespace

DemoRecipe DemoRecipe::fromJson(const QJsonObject &json, const std::string &sourceName)
{
    DemoRecipe recipe;
    recipe.source = json;
    recipe.world = WorldRecipe::fromJson(json.value(QStringLiteral("world")).toObject(), sourceName + " (world)");
    const auto tokenizer = json.value(QStringLiteral("tokenizer")).toObject();
    recipe.tokenizerVocab = tokenizer.value(QStringLiteral("vocab_size")).toInt(recipe.tokenizerVocab);
    recipe.tokenizerModelType =
        tokenizer.value(QStringLiteral("model_type")).toString(QString::fromStdString(recipe.tokenizerModelType)).toStdString();
    if (recipe.tokenizerVocab < 64 || recipe.tokenizerVocab > 65536)
        throw Error(sourceName + ": tokenizer.vocab_size must be between 64 and 65536");
    recipe.storageDtype = parseDtype(json.value(QStringLiteral("storage_dtype")).toString(QStringLiteral("bfloat16")).toStdString());
    recipe.teacher = modelRecipe(json.value(QStringLiteral("teacher")).toObject(), sourceName, "teacher");
    recipe.student = modelRecipe(json.value(QStringLiteral("student")).toObject(), sourceName, "student");
    return recipe;
}

DemoRecipe DemoRecipe::fromJsonFile(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot read: " + file.errorString().toStdString());
    QJsonParseError error;
    const auto document = QJsonDocument::fromJson(file.readAll(), &error);
    if (!document.isObject())
        throw Error(path + ": not a JSON object (" + error.errorString().toStdString() + " at offset " +
                    std::to_string(error.offset) + ")");
    return fromJson(document.object(), path);
}

QJsonObject buildDemo(const DemoRecipe &recipe, const std::string &outputDir, const DemoBuildOptions &options,
                      Progress &progress)
{
    auto log = [&](const std::string &line) {
        if (options.log)
            options.log(line);
    };
    if (!QDir().mkpath(QString::fromStdString(outputDir)))
        throw Error(outputDir + ": cannot create the folder");
    const QDir out(QFileInfo(QString::fromStdString(outputDir)).absoluteFilePath());

    const auto tasks = out.filePath(QLatin1String(demofile::Tasks));
    auto task = [&](const char *name) { return QDir(tasks).filePath(QLatin1String(name)).toStdString(); };
    const QString tokenizerPath = out.filePath(QStringLiteral("tokenizer.model"));
    const bool reuse = options.reuseWorld && QFileInfo::exists(tokenizerPath) &&
                       QFileInfo::exists(QString::fromStdString(task(worldfile::WorldJson)));
    if (reuse) {
        log("world and tokenizer: reusing " + out.path().toStdString());
    } else {
        log("world: generating into " + tasks.toStdString());
        writeWorld(recipe.world, tasks.toStdString());
        progress.checkCancelled();

        log("tokenizer: training a " + std::to_string(recipe.tokenizerVocab) + "-piece " +
            recipe.tokenizerModelType + " model");
        // sentencepiece records the model prefix inside the model: a fixed one inside
        // the output folder keeps regenerated tokenizers byte-identical.
        const QString scratch = out.filePath(QStringLiteral(".tokenizer-training"));
        QDir(scratch).removeRecursively();
        QDir().mkpath(scratch);
        TokenizerTrainingOptions training;
        training.inputFile = task(worldfile::TokenizerCorpus);
        training.modelPrefix = QDir(scratch).filePath(QStringLiteral("tokenizer")).toStdString();
        training.vocabSize = recipe.tokenizerVocab;
        training.modelType = recipe.tokenizerModelType;
        training.userDefinedSymbols = {"<|system|>", "<|user|>", "<|assistant|>"};
        Tokenizer::train(training);
        QFile trained(QDir(scratch).filePath(QStringLiteral("tokenizer.model")));
        if (!trained.open(QIODevice::ReadOnly))
            throw Error(trained.fileName().toStdString() + ": cannot read the trained tokenizer");
        writeFileAtomically(tokenizerPath.toStdString(), trained.readAll());
        QDir(scratch).removeRecursively();
    }
    const auto tokenizer = Tokenizer::load(tokenizerPath.toStdString());
    progress.checkCancelled();

    QJsonObject training;
    auto train = [&](const char *side, const DemoModelRecipe &model, const char *bios, const char *qa,
                     const char *arithmetic) {
        PretrainSpec spec;
        spec.architecture = model.architecture;
        spec.architecture.vocabSize = tokenizer->vocabSize();
        spec.architecture.bosTokenId = tokenizer->bosId();
        spec.architecture.eosTokenId = tokenizer->eosId();
        spec.options = model.training;
        spec.initStd = model.initStd;
        spec.initSeed = model.initSeed;
        spec.tokenizerPath = tokenizerPath.toStdString();
        spec.textFiles = {task(bios)};
        spec.chatFiles = {task(qa), task(arithmetic)};
        spec.evalTextFiles = {task(worldfile::HeldoutBios)};
        spec.outputDir = out.filePath(QLatin1String(side)).toStdString();
        spec.storageDtype = recipe.storageDtype;
        spec.device = options.device;
        log(std::string(side) + ": pretraining " + std::to_string(spec.architecture.parameterCount()) +
            " parameters (" + std::to_string(spec.architecture.numHiddenLayers) + " layers x " +
            std::to_string(spec.architecture.hiddenSize) + " hidden)");
        const auto summary = runPretraining(spec, progress, [&](const TrainingStep &step) {
            if (options.onStep)
                options.onStep(side, step);
        });
        training[QLatin1String(side)] = QJsonObject{
            {QStringLiteral("parameters"), static_cast<qint64>(summary.parameters)},
            {QStringLiteral("steps"), static_cast<qint64>(summary.result.steps.size())},
            {QStringLiteral("resumed_from_step"), static_cast<qint64>(summary.result.resumedFromStep)},
            {QStringLiteral("seconds"), summary.result.seconds},
            {QStringLiteral("tokens_per_second"), summary.result.tokensSeen / std::max(summary.result.seconds, 1e-9)},
            {QStringLiteral("heldout_loss"), summary.finalEvalLoss},
        };
    };
    if (options.trainTeacher)
        train(demofile::Teacher, recipe.teacher, worldfile::TeacherPretrainBios, worldfile::TeacherPretrainQa,
              worldfile::ArithTeacherTrain);
    if (options.trainStudent)
        train(demofile::Student, recipe.student, worldfile::StudentPretrainBios, worldfile::StudentPretrainQa,
              worldfile::ArithStudentTrain);

    QJsonObject hashes;
    QDirIterator files(out.path(), QDir::Files, QDirIterator::Subdirectories);
    QStringList names;
    while (files.hasNext())
        names << out.relativeFilePath(files.next());
    names.sort();
    for (const auto &name : names)
        if (name != QLatin1String(demofile::Manifest) && !name.endsWith(QLatin1String("training_log.json")))
            hashes[name] = QString::fromStdString(fileSha256(out.filePath(name).toStdString()));

    // Sides not retrained this time keep their recorded figures. Read just before
    // writing, so that two processes training one side each both end up recorded.
    {
        QFile previous(out.filePath(QLatin1String(demofile::Manifest)));
        if (previous.open(QIODevice::ReadOnly)) {
            const auto recorded = QJsonDocument::fromJson(previous.readAll()).object().value(QStringLiteral("training")).toObject();
            for (auto it = recorded.begin(); it != recorded.end(); ++it)
                if (!training.contains(it.key()))
                    training[it.key()] = it.value();
        }
    }
    QJsonObject manifest{{QStringLiteral("recipe"), recipe.source},
                         {QStringLiteral("sha256"), hashes},
                         {QStringLiteral("training"), training}};
    writeJsonFile(out.filePath(QLatin1String(demofile::Manifest)), manifest);
    return manifest;
}

} // namespace nugget::zoo
