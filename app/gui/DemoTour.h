#pragma once
// `nugget --demo-tour DIR`: the whole flow on the built-in demo pair, scripted (load,
// sensitivity, alignment, selection, injection, a short training, evaluation, the
// controls), with a screenshot of the window at each stage and the user guide that
// shows them (DIR/README.md), regenerated from this run.

#include <QString>

namespace nugget {

class MainWindow;

// Runs the tour in `window` (already showing the demo pair's folders); returns 0 when
// every stage succeeded, 1 otherwise (the failure is printed).
int runDemoTour(MainWindow &window, const QString &outputDir);

} // namespace nugget
