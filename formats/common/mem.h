/* How much memory qlm may plan to use. Buffers whose size comes from input
 * (a model's context length, --ctx, a vocabulary times a chunk) are checked
 * here before they are allocated, so that too large a request fails with one
 * clear message instead of an out-of-memory kill when the pages are touched
 * (Linux overcommits: a huge malloc often "succeeds").
 *
 * The budget is half of the available memory: the rest is left for the
 * model's mapped weights (page cache) and everything else on the machine.
 * Available memory is $QLM_MEM_LIMIT when set (bytes, or a number with a K,
 * M, G or T suffix, powers of 1024: a cap for shared machines and for tests)
 * and otherwise MemAvailable from /proc/meminfo. */
#ifndef QLM_MEM_H
#define QLM_MEM_H

#include <stdint.h>

#include "formats/common/err.h"

/* Available memory in bytes; 0 when unknown (no /proc/meminfo), UINT64_MAX
 * when $QLM_MEM_LIMIT does not parse (qlm_mem_check reports that). */
uint64_t qlm_mem_available(void);

/* The budget for one buffer: half of qlm_mem_available(), or UINT64_MAX
 * when the available memory is unknown. QLM_E_ARG for a bad $QLM_MEM_LIMIT. */
qlm_status qlm_mem_budget(uint64_t *out);

/* QLM_OK if `need` bytes for `what` fit the budget, else QLM_E_NOMEM with
 * "WHAT needs 2.1 MiB, only 32.0 KiB of memory may be used for it (half of
 * the 64.0 KiB available; QLM_MEM_LIMIT sets that)". */
qlm_status qlm_mem_check(uint64_t need, const char *what);

#endif
