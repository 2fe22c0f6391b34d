#include "text/ChatDataset.h"

#include "Error.h"
#include "text/Tokenizer.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QStringList>
#include <QStringDecoder>

#include <algorithm>

namespace nugget {

namespace {

const std::string kEosText = "</s>";

std::string turnHeader(const std::string &role) { return "<|" + role + "|>\n"; }

// The chat rendered up to the last assistant answer. closedTurns[i] is text followed by
// an EOS token (it ends with an earlier assistant answer); openTurn follows the last of
// them and ends with "<|assistant|>\n".
struct RenderedChat
{
    std::vector<std::string> closedTurns;
    std::string openTurn;
    std::string answer;
};

size_t lastAssistantIndex(const ChatExample &example)
{
    for (size_t i = example.messages.size(); i-- > 0;)
        if (example.messages[i].role == "assistant")
            return i;
    throw Error("example " + (example.id.empty() ? std::string("(no id)") : example.id) +
                ": no assistant message");
}

RenderedChat render(const ChatExample &example)
{
    const size_t last = lastAssistantIndex(example);
    RenderedChat chat;
    std::string current;
    for (size_t i = 0; i < last; ++i) {
        const ChatMessage &message = example.messages[i];
        current += turnHeader(message.role) + message.content;
        if (message.role == "assistant") {
            chat.closedTurns.push_back(std::move(current));
            current.clear();
        } else {
            current += "\n\n";
        }
    }
    chat.openTurn = current + turnHeader("assistant");
    chat.answer = example.messages[last].content;
    return chat;
}

void append(std::vector<int64_t> &ids, const std::vector<int64_t> &more)
{
    ids.insert(ids.end(), more.begin(), more.end());
}

// BOS, then each closed turn followed by EOS.
std::vector<int64_t> closedTurnIds(const Tokenizer &tokenizer, const RenderedChat &chat)
{
    std::vector<int64_t> ids;
    if (tokenizer.bosId() >= 0)
        ids.push_back(tokenizer.bosId());
    for (const std::string &turn : chat.closedTurns) {
        append(ids, tokenizer.encode(turn));
        if (tokenizer.eosId() >= 0)
            ids.push_back(tokenizer.eosId());
    }
    return ids;
}

class LineError
{
public:
    LineError(const std::string &path, int line) : m_prefix(path + ":" + std::to_string(line) + ": ")
    {
    }
    [[noreturn]] void operator()(const std::string &what) const { throw Error(m_prefix + what); }

private:
    std::string m_prefix;
};

std::string optionalText(const QJsonObject &object, const char *key, const LineError &fail)
{
    const QJsonValue value = object.value(QLatin1String(key));
    if (value.isUndefined() || value.isNull())
        return {};
    if (value.isString())
        return value.toString().toStdString();
    if (value.isDouble())   // numeric ids
        return QString::number(value.toDouble(), 'g', 17).toStdString();
    fail(std::string("\"") + key + "\" is neither a string nor a number");
}

ChatExample parseLine(const QByteArray &line, const LineError &fail)
{
    // Qt's JSON parser would replace invalid sequences silently in some places; the
    // data is promised to be UTF-8, so say so when it is not.
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString decoded = utf8(line);
    if (utf8.hasError())
        fail("invalid UTF-8");
    Q_UNUSED(decoded);

    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(line, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        fail("invalid JSON: " + parseError.errorString().toStdString() + " at offset " +
             std::to_string(parseError.offset));
    if (!document.isObject())
        fail("expected a JSON object");
    const QJsonObject object = document.object();

    ChatExample example;
    example.id = optionalText(object, "id", fail);
    example.dataset = optionalText(object, "dataset", fail);
    example.category = optionalText(object, "category", fail);

    const QJsonValue messages = object.value(QLatin1String("messages"));
    if (messages.isUndefined())
        fail("no \"messages\"");
    if (!messages.isArray())
        fail("\"messages\" is not an array");
    const QJsonArray list = messages.toArray();
    if (list.isEmpty())
        fail("\"messages\" is empty");

    bool hasAssistant = false;
    for (qsizetype i = 0; i < list.size(); ++i) {
        const std::string which = "message " + std::to_string(i + 1);
        if (!list.at(i).isObject())
            fail(which + " is not an object");
        const QJsonObject message = list.at(i).toObject();
        const QJsonValue role = message.value(QLatin1String("role"));
        const QJsonValue content = message.value(QLatin1String("content"));
        if (!role.isString())
            fail(which + " has no string \"role\"");
        if (!content.isString())
            fail(which + " has no string \"content\"");
        ChatMessage parsed{role.toString().toStdString(), content.toString().toStdString()};
        if (parsed.role != "system" && parsed.role != "user" && parsed.role != "assistant")
            fail(which + " has unknown role \"" + parsed.role +
                 "\" (expected system, user or assistant)");
        hasAssistant = hasAssistant || parsed.role == "assistant";
        example.messages.push_back(std::move(parsed));
    }
    if (!hasAssistant)
        fail("no assistant message");

    const QJsonValue candidates = object.value(QLatin1String("candidates"));
    if (!candidates.isUndefined() && !candidates.isNull()) {
        if (!candidates.isArray())
            fail("\"candidates\" is not an array");
        for (const QJsonValue candidate : candidates.toArray()) {
            if (!candidate.isString())
                fail("\"candidates\" holds a value that is not a string");
            example.candidates.push_back(candidate.toString().toStdString());
        }
    }
    for (auto it = object.begin(); it != object.end(); ++it) {
        static const QStringList known = {QStringLiteral("id"), QStringLiteral("dataset"), QStringLiteral("category"),
                                          QStringLiteral("messages"), QStringLiteral("candidates")};
        if (!known.contains(it.key()))
            example.fields.insert(it.key(), it.value());
    }
    return example;
}

} // namespace

std::vector<ChatExample> readChatJsonl(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot open (" + file.errorString().toStdString() + ")");

    std::vector<ChatExample> examples;
    int lineNumber = 0;
    while (!file.atEnd()) {
        QByteArray line = file.readLine();
        if (line.isEmpty() && file.error() != QFileDevice::NoError)
            throw Error(path + ": read error after line " + std::to_string(lineNumber) + " (" +
                        file.errorString().toStdString() + ")");
        ++lineNumber;
        if (lineNumber == 1 && line.startsWith("\xef\xbb\xbf"))   // UTF-8 byte-order mark
            line.remove(0, 3);
        while (line.endsWith('\n') || line.endsWith('\r'))
            line.chop(1);
        if (line.trimmed().isEmpty())
            continue;
        ChatExample example = parseLine(line, LineError(path, lineNumber));
        example.lineNumber = lineNumber;
        examples.push_back(std::move(example));
    }
    return examples;
}

std::string renderPrompt(const ChatExample &example)
{
    const RenderedChat chat = render(example);
    std::string text;
    for (const std::string &turn : chat.closedTurns)
        text += turn + kEosText;
    return text + chat.openTurn;
}

std::string answerText(const ChatExample &example)
{
    return example.messages[lastAssistantIndex(example)].content;
}

TokenizedExample tokenizeChat(const Tokenizer &tokenizer, const ChatExample &example,
                              int64_t maxLength)
{
    const RenderedChat chat = render(example);
    TokenizedExample result;
    result.inputIds = closedTurnIds(tokenizer, chat);

    // As the reference does: the last prompt and its answer are tokenized as one text,
    // and the mask covers as many tokens as the prompt alone tokenizes to. With the
    // template's prompt ending in "\n" the prompt's tokens are a prefix of the whole's
    // (checked by the tests on real data for LLaMA-2's tokenizer). Should a merge ever
    // cross the boundary, the count is still used: the boundary token is then masked or
    // not by position, exactly as in the reference, rather than re-aligned.
    const size_t promptTokens = tokenizer.encode(chat.openTurn).size();
    const std::vector<int64_t> whole = tokenizer.encode(chat.openTurn + chat.answer);
    result.promptLength = static_cast<int64_t>(result.inputIds.size() + promptTokens);
    append(result.inputIds, whole);
    if (tokenizer.eosId() >= 0)
        result.inputIds.push_back(tokenizer.eosId());
    result.promptLength =
        std::min<int64_t>(result.promptLength, static_cast<int64_t>(result.inputIds.size()));

    result.labels = result.inputIds;
    std::fill(result.labels.begin(), result.labels.begin() + result.promptLength, kIgnoredLabel);

    if (maxLength > 0 && static_cast<int64_t>(result.inputIds.size()) > maxLength) {
        result.inputIds.resize(static_cast<size_t>(maxLength));
        result.labels.resize(static_cast<size_t>(maxLength));
        result.promptLength = std::min(result.promptLength, maxLength);
    }
    return result;
}

std::vector<int64_t> tokenizePrompt(const Tokenizer &tokenizer, const ChatExample &example)
{
    const RenderedChat chat = render(example);
    std::vector<int64_t> ids = closedTurnIds(tokenizer, chat);
    append(ids, tokenizer.encode(chat.openTurn));
    return ids;
}

} // namespace nugget
