#include "transfer/LayerSelection.h"

#include "Error.h"
#include "train/PackedBatches.h"

#include <QString>
#include <QStringList>

#include <algorithm>
#include <numeric>

namespace nugget {

LayerSelection selectLayers(LayerStrategy strategy, const std::vector<double> &scores, int64_t studentLayers,
                            uint64_t seed)
{
    const auto teacherLayers = static_cast<int64_t>(scores.size());
    if (studentLayers < 1 || studentLayers > teacherLayers)
        throw Error("the student has " + std::to_string(studentLayers) + " layers but the teacher only " +
                    std::to_string(teacherLayers) + ": a teacher must have at least as many layers as the student");
    LayerSelection selection;
    selection.strategy = strategy;
    std::vector<int64_t> order(static_cast<size_t>(teacherLayers));
    std::iota(order.begin(), order.end(), int64_t(0));
    switch (strategy) {
    case LayerStrategy::Sensitivity:
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
        order.resize(static_cast<size_t>(studentLayers));
        break;
    case LayerStrategy::Top:
        order.resize(static_cast<size_t>(studentLayers));
        break;
    case LayerStrategy::Last:
        order.erase(order.begin(), order.end() - studentLayers);
        break;
    case LayerStrategy::Random: {
        const auto permutation = seededPermutation(static_cast<size_t>(teacherLayers), seed);
        order.assign(permutation.begin(), permutation.begin() + studentLayers);
        break;
    }
    case LayerStrategy::Manual:
        throw Error("a manual layer selection needs its list of layers");
    }
    std::sort(order.begin(), order.end());
    selection.teacherLayers = order;
    return selection;
}

LayerSelection manualLayers(const std::string &list, int64_t teacherLayers, int64_t studentLayers)
{
    LayerSelection selection;
    selection.strategy = LayerStrategy::Manual;
    for (const auto &part : QString::fromStdString(list).split(u',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int64_t layer = part.trimmed().toLongLong(&ok);
        if (!ok || layer < 0 || layer >= teacherLayers)
            throw Error("layer list '" + list + "': '" + part.trimmed().toStdString() +
                        "' is not a teacher layer (0.." + std::to_string(teacherLayers - 1) + ")");
        selection.teacherLayers.push_back(layer);
    }
    std::sort(selection.teacherLayers.begin(), selection.teacherLayers.end());
    if (std::adjacent_find(selection.teacherLayers.begin(), selection.teacherLayers.end()) !=
        selection.teacherLayers.end())
        throw Error("layer list '" + list + "' names a layer twice");
    if (static_cast<int64_t>(selection.teacherLayers.size()) != studentLayers)
        throw Error("layer list '" + list + "' names " + std::to_string(selection.teacherLayers.size()) +
                    " layers; the student has " + std::to_string(studentLayers));
    return selection;
}

LayerSelection selectLayers(const std::string &spec, const std::vector<double> &scores, int64_t studentLayers,
                            uint64_t seed)
{
    if (!spec.empty() && (std::isdigit(static_cast<unsigned char>(spec[0])) || spec.find(',') != std::string::npos))
        return manualLayers(spec, static_cast<int64_t>(scores.size()), studentLayers);
    return selectLayers(parseLayerStrategy(spec), scores, studentLayers, seed);
}

} // namespace nugget
