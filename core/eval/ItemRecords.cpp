#include "eval/ItemRecords.h"

#include "Error.h"
#include "io/JsonText.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QList>

#include <cmath>

namespace nugget {

namespace {

const QStringList &recordKeys()
{
    static const QStringList keys = {
        QStringLiteral("id"),           QStringLiteral("prompt"),           QStringLiteral("expected"),
        QStringLiteral("predicted"),    QStringLiteral("correct"),          QStringLiteral("answer_logprob"),
        QStringLiteral("answer_tokens"), QStringLiteral("answer_token_ids"), QStringLiteral("answer_token_logprobs"),
        QStringLiteral("rank"),         QStringLiteral("reciprocal_rank"),  QStringLiteral("candidates"),
        QStringLiteral("candidate_logprobs")};
    return keys;
}

template <typename T> QJsonArray arrayOf(const std::vector<T> &values)
{
    QJsonArray array;
    for (const T &value : values) {
        if constexpr (std::is_same_v<T, std::string>)
            array.append(QString::fromStdString(value));
        else
            array.append(static_cast<double>(value));
    }
    return array;
}

class RecordReader
{
public:
    RecordReader(const QJsonObject &record, const std::string &source) : m_record(record), m_source(source) {}

    QJsonValue value(const char *key, QJsonValue::Type type, bool required = true) const
    {
        const QJsonValue value = m_record.value(QLatin1String(key));
        if (value.isUndefined() && !required)
            return value;
        if (value.type() != type)
            throw Error(m_source + ": \"" + key + "\" is " + jsonTypeName(value) + ", expected " +
                        jsonTypeName(QJsonValue(type)));
        return value;
    }
    std::string text(const char *key) const { return value(key, QJsonValue::String).toString().toStdString(); }
    double number(const char *key) const { return value(key, QJsonValue::Double).toDouble(); }
    template <typename T> std::vector<T> list(const char *key, QJsonValue::Type type) const
    {
        std::vector<T> out;
        for (const QJsonValue entry : value(key, QJsonValue::Array, false).toArray()) {
            if (entry.type() != type)
                throw Error(m_source + ": \"" + key + "\" holds " + jsonTypeName(entry));
            if constexpr (std::is_same_v<T, std::string>)
                out.push_back(entry.toString().toStdString());
            else
                out.push_back(static_cast<T>(entry.toDouble()));
        }
        return out;
    }

private:
    const QJsonObject &m_record;
    const std::string &m_source;
};

} // namespace

QJsonObject itemRecord(const EvalItem &item)
{
    QJsonObject record;
    record[QStringLiteral("id")] = QString::fromStdString(item.id);
    record[QStringLiteral("prompt")] = QString::fromStdString(item.prompt);
    record[QStringLiteral("expected")] = QString::fromStdString(item.expected);
    record[QStringLiteral("predicted")] = QString::fromStdString(item.predicted);
    record[QStringLiteral("correct")] = item.correct;
    record[QStringLiteral("answer_logprob")] = item.answerLogProb;
    record[QStringLiteral("answer_tokens")] = static_cast<double>(item.answerTokens());
    record[QStringLiteral("answer_token_ids")] = arrayOf(item.answerTokenIds);
    record[QStringLiteral("answer_token_logprobs")] = arrayOf(item.answerTokenLogProbs);
    if (item.rank > 0) {
        record[QStringLiteral("rank")] = static_cast<double>(item.rank);
        record[QStringLiteral("reciprocal_rank")] = 1.0 / static_cast<double>(item.rank);
        record[QStringLiteral("candidates")] = arrayOf(item.candidates);
        record[QStringLiteral("candidate_logprobs")] = arrayOf(item.candidateLogProbs);
    }
    for (auto it = item.fields.begin(); it != item.fields.end(); ++it)
        record[recordKeys().contains(it.key()) ? QStringLiteral("input_") + it.key() : it.key()] = it.value();
    return record;
}

EvalItem itemFromRecord(const QJsonObject &record, const std::string &source)
{
    const RecordReader read(record, source);
    EvalItem item;
    item.id = read.text("id");
    item.prompt = read.text("prompt");
    item.expected = read.text("expected");
    item.predicted = read.text("predicted");
    item.correct = read.value("correct", QJsonValue::Bool).toBool();
    item.answerLogProb = read.number("answer_logprob");
    item.answerTokenIds = read.list<int64_t>("answer_token_ids", QJsonValue::Double);
    item.answerTokenLogProbs = read.list<double>("answer_token_logprobs", QJsonValue::Double);
    if (static_cast<int64_t>(read.number("answer_tokens")) != item.answerTokens() ||
        item.answerTokenLogProbs.size() != item.answerTokenIds.size())
        throw Error(source + ": \"answer_tokens\" disagrees with the token lists");
    if (!record.value(QLatin1String("rank")).isUndefined()) {
        item.rank = static_cast<int64_t>(read.number("rank"));
        item.candidates = read.list<std::string>("candidates", QJsonValue::String);
        item.candidateLogProbs = read.list<double>("candidate_logprobs", QJsonValue::Double);
        if (item.rank < 1 || item.candidates.size() != item.candidateLogProbs.size() ||
            item.rank > static_cast<int64_t>(item.candidates.size()))
            throw Error(source + ": \"rank\", \"candidates\" and \"candidate_logprobs\" disagree");
    }
    for (auto it = record.begin(); it != record.end(); ++it) {
        if (recordKeys().contains(it.key()))
            continue;
        const QString key = it.key().startsWith(QLatin1String("input_")) && recordKeys().contains(it.key().mid(6))
                                ? it.key().mid(6)
                                : it.key();
        item.fields.insert(key, it.value());
    }
    return item;
}

const std::vector<std::string> &itemScoreColumns()
{
    static const std::vector<std::string> columns = {"correct", "answer_logprob", "answer_tokens", "rank"};
    return columns;
}

at::Tensor itemScoreTable(const std::vector<EvalItem> &items)
{
    auto table = at::zeros({static_cast<int64_t>(items.size()), 4}, at::kDouble);
    auto cells = table.accessor<double, 2>();
    for (size_t i = 0; i < items.size(); ++i) {
        const auto row = static_cast<int64_t>(i);
        cells[row][0] = items[i].correct ? 1.0 : 0.0;
        cells[row][1] = items[i].answerLogProb;
        cells[row][2] = static_cast<double>(items[i].answerTokens());
        cells[row][3] = static_cast<double>(items[i].rank);
    }
    return table;
}

QByteArray itemRecordsJsonl(const std::vector<EvalItem> &items)
{
    QByteArray text;
    for (const auto &item : items)
        text += QJsonDocument(itemRecord(item)).toJson(QJsonDocument::Compact) + '\n';
    return text;
}

std::vector<EvalItem> parseItemRecordsJsonl(const QByteArray &text, const std::string &source)
{
    std::vector<EvalItem> items;
    const QList<QByteArray> lines = text.split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        if (lines[i].trimmed().isEmpty())
            continue;
        const std::string where = source + ":" + std::to_string(i + 1);
        QJsonParseError error;
        const auto document = QJsonDocument::fromJson(lines[i], &error);
        if (error.error != QJsonParseError::NoError || !document.isObject())
            throw Error(where + ": not a JSON object (" + error.errorString().toStdString() + ")");
        items.push_back(itemFromRecord(document.object(), where));
    }
    return items;
}

} // namespace nugget
