/* argshape.c: a tool call's arguments reduced to their keys and types (see argshape.h). */
#include "mcp/argshape.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static json_t *shape(const json_t *v, int depth);

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A key as shown: cut at PT_ARGSHAPE_KEY_MAX bytes, not inside a character. */
static void key_cut(const char *k, char *out)
{
    size_t n = strlen(k);
    if (n > PT_ARGSHAPE_KEY_MAX) {
        n = PT_ARGSHAPE_KEY_MAX;
        while (n > 0 && ((unsigned char)k[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, k, n);
    out[n] = '\0';
}

static json_t *object_shape(const json_t *v, int depth)
{
    size_t n = json_object_size(v), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    json_t *o = keys ? json_object() : NULL;
    if (!o) {
        free(keys);
        return NULL;
    }
    const char *k;
    json_t *x;
    json_object_foreach ((json_t *)v, k, x) keys[i++] = k;
    qsort(keys, n, sizeof *keys, by_bytes);
    char cut[PT_ARGSHAPE_KEY_MAX + 1];
    for (i = 0; i < n && i < PT_ARGSHAPE_KEYS; i++) {
        key_cut(keys[i], cut);
        if (!json_object_get(o, cut)) json_object_set_new(o, cut, shape(json_object_get(v, keys[i]), depth - 1));
    }
    if (n > PT_ARGSHAPE_KEYS) json_object_set_new(o, "...", json_string("more"));
    free(keys);
    return o;
}

static json_t *array_shape(const json_t *v, int depth)
{
    json_t *a = json_array();
    size_t n = json_array_size(v);
    if (!a || !n) return a;
    json_type t = json_typeof(json_array_get(v, 0));
    bool same = true;
    for (size_t i = 1; i < n && i < PT_ARGSHAPE_SCAN; i++) {
        json_type u = json_typeof(json_array_get(v, i));
        same = same && (u == t || ((u == JSON_TRUE || u == JSON_FALSE) && (t == JSON_TRUE || t == JSON_FALSE)));
    }
    json_array_append_new(a, same ? shape(json_array_get(v, 0), depth - 1) : json_string("mixed"));
    return a;
}

static json_t *shape(const json_t *v, int depth)
{
    if (json_is_object(v) && depth > 0) return object_shape(v, depth);
    if (json_is_array(v) && depth > 0) return array_shape(v, depth);
    return json_string(type_name(v));
}

char *pt_mcp_arg_shape(const json_t *args)
{
    if (!args) return strdup("{}");
    for (int depth = PT_ARGSHAPE_DEPTH; depth >= 0; depth--) {
        json_t *s = shape(args, depth);
        char *text = s ? json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
        json_decref(s);
        if (!text) return NULL;
        if (strlen(text) <= PT_ARGSHAPE_MAX) return text;
        free(text);
    }
    return NULL; /* not reached: depth 0 is a type's name */
}
