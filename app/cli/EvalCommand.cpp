#include "CommandLine.h"
#include "Commands.h"

#include "eval/CandidateSets.h"
#include "eval/ItemRecords.h"
#include "eval/TaskEvaluation.h"
#include "io/AtomicFile.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "train/PretrainRun.h"

#include <cstdio>

namespace nugget::cli {

namespace {

// The task file's items with their candidates: from --candidates, else from the
// candidates.json beside the file.
std::vector<ChatExample> evaluationItems(const QCommandLineParser &parser, const QString &data)
{
    if (!parser.isSet(QStringLiteral("candidates")))
        return readEvaluationItems(data.toStdString());
    auto examples = readChatJsonl(data.toStdString());
    attachCandidates(examples, readCandidateSets(parser.value(QStringLiteral("candidates")).toStdString()),
                     data.toStdString());
    return examples;
}

} // namespace

int runEval(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("MODEL_DIR"), QStringLiteral("Hugging Face model folder"));
    parser.addOptions({
        {QStringLiteral("data"), QStringLiteral("JSONL task file (messages format), or a .txt file of texts for perplexity."),
         QStringLiteral("FILE")},
        {QStringLiteral("metric"), QStringLiteral("exact-match, answer-number, choice or perplexity (default exact-match)."),
         QStringLiteral("METRIC"), QStringLiteral("exact-match")},
        {QStringLiteral("limit"), QStringLiteral("Evaluate only the first N items (default: all)."), QStringLiteral("N"), QStringLiteral("0")},
        {QStringLiteral("max-new-tokens"), QStringLiteral("Longest generated answer (default 64)."), QStringLiteral("N"), QStringLiteral("64")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default auto)."), QStringLiteral("DEVICE"), QStringLiteral("auto")},
        {QStringLiteral("items"),
         QStringLiteral("Write one record per item to this JSONL file: id, prompt, expected, predicted, correct, "
                        "answer_logprob, answer_tokens, and rank and candidates where the item has alternatives "
                        "(see docs/evaluation-records.md). Not for perplexity."),
         QStringLiteral("FILE")},
        {QStringLiteral("candidates"),
         QStringLiteral("Candidate answers by item field (default: candidates.json beside the data file, if any)."),
         QStringLiteral("FILE")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Scores a model on a task file: exact match of the generated answer (case, surrounding "
                               "whitespace and final period ignored), the number after \"So the answer is\", "
                               "multiple-choice log-likelihood, or perplexity. With the accuracy metrics every item "
                               "also gets the log-probability of its expected answer and, where it has candidate "
                               "answers, their ranking."));
    const QString dir = requiredPositional(parser, 0, "MODEL_DIR");
    if (!parser.isSet(QStringLiteral("data")))
        throw Error("missing --data FILE (see --help)");
    const QString data = parser.value(QStringLiteral("data"));
    const auto metric = parseEvalMetric(parser.value(QStringLiteral("metric")).toStdString());
    if (metric == EvalMetric::Perplexity && parser.isSet(QStringLiteral("items")))
        throw Error("--items needs an accuracy metric (exact-match, answer-number or choice), not perplexity");
    EvalOptions options;
    options.limit = integerOption(parser, QStringLiteral("limit"));
    options.maxNewTokens = integerOption(parser, QStringLiteral("max-new-tokens"));

    LoadOptions load;
    load.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    auto loaded = loadModelFolder(dir.toStdString(), load);
    if (loaded.tokenizerPath.empty())
        throw Error(dir.toStdString() + ": no tokenizer.model in the model folder");
    const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);

    auto progress = consoleProgress();
    EvalResult result;
    if (metric == EvalMetric::Perplexity && !data.endsWith(QLatin1String(".jsonl")))
        result = evaluatePerplexity(loaded.model, *tokenizer, readTextLines(data.toStdString()), options, &progress);
    else if (metric == EvalMetric::Perplexity)
        result = evaluateAnswerPerplexity(loaded.model, *tokenizer, readChatJsonl(data.toStdString()), options, &progress);
    else if (metric == EvalMetric::Choice)
        result = evaluateChoice(loaded.model, *tokenizer, readChatJsonl(data.toStdString()), options, &progress);
    else
        result = evaluateGenerated(loaded.model, *tokenizer, evaluationItems(parser, data), metric, options, &progress);
    std::fprintf(stderr, "\n");

    if (parser.isSet(QStringLiteral("items")))
        writeFileAtomically(parser.value(QStringLiteral("items")).toStdString(), itemRecordsJsonl(result.details));

    if (metric == EvalMetric::Perplexity)
        std::printf("perplexity %.4f over %lld tokens in %lld items\n", result.score,
                    static_cast<long long>(result.tokens), static_cast<long long>(result.items));
    else
        std::printf("%s %.2f%% (%lld of %lld items)\n", evalMetricName(metric).c_str(), 100.0 * result.score,
                    static_cast<long long>(result.correct), static_cast<long long>(result.items));
    return 0;
}

} // namespace nugget::cli
