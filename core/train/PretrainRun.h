#pragma once
// One complete pretraining run from files to a Hugging Face model folder: what
// `nugget-cli pretrain` and the demo recipe both do.

#include "io/ModelConfig.h"
#include "jobs/Progress.h"
#include "train/Pretrainer.h"

#include <QJsonObject>

#include <functional>
#include <string>
#include <vector>

namespace nugget {

struct PretrainSpec
{
    ModelConfig architecture;
    std::string tokenizerPath;
    std::vector<std::string> textFiles;     // one document per line, loss on every token
    std::vector<std::string> chatFiles;     // JSONL messages, loss on the answer only
    std::vector<std::string> evalTextFiles; // held-out documents for the evaluation loss
    int64_t evalDocumentLimit = 200;
    PretrainOptions options;
    double initStd = 0.02;
    uint64_t initSeed = 1;
    std::string outputDir;                  // receives config.json, model.safetensors, tokenizer.model
    at::ScalarType storageDtype = at::kFloat;
    at::Device device = at::kCPU;

    static PretrainSpec fromJson(const QJsonObject &json, const std::string &source);
};

struct PretrainSummary
{
    PretrainResult result;
    int64_t parameters = 0;
    int64_t trainingTokensPerEpoch = 0;
    double finalEvalLoss = 0;
};

// Trains and writes the model folder plus training_log.json (loss and evaluation
// curves). The checkpoint lives in OUTPUT_DIR.checkpoint while the run is going and is
// removed when it completes; a re-run with the same settings resumes from it.
PretrainSummary runPretraining(const PretrainSpec &spec, Progress &progress,
                               const std::function<void(const TrainingStep &)> &onStep = {});

std::vector<std::string> readTextLines(const std::string &path);

} // namespace nugget
