#pragma once
// The built-in demo: a synthetic world, a tokenizer trained on it, and a teacher and a
// student pretrained on disjoint people of that world, regenerated from one recipe
// file (resources/demo/recipe.json) by `nugget-cli zoo`.

#include "jobs/Progress.h"
#include "train/PretrainRun.h"
#include "zoo/WorldSplits.h"

#include <QJsonObject>

#include <functional>
#include <string>

namespace nugget::zoo {

struct DemoModelRecipe
{
    ModelConfig architecture;   // vocab_size is set from the trained tokenizer
    PretrainOptions training;
    double initStd = 0.02;
    uint64_t initSeed = 1;
};

struct DemoRecipe
{
    WorldRecipe world;
    int tokenizerVocab = 2048;
    std::string tokenizerModelType = "bpe";
    at::ScalarType storageDtype = at::kBFloat16;
    DemoModelRecipe teacher;
    DemoModelRecipe student;
    QJsonObject source;         // the recipe as read, recorded in the manifest

    static DemoRecipe fromJson(const QJsonObject &json, const std::string &sourceName);
    static DemoRecipe fromJsonFile(const std::string &path);
};

// Folder layout of a built demo.
namespace demofile {
inline constexpr const char *Tasks = "tasks";             // the world's files
inline constexpr const char *Teacher = "teacher";         // HF model folder
inline constexpr const char *Student = "student";         // HF model folder
inline constexpr const char *Manifest = "manifest.json";  // recipe, sha256, timings
} // namespace demofile

struct DemoBuildOptions
{
    bool trainTeacher = true;
    bool trainStudent = true;
    // Keep an existing tasks/ and tokenizer.model (e.g. to retrain one side, or to
    // train both sides in two processes at once).
    bool reuseWorld = false;
    at::Device device = at::kCPU;
    // Log lines (stage changes, training steps) for a console or a GUI log.
    std::function<void(const std::string &)> log;
    std::function<void(const std::string &side, const TrainingStep &)> onStep;
};

// Builds everything into outputDir: tasks/, tokenizer.model, teacher/, student/ and
// manifest.json (the recipe, sha256 of every output file, training time and
// throughput). Interrupted model training resumes on the next call.
QJsonObject buildDemo(const DemoRecipe &recipe, const std::string &outputDir, const DemoBuildOptions &options,
                      Progress &progress);


} // namespace nugget::zoo
