#pragma once
// From teacher to adapter: for every selected teacher layer and target module, reduce
// the teacher matrix to the student's shape by its sensitivity, and factorise the
// result into LoRA factors (B A = best rank-r approximation).

#include "jobs/Progress.h"
#include "model/LoraAdapters.h"
#include "transfer/DimensionReduction.h"
#include "transfer/Factorization.h"
#include "transfer/LayerSelection.h"

#include <functional>
#include <string>
#include <vector>

namespace nugget {

struct ExtractionOptions
{
    ReductionStructure structure = ReductionStructure::Submatrix;
    TransferOrigin origin = TransferOrigin::All;
    int64_t rank = 16;
    FactorSplit split = FactorSplit::SingularValuesOnB;
    at::ScalarType svdPrecision = at::kFloat;
    SvdMethod svd = SvdMethod::Exact;   // Auto: factorizeRandomized() for 7B-13B matrices
    uint64_t seed = 0;   // for the random structure
};

struct ExtractedMatrix
{
    TargetMatrix student;            // where the factors go
    std::string teacherParameter;    // where they come from
    ReducedIndices indices;          // teacher rows and columns kept
    LowRankFactors factors;          // of the reduced teacher matrix, in its own layout [out, in]
};

struct Extraction
{
    LayerSelection selection;
    ExtractionOptions options;
    std::vector<ExtractedMatrix> matrices;
};

// Read access to a tensor by Hugging Face name: a loaded model, a memory-mapped
// checkpoint or a session all fit.
using TensorLookup = std::function<at::Tensor(const std::string &name)>;

// Throws Error when shapes cannot be matched (different vocabularies, a student
// dimension larger than the teacher's, layer counts that disagree with the selection).
Extraction extractKnowledge(const ModelConfig &teacher, const TensorLookup &teacherWeights,
                            const TensorLookup &teacherScores, const ModelConfig &student,
                            const LayerSelection &selection, const ExtractionOptions &options, Progress &progress,
                            const std::function<void(const ExtractedMatrix &)> &onMatrix = {});

// Student matrix shape for a target, from its config.
std::vector<int64_t> targetShape(const ModelConfig &config, TargetModule module);

} // namespace nugget
