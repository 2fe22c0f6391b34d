#pragma once
// What the benchmarks at LLaMA-2 shapes share: the shapes, a checkpoint of random bf16
// weights written onto the local disk, and the process's peak resident memory.

#include "io/ModelConfig.h"
#include "jobs/Progress.h"

#include <string>

namespace nugget::cli {

double now();   // seconds on a steady clock

// Peak resident set size (VmHWM) in GiB, and its reset (Linux: clear_refs 5).
double peakResidentGiB();
void resetPeakResident();

// A LLaMA-2 shape (vocabulary 32000, context 4096, multi-head attention) with `layers`
// decoder layers.
ModelConfig llamaShape(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads);

// Random bf16 weights (normal, std 0.02; norms 1) in DIR as Hugging Face writes a large
// model: one shard per decoder layer plus one for the rest, and the index.
void writeRandomCheckpoint(const ModelConfig &config, const std::string &dir, Progress &progress);

// nugget-cli bench checkpoint: such a folder (7B or 13B shape, optionally with a
// tokenizer), for runs of the real commands at scale.
int benchCheckpoint(const QStringList &arguments);

// A folder the benchmark creates and deletes when it ends (kept with `keep`); refuses
// one that exists, so that nothing of the user's is deleted.
class ScratchFolder
{
public:
    ScratchFolder(const std::string &dir, bool keep);
    ~ScratchFolder();
    ScratchFolder(const ScratchFolder &) = delete;
    ScratchFolder &operator=(const ScratchFolder &) = delete;

private:
    std::string m_dir;
    bool m_keep;
};

} // namespace nugget::cli
