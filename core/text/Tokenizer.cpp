#include "text/Tokenizer.h"

#include "Error.h"
#include "plugins/spm/SpmPlugin.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLibrary>
#include <QStringList>

#include <algorithm>
#include <cstdlib>

namespace nugget {

namespace {

constexpr const char *kPluginFileName = "libnugget_spm.so";
// Real tokenizer models are well below 10 MB (LLaMA-2's is 0.5 MB); anything bigger
// is not one, and is not worth reading into memory to find out.
constexpr qint64 kMaxModelBytes = 64ll * 1024 * 1024;

enum PieceKind : uint8_t { Normal = 0, Control = 1, Byte = 2, Unknown = 4 };

const std::string kSpaceMarker = "\xe2\x96\x81";   // U+2581, sentencepiece's space

// The plugin's entry points, resolved once per process.
struct SpmApi
{
    std::string path;
    std::string error;   // non-empty when the plugin could not be loaded

    NuggetSpmFreeFn free = nullptr;
    NuggetSpmLoadBytesFn loadBytes = nullptr;
    NuggetSpmProcessorFreeFn processorFree = nullptr;
    NuggetSpmEncodeFn encode = nullptr;
    NuggetSpmDecodeFn decode = nullptr;
    NuggetSpmIntQueryFn vocabSize = nullptr;
    NuggetSpmIdToPieceFn idToPiece = nullptr;
    NuggetSpmPieceToIdFn pieceToId = nullptr;
    NuggetSpmIntQueryFn bosId = nullptr;
    NuggetSpmIntQueryFn eosId = nullptr;
    NuggetSpmIntQueryFn unkId = nullptr;
    NuggetSpmIntQueryFn padId = nullptr;
    NuggetSpmIdPredicateFn isByte = nullptr;
    NuggetSpmIdPredicateFn isControl = nullptr;
    NuggetSpmIdPredicateFn isUnknown = nullptr;
    NuggetSpmTrainOptionsFn trainOptions = nullptr;

    // A message from the plugin, released after copying.
    std::string takeMessage(char *message) const
    {
        std::string text = message ? std::string(message) : std::string("unknown error");
        free(message);
        return text;
    }
};

QStringList pluginSearchDirs()
{
    QStringList dirs;
    const QString fromEnv = qEnvironmentVariable("NUGGET_PLUGIN_DIR");
    for (const QString &dir : fromEnv.split(QDir::listSeparator(), Qt::SkipEmptyParts))
        dirs << dir;
    if (QCoreApplication::instance()) {
        dirs << QCoreApplication::applicationDirPath();
    } else {
        const QString exe = QFile::symLinkTarget(QStringLiteral("/proc/self/exe"));
        if (!exe.isEmpty())
            dirs << QFileInfo(exe).absolutePath();
    }
#ifdef NUGGET_BUILD_PLUGIN_DIR
    dirs << QStringLiteral(NUGGET_BUILD_PLUGIN_DIR);
#endif
#ifdef NUGGET_INSTALL_PLUGIN_DIR
    dirs << QStringLiteral(NUGGET_INSTALL_PLUGIN_DIR);
#endif
    dirs.removeDuplicates();
    return dirs;
}

template <typename Fn>
bool resolve(QLibrary &library, const char *name, Fn &target, QStringList &missing)
{
    target = reinterpret_cast<Fn>(library.resolve(name));
    if (!target)
        missing << QString::fromLatin1(name);
    return target != nullptr;
}

// Empty on success, else why this candidate was rejected.
QString tryLoad(const QString &file, SpmApi &api)
{
    // RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND: QLibrary adds RTLD_LOCAL unless told to
    // export symbols. DEEPBIND makes the plugin and sentencepiece bind to their own
    // protobuf copy before the one libtorch brought into the process.
    auto *library = new QLibrary(file);
    library->setLoadHints(QLibrary::ResolveAllSymbolsHint | QLibrary::DeepBindHint);
    if (!library->load()) {
        const QString why = library->errorString();
        delete library;
        return why;
    }
    NuggetSpmAbiVersionFn abiVersion = nullptr;
    QStringList missing;
    if (resolve(*library, "nugget_spm_abi_version", abiVersion, missing)) {
        const int version = abiVersion();
        if (version != NUGGET_SPM_ABI_VERSION) {
            library->unload();
            delete library;
            return QStringLiteral("plugin ABI version %1, expected %2 (stale build or install?)")
                .arg(version)
                .arg(NUGGET_SPM_ABI_VERSION);
        }
    }
    resolve(*library, "nugget_spm_free", api.free, missing);
    resolve(*library, "nugget_spm_load_bytes", api.loadBytes, missing);
    resolve(*library, "nugget_spm_processor_free", api.processorFree, missing);
    resolve(*library, "nugget_spm_encode", api.encode, missing);
    resolve(*library, "nugget_spm_decode", api.decode, missing);
    resolve(*library, "nugget_spm_vocab_size", api.vocabSize, missing);
    resolve(*library, "nugget_spm_id_to_piece", api.idToPiece, missing);
    resolve(*library, "nugget_spm_piece_to_id", api.pieceToId, missing);
    resolve(*library, "nugget_spm_bos_id", api.bosId, missing);
    resolve(*library, "nugget_spm_eos_id", api.eosId, missing);
    resolve(*library, "nugget_spm_unk_id", api.unkId, missing);
    resolve(*library, "nugget_spm_pad_id", api.padId, missing);
    resolve(*library, "nugget_spm_is_byte", api.isByte, missing);
    resolve(*library, "nugget_spm_is_control", api.isControl, missing);
    resolve(*library, "nugget_spm_is_unknown", api.isUnknown, missing);
    resolve(*library, "nugget_spm_train_options", api.trainOptions, missing);
    if (!missing.isEmpty()) {
        api = SpmApi{};
        library->unload();
        delete library;
        return QStringLiteral("missing functions: ") + missing.join(QStringLiteral(", "));
    }
    // Deliberately never unloaded: sentencepiece keeps static state, and unloading at
    // exit buys nothing.
    api.path = QFileInfo(file).absoluteFilePath().toStdString();
    return {};
}

SpmApi loadApi()
{
    SpmApi api;
    QStringList attempts;
    for (const QString &dir : pluginSearchDirs()) {
        const QString file = QDir(dir).filePath(QString::fromLatin1(kPluginFileName));
        if (!QFileInfo(file).isFile()) {
            attempts << file + QStringLiteral(": not found");
            continue;
        }
        const QString why = tryLoad(file, api);
        if (why.isEmpty())
            return api;
        attempts << file + QStringLiteral(": ") + why;
    }
    api.error = "cannot load the tokenizer plugin " + std::string(kPluginFileName) +
                " (set NUGGET_PLUGIN_DIR to the folder holding it); tried:\n  " +
                attempts.join(QStringLiteral("\n  ")).toStdString();
    return api;
}

const SpmApi &loadedApi()
{
    static const SpmApi instance = loadApi();   // thread-safe, once per process
    return instance;
}

const SpmApi &api()
{
    const SpmApi &instance = loadedApi();
    if (!instance.error.empty())
        throw Error(instance.error);
    return instance;
}

NuggetSpmProcessor *processorOf(void *handle) { return static_cast<NuggetSpmProcessor *>(handle); }

// Checks the top level of a serialized ModelProto (a sequence of protobuf fields) before
// sentencepiece sees it: the walk must end exactly at the end of the file, and the file
// must hold pieces (field 1) and the normalizer spec (field 3), which sentencepiece
// writes after the pieces. Protobuf alone accepts a file cut between two pieces as a
// smaller valid model; this catches such truncated downloads. Empty when plausible.
std::string modelProtoProblem(const QByteArray &bytes)
{
    const auto *data = reinterpret_cast<const unsigned char *>(bytes.constData());
    const size_t size = static_cast<size_t>(bytes.size());
    size_t at = 0;
    auto readVarint = [&](uint64_t &value) {
        value = 0;
        for (int shift = 0; shift < 64 && at < size; shift += 7) {
            const unsigned char byte = data[at++];
            value |= uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80))
                return true;
        }
        return false;
    };
    size_t pieces = 0;
    bool normalizerSpec = false;
    while (at < size) {
        const size_t fieldStart = at;
        uint64_t key = 0;
        if (!readVarint(key) || (key >> 3) == 0)
            return "malformed field at byte " + std::to_string(fieldStart);
        const uint64_t field = key >> 3;
        uint64_t skip = 0;
        switch (key & 7) {
        case 0: {
            uint64_t ignored;
            if (!readVarint(ignored))
                return "truncated at byte " + std::to_string(at);
            break;
        }
        case 1: skip = 8; break;
        case 5: skip = 4; break;
        case 2:
            if (!readVarint(skip))
                return "truncated at byte " + std::to_string(at);
            break;
        default:
            return "malformed field at byte " + std::to_string(fieldStart);
        }
        if (skip > size - at)
            return "truncated: field " + std::to_string(field) + " at byte " +
                   std::to_string(fieldStart) + " needs " + std::to_string(skip) +
                   " bytes, the file ends after " + std::to_string(size - at);
        at += skip;
        if ((key & 7) == 2 && field == 1)
            ++pieces;
        if ((key & 7) == 2 && field == 3)
            normalizerSpec = true;
    }
    if (pieces == 0)
        return "no pieces";
    if (!normalizerSpec)
        return "no normalizer spec after the " + std::to_string(pieces) +
               " pieces; the file looks truncated";
    return {};
}

std::string notAModel(const std::string &path, const std::string &why)
{
    return path + ": not a sentencepiece model (" + why + ")";
}

} // namespace

std::shared_ptr<Tokenizer> Tokenizer::load(const std::string &modelPath)
{
    const QString file = QString::fromStdString(modelPath);
    const QFileInfo info(file);
    if (!info.exists())
        throw Error(modelPath + ": tokenizer model not found");
    if (!info.isFile())
        throw Error(notAModel(modelPath, "not a regular file"));
    if (info.size() < 1)
        throw Error(notAModel(modelPath, "empty file"));
    if (info.size() > kMaxModelBytes)
        throw Error(notAModel(modelPath, std::to_string(info.size()) +
                                             " bytes, more than a tokenizer model can be"));
    QFile input(file);
    if (!input.open(QIODevice::ReadOnly))
        throw Error(modelPath + ": cannot read the tokenizer model (" +
                    input.errorString().toStdString() + ")");
    const QByteArray bytes = input.readAll();
    input.close();
    if (bytes.isEmpty())
        throw Error(notAModel(modelPath, "empty file"));
    // A ModelProto starts with its pieces: field 1, length-delimited, key byte 0x0a.
    // Text files (git-lfs pointers, HTML error pages, JSON) fail here.
    if (static_cast<unsigned char>(bytes.at(0)) != 0x0a)
        throw Error(notAModel(modelPath, "does not start like a protobuf ModelProto"));
    if (const std::string problem = modelProtoProblem(bytes); !problem.empty())
        throw Error(notAModel(modelPath, problem));

    const SpmApi &spm = loadedApi();
    if (!spm.error.empty())
        throw Error(modelPath + ": cannot load the tokenizer: " + spm.error);
    NuggetSpmProcessor *processor = nullptr;
    char *message = nullptr;
    if (spm.loadBytes(bytes.constData(), static_cast<size_t>(bytes.size()), &processor,
                      &message) != NUGGET_SPM_OK)
        throw Error(notAModel(modelPath, spm.takeMessage(message)));

    std::shared_ptr<Tokenizer> tokenizer(new Tokenizer);
    tokenizer->m_handle = processor;   // owned from here on: freed by ~Tokenizer
    tokenizer->m_path = modelPath;
    tokenizer->m_bos = spm.bosId(processor);
    tokenizer->m_eos = spm.eosId(processor);
    tokenizer->m_unk = spm.unkId(processor);
    tokenizer->m_pad = spm.padId(processor);
    const int32_t size = spm.vocabSize(processor);
    tokenizer->m_pieces.reserve(static_cast<size_t>(size));
    tokenizer->m_kinds.reserve(static_cast<size_t>(size));
    for (int32_t id = 0; id < size; ++id) {
        size_t length = 0;
        char *piece = spm.idToPiece(processor, id, &length);
        tokenizer->m_pieces.emplace_back(piece ? std::string(piece, length) : std::string());
        spm.free(piece);
        uint8_t kind = Normal;
        if (spm.isControl(processor, id))
            kind |= Control;
        if (spm.isByte(processor, id))
            kind |= Byte;
        if (spm.isUnknown(processor, id))
            kind |= Unknown;
        tokenizer->m_kinds.push_back(kind);
    }
    return tokenizer;
}

void Tokenizer::train(const TokenizerTrainingOptions &options)
{
    const QFileInfo input(QString::fromStdString(options.inputFile));
    if (options.inputFile.empty() || !input.isFile())
        throw Error(options.inputFile + ": training text not found");
    if (!input.isReadable())
        throw Error(options.inputFile + ": training text is not readable");
    if (options.modelPrefix.empty())
        throw Error("tokenizer training: no model prefix given");
    const QFileInfo prefix(QString::fromStdString(options.modelPrefix));
    if (!prefix.absoluteDir().exists())
        throw Error(options.modelPrefix + ": the folder for the tokenizer model does not exist");
    if (options.vocabSize <= 0)
        throw Error("tokenizer training: vocabulary size must be positive, not " +
                    std::to_string(options.vocabSize));

    std::string symbols;
    for (const std::string &symbol : options.userDefinedSymbols) {
        // sentencepiece splits this list on commas and has no escape for them.
        if (symbol.empty() || symbol.find(',') != std::string::npos)
            throw Error("tokenizer training: user-defined symbol \"" + symbol +
                        "\" is empty or contains a comma, which sentencepiece cannot take");
        if (!symbols.empty())
            symbols += ',';
        symbols += symbol;
    }

    // Passed as key/value pairs, never as one command line: sentencepiece splits its
    // command-line form on spaces without any quoting, and the corpus path is read by
    // the plugin itself, so paths may hold spaces and commas.
    std::vector<std::pair<std::string, std::string>> settings = {
        {"model_prefix", options.modelPrefix},
        {"vocab_size", std::to_string(options.vocabSize)},
        {"model_type", options.modelType},
        {"character_coverage", QString::number(options.characterCoverage, 'g', 17).toStdString()},
        {"byte_fallback", options.byteFallback ? "true" : "false"},
        {"num_threads", std::to_string(std::max(1, options.numThreads))},
        // LLaMA's settings: ids 0-2 for unk, bos, eos and no padding piece; digits
        // split; text kept as is (no normalisation, whitespace runs kept).
        {"unk_id", "0"},
        {"bos_id", "1"},
        {"eos_id", "2"},
        {"pad_id", "-1"},
        {"split_digits", "true"},
        {"allow_whitespace_only_pieces", "true"},
        {"normalization_rule_name", "identity"},
        {"add_dummy_prefix", "true"},
        {"remove_extra_whitespaces", "false"},
        // Long documents are kept rather than skipped (sentencepiece's default is 4192 bytes).
        {"max_sentence_length", std::to_string(1 << 24)},
        // Warnings and errors only; INFO logs every iteration to stderr.
        {"minloglevel", "1"},
    };
    if (!symbols.empty())
        settings.emplace_back("user_defined_symbols", symbols);
    if (options.inputSentenceSize > 0) {
        settings.emplace_back("input_sentence_size", std::to_string(options.inputSentenceSize));
        settings.emplace_back("shuffle_input_sentence", "true");
    }

    std::vector<const char *> keys;
    std::vector<const char *> values;
    for (const auto &setting : settings) {
        keys.push_back(setting.first.c_str());
        values.push_back(setting.second.c_str());
    }
    const SpmApi &spm = api();
    char *message = nullptr;
    if (spm.trainOptions(keys.data(), values.data(), keys.size(), options.inputFile.c_str(),
                         &message) != NUGGET_SPM_OK)
        throw Error("tokenizer training on " + options.inputFile +
                    " failed: " + spm.takeMessage(message));
    if (!QFileInfo::exists(QString::fromStdString(options.modelPrefix + ".model")))
        throw Error("tokenizer training on " + options.inputFile + " wrote no " +
                    options.modelPrefix + ".model");
}

Tokenizer::~Tokenizer()
{
    if (m_handle)   // only ever set once the plugin was loaded
        loadedApi().processorFree(processorOf(m_handle));
}

void Tokenizer::checkId(int64_t id) const
{
    if (id < 0 || id >= static_cast<int64_t>(m_pieces.size()))
        throw Error(m_path + ": token id " + std::to_string(id) + " is outside the vocabulary of " +
                    std::to_string(m_pieces.size()));
}

std::vector<int64_t> Tokenizer::encode(const std::string &text, bool addBos) const
{
    const SpmApi &spm = api();
    int32_t *ids = nullptr;
    size_t count = 0;
    char *message = nullptr;
    if (spm.encode(processorOf(m_handle), text.data(), text.size(), &ids, &count, &message) !=
        NUGGET_SPM_OK)
        throw Error(m_path + ": cannot encode text: " + spm.takeMessage(message));
    std::vector<int64_t> result;
    result.reserve(count + 1);
    if (addBos && m_bos >= 0)
        result.push_back(m_bos);
    result.insert(result.end(), ids, ids + count);
    spm.free(ids);
    return result;
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids) const
{
    std::vector<int32_t> narrow;
    narrow.reserve(ids.size());
    for (const int64_t id : ids) {
        checkId(id);
        narrow.push_back(static_cast<int32_t>(id));
    }
    const SpmApi &spm = api();
    char *text = nullptr;
    size_t length = 0;
    char *message = nullptr;
    if (spm.decode(processorOf(m_handle), narrow.data(), narrow.size(), &text, &length,
                   &message) != NUGGET_SPM_OK)
        throw Error(m_path + ": cannot decode ids: " + spm.takeMessage(message));
    std::string result(text, length);
    spm.free(text);
    return result;
}

std::string Tokenizer::piece(int64_t id) const
{
    checkId(id);
    return m_pieces[static_cast<size_t>(id)];
}

int64_t Tokenizer::pieceToId(const std::string &piece) const
{
    return api().pieceToId(processorOf(m_handle), piece.data(), piece.size());
}

std::string Tokenizer::streamPiece(int64_t previousId, int64_t id) const
{
    checkId(id);
    const uint8_t kind = m_kinds[static_cast<size_t>(id)];
    const std::string &raw = m_pieces[static_cast<size_t>(id)];
    if (kind & Control)
        return {};
    if (kind & Byte) {
        // "<0xXX>"
        if (raw.size() == 6) {
            char *end = nullptr;
            const long value = std::strtol(raw.c_str() + 3, &end, 16);
            if (end == raw.c_str() + 5 && value >= 0 && value <= 255)
                return std::string(1, static_cast<char>(value));
        }
        return raw;
    }
    std::string text;
    text.reserve(raw.size());
    for (size_t at = 0; at < raw.size();) {
        if (raw.compare(at, kSpaceMarker.size(), kSpaceMarker) == 0) {
            text += ' ';
            at += kSpaceMarker.size();
        } else {
            text += raw[at++];
        }
    }
    // sentencepiece drops the dummy-prefix space of the first word after BOS.
    if (previousId == m_bos && !text.empty() && text.front() == ' ')
        text.erase(0, 1);
    return text;
}

int64_t Tokenizer::vocabSize() const { return static_cast<int64_t>(m_pieces.size()); }
int64_t Tokenizer::bosId() const { return m_bos; }
int64_t Tokenizer::eosId() const { return m_eos; }
int64_t Tokenizer::unkId() const { return m_unk; }
int64_t Tokenizer::padId() const { return m_pad; }

std::string Tokenizer::pluginPath()
{
    return loadedApi().path;   // empty when the plugin could not be loaded
}

} // namespace nugget
