#include "runtime/tokenizer/unicode.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/unicode_data.h"

unsigned qlm_uc_flags(uint32_t cp)
{
    if (cp < 256)
        return qlm_ucd_latin1[cp];
    /* last run whose first code point is <= cp (run 0 starts at U+0000) */
    size_t lo = 0, hi = qlm_ucd_n_runs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (qlm_ucd_runs[mid].first <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return cp > 0x10FFFF ? QLM_UC_C : qlm_ucd_runs[lo].flags;
}

unsigned qlm_uc_ccc(uint32_t cp)
{
    size_t lo = 0, hi = qlm_ucd_n_cccs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (qlm_ucd_cccs[mid].hi < cp)
            lo = mid + 1;
        else if (qlm_ucd_cccs[mid].lo > cp)
            hi = mid;
        else
            return qlm_ucd_cccs[mid].ccc;
    }
    return 0;
}

/* Hangul syllables decompose and compose algorithmically (Unicode 3.12). */
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7,
       LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static const qlm_ucd_decomp *find_decomp(uint32_t cp)
{
    size_t lo = 0, hi = qlm_ucd_n_decomps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (qlm_ucd_decomps[mid].cp < cp)
            lo = mid + 1;
        else if (qlm_ucd_decomps[mid].cp > cp)
            hi = mid;
        else
            return &qlm_ucd_decomps[mid];
    }
    return NULL;
}

/* Primary composite of the pair, or 0. */
static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = qlm_ucd_n_comps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const qlm_ucd_comp *c = &qlm_ucd_comps[mid];
        if (c->a < a || (c->a == a && c->b < b))
            lo = mid + 1;
        else if (c->a > a || c->b > b)
            hi = mid;
        else
            return c->cp;
    }
    return 0;
}

/* Full canonical decomposition of cp appended to buf (room for 4 more is
 * enough: canonical decompositions of Unicode are at most 4 long). */
static size_t decompose(uint32_t cp, uint32_t *buf)
{
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE, t = s % TCOUNT;
        buf[0] = LBASE + s / NCOUNT;
        buf[1] = VBASE + (s % NCOUNT) / TCOUNT;
        if (!t)
            return 2;
        buf[2] = TBASE + t;
        return 3;
    }
    const qlm_ucd_decomp *d = find_decomp(cp);
    if (!d) {
        buf[0] = cp;
        return 1;
    }
    size_t n = decompose(d->a, buf);
    if (d->b)
        n += decompose(d->b, buf + n);
    return n;
}

/* Canonical ordering: stable sort of each run of non-starters by ccc. */
static void reorder(uint32_t *cp, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        unsigned c = qlm_uc_ccc(cp[i]);
        if (!c)
            continue;
        for (size_t j = i; j > 0; j--) {
            unsigned p = qlm_uc_ccc(cp[j - 1]);
            if (p <= c)
                break;
            uint32_t t = cp[j];
            cp[j] = cp[j - 1];
            cp[j - 1] = t;
        }
    }
}

/* Canonical composition in place (UAX #15): a character joins the last
 * starter unless a character of equal or higher class (or any starter)
 * stands between them. Returns the new length. */
static size_t compose(uint32_t *cp, size_t n)
{
    if (!n)
        return 0;
    bool have_starter = qlm_uc_ccc(cp[0]) == 0;
    size_t starter = 0, out = 1;
    unsigned last = have_starter ? 0 : 256; /* class of the last kept character */
    for (size_t i = 1; i < n; i++) {
        uint32_t c = cp[i];
        unsigned ccc = qlm_uc_ccc(c);
        if (have_starter && (last == 0 || last < ccc)) {
            uint32_t comp = compose_pair(cp[starter], c);
            if (comp) {
                cp[starter] = comp;
                continue;
            }
        }
        if (ccc == 0) {
            starter = out;
            have_starter = true;
        }
        last = ccc;
        cp[out++] = c;
    }
    return out;
}

/* Normalize one segment s[0..len) into o (room for 16 bytes per input
 * byte: a code point decomposes into at most 4 of at most 4 bytes), using
 * cp (room for 4 per input byte). Returns the bytes written. */
static size_t nfc_segment(const char *s, size_t len, uint32_t *cp, char *o)
{
    size_t n = 0, adv;
    for (size_t i = 0; i < len; i += adv)
        n += decompose(utf8_decode(s + i, len - i, &adv), cp + n);
    reorder(cp, n);
    n = compose(cp, n);
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        m += utf8_encode(cp[k], o + m);
    return m;
}

/* Grow *buf to hold `need` elements of `size` bytes. */
static bool grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *p = c <= SIZE_MAX / size ? realloc(*buf, c * size) : NULL;
    if (!p)
        return false;
    *buf = p;
    *cap = c;
    return true;
}

/* Characters without QLM_UC_NFC are starters that never compose with what
 * precedes them (NFC_QC=Yes, ccc 0), so the text can be cut before any of
 * them: only the stretches from the last such character before a flagged
 * one up to the next such character need normalizing; the rest is copied. */
qlm_status qlm_uc_nfc(const char *s, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len > SIZE_MAX / 16 - 1)
        return qlm_fail(QLM_E_OVERFLOW, "NFC: text of %zu bytes is too long", len);
    char *o = NULL;
    uint32_t *cp = NULL;
    size_t o_cap = 0, cp_cap = 0, m = 0, copied = 0, stable = SIZE_MAX, i = 0, adv;
    while (i < len) {
        if (!(qlm_uc_flags(utf8_decode(s + i, len - i, &adv)) & QLM_UC_NFC)) {
            stable = i;
            i += adv;
            continue;
        }
        size_t seg = stable == SIZE_MAX ? copied : stable, j = i + adv;
        while (j < len && (qlm_uc_flags(utf8_decode(s + j, len - j, &adv)) & QLM_UC_NFC))
            j += adv;
        if (!grow((void **)&o, &o_cap, m + (seg - copied) + 16 * (j - seg) + (len - j) + 1, 1) ||
            !grow((void **)&cp, &cp_cap, 4 * (j - seg), sizeof *cp)) {
            free(o);
            free(cp);
            return qlm_fail(QLM_E_NOMEM, "NFC: out of memory for %zu bytes of text", len);
        }
        memcpy(o + m, s + copied, seg - copied);
        m += seg - copied;
        m += nfc_segment(s + seg, j - seg, cp, o + m);
        copied = i = j;
        stable = SIZE_MAX;
    }
    free(cp);
    if (!o)
        return QLM_OK; /* already NFC */
    memcpy(o + m, s + copied, len - copied);
    m += len - copied;
    o[m] = 0;
    *out = o;
    *out_len = m;
    return QLM_OK;
}
