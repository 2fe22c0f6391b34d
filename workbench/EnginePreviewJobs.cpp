// The dimension map: one teacher matrix's scores (downsampled) and what the reduction
// keeps of it. A newer preview supersedes one still queued.

#include "WorkbenchEngine.h"

#include "EngineState.h"

#include "jobs/Progress.h"
#include "transfer/DimensionReduction.h"

namespace nugget {

int WorkbenchEngine::previewReduction(int teacherLayer, const QString &module, const QString &structure, quint64 seed,
                                      int maxImageSide)
{
    return enqueue(
        tr("Dimension map %1 %2").arg(teacherLayer).arg(module),
        [this, teacherLayer, module, structure, seed, maxImageSide](JobContext &job) {
            auto &state = this->state();
            auto &pair = state.requirePair();
            const auto target = parseTargetModule(module.toStdString());
            const auto parameter = targetParameterName(target, std::max(teacherLayer, 0));
            const auto map = state.teacherScore(parameter).to(at::kCPU, at::kFloat);
            const auto shape = targetShape(pair.student.config, target);
            // Embedding matrices are stored [vocab, hidden]; shapes follow the scores.
            const bool fits = map.size(0) >= shape[0] && map.size(1) >= shape[1];
            const int64_t rows = fits ? shape[0] : shape[1];
            const int64_t cols = rows == shape[0] ? shape[1] : shape[0];
            const auto structureKind = parseReductionStructure(structure.toStdString());
            const auto indices = reduceIndices(map, rows, cols, structureKind, seed);
            const auto image = downsampleMap(map, maxImageSide, maxImageSide).contiguous();

            ReductionPreview preview;
            preview.teacherLayer = teacherLayer;
            preview.module = module;
            preview.parameter = QString::fromStdString(parameter);
            preview.structure = structure;
            preview.fullRows = map.size(0);
            preview.fullColumns = map.size(1);
            preview.imageRows = static_cast<int>(image.size(0));
            preview.imageColumns = static_cast<int>(image.size(1));
            preview.image.assign(image.data_ptr<float>(), image.data_ptr<float>() + image.numel());
            preview.targetRows = rows;
            preview.targetColumns = cols;
            if (indices.window) {
                preview.isWindow = true;
                preview.rowStart = indices.window->row;
                preview.rowCount = indices.window->rows;
                preview.columnStart = indices.window->col;
                preview.columnCount = indices.window->cols;
            }
            preview.rows = indices.rows;
            preview.columns = indices.cols;
            const double total = map.sum(at::kDouble).item<double>();
            const auto kept = gatherReduced(map, indices).sum(at::kDouble).item<double>();
            preview.keptShare = total > 0 ? kept / total : 0;
            job.progress.report(1.0, "dimension map");
            Q_EMIT reductionPreviewed(preview);
        },
        QStringLiteral("preview"));
}

} // namespace nugget
