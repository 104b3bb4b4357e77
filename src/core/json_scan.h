/* json_scan.h: a validating JSON scanner that reports where values are, without building a tree.
 *
 * The AI passthrough path (same wire format on both sides) uses it to find the handful of
 * top-level members it must read or replace ("model", "stream", "stream_options",
 * "usage") and to splice new bytes in, leaving every other byte as the client or the
 * provider sent it. It validates the whole text as strict JSON (RFC 8259: no trailing
 * commas, no comments, UTF-8 checked, control characters in strings refused) so a body
 * it accepts is a body every JSON parser accepts, and nesting deeper than
 * PT_JSCAN_MAX_DEPTH is refused. */
#ifndef PT_CORE_JSON_SCAN_H
#define PT_CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/slice.h"

#define PT_JSCAN_MAX_DEPTH 512

/* One member of an object: the key as written (between the quotes, escapes not
 * decoded), whether it holds an escape (the scanners know it for nothing: a key without
 * one is compared byte for byte), and the value's byte span [vstart, vend). */
typedef struct pt_jfield {
    pt_slice key;
    size_t vstart, vend;
    bool key_escaped;
} pt_jfield;

/* The bytes of x that need a closer look inside a string, as their high bits: not ASCII, a
 * control character, '"' or '\\'. (The zero-byte tests may flag a byte that is fine, but
 * only above one that is not: borrows run upward, so the lowest flag is always a real one.) */
static inline uint64_t pt__jscan_special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (x & high) | ((x - ones * 0x20) & ~x & high) | ((q - ones) & ~q & high) | ((b - ones) & ~b & high);
}

/* What pt__jscan_find16 looks for: the bytes a string may not hold without a closer look
 * (see above); quotes and backslashes; quotes and brackets. */
enum { PT__JSCAN_NOT_PLAIN, PT__JSCAN_QUOTE_ESCAPE, PT__JSCAN_QUOTE_BRACKET };

/* Where a search for the bytes of kind (PT__JSCAN_*) in p[i..len) stops: sixteen bytes at
 * a time where the machine can (SSE2 is part of x86-64), so at such a byte (*found) or
 * with fewer than sixteen bytes left for the caller's own loop. A signed "less than 0x20"
 * is true for control characters and bytes above 0x7f alike; x | 0x20 folds '[' onto '{'
 * and ']' onto '}', and nothing else onto either. */
static inline size_t pt__jscan_find16(const char *p, size_t len, size_t i, int kind, bool *found)
{
    *found = false;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20),
                  open = _mm_set1_epi8('{'), close = _mm_set1_epi8('}');
    while (len - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i)), hit = _mm_cmpeq_epi8(x, quote);
        if (kind == PT__JSCAN_QUOTE_BRACKET) {
            __m128i y = _mm_or_si128(x, space);
            hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi8(y, open), _mm_cmpeq_epi8(y, close)));
        } else {
            hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, backslash));
            if (kind == PT__JSCAN_NOT_PLAIN) hit = _mm_or_si128(hit, _mm_cmplt_epi8(x, space));
        }
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m) {
            *found = true;
            return i + (size_t)__builtin_ctz(m);
        }
        i += 16;
    }
#else
    (void)p;
    (void)len;
    (void)kind;
#endif
    return i;
}

/* The offset of the first byte of p[i..len) a string may not hold without a closer look
 * (see above), or len: sixteen bytes at a time, then eight, inline, because most strings
 * are short and plain and a parser meets one at every key. */
static inline size_t pt_jscan_plain_end(const char *p, size_t len, size_t i)
{
    bool found;
    i = pt__jscan_find16(p, len, i, PT__JSCAN_NOT_PLAIN, &found);
    if (found) return i;
    uint64_t x, special;
    while (len - i >= 8) {
        memcpy(&x, p + i, 8);
        if ((special = pt__jscan_special8(x))) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + (size_t)__builtin_ctzll(special) / 8; /* the lowest byte is the first in memory */
#else
            break;
#endif
        }
        i += 8;
    }
    for (unsigned char c; i < len && (c = (unsigned char)p[i]) >= 0x20 && c < 0x80 && c != '"' && c != '\\'; i++) {}
    return i;
}

/* The offset of the first byte of p[i..len) that is not JSON whitespace, or len. Inline,
 * with one test for the common case of none: every whitespace byte is <= ' '. */
static inline size_t pt_jscan_skip_ws(const char *p, size_t len, size_t i)
{
    for (char c; i < len && (unsigned char)(c = p[i]) <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r'); i++) {}
    return i;
}

/* Validates one JSON value starting at *pos (leading whitespace skipped). On success
 * *pos is just past the value and 0 is returned; on failure PT_EPARSE and *pos is the
 * offset of the offending byte. */
int pt_jscan_value(const char *p, size_t len, size_t *pos);

/* Validates the string starting at p[*pos] ('"'): as pt_jscan_value for a string, and
 * *escaped (when not NULL) tells whether it holds any escape. */
int pt_jscan_string_at(const char *p, size_t len, size_t *pos, bool *escaped);

/* Validates that p[0..len) is exactly one JSON value with only whitespace around it. */
int pt_jscan_document(const char *p, size_t len, size_t *errpos);

/* Scans the object that starts at p[start] (after whitespace). Records up to max
 * members in f (all are validated; *nf counts every member, so *nf > max means some
 * were not recorded). *open is the offset of '{', *close the offset of '}'. Returns 0,
 * PT_EPARSE (with *close = offset of the error) or PT_EINVAL when the value is not an
 * object. */
int pt_jscan_object(const char *p, size_t len, size_t start, pt_jfield *f, size_t max, size_t *nf,
                    size_t *open, size_t *close);

/* The two above in one pass: p[0..len) must be exactly one object (whitespace around
 * allowed). Returns 0, PT_EPARSE (*errpos at the bad byte) or PT_EINVAL (not an object). */
int pt_jscan_object_document(const char *p, size_t len, pt_jfield *f, size_t max, size_t *nf, size_t *open,
                             size_t *close, size_t *errpos);

/* Finds the members of the object p[0..len) without validating it, for answers that are
 * passed on as they came and of which only a member or two is read. On valid JSON it
 * records what pt_jscan_object records; on anything else the spans it gives stay
 * inside p[0..len) but may be wrong, so a member found this way is validated when
 * it is parsed. Returns 0, or PT_EPARSE when the text is not an object it could walk. */
int pt_jscan_skim_object(const char *p, size_t len, pt_jfield *f, size_t max, size_t *nf);

/* True when the key as written (escapes decoded) equals name. */
bool pt_jscan_key_is(pt_slice raw_key, const char *name);

/* Finds member name (nlen bytes; a plain name: no backslash in it) among f[0..n); returns
 * its index or -1. Sets *dup when the name occurs more than once. */
int pt_jscan_findn(const pt_jfield *f, size_t n, const char *name, size_t nlen, bool *dup);
/* inline so that the length of a literal name is known at compile time */
static inline int pt_jscan_find(const pt_jfield *f, size_t n, const char *name, bool *dup)
{
    return pt_jscan_findn(f, n, name, strlen(name), dup);
}

/* A plain name (no backslash in it) and its length, for pt_jscan_find_each. */
typedef struct pt_jname {
    const char *s;
    size_t len;
} pt_jname;
#define PT_JNAME(lit) { lit, sizeof(lit) - 1 }

/* Whether a raw key holding an escape decodes to name (nlen bytes, plain). */
bool pt__jscan_escaped_key_is(pt_slice raw, const char *name, size_t nlen);

/* Whether member f's key is name (nlen bytes, plain). A key without an escape is name only
 * byte for byte; its length and first byte settle most keys. */
static inline bool pt__jscan_field_is(const pt_jfield *f, const char *name, size_t nlen)
{
    if (f->key_escaped) return pt__jscan_escaped_key_is(f->key, name, nlen);
    return f->key.len == nlen && (!nlen || f->key.ptr[0] == name[0]) && memcmp(f->key.ptr, name, nlen) == 0;
}

/* Finds each of k distinct plain names among f[0..n) in one pass over the members: at[j]
 * is the index of names[j]'s first occurrence, -1 when absent. Returns the names that
 * occur more than once as bits (1u << j; k <= 32). Inline, so that where the names are a
 * constant array the compiler compares each with its own length and bytes. */
static inline unsigned pt_jscan_find_each(const pt_jfield *f, size_t n, const pt_jname *names, size_t k, int *at)
{
    unsigned dups = 0;
    for (size_t j = 0; j < k; j++) at[j] = -1;
    for (size_t i = 0; i < n; i++) {
#pragma GCC unroll 8
        for (size_t j = 0; j < k; j++) {
            if (!pt__jscan_field_is(&f[i], names[j].s, names[j].len)) continue;
            if (at[j] >= 0) dups |= 1u << j;
            else at[j] = (int)i;
            break; /* the names differ: a key is at most one of them */
        }
    }
    return dups;
}

/* Decodes a JSON string value span (including its quotes) into out (at most cap bytes,
 * NUL-terminated). Returns the decoded length, or -1 when the span is not a string or
 * does not fit. */
long pt_jscan_string(const char *p, size_t vstart, size_t vend, char *out, size_t cap);

#endif
