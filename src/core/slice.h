/* slice.h: {ptr, len} views of bytes that came from the network or a config file.
 * A slice never owns its bytes and is never assumed to be NUL-terminated. */
#ifndef PT_CORE_SLICE_H
#define PT_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct pt_slice {
    const char *ptr;
    size_t len;
} pt_slice;

#define PT_SLICE_LIT(s) ((pt_slice){ (s), sizeof(s) - 1 })
#define PT_SLICE_NULL ((pt_slice){ NULL, 0 })
#define PT_SLICE_FMT "%.*s"
#define PT_SLICE_ARG(s) (int)(s).len, (s).ptr

static inline pt_slice pt_slice_from(const char *p, size_t n) { return (pt_slice){ p, n }; }
static inline pt_slice pt_slice_cstr(const char *s) { return (pt_slice){ s, s ? strlen(s) : 0 }; }

static inline bool pt_slice_eq(pt_slice a, pt_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool pt_slice_eq_cstr(pt_slice a, const char *b) { return pt_slice_eq(a, pt_slice_cstr(b)); }

static inline bool pt_slice_case_eq(pt_slice a, pt_slice b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool pt_slice_case_eq_cstr(pt_slice a, const char *b) { return pt_slice_case_eq(a, pt_slice_cstr(b)); }

/* Whether a is one of names (ASCII case ignored). The names carry their lengths, so a name of
 * another length costs one comparison: header names are checked against lists of them. */
static inline bool pt_slice_case_in(pt_slice a, const pt_slice *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a.len == names[i].len && strncasecmp(a.ptr, names[i].ptr, a.len) == 0) return true;
    return false;
}

static inline bool pt_slice_starts_with(pt_slice a, pt_slice prefix)
{
    return a.len >= prefix.len && memcmp(a.ptr, prefix.ptr, prefix.len) == 0;
}

/* Strips optional whitespace (SP, HTAB) at both ends. */
static inline pt_slice pt_slice_trim(pt_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) { s.ptr++; s.len--; }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) s.len--;
    return s;
}

/* Parses a non-negative decimal number of at most 18 digits; false on anything else. */
/* The value of a hexadecimal digit, -1 for anything else. */
static inline int pt_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline bool pt_slice_to_u64(pt_slice s, unsigned long long *out)
{
    if (s.len == 0 || s.len > 18) return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        v = v * 10 + (unsigned)(s.ptr[i] - '0');
    }
    *out = v;
    return true;
}

#endif
