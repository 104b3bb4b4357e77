/* schema.c: mapping through key tables (see schema.h). */
#include "config/schema.h"

#include <stdlib.h>
#include <string.h>

static void store_uint(void *p, size_t width, uint64_t v)
{
    switch (width) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: *(uint16_t *)p = (uint16_t)v; break;
    case 4: *(uint32_t *)p = (uint32_t)v; break;
    default: *(uint64_t *)p = v; break;
    }
}

static int apply_field(pt_cfg *c, const pt_cfg_field *f, const pt_cfg_node *v, void *obj)
{
    void *p = (char *)obj + f->off;
    uint64_t u = 0;
    int rc;
    switch (f->type) {
    case PT_CFG_F_STR: return pt_cfg_str(c, v, (char **)p);
    case PT_CFG_F_PATH: return pt_cfg_urlpath(c, v, (char **)p);
    case PT_CFG_F_FILE: return pt_cfg_file(c, v, (char **)p);
    case PT_CFG_F_BOOL: return pt_cfg_bool(c, v, (bool *)p);
    case PT_CFG_F_UINT: rc = pt_cfg_uint(c, v, f->lo, f->hi, &u); break;
    case PT_CFG_F_DURATION: rc = pt_cfg_duration(c, v, f->lo, f->hi, &u); break;
    case PT_CFG_F_SIZE: rc = pt_cfg_size(c, v, f->lo, f->hi, &u); break;
    case PT_CFG_F_NODE: *(const pt_cfg_node **)p = v; return 0;
    case PT_CFG_F_FUNC: return f->fn(c, v, obj);
    default: return pt_cfg_fail(c, v, "internal error: bad pt_cfg_field type");
    }
    if (rc == 0) store_uint(p, f->width, u);
    return rc;
}

int pt_cfg_apply(pt_cfg *c, const pt_cfg_field *f, const pt_cfg_node *v, void *obj)
{
    size_t mark = pt_cfg_push_key(c, f->key);
    int rc = apply_field(c, f, v, obj);
    pt_cfg_pop(c, mark);
    return rc;
}

static int unknown_key(pt_cfg *c, const pt_cfg_node *key, const pt_cfg_field *fields)
{
    const char *names[64] = { 0 };
    size_t n = 0;
    for (const pt_cfg_field *f = fields; f->key && n < 64; f++) names[n++] = f->key;
    const char *guess = pt_cfg_closest(key->text, names, n);
    if (guess) return pt_cfg_fail(c, key, "unknown key (did you mean '%s'?)", guess);
    pt_buf list = PT_BUF_INIT;
    for (size_t i = 0; i < n; i++) pt_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    int rc = pt_cfg_fail(c, key, "unknown key (expected one of: %s)", list.data ? list.data : "");
    pt_buf_release(&list);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    const pt_cfg_node *ka = *(const pt_cfg_node *const *)a, *kb = *(const pt_cfg_node *const *)b;
    int r = strcmp(ka->text, kb->text);
    if (r) return r;
    return ka->line < kb->line ? -1 : ka->line > kb->line;
}

int pt_cfg_expect_map(pt_cfg *c, const pt_cfg_node *n, const char *what)
{
    if (n->kind != PT_CFG_MAP) return pt_cfg_fail(c, n, "expected %s, got %s", what, pt_cfg_kind_name(n));
    if (n->n < 2) return 0;
    const pt_cfg_node **keys = malloc(n->n * sizeof *keys);
    if (!keys) return pt_cfg_oom(c, n);
    for (size_t i = 0; i < n->n; i++) keys[i] = n->items[2 * i];
    qsort(keys, n->n, sizeof *keys, key_cmp);
    int rc = 0;
    for (size_t i = 1; i < n->n && rc == 0; i++) {
        if (strcmp(keys[i]->text, keys[i - 1]->text) != 0) continue;
        size_t mark = pt_cfg_push_key(c, keys[i]->text);
        rc = pt_cfg_fail(c, keys[i], "duplicate key (first at line %u)", keys[i - 1]->line);
        pt_cfg_pop(c, mark);
    }
    free(keys);
    return rc;
}

int pt_cfg_map_fields(pt_cfg *c, const pt_cfg_node *n, const pt_cfg_field *fields, void *obj, uint64_t *seen)
{
    uint64_t mask = 0;
    bool failed = false;
    if (seen) *seen = 0;
    if (pt_cfg_is_null(n)) return 0;
    if (pt_cfg_expect_map(c, n, "a mapping")) return -1;
    for (size_t i = 0; i < n->n; i++) {
        const pt_cfg_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
        size_t idx = 0;
        while (fields[idx].key && strcmp(fields[idx].key, k->text) != 0) idx++;
        size_t mark = pt_cfg_push_key(c, k->text);
        int rc = fields[idx].key ? apply_field(c, &fields[idx], v, obj) : unknown_key(c, k, fields);
        pt_cfg_pop(c, mark);
        failed |= rc != 0;
        if (idx < 64) mask |= (uint64_t)1 << idx;
    }
    if (seen) *seen = mask;
    return failed ? -1 : 0;
}

int pt_cfg_map_list(pt_cfg *c, const pt_cfg_node *v, const pt_cfg_list *spec, void *obj)
{
    const pt_cfg_node *const *items = NULL;
    size_t count = 0;
    bool single = false;
    if (v->kind == PT_CFG_SCALAR && !pt_cfg_is_null(v)) {
        items = &v;
        count = 1;
        single = true;
    } else if (v->kind == PT_CFG_SEQ) {
        items = (const pt_cfg_node *const *)v->items;
        count = v->n;
    } else if (!pt_cfg_is_null(v)) {
        return pt_cfg_fail(c, v, "expected %s, got %s", spec->what, pt_cfg_kind_name(v));
    }
    if (count > spec->max) return pt_cfg_fail(c, v, "too many entries (at most %zu)", spec->max);
    if (count == 0) return spec->empty ? pt_cfg_fail(c, v, "%s", spec->empty) : 0;
    if (spec->begin && spec->begin(c, v, count, obj)) return -1;
    bool failed = false;
    for (size_t i = 0; i < count; i++) {
        size_t mark = single ? c->pathlen : pt_cfg_push_index(c, i);
        failed |= spec->entry(c, items[i], i, obj) != 0;
        pt_cfg_pop(c, mark);
    }
    return failed ? -1 : 0;
}

int pt_cfg_map_entry(pt_cfg *c, const pt_cfg_node *it, const pt_cfg_field *fields, void *obj, pt_cfg_field_fn scalar_fn,
                     const char *required, const char *what)
{
    if (it->kind == PT_CFG_SCALAR) return scalar_fn(c, it, obj);
    if (it->kind != PT_CFG_MAP) return pt_cfg_fail(c, it, "expected %s, got %s", what, pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, fields, obj, NULL)) return -1;
    if (!pt_cfg_map_get(it, required)) return pt_cfg_fail(c, it, "missing required key '%s'", required);
    return 0;
}

int pt_cfg_map_pairs(pt_cfg *c, const pt_cfg_node *v, const pt_cfg_pairs *spec, void *obj)
{
    if (pt_cfg_is_null(v)) return 0;
    if (pt_cfg_expect_map(c, v, spec->what)) return -1;
    if (v->n > spec->max) return pt_cfg_fail(c, v, "too many entries (at most %zu)", spec->max);
    if (v->n == 0) return 0;
    if (spec->begin(c, v, v->n, obj)) return -1;
    bool failed = false;
    for (size_t i = 0; i < v->n; i++) {
        size_t mark = pt_cfg_push_key(c, v->items[2 * i]->text);
        failed |= spec->pair(c, v->items[2 * i], v->items[2 * i + 1], i, obj) != 0;
        pt_cfg_pop(c, mark);
    }
    return failed ? -1 : 0;
}
