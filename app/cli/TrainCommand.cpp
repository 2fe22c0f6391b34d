// nugget-cli train: LoRA adapters fine-tuned on a student, from an extracted adapter,
// plain LoRA or the student's own SVD, on one process or a data-parallel group.

#include "Commands.h"
#include "TransferOptions.h"

#include "dist/DataParallel.h"
#include "eval/CandidateSets.h"
#include "eval/ItemRecords.h"
#include "io/AtomicFile.h"
#include "model/MergedModelFolder.h"
#include "text/Tokenizer.h"
#include "transfer/RecipeChoices.h"

#include <QDir>
#include <QFileInfo>

#include <cstdio>

namespace nugget::cli {

namespace {

// Before any work: the flags `--init` makes meaningless are refused, saying why.
void checkInitOptions(const QCommandLineParser &parser)
{
    const auto init = parser.value(QStringLiteral("init")).toStdString();
    if (init == "lora") {
        refuseOptions(parser, {"split"}, "with --init lora", "only own-svd splits SVD factors");
        return;
    }
    if (init == "own-svd")
        return;
    if (!QDir(QString::fromStdString(init)).exists())
        throw Error("--init: '" + init + "' is neither lora, own-svd nor an adapter folder");
    const std::string with = "with --init ADAPTER_DIR";
    refuseOptions(parser, {"rank"}, with, "the rank comes from the adapter");
    refuseOptions(parser, {"alpha"}, with, "the alpha comes from the adapter");
    refuseOptions(parser, {"dropout"}, with, "the dropout comes from the adapter");
    refuseOptions(parser, {"origin"}, with, "the adapted matrices come from the adapter");
    refuseOptions(parser, {"split"}, with, "the adapter's factors are split already");
}

// The adapters `init` names attached to `student`: its delta merged first for an
// adapter folder (so the student is unchanged at step 0), else new ones.
void initialiseAdapters(const QCommandLineParser &parser, const TransferRecipe &recipe, LlamaForCausalLM &student,
                        RunReport &run)
{
    const auto init = parser.value(QStringLiteral("init")).toStdString();
    run.init = init;
    if (init == "lora") {
        injectPlainLora(student, modulesOf(parseTransferOrigin(recipe.origin)), recipe.lora, recipe.seed);
        return;
    }
    if (init == "own-svd") {
        run.initialAdapters = injectOwnSvd(student, modulesOf(parseTransferOrigin(recipe.origin)), recipe.lora,
                                           parseFactorSplit(recipe.split));
        return;
    }
    run.initialAdapters = attachAdapterForTraining(student, init);
    run.init = "adapter";
}

} // namespace

int runTrain(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("student", "Student model folder.", "DIR"),
        option("init", "An adapter folder from extract or train (its initial factors are merged first; its rank, alpha, dropout and "
                       "matrices are the adapter's), lora (plain LoRA) or own-svd (default lora).",
               "ADAPTER_DIR|lora|own-svd", "lora"),
        option("train", "Training data (JSONL).", "FILE"),
        option("eval", "Evaluation data (JSONL), scored after training.", "FILE"),
        option("items", "With --eval: write one record per evaluated item to this JSONL file (as eval --items).", "FILE"),
        option("out", "Folder for the trained adapter (PEFT format).", "DIR"),
        option("merged", "Also write the merged model (base + adapters) as a model folder here.", "DIR"),
        adapterFormOption(),
        maxShardSizeOption(),
        studentDtypeOption(),
        checkpointingOption(),
    });
    addRecipeOptions(parser, AdapterShape | Training | Evaluation);
    addDataParallelOptions(parser, false);
    parseOrExit(parser, arguments,
                QStringLiteral("Fine-tunes LoRA adapters on a student model. With --world-size N every process "
                               "runs its share of each batch's micro-batches and the gradients are summed over "
                               "the group before each step; rank 0 writes the outputs."));
    if (parser.isSet(QStringLiteral("launch")))
        return launchLocal(QStringLiteral("train"), arguments,
                           static_cast<int>(integerOption(parser, QStringLiteral("launch"))));
    const auto place = groupPlace(parser);
    auto recipe = recipeFromOptions(parser, AdapterShape | Training | Evaluation);
    recipe.student = required(parser, "student");
    const auto out = required(parser, "out");
    const auto trainFile = required(parser, "train");
    checkInitOptions(parser);
    adapterFormOf(parser);   // a bad value fails before any work
    parseShardSize(parser.value(QStringLiteral("max-shard-size")).toStdString());
    if (!parser.isSet(QStringLiteral("eval")))
        refuseOptions(parser, {"metric", "eval-limit", "items"}, "without --eval", "nothing is evaluated");
    const auto load = studentLoadOptions(parser, recipe.student);
    auto student = loadModelFolder(recipe.student, load);
    applyCheckpointing(parser, student.model, load);
    if (student.tokenizerPath.empty())
        throw Error(recipe.student + ": no tokenizer.model in the student's folder");
    const auto tokenizer = Tokenizer::load(student.tokenizerPath);

    RunReport run;
    initialiseAdapters(parser, recipe, student.model, run);
    auto options = recipe.training;
    options.seed = recipe.seed;
    options.maxLength = recipe.maxLength;
    options.padId = tokenizer->eosId();
    const auto documents = trainingDocuments(*tokenizer, readTaskFile(trainFile), recipe.maxLength);
    // Joined only now: a bad file fails this rank before the others wait for it.
    const auto group = joinGroup(place);
    options.rank = place.rank;
    options.worldSize = place.worldSize;
    if (group)
        options.allReduce = [&](at::Tensor &t) { group->allReduceSum(t); };
    const bool writer = place.rank == 0;
    auto progress = writer ? consoleProgress() : Progress();
    run.training = trainLora(student.model, documents, {}, options, progress,
                             writer ? std::function<void(const TrainingStep &)>(printTrainingStep) : nullptr);
    if (!writer)   // every rank holds the same adapters; one writes them
        return 0;
    exportRunAdapters(student.model, run, out, recipe.student, adapterFormOf(parser));
    if (parser.isSet(QStringLiteral("eval"))) {
        const auto result = evaluateForRecipe(recipe, student.model, *tokenizer,
                                              readEvaluationItems(parser.value(QStringLiteral("eval")).toStdString()), progress);
        std::printf("%s %.2f%% (%lld of %lld items)\n", recipe.evalMetric.c_str(), 100.0 * result.score,
                    static_cast<long long>(result.correct), static_cast<long long>(result.items));
        if (parser.isSet(QStringLiteral("items")))
            writeFileAtomically(parser.value(QStringLiteral("items")).toStdString(), itemRecordsJsonl(result.details));
    }
    if (parser.isSet(QStringLiteral("merged"))) {
        const auto adapter = runAdapterForBase(student.model, run, recipe.student);
        saveMerged(student.model, recipe.student, &adapter, parser.value(QStringLiteral("merged")).toStdString(), parser);
    }
    std::printf("trained %zu steps -> %s\n", run.training.steps.size(), out.c_str());
    return 0;
}

} // namespace nugget::cli
