/* libqlm: the public C API of qlm, a CPU-only LLM inference runtime.
 *
 * Models are .qlm files; GGUF, Hugging Face safetensors folders and llama2.c
 * checkpoints are converted first with `qlm convert`.
 *
 * Conventions (every function):
 *  - Fallible calls return a qlm_status; QLM_OK is 0. On failure a one-line
 *    message naming the problem is kept per thread: qlm_last_error().
 *  - Handles are opaque. Whoever creates a handle frees it; a NULL handle
 *    passed to a *_free / *_close call is a no-op, to any other call an
 *    error (QLM_E_ARG), never a crash.
 *  - Buffers returned through `char **out` are malloc'd; free with qlm_free().
 *  - Thread-safety: a model is immutable once open and may be shared by any
 *    number of contexts in any threads; a context or a sampler is used by one
 *    thread at a time. The only global mutable state is the kernel (ISA)
 *    choice, qlm_set_isa(), which must not race with evaluation, and the log
 *    hook, qlm_set_log_callback(), which may be set at any time.
 *  - ABI: parameter structs start with a `size` field and are obtained from
 *    *_default() functions, so fields can be appended in later versions
 *    without breaking binaries built against this one.
 */
#ifndef QLM_H
#define QLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QLM_VERSION_MAJOR 0
#define QLM_VERSION_MINOR 3
#define QLM_VERSION_PATCH 0
#define QLM_VERSION_NUMBER (QLM_VERSION_MAJOR * 10000 + QLM_VERSION_MINOR * 100 + QLM_VERSION_PATCH)

/* The library's version: "MAJOR.MINOR.PATCH" and QLM_VERSION_NUMBER's encoding. */
const char *qlm_version(void);
int qlm_version_number(void);

/* Status codes. Inside qlm this enum comes from formats/common/err.h (same
 * names and values; tests/unit/test_api_abi.c checks they agree). */
#ifndef QLM_ERR_H
typedef enum {
    QLM_OK = 0,
    QLM_E_IO, QLM_E_NOMEM, QLM_E_ARG, QLM_E_MAGIC, QLM_E_VERSION, QLM_E_TRUNCATED,
    QLM_E_BOUNDS, QLM_E_OVERLAP, QLM_E_ALIGN, QLM_E_DUPLICATE, QLM_E_OVERFLOW, QLM_E_SIZE,
    QLM_E_DTYPE, QLM_E_UTF8, QLM_E_CHECKSUM, QLM_E_JSON, QLM_E_MISSING, QLM_E_SHAPE,
    QLM_E_ARCH, QLM_E_VALUE, QLM_E_LIMIT, QLM_E_UNSUPPORTED, QLM_E_ZSTD, QLM_E_TOKENIZER,
    QLM_E_TEMPLATE, QLM_E_INTERRUPTED,
    QLM_E_COUNT
} qlm_status;
#endif

/* The code's name ("QLM_E_MAGIC"); "QLM_E_UNKNOWN" for a value out of range. */
const char *qlm_strerror(qlm_status s);
/* This thread's last error message ("" if none). Valid until the next qlm call. */
const char *qlm_last_error(void);
void qlm_free(void *p);

/* Kernel set: "scalar", "avx2", "avx512", "neon" (QLM_E_UNSUPPORTED if this
 * CPU or build lacks it). All sets give bit-identical results. */
qlm_status qlm_set_isa(const char *name);
const char *qlm_isa(void); /* name of the set in use, NULL on error */

/* ---- logging ---------------------------------------------------------------- */

/* Notes and summaries that are not errors (e.g. "context capped at N tokens")
 * go to one hook; the library never writes to stdout or stderr itself
 * (except qlm_catch_sigbus's handler, which cannot call back from a signal).
 * Messages are one line, without newline or "qlm:" prefix. The default hook
 * writes "qlm: <level>: <message>\n" to stderr (level: "error", "warning",
 * "note", "debug"). Inside qlm this comes from formats/common/log.h. */
#ifndef QLM_LOG_H
typedef enum { QLM_LOG_ERROR, QLM_LOG_WARN, QLM_LOG_INFO, QLM_LOG_DEBUG } qlm_log_level;
typedef void (*qlm_log_fn)(void *user, qlm_log_level level, const char *msg);
#endif

/* Replace the hook (fn NULL: back to stderr; a function that does nothing
 * silences qlm). Thread-safe, callable at any time: the hook is called from
 * whichever thread logs but never by two threads at once, and once this call
 * returns the previous hook is never called again (its `user` may be freed).
 * The hook may call qlm functions, including this one. */
void qlm_set_log_callback(qlm_log_fn fn, void *user);

/* ---- model ---------------------------------------------------------------- */

typedef struct qlm_lm qlm_lm;

/* Open a .qlm file (memory-mapped, weights used in place) and its tokenizer
 * (a .qlm may have none: then the tokenizer calls return QLM_E_MISSING).
 * *out is NULL on failure. Errors: QLM_E_IO, QLM_E_MAGIC, QLM_E_SHAPE, ... */
qlm_status qlm_lm_open(const char *path, qlm_lm **out);

typedef struct {
    size_t size;           /* sizeof(qlm_lm_params) */
    const char *tokenizer; /* NULL: the model's own; else a tokenizer.json, a Hugging Face
                              folder, a GGUF, a llama2.c tokenizer .bin or another .qlm */
    int vocab_only;        /* 1: open only the tokenizer of `path` (any of the kinds above);
                              no weights are mapped and qlm_session_new fails with
                              QLM_E_MISSING. For tokenizing and template rendering. */
} qlm_lm_params;

qlm_lm_params qlm_lm_params_default(void);
/* qlm_lm_open with options; p NULL: defaults. */
qlm_status qlm_lm_open_params(const char *path, const qlm_lm_params *p, qlm_lm **out);
/* Close; every context made from the model must be freed first. */
void qlm_lm_close(qlm_lm *lm);
/* Optional, process-wide. A model file that is truncated or rewritten in
 * place while open makes the next access to its weights raise SIGBUS (the
 * mapping lost its pages; no check can prevent it). After this call such a
 * fault writes "qlm: <file> changed or was truncated while in use" to stderr
 * and ends the process with _exit(1) instead of a crash; a SIGBUS anywhere
 * else keeps the default action. It replaces any SIGBUS handler you had.
 * Replace model files by writing a new file and renaming it over the old one
 * (as `qlm convert` does): open mappings then keep the old contents.
 * Errors: QLM_E_IO if the handler cannot be installed. */
qlm_status qlm_catch_sigbus(void);

typedef struct {
    size_t size;            /* sizeof(qlm_lm_info), set by the caller */
    const char *arch;       /* "llama", "qwen2", "qwen3" */
    int64_t n_vocab, dim, n_layers, n_heads, n_kv_heads, head_dim, ffn, ctx_max;
    int32_t bos, eos;       /* -1 if none */
    int add_bos;            /* 1: prompts start with BOS by default */
    const char *chat_template; /* Jinja text stored in the model, or NULL */
    /* since 0.2: */
    int has_weights;        /* 0 for a vocab_only handle (then the sizes above are 0) */
    int64_t n_tokens;       /* tokenizer vocabulary size; 0: no tokenizer */
} qlm_lm_info;

/* Fill `info` (strings owned by the model). info->size must be set; fields
 * past it are not written, so a program built against 0.1 still works.
 * QLM_E_ARG for NULL or a size too small. */
qlm_status qlm_lm_get_info(const qlm_lm *lm, qlm_lm_info *info);

/* ---- tokenizer ------------------------------------------------------------ */

/* Encode UTF-8 text; add_bos -1: the model's default, 0/1: no/yes;
 * parse_special: 1 turns "<|im_start|>"-like text into special ids.
 * *ids is malloc'd (qlm_free). Thread-safe on a shared model. */
qlm_status qlm_tokenize(const qlm_lm *lm, const char *text, size_t len, int add_bos, int parse_special,
                        int32_t **ids, size_t *n_ids);
/* Decode a whole sequence; *text malloc'd and NUL-terminated. */
qlm_status qlm_detokenize(const qlm_lm *lm, const int32_t *ids, size_t n, char **text, size_t *len);
/* 1 if the id ends generation (EOS, end-of-turn). */
int qlm_is_eog(const qlm_lm *lm, int32_t id);
/* The token's vocabulary text (e.g. "<think>", "\u0120the" for byte-level BPE,
 * "\u2581the" for SentencePiece), owned by the model, not NUL-terminated:
 * *len bytes. NULL (QLM_E_ARG) for an id out of range or no tokenizer. */
const char *qlm_token_text(const qlm_lm *lm, int32_t id, size_t *len);

/* Streaming decoder: push ids one at a time; only complete UTF-8 characters
 * come out, so output can be printed as it arrives. The concatenation of all
 * pushes and the final flush equals qlm_detokenize() of the same ids. The
 * returned string is owned by the stream and valid until the next call. */
typedef struct qlm_detok qlm_detok;
qlm_status qlm_detok_new(const qlm_lm *lm, qlm_detok **out);
void qlm_detok_free(qlm_detok *d);
const char *qlm_detok_next(qlm_detok *d, int32_t id, size_t *len);
const char *qlm_detok_end(qlm_detok *d, size_t *len);

/* ---- chat templates --------------------------------------------------------- */

typedef struct {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content; /* UTF-8, NUL-terminated */
} qlm_message;

/* Flags of qlm_chat_apply (0: neither, enable_thinking left undefined). */
enum {
    QLM_CHAT_ADD_GENERATION_PROMPT = 1, /* end with the assistant's header */
    QLM_CHAT_THINKING_ON = 2,           /* enable_thinking=True (Qwen3) */
    QLM_CHAT_THINKING_OFF = 4           /* enable_thinking=False */
};

/* Render messages as Hugging Face apply_chat_template does, with bos_token
 * and eos_token the model's. tpl: Jinja text, or NULL for the model's own
 * template (QLM_E_MISSING if it has none). flags: QLM_CHAT_* ORed (QLM_E_ARG
 * for unknown bits or both THINKING flags). *out malloc'd and NUL-terminated.
 * QLM_E_TEMPLATE names the construct and the line, also for a template's
 * raise_exception(). Tokenize the result with add_bos 0 and parse_special 1
 * (as transformers does); text a user typed that looks like a special token
 * is then parsed as one too: to keep it plain, tokenize message contents
 * with parse_special 0 (runtime/chat does this). */
qlm_status qlm_chat_apply(const qlm_lm *lm, const char *tpl, const qlm_message *msgs, size_t n, int flags,
                           char **out, size_t *len);
/* Parse a template without rendering it: QLM_E_TEMPLATE naming the
 * unsupported construct and its line, so a bad template is reported before
 * a conversation starts. */
qlm_status qlm_chat_check(const char *tpl);
/* A built-in template's text (chatml, llama3, llama2, zephyr, qwen3) or NULL. */
const char *qlm_chat_builtin(const char *name);
/* Their names, for a usage message: "chatml, llama3, ...". */
const char *qlm_chat_builtin_names(void);

/* ---- context (KV cache) ----------------------------------------------------- */

typedef struct qlm_session qlm_session;

/* Called between chunks of a long evaluation with tokens done / total;
 * return non-zero to cancel (the call then returns QLM_E_INTERRUPTED, and
 * the tokens already evaluated stay in the cache). */
typedef int (*qlm_progress_fn)(void *user, int64_t done, int64_t total);

typedef struct {
    size_t size;          /* sizeof(qlm_session_params) */
    int64_t n_ctx;        /* 0: the model's maximum, capped by memory */
    int n_threads;        /* 0: QLM_THREADS or the physical cores */
    int64_t n_batch;      /* tokens per forward chunk; 0: 512 */
    qlm_progress_fn progress; /* NULL: none */
    void *progress_user;
    /* since 0.3: */
    int kv_type;          /* QLM_KV_F32 (default) or QLM_KV_Q8 */
} qlm_session_params;

/* KV cache storage. Q8: per position and KV head, blocks of 32 values (the
 * whole head if head_dim is not a multiple of 32) stored as int8 codes and
 * an f32 scale, q = clamp(rne(x * 127/amax), -127, 127), d = amax/127;
 * attention reads d * q. About 3.6x less memory than f32 at head_dim 64 or
 * 128; logits stay bit-identical across kernel sets, threads and batching. */
enum { QLM_KV_F32 = 0, QLM_KV_Q8 = 1 };

qlm_session_params qlm_session_params_default(void);
/* A context on `lm` (which must outlive it). p NULL: defaults. Its memory
 * (KV cache and scratch) is checked before anything is allocated against
 * half the available memory ($QLM_MEM_LIMIT, e.g. "4G", else MemAvailable):
 * n_ctx 0 is capped to fit (a note is logged); a given n_ctx that does not
 * fit fails with QLM_E_NOMEM and a message naming both sizes; n_ctx above
 * 2^20 is QLM_E_LIMIT; a malformed QLM_MEM_LIMIT is QLM_E_ARG. */
qlm_status qlm_session_new(const qlm_lm *lm, const qlm_session_params *p, qlm_session **out);
void qlm_session_free(qlm_session *s);
int64_t qlm_session_n_ctx(const qlm_session *s); /* -1 for NULL */
int64_t qlm_session_pos(const qlm_session *s);   /* tokens in the cache; -1 for NULL */
int qlm_session_n_threads(const qlm_session *s); /* worker threads; -1 for NULL */
/* Bytes of the session's KV cache (all n_ctx positions, K and V, every
 * layer; allocated when the session is made); -1 for NULL. Since 0.3. */
int64_t qlm_session_kv_bytes(const qlm_session *s);
/* Forget positions >= pos. */
qlm_status qlm_session_truncate(qlm_session *s, int64_t pos);

/* Append n tokens at the current position. logits NULL, or room for n_vocab
 * floats (the last token's) or n * n_vocab (all_logits != 0), row-major.
 * QLM_E_LIMIT if the context would overflow (nothing is evaluated). */
qlm_status qlm_session_eval(qlm_session *s, const int32_t *tokens, int64_t n, float *logits, int all_logits);

/* State = position + KV cache rows in use. The buffer is portable between
 * contexts of the same model and KV cache type (any n_ctx >= the saved
 * position); loading a q8 state into an f32 session (or the reverse) is
 * QLM_E_DTYPE. */
qlm_status qlm_session_state_size(const qlm_session *s, size_t *size);
qlm_status qlm_session_state_save(const qlm_session *s, void *buf, size_t cap, size_t *written);
qlm_status qlm_session_state_load(qlm_session *s, const void *buf, size_t len);
qlm_status qlm_session_state_save_file(const qlm_session *s, const char *path);
qlm_status qlm_session_state_load_file(qlm_session *s, const char *path);

/* ---- sampling ------------------------------------------------------------- */

typedef struct qlm_token_sampler qlm_token_sampler;

/* Hugging Face's order: repetition penalty, then greedy (temp 0) or
 * temperature, top-k, top-p, min-p and a seeded draw. Same seed, same tokens
 * on every platform. */
typedef struct {
    size_t size;            /* sizeof(qlm_sampling_params) */
    double temp;            /* 0: greedy */
    int64_t top_k;          /* 0: off */
    double top_p;           /* 1: off */
    double min_p;           /* 0: off */
    double repeat_penalty;  /* 1: off */
    int64_t repeat_last_n;  /* window; -1: the whole history */
    uint64_t seed;
    /* since 0.2: */
    int method;             /* QLM_SAMPLING_HF (the above), QLM_SAMPLING_LLAMA2C */
} qlm_sampling_params;

enum {
    QLM_SAMPLING_HF = 0,
    /* llama2.c run.c's sample(): temperature, then top-p (or a plain draw) with
     * run.c's xorshift generator; only temp, top_p and seed are used. */
    QLM_SAMPLING_LLAMA2C = 1
};

/* temp 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty, seed 0. */
qlm_sampling_params qlm_sampling_params_default(void);
/* The defaults overridden by the model's generation_config.json (temperature,
 * top-k, top-p, repetition penalty) where the model recorded them. */
qlm_status qlm_sampling_params_model(const qlm_lm *lm, qlm_sampling_params *out);
/* QLM_E_ARG naming the parameter if one is out of range. */
qlm_status qlm_token_sampler_new(const qlm_lm *lm, const qlm_sampling_params *p, qlm_token_sampler **out);
void qlm_token_sampler_free(qlm_token_sampler *s);
/* Next token from n_vocab logits (used as scratch: modified). hist: the
 * n_hist tokens so far (for the repetition penalty; may be NULL if 0).
 * Returns -1 (QLM_E_ARG) on bad arguments. */
int32_t qlm_token_sampler_sample(qlm_token_sampler *s, float *logits, const int32_t *hist, size_t n_hist);

/* ---- GPU numeric paths and per-layer dumps (docs/GPU-NUMERICS.md sections
 * 5 and 6; this block is maintained with the GPU numerics) ---- */

/* How the session's linear layers compute: "native" (default), "f32", "bf16",
 * "w4a16", "fp8-w8a8", "nvfp4", "mxfp4". QLM_E_DTYPE naming the tensor if a
 * weight cannot run the path, QLM_E_ARG for an unknown name. Set it before
 * evaluating (or after truncating to 0): cached positions keep the old path. */
qlm_status qlm_session_set_path(qlm_session *s, const char *path);

/* Called during qlm_session_eval with every per-layer tensor of each chunk
 * (names and meanings: docs/GPU-NUMERICS.md section 6); rows = the chunk's
 * tokens, row-major. dtype: 0 f32, 1 f16, 2 bf16, 16 E4M3 (one code per byte).
 * The data is valid only during the call. fn NULL stops the dumps. */
typedef void (*qlm_session_dump_fn)(void *user, const char *name, uint32_t dtype, int64_t rows, int64_t cols,
                                    const void *data);
qlm_status qlm_session_set_dump(qlm_session *s, qlm_session_dump_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
