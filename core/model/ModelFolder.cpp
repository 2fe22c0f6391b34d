#include "model/ModelFolder.h"

#include "Error.h"
#include "io/ModelFolderInfo.h"
#include "io/Safetensors.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include <torch/torch.h>

#include <cstdio>
#include <set>

namespace nugget {

void loadWeights(LlamaForCausalLM &model, const TensorStore &store, const std::string &source)
{
    throwProblems(checkpointProblems(model->config(), "config.json", store, source));
    torch::NoGradGuard noGrad;
    // Every value problem is reported, not only the first; each tensor is read once.
    std::vector<std::string> problems;
    std::set<std::string> read;
    for (auto &item : model->named_parameters()) {
        const std::string &name = item.key();
        const auto stored = store.tensor(name);
        read.insert(name);
        if (auto problem = tensorValueProblem(model->config(), store, name, stored, source); !problem.empty())
            problems.push_back(std::move(problem));
        else
            item.value().copy_(stored);
        releaseMappedPages(stored);
    }
    // The tolerated tensors the model does not read (a tied head, rotary buffers).
    for (const auto &name : store.names()) {
        if (read.count(name))
            continue;
        const auto stored = store.tensor(name);
        if (auto problem = tensorValueProblem(model->config(), store, name, stored, source); !problem.empty())
            problems.push_back(std::move(problem));
        releaseMappedPages(stored);
    }
    throwProblems(problems);
}

ModelConfig readFolderConfig(const std::string &dir)
{
    const QDir folder(QString::fromStdString(dir));
    if (!folder.exists())
        throw Error(dir + ": no such model folder");
    const auto configPath = folder.filePath(QStringLiteral("config.json")).toStdString();
    if (!QFileInfo::exists(QString::fromStdString(configPath)))
        throw Error(dir + ": not a model folder (no config.json)");
    auto config = ModelConfig::fromJsonFile(configPath);
    const auto store = TensorStore::openFolder(dir);
    const std::string weights = weightsName(store, dir);
    // A config.json that does not belong to the weights could ask for far more memory
    // than the machine has: refuse before allocating when it describes more values than
    // the file holds and a sizeable model (below that, loading names the first tensor
    // that differs, which says more).
    uint64_t stored = 0;
    for (const auto &name : store.names())
        stored += static_cast<uint64_t>(store.info(name).numel());
    const auto described = static_cast<uint64_t>(config.parameterCount());
    if (described > stored && described > (uint64_t(1) << 26))
        throw Error(configPath + ": describes a model of " + std::to_string(config.parameterCount()) +
                    " parameters but " + weights + " holds only " + std::to_string(stored) +
                    " values; the config and the weights do not belong together");
    // The headers against the config, every problem at once (what `info` lists too).
    throwProblems(checkpointProblems(config, configPath, store, weights));
    return config;
}

namespace {

// "its weights need 2.1 GB as float32"
std::string needed(const ModelConfig &config, at::ScalarType dtype)
{
    const double gb = double(config.parameterCount()) * double(c10::elementSize(dtype)) / 1e9;
    char text[96];
    const char *name = dtype == at::kFloat      ? "float32"
                       : dtype == at::kHalf     ? "float16"
                       : dtype == at::kBFloat16 ? "bfloat16"
                                                : c10::toString(dtype);
    std::snprintf(text, sizeof text, "its weights need %.1f GB as %s", gb, name);
    return text;
}

} // namespace

LoadedModel describeModelFolder(const std::string &dir)
{
    LoadedModel described;
    described.folder = dir;
    described.config = readFolderConfig(dir);
    const auto tokenizer = QDir(QString::fromStdString(dir)).filePath(QStringLiteral("tokenizer.model"));
    if (QFileInfo::exists(tokenizer))
        described.tokenizerPath = tokenizer.toStdString();
    return described;
}

LoadedModel loadModelFolder(const std::string &dir, const LoadOptions &options)
{
    auto loaded = describeModelFolder(dir);
    const auto store = TensorStore::openFolder(dir);
    // Messages name the weights file when there is one (else the sharded folder).
    const std::string weights = weightsName(store, dir);
    try {
        loaded.model = LlamaForCausalLM(loaded.config);
        {
            // Each parameter is allocated in the target dtype and device before its
            // weights arrive: a bfloat16 7B model never passes through 27 GB of float32.
            torch::NoGradGuard noGrad;
            for (auto &item : loaded.model->named_parameters())
                item.value().set_data(at::empty(item.value().sizes(),
                                                item.value().options().dtype(options.dtype).device(options.device)));
        }
        loadWeights(loaded.model, store, weights);
    } catch (const c10::Error &e) {
        const std::string what = e.what_without_backtrace();
        if (what.find("can't allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos)
            throw Error(dir + ": out of memory while loading the model (" + needed(loaded.config, options.dtype)
                        + "): " + what.substr(0, what.find('\n')));
        throw Error(dir + ": cannot load the model: " + what);
    } catch (const std::bad_alloc &) {
        throw Error(dir + ": out of memory while loading the model (" + needed(loaded.config, options.dtype) + ")");
    }
    loaded.model->eval();
    return loaded;
}

void saveModelFolder(LlamaForCausalLM &model, const std::string &dir, const SaveOptions &options)
{
    if (!QDir().mkpath(QString::fromStdString(dir)))
        throw Error(dir + ": cannot create the folder");
    const QDir folder(QString::fromStdString(dir));

    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto &item : model->named_parameters())
        if (item.key().find(".lora_") != std::string::npos)
            throw Error(dir + ": the model still has LoRA adapters attached; merge or detach them before saving");
    for (const auto &item : model->named_parameters())
        tensors.emplace_back(item.key(), item.value().detach().to(at::kCPU, options.storageDtype));
    writeSafetensors(folder.filePath(QStringLiteral("model.safetensors")).toStdString(), tensors,
                     {{"format", "pt"}});

    auto config = model->config();
    config.torchDtype = options.storageDtype == at::kBFloat16 ? "bfloat16"
                        : options.storageDtype == at::kHalf  ? "float16"
                                                             : "float32";
    config.saveJsonFile(folder.filePath(QStringLiteral("config.json")).toStdString());

    if (!options.tokenizerPath.empty()) {
        QFile source(QString::fromStdString(options.tokenizerPath));
        if (!source.open(QIODevice::ReadOnly))
            throw Error(options.tokenizerPath + ": cannot read the tokenizer");
        QSaveFile target(folder.filePath(QStringLiteral("tokenizer.model")));
        if (!target.open(QIODevice::WriteOnly) || target.write(source.readAll()) < 0 || !target.commit())
            throw Error(target.fileName().toStdString() + ": cannot write: " + target.errorString().toStdString());
    }
}

at::Device parseDevice(const std::string &text)
{
    if (text == "auto")
        return torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    try {
        const at::Device device(text);
        if (device.is_cuda() && !torch::cuda::is_available())
            throw Error("device '" + text + "' requested but this build has no usable CUDA device");
        if (device.is_cuda() && device.has_index() &&
            device.index() >= static_cast<int>(torch::cuda::device_count()))
            throw Error("device '" + text + "' does not exist (" +
                        std::to_string(torch::cuda::device_count()) + " CUDA devices)");
        return device;
    } catch (const c10::Error &) {
        throw Error("unknown device '" + text + "' (use auto, cpu, cuda or cuda:N)");
    }
}

at::ScalarType parseDtype(const std::string &text)
{
    if (text == "float32" || text == "fp32" || text == "f32")
        return at::kFloat;
    if (text == "float16" || text == "fp16" || text == "f16")
        return at::kHalf;
    if (text == "bfloat16" || text == "bf16")
        return at::kBFloat16;
    throw Error("unknown dtype '" + text + "' (use float32, float16 or bfloat16)");
}

} // namespace nugget
