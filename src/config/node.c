/* node.c: configuration trees built in code (see node.h). */
#include "config/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pt_cfg_node *node_new(pt_cfg_kind kind)
{
    pt_cfg_node *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

pt_cfg_node *pt_cfg_node_scalar(const char *text, bool quoted)
{
    pt_cfg_node *n = node_new(PT_CFG_SCALAR);
    if (!n || !(n->text = strdup(text))) {
        free(n);
        return NULL;
    }
    n->len = strlen(text);
    n->quoted = quoted;
    n->literal = true;
    return n;
}

pt_cfg_node *pt_cfg_node_map(void) { return node_new(PT_CFG_MAP); }
pt_cfg_node *pt_cfg_node_seq(void) { return node_new(PT_CFG_SEQ); }

static int push(pt_cfg_node *parent, pt_cfg_node *child)
{
    if (!child) return -1;
    if (parent->nitems == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        pt_cfg_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            pt_cfg_node_free(child);
            return -1;
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->nitems++] = child;
    parent->n = parent->kind == PT_CFG_MAP ? parent->nitems / 2 : parent->nitems;
    return 0;
}

int pt_cfg_node_append(pt_cfg_node *seq, pt_cfg_node *item) { return push(seq, item); }

int pt_cfg_node_put(pt_cfg_node *map, const char *key, pt_cfg_node *value)
{
    if (!value) return -1;
    if (push(map, pt_cfg_node_scalar(key, false)) != 0) {
        pt_cfg_node_free(value);
        return -1;
    }
    if (push(map, value) == 0) return 0;
    pt_cfg_node_free(map->items[--map->nitems]); /* the key just added */
    map->n = map->nitems / 2;
    return -1;
}

pt_cfg_node *pt_cfg_node_get(pt_cfg_node *map, const char *key)
{
    return (pt_cfg_node *)pt_cfg_map_get(map, key);
}

pt_cfg_node *pt_cfg_node_clone(const pt_cfg_node *n)
{
    pt_cfg_node *c = node_new(n->kind);
    if (!c) return NULL;
    c->quoted = n->quoted;
    c->literal = n->literal;
    c->line = n->line;
    c->len = n->len;
    if (n->text && !(c->text = malloc(n->len + 1))) goto fail;
    if (n->text) memcpy(c->text, n->text, n->len + 1);
    for (size_t i = 0; i < n->nitems; i++)
        if (push(c, pt_cfg_node_clone(n->items[i])) != 0) goto fail;
    c->n = n->n;
    return c;
fail:
    pt_cfg_node_free(c);
    return NULL;
}

pt_cfg_node *pt_cfg_node_from_json(const json_t *j)
{
    char num[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        pt_cfg_node *m = pt_cfg_node_map();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) if (m && pt_cfg_node_put(m, k, pt_cfg_node_from_json(v)) != 0) {
            pt_cfg_node_free(m);
            return NULL;
        }
        return m;
    }
    case JSON_ARRAY: {
        pt_cfg_node *s = pt_cfg_node_seq();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (s && pt_cfg_node_append(s, pt_cfg_node_from_json(v)) != 0) {
            pt_cfg_node_free(s);
            return NULL;
        }
        return s;
    }
    case JSON_STRING: return pt_cfg_node_scalar(json_string_value(j), true);
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        return pt_cfg_node_scalar(num, false);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(j));
        return pt_cfg_node_scalar(num, false);
    case JSON_TRUE: return pt_cfg_node_scalar("true", false);
    case JSON_FALSE: return pt_cfg_node_scalar("false", false);
    default: return pt_cfg_node_scalar("null", false);
    }
}
