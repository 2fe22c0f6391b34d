#pragma once
// Small helpers shared by the subcommands' argument parsing.

#include "Error.h"
#include "jobs/Progress.h"

#include <QCommandLineParser>
#include <QString>

#include <cstdio>

namespace nugget::cli {

// Parses or exits: --help prints and exits 0, unknown options exit 1 with a message.
inline void parseOrExit(QCommandLineParser &parser, const QStringList &arguments, const QString &description)
{
    parser.setApplicationDescription(description);
    parser.addHelpOption();
    parser.process(arguments);
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

} // namespace nugget::cli
