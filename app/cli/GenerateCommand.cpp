#include "CommandLine.h"
#include "Commands.h"

#include "model/Generation.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"

#include <QDir>
#include <QFileInfo>

#include <cctype>
#include <cstdio>

namespace nugget::cli {

namespace {

// Prints one token's text as llama2.c's run does: single bytes that are neither
// printable nor whitespace are dropped so raw byte pieces cannot garble the terminal.
void printPiece(const std::string &piece)
{
    if (piece.empty())
        return;
    if (piece.size() == 1) {
        const auto byte = static_cast<unsigned char>(piece[0]);
        if (!(std::isprint(byte) || std::isspace(byte)))
            return;
    }
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
}

} // namespace

int runGenerate(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("MODEL_DIR"), QStringLiteral("Hugging Face model folder"));
    parser.addOptions({
        {QStringLiteral("prompt"), QStringLiteral("Text to continue (default: none, start from BOS)."), QStringLiteral("TEXT")},
        {QStringLiteral("max-new-tokens"), QStringLiteral("Tokens to generate at most (default 256)."), QStringLiteral("N"), QStringLiteral("256")},
        {QStringLiteral("temperature"), QStringLiteral("Sampling temperature; 0 is greedy (default 1)."), QStringLiteral("T"), QStringLiteral("1.0")},
        {QStringLiteral("top-p"), QStringLiteral("Nucleus sampling mass (default 0.9)."), QStringLiteral("P"), QStringLiteral("0.9")},
        {QStringLiteral("seed"), QStringLiteral("Sampling seed (default 0)."), QStringLiteral("S"), QStringLiteral("0")},
        {QStringLiteral("device"), QStringLiteral("auto, cpu, cuda or cuda:N (default auto)."), QStringLiteral("DEVICE"), QStringLiteral("auto")},
        {QStringLiteral("tokenizer"), QStringLiteral("tokenizer.model to use (default: the model folder's)."), QStringLiteral("FILE")},
        {QStringLiteral("prompt-ids"), QStringLiteral("The prompt as token ids, BOS included if wanted (\"1 306 4966\"), "
                                                      "instead of --prompt; with --ids no tokenizer is needed."),
         QStringLiteral("IDS")},
        {QStringLiteral("ids"), QStringLiteral("Print token ids (BOS, prompt, generated) on one line instead of text.")},
        {QStringLiteral("continue-after-bos"), QStringLiteral("Keep generating when the model emits BOS (by default a BOS, "
                                                              "which starts a new document, ends generation as in llama2.c).")},
    });
    parseOrExit(parser, arguments,
                QStringLiteral("Continues a prompt with a model. Prints the prompt followed by the continuation, "
                               "streamed token by token."));
    const QString dir = requiredPositional(parser, 0, "MODEL_DIR");

    SamplingOptions sampling;
    sampling.maxNewTokens = integerOption(parser, QStringLiteral("max-new-tokens"));
    sampling.temperature = numberOption(parser, QStringLiteral("temperature"));
    sampling.topP = numberOption(parser, QStringLiteral("top-p"));
    sampling.seed = static_cast<uint64_t>(integerOption(parser, QStringLiteral("seed")));
    if (sampling.maxNewTokens < 0)
        throw Error("--max-new-tokens must be >= 0");

    const bool printIds = parser.isSet(QStringLiteral("ids"));
    const bool givenIds = parser.isSet(QStringLiteral("prompt-ids"));
    if (givenIds && parser.isSet(QStringLiteral("prompt")))
        throw Error("--prompt and --prompt-ids exclude each other");
    LoadOptions load;
    load.device = parseDevice(parser.value(QStringLiteral("device")).toStdString());
    auto loaded = loadModelFolder(dir.toStdString(), load);
    // Ids in and out need no tokenizer: a model whose tokenizer Nugget cannot read still runs.
    std::shared_ptr<Tokenizer> tokenizer;
    if (!(givenIds && printIds)) {
        std::string tokenizerPath = parser.value(QStringLiteral("tokenizer")).toStdString();
        if (tokenizerPath.empty())
            tokenizerPath = loaded.tokenizerPath;
        if (tokenizerPath.empty())
            throw Error(dir.toStdString() + ": no tokenizer.model in the folder (use --tokenizer FILE)");
        tokenizer = Tokenizer::load(tokenizerPath);
        if (tokenizer->vocabSize() != loaded.config.vocabSize)
            throw Error(tokenizerPath + ": tokenizer has " + std::to_string(tokenizer->vocabSize()) +
                        " pieces but the model's vocabulary is " + std::to_string(loaded.config.vocabSize));
    }

    const int64_t bos = loaded.config.bosTokenId;
    std::vector<int64_t> prompt{bos};
    if (givenIds) {
        prompt = parseTokenIds(parser.value(QStringLiteral("prompt-ids")), loaded.config.vocabSize, "--prompt-ids");
    } else if (const QString promptText = parser.value(QStringLiteral("prompt")); !promptText.isEmpty()) {
        const auto ids = tokenizer->encode(promptText.toStdString(), false);
        prompt.insert(prompt.end(), ids.begin(), ids.end());
    }
    // Every end-of-sequence id of config.json ends generation (Llama 3 lists several).
    sampling.stopIds = loaded.config.eosTokenIds();
    if (!parser.isSet(QStringLiteral("continue-after-bos")))
        sampling.stopIds.push_back(bos);

    int64_t previous = prompt.front();
    if (!printIds) {
        if (givenIds && prompt.front() != bos)
            printPiece(tokenizer->streamPiece(bos, prompt.front()));
        for (size_t i = 1; i < prompt.size(); ++i) {
            printPiece(tokenizer->streamPiece(previous, prompt[i]));
            previous = prompt[i];
        }
    }
    auto generated = generate(loaded.model, prompt, sampling, nullptr, [&](int64_t id) {
        if (printIds || id == bos)
            return;
        printPiece(tokenizer->streamPiece(previous, id));
        previous = id;
    });
    // A BOS that ended generation belongs to the next document, not to this one.
    if (!generated.empty() && generated.back() == bos && !parser.isSet(QStringLiteral("continue-after-bos")))
        generated.pop_back();

    if (printIds) {
        std::string line;
        for (const auto id : prompt)
            line += std::to_string(id) + ' ';
        for (const auto id : generated)
            line += std::to_string(id) + ' ';
        line.pop_back();
        std::printf("%s\n", line.c_str());
    } else {
        std::printf("\n");
    }
    return 0;
}

} // namespace nugget::cli
