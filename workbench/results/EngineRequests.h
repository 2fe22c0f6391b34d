#pragma once
// What the panels ask of the engine, as plain values: no core type, no torch, so the
// views that fill these need no libtorch headers. The window translates them to the
// core's recipe (workbench/RecipeSettingsConversion.h).

#include <QString>
#include <QtGlobal>

#include <cstdint>

namespace nugget {

struct SensitivityRequest
{
    QString metric = QStringLiteral("taylor");   // taylor | fisher | magnitude
    int maxLength = 256;                         // tokens per seed sample
    bool includeStudent = false;                 // also score the student
    bool similarity = true;                      // then the teacher x student layer CKA
    // Score layer by layer from the mapped weights (core/transfer/StreamedSensitivity);
    // automatic for a model whose float32 size exceeds half of this machine's memory.
    bool streamed = false;
    // Of the streamed path: float32, bfloat16 or auto (bfloat16 where the device runs it
    // at least twice as fast); empty: auto for a model too large for memory, else float32.
    QString computeDtype;
};

// The recipe values the task, picker and run panels show and edit (the core's
// TransferRecipe keys of the same names). Filled from a recipe, edited by the panels,
// written back to it: keys no panel shows keep their recipe value.
struct RecipeSettings
{
    // Task panel.
    QString seeds, train, eval;
    QString evalMetric;
    int64_t maxLength = 0;
    // Layer picker.
    QString sensitivityMetric, layers, structure, origin, split;
    int64_t rank = 0;
    double alpha = 0, dropout = 0;
    quint64 seed = 0;
    // Run panel.
    QString init;
    int64_t epochs = 0, batchSize = 0, microBatchSize = 0;
    double learningRate = 0;
    int64_t evalLimit = 0, maxNewTokens = 0;
};

} // namespace nugget
