#pragma once
// The teacher layers chosen for the student, as the layer picker, the heatmap and the
// alignment view all show and change it. A strategy (sensitivity, top, last, random)
// proposes a choice from the teacher's layer scores; clicking a layer toggles it and
// makes the choice manual. The student needs exactly as many teacher layers as it has
// layers: a click that would exceed that is refused with an explanation, and until
// enough are chosen the mapping has gaps. The i-th chosen layer (in depth order) feeds
// student layer i.

#include <QObject>
#include <QString>

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

namespace nugget {

class LayerSelectionModel : public QObject
{
    Q_OBJECT

public:
    // The layers a strategy (sensitivity | top | last | random) proposes for a student of
    // `studentLayers` layers from the teacher's layer scores; the window passes the
    // core's rule (selectLayers), so this model needs no core library.
    using Selector = std::function<std::vector<int64_t>(const QString &strategy, const std::vector<double> &scores,
                                                        int studentLayers, quint64 seed)>;
    static QString manual() { return QStringLiteral("manual"); }

    explicit LayerSelectionModel(Selector selector, QObject *parent = nullptr);

    // New pair: clears scores and the choice, then applies the current strategy.
    void setLayerCounts(int teacherLayers, int studentLayers);
    int teacherLayers() const { return m_teacherLayers; }
    int studentLayers() const { return m_studentLayers; }
    // Per teacher layer totals; re-applies a non-manual strategy.
    void setLayerScores(const std::vector<double> &scores);
    bool hasScores() const { return !m_scores.empty(); }

    // sensitivity | top | last | random | manual (the recipe's names).
    void setStrategy(const QString &strategy, quint64 seed = 0);
    const QString &strategy() const { return m_strategy; }
    QString strategyName() const { return m_strategy; }

    // Toggles a teacher layer; returns false (and explains through message()) when it
    // would choose more layers than the student has.
    bool toggle(int teacherLayer);
    // Sets a manual choice (from a session or the recipe); false when it does not fit.
    bool setManual(const std::vector<int64_t> &layers);

    const std::set<int> &chosen() const { return m_chosen; }
    bool isComplete() const { return int(m_chosen.size()) == m_studentLayers && m_studentLayers > 0; }
    // mapping()[j] = the teacher layer feeding student layer j, or -1 while unchosen.
    std::vector<int> mapping() const;
    std::vector<int64_t> chosenLayers() const { return {m_chosen.begin(), m_chosen.end()}; }
    // The recipe's "layers" value: a strategy name, or the chosen list for manual.
    QString recipeValue() const;
    // What the choice is and what is missing, for the picker's status line.
    QString message() const { return m_message; }

Q_SIGNALS:
    void changed();
    void refused(const QString &reason);

private:
    void apply();
    void describe();

    int m_teacherLayers = 0, m_studentLayers = 0;
    std::vector<double> m_scores;
    Selector m_selector;
    QString m_strategy = QStringLiteral("sensitivity");
    quint64 m_seed = 0;
    std::set<int> m_chosen;
    QString m_message;
};

} // namespace nugget
