/* apitools.c: REST operations and prompt APIs as MCP tools (see apitools.h). */
#include "mcp/apitools.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp/mcp_config.h"

#define MAX_ARGS 256u   /* parameters of one operation */

/* ---- names ------------------------------------------------------------------------------ */

void pt_mcp_op_name(const char *method, const char *path, char *out, size_t outsz)
{
    size_t n = 0;
    bool sep = false;
    if (!outsz) return;
    for (const char *s = method ? method : ""; *s && n + 1 < outsz; s++) out[n++] = (char)tolower((unsigned char)*s);
    sep = n > 0;
    for (const char *s = path ? path : ""; *s && n + 1 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '.' || ch == '-') {
            if (sep && n && n + 2 < outsz) out[n++] = '_';
            sep = false;
            if (n + 1 < outsz) out[n++] = (char)ch;
        } else {
            sep = n > 0;
        }
    }
    out[n] = '\0';
}

/* Whether name is one MCP clients take: 1 to 64 of [A-Za-z0-9_.-]. */
static bool tool_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > PT_MCP_TOOL_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i])) return false;
    return true;
}

/* "<prefix>__<own>" (or own) into out; false with why when it is not a name clients take. */
static bool final_name(const char *prefix, const char *own, char *out, size_t outsz, char *why, size_t whysz)
{
    int n = snprintf(out, outsz, "%s%s%s", prefix ? prefix : "", prefix ? PT_MCP_SEP : "", own);
    if (n >= 0 && (size_t)n < outsz && tool_name_ok(out)) return true;
    snprintf(why, whysz, "tool name '%.80s%s%.80s' is %s", prefix ? prefix : "", prefix ? PT_MCP_SEP : "", own,
             n > PT_MCP_TOOL_NAME_MAX ? "longer than 64 characters" : "not made of A-Z a-z 0-9 _ - . only");
    return false;
}

/* ---- building tools --------------------------------------------------------------------- */

static pt_mcp_apitool *tool_push(pt_mcp_apitools *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        pt_mcp_apitool *v = realloc(t->v, cap * sizeof *v);
        if (!v) return NULL;
        t->v = v;
        t->cap = cap;
    }
    pt_mcp_apitool *x = &t->v[t->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static void tool_release(pt_mcp_apitool *x)
{
    free(x->name);
    free(x->own);
    free(x->method);
    free(x->path);
    for (size_t i = 0; i < x->nargs; i++) {
        free(x->args[i].key);
        free(x->args[i].name);
    }
    free(x->args);
    json_decref(x->def);
}

/* Drops the last tool (a failed build). */
static int tool_pop(pt_mcp_apitools *t)
{
    pt_mcp_apitools_truncate(t, t->n - 1);
    return -1;
}

static const char *const places[] = { "path", "query", "header" };

static int place_of(const char *in)
{
    for (int i = 0; in && i < 3; i++)
        if (strcmp(in, places[i]) == 0) return i;
    return -1;
}

/* Headers the gateway sets itself, or that carry the caller's credentials: never an argument. */
static bool header_reserved(const char *name)
{
    static const char *const reserved[] = { "host", "content-length", "transfer-encoding", "connection",
                                            "authorization", "x-api-key", "content-type", "accept",
                                            "upgrade", "te", "trailer", "keep-alive", "proxy-authorization" };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0) return true;
    return false;
}

static bool header_name_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return false;
    return true;
}

static bool key_taken(const pt_mcp_apitool *x, const char *key)
{
    for (size_t i = 0; i < x->nargs; i++)
        if (strcmp(x->args[i].key, key) == 0) return true;
    return false;
}

static const pt_mcp_arg *arg_named(const pt_mcp_apitool *t, pt_mcp_arg_in in, const char *name, size_t len)
{
    for (size_t i = 0; i < t->nargs; i++)
        if (t->args[i].in == in && strlen(t->args[i].name) == len && memcmp(t->args[i].name, name, len) == 0)
            return &t->args[i];
    return NULL;
}

/* Adds an argument and its property; -1 when out of memory. */
static int add_arg(pt_mcp_apitool *x, json_t *props, json_t *required, const char *name, pt_mcp_arg_in in, bool req,
                   const json_t *schema)
{
    char key[300];
    if (in == PT_MCP_ARG_BODY) snprintf(key, sizeof key, "%s", key_taken(x, "body") ? "request_body" : "body");
    else snprintf(key, sizeof key, "%s", name);
    if (in != PT_MCP_ARG_BODY && key_taken(x, key)) snprintf(key, sizeof key, "%s_%s", places[in], name);
    if (key_taken(x, key)) return 0; /* a third of the same name: OpenAPI allows one per place */
    pt_mcp_arg *a = &x->args[x->nargs];
    a->key = strdup(key);
    a->name = strdup(name);
    a->in = in;
    a->required = req;
    if (!a->key || !a->name) {
        free(a->key);
        free(a->name);
        return -1;
    }
    x->nargs++;
    json_t *s = json_is_object(schema) ? json_deep_copy(schema) : json_object(); /* no schema: any value */
    if (!s || json_object_set_new(props, key, s)) return -1;
    if (in != PT_MCP_ARG_BODY && !json_object_get(s, "description")) {
        char d[200];
        snprintf(d, sizeof d, "%s parameter '%.100s'", places[in], name);
        json_object_set_new(s, "description", json_string(d));
    }
    return req ? json_array_append_new(required, json_string(key)) : 0;
}

/* Whether a media type is JSON: application/json or any +json. */
static bool json_media(const char *ct)
{
    if (!ct) return true; /* the normalised form names one whenever the document did */
    size_t n = strcspn(ct, ";");
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) || (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

/* The arguments and inputSchema of an operation. -1 with why. */
static int op_args(pt_mcp_apitool *x, const json_t *op, char *why, size_t whysz)
{
    const json_t *params = json_object_get(op, "parameters"), *body = json_object_get(op, "body");
    size_t np = json_array_size(params);
    if ((params && !json_is_array(params)) || np >= MAX_ARGS) {
        snprintf(why, whysz, "operation %s %.100s: parameters must be a list of at most %u", x->method, x->path, MAX_ARGS - 1);
        return -1;
    }
    x->args = calloc(np + 1, sizeof *x->args);
    json_t *props = json_object(), *required = json_array();
    json_t *schema = json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", required,
                               "additionalProperties", 0);
    if (!x->args || !schema) goto oom;
    x->def = json_pack("{s:s,s:o}", "name", x->name, "inputSchema", schema);
    if (!x->def) goto oom;
    for (size_t i = 0; i < np; i++) {
        const json_t *p = json_array_get(params, i);
        const char *name = json_string_value(json_object_get(p, "name"));
        int in = place_of(json_string_value(json_object_get(p, "in")));
        if (!name || !*name || strlen(name) > 200) {
            snprintf(why, whysz, "operation %s %.100s: parameter %zu has no usable name", x->method, x->path, i);
            return -1;
        }
        if (in < 0 || (in == PT_MCP_ARG_HEADER && (header_reserved(name) || !header_name_ok(name)))) continue; /* cookies */
        bool req = in == PT_MCP_ARG_PATH || json_is_true(json_object_get(p, "required"));
        if (add_arg(x, props, required, name, (pt_mcp_arg_in)in, req, json_object_get(p, "schema"))) goto oom;
    }
    if (json_is_object(body) &&
        add_arg(x, props, required, "body", PT_MCP_ARG_BODY, json_is_true(json_object_get(body, "required")),
                json_object_get(body, "schema")))
        goto oom;
    for (const char *p = x->path; (p = strchr(p, '{')) != NULL;) {
        const char *close = strchr(p, '}');
        if (!close || !arg_named(x, PT_MCP_ARG_PATH, p + 1, (size_t)(close - p - 1))) {
            snprintf(why, whysz, "operation %s %.100s: the path names a parameter it does not declare", x->method, x->path);
            return -1;
        }
        p = close + 1;
    }
    return 0;
oom:
    if (!x->def) json_decref(schema);
    snprintf(why, whysz, "out of memory");
    return -1;
}

static int add_op(pt_mcp_apitools *t, const json_t *op, const char *base, const char *prefix, size_t api,
                  pt_buf *skipped, char *why, size_t whysz)
{
    const char *method = json_string_value(json_object_get(op, "method"));
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *opid = json_string_value(json_object_get(op, "operation_id"));
    const json_t *body = json_object_get(op, "body");
    if (!method || !path || path[0] != '/' || !*method || strlen(method) > 10 || strpbrk(path, " \r\n\t?#")) {
        snprintf(why, whysz, "an operation without a method and a path starting with '/'");
        return -1;
    }
    char own[400], name[200];
    if (opid && *opid) snprintf(own, sizeof own, "%s", opid);
    else pt_mcp_op_name(method, path, own, sizeof own);
    if (json_is_object(body) && !json_media(json_string_value(json_object_get(body, "content_type")))) {
        if (skipped)
            pt_buf_printf(skipped, "operation %s %.100s: left out (its body is %.60s, not JSON)\n", method, path,
                          json_string_value(json_object_get(body, "content_type")));
        return 0;
    }
    if (!final_name(prefix, own, name, sizeof name, why, whysz)) return -1;
    pt_mcp_apitool *x = tool_push(t);
    if (!x) return snprintf(why, whysz, "out of memory"), -1;
    x->api = api;
    x->name = strdup(name);
    x->own = strdup(own);
    x->method = strdup(method);
    size_t pl = strlen(base) + strlen(path) + 1;
    x->path = malloc(pl);
    if (!x->name || !x->own || !x->method || !x->path) return snprintf(why, whysz, "out of memory"), tool_pop(t);
    snprintf(x->path, pl, "%s%s", base, path);
    for (char *m = x->method; *m; m++) *m = (char)toupper((unsigned char)*m);
    if (op_args(x, op, why, whysz)) return tool_pop(t);
    const char *summary = json_string_value(json_object_get(op, "summary"));
    char d[600];
    snprintf(d, sizeof d, "%.400s%s%s %.150s", summary ? summary : "", summary ? " (" : "", x->method, x->path);
    if (summary) strcat(d, ")");
    if (json_object_set_new(x->def, "description", json_string(d))) return snprintf(why, whysz, "out of memory"), tool_pop(t);
    return 0;
}

int pt_mcp_apitools_from_ops(pt_mcp_apitools *t, const json_t *ops, const char *base, const char *prefix, size_t api,
                             pt_buf *skipped, char *why, size_t whysz)
{
    if (!json_is_array(ops)) {
        snprintf(why, whysz, "the document has no operations");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(ops); i++) {
        const json_t *op = json_array_get(ops, i);
        if (!json_is_object(op)) {
            snprintf(why, whysz, "operation %zu is not an object", i);
            return -1;
        }
        if (add_op(t, op, base ? base : "", prefix, api, skipped, why, whysz)) return -1;
    }
    return 0;
}

int pt_mcp_apitools_add_post(pt_mcp_apitools *t, const char *name, const char *description, const char *path,
                             json_t *schema, size_t api, char *why, size_t whysz)
{
    char final[200];
    if (!schema || !final_name(NULL, name, final, sizeof final, why, whysz)) {
        json_decref(schema);
        if (!schema) snprintf(why, whysz, "out of memory");
        return -1;
    }
    pt_mcp_apitool *x = tool_push(t);
    if (!x) {
        json_decref(schema);
        return snprintf(why, whysz, "out of memory"), -1;
    }
    x->api = api;
    x->name = strdup(name);
    x->own = strdup(name);
    x->method = strdup("POST");
    x->path = strdup(path);
    x->def = json_pack("{s:s,s:s,s:o}", "name", name, "description", description ? description : name, "inputSchema",
                       schema);
    if (!x->name || !x->own || !x->method || !x->path || !x->def) {
        if (!x->def) json_decref(schema);
        return snprintf(why, whysz, "out of memory"), tool_pop(t);
    }
    x->args = calloc(1, sizeof *x->args);
    if (!x->args || !(x->args[0].key = strdup("*")) || !(x->args[0].name = strdup("*")))
        return snprintf(why, whysz, "out of memory"), tool_pop(t);
    x->args[0].in = PT_MCP_ARG_BODY;
    x->nargs = 1;
    return 0;
}

long pt_mcp_apitools_collision(const pt_mcp_apitools *t)
{
    for (size_t i = 1; i < t->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->v[i].name, t->v[j].name) == 0) return (long)i;
    return -1;
}

const pt_mcp_apitool *pt_mcp_apitools_find(const pt_mcp_apitools *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0) return &t->v[i];
    return NULL;
}

void pt_mcp_apitools_truncate(pt_mcp_apitools *t, size_t n)
{
    while (t->n > n) tool_release(&t->v[--t->n]);
}

void pt_mcp_apitools_release(pt_mcp_apitools *t)
{
    pt_mcp_apitools_truncate(t, 0);
    free(t->v);
    *t = (pt_mcp_apitools){ 0 };
}

/* ---- calls ------------------------------------------------------------------------------ */

/* A scalar argument as text (strings as they are, numbers and booleans as JSON writes them);
 * false for null, arrays and objects. */
static bool scalar_text(const json_t *v, char *out, size_t outsz, const char **s, size_t *n)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *n = json_string_length(v);
        return true;
    }
    if (json_is_integer(v)) snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(out, outsz, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(out, outsz, "%s", json_is_true(v) ? "true" : "false");
    else return false;
    *s = out;
    *n = strlen(out);
    return true;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static int encode(pt_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
        int rc = isalnum(ch) || strchr("-._~", ch) ? pt_buf_append(b, s + i, 1) : pt_buf_append(b, e, 3);
        if (rc) return -1;
    }
    return 0;
}


static int bad(char *why, size_t whysz, const char *fmt, const char *key)
{
    snprintf(why, whysz, fmt, key);
    return -1;
}

/* The path with each {name} replaced by its argument, encoded. */
static int fill_path(const pt_mcp_apitool *t, const json_t *args, pt_buf *target, char *why, size_t whysz)
{
    for (const char *p = t->path; *p;) {
        const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
        if (!close) return pt_buf_append_str(target, p);
        if (pt_buf_append(target, p, (size_t)(open - p))) return -1;
        const pt_mcp_arg *a = arg_named(t, PT_MCP_ARG_PATH, open + 1, (size_t)(close - open - 1));
        const json_t *v = a ? json_object_get(args, a->key) : NULL;
        char tmp[64];
        const char *s;
        size_t n;
        if (!a) return pt_buf_append(target, open, (size_t)(close - open + 1));
        if (!v) return bad(why, whysz, "missing required argument '%.100s'", a->key);
        if (!scalar_text(v, tmp, sizeof tmp, &s, &n) || n == 0)
            return bad(why, whysz, "argument '%.100s' must be a non-empty string, a number or a boolean", a->key);
        if (encode(target, s, n)) return -1;
        p = close + 1;
    }
    return 0;
}

static int add_query(pt_buf *target, bool *first, const char *name, const json_t *v, const char *key, char *why,
                     size_t whysz)
{
    char tmp[64];
    const char *s;
    size_t n;
    if (json_is_array(v)) { /* form style, exploded: name=a&name=b */
        for (size_t i = 0; i < json_array_size(v); i++)
            if (add_query(target, first, name, json_array_get(v, i), key, why, whysz)) return -1;
        return 0;
    }
    if (!scalar_text(v, tmp, sizeof tmp, &s, &n))
        return bad(why, whysz, "argument '%.100s' must be a string, a number, a boolean or a list of them", key);
    if (pt_buf_append(target, *first ? "?" : "&", 1) || encode(target, name, strlen(name)) ||
        pt_buf_append(target, "=", 1) || encode(target, s, n))
        return -1;
    *first = false;
    return 0;
}

static int add_header(pt_buf *headers, const char *name, const json_t *v, const char *key, char *why, size_t whysz)
{
    char tmp[64];
    const char *s;
    size_t n;
    if (!scalar_text(v, tmp, sizeof tmp, &s, &n))
        return bad(why, whysz, "argument '%.100s' must be a string, a number or a boolean", key);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t') return bad(why, whysz, "argument '%.100s' holds a control character", key);
    return pt_buf_printf(headers, "%s: %.*s\r\n", name, (int)n, s);
}

int pt_mcp_apitool_request(const pt_mcp_apitool *t, const json_t *args, pt_buf *target, pt_buf *headers, pt_buf *body,
                           char *why, size_t whysz)
{
    if (args && !json_is_object(args)) return bad(why, whysz, "%s", "arguments must be an object");
    bool whole = t->nargs == 1 && strcmp(t->args[0].key, "*") == 0; /* a prompt API: the object is the body */
    if (whole) {
        char *text = json_dumps(args ? args : json_object(), JSON_COMPACT);
        int rc = text ? pt_buf_append_str(body, text) : -1;
        free(text);
        return rc || pt_buf_append_str(target, t->path) ? bad(why, whysz, "%s", "out of memory") : 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v) {
        bool known = false;
        for (size_t i = 0; i < t->nargs && !known; i++) known = strcmp(t->args[i].key, k) == 0;
        if (!known) return bad(why, whysz, "unknown argument '%.100s'", k);
    }
    for (size_t i = 0; i < t->nargs; i++)
        if (t->args[i].required && !json_object_get(args, t->args[i].key))
            return bad(why, whysz, "missing required argument '%.100s'", t->args[i].key);
    if (fill_path(t, args, target, why, whysz)) return -1;
    bool first = true;
    for (size_t i = 0; i < t->nargs; i++) {
        const pt_mcp_arg *a = &t->args[i];
        json_t *val = json_object_get(args, a->key);
        if (!val || json_is_null(val)) continue;
        int rc = 0;
        if (a->in == PT_MCP_ARG_QUERY) rc = add_query(target, &first, a->name, val, a->key, why, whysz);
        else if (a->in == PT_MCP_ARG_HEADER) rc = add_header(headers, a->name, val, a->key, why, whysz);
        else if (a->in == PT_MCP_ARG_BODY) {
            char *text = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = text ? pt_buf_append_str(body, text) : -1;
            free(text);
        }
        if (rc) return -1;
    }
    return 0;
}

/* The answer's body as a JSON string; one that is not UTF-8 is described, not carried. */
static json_t *body_text(const char *s, size_t n)
{
    json_t *t = json_stringn(s, n);
    if (t) return t;
    char d[80];
    snprintf(d, sizeof d, "(%zu bytes that are not UTF-8 text)", n);
    return json_string(d);
}

json_t *pt_mcp_apitool_result(int status, bool json, const char *body, size_t len)
{
    json_t *parsed = json ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *text;
    if (status >= 400) {
        char head[40];
        snprintf(head, sizeof head, "HTTP %d%s", status, len ? ": " : "");
        size_t hl = strlen(head);
        char *s = malloc(hl + len + 1);
        if (s) {
            memcpy(s, head, hl);
            memcpy(s + hl, body, len);
            s[hl + len] = '\0';
        }
        text = s ? body_text(s, hl + len) : NULL;
        free(s);
    } else {
        text = body_text(body ? body : "", len);
    }
    json_t *out = json_pack("{s:[{s:s,s:o}],s:b}", "content", "type", "text", "text", text, "isError", status >= 400);
    if (out && parsed)
        json_object_set_new(out, "structuredContent",
                            json_is_object(parsed) ? json_incref(parsed) : json_pack("{s:O}", "result", parsed));
    json_decref(parsed);
    return out;
}
