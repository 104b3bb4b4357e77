/* jschema.c: the JSON Schema subset validator (see jschema.h). */
#include "ai/jschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* schema nesting, and $ref hops during one validation */

struct pt_jschema {
    json_t *root;
};

/* A JSON pointer being built while walking (schema or instance). */
typedef struct ptr {
    char text[256];
    size_t len;
} ptr;

static size_t ptr_push(ptr *p, const char *seg)
{
    size_t mark = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "/%s", seg);
    if (n > 0) p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return mark;
}

static size_t ptr_push_index(ptr *p, size_t i)
{
    char seg[24];
    snprintf(seg, sizeof seg, "%zu", i);
    return ptr_push(p, seg);
}

static void ptr_pop(ptr *p, size_t mark)
{
    p->len = mark;
    p->text[mark] = '\0';
}

static int fail(char *why, size_t whylen, const ptr *p, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t whylen, const ptr *p, const char *fmt, ...)
{
    int n = snprintf(why, whylen, "at %s: ", p->len ? p->text : "/");
    if (n < 0 || (size_t)n >= whylen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- checking a schema ---------------------------------------------------------------- */

static const char *const type_names[] = { "object", "array", "string", "number", "integer", "boolean", "null" };

static bool known_type(const char *t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strcmp(t, type_names[i]) == 0) return true;
    return false;
}

typedef struct checker {
    const json_t *root;
    char *why;
    size_t whylen;
    ptr at;
} checker;

static int check(checker *k, const json_t *s, int depth);

static int check_type(checker *k, const json_t *t)
{
    if (json_is_string(t)) {
        if (known_type(json_string_value(t))) return 0;
        return fail(k->why, k->whylen, &k->at, "unknown type '%s'", json_string_value(t));
    }
    if (!json_is_array(t) || json_array_size(t) == 0)
        return fail(k->why, k->whylen, &k->at, "type must be a type name or a list of them");
    size_t i;
    const json_t *e;
    json_array_foreach(t, i, e) if (!json_is_string(e) || !known_type(json_string_value(e)))
        return fail(k->why, k->whylen, &k->at, "type[%zu] is not a type name", i);
    return 0;
}

/* A keyword whose value is a schema, a map of schemas or a list of schemas. */
static int check_sub(checker *k, const char *kw, const json_t *v, int depth)
{
    size_t mark = ptr_push(&k->at, kw);
    int rc = 0;
    if (strcmp(kw, "properties") == 0 || strcmp(kw, "$defs") == 0) {
        const char *name;
        const json_t *sub;
        if (!json_is_object(v)) rc = fail(k->why, k->whylen, &k->at, "expected an object of schemas");
        json_object_foreach((json_t *)v, name, sub) {
            if (rc) break;
            size_t m2 = ptr_push(&k->at, name);
            rc = check(k, sub, depth + 1);
            ptr_pop(&k->at, m2);
        }
    } else if (strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0 || strcmp(kw, "allOf") == 0) {
        size_t i;
        const json_t *sub;
        if (!json_is_array(v) || json_array_size(v) == 0)
            rc = fail(k->why, k->whylen, &k->at, "expected a non-empty list of schemas");
        json_array_foreach(v, i, sub) {
            if (rc) break;
            size_t m2 = ptr_push_index(&k->at, i);
            rc = check(k, sub, depth + 1);
            ptr_pop(&k->at, m2);
        }
    } else if (strcmp(kw, "additionalProperties") == 0 && json_is_boolean(v)) {
        rc = 0;
    } else {
        rc = check(k, v, depth + 1); /* items, additionalProperties */
    }
    if (!rc) ptr_pop(&k->at, mark);
    return rc;
}

static const json_t *resolve_ref(const json_t *root, const char *ref)
{
    static const char prefix[] = "#/$defs/";
    if (strncmp(ref, prefix, sizeof prefix - 1) != 0) return NULL;
    return json_object_get(json_object_get(root, "$defs"), ref + sizeof prefix - 1);
}

/* Annotations: accepted, never checked ("format" is an annotation in 2020-12 unless a
 * vocabulary asks otherwise; the OpenAPI ones describe, they do not constrain requests). */
static bool is_note(const char *kw)
{
    static const char *const notes[] = { "title", "description", "$schema", "$id", "$comment", "default", "examples",
                                         "format", "example", "deprecated", "readOnly", "writeOnly" };
    for (size_t i = 0; i < sizeof notes / sizeof *notes; i++)
        if (strcmp(kw, notes[i]) == 0) return true;
    return false;
}

static const char *const checked[] = { "type", "properties", "required", "items", "enum", "const", "minimum", "maximum",
                                       "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems",
                                       "maxItems", "additionalProperties", "anyOf", "oneOf", "allOf", "$ref", "$defs" };

bool pt_jschema_keyword_known(const char *kw)
{
    if (is_note(kw)) return true;
    for (size_t i = 0; i < sizeof checked / sizeof *checked; i++)
        if (strcmp(kw, checked[i]) == 0) return true;
    return false;
}

static int check_keyword(checker *k, const char *kw, const json_t *v, int depth)
{
    if (is_note(kw)) return 0;
    if (strcmp(kw, "type") == 0) return check_type(k, v);
    if (strcmp(kw, "properties") == 0 || strcmp(kw, "$defs") == 0 || strcmp(kw, "items") == 0 ||
        strcmp(kw, "additionalProperties") == 0 || strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0 ||
        strcmp(kw, "allOf") == 0)
        return check_sub(k, kw, v, depth);
    if (strcmp(kw, "required") == 0) {
        size_t i;
        const json_t *e;
        if (!json_is_array(v)) return fail(k->why, k->whylen, &k->at, "required must be a list of names");
        json_array_foreach(v, i, e) if (!json_is_string(e))
            return fail(k->why, k->whylen, &k->at, "required[%zu] is not a name", i);
        return 0;
    }
    if (strcmp(kw, "enum") == 0)
        return json_is_array(v) && json_array_size(v) ? 0 : fail(k->why, k->whylen, &k->at, "enum must be a non-empty list");
    if (strcmp(kw, "const") == 0) return 0;
    if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0 || strcmp(kw, "exclusiveMinimum") == 0 ||
        strcmp(kw, "exclusiveMaximum") == 0)
        return json_is_number(v) ? 0 : fail(k->why, k->whylen, &k->at, "%s must be a number", kw);
    if (strcmp(kw, "minLength") == 0 || strcmp(kw, "maxLength") == 0 || strcmp(kw, "minItems") == 0 ||
        strcmp(kw, "maxItems") == 0)
        return json_is_integer(v) && json_integer_value(v) >= 0
                   ? 0
                   : fail(k->why, k->whylen, &k->at, "%s must be a non-negative integer", kw);
    if (strcmp(kw, "$ref") == 0) {
        if (!json_is_string(v) || !resolve_ref(k->root, json_string_value(v)))
            return fail(k->why, k->whylen, &k->at, "$ref must name a schema under #/$defs/ of this schema");
        return 0;
    }
    return fail(k->why, k->whylen, &k->at, "unsupported keyword '%s' (supported: type, properties, required, items, "
                "enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, "
                "maxItems, additionalProperties, anyOf, oneOf, allOf, $ref, $defs)", kw);
}

static int check(checker *k, const json_t *s, int depth)
{
    if (depth > MAX_DEPTH) return fail(k->why, k->whylen, &k->at, "nested more than %d levels", MAX_DEPTH);
    if (json_is_boolean(s)) return 0;
    if (!json_is_object(s)) return fail(k->why, k->whylen, &k->at, "a schema must be an object or a boolean");
    const char *kw;
    const json_t *v;
    json_object_foreach((json_t *)s, kw, v) if (check_keyword(k, kw, v, depth)) return -1;
    return 0;
}

pt_jschema *pt_jschema_new(json_t *schema, char *why, size_t whylen)
{
    checker k = { .root = schema, .why = why, .whylen = whylen };
    if (!schema || check(&k, schema, 0)) return NULL;
    pt_jschema *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    s->root = json_incref(schema);
    return s;
}

void pt_jschema_free(pt_jschema *s)
{
    if (!s) return;
    json_decref(s->root);
    free(s);
}

const json_t *pt_jschema_json(const pt_jschema *s) { return s->root; }

/* ---- validating ---------------------------------------------------------------------- */

typedef struct validator {
    const json_t *root;
    char *why;
    size_t whylen;
    ptr at;
} validator;

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static bool is_type(const json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0) return json_is_object(v);
    if (strcmp(t, "array") == 0) return json_is_array(v);
    if (strcmp(t, "string") == 0) return json_is_string(v);
    if (strcmp(t, "number") == 0) return json_is_number(v);
    if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(t, "null") == 0) return json_is_null(v);
    /* integer: a whole number, written 3 or 3.0 */
    if (json_is_integer(v)) return true;
    double d = json_is_real(v) ? json_real_value(v) : 0.5;
    return d == floor(d) && isfinite(d);
}

/* JSON equality where 1 and 1.0 are the same number (json_equal keeps them apart). */
static bool same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

size_t pt__utf8_chars(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

static int validate(validator *x, const json_t *s, const json_t *v, int depth);

static int v_type(validator *x, const json_t *t, const json_t *v)
{
    if (json_is_string(t)) {
        if (is_type(v, json_string_value(t))) return 0;
        return fail(x->why, x->whylen, &x->at, "expected %s %s, got %s", strcmp(json_string_value(t), "integer") == 0 ||
                    strcmp(json_string_value(t), "object") == 0 || strcmp(json_string_value(t), "array") == 0 ? "an" : "a",
                    json_string_value(t), type_of(v));
    }
    size_t i;
    const json_t *e;
    json_array_foreach(t, i, e) if (is_type(v, json_string_value(e))) return 0;
    return fail(x->why, x->whylen, &x->at, "%s is none of the allowed types", type_of(v));
}

static int v_object(validator *x, const json_t *s, const json_t *v, int depth)
{
    const json_t *req = json_object_get(s, "required");
    size_t i;
    const json_t *e;
    json_array_foreach(req, i, e) if (!json_object_get(v, json_string_value(e)))
        return fail(x->why, x->whylen, &x->at, "missing required property '%s'", json_string_value(e));
    const json_t *props = json_object_get(s, "properties"), *extra = json_object_get(s, "additionalProperties");
    const char *name;
    const json_t *member;
    json_object_foreach((json_t *)v, name, member) {
        const json_t *sub = json_object_get(props, name);
        if (!sub) {
            if (json_is_false(extra)) return fail(x->why, x->whylen, &x->at, "property '%s' is not allowed", name);
            if (!json_is_object(extra)) continue;
            sub = extra;
        }
        size_t mark = ptr_push(&x->at, name);
        if (validate(x, sub, member, depth + 1)) return -1;
        ptr_pop(&x->at, mark);
    }
    return 0;
}

static int v_array(validator *x, const json_t *s, const json_t *v, int depth)
{
    const json_t *items = json_object_get(s, "items"), *e;
    const json_t *mini = json_object_get(s, "minItems"), *maxi = json_object_get(s, "maxItems");
    size_t i;
    if (mini && json_array_size(v) < (size_t)json_integer_value(mini))
        return fail(x->why, x->whylen, &x->at, "fewer than minItems %lld items", (long long)json_integer_value(mini));
    if (maxi && json_array_size(v) > (size_t)json_integer_value(maxi))
        return fail(x->why, x->whylen, &x->at, "more than maxItems %lld items", (long long)json_integer_value(maxi));
    if (!items) return 0;
    json_array_foreach(v, i, e) {
        size_t mark = ptr_push_index(&x->at, i);
        if (validate(x, items, e, depth + 1)) return -1;
        ptr_pop(&x->at, mark);
    }
    return 0;
}

static int v_number(validator *x, const json_t *s, double d)
{
    const json_t *lo = json_object_get(s, "minimum"), *hi = json_object_get(s, "maximum");
    const json_t *xlo = json_object_get(s, "exclusiveMinimum"), *xhi = json_object_get(s, "exclusiveMaximum");
    if (lo && d < json_number_value(lo))
        return fail(x->why, x->whylen, &x->at, "%g is less than the minimum %g", d, json_number_value(lo));
    if (hi && d > json_number_value(hi))
        return fail(x->why, x->whylen, &x->at, "%g is more than the maximum %g", d, json_number_value(hi));
    if (xlo && d <= json_number_value(xlo))
        return fail(x->why, x->whylen, &x->at, "%g is not more than the exclusive minimum %g", d, json_number_value(xlo));
    if (xhi && d >= json_number_value(xhi))
        return fail(x->why, x->whylen, &x->at, "%g is not less than the exclusive maximum %g", d, json_number_value(xhi));
    return 0;
}

static int v_scalar(validator *x, const json_t *s, const json_t *v)
{
    if (json_is_number(v) && v_number(x, s, json_number_value(v))) return -1;
    const json_t *minl = json_object_get(s, "minLength"), *maxl = json_object_get(s, "maxLength");
    if (json_is_string(v) && (minl || maxl)) {
        size_t n = pt__utf8_chars(json_string_value(v), json_string_length(v));
        if (minl && n < (size_t)json_integer_value(minl))
            return fail(x->why, x->whylen, &x->at, "shorter than minLength %lld", (long long)json_integer_value(minl));
        if (maxl && n > (size_t)json_integer_value(maxl))
            return fail(x->why, x->whylen, &x->at, "longer than maxLength %lld", (long long)json_integer_value(maxl));
    }
    return 0;
}

/* How many branches of list v satisfies; *first gets the first failure. */
static size_t count_ok(validator *x, const json_t *list, const json_t *v, int depth, char *first, size_t n,
                       size_t *first_bad)
{
    size_t i, ok = 0;
    const json_t *sub;
    first[0] = '\0';
    json_array_foreach(list, i, sub) {
        char why[256];
        validator y = *x;
        y.why = why;
        y.whylen = sizeof why;
        if (validate(&y, sub, v, depth + 1) == 0) {
            ok++;
        } else if (!first[0]) {
            snprintf(first, n, "%s", why);
            *first_bad = i;
        }
    }
    return ok;
}

/* allOf / anyOf / oneOf: the first failing branch is named, not every one. A failing allOf
 * branch's own failure is the value's (every branch must hold), so it is reported as it is:
 * the innermost pointer, not a chain of "allOf[i] fails" around it. */
static int v_combo(validator *x, const json_t *s, const json_t *v, int depth)
{
    char first[256];
    size_t bad = 0;
    const json_t *all = json_object_get(s, "allOf"), *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf");
    if (all && count_ok(x, all, v, depth, first, sizeof first, &bad) != json_array_size(all))
        return snprintf(x->why, x->whylen, "%s", first), -1;
    if (any && count_ok(x, any, v, depth, first, sizeof first, &bad) == 0)
        return fail(x->why, x->whylen, &x->at, "matches none of anyOf (anyOf[%zu]: %s)", bad, first);
    if (one) {
        size_t ok = count_ok(x, one, v, depth, first, sizeof first, &bad);
        if (ok == 0) return fail(x->why, x->whylen, &x->at, "matches none of oneOf (oneOf[%zu]: %s)", bad, first);
        if (ok > 1) return fail(x->why, x->whylen, &x->at, "matches %zu of oneOf, not exactly one", ok);
    }
    return 0;
}

static int validate(validator *x, const json_t *s, const json_t *v, int depth)
{
    if (depth > MAX_DEPTH) return fail(x->why, x->whylen, &x->at, "schema references nest more than %d levels", MAX_DEPTH);
    if (json_is_true(s)) return 0;
    if (json_is_false(s)) return fail(x->why, x->whylen, &x->at, "no value is allowed here");
    const json_t *ref = json_object_get(s, "$ref");
    if (ref && validate(x, resolve_ref(x->root, json_string_value(ref)), v, depth + 1)) return -1;
    const json_t *t = json_object_get(s, "type");
    if (t && v_type(x, t, v)) return -1;
    const json_t *c = json_object_get(s, "const");
    if (c && !same(c, v)) return fail(x->why, x->whylen, &x->at, "not the constant value the schema requires");
    const json_t *en = json_object_get(s, "enum");
    if (en) {
        size_t i;
        const json_t *e;
        bool found = false;
        json_array_foreach(en, i, e) found = found || same(e, v);
        if (!found) return fail(x->why, x->whylen, &x->at, "not one of the values enum allows");
    }
    if (json_is_object(v) && v_object(x, s, v, depth)) return -1;
    if (json_is_array(v) && v_array(x, s, v, depth)) return -1;
    if (v_scalar(x, s, v)) return -1;
    return v_combo(x, s, v, depth);
}

int pt_jschema_validate(const pt_jschema *s, const json_t *v, char *why, size_t whylen)
{
    validator x = { .root = s->root, .why = why, .whylen = whylen };
    return validate(&x, s->root, v, 0);
}
