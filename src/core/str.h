/* str.h: bounded C-string building without printf, for paths and ids built on every
 * request. Every function truncates to fit cap (cap >= 1), always NUL-terminates like
 * snprintf, and returns dst. */
#ifndef PT_CORE_STR_H
#define PT_CORE_STR_H

#include <stddef.h>

/* dst = src */
char *pt_str_copy(char *dst, size_t cap, const char *src);
/* dst = a b */
char *pt_str_join(char *dst, size_t cap, const char *a, const char *b);
/* dst = a b "[" i "]"   ("messages", "", 2 -> "messages[2]"; "m[0]", ".content", 1 -> "m[0].content[1]") */
char *pt_str_index(char *dst, size_t cap, const char *a, const char *b, size_t i);

#endif
