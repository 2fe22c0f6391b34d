#include "train/Pretrainer.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "io/AtomicFolder.h"
#include "io/Safetensors.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <chrono>
#include <set>
#include <cmath>

namespace nugget {

namespace {

const QString kStateFile = QStringLiteral("trainer_state.json");
const QString kOptimizerFile = QStringLiteral("optimizer.safetensors");

std::string parameterKey(const at::Tensor &parameter)
{
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

} // namespace

Pretrainer::Pretrainer(LlamaForCausalLM model, std::vector<TrainingDocument> train,
                       std::vector<TrainingDocument> evaluation, PretrainOptions options)
    : m_model(std::move(model)),
      m_train(std::move(train), options.sequenceLength, options.batchSize),
      m_evaluation(std::move(evaluation)), m_options(std::move(options))
{
    m_schedule.peak = m_options.learningRate;
    m_schedule.warmupSteps = m_options.warmupSteps;
    m_schedule.totalSteps = totalSteps();
    m_schedule.floorRatio = m_options.floorRatio;

    // Weight decay on matrices only; norms' gains are left alone.
    for (const auto &item : m_model->named_parameters())
        (item.value().dim() >= 2 ? m_decayed : m_undecayed).push_back(item.value());
    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto options_ = [&](double decay) {
        return std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(m_options.learningRate)
                .betas({m_options.beta1, m_options.beta2})
                .weight_decay(decay));
    };
    groups.emplace_back(m_decayed, options_(m_options.weightDecay));
    groups.emplace_back(m_undecayed, options_(0.0));
    m_optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(m_options.learningRate));
}

int64_t Pretrainer::totalSteps() const
{
    return m_train.batchesPerEpoch() * m_options.epochs;
}

double Pretrainer::evaluationLoss()
{
    if (m_evaluation.empty())
        return std::nan("");
    torch::NoGradGuard noGrad;
    m_model->eval();
    double weighted = 0;
    int64_t count = 0;
    for (const auto &document : m_evaluation) {
        const int64_t length = std::min<int64_t>(static_cast<int64_t>(document.ids.size()),
                                                 m_model->config().maxPositionEmbeddings);
        const auto ids = torch::tensor(std::vector<int64_t>(document.ids.begin(), document.ids.begin() + length)).unsqueeze(0);
        const auto labels =
            torch::tensor(std::vector<int64_t>(document.labels.begin(), document.labels.begin() + length)).unsqueeze(0);
        const int64_t targets = labels.narrow(1, 1, length - 1).ne(-100).sum().item<int64_t>();
        if (targets == 0)
            continue;
        weighted += causalLmLoss(m_model->forward(ids), labels).item<double>() * static_cast<double>(targets);
        count += targets;
    }
    return count ? weighted / static_cast<double>(count) : std::nan("");
}

PretrainResult Pretrainer::run(Progress &progress)
{
    PretrainResult result;
    const int64_t total = totalSteps();
    const int64_t perEpoch = m_train.batchesPerEpoch();
    int64_t step = loadCheckpoint();
    result.resumedFromStep = step;
    const auto start = std::chrono::steady_clock::now();
    int64_t tokensThisRun = 0;

    auto evaluate = [&](int64_t atStep) {
        EvaluationPoint point{atStep, evaluationLoss()};
        result.evaluations.push_back(point);
        if (onEvaluation)
            onEvaluation(point);
    };

    try {
        while (step < total) {
            const int64_t epoch = step / perEpoch;
            const auto batches = m_train.epoch(m_options.seed, epoch);
            for (int64_t index = step % perEpoch; index < perEpoch && step < total; ++index) {
                progress.checkCancelled();
                const auto &batch = batches[static_cast<size_t>(index)];
                const double learningRate = m_schedule.at(step);
                for (auto &group : m_optimizer->param_groups())
                    static_cast<torch::optim::AdamWOptions &>(group.options()).lr(learningRate);

                m_model->train();
                m_optimizer->zero_grad();
                const auto loss = causalLmLoss(m_model->forward(batch.inputIds), batch.labels.to(m_model->device()));
                const double lossValue = loss.item<double>();
                if (!std::isfinite(lossValue))
                    throw Error("training stopped: the loss is " + std::to_string(lossValue) + " at step " +
                                std::to_string(step + 1) + " (lower the learning rate or check the data)");
                loss.backward();
                const double norm = torch::nn::utils::clip_grad_norm_(m_model->parameters(), m_options.gradientClip);
                if (!std::isfinite(norm))
                    throw Error("training stopped: the gradient norm is not finite at step " + std::to_string(step + 1));
                m_optimizer->step();
                ++step;

                tokensThisRun += batch.inputIds.numel();
                const double seconds =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                TrainingStep report;
                report.step = step;
                report.totalSteps = total;
                report.epoch = epoch;
                report.loss = lossValue;
                report.learningRate = learningRate;
                report.gradientNorm = norm;
                report.tokensPerSecond = tokensThisRun / std::max(seconds, 1e-9);
                report.etaSeconds = seconds / static_cast<double>(step - result.resumedFromStep) *
                                    static_cast<double>(total - step);
                result.steps.push_back(report);
                if (onStep)
                    onStep(report);
                progress.report(static_cast<double>(step) / total,
                                "step " + std::to_string(step) + "/" + std::to_string(total) + " loss " +
                                    std::to_string(lossValue));

                if (m_options.evalEvery > 0 && step % m_options.evalEvery == 0)
                    evaluate(step);
                if (m_options.checkpointEvery > 0 && step % m_options.checkpointEvery == 0 && step < total)
                    saveCheckpoint(step);
            }
        }
    } catch (const Cancelled &) {
        if (step > result.resumedFromStep)
            saveCheckpoint(step);
        throw;
    }
    if (result.evaluations.empty() || result.evaluations.back().step != step)
        evaluate(step);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.tokensSeen = tokensThisRun;
    m_model->eval();
    return result;
}

void Pretrainer::saveCheckpoint(int64_t step)
{
    if (m_options.checkpointDir.empty())
        return;
    // Written whole into a sibling folder, then swapped in, so a crash leaves either the
    // previous checkpoint or the new one, never a mix.
    const std::set<std::string> files = {"config.json", "model.safetensors", "tokenizer.model",
                                         kOptimizerFile.toStdString(), kStateFile.toStdString()};
    writeFolderAtomically(m_options.checkpointDir, files, [&](const std::string &dir) {
        const QDir staging(QString::fromStdString(dir));
        SaveOptions save;
        save.tokenizerPath = m_options.tokenizerPath;
        saveModelFolder(m_model, dir, save);

        std::vector<std::pair<std::string, at::Tensor>> tensors;
        auto &state = m_optimizer->state();
        for (const auto &item : m_model->named_parameters()) {
            const auto found = state.find(parameterKey(item.value()));
            if (found == state.end())
                continue;
            auto &adam = static_cast<torch::optim::AdamWParamState &>(*found->second);
            tensors.emplace_back(item.key() + ".exp_avg", adam.exp_avg().detach().cpu());
            tensors.emplace_back(item.key() + ".exp_avg_sq", adam.exp_avg_sq().detach().cpu());
            tensors.emplace_back(item.key() + ".step", torch::tensor(adam.step(), at::kLong));
        }
        writeSafetensors(staging.filePath(kOptimizerFile).toStdString(), tensors);
        QJsonObject json;
        json[QStringLiteral("step")] = static_cast<qint64>(step);
        json[QStringLiteral("total_steps")] = static_cast<qint64>(totalSteps());
        json[QStringLiteral("seed")] = QString::number(m_options.seed);
        json[QStringLiteral("sequence_length")] = static_cast<qint64>(m_options.sequenceLength);
        json[QStringLiteral("batch_size")] = static_cast<qint64>(m_options.batchSize);
        writeFileAtomically(staging.filePath(kStateFile).toStdString(), QJsonDocument(json).toJson());
    });
}

int64_t Pretrainer::loadCheckpoint()
{
    if (m_options.checkpointDir.empty())
        return 0;
    QString folder = QString::fromStdString(m_options.checkpointDir);
    if (!QFileInfo::exists(folder + u'/' + kStateFile)) {
        // Interrupted between the two renames on a file system without an atomic swap:
        // the previous checkpoint waits whole in "<dir>.old-*" (io/AtomicFolder.h).
        const QFileInfo dir(folder);
        const QStringList stale = QDir(dir.absolutePath())
                                      .entryList({dir.fileName() + QStringLiteral(".old-*")}, QDir::Dirs, QDir::Time);
        if (!stale.isEmpty())
            folder = dir.absolutePath() + u'/' + stale.first();
    }
    const QString statePath = folder + u'/' + kStateFile;
    if (!QFileInfo::exists(statePath))
        return 0;

    QFile file(statePath);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(statePath.toStdString() + ": cannot read");
    const auto json = QJsonDocument::fromJson(file.readAll()).object();
    if (json.value(QStringLiteral("seed")).toString() != QString::number(m_options.seed) ||
        json.value(QStringLiteral("total_steps")).toInteger() != totalSteps() ||
        json.value(QStringLiteral("sequence_length")).toInteger() != m_options.sequenceLength ||
        json.value(QStringLiteral("batch_size")).toInteger() != m_options.batchSize)
        throw Error(statePath.toStdString() +
                    ": the checkpoint belongs to a run with other settings (seed, steps, sequence length or "
                    "batch size); remove the folder to start afresh");
    const int64_t step = json.value(QStringLiteral("step")).toInteger();

    loadWeights(m_model, TensorStore::openFolder(folder.toStdString()), folder.toStdString());
    const auto optimizerFile = SafetensorsFile::open((folder + u'/' + kOptimizerFile).toStdString());
    auto &state = m_optimizer->state();
    torch::NoGradGuard noGrad;
    for (const auto &item : m_model->named_parameters()) {
        if (!optimizerFile->find(item.key() + ".step"))
            continue;
        auto adam = std::make_unique<torch::optim::AdamWParamState>();
        const auto device = item.value().device();
        adam->step(optimizerFile->tensor(item.key() + ".step").item<int64_t>());
        adam->exp_avg(optimizerFile->tensor(item.key() + ".exp_avg").clone().to(device));
        adam->exp_avg_sq(optimizerFile->tensor(item.key() + ".exp_avg_sq").clone().to(device));
        state[parameterKey(item.value())] = std::move(adam);
    }
    return step;
}

std::vector<TrainingDocument> textDocuments(const Tokenizer &tokenizer, const std::vector<std::string> &lines)
{
    std::vector<TrainingDocument> documents;
    documents.reserve(lines.size());
    for (const auto &line : lines) {
        TrainingDocument document;
        document.ids = tokenizer.encode(line, true);
        document.ids.push_back(tokenizer.eosId());
        document.labels = document.ids;
        document.labels[0] = kIgnoredLabel;   // BOS is never a target
        documents.push_back(std::move(document));
    }
    return documents;
}

std::vector<TrainingDocument> chatDocuments(const Tokenizer &tokenizer, const std::vector<ChatExample> &examples)
{
    std::vector<TrainingDocument> documents;
    documents.reserve(examples.size());
    for (const auto &example : examples) {
        auto tokenized = tokenizeChat(tokenizer, example);
        documents.push_back({std::move(tokenized.inputIds), std::move(tokenized.labels)});
    }
    return documents;
}

} // namespace nugget
