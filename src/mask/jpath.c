/* jpath.c: parsing the JSON paths of masking rules (jpath.h). */
#include "mask/jpath.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pt_jpath_free(pt_jpath *p)
{
    if (!p) return;
    for (size_t i = 0; p->v && i < PT_JPATH_MAX_SEGS; i++) free(p->v[i].key); /* a failed step may hold one */
    free(p->v);
    free(p);
}

static bool name_char(char c) { return c && !strchr(".[]'\" *$", c); }

/* One step at s[*i]; 0, or -1 with why set. */
static int step(const char *s, size_t len, size_t *i, pt_jpath_seg *seg, char *why, size_t cap)
{
    size_t at = *i;
    if (s[at] == '.') {
        at++;
        if (at < len && s[at] == '.') {
            snprintf(why, cap, "recursive descent '..' at offset %zu is not supported", at - 1);
            return -1;
        }
        if (at < len && s[at] == '*') {
            seg->kind = PT_JPATH_ANY;
            *i = at + 1;
            return 0;
        }
        size_t b = at;
        while (at < len && name_char(s[at])) at++;
        if (at == b) {
            snprintf(why, cap, "expected a member name after '.' at offset %zu", b - 1);
            return -1;
        }
        seg->kind = PT_JPATH_KEY;
        seg->key = strndup(s + b, at - b);
        *i = at;
        return seg->key ? 0 : (snprintf(why, cap, "out of memory"), -1);
    }
    if (s[at] != '[') {
        snprintf(why, cap, "expected '.' or '[' at offset %zu", at);
        return -1;
    }
    at++;
    if (at < len && s[at] == '*') {
        seg->kind = PT_JPATH_ANY;
        at++;
    } else if (at < len && (s[at] == '\'' || s[at] == '"')) {
        char q = s[at++];
        size_t b = at;
        while (at < len && s[at] != q && s[at]) at++;
        if (at >= len || s[at] != q) {
            snprintf(why, cap, "unterminated quoted name at offset %zu", b - 1);
            return -1;
        }
        seg->kind = PT_JPATH_KEY;
        if (!(seg->key = strndup(s + b, at - b))) return snprintf(why, cap, "out of memory"), -1;
        at++;
    } else {
        size_t b = at, v = 0;
        while (at < len && s[at] >= '0' && s[at] <= '9' && at - b < 9) v = v * 10 + (size_t)(s[at++] - '0');
        if (at == b) {
            snprintf(why, cap, "expected an index, '*' or a quoted name after '[' at offset %zu", b - 1);
            return -1;
        }
        seg->kind = PT_JPATH_INDEX;
        seg->index = v;
    }
    if (at >= len || s[at] != ']') {
        snprintf(why, cap, "expected ']' at offset %zu", at);
        return -1;
    }
    *i = at + 1;
    return 0;
}

pt_jpath *pt_jpath_parse(const char *s, size_t len, char *why, size_t cap)
{
    if (len > PT_JPATH_MAX_LEN) {
        snprintf(why, cap, "a path is at most %d bytes", PT_JPATH_MAX_LEN);
        return NULL;
    }
    if (len == 0 || s[0] != '$') {
        snprintf(why, cap, "a path starts with '$' (such as $.user.email or $.messages[*].content)");
        return NULL;
    }
    pt_jpath *p = calloc(1, sizeof *p);
    if (!p || !(p->v = calloc(PT_JPATH_MAX_SEGS, sizeof *p->v))) {
        free(p);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    size_t i = 1;
    while (i < len) {
        if (p->n == PT_JPATH_MAX_SEGS) {
            snprintf(why, cap, "a path has at most %d steps", PT_JPATH_MAX_SEGS);
            goto fail;
        }
        if (step(s, len, &i, &p->v[p->n], why, cap) != 0) goto fail;
        p->n++;
    }
    return p;
fail:
    pt_jpath_free(p);
    return NULL;
}
