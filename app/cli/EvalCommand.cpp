#include "CommandLine.h"
#include "Commands.h"

#include "eval/TaskEvaluation.h"
#include "io/AtomicFile.h"
#include "model/ModelFolder.h"
#include "text/ChatDataset.h"
#include "text/Tokenizer.h"
#include "train/PretrainRun.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace nugget::cli {

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
        {QStringLiteral("details"), QStringLiteral("Write every item's expected and predicted answer to this JSONL file."),
         QStringLiteral("FILE")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Scores a model on a task file: exact match of the generated answer (case, surrounding "
                               "whitespace and final period ignored), the number after \"So the answer is\", "
                               "multiple-choice log-likelihood, or perplexity."));
    const QString dir = requiredPositional(parser, 0, "MODEL_DIR");
    if (!parser.isSet(QStringLiteral("data")))
        throw Error("missing --data FILE (see --help)");
    const QString data = parser.value(QStringLiteral("data"));
    const auto metric = parseEvalMetric(parser.value(QStringLiteral("metric")).toStdString());
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
        result = evaluateGenerated(loaded.model, *tokenizer, readChatJsonl(data.toStdString()), metric, options, &progress);
    std::fprintf(stderr, "\n");

    if (parser.isSet(QStringLiteral("details"))) {
        QByteArray lines;
        for (const auto &item : result.details) {
            QJsonObject line;
            line[QStringLiteral("id")] = QString::fromStdString(item.id);
            line[QStringLiteral("expected")] = QString::fromStdString(item.expected);
            line[QStringLiteral("predicted")] = QString::fromStdString(item.predicted);
            line[QStringLiteral("correct")] = item.correct;
            lines += QJsonDocument(line).toJson(QJsonDocument::Compact) + '\n';
        }
        writeFileAtomically(parser.value(QStringLiteral("details")).toStdString(), lines);
    }

    if (metric == EvalMetric::Perplexity)
        std::printf("perplexity %.4f over %lld tokens in %lld items\n", result.score,
                    static_cast<long long>(result.tokens), static_cast<long long>(result.items));
    else
        std::printf("%s %.2f%% (%lld of %lld items)\n", evalMetricName(metric).c_str(), 100.0 * result.score,
                    static_cast<long long>(result.correct), static_cast<long long>(result.items));
    return 0;
}

} // namespace nugget::cli
