#pragma once
// The options the transfer commands (sensitivity, extract, train, transfer) share, in
// groups: each command adds the groups it uses, so a flag it would ignore is an
// unknown option, and the recipe is read back from exactly those groups.

#include "CommandLine.h"

#include "model/ModelFolder.h"
#include "transfer/TransferRecipe.h"

#include <QCommandLineParser>

#include <initializer_list>
#include <memory>
#include <string>

namespace nugget {
class DataParallelGroup;
}

namespace nugget::cli {

QCommandLineOption option(const char *name, const char *description, const char *valueName = nullptr,
                          const char *defaultValue = nullptr);
// The same with a description built at run time (the choice tables' help).
QCommandLineOption option(const char *name, const std::string &description, const char *valueName,
                          const char *defaultValue = nullptr);
// The value of --NAME; throws Error "missing --NAME" when it is not given.
std::string required(const QCommandLineParser &parser, const char *name);
void logLine(const std::string &line);

// Groups of recipe options.
enum RecipeOptions : unsigned {
    AdapterShape = 1u << 0,   // --rank --alpha --dropout --origin --split
    Extraction = 1u << 1,     // --layers --structure --svd
    Training = 1u << 2,       // --epochs --batch-size --micro-batch-size --learning-rate --warmup-ratio
    Evaluation = 1u << 3,     // --metric --eval-limit
    // --max-length, --seed and --device come with every group.
};
void addRecipeOptions(QCommandLineParser &parser, unsigned groups);
// The recipe the options of `groups` describe (the rest keep their defaults), checked
// as a recipe file is (TransferRecipe::fromJson): every value before any work.
TransferRecipe recipeFromOptions(const QCommandLineParser &parser, unsigned groups);
// Throws Error "--NAME has no effect WHEN: WHY" for the first of `names` given.
void refuseOptions(const QCommandLineParser &parser, std::initializer_list<const char *> names, const std::string &when,
                   const std::string &why);

QCommandLineOption computeDtypeOption();
QCommandLineOption studentDtypeOption();
QCommandLineOption checkpointingOption();
// Device and weight dtype of the student in `dir`, by --device and --student-dtype.
LoadOptions studentLoadOptions(const QCommandLineParser &parser, const std::string &dir);
// --gradient-checkpointing for a student loaded with `load`.
void applyCheckpointing(const QCommandLineParser &parser, LlamaForCausalLM &student, const LoadOptions &load);
// --adapter-form base|delta (how a delta-initialised run's adapter is written) and its value.
QCommandLineOption adapterFormOption();
AdapterForm adapterFormOf(const QCommandLineParser &parser);
// --max-shard-size for the merged folder.
QCommandLineOption maxShardSizeOption();
// The merged model folder (writeMergedModelFolder): the untouched student in
// `studentDir` with `adapter` (may be null) merged in float32, stored in the student's dtype.
void saveMerged(LlamaForCausalLM &model, const std::string &studentDir, const PeftAdapter *adapter,
                const std::string &dir, const QCommandLineParser &parser);

// --world-size, --process-rank, --master and --launch: one set of data-parallel options
// for every command that can run as a group. `rankAlias` also accepts --rank for the
// process rank (sensitivity, which has no LoRA rank; train's --rank is the LoRA rank).
void addDataParallelOptions(QCommandLineParser &parser, bool rankAlias);
struct GroupPlace
{
    int worldSize = 1;
    int rank = 0;
    std::string master = "127.0.0.1:29500";   // ADDR:PORT of rank 0's store
};
// This process's place in the group the options describe, checked before any work.
// Without --world-size/--process-rank/--master, torchrun's environment (WORLD_SIZE, RANK,
// MASTER_ADDR, MASTER_PORT) gives them, so `torchrun --nproc-per-node N nugget-cli ...`
// needs no Nugget flags; a flag given wins over the variable.
GroupPlace groupPlace(const QCommandLineParser &parser);
// Joins the group (returns once every rank has joined); null for a single process.
std::unique_ptr<DataParallelGroup> joinGroup(const GroupPlace &place);
// Runs `command` as `count` local processes (ranks 0..count-1 on loopback), their
// output passed through; fails when any of them fails.
int launchLocal(const QString &command, const QStringList &arguments, int count);

} // namespace nugget::cli
