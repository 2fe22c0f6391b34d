#include "transfer/Extraction.h"

#include "Error.h"

namespace nugget {

std::vector<int64_t> targetShape(const ModelConfig &c, TargetModule module)
{
    const int64_t attention = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim;
    switch (module) {
    case TargetModule::Q: return {attention, c.hiddenSize};
    case TargetModule::K:
    case TargetModule::V: return {kv, c.hiddenSize};
    case TargetModule::O: return {c.hiddenSize, attention};
    case TargetModule::Gate:
    case TargetModule::Up: return {c.intermediateSize, c.hiddenSize};
    case TargetModule::Down: return {c.hiddenSize, c.intermediateSize};
    case TargetModule::Embed:
    case TargetModule::Head: return {c.vocabSize, c.hiddenSize};
    }
    return {};
}

Extraction extractKnowledge(const ModelConfig &teacher, const TensorLookup &teacherWeights,
                            const TensorLookup &teacherScores, const ModelConfig &student,
                            const LayerSelection &selection, const ExtractionOptions &options, Progress &progress,
                            const std::function<void(const ExtractedMatrix &)> &onMatrix)
{
    if (teacher.vocabSize != student.vocabSize)
        throw Error("teacher and student vocabularies differ (" + std::to_string(teacher.vocabSize) + " vs " +
                    std::to_string(student.vocabSize) + " tokens): they must share a tokenizer");
    if (static_cast<int64_t>(selection.teacherLayers.size()) != student.numHiddenLayers)
        throw Error("the layer selection maps " + std::to_string(selection.teacherLayers.size()) +
                    " teacher layers but the student has " + std::to_string(student.numHiddenLayers));
    for (const auto layer : selection.teacherLayers)
        if (layer < 0 || layer >= teacher.numHiddenLayers)
            throw Error("the layer selection names teacher layer " + std::to_string(layer) + " of " +
                        std::to_string(teacher.numHiddenLayers));

    Extraction extraction;
    extraction.selection = selection;
    extraction.options = options;
    const auto targets = targetMatrices(student, modulesOf(options.origin));
    for (size_t i = 0; i < targets.size(); ++i) {
        progress.checkCancelled();
        const auto &target = targets[i];
        ExtractedMatrix matrix;
        matrix.student = target;
        const bool tiedTeacherHead = target.module == TargetModule::Head && teacher.tieWordEmbeddings;
        const int64_t teacherLayer =
            target.layer >= 0 ? selection.teacherLayers[static_cast<size_t>(target.layer)] : -1;
        matrix.teacherParameter = targetParameterName(tiedTeacherHead ? TargetModule::Embed : target.module, teacherLayer);

        const auto shape = targetShape(student, target.module);
        const auto weight = teacherWeights(matrix.teacherParameter);
        const auto scores = teacherScores(matrix.teacherParameter);
        if (weight.sizes() != scores.sizes())
            throw Error("'" + matrix.teacherParameter + "': scores and weights differ in shape");
        if (weight.size(0) < shape[0] || weight.size(1) < shape[1])
            throw Error("'" + matrix.teacherParameter + "' is " + std::to_string(weight.size(0)) + "x" +
                        std::to_string(weight.size(1)) + ", smaller than the student's " + std::to_string(shape[0]) +
                        "x" + std::to_string(shape[1]) + ": the teacher must be at least as large as the student");
        matrix.indices = reduceIndices(scores, shape[0], shape[1], options.structure, options.seed + i);
        const auto reduced = gatherReduced(weight, matrix.indices).to(at::kFloat);
        // Mapped weights are not checked at load, as loaded ones are: a damaged value
        // must not pass silently into the SVD.
        if (!reduced.isfinite().all().item<bool>())
            throw Error("'" + matrix.teacherParameter + "' holds non-finite values (NaN or infinity) in the rows and "
                        "columns kept; the teacher's weights are damaged");
        const int64_t rank = std::min({options.rank, shape[0], shape[1]});
        matrix.factors = usesRandomizedSvd(options.svd, reduced.size(0), reduced.size(1))
                             ? factorizeRandomized(reduced, rank, options.split, options.svdPrecision, 16, 4, options.seed + i)
                             : factorize(reduced, rank, options.split, options.svdPrecision);
        progress.report(static_cast<double>(i + 1) / static_cast<double>(targets.size()), matrix.student.parameterName);
        if (onMatrix)
            onMatrix(matrix);
        extraction.matrices.push_back(std::move(matrix));
    }
    return extraction;
}

} // namespace nugget
