// nugget-cli: the headless face of the workbench.

#include "Commands.h"

#include "Error.h"
#include "Runtime.h"

#include <QCoreApplication>

#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

namespace {

struct Command
{
    const char *summary;
    std::function<int(const QStringList &)> run;
};

const std::map<QString, Command> &commands()
{
    static const std::map<QString, Command> table = {
        {QStringLiteral("info"), {"architecture, shapes, parameter count, dtypes and file sizes of a model folder", nugget::cli::runInfo}},
        {QStringLiteral("generate"), {"generate text from a model folder (greedy or sampled)", nugget::cli::runGenerate}},
        {QStringLiteral("logits"), {"write a model's logits for given token ids into a safetensors file", nugget::cli::runLogits}},
        {QStringLiteral("eval"), {"score a model on a task file (exact match, answer number, choice, perplexity)", nugget::cli::runEval}},
        {QStringLiteral("pretrain"), {"train a LLaMA-architecture model from scratch on text and chat files", nugget::cli::runPretrain}},
        {QStringLiteral("zoo"), {"regenerate the built-in demo world and teacher/student pair from a recipe", nugget::cli::runZoo}},
        {QStringLiteral("sensitivity"), {"score every parameter by its sensitivity on seed samples into a session", nugget::cli::runSensitivity}},
        {QStringLiteral("extract"), {"select layers, reduce and factorise teacher matrices into a student adapter", nugget::cli::runExtract}},
        {QStringLiteral("train"), {"fine-tune LoRA adapters on a student", nugget::cli::runTrain}},
        {QStringLiteral("transfer"), {"the whole pipeline: sensitivity, extraction, injection, training, evaluation, export", nugget::cli::runTransfer}},
        {QStringLiteral("experiment"), {"conditions x seeds with controls: a table of mean and spread", nugget::cli::runExperiment}},
        {QStringLiteral("bench"), {"measure speed against this machine's limits", nugget::cli::runBench}},
    };
    return table;
}

void printUsage(FILE *out)
{
    std::fprintf(out, "Usage: nugget-cli COMMAND [options]   (nugget-cli COMMAND --help for details)\n\nCommands:\n");
    for (const auto &[name, command] : commands())
        std::fprintf(out, "  %-10s %s\n", qPrintable(name), command.summary);
}

} // namespace

int main(int argc, char **argv)
{
    nugget::restartWithPassiveOpenMpWait(argv);
    // GUI-free: the programs that draw (nugget-charts, nugget-bench-ui) are separate.
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("nugget-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(NUGGET_VERSION));

    QStringList arguments = QCoreApplication::arguments();
    if (arguments.size() < 2) {
        printUsage(stderr);
        return 2;
    }
    const QString name = arguments.at(1);
    if (name == QLatin1String("--help") || name == QLatin1String("-h") || name == QLatin1String("help")) {
        printUsage(stdout);
        return 0;
    }
    if (name == QLatin1String("--version")) {
        std::printf("nugget-cli %s\n", NUGGET_VERSION);
        return 0;
    }
    const auto found = commands().find(name);
    if (found == commands().end()) {
        std::fprintf(stderr, "nugget-cli: unknown command '%s'\n", qPrintable(name));
        printUsage(stderr);
        return 2;
    }
    // The subcommand sees "nugget-cli NAME" as its program name.
    arguments.removeAt(1);
    arguments[0] = QStringLiteral("nugget-cli ") + name;

    try {
        nugget::initialiseRuntime();
        return found->second.run(arguments);
    } catch (const nugget::Cancelled &) {
        std::fprintf(stderr, "nugget-cli %s: cancelled\n", qPrintable(name));
        return 130;
    } catch (const nugget::Error &e) {
        std::fprintf(stderr, "nugget-cli %s: error: %s\n", qPrintable(name), e.what());
    } catch (const c10::Error &e) {
        std::fprintf(stderr, "nugget-cli %s: error: %s\n", qPrintable(name), e.what_without_backtrace());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "nugget-cli %s: error: %s\n", qPrintable(name), e.what());
    }
    return 1;
}
