// nugget-cli transfer: the whole pipeline for one recipe, recorded in OUT/session.h5,
// with the adapter and the merged student beside it.

#include "Commands.h"
#include "TransferOptions.h"

#include "eval/CandidateSets.h"
#include "io/Session.h"
#include "model/MergedModelFolder.h"
#include "transfer/Pipeline.h"

#include <QDir>

#include <cstdio>

namespace nugget::cli {

int runTransfer(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("teacher", "Teacher model folder.", "DIR"),
        option("student", "Student model folder.", "DIR"),
        option("seeds", "Seed samples (JSONL).", "FILE"),
        option("train", "Training data (JSONL).", "FILE"),
        option("eval", "Evaluation data (JSONL).", "FILE"),
        option("init", "How the run starts: " + runInits().help() + " (default transfer).", "HOW", "transfer"),
        option("out", "Output folder: session.h5, adapter/ (PEFT; see --adapter-form), merged/.", "DIR"),
        adapterFormOption(),
        maxShardSizeOption(),
        computeDtypeOption(),
        studentDtypeOption(),
        checkpointingOption(),
    });
    const unsigned groups = AdapterShape | Extraction | Training | Evaluation;
    addRecipeOptions(parser, groups);
    parseOrExit(parser, arguments,
                QStringLiteral("The whole pipeline: teacher sensitivity on the seeds, layer selection, reduction and "
                               "SVD, injection into the student, LoRA training, evaluation and export. Records "
                               "everything in OUT/session.h5."));
    auto recipe = recipeFromOptions(parser, groups);
    recipe.teacher = required(parser, "teacher");
    recipe.student = required(parser, "student");
    recipe.seeds = required(parser, "seeds");
    recipe.train = required(parser, "train");
    recipe.eval = required(parser, "eval");
    recipe.init = parser.value(QStringLiteral("init")).toStdString();
    recipe = TransferRecipe::fromJson(recipe.toJson(), "command line");
    adapterFormOf(parser);   // bad values fail before any work
    parseShardSize(parser.value(QStringLiteral("max-shard-size")).toStdString());
    const QDir out(QString::fromStdString(required(parser, "out")));
    // The task files before any model or folder: a bad file fails in a second.
    const auto train = readTaskFile(recipe.train);
    const auto eval = readEvaluationItems(recipe.eval);

    const auto load = studentLoadOptions(parser, recipe.student);
    auto pair = loadModelPair(recipe.teacher, recipe.student, load, TeacherWeights::Mapped);
    applyCheckpointing(parser, pair.student.model, load);
    if (!QDir().mkpath(out.path()))
        throw Error(out.path().toStdString() + ": cannot create the folder");
    auto session = openTransferSession(out.filePath(QStringLiteral("session.h5")).toStdString(), recipe);
    auto progress = consoleProgress();
    std::optional<TeacherSource> teacher;
    if (recipe.init == "transfer") {
        SensitivityChoices choices;
        choices.computeDtype = parser.value(QStringLiteral("compute-dtype")).toStdString();
        ensureTeacherScores(session, pair, recipe.seeds, recipe, load.device, choices, progress, logLine);
        teacher = teacherFromSession(pair.teacher.folder, session, pair.teacher.config.numHiddenLayers);
    }

    LlamaForCausalLM trained{nullptr};
    const auto run = runCondition(recipe, recipe.init, pair, teacher ? &*teacher : nullptr, train, eval, progress,
                                  {logLine, printTrainingStep}, &trained,
                                  StudentCopy::UseLoaded);   // one run: no second copy of the student
    if (run.extraction)
        writeExtractionRecord(session, *run.extraction, recipe.structure);
    writeRunRecord(session, run);
    if (recipe.init != "none") {
        exportRunAdapters(trained, run, out.filePath(QStringLiteral("adapter")).toStdString(), recipe.student,
                          adapterFormOf(parser));
        const auto adapter = runAdapterForBase(trained, run, recipe.student);
        saveMerged(trained, recipe.student, &adapter, out.filePath(QStringLiteral("merged")).toStdString(), parser);
    } else {
        saveMerged(trained, recipe.student, nullptr, out.filePath(QStringLiteral("merged")).toStdString(), parser);
    }
    session.commit();
    std::printf("%s: %s %.2f%% (%lld of %lld items) in %.0f s -> %s\n", recipe.init.c_str(), recipe.evalMetric.c_str(),
                100.0 * run.evaluation.score, static_cast<long long>(run.evaluation.correct),
                static_cast<long long>(run.evaluation.items), run.seconds, qPrintable(out.path()));
    return 0;
}

} // namespace nugget::cli
