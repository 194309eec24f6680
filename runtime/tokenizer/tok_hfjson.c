/* Hugging Face tokenizer import: tokenizer.json (model type BPE with the
 * ByteLevel pre-tokenizer), plus what sits beside it in the model folder:
 * tokenizer_config.json (bos/eos tokens, add_bos_token, chat_template),
 * chat_template.jinja, config.json and generation_config.json (bos/eos ids;
 * eos_token_id may be a list: every id in it ends generation).
 *
 * The pre-tokenizer is recognised structurally and named as llama.cpp names
 * it (runtime/tokenizer/pretok.h):
 *   ByteLevel(use_regex)                                   -> "gpt-2"
 *   Sequence[Digits(individual_digits), ByteLevel(use_regex)] -> "smollm"
 *   Sequence[Split(Qwen2 regex), ByteLevel(no regex)]      -> "qwen2"
 *   Sequence[Split(Llama-3 regex), ByteLevel(no regex)]    -> "llama-bpe"
 * anything else is QLM_E_UNSUPPORTED naming what was found. A BPE model
 * with byte_fallback is SentencePiece-style (see hf_spm_model).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/mapfile.h"
#include "runtime/tokenizer/tok_internal.h"

#define HF_MAX_JSON (512u << 20)
#define HF_MAX_SIDE (16u << 20)

static const char k_re_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_re_llama3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct {
    const char *path;       /* tokenizer.json */
    char dir[4096];         /* its folder */
    json_doc *doc;
    const char **tokens;    /* [n] borrowed from doc */
    size_t *lens;
    uint8_t *types;
    size_t n;
    const char **merges;    /* borrowed from doc, or owned when built from [a, b] pairs */
    size_t *merge_lens;
    char **owned_merges;
    size_t n_merges;
    int32_t eog[TOK_MAX_EOG];
    size_t n_eog;
    float *scores;          /* spm-style only */
    char *template_text;    /* owned */
    size_t template_len;
    json_doc *side[3];      /* tokenizer_config, config, generation_config */
    tok_build b;
} hf_ctx;

static void hf_free(hf_ctx *c)
{
    json_free(c->doc);
    for (int i = 0; i < 3; i++)
        json_free(c->side[i]);
    for (size_t i = 0; c->owned_merges && i < c->n_merges; i++)
        free(c->owned_merges[i]);
    free(c->owned_merges);
    free(c->tokens);
    free(c->lens);
    free(c->types);
    free(c->merges);
    free(c->merge_lens);
    free(c->template_text);
    free(c->scores);
}

static bool type_is(const json_value *v, const char *type)
{
    const char *t = json_get_str(v, "type");
    return t && strcmp(t, type) == 0;
}

/* Largest id in model.vocab and added_tokens, checking every id. */
static qlm_status hf_count(hf_ctx *c, const json_value *vocab, const json_value *added)
{
    int64_t max = -1;
    for (size_t i = 0; i < vocab->n; i++) {
        int64_t id;
        if (!json_as_i64(&vocab->u.members[i].value, &id) || id < 0 || id >= TOK_MAX_VOCAB)
            return qlm_fail(QLM_E_TOKENIZER, "%s: model.vocab[\"%.40s\"]: id not an integer in 0..%u", c->path,
                            vocab->u.members[i].key, TOK_MAX_VOCAB - 1);
        if (id > max)
            max = id;
    }
    for (size_t i = 0; added && i < added->n; i++) {
        int64_t id = json_get_i64(json_at(added, i), "id", -1);
        if (id < 0 || id >= TOK_MAX_VOCAB || !json_get_str(json_at(added, i), "content"))
            return qlm_fail(QLM_E_TOKENIZER, "%s: added_tokens[%zu]: bad id or content", c->path, i);
        if (id > max)
            max = id;
    }
    c->n = (size_t)(max + 1);
    return QLM_OK;
}

static qlm_status hf_vocab(hf_ctx *c, const json_value *model, const json_value *added)
{
    const json_value *vocab = json_get(model, "vocab");
    if (!vocab || vocab->type != JSON_OBJECT)
        return qlm_fail(QLM_E_TOKENIZER, "%s: model.vocab is not an object", c->path);
    qlm_status st = hf_count(c, vocab, added);
    if (st)
        return st;
    c->tokens = calloc(c->n, sizeof *c->tokens);
    c->lens = calloc(c->n, sizeof *c->lens);
    c->types = malloc(c->n);
    if (!c->tokens || !c->lens || !c->types)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu tokens", c->path, c->n);
    memset(c->types, TT_NORMAL, c->n);
    for (size_t i = 0; i < vocab->n; i++) {
        const json_member *m = &vocab->u.members[i];
        size_t id = (size_t)m->value.i;
        if (c->tokens[id])
            return qlm_fail(QLM_E_DUPLICATE, "%s: model.vocab: id %zu given twice", c->path, id);
        c->tokens[id] = m->key;
        c->lens[id] = m->key_len;
    }
    for (size_t i = 0; added && i < added->n; i++) {
        const json_value *a = json_at(added, i);
        size_t id = (size_t)json_get_i64(a, "id", 0), len;
        const char *s = json_as_str(json_get(a, "content"), &len);
        c->tokens[id] = s;
        c->lens[id] = len;
        c->types[id] = json_get_bool(a, "special", false) ? TT_CONTROL : TT_USER;
    }
    for (size_t id = 0; id < c->n; id++)
        if (!c->tokens[id])
            return qlm_fail(QLM_E_TOKENIZER, "%s: no token has id %zu (ids must be contiguous)", c->path, id);
    return QLM_OK;
}

/* A [left, right] pair as "left right" (owned). */
static char *pair_merge(const json_value *v, size_t *len)
{
    size_t la, lb;
    const char *a = json_as_str(json_at(v, 0), &la), *b = json_as_str(json_at(v, 1), &lb);
    if (!a || !b || v->n != 2)
        return NULL;
    char *m = malloc(la + lb + 2);
    if (m) {
        memcpy(m, a, la);
        m[la] = ' ';
        memcpy(m + la + 1, b, lb);
        m[la + lb + 1] = 0;
        *len = la + lb + 1;
    }
    return m;
}

static qlm_status hf_merges(hf_ctx *c, const json_value *model)
{
    const json_value *mg = json_get(model, "merges");
    if (!mg || mg->type != JSON_ARRAY)
        return qlm_fail(QLM_E_TOKENIZER, "%s: model.merges is not an array", c->path);
    size_t n = mg->n;
    c->merges = calloc(n ? n : 1, sizeof *c->merges);
    c->merge_lens = calloc(n ? n : 1, sizeof *c->merge_lens);
    c->owned_merges = calloc(n ? n : 1, sizeof *c->owned_merges);
    if (!c->merges || !c->merge_lens || !c->owned_merges)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu merges", c->path, n);
    c->n_merges = n;
    for (size_t i = 0; i < n; i++) {
        const json_value *v = json_at(mg, i);
        if (v->type == JSON_STRING) {
            c->merges[i] = v->u.str;
            c->merge_lens[i] = v->n;
        } else if (v->type == JSON_ARRAY && (c->owned_merges[i] = pair_merge(v, &c->merge_lens[i]))) {
            c->merges[i] = c->owned_merges[i];
        } else {
            return qlm_fail(QLM_E_TOKENIZER, "%s: model.merges[%zu] is neither \"a b\" nor [a, b]", c->path, i);
        }
    }
    return QLM_OK;
}

/* The pre-tokenizer's name, or NULL if it is not one we implement (a
 * ByteLevel with add_prefix_space would prepend a space we do not add). */
static const char *byte_level_pre(const json_value *pt)
{
    if (type_is(pt, "ByteLevel") && json_get_bool(pt, "add_prefix_space", false))
        return NULL;
    if (type_is(pt, "ByteLevel") && json_get_bool(pt, "use_regex", true))
        return "gpt-2";
    if (!type_is(pt, "Sequence"))
        return NULL;
    const json_value *seq = json_get(pt, "pretokenizers");
    if (!seq || seq->n != 2 || !type_is(json_at(seq, 1), "ByteLevel") ||
        json_get_bool(json_at(seq, 1), "add_prefix_space", false))
        return NULL;
    const json_value *first = json_at(seq, 0), *bl = json_at(seq, 1);
    bool bl_regex = json_get_bool(bl, "use_regex", true);
    if (type_is(first, "Digits") && json_get_bool(first, "individual_digits", false) && bl_regex)
        return "smollm";
    const char *re = json_get_str(json_get(first, "pattern"), "Regex");
    if (!type_is(first, "Split") || !re || bl_regex)
        return NULL;
    if (strcmp(re, k_re_qwen2) == 0)
        return "qwen2";
    if (strcmp(re, k_re_llama3) == 0)
        return "llama-bpe";
    return NULL;
}

/* ---- SentencePiece-style tokenizer.json (Llama-2, TinyLlama: BPE with
 * byte_fallback, "▁" for spaces). Encoded with spm.c; a piece's score is
 * minus the rank of the first merge that produces it, and -inf (never
 * formed by merging) when no merge does, so merging follows the merge list.
 * Like sentencepiece, any two adjacent symbols whose concatenation has a
 * score merge; tokenizer.json files converted from sentencepiece list every
 * such split, so this equals Hugging Face's pair-by-pair rule for them. */

static bool str_is(const json_value *v, const char *key, const char *want)
{
    const char *s = json_get_str(v, key);
    return s && strcmp(s, want) == 0;
}

/* How spaces become "▁" and whether a "▁" is prepended:
 * normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] (Llama-2 style), or
 * pre_tokenizer Metaspace("▁") (newer exports). */
static qlm_status hf_spm_spaces(hf_ctx *c, const json_value *root)
{
    const json_value *norm = json_get(root, "normalizer"), *pt = json_get(root, "pre_tokenizer");
    bool replace = false, prepend = false;
    const json_value *seq = type_is(norm, "Sequence") ? json_get(norm, "normalizers") : NULL;
    for (size_t i = 0; seq && i < seq->n; i++) {
        const json_value *n = json_at(seq, i);
        if (type_is(n, "Prepend") && str_is(n, "prepend", "\xE2\x96\x81"))
            prepend = true;
        else if (type_is(n, "Replace") && str_is(json_get(n, "pattern"), "String", " ") &&
                 str_is(n, "content", "\xE2\x96\x81"))
            replace = true;
        else
            return qlm_fail(QLM_E_UNSUPPORTED, "%s: normalizer step \"%s\" is not supported", c->path,
                            json_get_str(n, "type") ? json_get_str(n, "type") : "?");
    }
    if (type_is(pt, "Metaspace") && str_is(pt, "replacement", "\xE2\x96\x81")) {
        replace = true;
        prepend = json_get_bool(pt, "add_prefix_space", false) || str_is(pt, "prepend_scheme", "always") ||
                  str_is(pt, "prepend_scheme", "first");
    } else if (pt && pt->type != JSON_NULL) {
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: pre_tokenizer \"%s\" with byte_fallback is not supported", c->path,
                        json_get_str(pt, "type") ? json_get_str(pt, "type") : "?");
    }
    if (!replace)
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: byte_fallback BPE without the \" \" -> \"\xE2\x96\x81\" replacement",
                        c->path);
    c->b.add_space_prefix = prepend;
    return QLM_OK;
}

static qlm_status hf_spm_model(hf_ctx *c, const json_value *root, const json_value *model)
{
    c->b.kind = TOK_SPM;
    c->b.byte_fallback = true;
    qlm_status st = hf_spm_spaces(c, root);
    if (!st)
        st = hf_vocab(c, model, json_get(root, "added_tokens"));
    if (!st)
        st = hf_merges(c, model);
    if (st)
        return st;
    const char *unk = json_get_str(model, "unk_token");
    for (size_t i = 0; i < c->n; i++) {
        if (c->types[i] == TT_NORMAL && tok_byte_piece_value(c->tokens[i], c->lens[i]) >= 0)
            c->types[i] = TT_BYTE;
        if (unk && c->lens[i] == strlen(unk) && memcmp(c->tokens[i], unk, c->lens[i]) == 0) {
            c->types[i] = TT_UNKNOWN;
            c->b.unk = (int32_t)i;
        }
    }
    if (!(c->scores = malloc(c->n * sizeof *c->scores)))
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < c->n; i++)
        c->scores[i] = -INFINITY; /* filled from the merges once the lookup exists */
    c->b.scores = c->scores;
    return QLM_OK;
}

/* scores[piece] = -(rank of the first merge producing it). */
static qlm_status hf_spm_scores(const hf_ctx *c, qlm_tokenizer *t)
{
    char buf[2 * TOK_MAX_TOKEN_BYTES + 2];
    for (size_t r = 0; r < c->n_merges; r++) {
        const char *m = c->merges[r], *sp = memchr(m, ' ', c->merge_lens[r]);
        size_t len = c->merge_lens[r];
        if (!sp || len > sizeof buf)
            return qlm_fail(QLM_E_TOKENIZER, "%s: merge %zu is not \"left right\"", c->path, r);
        size_t la = (size_t)(sp - m);
        memcpy(buf, m, la);
        memcpy(buf + la, sp + 1, len - la - 1);
        int32_t id = qlm_tok_find(t, buf, len - 1);
        if (id < 0)
            return qlm_fail(QLM_E_TOKENIZER, "%s: merge %zu gives a piece not in the vocabulary", c->path, r);
        if (t->scores[id] == -INFINITY)
            t->scores[id] = -(float)r;
    }
    return QLM_OK;
}

static qlm_status hf_model(hf_ctx *c)
{
    const json_value *root = json_root(c->doc);
    const json_value *model = json_get(root, "model");
    if (!model || !type_is(model, "BPE"))
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: model type \"%s\" (only BPE is supported)", c->path,
                        model && json_get_str(model, "type") ? json_get_str(model, "type") : "?");
    if (json_get_bool(model, "byte_fallback", false))
        return hf_spm_model(c, root, model);
    const json_value *pt = json_get(root, "pre_tokenizer");
    const char *pre = byte_level_pre(pt);
    if (!pre)
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: pre_tokenizer of type \"%s\" is not a supported byte-level one",
                        c->path, pt && json_get_str(pt, "type") ? json_get_str(pt, "type") : "null");
    const json_value *norm = json_get(root, "normalizer");
    if (norm && norm->type != JSON_NULL && !type_is(norm, "NFC"))
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: normalizer \"%s\" is not supported", c->path,
                        json_get_str(norm, "type") ? json_get_str(norm, "type") : "?");
    c->b.pre = pre;
    c->b.normalizer = norm && type_is(norm, "NFC") ? "NFC" : NULL;
    c->b.ignore_merges = json_get_bool(model, "ignore_merges", false);
    qlm_status st = hf_vocab(c, model, json_get(root, "added_tokens"));
    return st ? st : hf_merges(c, model);
}

/* Optional JSON file beside tokenizer.json; *doc stays NULL if absent. */
static qlm_status side_json(hf_ctx *c, const char *name, json_doc **doc)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", c->dir, name);
    return qlm_is_file(p) ? json_parse_file(p, HF_MAX_SIDE, doc) : QLM_OK;
}

/* Lowest id whose text is s, or -1 (a handful of lookups: a scan is enough). */
static int32_t find_text(const hf_ctx *c, const char *s, size_t len)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->lens[i] == len && memcmp(c->tokens[i], s, len) == 0)
            return (int32_t)i;
    return -1;
}

/* A token given as "text" or {"content": "text"} -> id; *present tells
 * whether the key exists at all (null means "none"). */
static int32_t token_ref(const hf_ctx *c, const json_value *obj, const char *key, bool *present)
{
    const json_value *v = json_get(obj, key);
    *present = v != NULL;
    if (!v)
        return -1;
    size_t len;
    const char *s = json_as_str(v, &len);
    if (!s)
        s = json_as_str(json_get(v, "content"), &len);
    return s ? find_text(c, s, len) : -1;
}

/* config.json / generation_config.json: "x_token_id": int or [int...]. */
static int32_t id_field(const json_doc *doc, const char *key, hf_ctx *c, bool eog)
{
    if (!doc)
        return -1;
    const json_value *v = json_get(json_root(doc), key);
    int64_t id;
    if (v && json_as_i64(v, &id))
        return id >= 0 && id < (int64_t)c->n ? (int32_t)id : -1;
    if (!v || v->type != JSON_ARRAY || v->n == 0)
        return -1;
    int32_t first = -1;
    for (size_t i = 0; i < v->n; i++) {
        if (!json_as_i64(json_at(v, i), &id) || id < 0 || id >= (int64_t)c->n)
            continue;
        if (first < 0)
            first = (int32_t)id;
        if (eog && c->n_eog < TOK_MAX_EOG)
            c->eog[c->n_eog++] = (int32_t)id;
    }
    return first;
}

static qlm_status hf_template(hf_ctx *c, const json_value *tc)
{
    const json_value *ct = tc ? json_get(tc, "chat_template") : NULL;
    size_t len = 0;
    const char *s = json_as_str(ct, &len);
    for (size_t i = 0; !s && ct && ct->type == JSON_ARRAY && i < ct->n; i++) {
        const char *name = json_get_str(json_at(ct, i), "name");
        if (name && strcmp(name, "default") == 0)
            s = json_as_str(json_get(json_at(ct, i), "template"), &len);
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/chat_template.jinja", c->dir);
    if (!s && qlm_is_file(p))
        return qlm_read_file(p, HF_MAX_SIDE, &c->template_text, &c->template_len);
    if (s && !(c->template_text = malloc(len + 1)))
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    if (s) {
        memcpy(c->template_text, s, len);
        c->template_text[len] = 0;
        c->template_len = len;
    }
    return QLM_OK;
}

/* BOS/EOS/EOG, add_bos and the chat template, from the side files and the
 * post-processor. */
static qlm_status hf_specials(hf_ctx *c)
{
    qlm_status st;
    if ((st = side_json(c, "tokenizer_config.json", &c->side[0])) || (st = side_json(c, "config.json", &c->side[1])) ||
        (st = side_json(c, "generation_config.json", &c->side[2])))
        return st;
    const json_value *tc = c->side[0] ? json_root(c->side[0]) : NULL;
    bool has_bos = false, has_eos = false;
    c->b.bos = token_ref(c, tc, "bos_token", &has_bos);
    c->b.eos = token_ref(c, tc, "eos_token", &has_eos);
    bool present;
    int32_t pad = token_ref(c, tc, "pad_token", &present), unk = token_ref(c, tc, "unk_token", &present);
    c->b.pad = pad;
    if (unk >= 0) /* else keep model.unk_token (SentencePiece-style) */
        c->b.unk = unk;
    for (int i = 1; i <= 2; i++) {
        int32_t bos = id_field(c->side[i], "bos_token_id", c, false);
        int32_t eos = id_field(c->side[i], "eos_token_id", c, true);
        if (!has_bos && c->b.bos < 0)
            c->b.bos = bos;
        if (!has_eos && c->b.eos < 0)
            c->b.eos = eos;
    }
    /* add_bos: tokenizer_config's flag, else whether the post-processor
     * template starts with a special token (Llama-3 style). */
    const json_value *single = json_get(json_get(json_root(c->doc), "post_processor"), "single");
    const json_value *first = json_get(json_at(single, 0), "SpecialToken");
    bool pp_bos = false;
    if (first) {
        size_t len;
        const char *s = json_as_str(json_get(first, "id"), &len);
        int32_t id = s ? find_text(c, s, len) : -1;
        if (id >= 0) {
            pp_bos = true;
            if (c->b.bos < 0)
                c->b.bos = id;
        }
    }
    c->b.add_bos = tc && json_get(tc, "add_bos_token") ? json_get_bool(tc, "add_bos_token", false) : pp_bos;
    c->b.add_eos = tc ? json_get_bool(tc, "add_eos_token", false) : false;
    c->b.eog = c->eog;
    c->b.n_eog = c->n_eog;
    if ((st = hf_template(c, tc)))
        return st;
    c->b.chat_template = c->template_text;
    c->b.chat_template_len = c->template_len;
    return QLM_OK;
}

static qlm_status hf_open(hf_ctx *c, const char *path)
{
    snprintf(c->dir, sizeof c->dir, "%s", path);
    if (!qlm_is_dir(path)) {
        char *slash = strrchr(c->dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(c->dir, sizeof c->dir, ".");
    }
    return json_parse_file(c->path, HF_MAX_JSON, &c->doc);
}

qlm_status tok_load_hf(const char *path, qlm_tokenizer **out)
{
    hf_ctx c;
    memset(&c, 0, sizeof c);
    char file[4200];
    if (qlm_is_dir(path))
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
    else
        snprintf(file, sizeof file, "%s", path);
    c.path = file;
    tok_build_init(&c.b, TOK_BPE);
    c.b.origin = file;
    *out = NULL;
    qlm_status st = hf_open(&c, path);
    if (!st)
        st = hf_model(&c);
    if (!st)
        st = hf_specials(&c);
    if (!st) {
        c.b.n_vocab = c.n;
        c.b.tokens = c.tokens;
        c.b.token_lens = c.lens;
        c.b.types = c.types;
        c.b.merges = c.merges;
        c.b.merge_lens = c.merge_lens;
        c.b.n_merges = c.n_merges;
        st = tok_build_finish(&c.b, out);
    }
    if (!st && c.b.kind == TOK_SPM && (st = hf_spm_scores(&c, *out))) {
        qlm_tok_free(*out);
        *out = NULL;
    }
    hf_free(&c);
    return st;
}
