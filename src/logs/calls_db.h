/* calls_db.h: the call log's SQLite file: its schema (once, for the writer and the
 * readers), opening it, and the one query the admin API runs over it.
 *
 * The table `calls` has one row per call. Its `id` is its time: time_ms << PT_CALLS_SEQ_BITS
 * plus a sequence number within the millisecond, so the table itself is in time order and a
 * time range is a range of ids, with no index of its own. Small indexes serve the lookups
 * that must stay fast on a large log: one consumer (calls_consumer, on its name's integer
 * id; an index carries the row id, so it is a consumer's calls in time order), one request
 * id (calls_request, on an integer hash of it) and one trace id (calls_trace). Every other
 * filter narrows the rows of the time range, newest first, until a page is full. Names
 * that repeat are kept once, in `names` (see PT_CALLS_COLUMNS). */
#ifndef PT_LOGS_CALLS_DB_H
#define PT_LOGS_CALLS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* The columns after id, in the order rows hand them out and the writer binds them, with
 * their SQL types (X); N marks the names that repeat from call to call (team, consumer,
 * key prefix, service, API, model, provider): each is stored as an integer id into the
 * table `names` (column <name>_id) and read back as its text. A new column is one more line
 * here (and its member in calllog.c's packing); the table, the insert, the select and
 * pt_calls_columns follow from it. */
#define PT_CALLS_COLUMNS(X, N)                                                                                 \
    X(time_ms, "INTEGER NOT NULL") X(request_id, "TEXT") N(team) N(consumer) N(key_prefix) N(service)        \
    N(service_team) N(api) N(model) N(provider) X(error, "TEXT") X(method, "TEXT") X(path, "TEXT")          \
    X(status, "INTEGER") X(total_us, "INTEGER") X(upstream_us, "INTEGER") X(ttfb_us, "INTEGER")             \
    X(bytes_in, "INTEGER") X(bytes_out, "INTEGER") X(input_tokens, "INTEGER") X(output_tokens, "INTEGER")   \
    X(cached_tokens, "INTEGER") X(cost_micro_usd, "INTEGER") X(client, "TEXT") X(trace_id, "TEXT")         \
    X(masked, "TEXT") X(request_body, "TEXT") X(response_body, "TEXT") X(operation, "TEXT")                \
    X(cache, "TEXT") X(cost_saved_micro_usd, "INTEGER") X(arguments_shape, "TEXT") X(arguments, "TEXT")

/* Sequence bits under the millisecond in an id: 4096 calls per millisecond before an id
 * spills into the next millisecond (queries allow for that, see pt_calls_query). */
#define PT_CALLS_SEQ_BITS 12
#define PT_CALLS_ID(time_ms) ((int64_t)(time_ms) << PT_CALLS_SEQ_BITS)

/* The insert statement: id, then the columns above in order (a name as its id); and the
 * request id's hash that the writer binds last (rid_hash, the key of calls_request). */
extern const char *const pt_calls_insert_sql;
int64_t pt_calls_rid_hash(const char *s, size_t n);
/* A name's id in `names`, added when missing (inside the writer's transaction) with
 * last_ms = at_ms: > 0, or -1 on a SQLite error; *last_ms is the row's last_ms. find and
 * add are the writer's prepared statements of pt_calls_name_find_sql and
 * pt_calls_name_add_sql.
 *
 * A name's last_ms is within PT_CALLS_NAME_TOUCH_MS of the newest id's millisecond of
 * the rows naming it (the writer moves it on when a row passes that): a name whose last_ms
 * is more than that before the oldest row's id names no row, and is pruned. */
#define PT_CALLS_NAME_TOUCH_MS 3600000
extern const char *const pt_calls_name_find_sql, *const pt_calls_name_add_sql;
int64_t pt_calls_name_id(sqlite3 *db, sqlite3_stmt *find, sqlite3_stmt *add, const char *s, size_t n, int64_t at_ms,
                         int64_t *last_ms);

/* Opens path (the writer creates it, its directory and schema; a reader opens it
 * read-only and fails when it does not exist yet). WAL, synchronous=NORMAL: a crash may
 * lose the last batches, never corrupt the file. 0, or -1 with a sentence in why. */
int pt_calls_db_open(const char *path, bool readonly, sqlite3 **out, char *why, size_t cap);

/* A query's filters. NULL strings and 0 numbers do not filter. */
typedef struct pt_calls_filter {
    int64_t from_ms, to_ms;           /* time_ms >= from, < to */
    const char *team, *consumer, *service, *api, *model, *request_id;
    const char *trace_id;
    const char *operation;
    int status_lo, status_hi;         /* status in [lo, hi]; 0 none */
    const char *visible_team;         /* non-admins: only rows whose team or service_team is this */
    bool has_cursor;
    int64_t cursor_time_ms, cursor_id; /* rows before this one's id (newest first) */
    unsigned limit;
} pt_calls_filter;

/* Column names in the order rows are handed out: id, then PT_CALLS_COLUMNS. */
#define PT__CALLS_COUNT(name, type) +1
#define PT__CALLS_COUNT_NAME(name) +1
#define PT_CALLS_NCOLS (1 PT_CALLS_COLUMNS(PT__CALLS_COUNT, PT__CALLS_COUNT_NAME))
extern const char *const pt_calls_columns[PT_CALLS_NCOLS];

/* One row: for each column, whether it is NULL, its text, or its integer. */
typedef struct pt_calls_row {
    int64_t id, time_ms;
    sqlite3_stmt *st;                 /* column i of the row is column i of st */
} pt_calls_row;

typedef int (*pt_calls_row_fn)(void *arg, const pt_calls_row *row);

/* Runs the query newest first, calling fn per row until it returns non-zero or limit rows
 * went. Returns the rows seen, or -1 with a sentence in why. */
int64_t pt_calls_query(sqlite3 *db, const pt_calls_filter *f, pt_calls_row_fn fn, void *arg, char *why, size_t cap);

/* Cursors are opaque to clients (32 hex digits: the last row's time and id). */
void pt_calls_cursor_write(int64_t time_ms, int64_t id, char *out, size_t cap);
bool pt_calls_cursor_read(const char *s, int64_t *time_ms, int64_t *id);

#endif
