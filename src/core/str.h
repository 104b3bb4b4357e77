/* str.h: bounded C-string building without printf, for paths and ids built on every
 * request, and digit runs read without strtol. The building functions truncate to fit
 * cap (cap >= 1), always NUL-terminate like snprintf, and return dst. */
#ifndef PT_CORE_STR_H
#define PT_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>

/* dst = src */
char *pt_str_copy(char *dst, size_t cap, const char *src);
/* dst = a b */
char *pt_str_join(char *dst, size_t cap, const char *a, const char *b);
/* dst = a b "[" i "]"   ("messages", "", 2 -> "messages[2]"; "m[0]", ".content", 1 -> "m[0].content[1]") */
char *pt_str_index(char *dst, size_t cap, const char *a, const char *b, size_t i);

/* The first occurrence of the m bytes at s in the n bytes at h, or NULL (memmem's answer).
 * For short needles in short texts (JSON members in one answer or event): it looks for one
 * letter of the needle with memchr and compares around it, where memmem first builds its
 * search tables for every call. */
const char *pt_mem_find(const char *h, size_t n, const char *s, size_t m);

/* Whether the n bytes at s are all ASCII digits; their value (n small enough for int). */
/* Percent-decodes n bytes of s into out (NUL-terminated), '+' as a space when plus_space
 * (a query string); false on a bad escape, a NUL, or a value too long for cap. */
bool pt_str_percent_decode(const char *s, size_t n, char *out, size_t cap, bool plus_space);

bool pt_str_digits(const char *s, int n);
int pt_str_num(const char *s, int n);

#endif
