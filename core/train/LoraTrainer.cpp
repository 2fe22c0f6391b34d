#include "train/LoraTrainer.h"

#include "Error.h"
#include "model/LoraAdapters.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace nugget {

TokenBatch padBatch(const std::vector<const TrainingDocument *> &documents, int64_t padId, int64_t maxLength)
{
    int64_t longest = 0;
    for (const auto *d : documents)
        longest = std::max<int64_t>(longest, static_cast<int64_t>(d->ids.size()));
    if (maxLength > 0)
        longest = std::min(longest, maxLength);
    const auto count = static_cast<int64_t>(documents.size());
    auto ids = torch::full({count, longest}, padId, torch::kLong);
    auto labels = torch::full({count, longest}, -100, torch::kLong);
    auto idData = ids.accessor<int64_t, 2>();
    auto labelData = labels.accessor<int64_t, 2>();
    for (int64_t row = 0; row < count; ++row) {
        const auto *d = documents[static_cast<size_t>(row)];
        const int64_t length = std::min<int64_t>(static_cast<int64_t>(d->ids.size()), longest);
        for (int64_t t = 0; t < length; ++t) {
            idData[row][t] = d->ids[static_cast<size_t>(t)];
            labelData[row][t] = d->labels[static_cast<size_t>(t)];
        }
    }
    return {ids, labels};
}

double documentsLoss(LlamaForCausalLM &model, const std::vector<TrainingDocument> &documents, int64_t microBatchSize,
                     int64_t padId, int64_t maxLength)
{
    if (documents.empty())
        return std::nan("");
    torch::NoGradGuard noGrad;
    const bool wasTraining = model->is_training();
    model->eval();
    const int64_t context = maxLength > 0 ? maxLength : model->config().maxPositionEmbeddings;
    double total = 0;
    int64_t tokens = 0;
    for (size_t start = 0; start < documents.size(); start += static_cast<size_t>(microBatchSize)) {
        std::vector<const TrainingDocument *> chunk;
        for (size_t i = start; i < std::min(documents.size(), start + static_cast<size_t>(microBatchSize)); ++i)
            chunk.push_back(&documents[i]);
        const auto batch = padBatch(chunk, padId, context);
        const int64_t targets = batch.labels.narrow(1, 1, batch.labels.size(1) - 1).ne(-100).sum().item<int64_t>();
        if (targets == 0)
            continue;
        total += causalLmLoss(model->forward(batch.inputIds), batch.labels).item<double>() * static_cast<double>(targets);
        tokens += targets;
    }
    model->train(wasTraining);
    return tokens ? total / static_cast<double>(tokens) : std::nan("");
}

LoraTrainingResult trainLora(LlamaForCausalLM &model, const std::vector<TrainingDocument> &train,
                             const std::vector<TrainingDocument> &evaluation, const LoraTrainingOptions &options,
                             Progress &progress, const std::function<void(const TrainingStep &)> &onStep,
                             const std::function<void(const EvaluationPoint &)> &onEvaluation)
{
    if (train.empty())
        throw Error("LoRA training needs at least one training example");
    if (options.batchSize < 1 || options.microBatchSize < 1 || options.epochs < 1)
        throw Error("LoRA training: batch size, micro-batch size and epochs must be positive");
    freezeAllButLora(model);
    const auto parameters = loraParameters(model);
    if (parameters.empty())
        throw Error("the student has no LoRA adapter attached to train");

    torch::optim::AdamW optimizer(parameters, torch::optim::AdamWOptions(options.learningRate)
                                                  .weight_decay(options.weightDecay)
                                                  .betas({0.9, 0.999}));
    const int64_t stepsPerEpoch = (static_cast<int64_t>(train.size()) + options.batchSize - 1) / options.batchSize;
    const int64_t total = stepsPerEpoch * options.epochs;
    LearningRateSchedule schedule;
    schedule.peak = options.learningRate;
    schedule.totalSteps = total;
    schedule.warmupSteps = static_cast<int64_t>(std::ceil(options.warmupRatio * static_cast<double>(total)));
    schedule.floorRatio = options.floorRatio;
    const int64_t context = options.maxLength > 0 ? std::min(options.maxLength, model->config().maxPositionEmbeddings)
                                                  : model->config().maxPositionEmbeddings;

    LoraTrainingResult result;
    const auto start = std::chrono::steady_clock::now();
    torch::manual_seed(options.seed);   // LoRA dropout
    torch::AutoGradMode gradMode(true);
    int64_t step = 0, tokens = 0;
    auto evaluate = [&] {
        if (evaluation.empty())
            return;
        EvaluationPoint point{step, documentsLoss(model, evaluation, options.microBatchSize, options.padId, context)};
        result.evaluations.push_back(point);
        if (onEvaluation)
            onEvaluation(point);
    };

    for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
        const auto order = seededPermutation(train.size(), options.seed * 7919 + static_cast<uint64_t>(epoch));
        for (int64_t batchStart = 0; batchStart < static_cast<int64_t>(train.size()); batchStart += options.batchSize) {
            const int64_t batchEnd = std::min<int64_t>(batchStart + options.batchSize, static_cast<int64_t>(train.size()));
            const double learningRate = schedule.at(step);
            for (auto &group : optimizer.param_groups())
                static_cast<torch::optim::AdamWOptions &>(group.options()).lr(learningRate);
            model->train();
            optimizer.zero_grad();
            double stepLoss = 0;
            const int64_t microBatches = (batchEnd - batchStart + options.microBatchSize - 1) / options.microBatchSize;
            int64_t microIndex = 0;
            for (int64_t micro = batchStart; micro < batchEnd; micro += options.microBatchSize) {
                progress.checkCancelled();
                if (options.worldSize > 1 && microIndex++ % options.worldSize != options.rank)
                    continue;   // another rank's share
                std::vector<const TrainingDocument *> chunk;
                for (int64_t i = micro; i < std::min(micro + options.microBatchSize, batchEnd); ++i)
                    chunk.push_back(&train[order[static_cast<size_t>(i)]]);
                const auto batch = padBatch(chunk, options.padId, context);
                const auto loss = causalLmLoss(model->forward(batch.inputIds), batch.labels) /
                                  static_cast<double>(microBatches);
                const double value = loss.item<double>();
                if (!std::isfinite(value))
                    throw Error("LoRA training stopped: the loss is " + std::to_string(value * microBatches) +
                                " at step " + std::to_string(step + 1));
                loss.backward();
                stepLoss += value;
                tokens += batch.inputIds.numel();
            }
            if (options.allReduce) {
                torch::NoGradGuard noGrad;
                for (auto &parameter : parameters) {
                    auto &grad = parameter.mutable_grad();
                    if (!grad.defined())   // this rank had no micro-batch in this batch
                        grad = torch::zeros_like(parameter);
                    options.allReduce(grad);
                }
                auto loss = torch::tensor({stepLoss}, at::TensorOptions().dtype(at::kDouble));
                options.allReduce(loss);
                stepLoss = loss.item<double>();
            }
            const double norm = torch::nn::utils::clip_grad_norm_(parameters, options.gradientClip);
            if (!std::isfinite(norm))
                throw Error("LoRA training stopped: the gradient norm is not finite at step " + std::to_string(step + 1));
            optimizer.step();
            ++step;

            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            TrainingStep report{step,
                                total,
                                epoch,
                                stepLoss,
                                learningRate,
                                norm,
                                static_cast<double>(tokens) / std::max(seconds, 1e-9),
                                seconds / static_cast<double>(step) * static_cast<double>(total - step)};
            result.steps.push_back(report);
            if (onStep)
                onStep(report);
            progress.report(static_cast<double>(step) / static_cast<double>(total),
                            "step " + std::to_string(step) + "/" + std::to_string(total));
            if (options.evalEvery > 0 && step % options.evalEvery == 0 && step < total)
                evaluate();
        }
    }
    evaluate();
    model->eval();
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace nugget
