// The session API for scores: per-parameter sensitivities, how they were measured, and
// the per-layer totals.
#include "io/Session.h"

#include "Error.h"
#include "io/Hdf5Errors.h"
#include "io/Hdf5Objects.h"
#include "io/ScoreChunks.h"
#include "io/SessionFormat.h"

#include <cmath>

namespace nugget {

using namespace session;

namespace {

std::string scoresPath(const std::string &side, const std::string &parameter)
{
    return "/sensitivity/" + side + "/" + parameter;
}

// The dataset of one parameter's scores; Error when the session has none.
H5::DataSet openScores(const std::string &path, const H5::H5File &file, const std::string &side,
                       const std::string &parameter)
{
    const auto group = hdf5::findGroup(file.openGroup("/"), {"sensitivity", side});
    if (!group || !hdf5::hasDataset(*group, parameter))
        throw Error(path + ": the session has no " + side + " sensitivity for \"" + parameter + "\" ("
                    + scoresPath(side, parameter) + ")");
    return group->openDataSet(parameter);
}

bool isHalf(const H5::DataSet &dataset)
{
    return dataset.getTypeClass() == H5T_FLOAT && dataset.getFloatType().getSize() == 2;
}

} // namespace

void Session::writeSensitivity(Side which, const std::string &parameter,
                               const at::Tensor &scores, ScoreStorage storage)
{
    const std::string side = sideName(which);
    const std::string where = scoresPath(side, parameter);
    Impl &impl = writable("write " + where);
    checkName(impl.path, "write " + where, "parameter", parameter);
    hdf5::guarded(impl.path, "write " + where, [&] {
        const H5::Group group = hdf5::ensureGroup(impl.root(), {"sensitivity", side});
        const at::Tensor values = hostCopy(impl.path, "write " + where, scores, at::kFloat);
        if (storage == ScoreStorage::Float32) {
            hdf5::writeArray(group, parameter, values, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT,
                             hdf5::Layout::Compressed);
            return;
        }
        // Scaled to [0, 1] first (scores are non-negative): float16's range is too
        // narrow for raw Fisher scores. The conversion runs in torch, not in HDF5; the
        // chunks are encoded on every core instead of in HDF5's one-thread pipeline.
        const double largest = values.numel() > 0 ? values.abs().max().item<double>() : 0.0;
        const double scale = largest > 0 && std::isfinite(largest) ? largest : 1.0;
        const at::Tensor data = (values / scale).to(at::kHalf).contiguous();
        const H5::FloatType type = hdf5::halfType();
        hdf5::writeArray(group, parameter, data, type, type, hdf5::Layout::EncodedChunks);
        hdf5::writeDoubleAttribute(group.openDataSet(parameter), "scale", scale);
    });
}

at::Tensor Session::readSensitivity(Side which, const std::string &parameter) const
{
    const std::string side = sideName(which);
    const std::string where = scoresPath(side, parameter);
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "parameter", parameter);
    return hdf5::guarded(impl.path, "read " + where, [&] {
        const H5::DataSet dataset = openScores(impl.path, *impl.file, side, parameter);
        if (!isHalf(dataset))
            return hdf5::readArray(impl.path, dataset, where, at::kFloat, H5::PredType::NATIVE_FLOAT, H5T_FLOAT);
        const std::vector<hsize_t> dims = hdf5::shapeOf(dataset);
        at::Tensor half = at::empty(std::vector<int64_t>(dims.begin(), dims.end()), at::kHalf);
        if (half.numel() > 0)
            dataset.read(half.data_ptr(), hdf5::halfType());
        double scale = 1.0;
        if (dataset.attrExists("scale"))
            dataset.openAttribute("scale").read(H5::PredType::NATIVE_DOUBLE, &scale);
        return half.to(at::kFloat).mul_(scale);
    });
}

std::vector<std::string> Session::sensitivityParameters(Side which) const
{
    const std::string side = sideName(which);
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "list /sensitivity/" + side, [&] {
        const auto group = hdf5::findGroup(impl.root(), {"sensitivity", side});
        return group ? hdf5::linkNames(*group) : std::vector<std::string>();
    });
}

std::vector<int64_t> Session::sensitivityShape(Side which, const std::string &parameter) const
{
    const std::string side = sideName(which);
    const std::string where = scoresPath(side, parameter);
    const Impl &impl = usable();
    checkName(impl.path, "read " + where, "parameter", parameter);
    return hdf5::guarded(impl.path, "read the shape of " + where, [&] {
        const std::vector<hsize_t> dims = hdf5::shapeOf(openScores(impl.path, *impl.file, side, parameter));
        return std::vector<int64_t>(dims.begin(), dims.end());
    });
}

bool Session::hasSensitivity(Side which) const
{
    return !sensitivityParameters(which).empty();
}

void Session::setSensitivityInfo(Side which, const std::string &metric, int64_t samples,
                                 const std::string &computeDtype)
{
    const std::string side = sideName(which);
    const std::string where = "/sensitivity/" + side;
    Impl &impl = writable("write the attributes of " + where);
    hdf5::guarded(impl.path, "write the attributes of " + where, [&] {
        const H5::Group group = hdf5::ensureGroup(impl.root(), {"sensitivity", side});
        hdf5::writeStringAttribute(group, "metric", metric);
        hdf5::writeIntAttribute(group, "samples", samples);
        if (!computeDtype.empty())
            hdf5::writeStringAttribute(group, "compute_dtype", computeDtype);
        else if (group.attrExists("compute_dtype"))
            group.removeAttr("compute_dtype");
    });
}

Session::SensitivityInfo Session::sensitivityInfo(Side which) const
{
    const std::string side = sideName(which);
    const std::string where = "/sensitivity/" + side;
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read the attributes of " + where, [&] {
        const auto group = hdf5::findGroup(impl.root(), {"sensitivity", side});
        if (!group)
            throw Error(impl.path + ": the session has no " + side + " sensitivity (" + where + ")");
        SensitivityInfo info;
        info.metric = hdf5::readStringAttribute(impl.path, *group, where, "metric");
        info.samples = hdf5::readIntAttribute(impl.path, *group, where, "samples");
        if (group->attrExists("compute_dtype"))
            info.computeDtype = hdf5::readStringAttribute(impl.path, *group, where, "compute_dtype");
        return info;
    });
}

// ---- layer totals ----------------------------------------------------------------------

void Session::writeLayerTotals(Side which, const at::Tensor &totals,
                               const std::vector<std::string> &modules)
{
    const std::string side = sideName(which);
    const std::string where = "/sensitivity/layers/" + side;
    Impl &impl = writable("write " + where);
    hdf5::guarded(impl.path, "write " + where, [&] {
        const at::Tensor data =
            tableData(impl.path, where, totals, modules, "[layers, " + std::to_string(modules.size()) + " modules] totals");
        writeTable(hdf5::ensureGroup(impl.root(), {"sensitivity", "layers"}), side, data, modules, "modules");
    });
}

bool Session::hasLayerTotals(Side which) const
{
    const std::string side = sideName(which);
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read /sensitivity/layers/" + side, [&] {
        const auto group = hdf5::findGroup(impl.root(), {"sensitivity", "layers"});
        return group && hdf5::hasDataset(*group, side);
    });
}

std::pair<at::Tensor, std::vector<std::string>> Session::readLayerTotals(Side which) const
{
    const std::string side = sideName(which);
    const std::string where = "/sensitivity/layers/" + side;
    const Impl &impl = usable();
    return hdf5::guarded(impl.path, "read " + where, [&] {
        const auto group = hdf5::findGroup(impl.root(), {"sensitivity", "layers"});
        if (!group || !hdf5::hasDataset(*group, side))
            throw Error(impl.path + ": the session has no " + side + " layer totals (" + where + ")");
        return readTable(impl.path, group->openDataSet(side), where, "modules", "module");
    });
}

} // namespace nugget
