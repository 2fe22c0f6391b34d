// The session API for what was decided and what came out: the layer selection, the kept
// rows and columns of each teacher parameter, and every run's curve and scores.
#include "io/Session.h"

#include "Error.h"
#include "io/Hdf5Errors.h"
#include "io/Hdf5Objects.h"
#include "io/SessionFormat.h"

#include <tuple>

namespace nugget {

using namespace session;

namespace {

void writeIndices(const H5::Group &group, const std::string &name, const std::vector<int64_t> &values)
{
    hdf5::writeArray(group, name, int64Tensor(values), H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64,
                     hdf5::Layout::Contiguous);
}

std::vector<int64_t> readIndices(const std::string &path, const H5::DataSet &dataset, const std::string &where)
{
    return int64Vector(hdf5::readArray(path, dataset, where, at::kLong, H5::PredType::NATIVE_INT64, H5T_INTEGER));
}

H5::DataSet openSelection(const std::string &path, const H5::H5File &file)
{
    const auto group = hdf5::findGroup(file.openGroup("/"), {"selection"});
    if (!group || !hdf5::hasDataset(*group, "layers"))
        throw Error(path + ": the session has no layer selection (/selection/layers)");
    return group->openDataSet("layers");
}

// Each of `names` must be a dataset of `group` (an item `where` of the session).
void requireDatasets(const std::string &path, const H5::Group &group, const std::string &where,
                     std::initializer_list<const char *> names)
{
    for (const char *name : names)
        if (!hdf5::hasDataset(group, name))
            throw Error(path + ": " + where + " is damaged: it has no \"" + name + "\" dataset");
}

// The group `name` under the top-level group `top`, emptied for a new item.
H5::Group replaceItem(const H5::Group &root, const std::string &top, const std::string &name)
{
    const H5::Group parent = hdf5::ensureGroup(root, {top});
    hdf5::removeLink(parent, name);
    return hdf5::ensureGroup(parent, {name});
}

std::vector<std::string> listGroup(const H5::Group &root, const std::string &top)
{
    const auto group = hdf5::findGroup(root, {top});
    return group ? hdf5::linkNames(*group) : std::vector<std::string>();
}

} // namespace

// ---- selection -------------------------------------------------------------------------

void Session::writeSelection(const std::vector<int64_t> &teacherLayerPerStudentLayer,
                             const std::string &strategy)
{
    Impl &impl = writable("write /selection/layers");
    for (int64_t layer : teacherLayerPerStudentLayer)
        if (layer < 0)
            throw Error(impl.path + ": cannot write /selection/layers: negative teacher layer index "
                        + std::to_string(layer));
    hdf5::guarded(impl.path, "write /selection/layers", [&] {
        const H5::Group group = hdf5::ensureGroup(impl.root(), {"selection"});
        writeIndices(group, "layers", teacherLayerPerStudentLayer);
        hdf5::writeStringAttribute(group.openDataSet("layers"), "strategy", strategy);
    });
}

bool Session::hasSelection() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read /selection/layers", [&] {
        const auto group = hdf5::findGroup(impl.root(), {"selection"});
        return group && hdf5::hasDataset(*group, "layers");
    });
}

std::vector<int64_t> Session::readSelection() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read /selection/layers", [&] {
        const H5::DataSet dataset = openSelection(impl.path, *impl.file);
        if (hdf5::shapeOf(dataset).size() != 1)
            throw Error(impl.path + ": /selection/layers is damaged: expected one dimension");
        return readIndices(impl.path, dataset, "/selection/layers");
    });
}

std::string Session::selectionStrategy() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read /selection/layers", [&] {
        return hdf5::readStringAttribute(impl.path, openSelection(impl.path, *impl.file), "/selection/layers",
                                         "strategy");
    });
}

// ---- reduction -------------------------------------------------------------------------

void Session::writeReduction(const std::string &teacherParameter, const std::vector<int64_t> &rows,
                             const std::vector<int64_t> &cols, const std::string &structure)
{
    const std::string where = "/reduction/" + teacherParameter;
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "parameter", teacherParameter);
    hdf5::guarded(impl.path, "write " + where, [&] {
        const H5::Group group = replaceItem(impl.root(), "reduction", teacherParameter);
        writeIndices(group, "rows", rows);
        writeIndices(group, "cols", cols);
        hdf5::writeStringAttribute(group, "structure", structure);
    });
}

std::optional<Session::Reduction> Session::readReduction(const std::string &teacherParameter) const
{
    const std::string where = "/reduction/" + teacherParameter;
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "parameter", teacherParameter);
    return hdf5::guarded(impl.path, "read " + where, [&]() -> std::optional<Reduction> {
        const auto group = hdf5::findGroup(impl.root(), {"reduction", teacherParameter});
        if (!group)
            return std::nullopt;
        requireDatasets(impl.path, *group, where, {"rows", "cols"});
        Reduction reduction;
        reduction.rows = readIndices(impl.path, group->openDataSet("rows"), where + "/rows");
        reduction.cols = readIndices(impl.path, group->openDataSet("cols"), where + "/cols");
        reduction.structure = hdf5::readStringAttribute(impl.path, *group, where, "structure");
        return reduction;
    });
}

std::vector<std::string> Session::reductionParameters() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "list /reduction", [&] { return listGroup(impl.root(), "reduction"); });
}

// ---- runs ------------------------------------------------------------------------------

void Session::writeRun(const std::string &name, const at::Tensor &curve,
                       const std::vector<std::string> &columns, const QJsonObject &evaluation)
{
    const std::string where = "/runs/" + name;
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "run", name);
    hdf5::guarded(impl.path, "write " + where, [&] {
        const at::Tensor data =
            tableData(impl.path, where, curve, columns, "a [steps, " + std::to_string(columns.size()) + " columns] curve");
        const H5::Group group = replaceItem(impl.root(), "runs", name);
        writeTable(group, "loss", data, columns, "columns");
        hdf5::writeStringDataset(group, "eval", jsonText(evaluation));
    });
}

std::vector<std::string> Session::runNames() const
{
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "list /runs", [&] { return listGroup(impl.root(), "runs"); });
}

std::optional<Session::Run> Session::readRun(const std::string &name) const
{
    const std::string where = "/runs/" + name;
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "run", name);
    std::string evalText;
    std::optional<Run> run = hdf5::guarded(impl.path, "read " + where, [&]() -> std::optional<Run> {
        const auto group = hdf5::findGroup(impl.root(), {"runs", name});
        if (!group)
            return std::nullopt;
        requireDatasets(impl.path, *group, where, {"loss", "eval"});
        Run result;
        std::tie(result.curve, result.columns) =
            readTable(impl.path, group->openDataSet("loss"), where + "/loss", "columns", "column");
        evalText = hdf5::readStringDataset(impl.path, group->openDataSet("eval"), where + "/eval");
        return result;
    });
    if (run)
        run->evaluation = parseJsonObject(impl.path, where + "/eval", evalText);
    return run;
}

void Session::writeRunItems(const std::string &name, const std::vector<std::string> &records, const at::Tensor &scores,
                            const std::vector<std::string> &columns)
{
    const std::string where = "/runs/" + name + "/items";
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "run", name);
    if (scores.dim() != 2 || scores.size(0) != static_cast<int64_t>(records.size()))
        throw Error(impl.path + ": write " + where + ": the score table needs one row per record");
    hdf5::guarded(impl.path, "write " + where, [&] {
        const auto group = hdf5::findGroup(impl.root(), {"runs", name});
        if (!group)
            throw Error(impl.path + ": write " + where + ": the run has not been written");
        const at::Tensor data = tableData(impl.path, where, scores, columns,
                                          "an [items, " + std::to_string(columns.size()) + " columns] table");
        hdf5::writeStringArrayDataset(*group, "items", records);
        writeTable(*group, "item_scores", data, columns, "columns");
    });
}

std::vector<std::string> Session::readRunItems(const std::string &name) const
{
    const std::string where = "/runs/" + name + "/items";
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "run", name);
    return hdf5::guarded(impl.path, "read " + where, [&]() -> std::vector<std::string> {
        const auto group = hdf5::findGroup(impl.root(), {"runs", name});
        if (!group || !hdf5::hasDataset(*group, "items"))
            return {};
        return hdf5::readStringArrayDataset(impl.path, group->openDataSet("items"), where);
    });
}

} // namespace nugget
