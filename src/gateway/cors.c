/* cors.c: a route's `cors:` mapped from the configuration, and the answers it gives
 * (see cors.h). */
#include "gateway/cors.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/check.h"
#include "config/schema.h"
#include "core/buf.h"
#include "gateway/config_int.h"
#include "gateway/router.h"

#define MAX_CORS_LIST 64u
#define MAX_AGE_LIMIT_MS (24ull * 3600 * 1000) /* browsers cap it lower still */

/* The methods a route without its own list allows by default. */
#define DEFAULT_METHODS                                                                                      \
    (((pt_method_mask)1 << HTTP_GET) | ((pt_method_mask)1 << HTTP_HEAD) | ((pt_method_mask)1 << HTTP_POST) |  \
     ((pt_method_mask)1 << HTTP_PUT) | ((pt_method_mask)1 << HTTP_PATCH) | ((pt_method_mask)1 << HTTP_DELETE))

void pt_cors_free(pt_cors *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->norigins; i++) {
        free(c->origins[i].prefix);
        free(c->origins[i].suffix);
    }
    free(c->origins);
    for (size_t i = 0; i < c->nheaders; i++) free(c->headers[i]);
    free(c->headers);
    for (size_t i = 0; i < c->nexpose; i++) free(c->expose[i]);
    free(c->expose);
    free(c->allow_headers);
    free(c->tail);
    free(c);
}

/* ---- configuration -------------------------------------------------------------------- */

/* The host[:port] after "scheme://": a name, an IPv4 literal or [IPv6], and for a
 * pattern a leading "*." (one or more labels). */
static const char *authority_problem(const char *a, bool *wild)
{
    *wild = strncmp(a, "*.", 2) == 0;
    const char *host = *wild ? a + 2 : a;
    const char *end;
    if (*host == '[') {
        end = strchr(host, ']');
        if (*wild || !end || !pt_cfg_ipv6_ok(host + 1, (size_t)(end - host - 1))) return "not a valid IPv6 literal";
        end++;
    } else {
        end = host + strcspn(host, ":/?#");
        if (!pt_cfg_hostname_ok(host, (size_t)(end - host))) return "not a valid host name";
    }
    if (*end == ':') {
        uint16_t port;
        const char *p = end + 1;
        end = p + strcspn(p, "/?#");
        if (!pt_cfg_parse_port(p, (size_t)(end - p), &port)) return "not a valid port";
    }
    if (*end) {
        return "an origin is scheme://host[:port], with no path";
    }
    return NULL;
}

static int origin_add(pt_cfg *c, const pt_cfg_node *it, pt_cors *cors, size_t i, char *s)
{
    if (strcmp(s, "*") == 0) {
        if (i > 0 || cors->norigins > 1) return pt_cfg_fail(c, it, "'*' allows every origin: list it alone");
        cors->any_origin = true;
        return 0;
    }
    if (strcmp(s, "null") == 0)
        return pt_cfg_fail(c, it, "'null' is the origin of sandboxed and local documents, which any page can be; "
                                  "name the real origins");
    pt_cfg_lowercase(s);
    const char *sep = strstr(s, "://");
    size_t slen = sep ? (size_t)(sep - s) : 0;
    if (!sep || !((slen == 4 && strncmp(s, "http", 4) == 0) || (slen == 5 && strncmp(s, "https", 5) == 0)))
        return pt_cfg_fail(c, it, "'%s' is not an origin: write http:// or https:// and a host, like "
                                  "https://app.example.com", PT_CFG_SHOW(it));
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '/' && len > slen + 3) {
        s[len - 1] = '\0';
        bool wild;
        if (!authority_problem(sep + 3, &wild))
            return pt_cfg_fail(c, it, "an origin has no path: write '%s'", s);
        s[len - 1] = '/';
    }
    bool wild;
    const char *why = authority_problem(sep + 3, &wild);
    if (why) return pt_cfg_fail(c, it, "'%s': %s", PT_CFG_SHOW(it), why);
    pt_cors_origin *o = &cors->origins[i];
    if (!wild) {
        o->prefix = strdup(s);
        return o->prefix ? 0 : pt_cfg_oom(c, it);
    }
    o->prefix = strndup(s, (size_t)(sep + 3 - s));
    o->suffix = strdup(sep + 4); /* ".example.com[:port]" */
    return o->prefix && o->suffix ? 0 : pt_cfg_oom(c, it);
}

static int origins_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_cors *cors = obj;
    return PT_CFG_ALLOC(c, v, cors->origins, cors->norigins, count);
}

static int origin_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    char *s = NULL;
    if (pt_cfg_str(c, it, &s)) return -1;
    int rc = origin_add(c, it, obj, i, s);
    free(s);
    return rc;
}

static const pt_cfg_list origins_list = { "a list of origins", MAX_CORS_LIST,
                                          "at least one origin is required (\"*\" allows every origin)",
                                          origins_begin, origin_entry };

static int origins_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &origins_list, obj); }

static int method_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    (void)i;
    return pt__config_method(c, it, &((pt_cors *)obj)->methods);
}

static const pt_cfg_list methods_list = { "a list of methods", MAX_CORS_LIST,
                                          "at least one method is required (leave methods out for the route's)",
                                          NULL, method_entry };

static int methods_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &methods_list, obj); }

/* A list of header names into (*v, *n); ASCII case kept as written. */
typedef struct name_list {
    char ***v;
    size_t *n;
} name_list;

static int names_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    name_list *l = obj;
    return PT_CFG_ALLOC(c, v, *l->v, *l->n, count);
}

static int name_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    name_list *l = obj;
    return pt_cfg_header_name(c, it, false, &(*l->v)[i]);
}

static const pt_cfg_list names_list = { "a list of header names", MAX_CORS_LIST, NULL, names_begin, name_entry };

static int headers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_cors *cors = obj;
    return pt_cfg_map_list(c, v, &names_list, &(name_list){ &cors->headers, &cors->nheaders });
}

static int expose_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_cors *cors = obj;
    return pt_cfg_map_list(c, v, &names_list, &(name_list){ &cors->expose, &cors->nexpose });
}

enum { F_ORIGINS, F_METHODS, F_HEADERS, F_EXPOSE, F_CREDENTIALS, F_MAX_AGE, F_PRIVATE };

static const pt_cfg_field cors_fields[] = {
    [F_ORIGINS] = CFG_FUNC("origins", origins_fn),
    [F_METHODS] = CFG_FUNC("methods", methods_fn),
    [F_HEADERS] = CFG_FUNC("headers", headers_fn),
    [F_EXPOSE] = CFG_FUNC("expose_headers", expose_fn),
    [F_CREDENTIALS] = CFG_BOOL("credentials", pt_cors, credentials),
    [F_MAX_AGE] = CFG_DUR("max_age", pt_cors, max_age_ms, 0, MAX_AGE_LIMIT_MS),
    [F_PRIVATE] = CFG_BOOL("private_network", pt_cors, private_network),
    CFG_END,
};

/* The buffer's text (the caller frees it), or NULL when any append failed. */
static char *take(pt_buf *b, int rc)
{
    if (rc == 0) return pt_buf_detach(b, NULL);
    pt_buf_release(b);
    return NULL;
}

static char *join(char **v, size_t n)
{
    pt_buf b = PT_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) rc |= pt_buf_append(&b, ", ", 2);
        rc |= pt_buf_append_str(&b, v[i]);
    }
    return take(&b, rc);
}

/* The fields every allowed answer carries after Access-Control-Allow-Origin. */
static char *tail_lines(const pt_cors *cors)
{
    pt_buf b = PT_BUF_INIT;
    int rc = 0;
    if (cors->credentials) rc |= pt_buf_append_str(&b, "Access-Control-Allow-Credentials: true\r\n");
    if (cors->nexpose) {
        char *e = join(cors->expose, cors->nexpose);
        rc |= e ? pt_buf_printf(&b, "Access-Control-Expose-Headers: %s\r\n", e) : -1;
        free(e);
    }
    if (!cors->any_origin || cors->credentials) rc |= pt_buf_append_str(&b, "Vary: Origin\r\n");
    return take(&b, rc);
}

int pt__config_cors(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_expect_map(c, v, "a mapping (origins, methods, headers, credentials, max_age ...)")) return -1;
    pt_cors *cors = calloc(1, sizeof *cors);
    if (!cors) return pt_cfg_oom(c, v);
    pt_cors_free(r->cors);
    r->cors = cors;
    uint64_t seen = 0;
    if (pt_cfg_map_fields(c, v, cors_fields, cors, &seen)) return -1;
    if (!(seen & (1u << F_ORIGINS)))
        return pt_cfg_fail(c, v, "missing required key 'origins' (the sites allowed to call this route, or \"*\")");
    if (cors->any_origin && cors->credentials)
        return pt_cfg_fail_key(c, "credentials", pt_cfg_map_get(v, "credentials"),
                               "credentials: true with origins \"*\" would let every site make calls with its "
                               "visitors' credentials; list the origins instead");
    cors->has_max_age = (seen & (1u << F_MAX_AGE)) != 0;
    cors->allow_headers = cors->nheaders ? join(cors->headers, cors->nheaders) : NULL;
    cors->tail = tail_lines(cors);
    if ((cors->nheaders && !cors->allow_headers) || !cors->tail) return pt_cfg_oom(c, v);
    return 0;
}

/* ---- answers -------------------------------------------------------------------------- */

static bool host_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '.' || ch == '_';
        if (!ok) return false;
    }
    return n > 0;
}

bool pt_cors_origin_allowed(const pt_cors *c, pt_slice origin)
{
    if (c->any_origin) return true;
    for (size_t i = 0; i < c->norigins; i++) {
        const pt_cors_origin *o = &c->origins[i];
        size_t pl = strlen(o->prefix);
        if (!o->suffix) {
            if (origin.len == pl && strncasecmp(origin.ptr, o->prefix, pl) == 0) return true;
            continue;
        }
        size_t sl = strlen(o->suffix);
        if (origin.len <= pl + sl || strncasecmp(origin.ptr, o->prefix, pl) != 0 ||
            strncasecmp(origin.ptr + origin.len - sl, o->suffix, sl) != 0)
            continue;
        if (host_chars(origin.ptr + pl, origin.len - pl - sl)) return true;
    }
    return false;
}

bool pt_cors_replaces_header(pt_slice name)
{
    static const char p[] = "access-control-";
    return name.len >= sizeof p - 1 && strncasecmp(name.ptr, p, sizeof p - 1) == 0;
}

static void refuse(pt_conn *c, const pt_route *r, const char *fmt, pt_slice what)
{
    pt_conn_respond_error(c, PT_OUT_CORS_REFUSED, NULL, fmt, PT_SLICE_ARG(what), r->name);
}

/* Every name of the comma-separated list is in the allowed list; *bad is the first not. */
static bool headers_allowed(const pt_cors *cors, pt_slice list, pt_slice *bad)
{
    size_t i = 0;
    while (i < list.len) {
        while (i < list.len && (list.ptr[i] == ' ' || list.ptr[i] == '\t' || list.ptr[i] == ',')) i++;
        size_t start = i;
        while (i < list.len && list.ptr[i] != ',' && list.ptr[i] != ' ' && list.ptr[i] != '\t') i++;
        if (i == start) continue;
        pt_slice name = { list.ptr + start, i - start };
        bool found = false;
        for (size_t k = 0; k < cors->nheaders && !found; k++) found = pt_slice_case_eq_cstr(name, cors->headers[k]);
        if (!found) {
            *bad = name;
            return false;
        }
    }
    return true;
}

static int methods_value(pt_method_mask m, pt_buf *out)
{
    int rc = 0;
    for (int i = 0; i < 64; i++) {
        if (!(m & ((pt_method_mask)1 << i))) continue;
        if (out->len) rc |= pt_buf_append(out, ", ", 2);
        rc |= pt_buf_append_str(out, llhttp_method_name((llhttp_method_t)i));
    }
    return rc;
}

static void answer_preflight(pt_conn *c, pt_request *req, const pt_route *r, pt_slice origin, pt_slice acrh)
{
    const pt_cors *cors = r->cors;
    pt_method_mask allowed = cors->methods ? cors->methods : r->methods ? r->methods : DEFAULT_METHODS;
    pt_buf methods = PT_BUF_INIT;
    int rc = methods_value(allowed, &methods);
    pt_header h[8];
    size_t n = 0;
    bool star = cors->any_origin && !cors->credentials;
    h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Allow-Origin"), star ? PT_SLICE_LIT("*") : origin };
    h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Allow-Methods"), { methods.data, methods.len } };
    pt_slice ah = cors->allow_headers ? pt_slice_cstr(cors->allow_headers) : acrh;
    if (ah.len) h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Allow-Headers"), ah };
    if (cors->credentials) h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Allow-Credentials"), PT_SLICE_LIT("true") };
    char age[24];
    if (cors->has_max_age) {
        snprintf(age, sizeof age, "%llu", (unsigned long long)(cors->max_age_ms / 1000));
        h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Max-Age"), pt_slice_cstr(age) };
    }
    const pt_header *pna = pt_request_header(req, "access-control-request-private-network");
    if (cors->private_network && pna && pt_slice_case_eq_cstr(pna->value, "true"))
        h[n++] = (pt_header){ PT_SLICE_LIT("Access-Control-Allow-Private-Network"), PT_SLICE_LIT("true") };
    h[n++] = (pt_header){ PT_SLICE_LIT("Vary"),
                          PT_SLICE_LIT("Origin, Access-Control-Request-Method, Access-Control-Request-Headers") };
    if (rc != 0) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
    } else if (pt_conn_response_start(c, 204, h, n, 0) == 0) {
        pt_conn_response_end(c);
    }
    pt_buf_release(&methods);
}

bool pt_cors_preflight(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route **route)
{
    if (req->method != HTTP_OPTIONS || !cfg->has_cors) return false;
    const pt_header *origin = pt_request_header(req, "origin");
    const pt_header *acrm = pt_request_header(req, "access-control-request-method");
    if (!origin || !acrm) return false;
    int method = pt_http_method_parse(acrm->value);
    const pt_route *r = *route;
    if (!r || !r->cors) {
        const pt_route *own = r;
        r = method >= 0 ? pt_router_match_method(cfg, req, method) : NULL;
        if (r && !r->cors) own = r;
        /* a method that no route takes is still a preflight for the path's cors route,
         * refused by name below rather than a bare 404 */
        if (!r || !r->cors) r = own ? NULL : pt_router_match_method(cfg, req, PT_ROUTER_ANY_METHOD);
        if (!r || !r->cors) return false; /* a route without cors answers OPTIONS itself */
    }
    *route = r;
    pt_req_info *info = pt_conn_info(c);
    info->route = r->name;
    info->route_metrics = r->metrics;
    const pt_cors *cors = r->cors;
    if (!pt_cors_origin_allowed(cors, origin->value)) {
        refuse(c, r, "origin '" PT_SLICE_FMT "' may not call route '%s' (it is not in cors.origins)", origin->value);
        return true;
    }
    pt_method_mask allowed = cors->methods ? cors->methods : r->methods ? r->methods : DEFAULT_METHODS;
    if (method < 0 || method >= 64 || !(allowed & ((pt_method_mask)1 << method))) {
        refuse(c, r, "method '" PT_SLICE_FMT "' may not be used across origins on route '%s' (cors.methods)",
               acrm->value);
        return true;
    }
    const pt_header *acrh = pt_request_header(req, "access-control-request-headers");
    pt_slice asked = acrh ? acrh->value : (pt_slice){ NULL, 0 };
    pt_slice bad;
    if (cors->nheaders && !headers_allowed(cors, asked, &bad)) {
        refuse(c, r, "header '" PT_SLICE_FMT "' may not be sent across origins on route '%s' (cors.headers)", bad);
        return true;
    }
    answer_preflight(c, req, r, origin->value, asked);
    return true;
}

void pt_cors_request(pt_conn *c, pt_request *req, const pt_route *route)
{
    const pt_cors *cors = route->cors;
    const pt_header *origin = pt_request_header(req, "origin");
    if (origin && pt_cors_origin_allowed(cors, origin->value)) {
        bool star = cors->any_origin && !cors->credentials;
        pt_slice o = star ? PT_SLICE_LIT("*") : origin->value;
        pt_buf b = PT_BUF_INIT;
        if (pt_buf_printf(&b, "Access-Control-Allow-Origin: " PT_SLICE_FMT "\r\n%s", PT_SLICE_ARG(o), cors->tail) == 0)
            pt_conn_add_resp_headers(c, b.data, b.len);
        pt_buf_release(&b);
    } else if (!cors->any_origin) {
        static const char vary[] = "Vary: Origin\r\n"; /* a cache keeps answers per origin */
        pt_conn_add_resp_headers(c, vary, sizeof vary - 1);
    }
}
