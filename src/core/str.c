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

char *pt_str_copy(char *dst, size_t cap, const char *src) { return pt_str_join(dst, cap, src, ""); }

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
