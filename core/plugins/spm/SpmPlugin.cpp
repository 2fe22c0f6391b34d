// sentencepiece behind a C ABI; see SpmPlugin.h for why it lives in its own module.

#include "SpmPlugin.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct NuggetSpmProcessor
{
    sentencepiece::SentencePieceProcessor processor;
    int32_t size = 0;   // cached: GetPieceSize() is virtual and checked on every id
};

namespace {

// Copies into malloc'd memory so that the caller can release it with nugget_spm_free()
// whatever allocator the host uses.
char *copyString(std::string_view text, size_t *length = nullptr)
{
    auto *copy = static_cast<char *>(std::malloc(text.size() + 1));
    if (!copy)
        return nullptr;
    if (!text.empty())
        std::memcpy(copy, text.data(), text.size());
    copy[text.size()] = '\0';
    if (length)
        *length = text.size();
    return copy;
}

int fail(char **error, std::string_view message)
{
    if (error)
        *error = copyString(message);
    return NUGGET_SPM_FAILED;
}

int fail(char **error, const sentencepiece::util::Status &status)
{
    const char *message = status.error_message();
    return fail(error, (message && *message) ? std::string_view(message)
                                             : std::string_view("sentencepiece failed"));
}

// Exceptions must not unwind into the host, which may be built with another runtime.
int failFromCurrentException(char **error)
{
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return fail(error, "out of memory");
    } catch (const std::exception &e) {
        return fail(error, e.what());
    } catch (...) {
        return fail(error, "unknown error in sentencepiece");
    }
}

bool validId(const NuggetSpmProcessor *p, int32_t id) { return p && id >= 0 && id < p->size; }

int finishLoad(NuggetSpmProcessor *p, const sentencepiece::util::Status &status,
               NuggetSpmProcessor **out, char **error)
{
    if (!status.ok()) {
        delete p;
        return fail(error, status);
    }
    p->size = p->processor.GetPieceSize();
    if (p->size <= 0) {
        delete p;
        return fail(error, "the model has no pieces");
    }
    *out = p;
    return NUGGET_SPM_OK;
}

// The corpus read line by line, as sentencepiece's own file reader does, so that the
// corpus path never goes through sentencepiece's comma-separated "input" field.
class LineFileIterator : public sentencepiece::SentenceIterator
{
public:
    explicit LineFileIterator(const char *path) : m_path(path), m_stream(path, std::ios::binary)
    {
        if (!m_stream)
            m_status = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                                   "cannot open " + m_path);
        Next();
    }
    bool done() const override { return m_done; }
    void Next() override
    {
        if (m_done)
            return;
        if (!m_stream || !std::getline(m_stream, m_line)) {
            if (m_stream.bad())
                m_status = sentencepiece::util::Status(
                    sentencepiece::util::StatusCode::kDataLoss, "cannot read " + m_path);
            m_done = true;
        }
    }
    const std::string &value() const override { return m_line; }
    sentencepiece::util::Status status() const override { return m_status; }

private:
    std::string m_path;
    std::ifstream m_stream;
    std::string m_line;
    bool m_done = false;
    sentencepiece::util::Status m_status;
};

} // namespace

extern "C" {

int nugget_spm_abi_version(void) { return NUGGET_SPM_ABI_VERSION; }

void nugget_spm_free(void *memory) { std::free(memory); }

int nugget_spm_load_file(const char *path, NuggetSpmProcessor **processor, char **error)
{
    if (!path || !processor)
        return fail(error, "null argument");
    *processor = nullptr;
    try {
        auto *p = new NuggetSpmProcessor;
        return finishLoad(p, p->processor.Load(path), processor, error);
    } catch (...) {
        return failFromCurrentException(error);
    }
}

int nugget_spm_load_bytes(const void *data, size_t size, NuggetSpmProcessor **processor,
                          char **error)
{
    if (!data || !processor)
        return fail(error, "null argument");
    *processor = nullptr;
    try {
        auto *p = new NuggetSpmProcessor;
        const std::string_view bytes(static_cast<const char *>(data), size);
        return finishLoad(p, p->processor.LoadFromSerializedProto(bytes), processor, error);
    } catch (...) {
        return failFromCurrentException(error);
    }
}

void nugget_spm_processor_free(NuggetSpmProcessor *processor) { delete processor; }

int nugget_spm_encode(const NuggetSpmProcessor *processor, const char *text, size_t length,
                      int32_t **ids, size_t *count, char **error)
{
    if (!processor || !ids || !count || (!text && length > 0))
        return fail(error, "null argument");
    *ids = nullptr;
    *count = 0;
    try {
        std::vector<int> pieces;
        const auto status =
            processor->processor.Encode(std::string_view(text ? text : "", length), &pieces);
        if (!status.ok())
            return fail(error, status);
        if (pieces.empty())
            return NUGGET_SPM_OK;
        auto *out = static_cast<int32_t *>(std::malloc(pieces.size() * sizeof(int32_t)));
        if (!out)
            return fail(error, "out of memory");
        for (size_t i = 0; i < pieces.size(); ++i)
            out[i] = pieces[i];
        *ids = out;
        *count = pieces.size();
        return NUGGET_SPM_OK;
    } catch (...) {
        return failFromCurrentException(error);
    }
}

int nugget_spm_decode(const NuggetSpmProcessor *processor, const int32_t *ids, size_t count,
                      char **text, size_t *length, char **error)
{
    if (!processor || !text || !length || (!ids && count > 0))
        return fail(error, "null argument");
    *text = nullptr;
    *length = 0;
    try {
        std::vector<int> pieces(count);
        for (size_t i = 0; i < count; ++i) {
            if (!validId(processor, ids[i]))
                return fail(error, "token id " + std::to_string(ids[i]) + " is out of range [0, " +
                                       std::to_string(processor->size) + ")");
            pieces[i] = ids[i];
        }
        std::string decoded;
        const auto status = processor->processor.Decode(pieces, &decoded);
        if (!status.ok())
            return fail(error, status);
        *text = copyString(decoded, length);
        return *text ? NUGGET_SPM_OK : fail(error, "out of memory");
    } catch (...) {
        return failFromCurrentException(error);
    }
}

int32_t nugget_spm_vocab_size(const NuggetSpmProcessor *processor)
{
    return processor ? processor->size : 0;
}

char *nugget_spm_id_to_piece(const NuggetSpmProcessor *processor, int32_t id, size_t *length)
{
    if (length)
        *length = 0;
    if (!validId(processor, id))
        return nullptr;
    try {
        return copyString(processor->processor.IdToPiece(id), length);
    } catch (...) {
        return nullptr;
    }
}

int32_t nugget_spm_piece_to_id(const NuggetSpmProcessor *processor, const char *piece,
                               size_t length)
{
    if (!processor)
        return -1;
    try {
        return processor->processor.PieceToId(std::string_view(piece ? piece : "", length));
    } catch (...) {
        return processor->processor.unk_id();
    }
}

int32_t nugget_spm_bos_id(const NuggetSpmProcessor *p) { return p ? p->processor.bos_id() : -1; }
int32_t nugget_spm_eos_id(const NuggetSpmProcessor *p) { return p ? p->processor.eos_id() : -1; }
int32_t nugget_spm_unk_id(const NuggetSpmProcessor *p) { return p ? p->processor.unk_id() : -1; }
int32_t nugget_spm_pad_id(const NuggetSpmProcessor *p) { return p ? p->processor.pad_id() : -1; }

int nugget_spm_is_byte(const NuggetSpmProcessor *p, int32_t id)
{
    return validId(p, id) && p->processor.IsByte(id) ? 1 : 0;
}

int nugget_spm_is_control(const NuggetSpmProcessor *p, int32_t id)
{
    return validId(p, id) && p->processor.IsControl(id) ? 1 : 0;
}

int nugget_spm_is_unknown(const NuggetSpmProcessor *p, int32_t id)
{
    return validId(p, id) && p->processor.IsUnknown(id) ? 1 : 0;
}

int nugget_spm_train(const char *arguments, char **error)
{
    if (!arguments)
        return fail(error, "null argument");
    try {
        const auto status = sentencepiece::SentencePieceTrainer::Train(arguments);
        return status.ok() ? NUGGET_SPM_OK : fail(error, status);
    } catch (...) {
        return failFromCurrentException(error);
    }
}

int nugget_spm_train_options(const char *const *keys, const char *const *values, size_t count,
                             const char *inputFile, char **error)
{
    if (count > 0 && (!keys || !values))
        return fail(error, "null argument");
    try {
        std::unordered_map<std::string, std::string> options;
        for (size_t i = 0; i < count; ++i) {
            if (!keys[i] || !values[i])
                return fail(error, "null option key or value");
            std::string key = keys[i];
            if (key.rfind("--", 0) == 0)
                key.erase(0, 2);
            if (inputFile && key == "input")
                return fail(error, "\"input\" given together with an input file");
            options[key] = values[i];
        }
        sentencepiece::util::Status status;
        if (inputFile) {
            LineFileIterator lines(inputFile);
            status = sentencepiece::SentencePieceTrainer::Train(options, &lines);
        } else {
            status = sentencepiece::SentencePieceTrainer::Train(options);
        }
        return status.ok() ? NUGGET_SPM_OK : fail(error, status);
    } catch (...) {
        return failFromCurrentException(error);
    }
}

} // extern "C"
