/* Layout of the generated Unicode tables (unicode_data.c, made by
 * tools/gen_unicode.py). Only unicode.c reads them. */
#ifndef QLM_UNICODE_DATA_H
#define QLM_UNICODE_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint32_t first; uint8_t flags; } qlm_ucd_run;        /* flags hold up to the next run */
typedef struct { uint32_t lo, hi; uint8_t ccc; } qlm_ucd_ccc;         /* ccc != 0 on [lo, hi] */
typedef struct { uint32_t cp, a, b; } qlm_ucd_decomp;                 /* cp -> a b (b == 0: singleton) */
typedef struct { uint32_t a, b, cp; } qlm_ucd_comp;                   /* a b -> cp, sorted by (a, b) */

extern const char qlm_ucd_version[];
extern const uint8_t qlm_ucd_latin1[256];
extern const qlm_ucd_run qlm_ucd_runs[];
extern const size_t qlm_ucd_n_runs;
extern const qlm_ucd_ccc qlm_ucd_cccs[];
extern const size_t qlm_ucd_n_cccs;
extern const qlm_ucd_decomp qlm_ucd_decomps[];
extern const size_t qlm_ucd_n_decomps;
extern const qlm_ucd_comp qlm_ucd_comps[];
extern const size_t qlm_ucd_n_comps;

#endif
