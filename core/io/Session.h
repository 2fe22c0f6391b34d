#pragma once
// The HDF5 session file of one transfer: what went in (the recipe and the hashes of
// its input files), what was measured (sensitivities), what was decided (the layer
// selection, the kept rows and columns) and what came out (every run's curve and
// scores). Plain HDF5 types only, so h5py and HDFView read it as is.
//
// The layout, the integrity checks and the atomicity rules: docs/session-format.md.
// In short: a session being written lives in "<path>.tmp-<random>" beside the target and
// commit() renames it over the target in one step; destroying an uncommitted Session
// removes it, so an abandoned or cancelled job leaves the target as it was. Every failure
// throws nugget::Error naming the target path, the operation and HDF5's most specific
// reason. Reading an absent single item throws; keyed look-ups (readReduction, readRun)
// return an empty optional. One Session may be used from one thread at a time.

#include "Side.h"

#include <ATen/ATen.h>

#include <QJsonObject>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nugget {

class Session
{
public:
    static constexpr const char *kFormat = "nugget-session";
    static constexpr int64_t kVersion = 2;

    // A new, empty session for `path`. Nothing appears at `path` until commit(), which
    // replaces any file already there. Throws Error when the folder is not writable.
    static Session create(const std::string &path);
    // A writable copy of an existing session; commit() replaces the original
    // atomically, abandoning the copy leaves the original untouched.
    static Session openForUpdate(const std::string &path);
    // Checks that `path` is an HDF5 file with our format and a version this build reads.
    static Session openReadOnly(const std::string &path);

    Session(Session &&other) noexcept;
    Session &operator=(Session &&other) noexcept;
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    ~Session();   // removes the temporary file of an uncommitted session

    // Publishes a created or updated session at path(). Afterwards the object is
    // closed: every other call throws Error (open the file again to read it).
    // If the file holds much space freed by replaced items, it is compacted first.
    void commit();

    const std::string &path() const;
    bool isWritable() const;

    // Recipe and the sha256 (hex) of each input file it refers to.
    void setRecipe(const QJsonObject &recipe, const std::map<std::string, std::string> &inputSha256);
    bool hasRecipe() const;
    QJsonObject recipe() const;
    std::map<std::string, std::string> inputSha256() const;

    // Scores live under the side's name. Any floating dtype and device in, float32 on disk
    // (half the size with Float16: relative precision 2^-11 of each value, which keeps
    // window sums and rankings; a 13B teacher takes 26 GB instead of 52 GB).
    enum class ScoreStorage { Float32, Float16 };
    void writeSensitivity(Side side, const std::string &parameter,
                          const at::Tensor &scores, ScoreStorage storage = ScoreStorage::Float32);
    at::Tensor readSensitivity(Side side, const std::string &parameter) const; // float32, CPU
    std::vector<std::string> sensitivityParameters(Side side) const;
    // The stored shape, without reading the scores.
    std::vector<int64_t> sensitivityShape(Side side, const std::string &parameter) const;
    bool hasSensitivity(Side side) const;   // at least one parameter written

    struct SensitivityInfo
    {
        std::string metric;   // taylor | fisher | magnitude
        int64_t samples = 0;  // seed samples summed over
        std::string computeDtype;   // float32 | bfloat16; empty when the session does not record it
    };
    // An empty `computeDtype` records none (and removes an older record).
    void setSensitivityInfo(Side side, const std::string &metric, int64_t samples,
                            const std::string &computeDtype = {});
    SensitivityInfo sensitivityInfo(Side side) const;   // throws when not set

    // totals: [layers, modules], any floating dtype; float64 on disk.
    void writeLayerTotals(Side side, const at::Tensor &totals,
                          const std::vector<std::string> &modules);
    bool hasLayerTotals(Side side) const;
    std::pair<at::Tensor, std::vector<std::string>> readLayerTotals(Side side) const; // float64, CPU

    // Element i: the teacher layer that student layer i takes (non-negative).
    void writeSelection(const std::vector<int64_t> &teacherLayerPerStudentLayer,
                        const std::string &strategy);
    bool hasSelection() const;
    std::vector<int64_t> readSelection() const;
    std::string selectionStrategy() const;

    struct Reduction
    {
        std::vector<int64_t> rows, cols;   // teacher indices kept
        std::string structure;             // e.g. submatrix, rowcol, neuron, random
    };
    void writeReduction(const std::string &teacherParameter, const std::vector<int64_t> &rows,
                        const std::vector<int64_t> &cols, const std::string &structure);
    std::optional<Reduction> readReduction(const std::string &teacherParameter) const;
    std::vector<std::string> reductionParameters() const;

    struct Run
    {
        at::Tensor curve;                  // float64 [steps, k], CPU
        std::vector<std::string> columns;  // k names
        QJsonObject evaluation;
    };
    // curve: [steps, k] (steps may be 0), any floating dtype; columns.size() == k.
    void writeRun(const std::string &name, const at::Tensor &curve,
                  const std::vector<std::string> &columns, const QJsonObject &evaluation);
    std::vector<std::string> runNames() const;
    std::optional<Run> readRun(const std::string &name) const;
    // The evaluation items of a written run: /runs/<name>/items, one JSON object per item
    // (eval/ItemRecords.h), and /runs/<name>/item_scores, their numbers as a float64
    // [items, columns] table. Throws Error when the run has not been written.
    void writeRunItems(const std::string &name, const std::vector<std::string> &records, const at::Tensor &scores,
                       const std::vector<std::string> &columns);
    // The records in order; empty when the run has none (older sessions, perplexity).
    std::vector<std::string> readRunItems(const std::string &name) const;

private:
    struct Impl;
    explicit Session(std::unique_ptr<Impl> impl);
    Impl &usable() const;                           // throws when moved from or committed
    Impl &writable(const std::string &what) const;  // also throws when read-only
    std::unique_ptr<Impl> d;
};

} // namespace nugget
