#pragma once
// A sentencepiece tokenizer. sentencepiece itself lives in a separate plugin
// (core/plugins/spm) loaded with RTLD_LOCAL | RTLD_DEEPBIND: linked beside libtorch,
// its embedded protobuf clashes with libtorch's and the process dies at start-up.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nugget {

struct TokenizerTrainingOptions
{
    std::string inputFile;          // plain text, one sentence/document per line
    std::string modelPrefix;        // writes <prefix>.model and <prefix>.vocab
    int vocabSize = 4096;
    std::string modelType = "bpe";  // bpe | unigram
    double characterCoverage = 1.0;
    bool byteFallback = true;
    std::vector<std::string> userDefinedSymbols;   // e.g. "<|user|>", "<|assistant|>"
    int numThreads = 2;
    int64_t inputSentenceSize = 0;  // 0: all
    unsigned seed = 0;              // unused by sentencepiece's BPE, kept for the record
};

class Tokenizer
{
public:
    // Loads a sentencepiece ModelProto (tokenizer.model). Throws Error naming the file
    // when it is missing, not a sentencepiece model, or the plugin cannot be loaded.
    static std::shared_ptr<Tokenizer> load(const std::string &modelPath);
    // Trains a new model with the plugin; throws Error with sentencepiece's message.
    static void train(const TokenizerTrainingOptions &options);

    ~Tokenizer();
    Tokenizer(const Tokenizer &) = delete;
    Tokenizer &operator=(const Tokenizer &) = delete;

    std::vector<int64_t> encode(const std::string &text, bool addBos = false) const;
    std::string decode(const std::vector<int64_t> &ids) const;
    // The raw piece, e.g. "▁the" or "<0x0A>".
    std::string piece(int64_t id) const;
    int64_t pieceToId(const std::string &piece) const;   // unkId() when absent
    // Text of one token as printed while streaming, the way llama2.c's run does it:
    // "▁" becomes a space, byte pieces become their byte, and the leading space of the
    // first piece after BOS is dropped.
    std::string streamPiece(int64_t previousId, int64_t id) const;

    int64_t vocabSize() const;
    int64_t bosId() const;
    int64_t eosId() const;
    int64_t unkId() const;
    int64_t padId() const;   // -1 when the model has none
    const std::string &path() const { return m_path; }

    // Where the plugin was loaded from (for diagnostics); empty when it cannot be loaded.
    static std::string pluginPath();

private:
    Tokenizer() = default;
    void checkId(int64_t id) const;

    void *m_handle = nullptr;   // plugin-side processor
    std::string m_path;
    // Copied from the model at load time: lookups while streaming need no plugin call.
    std::vector<std::string> m_pieces;
    std::vector<uint8_t> m_kinds;   // PieceKind bits, see Tokenizer.cpp
    int64_t m_bos = -1;
    int64_t m_eos = -1;
    int64_t m_unk = -1;
    int64_t m_pad = -1;
};

} // namespace nugget
