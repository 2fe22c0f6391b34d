#include "eval/CandidateSets.h"

#include "Error.h"
#include "io/JsonFile.h"
#include "io/JsonText.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>

#include <algorithm>
#include <set>

namespace nugget {

CandidateSets readCandidateSets(const std::string &path)
{
    const QJsonObject json = readJsonObjectFile(path);
    for (auto it = json.begin(); it != json.end(); ++it)
        if (it.key() != QLatin1String("field") && it.key() != QLatin1String("sets"))
            throw Error(path + ": unknown key \"" + it.key().toStdString() + "\" (expected \"field\" and \"sets\")");
    const QJsonValue field = json.value(QLatin1String("field"));
    if (!field.isString() || field.toString().isEmpty())
        throw Error(path + ": \"field\" must name the item field that selects a set, got " + jsonTypeName(field));
    const QJsonValue sets = json.value(QLatin1String("sets"));
    if (!sets.isObject())
        throw Error(path + ": \"sets\" must be an object of answer lists, got " + jsonTypeName(sets));
    CandidateSets result;
    result.field = field.toString().toStdString();
    const QJsonObject named = sets.toObject();
    for (auto it = named.begin(); it != named.end(); ++it) {
        const std::string where = path + ": set \"" + it.key().toStdString() + "\"";
        if (!it.value().isArray())
            throw Error(where + " is not a list");
        std::vector<std::string> answers;
        std::set<std::string> seen;
        for (const QJsonValue answer : it.value().toArray()) {
            if (!answer.isString() || answer.toString().isEmpty())
                throw Error(where + " holds " + (answer.isString() ? "an empty string" : jsonTypeName(answer)));
            const std::string text = answer.toString().toStdString();
            if (!seen.insert(text).second)
                throw Error(where + " lists \"" + text + "\" twice");
            answers.push_back(text);
        }
        if (answers.size() < 2)
            throw Error(where + " needs at least two answers");
        result.sets.emplace(it.key().toStdString(), std::move(answers));
    }
    return result;
}

void attachCandidates(std::vector<ChatExample> &examples, const CandidateSets &sets, const std::string &source)
{
    for (auto &example : examples) {
        const std::string where = source + ":" + std::to_string(example.lineNumber);
        if (example.candidates.empty()) {
            const QJsonValue key = example.fields.value(QString::fromStdString(sets.field));
            const auto set = key.isString() ? sets.sets.find(key.toString().toStdString()) : sets.sets.end();
            if (set != sets.sets.end())
                example.candidates = set->second;
        }
        if (example.candidates.empty())
            continue;
        const std::string expected = answerText(example);
        if (std::find(example.candidates.begin(), example.candidates.end(), expected) == example.candidates.end())
            throw Error(where + ": the expected answer \"" + expected + "\" is not among the item's " +
                        std::to_string(example.candidates.size()) + " candidates");
    }
}

std::vector<ChatExample> readEvaluationItems(const std::string &path)
{
    auto examples = readChatJsonl(path);
    if (examples.empty())
        throw Error(path + ": the file holds no examples");
    const QString candidates = QFileInfo(QString::fromStdString(path)).dir().filePath(QString::fromLatin1(kCandidatesFile));
    const CandidateSets sets = QFileInfo::exists(candidates) ? readCandidateSets(candidates.toStdString()) : CandidateSets{};
    attachCandidates(examples, sets, path);
    return examples;
}

} // namespace nugget
