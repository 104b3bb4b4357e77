/* rollup.h: analytics rollups: per minute, hour and day, for each service, API, consumer,
 * team, model and provider, the requests, errors by class, tokens, cost and a latency
 * sketch (analytics/sketch.h), kept in the table `rollups` of the call log's file.
 *
 * The writer side (pt_rollup) belongs to the call log's writer thread: it adds each record
 * it committed to cells of the record's minute held in memory, and flushes them every
 * PT_ROLLUP_FLUSH_MS (or when PT_ROLLUP_PENDING_MAX cells wait) by merging each cell into its minute's,
 * hour's and day's rows; nothing runs on a worker. Each step keeps its rows for its own
 * retention, pruned with the flushes. Days are UTC days.
 *
 * A row is keyed by (step, dimension, name, bucket start, team, service_team): the caller's
 * team and the called service's team, as in the call log, so a team sees exactly the rows
 * of the calls it may see there. The reader side (pt_rollup_series, pt_rollup_top) merges
 * the rows it is allowed into one answer. */
#ifndef PT_ANALYTICS_ROLLUP_H
#define PT_ANALYTICS_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "analytics/sketch.h"
#include "core/slice.h"

typedef enum { PT_DIM_SERVICE, PT_DIM_API, PT_DIM_CONSUMER, PT_DIM_TEAM, PT_DIM_MODEL, PT_DIM_PROVIDER, PT_NDIMS } pt_dim;
typedef enum { PT_STEP_MINUTE, PT_STEP_HOUR, PT_STEP_DAY, PT_NSTEPS } pt_step;

extern const char *const pt_dim_names[PT_NDIMS];   /* "service", "api", ... */
/* Every call is also counted under this dimension, name "", whatever names it carries (a
 * call no route took has no service): the exact totals of a range (pt_rollup_total). No
 * `by` names it. */
#define PT_DIM_ALL ((pt_dim)PT_NDIMS)
extern const char *const pt_step_names[PT_NSTEPS]; /* "minute", "hour", "day" */
extern const int64_t pt_step_ms[PT_NSTEPS];

#define PT_ROLLUP_PENDING_MAX 4096
/* A flush costs a read and a write per cell and step, however many records the cells hold:
 * 5 s keeps it small beside the records at a high rate, and the figures fresh enough. */
#define PT_ROLLUP_FLUSH_MS 5000

/* The rollups' table and index (created by the writer with the call log's schema). */
extern const char pt_rollups_schema[];

/* What a rollup takes from one call record. Slices with ptr == NULL are absent. */
typedef struct pt_rollup_rec {
    int64_t time_ms;
    pt_slice name[PT_NDIMS];
    pt_slice team, service_team;
    int status;
    uint64_t total_us;
    int64_t input_tokens, output_tokens, cost_micro_usd; /* < 0: unknown */
    bool same_names;             /* names, team and service_team as the record added before it */
} pt_rollup_rec;

/* One bucket's figures (a row, or rows merged). */
typedef struct pt_rollup_fig {
    uint64_t requests, err_4xx, err_5xx, rate_limited; /* 4xx counts no 429; 5xx counts status 0 too */
    int64_t input_tokens, output_tokens, cost_micro_usd;
    pt_sketch latency;                                  /* total_us of each call */
} pt_rollup_fig;

void pt_rollup_fig_init(pt_rollup_fig *f);
void pt_rollup_fig_merge(pt_rollup_fig *dst, const pt_rollup_fig *src);
uint64_t pt_rollup_fig_errors(const pt_rollup_fig *f);

typedef struct pt_rollup pt_rollup;

/* Prepares the writer's statements on db (its schema already made). retention_ms[step]: 0
 * keeps that step's rows. NULL with a sentence in why. */
pt_rollup *pt_rollup_new(sqlite3 *db, const uint64_t retention_ms[PT_NSTEPS], char *why, size_t cap);
void pt_rollup_free(pt_rollup *r);

/* Adds one record; returns true when the pending cells are full (flush now). Records
 * marked same_names after it, in its minute, are added up apart and merged into its cells
 * together (at the first that is not, or at the flush). */
bool pt_rollup_add(pt_rollup *r, const pt_rollup_rec *rec);

/* Merges the pending cells into their rows in one transaction, then prunes rows older than
 * each step's retention at now_ms. SQLITE_OK, or the error (the pending cells are lost). */
int pt_rollup_flush(pt_rollup *r, int64_t now_ms);

/* ---- reading (any connection to the file) ------------------------------------------------ */

/* A query: one step and dimension, buckets overlapping [from_ms, to_ms); visible_team, when
 * not NULL, keeps the rows whose team or service_team is it. */
typedef struct pt_rollup_query {
    pt_step step;
    pt_dim dim;
    const char *name;            /* series: the one name; top: NULL */
    int64_t from_ms, to_ms;
    const char *visible_team;
} pt_rollup_query;

/* Calls fn for each bucket of q.name, oldest first, with its merged figures. Returns the
 * buckets, or -1 with a sentence in why. */
typedef int (*pt_rollup_point_fn)(void *arg, int64_t start_ms, const pt_rollup_fig *fig);
int64_t pt_rollup_series(sqlite3 *db, const pt_rollup_query *q, pt_rollup_point_fn fn, void *arg, char *why, size_t cap);

/* Calls fn for each name of q.dim with its figures merged over the range, in name order. */
typedef int (*pt_rollup_name_fn)(void *arg, const char *name, const pt_rollup_fig *fig);
int64_t pt_rollup_names(sqlite3 *db, const pt_rollup_query *q, pt_rollup_name_fn fn, void *arg, char *why, size_t cap);

/* Every call of the range that q's team may see, merged into *out (q.dim and q.name are not
 * used). 0, or -1 with a sentence in why. Rows written before PT_DIM_ALL existed count
 * nothing here. */
int pt_rollup_total(sqlite3 *db, const pt_rollup_query *q, pt_rollup_fig *out, char *why, size_t cap);

#endif
