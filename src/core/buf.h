/* buf.h: a growable byte buffer with a hard cap.
 *
 * Invariants: data[len] == '\0' whenever data != NULL (so text can be handed to
 * printf-style consumers), len <= cap_limit. Growing past cap_limit fails with
 * PT_ETOOBIG and leaves the buffer unchanged: the caller turns that into a 4xx/5xx. */
#ifndef PT_CORE_BUF_H
#define PT_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "core/slice.h"

typedef struct pt_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap_limit; /* 0 means no limit */
} pt_buf;

#define PT_BUF_INIT { NULL, 0, 0, 0 }

void pt_buf_init(pt_buf *b, size_t cap_limit);
void pt_buf_release(pt_buf *b);
int pt__buf_reserve_slow(pt_buf *b, size_t extra);
/* Makes room for `extra` more bytes; returns 0 or PT_ETOOBIG / PT_ENOMEM. The common case
 * (room already there) is inline, as for pt_buf_append. */
static inline int pt_buf_reserve(pt_buf *b, size_t extra)
{
    if (b->data && extra < b->alloc - b->len && (!b->cap_limit || b->len + extra <= b->cap_limit)) return 0;
    return pt__buf_reserve_slow(b, extra);
}
int pt__buf_append_slow(pt_buf *b, const void *p, size_t n);
/* Appends n bytes; the common case (room already there) is inline: heads and log lines
 * are built from many small pieces. */
static inline int pt_buf_append(pt_buf *b, const void *p, size_t n)
{
    if (b->data && n < b->alloc - b->len && (!b->cap_limit || b->len + n <= b->cap_limit)) {
        if (n) memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return pt__buf_append_slow(b, p, n);
}
static inline int pt_buf_append_str(pt_buf *b, const char *s) { return pt_buf_append(b, s, strlen(s)); }
static inline int pt_buf_append_slice(pt_buf *b, pt_slice s) { return pt_buf_append(b, s.ptr, s.len); }
int pt_buf_printf(pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pt_buf_vprintf(pt_buf *b, const char *fmt, va_list ap);
/* Decimal and lowercase hex without printf (hot paths: heads, chunk sizes, logs). */
int pt_buf_append_u64(pt_buf *b, unsigned long long v);
/* v in decimal at out (room for 20 bytes); returns the end (no NUL). */
char *pt_u64_to(char *out, unsigned long long v);
/* v (0 to 999) as exactly three digits at out, leading zeros kept (milliseconds, an HTTP
 * status); returns the end. One division and multiplications, no call. */
static inline char *pt_digits3_to(char *out, unsigned v)
{
    unsigned tens = v / 10u;
    out[0] = (char)('0' + tens / 10u);
    out[1] = (char)('0' + (tens - tens / 10u * 10u));
    out[2] = (char)('0' + (v - tens * 10u));
    return out + 3;
}
int pt_buf_append_hex(pt_buf *b, unsigned long long v);
/* v / 10^places with exactly `places` decimals (fixed-point integers: 1234, 3 -> "1.234"). */
int pt_buf_append_fixed(pt_buf *b, unsigned long long v, unsigned places);
/* The same at out (room for PT_FIXED_MAX bytes); returns the end (no NUL). */
#define PT_FIXED_MAX 21
char *pt_fixed_to(char *out, unsigned long long v, unsigned places);
/* Appends s as the inside of a JSON string (quotes not included). */
int pt_buf_append_json_escaped(pt_buf *b, const char *s, size_t n);
/* The same between quotes: one JSON string, its room reserved once for the common case of
 * nothing to escape. */
int pt_buf_append_json_quoted(pt_buf *b, const char *s, size_t n);
/* Writes s escaped as the inside of a JSON string at out, which has room for 6 * n bytes;
 * returns the end of what it wrote (no NUL). For writers that reserved the room already. */
char *pt_json_escape_to(char *out, const char *s, size_t n);
/* Drops the first n bytes. */
void pt_buf_consume(pt_buf *b, size_t n);
static inline void pt_buf_reset(pt_buf *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }
/* Hands the bytes to the caller (who frees them) and empties the buffer. */
char *pt_buf_detach(pt_buf *b, size_t *len);
static inline pt_slice pt_buf_slice(const pt_buf *b) { return (pt_slice){ b->data, b->len }; }

#endif
