// nugget-cli extract: the teacher's layers selected, reduced and factorised into the
// student's LoRA initialisation (a PEFT adapter with its delta).

#include "Commands.h"
#include "TransferOptions.h"

#include "io/Session.h"
#include "transfer/Pipeline.h"

#include <cstdio>

namespace nugget::cli {

int runExtract(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.addOptions({
        option("teacher", "Teacher model folder.", "DIR"),
        option("student", "Student model folder.", "DIR"),
        option("session", "Session file (teacher sensitivity read from it, or computed and stored).", "SESSION.h5"),
        option("seeds", "Seed samples, needed when the session has no teacher sensitivity yet.", "FILE"),
        option("out", "Adapter folder to write (PEFT format; see --adapter-form).", "ADAPTER_DIR"),
        adapterFormOption(),
        computeDtypeOption(),
        studentDtypeOption(),
    });
    addRecipeOptions(parser, AdapterShape | Extraction);
    parseOrExit(parser, arguments,
                QStringLiteral("Selects teacher layers, reduces each teacher matrix to the student's shape by its "
                               "sensitivity, factorises it (truncated SVD) and writes the LoRA initialisation of the "
                               "student as a PEFT adapter that leaves the student unchanged at step 0 (see "
                               "--adapter-form). Records the selection and the kept rows and columns in the session."));
    auto recipe = recipeFromOptions(parser, AdapterShape | Extraction);
    recipe.teacher = required(parser, "teacher");
    recipe.student = required(parser, "student");
    const auto out = required(parser, "out");
    const auto sessionPath = required(parser, "session");
    const auto form = adapterFormOf(parser);
    const auto load = studentLoadOptions(parser, recipe.student);
    // The teacher stays on disk: its matrices are read memory-mapped, one at a time.
    auto pair = loadModelPair(recipe.teacher, recipe.student, load, TeacherWeights::Mapped);
    auto session = openOrCreateSession(sessionPath);
    auto progress = consoleProgress();
    SensitivityChoices choices;
    choices.computeDtype = parser.value(QStringLiteral("compute-dtype")).toStdString();
    ensureTeacherScores(session, pair, parser.value(QStringLiteral("seeds")).toStdString(), recipe, load.device,
                        choices, progress, logLine);
    const auto teacher = teacherFromSession(pair.teacher.folder, session, pair.teacher.config.numHiddenLayers);

    RunReport run;
    run.extraction = extractForRecipe(recipe, pair.teacher.config, pair.student.config, teacher, progress);
    writeExtractionRecord(session, *run.extraction, recipe.structure);
    run.init = "transfer";
    run.initialAdapters = injectTransfer(pair.student.model, *run.extraction, recipe.lora);
    exportRunAdapters(pair.student.model, run, out, recipe.student, form);
    if (!session.hasRecipe())
        session.setRecipe(recipe.toJson(), hashInputs(recipe.inputFiles()));
    session.commit();

    const auto &selection = run.extraction->selection;
    std::printf("teacher layers");
    for (size_t i = 0; i < selection.teacherLayers.size(); ++i)
        std::printf(" %lld->%zu", static_cast<long long>(selection.teacherLayers[i]), i);
    std::printf(" (%s); %zu matrices, rank %lld -> %s\n", layerStrategyName(selection.strategy).c_str(),
                run.extraction->matrices.size(), static_cast<long long>(recipe.lora.rank), out.c_str());
    return 0;
}

} // namespace nugget::cli
