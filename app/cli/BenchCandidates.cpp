// nugget-cli bench candidates: scoring every candidate answer of evaluation items (the
// knowledge probes' ranks) the way evaluation does, one forward pass over the shared
// prompt then the candidates batched behind its key/value cache, against the plain way,
// one forward pass over prompt and answer per candidate, measured in the same run.

#include "CommandLine.h"
#include "Commands.h"

#include "eval/AnswerScoring.h"
#include "eval/CandidateSets.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>

namespace nugget::cli {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The plain way: the whole sequence of each candidate in its own forward pass.
double scoreOneByOne(LlamaForCausalLM &model, const Tokenizer &tokenizer, const ChatExample &example)
{
    torch::NoGradGuard noGrad;
    double checksum = 0;
    for (const auto &candidate : example.candidates) {
        ChatExample one = example;
        one.messages.back().content = candidate;
        const auto tokens = tokenizeChat(tokenizer, one);
        const auto logits = model->forward(torch::tensor(tokens.inputIds).unsqueeze(0))[0];
        const auto logProbs = torch::log_softmax(logits.to(at::kDouble), -1);
        for (size_t t = static_cast<size_t>(tokens.promptLength); t < tokens.inputIds.size(); ++t)
            checksum += logProbs[static_cast<int64_t>(t - 1)][tokens.inputIds[t]].item<double>();
    }
    return checksum;
}

} // namespace

int benchCandidates(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("candidates"), QStringLiteral("the benchmark"));
    parser.addOptions({
        {QStringLiteral("model"), QStringLiteral("Model folder (default resources/demo/teacher)."), QStringLiteral("DIR"),
         QStringLiteral("resources/demo/teacher")},
        {QStringLiteral("data"), QStringLiteral("Evaluation items with candidates (default resources/demo/tasks/transfer_eval.jsonl)."),
         QStringLiteral("FILE"), QStringLiteral("resources/demo/tasks/transfer_eval.jsonl")},
        {QStringLiteral("items"), QStringLiteral("Items with candidates to time (default 20)."), QStringLiteral("N"),
         QStringLiteral("20")},
        {QStringLiteral("baseline-items"), QStringLiteral("Of those, items also scored one candidate at a time (default 4)."),
         QStringLiteral("N"), QStringLiteral("4")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Times scoring every candidate answer of evaluation items as evaluation does (the shared "
                               "prompt once, the candidates batched behind its key/value cache) against one forward "
                               "pass per candidate, and projects the time for every item of the file."));
    const auto wanted = integerOption(parser, QStringLiteral("items"));
    const auto baselineItems = integerOption(parser, QStringLiteral("baseline-items"));
    auto loaded = loadModelFolder(parser.value(QStringLiteral("model")).toStdString());
    if (loaded.tokenizerPath.empty())
        throw Error(parser.value(QStringLiteral("model")).toStdString() + ": no tokenizer.model in the model folder");
    const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
    const auto all = readEvaluationItems(parser.value(QStringLiteral("data")).toStdString());
    std::vector<ChatExample> items;
    int64_t withCandidates = 0, candidates = 0;
    for (const auto &item : all) {
        if (item.candidates.empty())
            continue;
        ++withCandidates;
        candidates += static_cast<int64_t>(item.candidates.size());
        if (static_cast<int64_t>(items.size()) < wanted)
            items.push_back(item);
    }
    if (items.empty())
        throw Error(parser.value(QStringLiteral("data")).toStdString() + ": no item has candidates");
    std::printf("%s: %zu of %lld items with candidates (%.0f candidates each on average)\n"
                "machine: %d intra-op threads, OpenMP wait policy %s\n",
                qPrintable(parser.value(QStringLiteral("data"))), items.size(), static_cast<long long>(withCandidates),
                static_cast<double>(candidates) / static_cast<double>(withCandidates), at::get_num_threads(),
                qgetenv("OMP_WAIT_POLICY").constData());

    scoreAnswers(loaded.model, *tokenizer, items.front(), items.front().candidates);   // warm-up
    auto start = std::chrono::steady_clock::now();
    int64_t scored = 0;
    for (const auto &item : items)
        scored += static_cast<int64_t>(scoreAnswers(loaded.model, *tokenizer, item, item.candidates).size());
    const double batched = secondsSince(start) / static_cast<double>(items.size());

    const size_t baselineCount = std::min(items.size(), static_cast<size_t>(std::max<int64_t>(baselineItems, 0)));
    double oneByOne = 0;
    if (baselineCount > 0) {
        start = std::chrono::steady_clock::now();
        for (size_t i = 0; i < baselineCount; ++i)
            scoreOneByOne(loaded.model, *tokenizer, items[i]);
        oneByOne = secondsSince(start) / static_cast<double>(baselineCount);
    }
    std::printf("%-34s %10s %14s\n", "", "s/item", "candidates/s");
    std::printf("%-34s %10.3f %14.0f\n", "batched behind the prompt's cache", batched,
                static_cast<double>(scored) / static_cast<double>(items.size()) / batched);
    if (baselineCount > 0) {
        double perItem = 0;
        for (size_t i = 0; i < baselineCount; ++i)
            perItem += static_cast<double>(items[i].candidates.size()) / static_cast<double>(baselineCount);
        std::printf("%-34s %10.3f %14.0f\n", "one forward pass per candidate", oneByOne, perItem / oneByOne);
        std::printf("speed-up: %.1fx\n", oneByOne / batched);
    }
    std::printf("every item with candidates (%lld) at the batched rate: %.0f s\n", static_cast<long long>(withCandidates),
                batched * static_cast<double>(withCandidates));
    return 0;
}

} // namespace nugget::cli
