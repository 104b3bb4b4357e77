/* Unit tests for analytics/rollup: records bucketed per minute, hour and UTC day across
 * their boundaries, flushes that merge into rows already written, errors by class, tokens
 * and cost, percentiles from the merged sketches, team visibility, every name of a
 * dimension for top-N, and each step pruned by its own retention at an injected time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/rollup.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 (20425 * DAY) /* 2025-12-03T00:00:00Z */

typedef struct fx {
    sqlite3 *db;
    pt_rollup *r;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char why[128];
    uint64_t keep[PT_NSTEPS] = { 2 * HOUR, 3 * DAY, 0 };
    if (sqlite3_open(":memory:", &f->db) != SQLITE_OK ||
        sqlite3_exec(f->db, pt_rollups_schema, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    f->r = pt_rollup_new(f->db, keep, why, sizeof why);
    *state = f;
    return f->r ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    pt_rollup_free(f->r);
    sqlite3_close(f->db);
    free(f);
    return 0;
}

static pt_rollup_rec rec(int64_t t, const char *consumer, const char *team, int status, uint64_t us)
{
    return (pt_rollup_rec){
        .time_ms = t,
        .name = { [PT_DIM_SERVICE] = PT_SLICE_LIT("echo"), [PT_DIM_API] = PT_SLICE_LIT("echo/v1"),
                  [PT_DIM_CONSUMER] = pt_slice_cstr(consumer), [PT_DIM_TEAM] = pt_slice_cstr(team) },
        .team = pt_slice_cstr(team), .service_team = PT_SLICE_LIT("web"), .status = status, .total_us = us,
        .input_tokens = -1, .output_tokens = -1, .cost_micro_usd = -1,
    };
}

typedef struct pts {
    int n;
    int64_t start[16];
    pt_rollup_fig fig[16];
} pts;

static int take_point(void *arg, int64_t start, const pt_rollup_fig *fig)
{
    pts *p = arg;
    if (p->n < 16) {
        p->start[p->n] = start;
        p->fig[p->n++] = *fig;
    }
    return 0;
}

static pts *series(fx *f, pt_step step, pt_dim dim, const char *name, int64_t from, int64_t to, const char *team)
{
    static pts p;
    memset(&p, 0, sizeof p);
    char why[128];
    pt_rollup_query q = { .step = step, .dim = dim, .name = name, .from_ms = from, .to_ms = to, .visible_team = team };
    if (pt_rollup_series(f->db, &q, take_point, &p, why, sizeof why) < 0) fail_msg("%s", why);
    return &p;
}

static void records_fall_in_their_minute_hour_and_utc_day(void **state)
{
    fx *f = *state;
    int64_t t[] = { D0 - 1, D0, D0 + 30000, D0 + HOUR - 1 }; /* 23:59:59.999, 00:00, 00:00:30, 00:59:59.999 */
    for (int i = 0; i < 4; i++) pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(t[i], "bot", "ml", 200, 1000) });
    assert_int_equal(pt_rollup_flush(f->r, D0 + HOUR), SQLITE_OK);
    pts *p = series(f, PT_STEP_MINUTE, PT_DIM_CONSUMER, "bot", D0 - HOUR, D0 + HOUR, NULL);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->start[0], D0 - MIN);
    assert_int_equal(p->fig[0].requests, 1);
    assert_int_equal(p->start[1], D0);
    assert_int_equal(p->fig[1].requests, 2);
    assert_int_equal(p->start[2], D0 + HOUR - MIN);
    assert_int_equal(p->fig[2].requests, 1);
    p = series(f, PT_STEP_HOUR, PT_DIM_CONSUMER, "bot", D0 - DAY, D0 + DAY, NULL);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->start[0], D0 - HOUR);
    assert_int_equal(p->fig[0].requests, 1);
    assert_int_equal(p->start[1], D0);
    assert_int_equal(p->fig[1].requests, 3);
    p = series(f, PT_STEP_DAY, PT_DIM_CONSUMER, "bot", D0 - DAY, D0 + DAY, NULL);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->start[0], D0 - DAY);
    assert_int_equal(p->fig[0].requests, 1);
    assert_int_equal(p->fig[1].requests, 3);
    /* a range starting inside a bucket includes that bucket; `to` excludes the bucket starting there */
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_CONSUMER, "bot", D0 + 1, D0 + 2, NULL)->n, 1);
    assert_int_equal(series(f, PT_STEP_MINUTE, PT_DIM_CONSUMER, "bot", D0 - MIN, D0, NULL)->n, 1);
}

static void a_later_flush_adds_to_the_rows_written(void **state)
{
    fx *f = *state;
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0 + 10, "bot", "ml", 200, 1000) });
    assert_int_equal(pt_rollup_flush(f->r, D0 + MIN), SQLITE_OK);
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0 + 20, "bot", "ml", 503, 3000) });
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0 + MIN + 5, "bot", "ml", 200, 2000) });
    assert_int_equal(pt_rollup_flush(f->r, D0 + 2 * MIN), SQLITE_OK);
    pts *p = series(f, PT_STEP_MINUTE, PT_DIM_SERVICE, "echo", D0, D0 + HOUR, NULL);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->fig[0].requests, 2);
    assert_int_equal(p->fig[0].err_5xx, 1);
    assert_int_equal(p->fig[0].latency.count, 2);
    p = series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0, D0 + HOUR, NULL);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->fig[0].requests, 3);
    /* the merged sketch: the slowest and fastest calls within the sketch's 1% */
    assert_in_range(pt_sketch_quantile(&p->fig[0].latency, 1.0), 2970, 3030);
    assert_in_range(pt_sketch_quantile(&p->fig[0].latency, 0.0), 990, 1010);
    assert_in_range(pt_sketch_quantile(&p->fig[0].latency, 0.5), 1980, 2020);
}

static void errors_tokens_and_cost_are_summed_by_class(void **state)
{
    fx *f = *state;
    int status[] = { 200, 201, 404, 401, 429, 500, 503, 0 };
    for (int i = 0; i < 8; i++) {
        pt_rollup_rec r = rec(D0 + i, "bot", "ml", status[i], 100 * (i + 1));
        r.name[PT_DIM_MODEL] = PT_SLICE_LIT("gpt-4o");
        r.name[PT_DIM_PROVIDER] = PT_SLICE_LIT("openai");
        r.input_tokens = 10, r.output_tokens = 5, r.cost_micro_usd = i == 0 ? -1 : 7;
        pt_rollup_add(f->r, &r);
    }
    assert_int_equal(pt_rollup_flush(f->r, D0 + MIN), SQLITE_OK);
    pts *p = series(f, PT_STEP_DAY, PT_DIM_MODEL, "gpt-4o", D0, D0 + DAY, NULL);
    assert_int_equal(p->n, 1);
    pt_rollup_fig *g = &p->fig[0];
    assert_int_equal(g->requests, 8);
    assert_int_equal(g->err_4xx, 2);
    assert_int_equal(g->rate_limited, 1);
    assert_int_equal(g->err_5xx, 3);
    assert_int_equal(pt_rollup_fig_errors(g), 6);
    assert_int_equal(g->input_tokens, 80);
    assert_int_equal(g->output_tokens, 40);
    assert_int_equal(g->cost_micro_usd, 49);
    assert_int_equal(series(f, PT_STEP_DAY, PT_DIM_PROVIDER, "openai", D0, D0 + DAY, NULL)->fig[0].requests, 8);
}

static void a_team_sees_its_callers_and_its_services_rows_only(void **state)
{
    fx *f = *state;
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0, "bot", "ml", 200, 100) });
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0, "app", "ops", 200, 100) });
    pt_rollup_rec anon = rec(D0, NULL, NULL, 401, 100);
    anon.service_team = PT_SLICE_NULL;
    pt_rollup_add(f->r, &anon);
    assert_int_equal(pt_rollup_flush(f->r, D0 + MIN), SQLITE_OK);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0, D0 + 1, NULL)->fig[0].requests, 3);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0, D0 + 1, "ml")->fig[0].requests, 1);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0, D0 + 1, "web")->fig[0].requests, 2);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0, D0 + 1, "nobody")->n, 0);
}

typedef struct names {
    int n;
    char name[8][16];
    uint64_t requests[8];
} names;

static int take_name(void *arg, const char *name, const pt_rollup_fig *fig)
{
    names *x = arg;
    if (x->n < 8) {
        snprintf(x->name[x->n], 16, "%s", name);
        x->requests[x->n++] = fig->requests;
    }
    return 0;
}

static void every_name_of_a_dimension_is_merged_over_the_range(void **state)
{
    fx *f = *state;
    const char *who[] = { "c", "a", "b", "a", "c", "c" };
    for (int i = 0; i < 6; i++) pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0 + i * MIN, who[i], "ml", 200, 100) });
    assert_int_equal(pt_rollup_flush(f->r, D0 + HOUR), SQLITE_OK);
    names x = { 0 };
    char why[128];
    pt_rollup_query q = { .step = PT_STEP_MINUTE, .dim = PT_DIM_CONSUMER, .from_ms = D0, .to_ms = D0 + HOUR };
    assert_int_equal(pt_rollup_names(f->db, &q, take_name, &x, why, sizeof why), 3);
    assert_string_equal(x.name[0], "a");
    assert_int_equal(x.requests[0], 2);
    assert_string_equal(x.name[1], "b");
    assert_int_equal(x.requests[1], 1);
    assert_string_equal(x.name[2], "c");
    assert_int_equal(x.requests[2], 3);
}

static void totals_count_every_call_whatever_it_names(void **state)
{
    fx *f = *state;
    const char *who[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0 + i * MIN, who[i], "ml", 200, 1000) });
    pt_rollup_rec lost = rec(D0 + 3 * MIN, "a", "ml", 404, 9000);
    lost.name[PT_DIM_SERVICE] = PT_SLICE_NULL; /* no route took it: no service, no API */
    lost.name[PT_DIM_API] = PT_SLICE_NULL;
    pt_rollup_add(f->r, &lost);
    pt_rollup_rec other = rec(D0 + 4 * MIN, "z", "ops", 500, 5000);
    other.service_team = PT_SLICE_LIT("ops");
    pt_rollup_add(f->r, &other);
    assert_int_equal(pt_rollup_flush(f->r, D0 + HOUR), SQLITE_OK);
    pt_rollup_fig *t = malloc(sizeof *t);
    char why[128];
    pt_rollup_query q = { .step = PT_STEP_MINUTE, .dim = PT_DIM_SERVICE, .from_ms = D0, .to_ms = D0 + HOUR };
    assert_int_equal(pt_rollup_total(f->db, &q, t, why, sizeof why), 0);
    assert_int_equal(t->requests, 5);
    assert_int_equal(t->err_4xx, 1);
    assert_int_equal(t->err_5xx, 1);
    assert_int_equal(t->latency.count, 5);
    /* the service dimension alone holds four of them */
    names x = { 0 };
    assert_int_equal(pt_rollup_names(f->db, &q, take_name, &x, why, sizeof why), 1);
    assert_int_equal(x.requests[0], 4);
    /* a team sees the totals of its own calls only; other steps hold the same */
    q.visible_team = "ml";
    assert_int_equal(pt_rollup_total(f->db, &q, t, why, sizeof why), 0);
    assert_int_equal(t->requests, 4);
    q.visible_team = NULL;
    q.step = PT_STEP_DAY;
    assert_int_equal(pt_rollup_total(f->db, &q, t, why, sizeof why), 0);
    assert_int_equal(t->requests, 5);
    /* no name of any dimension is the totals' "" */
    q.step = PT_STEP_MINUTE;
    q.dim = PT_DIM_CONSUMER;
    memset(&x, 0, sizeof x);
    assert_int_equal(pt_rollup_names(f->db, &q, take_name, &x, why, sizeof why), 4);
    assert_string_equal(x.name[0], "a");
    free(t);
}

static void each_step_is_pruned_by_its_own_retention(void **state)
{
    fx *f = *state;
    pt_rollup_add(f->r, (pt_rollup_rec[]){ rec(D0, "bot", "ml", 200, 100) });
    assert_int_equal(pt_rollup_flush(f->r, D0 + MIN), SQLITE_OK);
    /* 3 hours later: the minute row (kept 2 h) goes, the hour and day rows stay */
    assert_int_equal(pt_rollup_flush(f->r, D0 + 3 * HOUR), SQLITE_OK);
    assert_int_equal(series(f, PT_STEP_MINUTE, PT_DIM_CONSUMER, "bot", D0, D0 + DAY, NULL)->n, 0);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_CONSUMER, "bot", D0, D0 + DAY, NULL)->n, 1);
    /* 4 days later: the hour row (kept 3 d) goes; days are kept forever here */
    assert_int_equal(pt_rollup_flush(f->r, D0 + 4 * DAY), SQLITE_OK);
    assert_int_equal(series(f, PT_STEP_HOUR, PT_DIM_CONSUMER, "bot", D0, D0 + DAY, NULL)->n, 0);
    assert_int_equal(series(f, PT_STEP_DAY, PT_DIM_CONSUMER, "bot", D0, D0 + DAY, NULL)->n, 1);
}

static void assert_same_figs(const pt_rollup_fig *a, const pt_rollup_fig *b)
{
    assert_int_equal(a->requests, b->requests);
    assert_int_equal(a->err_4xx, b->err_4xx);
    assert_int_equal(a->err_5xx, b->err_5xx);
    assert_int_equal(a->rate_limited, b->rate_limited);
    assert_int_equal(a->input_tokens, b->input_tokens);
    assert_int_equal(a->cost_micro_usd, b->cost_micro_usd);
    assert_int_equal(a->latency.count, b->latency.count);
    for (int q = 0; q <= 100; q += 5)
        assert_int_equal(pt_sketch_quantile(&a->latency, q / 100.0), pt_sketch_quantile(&b->latency, q / 100.0));
}

/* Records in a row naming the same are added up as a run and merged into their cells when
 * the run ends: at a new minute, at other names, at a flush. The rows must be those of the
 * same records added one by one. */
static void a_run_of_records_naming_the_same_counts_as_each_record(void **state)
{
    fx *f = *state, *g;
    assert_int_equal(setup((void **)&g), 0);
    const char *who[] = { "bot", "bot", "bot", "app", "app", "bot", "bot", "bot", "bot", "app" };
    for (int i = 0; i < 200; i++) {
        int k = i % 10;
        /* two minutes, the first ending inside a run (i = 48); a flush in the second */
        pt_rollup_rec r = rec(D0 + MIN - 960 + i * 20, who[k], "ml", i % 7 ? 200 : i % 3 ? 429 : 503, 100 + 37 * (uint64_t)i);
        r.input_tokens = i;
        r.cost_micro_usd = i % 4 ? 5 : -1;
        pt_rollup_add(g->r, &r);
        r.same_names = k && who[k] == who[k - 1];
        pt_rollup_add(f->r, &r);
        if (i == 150) {
            assert_int_equal(pt_rollup_flush(f->r, D0 + 2 * MIN), SQLITE_OK);
            assert_int_equal(pt_rollup_flush(g->r, D0 + 2 * MIN), SQLITE_OK);
        }
    }
    assert_int_equal(pt_rollup_flush(f->r, D0 + 3 * MIN), SQLITE_OK);
    assert_int_equal(pt_rollup_flush(g->r, D0 + 3 * MIN), SQLITE_OK);
    for (int d = 0; d < 2; d++) {
        const char *name = d ? "app" : "bot";
        pts a = *series(f, PT_STEP_MINUTE, PT_DIM_CONSUMER, name, D0 - HOUR, D0 + HOUR, NULL);
        pts *b = series(g, PT_STEP_MINUTE, PT_DIM_CONSUMER, name, D0 - HOUR, D0 + HOUR, NULL);
        assert_int_equal(a.n, 2);
        assert_int_equal(b->n, 2);
        for (int i = 0; i < a.n; i++) {
            assert_int_equal(a.start[i], b->start[i]);
            assert_same_figs(&a.fig[i], &b->fig[i]);
        }
    }
    pts a = *series(f, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0 - DAY, D0 + DAY, NULL);
    pts *b = series(g, PT_STEP_HOUR, PT_DIM_SERVICE, "echo", D0 - DAY, D0 + DAY, NULL);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.fig[0].requests, 200);
    assert_same_figs(&a.fig[0], &b->fig[0]);
    teardown((void **)&g);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(records_fall_in_their_minute_hour_and_utc_day),
        T(a_later_flush_adds_to_the_rows_written),
        T(errors_tokens_and_cost_are_summed_by_class),
        T(a_team_sees_its_callers_and_its_services_rows_only),
        T(every_name_of_a_dimension_is_merged_over_the_range),
        T(each_step_is_pruned_by_its_own_retention),
        T(totals_count_every_call_whatever_it_names),
        T(a_run_of_records_naming_the_same_counts_as_each_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
