#pragma once
// Initialising the student's LoRA adapters.
//  transfer:  from an Extraction, with the delta trick: W <- W - s B A and the adapter
//             set to (A, B), so the model is unchanged at step 0 and training starts
//             in the teacher-derived subspace (the method).
//  plain:     standard LoRA (A Kaiming-uniform, B = 0; embeddings A = 0, B normal):
//             the baseline.
//  own-svd:   the student's own top-r SVD of each matrix with the same delta trick: a
//             control that separates "SVD-shaped initialisation" from "teacher knowledge".

#include "model/LoraAdapters.h"
#include "transfer/Extraction.h"

#include <map>
#include <set>
#include <string>

namespace nugget {

// AdapterInit, parseAdapterInit and adapterInitName: transfer/RecipeChoices.h

// The adapters as first attached (A0, B0 in the adapter's own layout), by base
// parameter name. With the delta trick the base weight received -s B0 A0, which is
// exactly the adapter (A0, -B0): exported beside the trained adapter, base + delta +
// trained reproduces the fine-tuned student.
using InitialAdapters = std::map<std::string, LowRankFactors>;

InitialAdapters injectTransfer(LlamaForCausalLM &student, const Extraction &extraction, const LoraSettings &lora);
void injectPlainLora(LlamaForCausalLM &student, const std::set<TargetModule> &modules, const LoraSettings &lora,
                     uint64_t seed);
InitialAdapters injectOwnSvd(LlamaForCausalLM &student, const std::set<TargetModule> &modules,
                            const LoraSettings &lora, FactorSplit split = FactorSplit::SingularValuesOnB);

} // namespace nugget
