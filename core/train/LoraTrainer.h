#pragma once
// LoRA fine-tuning of a student on task examples: only the adapters train; AdamW with
// warm-up and cosine decay, micro-batches with gradient accumulation, loss on the
// answer tokens, periodic evaluation, seeded, cancellable.

#include "jobs/Progress.h"
#include "model/LlamaModel.h"
#include "train/LearningRateSchedule.h"
#include "train/PackedBatches.h"
#include "train/Pretrainer.h"

#include <functional>
#include <vector>

namespace nugget {

struct LoraTrainingOptions
{
    int64_t epochs = 3;
    int64_t batchSize = 16;        // examples per optimiser step (the CLI, the workbench and recipes share it)
    int64_t microBatchSize = 8;    // examples per forward/backward
    double learningRate = 3e-4;
    double warmupRatio = 0.03;
    double floorRatio = 0.0;
    double weightDecay = 0.0;
    double gradientClip = 1.0;
    int64_t maxLength = 0;         // truncate examples (0: the model's context)
    int64_t evalEvery = 0;         // steps; 0: at the end only
    uint64_t seed = 1;
    int64_t padId = 2;             // right padding; padded positions carry label -100
    // Data parallelism: of every batch this process runs the micro-batches m with
    // m % worldSize == rank, and allReduce (a sum over the group, e.g. a
    // DataParallelGroup) adds up the gradients and the loss before each optimiser step,
    // so every rank takes the step one process would (without dropout, exactly).
    int64_t rank = 0, worldSize = 1;
    std::function<void(at::Tensor &)> allReduce;
};

struct LoraTrainingResult
{
    std::vector<TrainingStep> steps;
    std::vector<EvaluationPoint> evaluations;   // evaluation-set loss
    double seconds = 0;
};

// Trains the adapters currently attached to `model` (freezing everything else).
// Throws Error when no adapter is attached, on a non-finite loss (naming the step), and
// Cancelled when the progress is cancelled (checked before every micro-batch).
LoraTrainingResult trainLora(LlamaForCausalLM &model, const std::vector<TrainingDocument> &train,
                             const std::vector<TrainingDocument> &evaluation, const LoraTrainingOptions &options,
                             Progress &progress, const std::function<void(const TrainingStep &)> &onStep = {},
                             const std::function<void(const EvaluationPoint &)> &onEvaluation = {});

// Mean loss per answer token over documents, in micro-batches.
double documentsLoss(LlamaForCausalLM &model, const std::vector<TrainingDocument> &documents, int64_t microBatchSize,
                     int64_t padId, int64_t maxLength = 0);

// Right-padded batch of documents (labels -100 on padding).
TokenBatch padBatch(const std::vector<const TrainingDocument *> &documents, int64_t padId, int64_t maxLength);

} // namespace nugget
