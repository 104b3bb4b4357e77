/* rollup.c: analytics rollups, written by the call log's writer thread and read by the
 * admin API (see rollup.h). */
#include "analytics/rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

const char *const pt_dim_names[PT_NDIMS] = { "service", "api", "consumer", "team", "model", "provider" };
const char *const pt_step_names[PT_NSTEPS] = { "minute", "hour", "day" };
const int64_t pt_step_ms[PT_NSTEPS] = { 60000, 3600000, 86400000 };

const char pt_rollups_schema[] =
    "CREATE TABLE IF NOT EXISTS rollups(step INTEGER NOT NULL, dim INTEGER NOT NULL, name TEXT NOT NULL,"
    " start_ms INTEGER NOT NULL, team TEXT NOT NULL, service_team TEXT NOT NULL, requests INTEGER NOT NULL,"
    " err_4xx INTEGER NOT NULL, err_5xx INTEGER NOT NULL, rate_limited INTEGER NOT NULL,"
    " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_micro_usd INTEGER NOT NULL,"
    " latency BLOB NOT NULL, PRIMARY KEY(step, dim, name, start_ms, team, service_team)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rollups_age ON rollups(step, start_ms);";

#define FIG_COLS "requests,err_4xx,err_5xx,rate_limited,input_tokens,output_tokens,cost_micro_usd,latency"
#define TABLE_SLOTS (2 * PT_ROLLUP_PENDING_MAX)
#define PRUNE_EVERY_MS 60000

/* A pending cell: one minute of one name of one dimension, for one (team, service_team).
 * key holds name, team and service_team back to back. */
typedef struct cell {
    uint64_t hash;
    int64_t minute;
    pt_dim dim;
    size_t name_len, team_len, steam_len;
    pt_rollup_fig fig;
    char key[];
} cell;

struct pt_rollup {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *prune;
    uint64_t retention_ms[PT_NSTEPS];
    int64_t last_prune_ms;
    size_t pending;
    cell *slot[TABLE_SLOTS];
    cell *last[PT_NDIMS + 1];    /* each dimension's (and PT_DIM_ALL's) last cell: calls in a row
                                  * mostly name the same service and API in the same minute */
    /* The run: the cells of the last record added, and the records after it in the same
     * minute naming the same (same_names), added up in fig (n of them) and merged into
     * those cells once, when the run ends. */
    struct {
        bool open;
        int64_t minute;
        size_t ncells;
        cell *cells[PT_NDIMS + 1];
        uint64_t n;
        pt_rollup_fig fig;
    } run;
};

void pt_rollup_fig_init(pt_rollup_fig *f)
{
    memset(f, 0, offsetof(pt_rollup_fig, latency));
    pt_sketch_init(&f->latency);
}

void pt_rollup_fig_merge(pt_rollup_fig *dst, const pt_rollup_fig *src)
{
    dst->requests += src->requests;
    dst->err_4xx += src->err_4xx;
    dst->err_5xx += src->err_5xx;
    dst->rate_limited += src->rate_limited;
    dst->input_tokens += src->input_tokens;
    dst->output_tokens += src->output_tokens;
    dst->cost_micro_usd += src->cost_micro_usd;
    pt_sketch_merge(&dst->latency, &src->latency);
}

uint64_t pt_rollup_fig_errors(const pt_rollup_fig *f) { return f->err_4xx + f->err_5xx + f->rate_limited; }

static void fig_add(pt_rollup_fig *f, const pt_rollup_rec *r, uint32_t latency_bucket)
{
    f->requests++;
    if (r->status == 429) f->rate_limited++;
    else if (r->status >= 400 && r->status < 500) f->err_4xx++;
    else if (r->status >= 500 || r->status == 0) f->err_5xx++;
    if (r->input_tokens > 0) f->input_tokens += r->input_tokens;
    if (r->output_tokens > 0) f->output_tokens += r->output_tokens;
    if (r->cost_micro_usd > 0) f->cost_micro_usd += r->cost_micro_usd;
    pt_sketch_add_at(&f->latency, latency_bucket);
}

/* ---- the writer ------------------------------------------------------------------------ */

pt_rollup *pt_rollup_new(sqlite3 *db, const uint64_t retention_ms[PT_NSTEPS], char *why, size_t cap)
{
    pt_rollup *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, cap, "analytics: out of memory");
        return NULL;
    }
    r->db = db;
    memcpy(r->retention_ms, retention_ms, sizeof r->retention_ms);
    int p = SQLITE_PREPARE_PERSISTENT;
    if (sqlite3_prepare_v3(db, "SELECT " FIG_COLS " FROM rollups WHERE step=?1 AND dim=?2 AND name=?3 AND start_ms=?4"
                               " AND team=?5 AND service_team=?6", -1, p, &r->get, NULL) ||
        sqlite3_prepare_v3(db, "INSERT OR REPLACE INTO rollups(step,dim,name,start_ms,team,service_team," FIG_COLS ")"
                               " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, p, &r->put, NULL) ||
        sqlite3_prepare_v3(db, "DELETE FROM rollups WHERE step=?1 AND start_ms<?2", -1, p, &r->prune, NULL)) {
        snprintf(why, cap, "analytics: %s", sqlite3_errmsg(db));
        pt_rollup_free(r);
        return NULL;
    }
    return r;
}

/* Merges the run into its cells and closes it. */
static void run_end(pt_rollup *r)
{
    if (!r->run.open) return;
    for (size_t i = 0; r->run.n && i < r->run.ncells; i++) pt_rollup_fig_merge(&r->run.cells[i]->fig, &r->run.fig);
    r->run.open = false;
}

static void drop_pending(pt_rollup *r)
{
    r->run.open = false; /* its cells go */
    for (size_t i = 0; i < TABLE_SLOTS; i++) {
        free(r->slot[i]);
        r->slot[i] = NULL;
    }
    memset(r->last, 0, sizeof r->last);
    r->pending = 0;
}

void pt_rollup_free(pt_rollup *r)
{
    if (!r) return;
    drop_pending(r);
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->put);
    sqlite3_finalize(r->prune);
    free(r);
}

/* Whether p[0, n) holds s (of length n): memcmp only for bytes, an empty team or
 * service team (a call without a key) being the common case. */
static inline bool holds(const char *p, pt_slice s) { return !s.len || memcmp(p, s.ptr, s.len) == 0; }

/* Whether c counts this minute and names (its dimension compared by the caller). */
static bool cell_keys(const cell *c, int64_t minute, pt_slice name, pt_slice team, pt_slice steam)
{
    return c->minute == minute && c->name_len == name.len && c->team_len == team.len && c->steam_len == steam.len &&
           holds(c->key, name) && holds(c->key + name.len, team) && holds(c->key + name.len + team.len, steam);
}

static bool cell_is(const cell *c, uint64_t h, int64_t minute, pt_dim dim, pt_slice name, pt_slice team, pt_slice steam)
{
    return c->hash == h && c->dim == dim && cell_keys(c, minute, name, team, steam);
}

/* The pending cell for this key, made when new; NULL when out of memory. */
static cell *cell_for(pt_rollup *r, int64_t minute, pt_dim dim, pt_slice name, pt_slice team, pt_slice steam)
{
    /* the three names' hashes combined unevenly (a name moved to the team is another key) */
    uint64_t h = pt_hash_bytes(name.ptr, name.len) ^ pt_hash_bytes(team.ptr, team.len) * 3 ^
                 pt_hash_bytes(steam.ptr, steam.len) * 5 ^ ((uint64_t)minute * 0x9e3779b97f4a7c15ULL + (uint64_t)dim);
    size_t i = h % TABLE_SLOTS;
    for (; r->slot[i]; i = (i + 1) % TABLE_SLOTS)
        if (cell_is(r->slot[i], h, minute, dim, name, team, steam)) return r->slot[i];
    cell *c = malloc(sizeof *c + name.len + team.len + steam.len);
    if (!c) return NULL;
    *c = (cell){ .hash = h, .minute = minute, .dim = dim, .name_len = name.len, .team_len = team.len,
                 .steam_len = steam.len };
    pt_rollup_fig_init(&c->fig);
    if (name.len) memcpy(c->key, name.ptr, name.len);
    if (team.len) memcpy(c->key + name.len, team.ptr, team.len);
    if (steam.len) memcpy(c->key + name.len + team.len, steam.ptr, steam.len);
    r->slot[i] = c;
    r->pending++;
    return c;
}

/* cell_for, the dimension's last cell tried first (without hashing the key). */
static cell *cell_at(pt_rollup *r, int64_t minute, pt_dim dim, pt_slice name, pt_slice team, pt_slice steam)
{
    cell *c = r->last[dim];
    if (c && cell_keys(c, minute, name, team, steam)) return c;
    return r->last[dim] = cell_for(r, minute, dim, name, team, steam);
}

static int64_t floor_to(int64_t t, int64_t step) { return (t >= 0 ? t : t - step + 1) / step * step; }

bool pt_rollup_add(pt_rollup *r, const pt_rollup_rec *rec)
{
    int64_t minute = floor_to(rec->time_ms, pt_step_ms[PT_STEP_MINUTE]);
    uint32_t bucket = pt_sketch_bucket(rec->total_us);
    if (r->run.open && rec->same_names && r->run.minute == minute) {
        if (!r->run.n++) pt_rollup_fig_init(&r->run.fig);
        fig_add(&r->run.fig, rec, bucket);
        return false;
    }
    run_end(r);
    pt_slice team = rec->team.ptr ? rec->team : PT_SLICE_LIT(""), steam = rec->service_team.ptr ? rec->service_team
                                                                                                : PT_SLICE_LIT("");
    size_t n = 0;
    for (int d = 0; d < PT_NDIMS && r->pending < PT_ROLLUP_PENDING_MAX; d++) {
        if (!rec->name[d].ptr) continue;
        cell *c = cell_at(r, minute, (pt_dim)d, rec->name[d], team, steam);
        if (c) r->run.cells[n++] = c;
    }
    cell *all = r->pending < PT_ROLLUP_PENDING_MAX ? cell_at(r, minute, PT_DIM_ALL, PT_SLICE_LIT(""), team, steam) : NULL;
    if (all) r->run.cells[n++] = all;
    for (size_t i = 0; i < n; i++) fig_add(&r->run.cells[i]->fig, rec, bucket); /* the run's first, as it is */
    r->run.open = true;
    r->run.minute = minute;
    r->run.ncells = n;
    r->run.n = 0;
    return r->pending + PT_NDIMS + 1 > PT_ROLLUP_PENDING_MAX;
}

static void bind_key(sqlite3_stmt *st, int step, const cell *c, int64_t start)
{
    sqlite3_bind_int(st, 1, step);
    sqlite3_bind_int(st, 2, (int)c->dim);
    sqlite3_bind_text(st, 3, c->key, (int)c->name_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, start);
    sqlite3_bind_text(st, 5, c->key + c->name_len, (int)c->team_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->key + c->name_len + c->team_len, (int)c->steam_len, SQLITE_STATIC);
}

/* Reads a row's figures from columns first.. of st into f (merged into what f holds). */
static void fig_read(sqlite3_stmt *st, int first, pt_rollup_fig *f)
{
    pt_rollup_fig row;
    pt_rollup_fig_init(&row);
    row.requests = (uint64_t)sqlite3_column_int64(st, first);
    row.err_4xx = (uint64_t)sqlite3_column_int64(st, first + 1);
    row.err_5xx = (uint64_t)sqlite3_column_int64(st, first + 2);
    row.rate_limited = (uint64_t)sqlite3_column_int64(st, first + 3);
    row.input_tokens = sqlite3_column_int64(st, first + 4);
    row.output_tokens = sqlite3_column_int64(st, first + 5);
    row.cost_micro_usd = sqlite3_column_int64(st, first + 6);
    const void *b = sqlite3_column_blob(st, first + 7);
    /* a blob that is not a sketch counts no latencies rather than wrong ones */
    if (b) pt_sketch_merge_encoded(&row.latency, b, (size_t)sqlite3_column_bytes(st, first + 7));
    pt_rollup_fig_merge(f, &row);
}

/* Merges cell c into its row of one step. */
static int merge_cell(pt_rollup *r, int step, const cell *c, pt_rollup_fig *sum, uint8_t *blob)
{
    int64_t start = floor_to(c->minute, pt_step_ms[step]);
    *sum = c->fig;
    bind_key(r->get, step, c, start);
    int rc = sqlite3_step(r->get);
    if (rc == SQLITE_ROW) fig_read(r->get, 0, sum);
    sqlite3_reset(r->get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
    sqlite3_stmt *st = r->put;
    bind_key(st, step, c, start);
    sqlite3_bind_int64(st, 7, (int64_t)sum->requests);
    sqlite3_bind_int64(st, 8, (int64_t)sum->err_4xx);
    sqlite3_bind_int64(st, 9, (int64_t)sum->err_5xx);
    sqlite3_bind_int64(st, 10, (int64_t)sum->rate_limited);
    sqlite3_bind_int64(st, 11, sum->input_tokens);
    sqlite3_bind_int64(st, 12, sum->output_tokens);
    sqlite3_bind_int64(st, 13, sum->cost_micro_usd);
    sqlite3_bind_blob(st, 14, blob, (int)pt_sketch_encode(&sum->latency, blob), SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int prune(pt_rollup *r, int64_t now_ms)
{
    int rc = SQLITE_OK;
    for (int s = 0; s < PT_NSTEPS && rc == SQLITE_OK; s++) {
        if (!r->retention_ms[s]) continue;
        sqlite3_bind_int(r->prune, 1, s);
        sqlite3_bind_int64(r->prune, 2, now_ms - (int64_t)r->retention_ms[s]);
        rc = sqlite3_step(r->prune) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(r->db);
        sqlite3_reset(r->prune);
    }
    return rc;
}

int pt_rollup_flush(pt_rollup *r, int64_t now_ms)
{
    bool due = !r->last_prune_ms || now_ms - r->last_prune_ms >= PRUNE_EVERY_MS || now_ms < r->last_prune_ms;
    run_end(r);
    if (!r->pending && !due) return SQLITE_OK;
    pt_rollup_fig *sum = malloc(sizeof *sum);
    uint8_t *blob = malloc(PT_SKETCH_ENCODED_MAX);
    int rc = sum && blob ? sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) : SQLITE_NOMEM;
    for (size_t i = 0; i < TABLE_SLOTS && rc == SQLITE_OK; i++)
        for (int s = 0; r->slot[i] && s < PT_NSTEPS && rc == SQLITE_OK; s++) rc = merge_cell(r, s, r->slot[i], sum, blob);
    if (rc == SQLITE_OK && due) rc = prune(r, now_ms);
    if (rc == SQLITE_OK) rc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == SQLITE_OK && due) r->last_prune_ms = now_ms;
    drop_pending(r);
    free(sum);
    free(blob);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Runs the select for q (name set: one name's buckets by start; else every name's rows by
 * name), calling group() at each change of the grouping column. */
static int64_t scan(sqlite3 *db, const pt_rollup_query *q, bool by_name,
                    int (*group)(void *arg, sqlite3_stmt *st, const pt_rollup_fig *fig), void *arg, char *why,
                    size_t cap)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s," FIG_COLS " FROM rollups WHERE step=?1 AND dim=?2 AND start_ms>?3 AND start_ms<?4%s%s"
             " ORDER BY %s",
             by_name ? "name" : "start_ms", q->name ? " AND name=?5" : "",
             q->visible_team ? " AND (team=?6 OR service_team=?6)" : "", by_name ? "name" : "start_ms");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "analytics: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int(st, 1, (int)q->step);
    sqlite3_bind_int(st, 2, (int)q->dim);
    sqlite3_bind_int64(st, 3, q->from_ms - pt_step_ms[q->step]); /* buckets overlapping [from, to) */
    sqlite3_bind_int64(st, 4, q->to_ms);
    if (q->name) sqlite3_bind_text(st, 5, q->name, -1, SQLITE_STATIC);
    if (q->visible_team) sqlite3_bind_text(st, 6, q->visible_team, -1, SQLITE_STATIC);
    pt_rollup_fig *fig = malloc(sizeof *fig);
    char *key = NULL;
    int64_t groups = 0;
    int rc = fig ? SQLITE_ROW : SQLITE_NOMEM, stop = 0;
    while (!stop && rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (key && strcmp(key, k ? k : "") != 0) {
            stop = group(arg, NULL, fig);
            groups++;
            free(key);
            key = NULL;
        }
        if (!key && !stop) {
            key = strdup(k ? k : "");
            pt_rollup_fig_init(fig);
            if (!key) rc = SQLITE_NOMEM;
            else stop = group(arg, st, NULL); /* a new group starts: the caller notes its key */
        }
        if (key) fig_read(st, 1, fig);
    }
    if (key && !stop && (rc == SQLITE_DONE || rc == SQLITE_ROW)) {
        group(arg, NULL, fig);
        groups++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(why, cap, "analytics: %s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
        groups = -1;
    }
    free(key);
    free(fig);
    sqlite3_finalize(st);
    return groups;
}

typedef struct series_ctx {
    pt_rollup_point_fn fn;
    pt_rollup_name_fn name_fn;
    void *arg;
    int64_t start;
    char name[1024];
} series_ctx;

/* st set: a group starts (note its key); fig set: the group is complete. */
static int on_group(void *arg, sqlite3_stmt *st, const pt_rollup_fig *fig)
{
    series_ctx *x = arg;
    if (st) {
        if (x->fn) x->start = sqlite3_column_int64(st, 0);
        else snprintf(x->name, sizeof x->name, "%s", (const char *)sqlite3_column_text(st, 0));
        return 0;
    }
    return x->fn ? x->fn(x->arg, x->start, fig) : x->name_fn(x->arg, x->name, fig);
}

int64_t pt_rollup_series(sqlite3 *db, const pt_rollup_query *q, pt_rollup_point_fn fn, void *arg, char *why, size_t cap)
{
    series_ctx x = { .fn = fn, .arg = arg };
    return scan(db, q, false, on_group, &x, why, cap);
}

int64_t pt_rollup_names(sqlite3 *db, const pt_rollup_query *q, pt_rollup_name_fn fn, void *arg, char *why, size_t cap)
{
    series_ctx x = { .name_fn = fn, .arg = arg };
    pt_rollup_query all = *q;
    all.name = NULL;
    return scan(db, &all, true, on_group, &x, why, cap);
}

static int add_total(void *arg, const char *name, const pt_rollup_fig *fig)
{
    (void)name;
    pt_rollup_fig_merge(arg, fig);
    return 0;
}

int pt_rollup_total(sqlite3 *db, const pt_rollup_query *q, pt_rollup_fig *out, char *why, size_t cap)
{
    pt_rollup_fig_init(out);
    pt_rollup_query all = *q;
    all.dim = PT_DIM_ALL;
    return pt_rollup_names(db, &all, add_total, out, why, cap) < 0 ? -1 : 0;
}
