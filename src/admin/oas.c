/* oas.c: OpenAPI documents imported into a normalised form and exported again (see oas.h). */
#include "admin/oas.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/export.h"
#include "ai/jschema.h"
#include "config/yaml.h"
#include "core/buf.h"

#define MAX_DEPTH 64   /* schema nesting, $ref hops included */
#define PTR_MAX 400

static const char *const methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* A JSON pointer into the document, built while walking it. */
typedef struct jptr {
    char s[PTR_MAX];
    size_t n;
} jptr;

static size_t push(jptr *p, const char *seg)
{
    size_t mark = p->n;
    if (p->n + 1 < sizeof p->s) p->s[p->n++] = '/';
    for (; *seg && p->n + 2 < sizeof p->s; seg++) {
        if (*seg == '~' || *seg == '/') {
            p->s[p->n++] = '~';
            p->s[p->n++] = *seg == '~' ? '0' : '1';
        } else {
            p->s[p->n++] = *seg;
        }
    }
    p->s[p->n] = '\0';
    return mark;
}

static size_t push_index(jptr *p, size_t i)
{
    char seg[24];
    snprintf(seg, sizeof seg, "%zu", i);
    return push(p, seg);
}

static void pop(jptr *p, size_t mark)
{
    p->n = mark;
    p->s[mark] = '\0';
}

typedef struct oas {
    const json_t *doc;
    const pt_cfg_node *yaml;   /* the YAML tree, for lines; NULL for a JSON document */
    pt_admin_err *e;
    jptr at;
    const char *refs[MAX_DEPTH]; /* the $refs being expanded, innermost last: a repeat is a cycle */
    size_t nrefs;
    size_t nodes;
    bool v30;
} oas;

/* ---- where a pointer is in the YAML text ------------------------------------------------ */

/* The next segment of pointer p (unescaped into seg); returns the rest, or NULL at the end. */
static const char *next_seg(const char *p, char *seg, size_t cap)
{
    if (*p != '/') return NULL;
    size_t n = 0;
    for (p++; *p && *p != '/'; p++) {
        char c = *p;
        if (c == '~' && (p[1] == '0' || p[1] == '1')) c = *++p == '0' ? '~' : '/';
        if (n + 1 < cap) seg[n++] = c;
    }
    seg[n] = '\0';
    return p;
}

/* The line of the deepest node of the YAML tree the pointer reaches. */
static unsigned line_of(const pt_cfg_node *n, const char *ptr)
{
    unsigned line = n ? n->line : 0;
    char seg[PTR_MAX];
    while (n && (ptr = next_seg(ptr, seg, sizeof seg))) {
        const pt_cfg_node *child = NULL;
        if (n->kind == PT_CFG_MAP) {
            for (size_t i = 0; i < n->n && !child; i++)
                if (strcmp(n->items[2 * i]->text, seg) == 0) child = n->items[2 * i + 1];
        } else if (n->kind == PT_CFG_SEQ) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            if (*seg && !*end && i < n->n) child = n->items[i];
        }
        n = child;
        if (n) line = n->line;
    }
    return line;
}

static int bad_at(oas *o, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad_at(oas *o, const char *ptr, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *p = *ptr ? ptr : "/";
    if (o->yaml) pt_admin_fail(o->e, 400, "invalid_openapi", p, "line %u: %.160s: %s", line_of(o->yaml, ptr), p, why);
    else pt_admin_fail(o->e, 400, "invalid_openapi", p, "%.180s: %s", p, why);
    return -1;
}

#define BAD(o, ...) bad_at((o), (o)->at.s, __VA_ARGS__)

/* ---- $ref ---------------------------------------------------------------------------------- */

/* The value a local reference ("#/components/schemas/Pet") names, or NULL. */
static const json_t *resolve(const json_t *doc, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    const json_t *v = doc;
    char seg[PTR_MAX];
    const char *p = ref + 1;
    while (v && (p = next_seg(p, seg, sizeof seg))) {
        if (json_is_object(v)) {
            v = json_object_get(v, seg);
        } else if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            v = *seg && !*end ? json_array_get(v, i) : NULL;
        } else {
            v = NULL;
        }
    }
    return v;
}

/* Follows v's $ref (chains of them) to the object it names, moving o->at to the target
 * and pushing each reference on o->refs; *pushed counts them for unref(). */
static const json_t *deref(oas *o, const json_t *v, size_t *pushed, jptr *saved)
{
    *pushed = 0;
    *saved = o->at;
    const json_t *ref;
    while (json_is_object(v) && (ref = json_object_get(v, "$ref"))) {
        const char *r = json_string_value(ref);
        size_t m = push(&o->at, "$ref");
        if (!r) {
            BAD(o, "$ref must be a string");
            return NULL;
        }
        if (strncmp(r, "#/", 2) != 0) {
            BAD(o, "$ref '%.80s' is not local: only references into this document (#/...) are resolved", r);
            return NULL;
        }
        for (size_t i = 0; i < o->nrefs; i++)
            if (strcmp(o->refs[i], r) == 0) {
                BAD(o, "$ref '%.80s' is cyclic: it refers back to itself through %zu reference(s)", r, o->nrefs - i);
                return NULL;
            }
        if (o->nrefs == MAX_DEPTH) {
            BAD(o, "$refs nest more than %d deep", MAX_DEPTH);
            return NULL;
        }
        const json_t *t = resolve(o->doc, r);
        if (!t) {
            BAD(o, "$ref '%.80s' does not resolve in this document", r);
            return NULL;
        }
        pop(&o->at, m);
        o->refs[o->nrefs++] = r;
        (*pushed)++;
        snprintf(o->at.s, sizeof o->at.s, "%s", r + 1);
        o->at.n = strlen(o->at.s);
        v = t;
    }
    return v;
}

static void unref(oas *o, size_t pushed, const jptr *saved)
{
    o->nrefs -= pushed;
    o->at = *saved;
}

/* ---- schemas --------------------------------------------------------------------------------- */

static json_t *schema(oas *o, const json_t *s, int depth);

static bool dropped(const char *kw)
{
    return strncmp(kw, "x-", 2) == 0 || strcmp(kw, "discriminator") == 0 || strcmp(kw, "xml") == 0 ||
           strcmp(kw, "externalDocs") == 0 || strcmp(kw, "example") == 0 || strcmp(kw, "examples") == 0;
}

/* A keyword whose value holds schemas: one (items, additionalProperties), a map of them
 * (properties, $defs) or a list (allOf, anyOf, oneOf). */
static json_t *sub_schemas(oas *o, const char *kw, const json_t *v, int depth)
{
    json_t *out = NULL;
    if (strcmp(kw, "properties") == 0 || strcmp(kw, "$defs") == 0) {
        if (!json_is_object(v)) return BAD(o, "%s must be an object of schemas", kw), NULL;
        out = json_object();
        const char *name;
        const json_t *sub;
        json_object_foreach((json_t *)v, name, sub) {
            size_t m = push(&o->at, name);
            json_t *n = schema(o, sub, depth + 1);
            if (!n || json_object_set_new(out, name, n)) goto fail;
            pop(&o->at, m);
        }
    } else if (strcmp(kw, "allOf") == 0 || strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0) {
        if (!json_is_array(v) || !json_array_size(v)) return BAD(o, "%s must be a non-empty list of schemas", kw), NULL;
        out = json_array();
        size_t i;
        const json_t *sub;
        json_array_foreach(v, i, sub) {
            size_t m = push_index(&o->at, i);
            json_t *n = schema(o, sub, depth + 1);
            if (!n || json_array_append_new(out, n)) goto fail;
            pop(&o->at, m);
        }
    } else if (strcmp(kw, "additionalProperties") == 0 && json_is_boolean(v)) {
        out = json_incref((json_t *)v);
    } else {
        out = schema(o, v, depth + 1);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* 3.0's nullable: true becomes "null" among the types (and the enum) of 3.1. */
static void nullable(json_t *s)
{
    json_t *t = json_object_get(s, "type"), *en = json_object_get(s, "enum");
    if (json_is_string(t)) json_object_set_new(s, "type", json_pack("[O,s]", t, "null"));
    else if (json_is_array(t)) json_array_append_new(t, json_string("null"));
    if (json_is_array(en)) json_array_append_new(en, json_null());
}

/* 3.0's boolean exclusiveMinimum/Maximum qualify minimum/maximum; in 3.1 they are the bound. */
static void exclusive_bounds(json_t *s)
{
    static const char *const pairs[][2] = {{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}};
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_object_get(s, pairs[i][0]);
        if (!json_is_boolean(x)) continue;
        json_t *bound = json_object_get(s, pairs[i][1]);
        if (json_is_true(x) && bound) {
            json_object_set(s, pairs[i][0], bound);
            json_object_del(s, pairs[i][1]);
        } else {
            json_object_del(s, pairs[i][0]);
        }
    }
}

static bool is_sub_keyword(const char *kw)
{
    static const char *const subs[] = {"properties", "$defs", "items", "additionalProperties", "allOf", "anyOf", "oneOf"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(kw, subs[i]) == 0) return true;
    return false;
}

/* One schema object, its $refs expanded, in the validator's subset. */
static json_t *schema_object(oas *o, const json_t *s, int depth)
{
    json_t *out = json_object();
    bool is_null = false;
    const char *kw;
    const json_t *v;
    json_object_foreach((json_t *)s, kw, v) {
        if (dropped(kw) || strcmp(kw, "$ref") == 0) continue;
        size_t m = push(&o->at, kw);
        json_t *n = NULL;
        if (strcmp(kw, "nullable") == 0) {
            if (!o->v30) BAD(o, "nullable is OpenAPI 3.0: in 3.1 write \"type\": [..., \"null\"]");
            else if (!json_is_boolean(v)) BAD(o, "nullable must be true or false");
            else is_null = json_is_true(v), n = json_true();
            pop(&o->at, m);
            if (!n) goto fail;
            json_decref(n);
            continue;
        }
        if (strcmp(kw, "exclusiveMinimum") == 0 || strcmp(kw, "exclusiveMaximum") == 0) {
            if (json_is_boolean(v) && !o->v30) {
                BAD(o, "%s is a number in OpenAPI 3.1", kw);
                goto fail;
            }
        }
        if (!pt_jschema_keyword_known(kw)) {
            BAD(o, "keyword '%.40s' cannot be honoured by the request validator", kw);
            goto fail;
        }
        n = is_sub_keyword(kw) ? sub_schemas(o, kw, v, depth) : json_deep_copy(v);
        if (!n || json_object_set_new(out, kw, n)) goto fail;
        pop(&o->at, m);
    }
    exclusive_bounds(out);
    if (is_null) nullable(out);
    return out;
fail:
    json_decref(out);
    return NULL;
}

static json_t *schema(oas *o, const json_t *s, int depth)
{
    if (depth > MAX_DEPTH) return BAD(o, "schemas nest more than %d levels", MAX_DEPTH), NULL;
    if (++o->nodes > PT_OAS_MAX_NODES)
        return BAD(o, "the document expands to more than %u schemas once its $refs are resolved", PT_OAS_MAX_NODES), NULL;
    if (json_is_boolean(s)) return json_incref((json_t *)s);
    if (!json_is_object(s)) return BAD(o, "a schema must be an object"), NULL;
    const json_t *ref = json_object_get(s, "$ref");
    if (!ref) return schema_object(o, s, depth);
    /* 3.1 lets a $ref have siblings: both must hold, which is what allOf says */
    size_t pushed;
    jptr saved;
    const json_t *t = deref(o, s, &pushed, &saved);
    json_t *target = t ? schema(o, t, depth + 1) : NULL;
    unref(o, pushed, &saved);
    if (!target) return NULL;
    size_t own = 0;
    const char *kw;
    const json_t *v;
    json_object_foreach((json_t *)s, kw, v) own += strcmp(kw, "$ref") && !dropped(kw) && strcmp(kw, "description") &&
                                                   strcmp(kw, "summary");
    if (!own) return target;
    json_t *rest = schema_object(o, s, depth);
    json_t *both = rest ? json_pack("{s:[oo]}", "allOf", target, rest) : NULL;
    if (!rest) json_decref(target);
    return both;
}

/* ---- operations ------------------------------------------------------------------------------ */

/* The JSON media type of content ("application/json" or any "+json" type). */
static const char *json_media(const json_t *content)
{
    const char *mt;
    const json_t *v;
    json_object_foreach((json_t *)content, mt, v) {
        size_t n = strlen(mt);
        if (strcmp(mt, "application/json") == 0 || (n > 5 && strcmp(mt + n - 5, "+json") == 0)) return mt;
    }
    return NULL;
}

/* The schema under content/<json type>/schema at the current place (NULL: none, not an error). */
static int content_schema(oas *o, const json_t *content, json_t **out, const char **media)
{
    *out = NULL;
    *media = NULL;
    if (!content) return 0;
    size_t m = push(&o->at, "content");
    if (!json_is_object(content)) return BAD(o, "content must be an object of media types");
    *media = json_media(content);
    if (!*media) {
        const char *first = NULL;
        const json_t *v;
        json_object_foreach((json_t *)content, first, v) break;
        *media = first;
        pop(&o->at, m);
        return 0;
    }
    size_t m2 = push(&o->at, *media);
    const json_t *s = json_object_get(json_object_get(content, *media), "schema");
    if (s) {
        size_t m3 = push(&o->at, "schema");
        *out = schema(o, s, 0);
        if (!*out) return -1;
        pop(&o->at, m3);
    }
    pop(&o->at, m2);
    pop(&o->at, m);
    return 0;
}

static const char *const locations[] = {"path", "query", "header", "cookie"};

static json_t *parameter(oas *o, const json_t *p)
{
    size_t pushed;
    jptr saved;
    json_t *out = NULL;
    p = deref(o, p, &pushed, &saved);
    if (!p) goto out;
    if (!json_is_object(p)) {
        BAD(o, "a parameter must be an object");
        goto out;
    }
    const char *name = json_string_value(json_object_get(p, "name")), *in = json_string_value(json_object_get(p, "in"));
    bool known = false;
    for (size_t i = 0; in && i < 4; i++) known = known || strcmp(in, locations[i]) == 0;
    if (!name || !*name) {
        BAD(o, "a parameter needs a name");
        goto out;
    }
    if (!known) {
        BAD(o, "parameter '%.40s': in must be path, query, header or cookie", name);
        goto out;
    }
    json_t *req = json_object_get(p, "required");
    if (strcmp(in, "path") == 0 && !json_is_true(req)) {
        BAD(o, "path parameter '%.40s' must be required: true", name);
        goto out;
    }
    json_t *s = NULL;
    const char *media;
    const json_t *sj = json_object_get(p, "schema");
    if (sj) {
        size_t m = push(&o->at, "schema");
        s = schema(o, sj, 0);
        if (!s) goto out;
        pop(&o->at, m);
    } else if (content_schema(o, json_object_get(p, "content"), &s, &media)) {
        goto out;
    }
    out = json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", in, "required", json_is_true(req), "schema",
                    s ? s : json_true());
out:
    unref(o, pushed, &saved);
    return out;
}

/* Path-level parameters, then the operation's, which replace one of the same name and place. */
static int add_parameters(oas *o, json_t *into, const json_t *list)
{
    if (!list) return 0;
    size_t m = push(&o->at, "parameters");
    if (!json_is_array(list)) return BAD(o, "parameters must be a list");
    size_t i;
    const json_t *p;
    json_array_foreach(list, i, p) {
        size_t m2 = push_index(&o->at, i);
        json_t *n = parameter(o, p);
        if (!n) return -1;
        size_t k;
        json_t *have;
        json_array_foreach(into, k, have) if (json_equal(json_object_get(have, "name"), json_object_get(n, "name")) &&
                                              json_equal(json_object_get(have, "in"), json_object_get(n, "in"))) break;
        if (k < json_array_size(into)) json_array_set_new(into, k, n);
        else json_array_append_new(into, n);
        pop(&o->at, m2);
    }
    pop(&o->at, m);
    return 0;
}

static json_t *request_body(oas *o, const json_t *rb)
{
    size_t pushed;
    jptr saved;
    json_t *out = NULL, *s = NULL;
    const char *media = NULL;
    size_t m = push(&o->at, "requestBody");
    rb = deref(o, rb, &pushed, &saved);
    if (rb && !json_is_object(rb)) BAD(o, "requestBody must be an object");
    else if (rb && content_schema(o, json_object_get(rb, "content"), &s, &media) == 0)
        out = json_pack("{s:b,s:s*,s:o*}", "required", json_is_true(json_object_get(rb, "required")), "content_type",
                        media, "schema", s);
    unref(o, pushed, &saved);
    if (out) pop(&o->at, m);
    return out;
}

static int by_param(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "in")), json_string_value(json_object_get(y, "in")));
    return c ? c : strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
}

static json_t *operation(oas *o, const char *path, const char *method, const json_t *op, const json_t *shared)
{
    if (!json_is_object(op)) return BAD(o, "an operation must be an object"), NULL;
    char upper[8];
    size_t i;
    for (i = 0; method[i] && i < sizeof upper - 1; i++) upper[i] = (char)(method[i] - 'a' + 'A');
    upper[i] = '\0';
    json_t *params = json_array(), *body = NULL;
    jptr here = o->at;
    /* path-level parameters are named where the path item has them */
    o->at.n = strlen(o->at.s) - strlen(method) - 1;
    o->at.s[o->at.n] = '\0';
    int rc = add_parameters(o, params, shared);
    o->at = here;
    if (rc == 0) rc = add_parameters(o, params, json_object_get(op, "parameters"));
    const json_t *rb = json_object_get(op, "requestBody");
    if (rc == 0 && rb && !(body = request_body(o, rb))) rc = -1;
    if (rc) {
        json_decref(params);
        return NULL;
    }
    pt__admin_json_sort(params, by_param);
    return json_pack("{s:s,s:s,s:O*,s:O*,s:o,s:o*}", "method", upper, "path", path, "operation_id",
                     json_object_get(op, "operationId"), "summary", json_object_get(op, "summary"), "parameters", params,
                     "body", body);
}

static int path_item(oas *o, const char *path, const json_t *item, json_t *ops)
{
    size_t pushed;
    jptr saved;
    item = deref(o, item, &pushed, &saved);
    int rc = item && json_is_object(item) ? 0 : -1;
    if (item && rc) BAD(o, "a path item must be an object");
    for (size_t i = 0; rc == 0 && i < NMETHODS; i++) {
        const json_t *op = json_object_get(item, methods[i]);
        if (!op) continue;
        size_t m = push(&o->at, methods[i]);
        json_t *n = operation(o, path, methods[i], op, json_object_get(item, "parameters"));
        if (!n) rc = -1;
        else json_array_append_new(ops, n);
        if (!rc) pop(&o->at, m);
    }
    unref(o, pushed, &saved);
    return rc;
}

static int by_operation(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "path")), json_string_value(json_object_get(y, "path")));
    return c ? c
             : strcmp(json_string_value(json_object_get(x, "method")), json_string_value(json_object_get(y, "method")));
}

static int check_version(oas *o)
{
    const json_t *v = json_object_get(o->doc, "openapi");
    if (json_object_get(o->doc, "swagger"))
        return bad_at(o, "/swagger", "Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1");
    const char *s = json_string_value(v);
    if (!s) return bad_at(o, v ? "/openapi" : "", "not an OpenAPI document: \"openapi\": \"3.0.x\" or \"3.1.x\" is missing");
    if (strncmp(s, "3.0.", 4) && strncmp(s, "3.1.", 4))
        return bad_at(o, "/openapi", "unsupported version '%.20s': Portico imports OpenAPI 3.0 and 3.1", s);
    o->v30 = s[2] == '0';
    return 0;
}

static json_t *normalise(oas *o)
{
    if (check_version(o)) return NULL;
    const json_t *paths = json_object_get(o->doc, "paths");
    if (!json_is_object(paths)) return bad_at(o, paths ? "/paths" : "", "the document needs \"paths\": an object"), NULL;
    json_t *ops = json_array();
    const char *path;
    const json_t *item;
    push(&o->at, "paths");
    json_object_foreach((json_t *)paths, path, item) {
        size_t m = push(&o->at, path);
        if (path[0] != '/' || path_item(o, path, item, ops)) {
            if (path[0] != '/') BAD(o, "a path must start with '/'");
            json_decref(ops);
            return NULL;
        }
        pop(&o->at, m);
    }
    pt__admin_json_sort(ops, by_operation);
    const json_t *info = json_object_get(o->doc, "info");
    return json_pack("{s:s,s:o,s:o}", "openapi", json_string_value(json_object_get(o->doc, "openapi")), "info",
                     json_is_object(info) ? json_deep_copy(info) : json_object(), "operations", ops);
}

/* The path of servers[0].url ("https://api.example.com/v1" -> "/v1"). */
static char *server_path(const json_t *doc)
{
    const char *url = json_string_value(json_object_get(json_array_get(json_object_get(doc, "servers"), 0), "url"));
    if (!url) return strdup("");
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url[0] == '/' ? url : NULL;
    if (!p) return strdup("");
    size_t n = strcspn(p, "?#{");
    while (n > 1 && p[n - 1] == '/') n--;
    return strndup(p, n == 1 ? 0 : n);
}

static json_t *load(const char *text, size_t len, pt_cfg_node **yaml, pt_admin_err *e)
{
    size_t i = 0;
    *yaml = NULL;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    if (i < len && text[i] == '{') {
        json_error_t je;
        json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!d) pt_admin_fail(e, 400, "invalid_openapi", "", "line %d, column %d: %s", je.line, je.column, je.text);
        return d;
    }
    pt_buf why = PT_BUF_INIT;
    *yaml = memchr(text, 0, len) ? NULL : pt_cfg_yaml_parse("openapi", text, len, &why);
    json_t *doc = NULL;
    if (!*yaml) pt_admin_fail(e, 400, "invalid_openapi", "", "%s", why.data ? why.data : "a NUL byte: not a document");
    else if ((*yaml)->kind != PT_CFG_MAP) pt_admin_fail(e, 400, "invalid_openapi", "", "line %u: the document must be a mapping", (*yaml)->line);
    else if (!(doc = pt__admin_yaml_json(*yaml, e))) e->code = "invalid_openapi";
    pt_buf_release(&why);
    return doc;
}

/* Every schema compiles (it always should: the walk kept to the subset); a last guard. */
static int compiles(const json_t *ops, pt_admin_err *e)
{
    size_t i, k;
    json_t *op, *p;
    char why[200];
    json_array_foreach(ops, i, op) {
        json_t *s[64];
        size_t n = 0;
        json_array_foreach(json_object_get(op, "parameters"), k, p) if (n < 63) s[n++] = json_object_get(p, "schema");
        s[n++] = json_object_get(json_object_get(op, "body"), "schema");
        for (k = 0; k < n; k++) {
            pt_jschema *c = s[k] ? pt_jschema_new(s[k], why, sizeof why) : NULL;
            if (s[k] && !c)
                return pt_admin_fail(e, 400, "invalid_openapi", "", "%s %s: schema %s", json_string_value(json_object_get(op, "method")),
                                     json_string_value(json_object_get(op, "path")), why);
            pt_jschema_free(c);
        }
    }
    return 0;
}

int pt_oas_import(const char *text, size_t len, json_t **out, char **spath, pt_admin_err *e)
{
    *out = NULL;
    *spath = NULL;
    pt_cfg_node *yaml = NULL;
    json_t *doc = load(text, len, &yaml, e);
    if (doc && !json_is_object(doc)) {
        pt_admin_fail(e, 400, "invalid_openapi", "", "the document must be an object");
        json_decref(doc);
        doc = NULL;
    }
    oas o = {.doc = doc, .yaml = yaml, .e = e};
    json_t *n = doc ? normalise(&o) : NULL;
    if (n && compiles(json_object_get(n, "operations"), e)) {
        json_decref(n);
        n = NULL;
    }
    char *dumped = n ? json_dumps(n, JSON_COMPACT) : NULL;
    if (n && (!dumped || strlen(dumped) > PT_OAS_MAX_STORED)) {
        pt_admin_fail(e, 400, "invalid_openapi", "", "the normalised document is %zu bytes, more than the %u kept per API",
                      dumped ? strlen(dumped) : 0, PT_OAS_MAX_STORED);
        json_decref(n);
        n = NULL;
    }
    free(dumped);
    if (n) *spath = server_path(doc);
    if (n && !*spath) {
        json_decref(n);
        n = NULL;
    }
    json_decref(doc);
    pt_cfg_node_free(yaml);
    *out = n;
    return n ? 0 : -1;
}

/* ---- diff --------------------------------------------------------------------------------------- */

static void op_key(const json_t *op, char *out, size_t cap)
{
    snprintf(out, cap, "%s %s", json_string_value(json_object_get(op, "method")), json_string_value(json_object_get(op, "path")));
}

static const json_t *find_op(const json_t *ops, const char *key)
{
    size_t i;
    json_t *op;
    char k[512];
    json_array_foreach(ops, i, op) {
        op_key(op, k, sizeof k);
        if (strcmp(k, key) == 0) return op;
    }
    return NULL;
}

json_t *pt_oas_diff(const json_t *before, const json_t *after)
{
    static const char *const fields[] = {"operation_id", "summary", "parameters", "body"};
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    size_t i, unchanged = 0;
    json_t *op;
    char k[512];
    json_array_foreach(after, i, op) {
        op_key(op, k, sizeof k);
        const json_t *was = find_op(before, k);
        if (!was) {
            json_array_append_new(added, json_string(k));
            continue;
        }
        json_t *which = json_array();
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            json_t *a = json_object_get(was, fields[f]), *b = json_object_get(op, fields[f]);
            if (!(a == b || (a && b && json_equal(a, b)))) json_array_append_new(which, json_string(fields[f]));
        }
        if (json_array_size(which)) json_array_append_new(changed, json_pack("{s:s,s:o}", "operation", k, "fields", which));
        else unchanged++, json_decref(which);
    }
    json_array_foreach(before, i, op) {
        op_key(op, k, sizeof k);
        if (!find_op(after, k)) json_array_append_new(removed, json_string(k));
    }
    return json_pack("{s:o,s:o,s:o,s:I}", "added", added, "removed", removed, "changed", changed, "unchanged",
                     (json_int_t)unchanged);
}

int pt_oas_check_normalised(const json_t *v, pt_admin_err *e)
{
    json_t *apis = json_pack("[{s:s,s:O}]", "path_prefix", "/", "openapi", v);
    json_t *doc = apis && json_is_object(v) && json_is_array(json_object_get(v, "operations")) ? pt_oas_export("", apis) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL, *server = NULL;
    json_t *again = NULL;
    pt_admin_err ie = {0};
    bool same = text && pt_oas_import(text, strlen(text), &again, &server, &ie) == 0 &&
                json_equal(json_object_get(again, "operations"), json_object_get(v, "operations"));
    free(text);
    free(server);
    json_decref(again);
    json_decref(doc);
    json_decref(apis);
    if (same) return 0;
    return pt_admin_fail(e, 400, "invalid_value", "openapi", "openapi is not an imported document's operations%s%s",
                         ie.status ? ": " : "", ie.status ? ie.message : "");
}

/* ---- export -------------------------------------------------------------------------------------- */

static char *lower(const char *m, char *out)
{
    size_t i;
    for (i = 0; m[i] && i < 7; i++) out[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] + 32 : m[i]);
    out[i] = '\0';
    return out;
}

static json_t *export_op(const json_t *op)
{
    json_t *o = json_object(), *params = json_array(), *body = json_object_get(op, "body");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p) json_array_append_new(
        params, json_pack("{s:O,s:O,s:O,s:O}", "name", json_object_get(p, "name"), "in", json_object_get(p, "in"),
                          "required", json_object_get(p, "required"), "schema", json_object_get(p, "schema")));
    if (json_object_get(op, "operation_id")) json_object_set(o, "operationId", json_object_get(op, "operation_id"));
    if (json_object_get(op, "summary")) json_object_set(o, "summary", json_object_get(op, "summary"));
    if (json_array_size(params)) json_object_set(o, "parameters", params);
    json_decref(params);
    const char *ct = json_string_value(json_object_get(body, "content_type"));
    json_t *s = json_object_get(body, "schema");
    json_t *content = json_object();
    if (ct) json_object_set_new(content, ct, s ? json_pack("{s:O}", "schema", s) : json_object());
    if (body) json_object_set_new(o, "requestBody", json_pack("{s:O,s:o}", "required", json_object_get(body, "required"), "content", content));
    else json_decref(content);
    json_object_set_new(o, "responses", json_pack("{s:{s:s}}", "default", "description", "as the upstream answers"));
    return o;
}

json_t *pt_oas_export(const char *title, const json_t *apis)
{
    json_t *paths = json_object(), *info = NULL;
    size_t i, k;
    json_t *api, *op;
    const char *prefix = NULL;
    bool one_prefix = true;
    json_array_foreach(apis, i, api) {
        json_t *doc = json_object_get(api, "openapi");
        const char *pp = json_string_value(json_object_get(api, "path_prefix"));
        if (!json_is_object(doc) || !pp) continue;
        if (!info) info = json_object_get(doc, "info");
        if (prefix && strcmp(prefix, pp) != 0) one_prefix = false;
        prefix = pp;
    }
    json_array_foreach(apis, i, api) {
        json_t *doc = json_object_get(api, "openapi");
        const char *pp = json_string_value(json_object_get(api, "path_prefix"));
        if (!json_is_object(doc) || !pp) continue;
        size_t plen = strlen(pp);
        while (plen && pp[plen - 1] == '/') plen--;
        json_array_foreach(json_object_get(doc, "operations"), k, op) {
            char full[1024], m[8];
            if (!json_is_string(json_object_get(op, "method")) || !json_is_string(json_object_get(op, "path")) ||
                (json_object_get(op, "parameters") && !json_is_array(json_object_get(op, "parameters"))))
                continue; /* not one this module wrote: pt_oas_check_normalised then refuses it */
            snprintf(full, sizeof full, "%.*s%s", one_prefix ? 0 : (int)plen, pp, json_string_value(json_object_get(op, "path")));
            json_t *item = json_object_get(paths, full);
            if (!item) json_object_set_new(paths, full, item = json_object());
            json_object_set_new(item, lower(json_string_value(json_object_get(op, "method")), m), export_op(op));
        }
    }
    json_t *inf = json_is_object(info) ? json_deep_copy(info) : json_object();
    if (!json_object_get(inf, "title")) json_object_set_new(inf, "title", json_string(title));
    if (!json_object_get(inf, "version")) json_object_set_new(inf, "version", json_string("1"));
    size_t plen = prefix ? strlen(prefix) : 0;
    while (plen && prefix[plen - 1] == '/') plen--;
    char server[1024];
    snprintf(server, sizeof server, "%.*s", (int)plen, prefix ? prefix : "");
    return json_pack("{s:s,s:o,s:[{s:s}],s:o}", "openapi", "3.1.0", "info", inf, "servers", "url",
                     one_prefix && plen ? server : "/", "paths", paths);
}
