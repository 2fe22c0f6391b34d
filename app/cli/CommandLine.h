#pragma once
// Small helpers shared by the subcommands' argument parsing.

#include "Error.h"
#include "jobs/Progress.h"

#include <QCommandLineParser>
#include <QRegularExpression>
#include <QString>

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace nugget::cli {

// Parses or exits: --help prints and exits 0, unknown options exit 1 with a message.
// arguments[0] is the command as the user calls it ("nugget-cli sensitivity"): the help's
// usage line names it, where Qt's would name the executable's path alone.
inline void parseOrExit(QCommandLineParser &parser, const QStringList &arguments, const QString &description)
{
    parser.setApplicationDescription(description);
    const auto help = parser.addHelpOption();
    const QString command = arguments.isEmpty() ? QStringLiteral("nugget-cli") : arguments.constFirst();
    if (!parser.parse(arguments)) {
        std::fprintf(stderr, "%s: error: %s\n", qPrintable(command), qPrintable(parser.errorText()));
        std::exit(1);
    }
    if (parser.isSet(help)) {
        QString text = parser.helpText();
        const auto lineEnd = text.indexOf(u'\n');
        const QString usage = text.left(lineEnd);
        // "Usage: PROGRAM [options] ARGS": PROGRAM replaced, whatever path Qt took it from.
        const auto options = usage.indexOf(QStringLiteral(" [options]"));
        if (usage.startsWith(QStringLiteral("Usage: ")) && options > 0)
            text = QStringLiteral("Usage: ") + command + text.mid(options);
        std::fputs(qPrintable(text), stdout);
        std::exit(0);
    }
}

// Progress of a long step on one stderr line, rewritten in place; a new line at the end.
inline Progress consoleProgress()
{
    return Progress([](double fraction, const std::string &message) {
        std::fprintf(stderr, "\r%5.1f%% %-60s", 100.0 * fraction, message.c_str());
        if (fraction >= 1.0)
            std::fprintf(stderr, "\n");
    });
}

inline QString requiredPositional(const QCommandLineParser &parser, int index, const char *what)
{
    const auto positional = parser.positionalArguments();
    if (positional.size() <= index)
        throw Error(std::string("missing argument ") + what + " (see --help)");
    return positional.at(index);
}

inline long long integerOption(const QCommandLineParser &parser, const QString &name)
{
    bool ok = false;
    const long long value = parser.value(name).toLongLong(&ok);
    if (!ok)
        throw Error("--" + name.toStdString() + " expects an integer, got '" + parser.value(name).toStdString() + "'");
    return value;
}

inline double numberOption(const QCommandLineParser &parser, const QString &name)
{
    bool ok = false;
    const double value = parser.value(name).toDouble(&ok);
    if (!ok)
        throw Error("--" + name.toStdString() + " expects a number, got '" + parser.value(name).toStdString() + "'");
    return value;
}

// Token ids separated by spaces or commas ("1 306 4966"), each in [0, vocabSize).
inline std::vector<int64_t> parseTokenIds(const QString &text, int64_t vocabSize, const char *option)
{
    std::vector<int64_t> ids;
    for (const QString &word : text.split(QRegularExpression(QStringLiteral("[\\s,]+")), Qt::SkipEmptyParts)) {
        bool ok = false;
        const long long id = word.toLongLong(&ok);
        if (!ok)
            throw Error(std::string(option) + " expects token ids, got '" + word.toStdString() + "'");
        if (id < 0 || id >= vocabSize)
            throw Error(std::string(option) + ": token id " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(vocabSize));
        ids.push_back(id);
    }
    if (ids.empty())
        throw Error(std::string(option) + " needs at least one token id");
    return ids;
}

} // namespace nugget::cli
