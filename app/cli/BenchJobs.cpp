// nugget-cli bench jobs: the same LoRA job (load, attach, train, export) run again and
// again in one process, with the resident memory after each; a job must release what
// it allocated, so the figures level off instead of climbing.

#include "CommandLine.h"
#include "Commands.h"

#include "io/PeftAdapter.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "train/LoraTrainer.h"
#include "transfer/Injection.h"
#include "transfer/TransferRecipe.h"

#include <QFile>
#include <QTemporaryDir>

#include <chrono>
#include <cstdio>

#include <malloc.h>

namespace nugget::cli {

namespace {

// Resident set size in MiB, after handing freed heap pages back to the system (so it
// counts what is still allocated, not what glibc keeps cached).
double residentMiB()
{
    ::malloc_trim(0);
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').front().toDouble() / 1024.0;
    return -1;
}

} // namespace

int benchJobs(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("jobs"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("model"), QStringLiteral("Student model folder (default resources/demo/student)."), QStringLiteral("DIR"),
         QStringLiteral("resources/demo/student")},
        {QStringLiteral("train"), QStringLiteral("Training data (default resources/demo/tasks/transfer_train.jsonl)."),
         QStringLiteral("FILE"), QStringLiteral("resources/demo/tasks/transfer_train.jsonl")},
        {QStringLiteral("jobs"), QStringLiteral("Jobs to run (default 20)."), QStringLiteral("N"), QStringLiteral("20")},
        {QStringLiteral("examples"), QStringLiteral("Training examples per job (default 64)."), QStringLiteral("N"),
         QStringLiteral("64")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Runs one LoRA job (load the model, attach rank-8 adapters, train one epoch, export the "
                               "adapter) N times in this process and prints the resident memory after each job."));
    const auto jobs = integerOption(parser, QStringLiteral("jobs"));
    const auto count = integerOption(parser, QStringLiteral("examples"));
    if (jobs < 1 || count < 1)
        throw Error("--jobs and --examples must be positive");
    auto examples = readTaskFile(parser.value(QStringLiteral("train")).toStdString());
    if (static_cast<int64_t>(examples.size()) > count)
        examples.resize(static_cast<size_t>(count));
    const auto modelDir = parser.value(QStringLiteral("model")).toStdString();

    const double start = residentMiB();
    std::printf("%-5s %10s %9s %12s\n", "job", "RSS MiB", "seconds", "final loss");
    std::printf("%-5s %10.1f\n", "start", start);
    double afterFirst = 0, last = 0;
    for (int64_t job = 1; job <= jobs; ++job) {
        const auto began = std::chrono::steady_clock::now();
        double loss = 0;
        {
            auto student = loadModelFolder(modelDir);
            const auto tokenizer = Tokenizer::load(student.tokenizerPath);
            injectPlainLora(student.model, modulesOf(TransferOrigin::All), {8, 8, 0.05}, static_cast<uint64_t>(job));
            LoraTrainingOptions options;
            options.epochs = 1;
            options.batchSize = 16;
            options.microBatchSize = 8;
            options.maxLength = 256;
            options.seed = static_cast<uint64_t>(job);
            options.padId = tokenizer->eosId();
            Progress progress;
            const auto result = trainLora(student.model, trainingDocuments(*tokenizer, examples, options.maxLength), {},
                                          options, progress);
            loss = result.steps.empty() ? 0.0 : result.steps.back().loss;
            QTemporaryDir out;
            writePeftAdapter(out.filePath(QStringLiteral("adapter")).toStdString(), adapterOf(student.model, modelDir));
        }
        const double rss = residentMiB();
        if (job == 1)
            afterFirst = rss;
        last = rss;
        std::printf("%-5lld %10.1f %9.2f %12.4f\n", static_cast<long long>(job), rss,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(), loss);
        std::fflush(stdout);
    }
    std::printf("growth from job 1 to job %lld: %+.1f MiB (%+.2f MiB per job)\n", static_cast<long long>(jobs),
                last - afterFirst, jobs > 1 ? (last - afterFirst) / static_cast<double>(jobs - 1) : 0.0);
    return 0;
}

} // namespace nugget::cli
