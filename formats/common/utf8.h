/* UTF-8 helpers (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
#ifndef QLM_UTF8_H
#define QLM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Byte length (1..4) of the valid UTF-8 sequence at s, or 0 if the bytes at s
 * are not a complete valid sequence (len == 0 also gives 0). */
size_t utf8_char_len(const char *s, size_t len);

/* Decode one code point; on invalid input returns 0xFFFD and advances 1 byte. */
uint32_t utf8_decode(const char *s, size_t len, size_t *adv);

/* Encode cp (must be <= 0x10FFFF) into out (4 bytes room); returns length. */
size_t utf8_encode(uint32_t cp, char *out);

bool utf8_valid(const char *s, size_t len);

/* Number of bytes at the end of s[0..len) that form an incomplete but so far
 * valid prefix of a multi-byte sequence (0..3). Streaming decoders hold these
 * back until the rest arrives. */
size_t utf8_incomplete_tail(const char *s, size_t len);

/* Length (1..3) of the maximal ill-formed subpart at s, for s where
 * utf8_char_len() is 0 and len > 0: the longest prefix of a valid sequence
 * there, or 1. Replacing each such subpart by one U+FFFD is the Unicode
 * recommended practice (and what Python's decode(errors="replace") does). */
size_t utf8_invalid_len(const char *s, size_t len);

#endif
