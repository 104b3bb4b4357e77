/* buf.c: growable, capped byte buffers (see buf.h for the invariants). */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void pt_buf_init(pt_buf *b, size_t cap_limit)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap_limit = cap_limit;
}

void pt_buf_release(pt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

int pt__buf_reserve_slow(pt_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len) return PT_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (b->cap_limit && b->len + extra > b->cap_limit) return PT_ETOOBIG;
    if (need <= b->alloc) return 0;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need) n *= 2;
    char *p = realloc(b->data, n);
    if (!p) return PT_ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

int pt__buf_append_slow(pt_buf *b, const void *p, size_t n)
{
    int rc = pt__buf_reserve_slow(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}


int pt_buf_vprintf(pt_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0) return PT_EINVAL;
    if ((size_t)n < sizeof small) return pt_buf_append(b, small, (size_t)n);
    int rc = pt_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int pt_buf_printf(pt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pt_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Two digits per division: the figures on hot paths (sizes, counts, RateLimit's numbers)
 * are often several digits long. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

static const unsigned long long tens[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull,
    1000000000000000ull, 10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull,
};

/* How many decimal digits v has (1 for 0), without a loop: t = bits * log10(2) (1233 / 4096
 * is just below it) is the digit count or one more, which one comparison settles. A rate's
 * remaining calls can be nine digits long: a loop costs one step per digit. */
static inline unsigned u64_digits(unsigned long long v)
{
    unsigned long long w = v | 1; /* 0 counts as 1; no power of ten above 1 lies between v and w */
    unsigned t = (unsigned)(64 - __builtin_clzll(w)) * 1233u >> 12;
    return t + (w >= tens[t]);
}

/* Writes the two digits of r (< 100) just before d; returns where they start. */
static inline char *pair_before(char *d, unsigned r)
{
    d -= 2;
    memcpy(d, digit_pairs + 2 * r, 2);
    return d;
}

/* The n digits of v written backward from out + n, two at a time: no scratch copy. Once
 * v fits 32 bits (most figures do from the start) the divisions are 32-bit ones, which
 * take half the instructions, four digits per step. */
static inline char *u64_write(char *out, unsigned n, unsigned long long v)
{
    char *end = out + n, *d = end;
    for (; v > UINT32_MAX; v /= 100) d = pair_before(d, (unsigned)(v % 100));
    uint32_t u = (uint32_t)v;
    for (; u >= 10000; u /= 10000) {
        uint32_t r = u % 10000;
        d = pair_before(pair_before(d, r % 100), r / 100);
    }
    if (u >= 100) {
        d = pair_before(d, u % 100);
        u /= 100;
    }
    if (u >= 10) pair_before(d, u);
    else d[-1] = (char)('0' + u);
    return end;
}

char *pt_u64_to(char *out, unsigned long long v)
{
    if (v < 10) { /* a second, a count of retries: one digit is common */
        *out = (char)('0' + v);
        return out + 1;
    }
    return u64_write(out, u64_digits(v), v);
}

int pt_buf_append_u64(pt_buf *b, unsigned long long v)
{
    unsigned n = u64_digits(v);
    int rc = pt_buf_reserve(b, n);
    if (rc) return rc;
    char *end = u64_write(b->data + b->len, n, v);
    *end = '\0';
    b->len += n;
    return 0;
}

/* The whole part as pt_u64_to writes it, then the fraction zero-padded, two digits at a time. */
char *pt_fixed_to(char *out, unsigned long long v, unsigned places)
{
    if (places > 19) places = 19;
    out = pt_u64_to(out, v / tens[places]);
    if (!places) return out;
    *out++ = '.';
    unsigned long long f = v % tens[places];
    char *end = out + places, *d = end;
    for (unsigned k = places; k >= 2; k -= 2, f /= 100) d = pair_before(d, (unsigned)(f % 100));
    if (places & 1) *--d = (char)('0' + f);
    return end;
}

int pt_buf_append_fixed(pt_buf *b, unsigned long long v, unsigned places)
{
    char tmp[PT_FIXED_MAX];
    return pt_buf_append(b, tmp, (size_t)(pt_fixed_to(tmp, v, places) - tmp));
}

int pt_buf_append_hex(pt_buf *b, unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = hex[v & 15];
        v >>= 4;
    } while (v);
    return pt_buf_append(b, tmp + i, sizeof tmp - i);
}

/* Bytes a JSON string cannot hold as they are: controls, '"' and '\\'. */
static const unsigned char json_needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00-0x1f */
    ['"'] = 1, ['\\'] = 1,
};

/* The escape for one byte that needs it; returns its length (2 or 6). */
static size_t json_escape_one(unsigned char c, char esc[6])
{
    static const char hex[] = "0123456789abcdef";
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    default:
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
        esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
        return 6;
    }
}

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>

/* Bit i set where byte i of v needs an escape: a control (v <= 0x1f, unsigned), '"' or '\\'. */
static inline unsigned escape_bits(__m128i v)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"')), b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(q, b)));
}

static inline __m128i load16(const char *p) { return _mm_loadu_si128((const __m128i *)(const void *)p); }
static inline __m128i load8(const char *p) { return _mm_loadl_epi64((const __m128i *)(const void *)p); }
static inline void store16(char *p, __m128i v) { _mm_storeu_si128((__m128i *)(void *)p, v); }
static inline void store8(char *p, __m128i v) { _mm_storel_epi64((__m128i *)(void *)p, v); }

static inline __m128i load4(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return _mm_cvtsi32_si128((int)x);
}

static inline void store4(char *p, __m128i v)
{
    uint32_t x = (uint32_t)_mm_cvtsi128_si32(v);
    memcpy(p, &x, 4);
}

/* How many bytes at the start of s need no escape; with copy_to, those bytes are copied
 * there too (and perhaps more of s: up to n bytes may be written). 16 bytes at a time, the
 * last 16 loaded again overlapping what is known plain; a shorter text as two overlapping
 * halves (8 or 4 bytes each), so no load or store reaches past n bytes. */
static inline __attribute__((always_inline)) size_t plain_run(char *copy_to, const char *s, size_t n)
{
    unsigned m;
    if (n >= 16) {
        size_t i = 0;
        for (; n - i >= 16; i += 16) {
            __m128i v = load16(s + i);
            if (copy_to) store16(copy_to + i, v);
            if ((m = escape_bits(v))) return i + (size_t)__builtin_ctz(m);
        }
        if (i == n) return n;
        __m128i v = load16(s + n - 16);
        if (copy_to) store16(copy_to + n - 16, v);
        m = escape_bits(v);
        return m ? n - 16 + (size_t)__builtin_ctz(m) : n;
    }
    if (n >= 8) { /* bits 0-7: s[0..8), bits 8-15: s[n-8..n) */
        __m128i lo = load8(s), hi = load8(s + n - 8);
        if (copy_to) {
            store8(copy_to, lo);
            store8(copy_to + n - 8, hi);
        }
        m = escape_bits(_mm_unpacklo_epi64(lo, hi));
        if (m & 0xffu) return (size_t)__builtin_ctz(m);
        return m ? n - 16 + (size_t)__builtin_ctz(m) : n;
    }
    if (n >= 4) { /* bits 0-3: s[0..4), bits 4-7: s[n-4..n); the bytes above are zeros */
        __m128i lo = load4(s), hi = load4(s + n - 4);
        if (copy_to) {
            store4(copy_to, lo);
            store4(copy_to + n - 4, hi);
        }
        m = escape_bits(_mm_unpacklo_epi32(lo, hi)) & 0xffu;
        if (m & 0xfu) return (size_t)__builtin_ctz(m);
        return m ? n - 8 + (size_t)__builtin_ctz(m) : n;
    }
    if (n == 0) return 0;
    /* 1 to 3 bytes: the first, middle and last (some the same), then stored the same way */
    unsigned char a = (unsigned char)s[0], b = (unsigned char)s[n / 2], c = (unsigned char)s[n - 1];
    if (json_needs_escape[a] | json_needs_escape[b] | json_needs_escape[c]) {
        size_t k = json_needs_escape[a] ? 0 : json_needs_escape[(unsigned char)s[1]] ? 1 : 2;
        if (copy_to) memcpy(copy_to, s, k);
        return k;
    }
    if (copy_to) {
        copy_to[0] = (char)a;
        copy_to[n / 2] = (char)b;
        copy_to[n - 1] = (char)c;
    }
    return n;
}

static size_t plain_prefix(const char *s, size_t n) { return plain_run(NULL, s, n); }
#else
/* Whether none of the 8 bytes in x needs an escape (no control byte, '"' or '\\'). Each
 * test is the "has a byte below n" word trick, exact as a yes/no answer. */
static inline int plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (hit & highs) == 0;
}

/* How many bytes at the start of s need no escape: 8 at a time while it can. */
static size_t plain_prefix(const char *s, size_t n)
{
    size_t i = 0;
    uint64_t x;
    while (n - i >= 8 && (memcpy(&x, s + i, 8), plain8(x))) i += 8;
    while (i < n && !json_needs_escape[(unsigned char)s[i]]) i++;
    return i;
}

/* plain_prefix, and with copy_to those bytes copied there (the SSE2 form's contract). */
static inline size_t plain_run(char *copy_to, const char *s, size_t n)
{
    size_t k = plain_prefix(s, n);
    if (copy_to && k) memcpy(copy_to, s, k);
    return k;
}
#endif

int pt_buf_append_json_escaped(pt_buf *b, const char *s, size_t n)
{
    for (;;) {
        size_t k = plain_prefix(s, n);
        int rc = pt_buf_append(b, s, k);
        if (rc || k == n) return rc;
        char esc[6];
        if ((rc = pt_buf_append(b, esc, json_escape_one((unsigned char)s[k], esc)))) return rc;
        s += k + 1;
        n -= k + 1;
    }
}

int pt_buf_append_json_quoted(pt_buf *b, const char *s, size_t n)
{
    int rc = pt_buf_reserve(b, n + 2);
    if (rc) return rc;
    size_t k = plain_prefix(s, n);
    char *d = b->data + b->len;
    *d++ = '"';
    if (k) memcpy(d, s, k);
    if (k == n) { /* the usual case: nothing to escape, and the room is there */
        d[k] = '"';
        d[k + 1] = '\0';
        b->len += n + 2;
        return 0;
    }
    b->len += k + 1;
    if ((rc = pt_buf_append_json_escaped(b, s + k, n - k))) return rc;
    return pt_buf_append(b, "\"", 1);
}

char *pt_json_escape_to(char *out, const char *s, size_t n)
{
    for (;;) {
        size_t k = plain_run(out, s, n); /* copies the plain bytes itself: no memcpy call */
        out += k;
        if (k == n) return out;
        out += json_escape_one((unsigned char)s[k], out);
        s += k + 1;
        n -= k + 1;
    }
}

void pt_buf_consume(pt_buf *b, size_t n)
{
    if (n >= b->len) {
        pt_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *pt_buf_detach(pt_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    if (!p) {
        p = calloc(1, 1);
    }
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}
