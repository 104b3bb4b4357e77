/* analytics.c: GET /admin/v1/analytics/series and /analytics/top (see analytics.h and
 * docs/LOGS.md, "Analytics"): the call log's rollups through the admin thread's read-only
 * connection to calls.db. */
#include "admin/analytics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/calls.h"
#include "analytics/rollup.h"
#include "core/timefmt.h"

#define MAX_POINTS 10000
#define TOP_DEFAULT 10
#define TOP_MAX 1000

enum { P_BY, P_FROM, P_TO, P_STEP, P_NAME, P_METRIC = P_NAME, P_LIMIT, NPARAMS };

static const char *const series_params[] = { "by", "from", "to", "step", "name", NULL };
static const char *const top_params[] = { "by", "from", "to", "step", "metric", "limit", NULL };

typedef enum { M_REQUESTS, M_ERRORS, M_TOKENS, M_COST, M_P99, NMETRICS } metric;
static const char *const metric_names[NMETRICS] = { "requests", "errors", "tokens", "cost", "p99" };

typedef struct query {
    pt_rollup_query q;
    char v[NPARAMS][PT_ADMIN_VALUE_MAX];
    bool has[NPARAMS];
    metric metric;
    unsigned limit;
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

static int on_point(void *arg, int64_t start_ms, const pt_rollup_fig *fig)
{
    json_t *o = fig_json(fig);
    json_object_set_new(o, "start", time_json(start_ms));
    json_object_set_new(o, "start_ms", json_integer(start_ms));
    json_array_append_new(arg, o);
    return 0;
}

static json_t *head(const query *x)
{
    return json_pack("{s:s,s:s,s:o,s:o}", "by", pt_dim_names[x->q.dim], "step", pt_step_names[x->q.step], "from",
                     time_json(x->q.from_ms), "to", time_json(x->q.to_ms));
}

static void series(pt_admin_api *api, query *x, pt_admin_resp *resp, pt_admin_err *err)
{
    if (!x->has[P_NAME] || !x->v[P_NAME][0])
        return (void)pt_admin_fail(err, 400, "invalid_value", "name", "name is required: the %s whose series is asked",
                                   pt_dim_names[x->q.dim]);
    x->q.name = x->v[P_NAME];
    json_t *points = json_array();
    char why[256];
    if (pt_rollup_series(api->calls, &x->q, on_point, points, why, sizeof why) < 0) {
        json_decref(points);
        return (void)pt_admin_fail(err, 503, "unavailable", "", "%s", why);
    }
    resp->status = 200;
    resp->body = head(x);
    json_object_set_new(resp->body, "name", json_string(x->q.name));
    json_object_set_new(resp->body, "points", points);
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

static void top(pt_admin_api *api, query *x, pt_admin_resp *resp, pt_admin_err *err)
{
    if (top_args(x, err)) return;
    items a = { 0 };
    char why[256];
    if (pt_rollup_names(api->calls, &x->q, on_name, &a, why, sizeof why) < 0) {
        pt_admin_fail(err, 503, "unavailable", "", "%s", why);
        goto done;
    }
    sort_by = x->metric; /* the admin API answers one request at a time on its own thread */
    if (a.n) qsort(a.v, a.n, sizeof *a.v, cmp_item);
    json_t *list = json_array();
    for (size_t i = 0; i < a.n && i < x->limit; i++) {
        item *it = &a.v[i];
        json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name", it->name, "requests",
                                              (json_int_t)it->requests, "errors", (json_int_t)it->errors, "tokens",
                                              (json_int_t)it->tokens, "cost_micro_usd", (json_int_t)it->cost,
                                              "p99_us", (json_int_t)it->p99));
    }
    resp->status = 200;
    resp->body = head(x);
    json_object_set_new(resp->body, "metric", json_string(metric_names[x->metric]));
    json_object_set_new(resp->body, "items", list);
done:
    for (size_t i = 0; i < a.n; i++) free(a.v[i].name);
    free(a.v);
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
    /* top's parameters sit at the same indexes as series' (P_METRIC is P_NAME), LIMIT after */
    if (pt__admin_query_params(rq, is_top ? top_params : series_params, x->v, x->has, err) == 0 && common(x, err) == 0 &&
        pt__admin_calls_reader(api, err) == 0) {
        x->q.visible_team = visible_team;
        if (is_top) top(api, x, resp, err);
        else series(api, x, resp, err);
    }
    free(x);
}
