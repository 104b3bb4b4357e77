/* str.c: bounded string building (see str.h). */
#include "core/str.h"

#include <string.h>

/* Appends s at dst[*n], keeping room for the NUL. */
static void put(char *dst, size_t cap, size_t *n, const char *s, size_t len)
{
    size_t room = cap - 1 - *n;
    if (len > room) len = room;
    memcpy(dst + *n, s, len);
    *n += len;
}

/* One piece, the commonest use: its length read up to the room only (strnlen), one copy. */
char *pt_str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return dst;
}

char *pt_str_join(char *dst, size_t cap, const char *a, const char *b)
{
    size_t n = 0;
    put(dst, cap, &n, a, strlen(a));
    put(dst, cap, &n, b, strlen(b));
    dst[n] = '\0';
    return dst;
}

char *pt_str_index(char *dst, size_t cap, const char *a, const char *b, size_t i)
{
    char digits[24];
    size_t d = sizeof digits;
    digits[--d] = ']';
    do {
        digits[--d] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    digits[--d] = '[';
    size_t n = 0;
    put(dst, cap, &n, a, strlen(a));
    put(dst, cap, &n, b, strlen(b));
    put(dst, cap, &n, digits + d, sizeof digits - d);
    dst[n] = '\0';
    return dst;
}

bool pt_str_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

int pt_str_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

const char *pt_mem_find(const char *h, size_t n, const char *s, size_t m)
{
    if (m == 0) return h;
    if (n < m) return NULL;
    size_t k = 0; /* the anchor: the first letter or digit (quotes and colons are everywhere in JSON) */
    while (k < m && !((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9')))
        k++;
    if (k == m) k = 0;
    const char *p = h + k, *last = h + (n - m) + k; /* where the anchor can be */
    while (p <= last && (p = memchr(p, s[k], (size_t)(last - p) + 1))) {
        if (memcmp(p - k, s, m) == 0) return p - k;
        p++;
    }
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool pt_str_percent_decode(const char *s, size_t n, char *out, size_t cap, bool plus_space)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0' || k + 1 >= cap) return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return true;
}
