/* calls_db.h: the call log's SQLite file: its schema (once, for the writer and the
 * readers), opening it, and the one query the admin API runs over it.
 *
 * The table `calls` has one row per call; `id` grows with insertion. Indexes serve the
 * queries that matter: a time range alone (calls_time), or one consumer, team, service,
 * model, request id or trace id within a time range. Every other filter narrows what one of these
 * finds. */
#ifndef PT_LOGS_CALLS_DB_H
#define PT_LOGS_CALLS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* The insert statement, its parameters in the order calllog.c binds them. */
extern const char *const pt_calls_insert_sql;

/* Opens path (the writer creates it, its directory and schema; a reader opens it
 * read-only and fails when it does not exist yet). WAL, synchronous=NORMAL: a crash may
 * lose the last batches, never corrupt the file. 0, or -1 with a sentence in why. */
int pt_calls_db_open(const char *path, bool readonly, sqlite3 **out, char *why, size_t cap);

/* A query's filters. NULL strings and 0 numbers do not filter. */
typedef struct pt_calls_filter {
    int64_t from_ms, to_ms;           /* time_ms >= from, < to */
    const char *team, *consumer, *service, *api, *model, *request_id;
    const char *trace_id;
    int status_lo, status_hi;         /* status in [lo, hi]; 0 none */
    const char *visible_team;         /* non-admins: only rows whose team or service_team is this */
    bool has_cursor;
    int64_t cursor_time_ms, cursor_id; /* rows strictly older than this one (newest first) */
    unsigned limit;
} pt_calls_filter;

/* Column names in the order rows are handed out (pt_calls_row.v). */
#define PT_CALLS_NCOLS 26
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
