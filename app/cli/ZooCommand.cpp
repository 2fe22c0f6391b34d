#include "CommandLine.h"
#include "Commands.h"

#include "model/ModelFolder.h"
#include "train/Pretrainer.h"
#include "zoo/DemoRecipe.h"

#include <QJsonDocument>

#include <cstdio>

namespace nugget::cli {

int runZoo(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("recipe"), QStringLiteral("Demo recipe (default resources/demo/recipe.json)."), QStringLiteral("FILE"),
         QStringLiteral("resources/demo/recipe.json")},
        {QStringLiteral("out"), QStringLiteral("Output folder (tasks/, tokenizer.model, teacher/, student/, manifest.json)."),
         QStringLiteral("DIR")},
        {QStringLiteral("only"), QStringLiteral("Train only one side: teacher or student, reusing the folder's world "
                                                "and tokenizer when present."),
         QStringLiteral("SIDE")},
        {QStringLiteral("world-only"), QStringLiteral("Write the world and tokenizer, train no model.")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default auto)."), QStringLiteral("DEVICE"),
         QStringLiteral("auto")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Regenerates the built-in demo from its recipe: the synthetic world (people, biographies, "
                               "QA and arithmetic splits), a tokenizer trained on it, and the teacher and student "
                               "pretrained from scratch; records the recipe and the sha256 of every output."));
    if (!parser.isSet(QStringLiteral("out")))
        throw Error("missing --out DIR (see --help)");
    const auto recipe = zoo::DemoRecipe::fromJsonFile(parser.value(QStringLiteral("recipe")).toStdString());
    zoo::DemoBuildOptions options;
    options.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    const QString only = parser.value(QStringLiteral("only"));
    if (!only.isEmpty() && only != QLatin1String("teacher") && only != QLatin1String("student"))
        throw Error("--only expects teacher or student, got '" + only.toStdString() + "'");
    options.trainTeacher = !parser.isSet(QStringLiteral("world-only")) && only != QLatin1String("student");
    options.trainStudent = !parser.isSet(QStringLiteral("world-only")) && only != QLatin1String("teacher");
    options.reuseWorld = !only.isEmpty();
    options.log = [](const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    options.onStep = [](const std::string &, const TrainingStep &step) { printTrainingStep(step); };

    Progress progress;
    const auto manifest = zoo::buildDemo(recipe, parser.value(QStringLiteral("out")).toStdString(), options, progress);
    std::printf("%s", QJsonDocument(manifest.value(QStringLiteral("training")).toObject()).toJson().constData());
    return 0;
}

} // namespace nugget::cli
