#pragma once
// Task data in the reference implementation's JSONL format: one object per line,
// {"dataset", "id", "messages": [{"role": "system"|"user"|"assistant", "content"}]},
// rendered with the chat template of the method:
//   <|system|>\n{content}\n\n  <|user|>\n{content}\n\n  <|assistant|>\n{content}</s>
// The loss is taken on the last assistant message only.
// Optional keys: "category" (MMLU), "candidates" (a list of possible answers, scored as
// alternatives by evaluation); any other key (the world's "person" and "attribute") is
// kept in ChatExample::fields and passed through to evaluation records.

#include <QJsonObject>

#include <cstdint>
#include <string>
#include <vector>

namespace nugget {

class Tokenizer;

struct ChatMessage
{
    std::string role;
    std::string content;
};

struct ChatExample
{
    std::string id;
    std::string dataset;
    std::string category;     // optional (MMLU)
    std::vector<ChatMessage> messages;
    std::vector<std::string> candidates;   // possible answers (may be empty)
    QJsonObject fields;       // every other key of the line, as read
    int lineNumber = 0;       // 1-based line in the source file
};

// Reads every line; blank lines are skipped. Throws Error "FILE:LINE: what is wrong"
// for malformed JSON, missing/invalid messages, unknown roles, or no assistant message.
std::vector<ChatExample> readChatJsonl(const std::string &path);

// Text of everything before the last assistant message's content, ending with
// "<|assistant|>\n" (what the model is prompted with). Earlier assistant turns end with
// the literal "</s>" here; the tokenizing functions below put the EOS id there instead.
std::string renderPrompt(const ChatExample &example);
// The last assistant message's content (the expected answer).
std::string answerText(const ChatExample &example);

// Label of positions that take no part in the loss (PyTorch's cross-entropy ignore_index).
inline constexpr int64_t kIgnoredLabel = -100;

struct TokenizedExample
{
    std::vector<int64_t> inputIds;   // BOS + prompt + answer + EOS
    std::vector<int64_t> labels;     // -100 on BOS and prompt, ids on answer and EOS
    int64_t promptLength = 0;        // tokens masked
};

// Tokenizes prompt and answer as one text (as the reference does) and masks the
// prompt's tokens. Truncates to maxLength tokens when maxLength > 0.
TokenizedExample tokenizeChat(const Tokenizer &tokenizer, const ChatExample &example,
                              int64_t maxLength = 0);

// BOS + the prompt's tokens, as a model is prompted at generation time (EOS ids after
// earlier assistant turns). For single-turn data this equals tokenizeChat's first
// promptLength ids whenever the prompt's tokens are a prefix of prompt + answer's.
std::vector<int64_t> tokenizePrompt(const Tokenizer &tokenizer, const ChatExample &example);

} // namespace nugget
