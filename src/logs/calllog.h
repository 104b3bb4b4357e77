/* calllog.h: the call log: one record per finished call (REST and AI), stored by a writer
 * thread in batches in its own SQLite file (data_dir/calls.db), never in the control-plane
 * store, so logging never blocks a worker and never slows an admin write.
 *
 * Workers pack a record into a bounded queue (core/spool.h); when it is full the record is
 * dropped and counted, with a warning at most every 10 s. The writer inserts each batch in
 * one transaction with a prepared statement and, between batches, prunes by age and by
 * size in bounded steps (at most PT_CALLLOG_PRUNE_STEP rows per DELETE), and adds every
 * record it committed to the analytics rollups (analytics/rollup.h). A write error (a
 * full disk) loses that batch, counted and logged; traffic is never held up.
 *
 * Strings are cut at PT_CALLLOG_STR_MAX bytes (the path at PT_CALLLOG_PATH_MAX, the
 * masking counts at PT_CALLLOG_MASKED_MAX, bodies at PT_CALLLOG_BODY_MAX). Nothing here
 * sees a key or a secret: the caller passes the key's public prefix only, and bodies
 * only when a route keeps them, already redacted (gateway/mask_gate.h). */
#ifndef PT_LOGS_CALLLOG_H
#define PT_LOGS_CALLLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "analytics/rollup.h"
#include "core/slice.h"

#define PT_CALLLOG_STR_MAX 256
#define PT_CALLLOG_PATH_MAX 2048
#define PT_CALLLOG_PRUNE_STEP 2000
#define PT_CALLLOG_MASKED_MAX 1024      /* longer counts are not stored (cut JSON is no JSON) */
#define PT_CALLLOG_BODY_MAX (16 * 1024)  /* also a tool call's arguments (longer: not stored) */
#define PT_CALLLOG_SHAPE_MAX 2048       /* a tool call's argument shape (longer: not stored) */

/* What an AI call adds to its record; the AI route fills one and points
 * pt_req_info.call_ai at it. Tokens unknown to the provider are 0. */
typedef struct pt_call_ai {
    const char *provider, *model;   /* the provider's name and the model it was asked for */
    int64_t input_tokens, output_tokens, cached_tokens;
    uint64_t cost_micro_usd;
    bool cost_known;
    uint64_t ttft_us;               /* time to the first token from the call's start, 0 unknown */
    const char *cache;              /* the response cache: "hit", "miss", "refresh"; NULL when not asked */
    uint64_t saved_micro_usd;       /* a hit: what the answer cost when it was made */
    bool saved_known;               /* a hit whose first answer had a price */
} pt_call_ai;

/* One finished call. Everything is borrowed for the duration of pt_calllog_write(); NULL
 * strings and slices with ptr == NULL are stored as NULL. */
typedef struct pt_call_record {
    int64_t time_ms;                /* Unix milliseconds when the call finished */
    const char *request_id;
    const char *team, *consumer, *key_prefix; /* the caller on a keyed route */
    const char *service;            /* the service called */
    const char *service_team;       /* the team owning it, when known (admin visibility) */
    const char *api;                /* the route (a stored API's route is "service/api") */
    pt_slice method, path, client;
    int status;
    const char *error;              /* the outcome's log name, NULL when the call succeeded */
    uint64_t total_us, upstream_us, ttfb_us; /* upstream_us and ttfb_us: 0 when none */
    uint64_t bytes_in, bytes_out;
    const pt_call_ai *ai;           /* NULL for a call that is not an AI call */
    const char *trace_id;           /* W3C trace id (32 hex digits), NULL when not traced */
    const char *masked;             /* values masked per rule, JSON {"rule":n}, NULL when none */
    pt_slice request_body, response_body; /* redacted and capped bodies, ptr NULL when not kept */
    const char *operation;          /* pt_req_info.operation: an MCP tool call's tool, NULL when none */
    const char *arguments_shape;    /* a tool call's arguments' keys and types (mcp/argshape.h), NULL when
                                     * not a tool call */
    const char *arguments;          /* its arguments as JSON, masked; NULL unless mcp.record_arguments */
} pt_call_record;

typedef struct pt_calllog pt_calllog;

typedef struct pt_calllog_opts {
    const char *path;               /* the SQLite file, created 0640 with its directory */
    uint64_t retention_ms;          /* older records are pruned; 0 keeps them */
    uint64_t max_bytes;             /* the database's pages in use are kept under this; 0 no cap */
    size_t queue_bytes;             /* queue cap; 0 means 8 MiB */
    unsigned flush_ms;              /* the writer wakes at least this often; 0 means 200 */
    size_t flush_bytes;             /* this much queued wakes it at once; 0: 256 KiB or half the queue */
    int64_t (*now_ms)(void);        /* wall clock for pruning; NULL is the real one (tests inject) */
    uint64_t rollup_retention_ms[PT_NSTEPS]; /* each step's rollups are kept this long; 0 forever */
    bool no_rollups;                /* records only (a benchmark filling a table with old records) */
    unsigned convert_steps;         /* an earlier layout's conversion steps per wake-up at most (tests);
                                     * 0: as many as 100 ms allow while no batch waits */
} pt_calllog_opts;

typedef struct pt_calllog_stats {
    uint64_t written, dropped, pruned, write_errors, disk_full;
    uint64_t names_pruned;          /* names deleted from `names`: no record names them any more */
    uint64_t queued;                /* records waiting for the writer */
    uint64_t to_convert;            /* records of an earlier layout not yet converted (calls_db.h) */
} pt_calllog_stats;

/* Opens (creating) the database and starts the writer. NULL with a sentence in why. */
pt_calllog *pt_calllog_open(const pt_calllog_opts *o, char *why, size_t cap);

/* Packs r and queues it. Thread-safe, never blocks on I/O. Returns false when it was
 * dropped (queue full; counted). */
bool pt_calllog_write(pt_calllog *l, const pt_call_record *r);

/* Waits until every record queued before the call is committed (or counted lost). */
void pt_calllog_sync(pt_calllog *l);

/* Waits like pt_calllog_sync(), then merges the pending rollups into their rows now (the
 * writer does it every PT_ROLLUP_FLUSH_MS by itself). */
void pt_calllog_flush_rollups(pt_calllog *l);

/* Runs pruning steps now until nothing is left to prune, names included (tests, the
 * benchmark). */
void pt_calllog_prune_all(pt_calllog *l);

void pt_calllog_stats_get(pt_calllog *l, pt_calllog_stats *out);

/* The bytes of database pages in use (page_count - freelist_count) * page_size, as the
 * writer last measured them. */
uint64_t pt_calllog_used_bytes(pt_calllog *l);

/* Commits what is queued, stops the writer, closes the file. NULL is allowed. */
void pt_calllog_close(pt_calllog *l);

/* Internal, for tests: fails writes as a full disk would once the file has max_pages. */
void pt__calllog_set_max_pages(pt_calllog *l, int64_t max_pages);

/* Unix milliseconds now (the wall clock records are stamped with). */
int64_t pt_calllog_now_ms(void);

#endif
