#pragma once
// The C ABI of the sentencepiece plugin (libnugget_spm.so).
//
// sentencepiece is only ever linked into this module: Debian's libsentencepiece embeds
// protobuf 3.14 and exports its symbols, libtorch links protobuf 3.21, and a process
// holding both dies at start-up. nugget_core opens the module with
// RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND and reaches it only through these functions,
// looked up by name. Nothing C++ crosses the boundary: no exceptions, no std types.
//
// Conventions
// - Functions that can fail return NUGGET_SPM_OK or NUGGET_SPM_FAILED and, on failure,
//   store a NUL-terminated message in *error (when error is not null). Every buffer the
//   plugin hands out (messages, id arrays, text) is released with nugget_spm_free().
// - Text is UTF-8 passed as pointer + length; returned text comes with its length
//   because byte pieces can decode to NUL.
// - Ids outside [0, vocab size) are rejected, never passed on to sentencepiece (which
//   does not range-check them).
// - A processor handle may be used from several threads at once for the const
//   operations (encode, decode, lookups); load and free must not race with them.

#include <stddef.h>
#include <stdint.h>

// Bumped whenever a signature or a meaning below changes. The loader refuses a plugin
// whose nugget_spm_abi_version() differs from the value it was compiled with.
#define NUGGET_SPM_ABI_VERSION 1

#define NUGGET_SPM_OK 0
#define NUGGET_SPM_FAILED 1

#if defined(_WIN32)
#define NUGGET_SPM_EXPORT __declspec(dllexport)
#else
#define NUGGET_SPM_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct NuggetSpmProcessor NuggetSpmProcessor;

NUGGET_SPM_EXPORT int nugget_spm_abi_version(void);

// Releases anything the plugin returned (messages, id arrays, text). Null is fine.
NUGGET_SPM_EXPORT void nugget_spm_free(void *memory);

// Loads a serialized ModelProto from a file, or from bytes already in memory.
// On success *processor receives a handle for nugget_spm_processor_free().
NUGGET_SPM_EXPORT int nugget_spm_load_file(const char *path, NuggetSpmProcessor **processor,
                                           char **error);
NUGGET_SPM_EXPORT int nugget_spm_load_bytes(const void *data, size_t size,
                                            NuggetSpmProcessor **processor, char **error);
NUGGET_SPM_EXPORT void nugget_spm_processor_free(NuggetSpmProcessor *processor);

// text -> ids, without BOS/EOS. *ids is plugin-allocated (nugget_spm_free); it stays
// null when *count is 0.
NUGGET_SPM_EXPORT int nugget_spm_encode(const NuggetSpmProcessor *processor, const char *text,
                                        size_t length, int32_t **ids, size_t *count,
                                        char **error);
// ids -> text. *text is plugin-allocated and NUL-terminated; *length excludes the NUL.
NUGGET_SPM_EXPORT int nugget_spm_decode(const NuggetSpmProcessor *processor, const int32_t *ids,
                                        size_t count, char **text, size_t *length,
                                        char **error);

NUGGET_SPM_EXPORT int32_t nugget_spm_vocab_size(const NuggetSpmProcessor *processor);
// The raw piece of an id (e.g. "\xe2\x96\x81the", "<0x0A>"), plugin-allocated; null when
// the id is out of range.
NUGGET_SPM_EXPORT char *nugget_spm_id_to_piece(const NuggetSpmProcessor *processor, int32_t id,
                                               size_t *length);
// The id of a piece, or the unknown id when the model has no such piece.
NUGGET_SPM_EXPORT int32_t nugget_spm_piece_to_id(const NuggetSpmProcessor *processor,
                                                 const char *piece, size_t length);
// Special ids; -1 when the model does not define one.
NUGGET_SPM_EXPORT int32_t nugget_spm_bos_id(const NuggetSpmProcessor *processor);
NUGGET_SPM_EXPORT int32_t nugget_spm_eos_id(const NuggetSpmProcessor *processor);
NUGGET_SPM_EXPORT int32_t nugget_spm_unk_id(const NuggetSpmProcessor *processor);
NUGGET_SPM_EXPORT int32_t nugget_spm_pad_id(const NuggetSpmProcessor *processor);
// Piece kinds: 1 or 0 (0 as well for ids out of range).
NUGGET_SPM_EXPORT int nugget_spm_is_byte(const NuggetSpmProcessor *processor, int32_t id);
NUGGET_SPM_EXPORT int nugget_spm_is_control(const NuggetSpmProcessor *processor, int32_t id);
NUGGET_SPM_EXPORT int nugget_spm_is_unknown(const NuggetSpmProcessor *processor, int32_t id);

// Trains a model from sentencepiece's own command-line form,
// e.g. "--input=corpus.txt --model_prefix=m --vocab_size=8000". sentencepiece splits
// this string on single spaces and has no quoting, so values must not contain spaces;
// use nugget_spm_train_options() for arbitrary paths.
NUGGET_SPM_EXPORT int nugget_spm_train(const char *arguments, char **error);
// Trains a model from key/value pairs (keys without "--"), passed to sentencepiece
// verbatim: no splitting on spaces, so paths may contain any character. sentencepiece
// still splits repeated fields (input, user_defined_symbols, ...) on commas.
// When inputFile is not null the plugin reads the corpus itself, one sentence per line,
// so that path is never parsed at all; "input" must then be absent from the pairs.
NUGGET_SPM_EXPORT int nugget_spm_train_options(const char *const *keys,
                                               const char *const *values, size_t count,
                                               const char *inputFile, char **error);

#ifdef __cplusplus
} // extern "C"
#endif

// Function pointer types, for the loader's dlsym()/QLibrary::resolve() look-ups.
typedef int (*NuggetSpmAbiVersionFn)(void);
typedef void (*NuggetSpmFreeFn)(void *);
typedef int (*NuggetSpmLoadFileFn)(const char *, NuggetSpmProcessor **, char **);
typedef int (*NuggetSpmLoadBytesFn)(const void *, size_t, NuggetSpmProcessor **, char **);
typedef void (*NuggetSpmProcessorFreeFn)(NuggetSpmProcessor *);
typedef int (*NuggetSpmEncodeFn)(const NuggetSpmProcessor *, const char *, size_t, int32_t **,
                                 size_t *, char **);
typedef int (*NuggetSpmDecodeFn)(const NuggetSpmProcessor *, const int32_t *, size_t, char **,
                                 size_t *, char **);
typedef int32_t (*NuggetSpmIntQueryFn)(const NuggetSpmProcessor *);
typedef char *(*NuggetSpmIdToPieceFn)(const NuggetSpmProcessor *, int32_t, size_t *);
typedef int32_t (*NuggetSpmPieceToIdFn)(const NuggetSpmProcessor *, const char *, size_t);
typedef int (*NuggetSpmIdPredicateFn)(const NuggetSpmProcessor *, int32_t);
typedef int (*NuggetSpmTrainFn)(const char *, char **);
typedef int (*NuggetSpmTrainOptionsFn)(const char *const *, const char *const *, size_t,
                                       const char *, char **);
