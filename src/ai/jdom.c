/* jdom.c: arena JSON tree over core/json_scan's validation (see jdom.h). */
#include "ai/jdom.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"

typedef struct parser {
    pt_pool *a;
    const char *p;
    char *copy; /* p[0..len) copied once into the arena: the strings' decoded text lives there */
    size_t len, pos;
    bool oom;
} parser;

static inline void skip_ws(parser *s) { s->pos = pt_jscan_skip_ws(s->p, s->len, s->pos); }

/* Validates the string at s->pos and decodes it in place in the arena's copy of the text:
 * a decoded string is never longer than its body, and its closing quote's byte takes the
 * NUL. Plain strings (no escape, printable ASCII) are the most and are checked inline.
 * Inline in both callers (keys and string values): a tree's strings are most of its nodes,
 * and a call per string cost more than its check. */
static inline __attribute__((always_inline)) bool string(parser *s, pt_slice *out)
{
    size_t start = s->pos, end = pt_jscan_plain_end(s->p, s->len, start + 1);
    bool escaped = false;
    if (end < s->len && s->p[end] == '"') s->pos = end + 1;
    else if (pt_jscan_string_at(s->p, s->len, &s->pos, &escaped)) return false;
    size_t n = s->pos - start - 2;
    char *d = s->copy + start + 1;
    if (escaped) {
        long got = pt_jscan_string(s->p, start, s->pos, d, n + 1);
        if (got < 0) return false;
        n = (size_t)got;
    } else {
        d[n] = '\0';
    }
    *out = pt_slice_from(d, n);
    return true;
}

/* Children are collected in a doubling array in the arena, then kept as they are. */
static pt_jv *grow(parser *s, pt_jv *kids, size_t n, size_t *cap)
{
    if (n < *cap) return kids;
    size_t nc = *cap ? *cap * 2 : 4;
    pt_jv *k = pt_pool_alloc_raw(s->a, nc * sizeof *k); /* container zeroes each child it adds */
    if (!k) {
        s->oom = true;
        return NULL;
    }
    if (n) memcpy(k, kids, n * sizeof *k);
    *cap = nc;
    return k;
}

static bool value(parser *s, pt_jv *v, unsigned depth);

static bool container(parser *s, pt_jv *v, unsigned depth, bool object)
{
    char close = object ? '}' : ']';
    s->pos++;
    skip_ws(s);
    size_t cap = 0;
    if (s->pos < s->len && s->p[s->pos] == close) {
        s->pos++;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (!(v->kids = grow(s, v->kids, v->n, &cap))) return false;
        pt_jv *kid = &v->kids[v->n];
        memset(kid, 0, sizeof *kid);
        if (object) {
            if (s->pos >= s->len || s->p[s->pos] != '"' || !string(s, &kid->key)) return false;
            skip_ws(s);
            if (s->pos >= s->len || s->p[s->pos] != ':') return false;
            s->pos++;
        }
        if (!value(s, kid, depth + 1)) return false;
        if (object) v->keys |= pt__jv_key_bit((unsigned char)kid->key.ptr[0], kid->key.len);
        v->n++;
        skip_ws(s);
        if (s->pos >= s->len) return false;
        if (s->p[s->pos] == ',') {
            s->pos++;
            continue;
        }
        if (s->p[s->pos] == close) {
            s->pos++;
            return true;
        }
        return false;
    }
}

/* A validated JSON number read as an integer when it is one (no fraction, no exponent)
 * and fits int64: one pass over the digits, no copy, no strtoll. */
static void number(pt_jv *v)
{
    const char *p = v->raw.ptr, *end = p + v->raw.len;
    bool neg = p < end && *p == '-';
    if (neg) p++;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, x = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9) return; /* '.', 'e' or 'E' */
        if (x > (limit - d) / 10) return;
        x = x * 10 + d;
    }
    v->integer = true;
    v->ival = neg ? (int64_t)(0 - x) : (int64_t)x;
}

/* The commonest scalars read without the scanner: the three literals and a non-negative
 * integer of at most 18 digits (it fits int64 as it is). False leaves the value to the
 * scanner, which also reports what is wrong with it. */
static bool quick_scalar(parser *s, pt_jv *v)
{
    const char *p = s->p + s->pos;
    size_t left = s->len - s->pos, n = 0;
    static const struct { const char *text; size_t len; pt_jv_type type; } lits[] = {
        { "true", 4, PT_JV_TRUE }, { "false", 5, PT_JV_FALSE }, { "null", 4, PT_JV_NULL } };
    int lit = *p == 't' ? 0 : *p == 'f' ? 1 : *p == 'n' ? 2 : -1;
    if (lit >= 0) {
        if (left < lits[lit].len || memcmp(p, lits[lit].text, lits[lit].len) != 0) return false;
        v->type = lits[lit].type;
        s->pos += lits[lit].len;
        return true;
    }
    uint64_t x = 0;
    for (unsigned d; n < left && n < 18 && (d = (unsigned)(p[n] - '0')) <= 9; n++) x = x * 10 + d;
    if (!n || (p[0] == '0' && n > 1)) return false; /* not a number, or a leading zero */
    if (n < left && (p[n] == '.' || p[n] == 'e' || p[n] == 'E' || (unsigned)(p[n] - '0') <= 9)) return false;
    v->type = PT_JV_NUMBER;
    v->integer = true;
    v->ival = (int64_t)x;
    s->pos += n;
    return true;
}

static bool value(parser *s, pt_jv *v, unsigned depth)
{
    if (depth > PT_JSCAN_MAX_DEPTH) return false;
    skip_ws(s);
    if (s->pos >= s->len) return false;
    size_t start = s->pos;
    bool ok;
    switch (s->p[s->pos]) {
    case '{':
        v->type = PT_JV_OBJECT;
        v->keys = 0;
        ok = container(s, v, depth, true);
        break;
    case '[':
        v->type = PT_JV_ARRAY;
        ok = container(s, v, depth, false);
        break;
    case '"':
        v->type = PT_JV_STRING;
        ok = string(s, &v->str);
        break;
    default: {
        if (quick_scalar(s, v)) {
            ok = true;
            break;
        }
        char c = s->p[s->pos];
        ok = pt_jscan_value(s->p, s->len, &s->pos) == 0;
        v->type = c == 't' ? PT_JV_TRUE : c == 'f' ? PT_JV_FALSE : c == 'n' ? PT_JV_NULL : PT_JV_NUMBER;
        if (ok && v->type == PT_JV_NUMBER) {
            v->raw = pt_slice_from(s->p + start, s->pos - start);
            number(v);
        }
        break;
    }
    }
    if (!ok) return false;
    v->raw = pt_slice_from(s->p + start, s->pos - start);
    return true;
}

const pt_jv *pt_jdom_parse(pt_pool *a, const char *p, size_t len, size_t *errpos)
{
    parser s = { a, p, pt_pool_alloc_raw(a, len + 1), len, 0, false };
    pt_jv *root = s.copy ? pt_pool_alloc(a, sizeof *root) : NULL;
    if (root) memcpy(s.copy, p, len);
    bool ok = root && value(&s, root, 0);
    if (ok) {
        skip_ws(&s);
        ok = s.pos == len;
    }
    if (ok) return root;
    if (errpos) *errpos = s.oom || !root ? len + 1 : s.pos;
    return NULL;
}

const pt_jv *pt_jv_getn(const pt_jv *obj, const char *key, size_t kl)
{
    if (!pt_jv_is_object(obj) || !(obj->keys & pt__jv_key_bit((unsigned char)key[0], kl))) return NULL;
    /* keys are NUL-terminated: their first bytes compare before a call to memcmp */
    for (const pt_jv *k = obj->kids, *end = k + obj->n; k < end; k++)
        if (k->key.len == kl && (!kl || (k->key.ptr[0] == key[0] && memcmp(k->key.ptr, key, kl) == 0))) return k;
    return NULL;
}

const pt_jv *pt_jv_at(const pt_jv *arr, size_t i)
{
    return pt_jv_is_array(arr) && i < arr->n ? &arr->kids[i] : NULL;
}

double pt_jv_num(const pt_jv *v)
{
    if (!pt_jv_is_number(v)) return 0;
    if (v->integer) return (double)v->ival;
    char tmp[64];
    size_t n = v->raw.len < sizeof tmp - 1 ? v->raw.len : sizeof tmp - 1;
    memcpy(tmp, v->raw.ptr, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}
