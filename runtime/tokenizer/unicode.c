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

qlm_status qlm_uc_nfc(const char *s, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t i = 0, adv;
    while (i < len && !(qlm_uc_flags(utf8_decode(s + i, len - i, &adv)) & QLM_UC_NFC))
        i += adv;
    if (i == len)
        return QLM_OK;
    /* A code point decomposes into at most 4, and no input byte yields more
     * than one code point; compose never grows. */
    if (len > SIZE_MAX / (4 * sizeof(uint32_t)) - 4)
        return qlm_fail(QLM_E_OVERFLOW, "NFC: text of %zu bytes is too long", len);
    uint32_t *cp = malloc((4 * len + 4) * sizeof *cp);
    if (!cp)
        return qlm_fail(QLM_E_NOMEM, "NFC: out of memory for %zu bytes of text", len);
    size_t n = 0;
    for (i = 0; i < len; i += adv)
        n += decompose(utf8_decode(s + i, len - i, &adv), cp + n);
    reorder(cp, n);
    n = compose(cp, n);
    char *o = malloc(4 * n + 1);
    if (!o) {
        free(cp);
        return qlm_fail(QLM_E_NOMEM, "NFC: out of memory for %zu bytes of text", len);
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        m += utf8_encode(cp[k], o + m);
    o[m] = 0;
    free(cp);
    *out = o;
    *out_len = m;
    return QLM_OK;
}
