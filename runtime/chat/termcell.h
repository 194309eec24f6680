/* Terminal columns and user-perceived characters ("graphemes"), for the line
 * editor's cursor movement, deletion and redraw.
 *
 * Columns follow what terminals do (wcwidth): East Asian Wide/Fullwidth
 * characters and emoji take 2 cells, combining marks, zero-width joiners and
 * format characters 0, everything else 1. A grapheme is a simplified UAX #29
 * cluster: a code point, then any combining marks, variation selectors,
 * emoji modifiers and ZWJ-joined code points after it; two regional
 * indicators (a flag) are one grapheme. Its width is its first code point's
 * (2 for a flag). Invalid UTF-8 bytes count as one 1-cell grapheme each.
 */
#ifndef QLM_TERMCELL_H
#define QLM_TERMCELL_H

#include <stddef.h>
#include <stdint.h>

/* 0, 1 or 2 terminal cells. */
int qlm_cp_cells(uint32_t cp);

/* Byte offset of the grapheme boundary after / before `pos` in s[0..n)
 * (n at the end, 0 at the start). */
size_t qlm_grapheme_next(const char *s, size_t n, size_t pos);
size_t qlm_grapheme_prev(const char *s, size_t n, size_t pos);

/* Cells of the grapheme starting at pos. */
int qlm_grapheme_cells(const char *s, size_t n, size_t pos);

#endif
