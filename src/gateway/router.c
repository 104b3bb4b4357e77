/* router.c: route precedence, request matching and the upstream path (see router.h). */
#include "gateway/router.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A route's precedence as one number (higher wins) plus its file order (lower wins).
 * Bits, high to low: host rank (18) | path rank (18) | conditions (16).
 *   host rank: 2<<16 exact host, 1<<16 | suffix length for a wildcard, 0 for no host;
 *   path rank: 1<<17 for an exact path, else the prefix length (no path = "/" = 1). */
typedef struct rank {
    uint64_t v;
    unsigned order;
} rank;

#define HOST_EXACT (2u << 16)
#define HOST_WILD (1u << 16)
#define LEN16(n) ((n) > 0xffffu ? 0xffffu : (uint32_t)(n))

static uint32_t host_pattern_rank(const char *pattern)
{
    if (pattern[0] == '*') return HOST_WILD | LEN16(strlen(pattern) - 1);
    return HOST_EXACT;
}

/* The best host rank the route can match with (0 when it has no host). */
static uint32_t route_best_host_rank(const pt_route *r)
{
    uint32_t best = 0;
    for (size_t i = 0; i < r->nhosts; i++) {
        uint32_t h = host_pattern_rank(r->hosts[i]);
        if (h > best) best = h;
    }
    return best;
}

static rank route_rank(const pt_route *r, uint32_t host_rank)
{
    uint64_t path;
    if (r->path_exact) path = 1u << 17;
    else if (r->path_prefix) path = LEN16(strlen(r->path_prefix));
    else path = 1;
    uint64_t conds = (r->methods ? 1u : 0u) + r->nheaders;
    if (conds > 0xffff) conds = 0xffff;
    return (rank){ ((uint64_t)host_rank << 34) | (path << 16) | conds, r->order };
}

/* True when a takes precedence over b. */
static bool rank_beats(rank a, rank b)
{
    if (a.v != b.v) return a.v > b.v;
    return a.order < b.order;
}

static int route_cmp(const void *pa, const void *pb)
{
    const pt_route *a = pa, *b = pb;
    rank ra = route_rank(a, route_best_host_rank(a));
    rank rb = route_rank(b, route_best_host_rank(b));
    if (rank_beats(ra, rb)) return -1;
    if (rank_beats(rb, ra)) return 1;
    return 0;
}

void pt_router_sort(pt_route *routes, size_t n)
{
    if (n > 1) qsort(routes, n, sizeof *routes, route_cmp);
}

/* The rank of the best host pattern matching host; -1 when none matches, 0 when the
 * route has no host condition. Patterns are stored lowercase; req->host is lowercase,
 * but the comparison stays case-insensitive so a caller's stray capital is harmless. */
static int64_t host_match_rank(const pt_route *r, pt_slice host)
{
    if (r->nhosts == 0) return 0;
    int64_t best = -1;
    for (size_t i = 0; i < r->nhosts; i++) {
        const char *p = r->hosts[i];
        if (p[0] == '*') {
            const char *suffix = p + 1; /* ".example.com" */
            size_t sl = strlen(suffix);
            if (host.len > sl && strncasecmp(host.ptr + host.len - sl, suffix, sl) == 0) {
                int64_t h = host_pattern_rank(p);
                if (h > best) best = h;
            }
        } else if (pt_slice_case_eq_cstr(host, p)) {
            return HOST_EXACT;
        }
    }
    return best;
}

static bool prefix_matches(const char *prefix, pt_slice path)
{
    size_t pl = strlen(prefix);
    if (path.len < pl || memcmp(path.ptr, prefix, pl) != 0) return false;
    if (pl == 0 || prefix[pl - 1] == '/') return true;
    return path.len == pl || path.ptr[pl] == '/';
}

static bool path_matches(const pt_route *r, pt_slice path)
{
    if (r->path_exact) return pt_slice_eq_cstr(path, r->path_exact);
    if (r->path_prefix) return prefix_matches(r->path_prefix, path);
    return true;
}

static bool method_matches(const pt_route *r, int method)
{
    if (r->methods == 0 || method == PT_ROUTER_ANY_METHOD) return true;
    if (method < 0 || method >= 64) return false;
    return (r->methods & ((pt_method_mask)1 << method)) != 0;
}

/* Every header condition holds: present (value NULL) or some same-named header has
 * exactly that value. */
static bool headers_match(const pt_route *r, const pt_request *req)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        const pt_header_match *hm = &r->headers[i];
        bool found = false;
        for (unsigned j = 0; j < req->nheaders && !found; j++) {
            const pt_header *h = &req->headers[j];
            if (!pt_slice_case_eq_cstr(h->name, hm->name)) continue;
            found = !hm->value || pt_slice_eq_cstr(h->value, hm->value);
        }
        if (!found) return false;
    }
    return true;
}

static bool rest_matches(const pt_route *r, const pt_request *req, int method)
{
    return path_matches(r, req->path) && method_matches(r, method) && headers_match(r, req);
}

/* Routes are sorted by their best possible rank, and a route's actual rank (by the host
 * it matched) never exceeds it; so once a route's best possible rank cannot beat the
 * best match so far, no later route can either. For routes with one kind of host the
 * first match ends the scan. */
const pt_route *pt_router_match(const pt_config *cfg, const pt_request *req)
{
    return pt_router_match_method(cfg, req, req->method);
}

const pt_route *pt_router_match_method(const pt_config *cfg, const pt_request *req, int method)
{
    const pt_route *best = NULL;
    rank best_rank = { 0, 0 };
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const pt_route *r = &cfg->routes[i];
        if (best && !rank_beats(route_rank(r, route_best_host_rank(r)), best_rank)) break;
        int64_t h = host_match_rank(r, req->host);
        if (h < 0 || !rest_matches(r, req, method)) continue;
        rank rr = route_rank(r, (uint32_t)h);
        if (!best || rank_beats(rr, best_rank)) {
            best = r;
            best_rank = rr;
        }
    }
    return best;
}

/* ---- overlaps, for check-config -------------------------------------------------------- */

/* Two host patterns some host name matches both of. */
static bool hosts_overlap(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) return true;
    if (a[0] != '*' && b[0] != '*') return false;
    if (a[0] != '*') return hosts_overlap(b, a);
    const char *suffix = a + 1; /* ".example.com" */
    const char *other = b[0] == '*' ? b + 1 : b;
    size_t sl = strlen(suffix), ol = strlen(other);
    if (b[0] == '*') return (ol >= sl && strcmp(other + ol - sl, suffix) == 0) ||
                            (sl >= ol && strcmp(suffix + sl - ol, other) == 0);
    return ol > sl && strcasecmp(other + ol - sl, suffix) == 0;
}

static bool any_host_overlaps(const pt_route *a, const pt_route *b)
{
    if (a->nhosts == 0 || b->nhosts == 0) return true;
    for (size_t i = 0; i < a->nhosts; i++)
        for (size_t j = 0; j < b->nhosts; j++)
            if (hosts_overlap(a->hosts[i], b->hosts[j])) return true;
    return false;
}

static bool paths_overlap(const pt_route *a, const pt_route *b)
{
    const char *pa = a->path_exact ? a->path_exact : a->path_prefix ? a->path_prefix : "/";
    const char *pb = b->path_exact ? b->path_exact : b->path_prefix ? b->path_prefix : "/";
    if (a->path_exact && b->path_exact) return strcmp(pa, pb) == 0;
    if (a->path_exact) return prefix_matches(pb, pt_slice_cstr(pa));
    if (b->path_exact) return prefix_matches(pa, pt_slice_cstr(pb));
    return prefix_matches(pa, pt_slice_cstr(pb)) || prefix_matches(pb, pt_slice_cstr(pa));
}

bool pt_router_overlaps(const pt_route *a, const pt_route *b)
{
    return any_host_overlaps(a, b) && paths_overlap(a, b);
}

void pt_router_describe(const pt_route *r, pt_buf *out)
{
    for (size_t i = 0; i < r->nhosts; i++) pt_buf_printf(out, "%s%s", i ? "," : "host ", r->hosts[i]);
    if (r->nhosts) pt_buf_append(out, " ", 1);
    if (r->path_exact) pt_buf_printf(out, "path %s", r->path_exact);
    else pt_buf_printf(out, "path_prefix %s", r->path_prefix ? r->path_prefix : "/");
    if (r->methods) pt_buf_printf(out, " methods %d", __builtin_popcountll(r->methods));
    if (r->nheaders) pt_buf_printf(out, " headers %zu", r->nheaders);
}

static void describe_action(const pt_route *r, pt_buf *out)
{
    pt_buf_printf(out, "%sroute '%s' (", r->kind == PT_ROUTE_AI ? "AI " : "", r->name);
    pt_router_describe(r, out);
    pt_buf_append(out, ")", 1);
}

size_t pt_router_ai_warnings(const pt_config *cfg, pt_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nroutes; i++)
        for (size_t j = i + 1; j < cfg->nroutes; j++) {
            const pt_route *win = &cfg->routes[i], *lose = &cfg->routes[j];
            if (win->kind != PT_ROUTE_AI && lose->kind != PT_ROUTE_AI) continue;
            if (!pt_router_overlaps(win, lose)) continue;
            describe_action(win, out);
            pt_buf_append_str(out, " shadows ");
            describe_action(lose, out);
            pt_buf_append_str(out, " for the requests both match\n");
            n++;
        }
    return n;
}

/* Length of prefix without its trailing '/', so what follows it is empty or starts
 * with '/' ("/v1/" and "/v1" both cut at 3; "/" cuts at 0). */
static size_t cut_len(const char *prefix)
{
    size_t n = strlen(prefix);
    if (n > 0 && prefix[n - 1] == '/') n--;
    return n;
}

int pt_router_upstream_path(const pt_route *r, const pt_request *req, pt_buf *out)
{
    int rc;
    pt_slice path = req->path;
    if (r->path_prefix && (r->strip_prefix || r->rewrite_prefix) &&
        prefix_matches(r->path_prefix, path)) {
        size_t cut = cut_len(r->path_prefix);
        pt_slice rest = { path.ptr + cut, path.len - cut };
        if (r->rewrite_prefix) {
            /* "/v2/" + "/x" -> "/v2/x"; an empty rest keeps the rewrite as written. */
            const char *rw = r->rewrite_prefix;
            size_t rwl = rest.len ? cut_len(rw) : strlen(rw);
            rc = pt_buf_append(out, rw, rwl);
            if (rc == 0 && rest.len) rc = pt_buf_append_slice(out, rest);
            if (rc == 0 && rwl == 0 && rest.len == 0) rc = pt_buf_append(out, "/", 1);
        } else {
            rc = rest.len ? pt_buf_append_slice(out, rest) : pt_buf_append(out, "/", 1);
        }
    } else {
        rc = path.len ? pt_buf_append_slice(out, path) : pt_buf_append(out, "/", 1);
    }
    if (rc == 0 && req->query.len) {
        rc = pt_buf_append(out, "?", 1);
        if (rc == 0) rc = pt_buf_append_slice(out, req->query);
    }
    return rc;
}
