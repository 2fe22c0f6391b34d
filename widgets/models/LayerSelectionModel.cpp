#include "models/LayerSelectionModel.h"

#include <QStringList>

namespace nugget {

namespace {

const QString sensitivityStrategy = QStringLiteral("sensitivity");

} // namespace

LayerSelectionModel::LayerSelectionModel(Selector selector, QObject *parent)
    : QObject(parent), m_selector(std::move(selector))
{
    describe();
}

void LayerSelectionModel::setLayerCounts(int teacherLayers, int studentLayers)
{
    m_teacherLayers = teacherLayers;
    m_studentLayers = studentLayers;
    m_scores.clear();
    m_chosen.clear();
    if (m_strategy == manual())
        m_strategy = sensitivityStrategy;
    apply();
}

void LayerSelectionModel::setLayerScores(const std::vector<double> &scores)
{
    m_scores = scores;
    if (m_strategy != manual()) {
        apply();
    } else {
        describe();
        Q_EMIT changed();
    }
}

void LayerSelectionModel::setStrategy(const QString &strategy, quint64 seed)
{
    m_strategy = strategy;
    m_seed = seed;
    if (strategy != manual()) {
        apply();
    } else {
        describe();
        Q_EMIT changed();
    }
}

void LayerSelectionModel::apply()
{
    m_chosen.clear();
    const bool fits = m_teacherLayers > 0 && m_studentLayers > 0 && m_teacherLayers >= m_studentLayers;
    // Sensitivity needs scores; until they exist the choice stays empty.
    if (fits && (m_strategy != sensitivityStrategy || int(m_scores.size()) == m_teacherLayers)) {
        const auto scores = m_strategy == sensitivityStrategy ? m_scores
                                                                       : std::vector<double>(size_t(m_teacherLayers), 0.0);
        for (const auto layer : m_selector(m_strategy, scores, m_studentLayers, m_seed))
            m_chosen.insert(int(layer));
    }
    describe();
    Q_EMIT changed();
}

bool LayerSelectionModel::toggle(int teacherLayer)
{
    if (teacherLayer < 0 || teacherLayer >= m_teacherLayers)
        return false;
    if (!m_chosen.count(teacherLayer) && int(m_chosen.size()) >= m_studentLayers) {
        const QString reason = tr("The student has %1 layers, so exactly %1 teacher layers feed it; %2 are chosen. "
                                  "Click a chosen layer to free it first.")
                                   .arg(m_studentLayers)
                                   .arg(m_chosen.size());
        m_message = reason;
        Q_EMIT refused(reason);
        Q_EMIT changed();
        return false;
    }
    if (!m_chosen.erase(teacherLayer))
        m_chosen.insert(teacherLayer);
    m_strategy = manual();
    describe();
    Q_EMIT changed();
    return true;
}

bool LayerSelectionModel::setManual(const std::vector<int64_t> &layers)
{
    std::set<int> chosen;
    for (const auto layer : layers) {
        if (layer < 0 || layer >= m_teacherLayers)
            return false;
        chosen.insert(int(layer));
    }
    if (int(chosen.size()) > m_studentLayers)
        return false;
    m_chosen = chosen;
    m_strategy = manual();
    describe();
    Q_EMIT changed();
    return true;
}

std::vector<int> LayerSelectionModel::mapping() const
{
    std::vector<int> mapping(size_t(std::max(m_studentLayers, 0)), -1);
    size_t j = 0;
    for (const auto layer : m_chosen)
        if (j < mapping.size())
            mapping[j++] = layer;
    return mapping;
}

QString LayerSelectionModel::recipeValue() const
{
    if (m_strategy != manual())
        return strategyName();
    QStringList layers;
    for (const auto layer : m_chosen)
        layers << QString::number(layer);
    return layers.join(QLatin1Char(','));
}

void LayerSelectionModel::describe()
{
    if (m_teacherLayers == 0 || m_studentLayers == 0) {
        m_message = tr("Load a teacher and a student to choose layers.");
        return;
    }
    if (m_teacherLayers < m_studentLayers) {
        m_message = tr("The teacher has fewer layers (%1) than the student (%2): no layer mapping exists.")
                        .arg(m_teacherLayers)
                        .arg(m_studentLayers);
        return;
    }
    if (m_strategy == sensitivityStrategy && m_chosen.empty()) {
        m_message = tr("Compute the teacher's sensitivity to choose its %1 most sensitive layers, or pick %1 layers "
                       "by clicking heatmap rows.")
                        .arg(m_studentLayers);
        return;
    }
    QStringList pairs;
    const auto map = mapping();
    for (size_t j = 0; j < map.size(); ++j)
        if (map[j] >= 0)
            pairs << tr("%1→%2").arg(map[j]).arg(j);
    const int missing = m_studentLayers - int(m_chosen.size());
    if (missing > 0)
        m_message = tr("%1 of %2 teacher layers chosen (%3): choose %4 more.")
                        .arg(m_chosen.size())
                        .arg(m_studentLayers)
                        .arg(pairs.isEmpty() ? tr("none") : pairs.join(QStringLiteral(", ")))
                        .arg(missing);
    else
        m_message = tr("%1: teacher → student layers %2.").arg(strategyName(), pairs.join(QStringLiteral(", ")));
}

} // namespace nugget
