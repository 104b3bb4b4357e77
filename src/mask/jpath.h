/* jpath.h: the JSON paths masking rules name: `$`, then `.name`, `['name']` (or
 * "name"), `[N]`, `[*]` and `.*`, e.g. `$.user.email`, `$.messages[*].content`.
 * Recursive descent (`..`) and filters are not supported; a path has at most
 * PT_JPATH_MAX_SEGS steps and PT_JPATH_MAX_LEN bytes. */
#ifndef PT_MASK_JPATH_H
#define PT_MASK_JPATH_H

#include <stddef.h>

#define PT_JPATH_MAX_SEGS 32
#define PT_JPATH_MAX_LEN 512

typedef enum pt_jpath_kind { PT_JPATH_KEY, PT_JPATH_INDEX, PT_JPATH_ANY } pt_jpath_kind;

typedef struct pt_jpath_seg {
    pt_jpath_kind kind;
    char *key;       /* PT_JPATH_KEY: the member name, NUL-terminated */
    size_t index;    /* PT_JPATH_INDEX */
} pt_jpath_seg;

typedef struct pt_jpath {
    pt_jpath_seg *v;
    size_t n;        /* 0: the whole document ("$") */
} pt_jpath;

/* Parses s[0, len). NULL with a sentence in why (naming the offending offset) when it is
 * not a path, or out of memory. */
pt_jpath *pt_jpath_parse(const char *s, size_t len, char *why, size_t cap);
void pt_jpath_free(pt_jpath *p);

#endif
