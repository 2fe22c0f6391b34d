#pragma once
// nugget-cli subcommands. Each parses its own arguments (with --help), prints results
// on stdout and progress on stderr, and returns the process exit code. Errors are
// thrown as nugget::Error and turned into a one-line message by main().

#include <QStringList>

namespace nugget {
struct TrainingStep;
}

namespace nugget::cli {

int runInfo(const QStringList &arguments);
int runGenerate(const QStringList &arguments);
int runLogits(const QStringList &arguments);
int runEval(const QStringList &arguments);
int runPretrain(const QStringList &arguments);
int runZoo(const QStringList &arguments);
int runSensitivity(const QStringList &arguments);
int runExtract(const QStringList &arguments);
int runTrain(const QStringList &arguments);
int runTransfer(const QStringList &arguments);
int runExperiment(const QStringList &arguments);
int runBench(const QStringList &arguments);
int benchWindow(const QStringList &arguments);   // nugget-cli bench window
int benchScale(const QStringList &arguments);    // nugget-cli bench scale
int benchJobs(const QStringList &arguments);     // nugget-cli bench jobs
int benchSessionWrites(const QStringList &arguments);   // nugget-cli bench session-writes
int benchTrainScale(const QStringList &arguments);      // nugget-cli bench train-scale
int benchScores(const QStringList &arguments);          // nugget-cli bench scores
int benchCandidates(const QStringList &arguments);      // nugget-cli bench candidates

// Prints a throttled progress line for a training step on stderr.
void printTrainingStep(const TrainingStep &step);

} // namespace nugget::cli
