#pragma once
// Causal-LM training of a whole model from scratch (the demo pair) with AdamW, warm-up
// + cosine decay, gradient clipping, packed sequences, periodic evaluation and
// resumable checkpoints in Hugging Face format.

#include "jobs/Progress.h"
#include "model/LlamaModel.h"
#include "train/LearningRateSchedule.h"
#include "train/PackedBatches.h"

#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nugget {

struct PretrainOptions
{
    int64_t sequenceLength = 256;
    int64_t batchSize = 16;
    int64_t epochs = 10;
    double learningRate = 1e-3;
    double floorRatio = 0.1;
    int64_t warmupSteps = 100;
    double weightDecay = 0.1;
    double beta1 = 0.9;
    double beta2 = 0.95;
    double gradientClip = 1.0;
    int64_t evalEvery = 200;          // steps; 0: only at the end
    int64_t checkpointEvery = 500;    // steps; 0: never (cancel still checkpoints)
    uint64_t seed = 1;
    std::string checkpointDir;        // empty: no checkpoints, no resume
    std::string tokenizerPath;        // copied into checkpoints
};

struct TrainingStep
{
    int64_t step = 0;          // 1-based, steps done so far
    int64_t totalSteps = 0;
    int64_t epoch = 0;
    double loss = 0;
    double learningRate = 0;
    double gradientNorm = 0;
    double tokensPerSecond = 0;
    double etaSeconds = 0;
};

struct EvaluationPoint
{
    int64_t step = 0;
    double loss = 0;
};

struct PretrainResult
{
    std::vector<TrainingStep> steps;
    std::vector<EvaluationPoint> evaluations;
    int64_t resumedFromStep = 0;
    double seconds = 0;
    int64_t tokensSeen = 0;
};

class Pretrainer
{
public:
    Pretrainer(LlamaForCausalLM model, std::vector<TrainingDocument> train,
               std::vector<TrainingDocument> evaluation, PretrainOptions options);

    std::function<void(const TrainingStep &)> onStep;
    std::function<void(const EvaluationPoint &)> onEvaluation;

    // Trains to the end, resuming from options.checkpointDir when it holds a checkpoint
    // of this run. On cancel, writes a checkpoint (when a folder is set) and throws
    // Cancelled; on a non-finite loss throws Error naming the step.
    PretrainResult run(Progress &progress);

    // Mean loss over the evaluation documents (no gradient).
    double evaluationLoss();
    int64_t totalSteps() const;

private:
    void saveCheckpoint(int64_t step);
    int64_t loadCheckpoint();

    LlamaForCausalLM m_model;
    PackedBatches m_train;
    std::vector<TrainingDocument> m_evaluation;
    PretrainOptions m_options;
    LearningRateSchedule m_schedule;
    std::unique_ptr<torch::optim::Optimizer> m_optimizer;
    std::vector<at::Tensor> m_decayed, m_undecayed;
};

// Documents for training from plain text lines (loss on every token) and from chat
// examples (loss on the answer only), each wrapped in BOS ... EOS.
class Tokenizer;
struct ChatExample;
std::vector<TrainingDocument> textDocuments(const Tokenizer &tokenizer, const std::vector<std::string> &lines);
std::vector<TrainingDocument> chatDocuments(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples);

} // namespace nugget
