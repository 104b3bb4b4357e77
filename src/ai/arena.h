/* arena.h: request-lifetime memory for the AI layer (pivot requests and responses).
 *
 * Everything a pivot points to is allocated here and freed in one go by
 * pt_ai_arena_release(). The arena has a hard cap on the bytes it hands out; past it an
 * allocation returns NULL and the caller reports PT_ETOOBIG. Built with -DPT_NO_ARENA
 * (the sanitizer build), every allocation is its own malloc so ASan sees each one. */
#ifndef PT_AI_ARENA_H
#define PT_AI_ARENA_H

#include <stddef.h>

#include "core/slice.h"

struct pt__arena_blk;

typedef struct pt_ai_arena {
    struct pt__arena_blk *head; /* newest block first */
    size_t used;                /* bytes used in head */
    size_t total;               /* bytes handed out so far */
    size_t limit;               /* 0 = no limit */
} pt_ai_arena;

void pt_ai_arena_init(pt_ai_arena *a, size_t limit);
void pt_ai_arena_release(pt_ai_arena *a);
/* Zeroed memory aligned for any type, or NULL (cap reached or out of memory). */
void *pt_ai_arena_alloc(pt_ai_arena *a, size_t n);
/* Copies n bytes and a NUL; NULL on failure. */
char *pt_ai_arena_strndup(pt_ai_arena *a, const char *s, size_t n);
/* A slice copied into the arena (ptr NULL and len 0 on failure or when s is empty). */
pt_slice pt_ai_arena_slice(pt_ai_arena *a, pt_slice s);

#endif
