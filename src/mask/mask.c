/* mask.c: applying rule sets to text, JSON documents and streams of text (mask.h). */
#include "mask/mask.h"

#include <stdlib.h>
#include <string.h>

void pt_mask_rules_release(pt_mask_rules *r)
{
    for (size_t i = 0; i < r->n; i++) {
        pt_mask_rule *u = &r->v[i];
        free(u->name);
        free(u->with);
        pt_jpath_free(u->path);
        if (u->re_ok) regfree(&u->re);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* ---- what a value becomes ---- */

static void count(const pt_mask_rules *r, const pt_mask_rule *u, pt_mask_tally *t)
{
    t->total++;
    if (t->counts) t->counts[u - r->v]++;
    if (u->action == PT_MASK_REFUSE && !t->refused) t->refused = u;
}

static void replacement(const pt_mask_rule *u, const char *v, size_t n, pt_buf *out)
{
    if (u->action == PT_MASK_REFUSE) {
        pt_buf_append_str(out, "[REFUSED]");
    } else if (u->action == PT_MASK_REPLACE) {
        pt_buf_append_str(out, u->with ? u->with : PT_MASK_REPLACE_DEFAULT);
    } else {
        pt_buf_append_str(out, "****");
        if (u->keep && n > 2 * (size_t)u->keep) pt_buf_append(out, v + n - u->keep, u->keep);
    }
}

/* ---- finding values in text ---- */

typedef struct hit {
    size_t b, e;
    const pt_mask_rule *rule;
} hit;

typedef struct hits {
    hit *v;
    size_t n, cap;
    size_t more;     /* where a detector wants more text; SIZE_MAX when none */
} hits;

static int push(hits *h, size_t b, size_t e, const pt_mask_rule *u)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        hit *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = (hit){ b, e, u };
    return 0;
}

static void detect_all(const pt_mask_rule *u, const char *s, size_t n, int prev, bool final, hits *h)
{
    for (size_t i = 0; i < n && i < h->more; i++) {
        size_t e = 0;
        pt_scan r = pt_detect_at(u->det, s, n, i, prev, final, &e);
        if (r == PT_SCAN_MORE) {
            h->more = i; /* nothing from here on is released, so nothing further matters */
            return;
        }
        if (r == PT_SCAN_MATCH && e > i) {
            if (push(h, i, e, u) != 0) return;
            i = e - 1;
        }
    }
}

static void regex_all(const pt_mask_rule *u, const char *s, size_t n, hits *h)
{
    size_t pos = 0;
    while (pos <= n) {
        regmatch_t m[1] = { { (regoff_t)pos, (regoff_t)n } };
        if (regexec(&u->re, s ? s : "", 1, m, REG_STARTEND | (pos ? REG_NOTBOL : 0)) != 0) return;
        size_t b = (size_t)m[0].rm_so, e = (size_t)m[0].rm_eo;
        if (e > b && push(h, b, e, u) != 0) return;
        pos = e > b ? e : b + 1;
    }
}

static int by_start(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return x->e > y->e ? -1 : x->e < y->e ? 1 : 0;
}

/* Writes s[0, *lim) masked to out: the hits that fit, first come first served; a hit
 * that straddles *lim pulls it back to the hit's start. */
static size_t write_masked(const pt_mask_rules *r, const char *s, size_t *lim, hits *h, pt_buf *out,
                           pt_mask_tally *t)
{
    if (h->n) qsort(h->v, h->n, sizeof *h->v, by_start);
    size_t pos = 0, done = 0;
    for (size_t i = 0; i < h->n; i++) {
        hit *x = &h->v[i];
        if (x->b < pos) continue; /* overlaps one taken */
        if (x->b >= *lim) break;
        if (x->e > *lim) {
            *lim = x->b;
            break;
        }
        pt_buf_append(out, s + pos, x->b - pos);
        replacement(x->rule, s + x->b, x->e - x->b, out);
        count(r, x->rule, t);
        done++;
        pos = x->e;
    }
    pt_buf_append(out, s + pos, *lim - pos);
    return done;
}

/* Masks s[0, n); appends the released part to out and returns its length (n when final). */
static size_t mask_part(const pt_mask_rules *r, const char *s, size_t n, int prev, bool final, pt_buf *out,
                        pt_mask_tally *t, size_t *masked)
{
    hits h = { .more = SIZE_MAX };
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].by == PT_MASK_BY_DETECT) detect_all(&r->v[i], s, n, prev, final, &h);
        else if (r->v[i].by == PT_MASK_BY_REGEX && r->v[i].re_ok) regex_all(&r->v[i], s, n, &h);
    }
    size_t lim = n;
    if (!final) {
        if (h.more < lim) lim = h.more;
        size_t w = n < PT_MASK_REGEX_WINDOW ? n : PT_MASK_REGEX_WINDOW;
        if (r->has_regex && n - w < lim) lim = n - w;
        if (n - lim > PT_MASK_HOLD_MAX) lim = n - PT_MASK_HOLD_MAX;
    }
    *masked = write_masked(r, s, &lim, &h, out, t);
    free(h.v);
    return lim;
}

size_t pt_mask_text(const pt_mask_rules *r, const char *s, size_t n, pt_buf *out, pt_mask_tally *t)
{
    size_t masked = 0;
    if (!r->has_text) {
        pt_buf_append(out, s, n);
        return 0;
    }
    mask_part(r, s, n, 0, true, out, t, &masked);
    return masked;
}

/* ---- streams ---- */

void pt_mask_stream_init(pt_mask_stream *st, const pt_mask_rules *r)
{
    memset(st, 0, sizeof *st);
    st->r = r;
    pt_buf_init(&st->held, 0);
}

void pt_mask_stream_release(pt_mask_stream *st) { pt_buf_release(&st->held); }

void pt_mask_stream_feed(pt_mask_stream *st, const char *s, size_t n, bool final, pt_buf *out, pt_mask_tally *t)
{
    if (!st->r->has_text) {
        pt_buf_append(out, s, n);
        return;
    }
    pt_buf_append(&st->held, s, n);
    const char *all = st->held.data ? st->held.data : "";
    size_t masked, len = st->held.len;
    size_t lim = mask_part(st->r, all, len, st->prev, final, out, t, &masked);
    if (lim > 0) st->prev = (unsigned char)all[lim - 1];
    pt_buf_consume(&st->held, lim);
}

/* ---- JSON ---- */

/* The value a path rule names becomes a string (a number or a boolean is masked as its
 * text; an object or an array is replaced whole). */
static size_t apply_value(const pt_mask_rules *r, const pt_mask_rule *u, json_t *parent, const char *key,
                          size_t idx, json_t *v, pt_mask_tally *t)
{
    if (!v || json_is_null(v)) return 0;
    pt_buf b = PT_BUF_INIT;
    if (json_is_string(v)) {
        replacement(u, json_string_value(v), json_string_length(v), &b);
    } else if (json_is_object(v) || json_is_array(v)) {
        pt_mask_rule whole = *u;
        whole.keep = 0;
        replacement(&whole, "", 0, &b);
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text) replacement(u, text, strlen(text), &b);
        free(text);
    }
    int rc = -1;
    if (json_is_string(v)) { /* in place: the document itself may be the string */
        rc = json_string_setn(v, b.data ? b.data : "", b.len);
    } else if (parent) {
        json_t *nv = json_stringn(b.data ? b.data : "", b.len);
        rc = !nv ? -1 : json_is_object(parent) ? json_object_set_new(parent, key, nv) : json_array_set_new(parent, idx, nv);
    }
    pt_buf_release(&b);
    if (rc != 0) return 0;
    count(r, u, t);
    return 1;
}

static size_t walk_path(const pt_mask_rules *r, const pt_mask_rule *u, size_t k, json_t *parent, const char *key,
                        size_t idx, json_t *v, pt_mask_tally *t)
{
    const pt_jpath *p = u->path;
    if (k == p->n) return apply_value(r, u, parent, key, idx, v, t);
    const pt_jpath_seg *sg = &p->v[k];
    size_t n = 0;
    if (sg->kind == PT_JPATH_KEY && json_is_object(v)) {
        n += walk_path(r, u, k + 1, v, sg->key, 0, json_object_get(v, sg->key), t);
    } else if (sg->kind == PT_JPATH_INDEX && json_is_array(v)) {
        n += walk_path(r, u, k + 1, v, NULL, sg->index, json_array_get(v, sg->index), t);
    } else if (sg->kind == PT_JPATH_ANY && json_is_object(v)) {
        const char *mk;
        json_t *mv;
        json_object_foreach(v, mk, mv) n += walk_path(r, u, k + 1, v, mk, 0, mv, t);
    } else if (sg->kind == PT_JPATH_ANY && json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) n += walk_path(r, u, k + 1, v, NULL, i, json_array_get(v, i), t);
    }
    return n;
}

static size_t walk_strings(const pt_mask_rules *r, json_t *v, pt_mask_tally *t)
{
    size_t n = 0;
    if (json_is_string(v)) {
        pt_buf b = PT_BUF_INIT;
        n = pt_mask_text(r, json_string_value(v), json_string_length(v), &b, t);
        if (n) json_string_setn(v, b.data ? b.data : "", b.len);
        pt_buf_release(&b);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *mv;
        json_object_foreach(v, k, mv) n += walk_strings(r, mv, t);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) n += walk_strings(r, json_array_get(v, i), t);
    }
    return n;
}

size_t pt_mask_json_tree(const pt_mask_rules *r, json_t *root, bool with_paths, pt_mask_tally *t)
{
    size_t n = 0;
    for (size_t i = 0; with_paths && i < r->n; i++)
        if (r->v[i].by == PT_MASK_BY_PATH) n += walk_path(r, &r->v[i], 0, NULL, NULL, 0, root, t);
    if (r->has_text) n += walk_strings(r, root, t);
    return n;
}

int pt_mask_json(const pt_mask_rules *r, const char *s, size_t n, pt_buf *out, pt_mask_tally *t)
{
    json_error_t err;
    json_t *root = json_loadb(s ? s : "", n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) return -1;
    int rc = 0;
    if (pt_mask_json_tree(r, root, true, t)) {
        char *d = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = d && pt_buf_append_str(out, d) == 0 ? 1 : -2;
        free(d);
    }
    json_decref(root);
    return rc;
}
