/* validate_gate.c: requests checked against an API's imported operations (see validate_gate.h). */
#include "gateway/validate_gate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ai/jschema.h"
#include "core/slice.h"

#define VALUE_MAX 2048 /* a decoded parameter value; longer is refused as too long */

enum { IN_PATH, IN_QUERY, IN_HEADER, IN_COOKIE };

typedef struct vparam {
    const char *name;        /* borrowed from doc */
    int in;
    bool required;
    const char *type;        /* the declared scalar type ("integer", ...), or NULL */
    const char *item_type;   /* for "array": its items' type, or NULL */
    pt_jschema *schema;
} vparam;

typedef struct vop {
    const char *method, *path;   /* borrowed from doc */
    char **segs;                 /* the template's segments; a "{...}" one matches any segment */
    size_t nseg, nlit;           /* segments, and how many of them are literal */
    vparam *params;
    size_t nparams;
    pt_jschema *body;            /* NULL: the body is not checked */
    bool body_required;
} vop;

struct pt_validate {
    json_t *doc;
    vop *ops;
    size_t nops;
};

/* ---- compiling ----------------------------------------------------------------------------- */

static const char *scalar_type(const json_t *schema)
{
    const json_t *t = json_object_get(schema, "type");
    if (json_is_string(t)) return json_string_value(t);
    size_t i;
    const json_t *e;
    json_array_foreach(t, i, e) if (json_is_string(e) && strcmp(json_string_value(e), "null") != 0) return json_string_value(e);
    return NULL;
}

static int split_template(vop *op)
{
    const char *p = op->path;
    while (*p == '/') p++;
    size_t cap = 1;
    for (const char *q = p; *q; q++) cap += *q == '/';
    op->segs = calloc(cap, sizeof *op->segs);
    if (!op->segs) return -1;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (!(op->segs[op->nseg] = strndup(p, n))) return -1;
        op->nlit += !memchr(p, '{', n);
        op->nseg++;
        p += n;
        while (*p == '/') p++;
    }
    return 0;
}

static int compile_param(vparam *vp, const json_t *p, char *why, size_t cap)
{
    static const char *const ins[] = {"path", "query", "header", "cookie"};
    const char *in = json_string_value(json_object_get(p, "in"));
    vp->name = json_string_value(json_object_get(p, "name"));
    vp->in = -1;
    for (int i = 0; in && i < 4; i++)
        if (strcmp(in, ins[i]) == 0) vp->in = i;
    if (!vp->name || vp->in < 0) {
        snprintf(why, cap, "a parameter without a name or place");
        return -1;
    }
    vp->required = json_is_true(json_object_get(p, "required"));
    json_t *s = json_object_get(p, "schema");
    vp->type = scalar_type(s);
    if (vp->type && strcmp(vp->type, "array") == 0) vp->item_type = scalar_type(json_object_get(s, "items"));
    vp->schema = s ? pt_jschema_new(s, why, cap) : NULL;
    return s && !vp->schema ? -1 : 0;
}

static int compile_op(vop *op, const json_t *o, char *why, size_t cap)
{
    op->method = json_string_value(json_object_get(o, "method"));
    op->path = json_string_value(json_object_get(o, "path"));
    if (!op->method || !op->path || split_template(op)) {
        snprintf(why, cap, "an operation without a method or path");
        return -1;
    }
    const json_t *params = json_object_get(o, "parameters"), *body = json_object_get(o, "body");
    op->params = calloc(json_array_size(params) + 1, sizeof *op->params);
    if (!op->params) return -1;
    size_t i;
    const json_t *p;
    json_array_foreach(params, i, p) {
        if (compile_param(&op->params[op->nparams++], p, why, cap)) return -1;
    }
    op->body_required = json_is_true(json_object_get(body, "required"));
    json_t *bs = json_object_get(body, "schema");
    if (bs && !(op->body = pt_jschema_new(bs, why, cap))) return -1;
    return 0;
}

/* More literal segments first: "/pets/mine" is tried before "/pets/{id}". */
static int by_literals(const void *a, const void *b)
{
    const vop *x = a, *y = b;
    return (int)y->nlit - (int)x->nlit;
}

pt_validate *pt_validate_compile(const char *openapi, char *why, size_t cap)
{
    pt_validate *v = calloc(1, sizeof *v);
    if (!v || !(v->doc = json_loads(openapi, 0, NULL))) {
        snprintf(why, cap, "the stored operations are not JSON");
        pt_validate_free(v);
        return NULL;
    }
    const json_t *ops = json_object_get(v->doc, "operations");
    v->ops = calloc(json_array_size(ops) + 1, sizeof *v->ops);
    size_t i;
    const json_t *o;
    json_array_foreach(ops, i, o) {
        if (!v->ops || compile_op(&v->ops[v->nops++], o, why, cap)) {
            pt_validate_free(v);
            return NULL;
        }
    }
    qsort(v->ops, v->nops, sizeof *v->ops, by_literals);
    return v;
}

void pt_validate_free(pt_validate *v)
{
    if (!v) return;
    for (size_t i = 0; v->ops && i < v->nops; i++) {
        vop *op = &v->ops[i];
        for (size_t k = 0; op->segs && k < op->nseg; k++) free(op->segs[k]);
        free(op->segs);
        for (size_t k = 0; op->params && k < op->nparams; k++) pt_jschema_free(op->params[k].schema);
        free(op->params);
        pt_jschema_free(op->body);
    }
    free(v->ops);
    json_decref(v->doc);
    free(v);
}

size_t pt_validate_count(const pt_validate *v) { return v ? v->nops : 0; }

/* ---- matching ------------------------------------------------------------------------------ */

/* The request's path below the route's prefix ("/v1" + "/pets/7" -> "/pets/7"). */
static pt_slice below_prefix(const pt_route *r, pt_slice path)
{
    if (!r->path_prefix) return path;
    size_t n = strlen(r->path_prefix);
    if (n && r->path_prefix[n - 1] == '/') n--;
    return n <= path.len ? pt_slice_from(path.ptr + n, path.len - n) : path;
}

/* The i-th segment of path (leading and repeated slashes skipped), or an empty slice. */
static size_t segments(pt_slice path, pt_slice *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < path.len) {
        while (i < path.len && path.ptr[i] == '/') i++;
        size_t s = i;
        while (i < path.len && path.ptr[i] != '/') i++;
        if (i > s) {
            if (n == cap) return cap + 1;
            out[n++] = pt_slice_from(path.ptr + s, i - s);
        }
    }
    return n;
}

#define MAX_SEGS 32

static bool template_matches(const vop *op, const pt_slice *segs, size_t n)
{
    if (op->nseg != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(op->segs[i], '{') && !pt_slice_eq_cstr(segs[i], op->segs[i])) return false;
    return true;
}

/* Whether op serves a request of this method: its own, or HEAD where only GET is declared
 * (HTTP answers HEAD wherever it answers GET). */
static bool method_fits(const pt_validate *v, const vop *op, const pt_slice *segs, size_t n, pt_slice method)
{
    if (pt_slice_eq_cstr(method, op->method)) return true;
    if (!pt_slice_eq_cstr(method, "HEAD") || strcmp(op->method, "GET") != 0) return false;
    for (size_t i = 0; i < v->nops; i++)
        if (strcmp(v->ops[i].method, "HEAD") == 0 && template_matches(&v->ops[i], segs, n)) return false;
    return true;
}

/* The operation req asks for; *path_known tells a wrong method from an unknown path. */
static const vop *find_op(const pt_validate *v, const pt_route *r, const pt_request *req, pt_slice *segs, size_t *nseg,
                          bool *path_known)
{
    *path_known = false;
    *nseg = segments(below_prefix(r, req->path), segs, MAX_SEGS);
    for (size_t i = 0; *nseg <= MAX_SEGS && i < v->nops; i++) {
        if (!template_matches(&v->ops[i], segs, *nseg)) continue;
        *path_known = true;
        if (method_fits(v, &v->ops[i], segs, *nseg, req->method_name)) return &v->ops[i];
    }
    return NULL;
}

/* ---- parameter values ------------------------------------------------------------------------ */

/* Percent-decodes s into out (plus as space in a query); false when too long or malformed. */
static bool decode(pt_slice s, bool query, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '%') {
            int hi = i + 2 < s.len ? pt_hex_digit(s.ptr[i + 1]) : -1, lo = hi >= 0 ? pt_hex_digit(s.ptr[i + 2]) : -1;
            if (hi < 0 || lo < 0) return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && query) {
            c = ' ';
        }
        if (n + 1 >= cap) return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* One text value as the JSON value of its declared type; NULL when it is not one. */
static json_t *typed(const char *text, const char *type)
{
    if (!type || strcmp(type, "string") == 0) return json_string(text);
    char *end;
    errno = 0;
    if (strcmp(type, "integer") == 0) {
        long long v = strtoll(text, &end, 10);
        return *text && !*end && !errno ? json_integer(v) : NULL;
    }
    if (strcmp(type, "number") == 0) {
        double d = strtod(text, &end);
        return *text && !*end && !errno && isfinite(d) ? json_real(d) : NULL;
    }
    if (strcmp(type, "boolean") == 0) {
        if (strcmp(text, "true") == 0) return json_true();
        if (strcmp(text, "false") == 0) return json_false();
        return NULL;
    }
    return json_string(text);
}

static const char *in_name(int in) { return in == IN_PATH ? "path" : in == IN_QUERY ? "query" : "header"; }

/* Appends value (a raw slice) to *acc as p's type; an array collects every occurrence. */
static int add_value(const vparam *p, pt_slice raw, json_t **acc, char *msg, size_t cap)
{
    char text[VALUE_MAX];
    if (!decode(raw, p->in == IN_QUERY, text, sizeof text)) {
        snprintf(msg, cap, "%s parameter '%s': not a valid value (malformed %%-escape or over %d bytes)", in_name(p->in),
                 p->name, VALUE_MAX);
        return -1;
    }
    bool array = p->type && strcmp(p->type, "array") == 0;
    const char *want = array ? p->item_type : p->type;
    json_t *j = typed(text, want);
    if (!j) {
        snprintf(msg, cap, "%s parameter '%s': '%.64s' is not %s %s", in_name(p->in), p->name, text,
                 want[0] == 'i' ? "an" : "a", want);
        return -1;
    }
    if (!array) {
        json_decref(*acc);
        *acc = j;
        return 0;
    }
    if (!*acc) *acc = json_array();
    json_array_append_new(*acc, j);
    return 0;
}

/* The value of p in req, as JSON (NULL: absent). -1 with msg when a value is malformed. */
static int param_value(const vparam *p, const vop *op, const pt_slice *segs, const pt_request *req, json_t **out,
                       char *msg, size_t cap)
{
    *out = NULL;
    if (p->in == IN_PATH) {
        char want[128];
        snprintf(want, sizeof want, "{%s}", p->name);
        for (size_t i = 0; i < op->nseg; i++)
            if (strcmp(op->segs[i], want) == 0) return add_value(p, segs[i], out, msg, cap);
        return 0;
    }
    if (p->in == IN_HEADER) {
        const pt_header *h = pt_request_header(req, p->name);
        return h ? add_value(p, h->value, out, msg, cap) : 0;
    }
    if (p->in != IN_QUERY) return 0;
    pt_slice q = req->query;
    size_t i = 0;
    while (i < q.len) {
        size_t s = i;
        while (i < q.len && q.ptr[i] != '&') i++;
        pt_slice pair = pt_slice_from(q.ptr + s, i - s), name = pair, value = PT_SLICE_NULL;
        const char *eq = memchr(pair.ptr, '=', pair.len);
        if (eq) {
            name.len = (size_t)(eq - pair.ptr);
            value = pt_slice_from(eq + 1, pair.len - name.len - 1);
        }
        i++;
        char nm[256];
        if (!decode(name, true, nm, sizeof nm) || strcmp(nm, p->name) != 0) continue;
        if (add_value(p, value, out, msg, cap)) return -1;
    }
    return 0;
}

static int check_params(const vop *op, const pt_slice *segs, const pt_request *req, char *msg, size_t cap)
{
    for (size_t i = 0; i < op->nparams; i++) {
        const vparam *p = &op->params[i];
        if (p->in == IN_COOKIE) continue;
        json_t *v = NULL;
        if (param_value(p, op, segs, req, &v, msg, cap)) return -1;
        if (!v) {
            if (!p->required) continue;
            snprintf(msg, cap, "%s parameter '%s' is required", in_name(p->in), p->name);
            return -1;
        }
        char why[256];
        int rc = p->schema ? pt_jschema_validate(p->schema, v, why, sizeof why) : 0;
        json_decref(v);
        if (rc) {
            snprintf(msg, cap, "%s parameter '%s': %s", in_name(p->in), p->name, why);
            return -1;
        }
    }
    return 0;
}

int pt__validate_check(const pt_validate *v, const pt_route *route, const pt_request *req, bool has_body, char *msg,
                       size_t cap)
{
    pt_slice segs[MAX_SEGS];
    size_t nseg;
    bool known;
    const vop *op = find_op(v, route, req, segs, &nseg, &known);
    if (!op) {
        snprintf(msg, cap, "the API declares no operation " PT_SLICE_FMT " " PT_SLICE_FMT "%s",
                 PT_SLICE_ARG(req->method_name), PT_SLICE_ARG(req->path), known ? " (the path exists with other methods)" : "");
        return 404;
    }
    if (check_params(op, segs, req, msg, cap)) return 400;
    if (op->body_required && !has_body) {
        snprintf(msg, cap, "a request body is required");
        return 400;
    }
    return 0;
}

/* ---- on the request path ---------------------------------------------------------------------- */

bool pt_validate_gate_request(pt_conn *c, const pt_request *req, const pt_route *route)
{
    char msg[400];
    int rc = pt__validate_check(route->validate, route, req, pt_conn_has_body(c), msg, sizeof msg);
    if (rc == 0) return true;
    pt_conn_info(c)->route = route->name;
    pt_conn_respond_error(c, rc == 404 ? PT_OUT_OPERATION_NOT_FOUND : PT_OUT_REQUEST_INVALID, NULL, "%s", msg);
    return false;
}

static const vop *op_of(const pt_request *req, const pt_route *route)
{
    pt_slice segs[MAX_SEGS];
    size_t nseg;
    bool known;
    return route->validate ? find_op(route->validate, route, req, segs, &nseg, &known) : NULL;
}

bool pt_validate_gate_wants_body(const pt_request *req, const pt_route *route)
{
    const vop *op = op_of(req, route);
    return op && op->body;
}

int pt_validate_gate_body(const pt_request *req, const pt_route *route, const char *body, size_t len, char *msg,
                          size_t cap)
{
    const vop *op = op_of(req, route);
    if (!op || !op->body) return 0;
    if (len == 0) {
        if (!op->body_required) return 0;
        snprintf(msg, cap, "a request body is required");
        return -1;
    }
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(msg, cap, "the body is not JSON: %s (at byte %d)", je.text, je.position);
        return -1;
    }
    char why[300];
    int rc = pt_jschema_validate(op->body, doc, why, sizeof why);
    json_decref(doc);
    if (rc) snprintf(msg, cap, "body %s", why);
    return rc ? -1 : 0;
}
