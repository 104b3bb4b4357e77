/* analytics.c: GET /admin/v1/analytics/series and /analytics/top (see analytics.h and
 * docs/LOGS.md, "Analytics"): the call log's rollups through the admin thread's read-only
 * connection to calls.db. */
#include "admin/analytics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/calls.h"
#include "admin/cluster.h"
#include "analytics/rollup.h"
#include "core/slice.h"
#include "core/timefmt.h"

#define MAX_POINTS 10000
#define TOP_DEFAULT 10
#define TOP_MAX 1000

enum { P_BY, P_FROM, P_TO, P_STEP, P_NAME, P_METRIC = P_NAME, P_SCOPE, P_LIMIT, NPARAMS };

static const char *const series_params[] = { "by", "from", "to", "step", "name", "scope", NULL };
static const char *const top_params[] = { "by", "from", "to", "step", "metric", "scope", "limit", NULL };

/* cluster: every node's calls (the default); node: this node's; part: this node's share of a
 * cluster answer, asked by another node: every name, each latency as its sketch. */
typedef enum { SCOPE_CLUSTER, SCOPE_NODE, SCOPE_PART } scope;
static const char *const scope_names[] = { "cluster", "node", "part" };

typedef enum { M_REQUESTS, M_ERRORS, M_TOKENS, M_COST, M_P99, NMETRICS } metric;
static const char *const metric_names[NMETRICS] = { "requests", "errors", "tokens", "cost", "p99" };

typedef struct query {
    pt_rollup_query q;
    char v[NPARAMS][PT_ADMIN_VALUE_MAX];
    bool has[NPARAMS];
    metric metric;
    unsigned limit;
    scope scope;
} query;

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* by, from, to and step, shared by both endpoints. */
static int common(query *x, pt_admin_err *err)
{
    pt_rollup_query *q = &x->q;
    int d = x->has[P_BY] ? pick(x->v[P_BY], pt_dim_names, PT_NDIMS) : -1;
    if (d < 0)
        return pt_admin_fail(err, 400, "invalid_value", "by", "by must be service, api, consumer, team, model or provider");
    q->dim = (pt_dim)d;
    static const char *const names[] = { "from", "to" };
    for (int i = 0; i < 2; i++) {
        int64_t *t = i == 0 ? &q->from_ms : &q->to_ms;
        if (x->has[P_FROM + i] && (!pt__admin_parse_time(x->v[P_FROM + i], t) || *t <= 0))
            return pt_admin_fail(err, 400, "invalid_value", names[i],
                                 "%s must be an RFC 3339 time (2026-12-03T10:00:00Z) or Unix milliseconds", names[i]);
    }
    if (!x->has[P_TO]) q->to_ms = pt_time_now_ms();
    if (!x->has[P_FROM]) q->from_ms = q->to_ms - pt_step_ms[PT_STEP_DAY];
    if (q->from_ms >= q->to_ms) return pt_admin_fail(err, 400, "invalid_value", "to", "to must be later than from");
    int64_t span = q->to_ms - q->from_ms;
    if (x->has[P_STEP]) {
        int s = pick(x->v[P_STEP], pt_step_names, PT_NSTEPS);
        if (s < 0) return pt_admin_fail(err, 400, "invalid_value", "step", "step must be minute, hour or day");
        q->step = (pt_step)s;
    } else { /* the finest step whose default retention covers such a range */
        q->step = span <= pt_step_ms[PT_STEP_DAY] ? PT_STEP_MINUTE : span <= 90 * pt_step_ms[PT_STEP_DAY] ? PT_STEP_HOUR
                                                                                                         : PT_STEP_DAY;
    }
    if (span / pt_step_ms[q->step] > MAX_POINTS)
        return pt_admin_fail(err, 400, "invalid_value", "step", "from .. to holds more than %d %ss; use a coarser step",
                             MAX_POINTS, pt_step_names[q->step]);
    int sc = x->has[P_SCOPE] ? pick(x->v[P_SCOPE], scope_names, 3) : SCOPE_CLUSTER;
    if (sc < 0) return pt_admin_fail(err, 400, "invalid_value", "scope", "scope must be cluster or node");
    x->scope = (scope)sc;
    return 0;
}

static json_t *time_json(int64_t ms)
{
    char t[40];
    pt__admin_iso_time(ms, t, sizeof t);
    return json_string(t);
}

static json_t *fig_json(const pt_rollup_fig *f)
{
    const pt_sketch *s = &f->latency;
    return json_pack("{s:I,s:{s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:{s:I,s:I,s:I}}", "requests", (json_int_t)f->requests,
                     "errors", "total", (json_int_t)pt_rollup_fig_errors(f), "4xx", (json_int_t)f->err_4xx, "5xx",
                     (json_int_t)f->err_5xx, "rate_limited", (json_int_t)f->rate_limited, "input_tokens",
                     (json_int_t)f->input_tokens, "output_tokens", (json_int_t)f->output_tokens, "cost_micro_usd",
                     (json_int_t)f->cost_micro_usd, "latency_us", "p50", (json_int_t)pt_sketch_quantile(s, 0.50), "p95",
                     (json_int_t)pt_sketch_quantile(s, 0.95), "p99", (json_int_t)pt_sketch_quantile(s, 0.99));
}

/* A share of a cluster answer carries each latency as its sketch, so the p99 of the cluster
 * is read from the merged sketches, never from the nodes' p99s. */
static void add_sketch(json_t *o, const pt_sketch *s)
{
    uint8_t *bin = malloc(PT_SKETCH_ENCODED_MAX);
    char *hex = malloc(2 * PT_SKETCH_ENCODED_MAX + 1);
    if (bin && hex) {
        size_t n = pt_sketch_encode(s, bin);
        for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", bin[i]);
        hex[2 * n] = '\0';
        json_object_set_new(o, "latency_sketch", json_string(hex));
    }
    free(bin);
    free(hex);
}

/* Adds a share's figures (fig_json's shape with latency_sketch) to f. */
static void add_share_fig(pt_rollup_fig *f, const json_t *o)
{
    const json_t *e = json_object_get(o, "errors");
    f->requests += (uint64_t)json_integer_value(json_object_get(o, "requests"));
    f->err_4xx += (uint64_t)json_integer_value(json_object_get(e, "4xx"));
    f->err_5xx += (uint64_t)json_integer_value(json_object_get(e, "5xx"));
    f->rate_limited += (uint64_t)json_integer_value(json_object_get(e, "rate_limited"));
    f->input_tokens += json_integer_value(json_object_get(o, "input_tokens"));
    f->output_tokens += json_integer_value(json_object_get(o, "output_tokens"));
    f->cost_micro_usd += json_integer_value(json_object_get(o, "cost_micro_usd"));
    const char *hex = json_string_value(json_object_get(o, "latency_sketch"));
    size_t n = hex ? strlen(hex) / 2 : 0;
    uint8_t *bin = n ? malloc(n) : NULL;
    for (size_t i = 0; bin && i < n; i++) {
        int hi = pt_hex_digit(hex[2 * i]), lo = pt_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) n = 0;
        else bin[i] = (uint8_t)(hi << 4 | lo);
    }
    if (bin && n) pt_sketch_merge_encoded(&f->latency, bin, n);
    free(bin);
}

typedef struct points {
    json_t *list;
    bool part;
} points;

static json_t *point_json(int64_t start_ms, const pt_rollup_fig *fig, bool part)
{
    json_t *o = fig_json(fig);
    json_object_set_new(o, "start", time_json(start_ms));
    json_object_set_new(o, "start_ms", json_integer(start_ms));
    if (part) add_sketch(o, &fig->latency);
    return o;
}

static int on_point(void *arg, int64_t start_ms, const pt_rollup_fig *fig)
{
    points *p = arg;
    json_array_append_new(p->list, point_json(start_ms, fig, p->part));
    return 0;
}

static json_t *head(const query *x)
{
    return json_pack("{s:s,s:s,s:o,s:o}", "by", pt_dim_names[x->q.dim], "step", pt_step_names[x->q.step], "from",
                     time_json(x->q.from_ms), "to", time_json(x->q.to_ms));
}

static int series_args(query *x, pt_admin_err *err)
{
    if (!x->has[P_NAME] || !x->v[P_NAME][0])
        return pt_admin_fail(err, 400, "invalid_value", "name", "name is required: the %s whose series is asked",
                             pt_dim_names[x->q.dim]);
    x->q.name = x->v[P_NAME];
    return 0;
}

static void series(pt_admin_api *api, query *x, pt_admin_resp *resp, pt_admin_err *err)
{
    points p = { json_array(), x->scope == SCOPE_PART };
    char why[256];
    if (pt_rollup_series(api->calls, &x->q, on_point, &p, why, sizeof why) < 0) {
        json_decref(p.list);
        return (void)pt_admin_fail(err, 503, "unavailable", "", "%s", why);
    }
    resp->status = 200;
    resp->body = head(x);
    json_object_set_new(resp->body, "name", json_string(x->q.name));
    json_object_set_new(resp->body, "points", p.list);
}

/* ---- top-N --------------------------------------------------------------------------- */

typedef struct item {
    char *name;
    uint64_t requests, errors, tokens, p99;
    int64_t cost;
} item;

typedef struct items {
    item *v;
    size_t n, cap;
} items;

static int on_name(void *arg, const char *name, const pt_rollup_fig *fig)
{
    items *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        item *v = realloc(a->v, cap * sizeof *v);
        if (!v) return 1;
        a->v = v;
        a->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return 1;
    a->v[a->n++] = (item){ .name = copy, .requests = fig->requests, .errors = pt_rollup_fig_errors(fig),
                           .tokens = (uint64_t)(fig->input_tokens + fig->output_tokens), .cost = fig->cost_micro_usd,
                           .p99 = pt_sketch_quantile(&fig->latency, 0.99) };
    return 0;
}

static metric sort_by;

static uint64_t value(const item *i)
{
    switch (sort_by) {
    case M_ERRORS: return i->errors;
    case M_TOKENS: return i->tokens;
    case M_COST: return (uint64_t)(i->cost > 0 ? i->cost : 0);
    case M_P99: return i->p99;
    default: return i->requests;
    }
}

/* Largest first; equal values by name, so the order is stable across calls. */
static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    uint64_t u = value(x), v = value(y);
    return u != v ? (u < v ? 1 : -1) : strcmp(x->name, y->name);
}

static int top_args(query *x, pt_admin_err *err)
{
    int m = x->has[P_METRIC] ? pick(x->v[P_METRIC], metric_names, NMETRICS) : M_REQUESTS;
    if (m < 0) return pt_admin_fail(err, 400, "invalid_value", "metric", "metric must be requests, errors, tokens, cost or p99");
    x->metric = (metric)m;
    x->limit = TOP_DEFAULT;
    if (x->has[P_LIMIT]) {
        const char *s = x->v[P_LIMIT];
        char *end;
        long v = strtol(s, &end, 10);
        if (!*s || *end || v < 1 || v > TOP_MAX)
            return pt_admin_fail(err, 400, "invalid_value", "limit", "limit must be 1 to %d", TOP_MAX);
        x->limit = (unsigned)v;
    }
    return 0;
}

/* The answer of top: a sorted by x's metric, cut at x's limit, and totals (taken; see
 * all_calls). */
static void top_answer(query *x, items *a, json_t *totals, pt_admin_resp *resp)
{
    sort_by = x->metric; /* the admin API answers one request at a time on its own thread */
    if (a->n) qsort(a->v, a->n, sizeof *a->v, cmp_item);
    json_t *list = json_array();
    for (size_t i = 0; i < a->n && i < x->limit; i++) {
        item *it = &a->v[i];
        json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name", it->name, "requests",
                                              (json_int_t)it->requests, "errors", (json_int_t)it->errors, "tokens",
                                              (json_int_t)it->tokens, "cost_micro_usd", (json_int_t)it->cost,
                                              "p99_us", (json_int_t)it->p99));
    }
    resp->status = 200;
    resp->body = head(x);
    json_object_set_new(resp->body, "metric", json_string(metric_names[x->metric]));
    json_object_set_new(resp->body, "items", list);
    if (totals) json_object_set_new(resp->body, "totals", totals);
}

/* Every call of the range the caller may see, whatever names it carries, into *f: the totals
 * a sum of the items would miss (names past the limit, calls without a name of this
 * dimension) and the percentiles of all calls, not the slowest name's. 0, or -1 with err. */
static int all_calls(pt_admin_api *api, const query *x, pt_rollup_fig *f, pt_admin_err *err)
{
    char why[256];
    if (pt_rollup_total(api->calls, &x->q, f, why, sizeof why) == 0) return 0;
    return pt_admin_fail(err, 503, "unavailable", "", "%s", why);
}

static void items_free(items *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->v[i].name);
    free(a->v);
}

/* A share of a cluster answer: every name with its figures and sketch, unsorted. */
static int on_name_part(void *arg, const char *name, const pt_rollup_fig *fig)
{
    json_t *o = fig_json(fig);
    json_object_set_new(o, "name", json_string(name));
    add_sketch(o, &fig->latency);
    json_array_append_new(arg, o);
    return 0;
}

static void top(pt_admin_api *api, query *x, pt_admin_resp *resp, pt_admin_err *err)
{
    items a = { 0 };
    json_t *all = x->scope == SCOPE_PART ? json_array() : NULL;
    pt_rollup_fig *t = malloc(sizeof *t);
    char why[256];
    if (!t) {
        pt_admin_fail(err, 500, "out_of_memory", "", "out of memory");
    } else if (pt_rollup_names(api->calls, &x->q, all ? on_name_part : on_name, all ? (void *)all : &a, why, sizeof why) < 0) {
        pt_admin_fail(err, 503, "unavailable", "", "%s", why);
    } else if (all_calls(api, x, t, err) == 0 && all) {
        json_t *totals = fig_json(t); /* a share: with its sketch, to be merged */
        add_sketch(totals, &t->latency);
        resp->status = 200;
        resp->body = head(x);
        json_object_set_new(resp->body, "items", json_incref(all));
        json_object_set_new(resp->body, "totals", totals);
    } else if (!err->status) {
        top_answer(x, &a, fig_json(t), resp);
    }
    free(t);
    json_decref(all);
    items_free(&a);
}

/* ---- the whole cluster ------------------------------------------------------------------
 * Every node answers for the same from, to and step (scope=part); figures are added per
 * point or per name, and latencies merged as sketches. */

typedef struct ref {
    const char *name;   /* top: the name; series: NULL */
    int64_t start;      /* series: the point's start */
    const json_t *o;
} ref;

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->name) return strcmp(x->name, y->name);
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Every point (series) or name (top) of every share, sorted so equal ones are adjacent. */
static ref *share_refs(const pt__share *s, size_t n, bool is_top, size_t *count)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++) total += json_array_size(json_object_get(s[i].body, is_top ? "items" : "points"));
    ref *r = calloc(total ? total : 1, sizeof *r);
    for (size_t i = 0; r && i < n; i++) {
        size_t j;
        json_t *o;
        json_array_foreach(json_object_get(s[i].body, is_top ? "items" : "points"), j, o) {
            const char *name = json_string_value(json_object_get(o, "name"));
            if (is_top && !name) continue;
            r[k++] = (ref){ is_top ? name : NULL, json_integer_value(json_object_get(o, "start_ms")), o };
        }
    }
    if (r && k) qsort(r, k, sizeof *r, cmp_ref);
    *count = k;
    return r;
}

/* Calls back once per group of equal refs with their figures added up. */
static int merge_groups(const ref *r, size_t n, int (*fn)(void *, const ref *, const pt_rollup_fig *), void *arg)
{
    pt_rollup_fig *f = malloc(sizeof *f);
    if (!f) return -1;
    for (size_t i = 0; i < n;) {
        pt_rollup_fig_init(f);
        size_t j = i;
        while (j < n && cmp_ref(&r[i], &r[j]) == 0) add_share_fig(f, r[j++].o);
        if (fn(arg, &r[i], f)) break;
        i = j;
    }
    free(f);
    return 0;
}

static int merged_point(void *arg, const ref *r, const pt_rollup_fig *f)
{
    json_array_append_new(arg, point_json(r->start, f, false));
    return 0;
}

static int merged_name(void *arg, const ref *r, const pt_rollup_fig *f) { return on_name(arg, r->name, f); }

static void series_share(pt_admin_api *api, const pt_admin_req *rq, const char *vt, pt_admin_resp *out, pt_admin_err *err)
{
    pt__admin_analytics(api, rq, "series", vt, out, err);
}

static void top_share(pt_admin_api *api, const pt_admin_req *rq, const char *vt, pt_admin_resp *out, pt_admin_err *err)
{
    pt__admin_analytics(api, rq, "top", vt, out, err);
}

static void cluster(pt_admin_api *api, const pt_admin_req *rq, query *x, const char *visible_team, bool is_top,
                    pt__share *s, size_t n, pt_admin_resp *resp)
{
    static const char *const drop[] = { "from", "to", "step", "scope", "limit", NULL };
    char extra[160];
    snprintf(extra, sizeof extra, "from=%lld&to=%lld&step=%s&scope=part", (long long)x->q.from_ms,
             (long long)x->q.to_ms, pt_step_names[x->q.step]);
    for (size_t i = 0; i < n; i++) pt__cluster_query(rq, drop, extra, s[i].query, sizeof s[i].query);
    pt__cluster_ask(api, rq, is_top ? "analytics/top" : "analytics/series", visible_team, is_top ? top_share : series_share,
                    s, n);
    size_t nref;
    ref *r = share_refs(s, n, is_top, &nref);
    items a = { 0 };
    if (is_top) {
        if (r) merge_groups(r, nref, merged_name, &a);
        pt_rollup_fig *t = malloc(sizeof *t); /* every node's totals added */
        if (t) pt_rollup_fig_init(t);
        for (size_t i = 0; t && i < n; i++) {
            const json_t *o = json_object_get(s[i].body, "totals");
            if (o) add_share_fig(t, o);
        }
        top_answer(x, &a, t ? fig_json(t) : NULL, resp);
        free(t);
        items_free(&a);
    } else {
        json_t *list = json_array();
        if (r) merge_groups(r, nref, merged_point, list);
        resp->status = 200;
        resp->body = head(x);
        json_object_set_new(resp->body, "name", json_string(x->q.name));
        json_object_set_new(resp->body, "points", list);
    }
    free(r);
    json_object_set_new(resp->body, "nodes", pt__cluster_report(s, n, resp->missing_nodes, sizeof resp->missing_nodes));
    json_object_set_new(resp->body, "partial", json_boolean(resp->missing_nodes[0] != '\0'));
}

void pt__admin_analytics(pt_admin_api *api, const pt_admin_req *rq, const char *what, const char *visible_team,
                         pt_admin_resp *resp, pt_admin_err *err)
{
    bool is_top = strcmp(what, "top") == 0;
    if (!is_top && strcmp(what, "series") != 0) {
        pt_admin_fail(err, 404, "not_found", "", "no such analytics resource (series, top)");
        return;
    }
    query *x = calloc(1, sizeof *x);
    if (!x) {
        pt_admin_fail(err, 500, "out_of_memory", "", "out of memory");
        return;
    }
    pt__share *s = NULL;
    int n = 0;
    /* top's parameters sit at the same indexes as series' (P_METRIC is P_NAME), LIMIT after */
    if (pt__admin_query_params(rq, is_top ? top_params : series_params, x->v, x->has, err) || common(x, err) ||
        (is_top ? top_args(x, err) : series_args(x, err)))
        goto done;
    x->q.visible_team = visible_team;
    if (x->scope == SCOPE_CLUSTER && (n = pt__cluster_shares(api, &s, err)) < 0) goto done;
    if (n > 0) cluster(api, rq, x, visible_team, is_top, s, (size_t)n, resp);
    else if (pt__admin_calls_reader(api, err) == 0) is_top ? top(api, x, resp, err) : series(api, x, resp, err);
done:
    pt__cluster_free(s, n > 0 ? (size_t)n : 0);
    free(x);
}
