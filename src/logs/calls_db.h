/* calls_db.h: the call log's SQLite file: its layout (once, for the writer and the
 * readers), opening it, and the one query the admin API runs over it.
 *
 * Records are stored in chunks: up to PT_CALLS_CHUNK_RECORDS records (fewer when they are
 * large: a chunk ends past PT_CALLS_CHUNK_BYTES, so a reader never decodes much to show a
 * few records with their bodies), encoded one after
 * another in one blob (table `chunk_recs`), with a small row of their id and time range
 * (`chunks`) and a filter of the keys they hold (`chunk_keys`: a Bloom filter over their
 * request ids, trace ids and named columns), each row keyed by the chunk's first id. A
 * record's `id` grows with the order records are written: at least its time_ms <<
 * PT_CALLS_SEQ_BITS, else one more than the last id; so ids grow with time but for a call
 * written after later ones (a stream outlasting a batch), which is listed where it was
 * written and keeps its own time. Names that repeat are kept once, in `names` (see
 * PT_CALLS_COLUMNS).
 *
 * Readers see the records as one table, `calls`: an eponymous virtual table over the chunks
 * (calls_chunk.c), with the columns of PT_CALLS_COLUMNS (a name as its integer id,
 * <name>_id) and rid_hash, in id order either way. It skips whole chunks outside an id or
 * time range and chunks whose filter lacks a key asked for with `=` (a consumer, a request
 * id, a trace id, a team, service, API or model), and compares the rest record by record.
 * One SQL insert per chunk instead of one per record and no per-record index are what make
 * the writer cheap. */
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

/* The columns after id as SQL definitions (a name as its integer id), and rid_hash: the
 * virtual table `calls` declares them, and layout 5's table had them. */
#define PT__CALLS_DEF(name, type) "," #name " " type
#define PT__CALLS_DEF_N(name) "," #name "_id INTEGER"
#define PT_CALLS_COLUMN_DEFS PT_CALLS_COLUMNS(PT__CALLS_DEF, PT__CALLS_DEF_N) ",rid_hash INTEGER"

/* Runs a prepared statement that returns no rows and resets it: SQLITE_OK or SQLite's code. */
int pt_calls_run(sqlite3_stmt *st);

/* Layouts 3 to 5 had one row per record in a table `calls` (this one, without its indexes):
 * a file of layout 2 is copied into it first, then every such file's rows go into chunks
 * (tests and benchmarks make files of layout 5 with it). */
extern const char pt_calls_table_v5_sql[];

/* The request id's 32-bit hash that readers compare first (the column rid_hash); a text's
 * 64-bit one (the chunks' filters, the writer's cache of names) is core/hash.h's. */
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

/* Each column's index: PT_CALLS_COL_id, PT_CALLS_COL_time_ms, PT_CALLS_COL_team (a name's
 * id), ... */
#define PT__CALLS_ENUM(name, type) PT_CALLS_COL_##name,
#define PT__CALLS_ENUM_NAME(name) PT_CALLS_COL_##name,
enum { PT_CALLS_COL_id, PT_CALLS_COLUMNS(PT__CALLS_ENUM, PT__CALLS_ENUM_NAME) PT_CALLS_COL_rid_hash };

/* One row: for each column, whether it is NULL, its text, or its integer. */
typedef struct pt_calls_row {
    int64_t id, time_ms;
    sqlite3_stmt *st;                 /* column i of the row is column i of st */
} pt_calls_row;

/* ---- chunks (calls_chunk.c) ---- */

#define PT_CALLS_CHUNK_RECORDS 500    /* records per chunk, at most */
#define PT_CALLS_CHUNK_BYTES (256 * 1024) /* a chunk takes no record more past this many bytes */

/* A column's value: NULL, an integer (a name as its id), or a text of n bytes; col says
 * which column when the writer hands a record over (the reader's are by index). 16 bytes:
 * a record's are written and read for every record. */
enum { PT_CALLS_NULL, PT_CALLS_INT, PT_CALLS_TEXT };
typedef struct pt_calls_val {
    union {
        int64_t i;               /* PT_CALLS_INT */
        const char *s;           /* PT_CALLS_TEXT */
    };
    uint32_t n;                  /* PT_CALLS_TEXT: its bytes */
    uint16_t type;
    uint16_t col;                /* PT_CALLS_COL_... */
} pt_calls_val;

/* What a column holds when it is not NULL: PT_CALLS_INT (a name's id too) or PT_CALLS_TEXT. */
int pt_calls_col_kind(int col);

/* A chunk being filled: its records encoded, their id and time range, their keys. It is
 * used from pt_calls_chunk_reset on. */
typedef struct pt_calls_chunk {
    uint8_t *buf;
    size_t len, cap;
    int64_t first_id, last_id, min_ms, max_ms;
    uint32_t n;
    uint64_t *keys;
    size_t nkeys, kcap;
    int64_t last_name[8];             /* each name column's last id (a filtered one's key added once per run) */
} pt_calls_chunk;

/* Adds a record of n columns, in column order, each naming its column (col): v[0] its
 * id (PT_CALLS_COL_id, larger than the chunk's last), v[1] its time, then any others (a
 * name as its integer id); a column left out, or of type PT_CALLS_NULL, is NULL. 0, or -1
 * when out of memory or the columns are not in order (the record is not added). */
int pt_calls_chunk_add(pt_calls_chunk *c, const pt_calls_val *v, int n);
/* Whether the chunk takes no more records (it is written then). */
static inline bool pt_calls_chunk_full(const pt_calls_chunk *c)
{
    return c->n >= PT_CALLS_CHUNK_RECORDS || c->len >= PT_CALLS_CHUNK_BYTES;
}
/* The chunk's three inserts, prepared by the writer from pt_calls_chunk_sql, in order. */
extern const char *const pt_calls_chunk_sql[3];
/* Stores the chunk (when it holds records) with the three prepared inserts and empties it
 * for the next: SQLITE_OK or SQLite's error. */
int pt_calls_chunk_write(sqlite3_stmt *const ins[3], pt_calls_chunk *c);
/* Empties the chunk (its records are dropped). */
void pt_calls_chunk_reset(pt_calls_chunk *c);
void pt_calls_chunk_free(pt_calls_chunk *c);
/* Converting a file of layouts 2 to 5 (its rows, a table calls_v5 after pt_calls_db_open)
 * into chunks, newest first, in steps the writer takes between batches (so a large file
 * delays no start). new: NULL when there is nothing to convert (or, *rc set, on an error).
 * max_id: the largest id left (cheap). left: the rows left (a count of the table: the
 * writer's thread asks, not the start). step, in the caller's transaction:
 * up to `rows` of the newest rows left written as chunks and deleted; *done of them, the
 * smallest id *lowest_id; when fewer than `rows` were left (*done < rows) the old table
 * is dropped, and the conversion is over. prune,
 * in the caller's transaction: up to `rows` of the oldest rows left with ids before
 * before_id deleted unconverted (retention), *deleted of them. SQLite's code. */
typedef struct pt_calls_convert pt_calls_convert;
pt_calls_convert *pt_calls_convert_new(sqlite3 *db, int *rc);
int64_t pt_calls_convert_max_id(pt_calls_convert *cv);
int64_t pt_calls_convert_left(pt_calls_convert *cv);
int pt_calls_convert_prune(pt_calls_convert *cv, int64_t before_id, int rows, int64_t *deleted);
int pt_calls_convert_step(pt_calls_convert *cv, int rows, int64_t *done, int64_t *lowest_id);
void pt_calls_convert_free(pt_calls_convert *cv);

/* Chunks whose records the table has read, in this process (tests: what a filter skipped). */
extern _Atomic uint64_t pt__calls_chunks_read;

/* Registers the virtual table `calls` on a connection (pt_calls_db_open does). */
int pt_calls_vtab_register(sqlite3 *db);

typedef int (*pt_calls_row_fn)(void *arg, const pt_calls_row *row);

/* Runs the query newest first, calling fn per row until it returns non-zero or limit rows
 * went. Returns the rows seen, or -1 with a sentence in why. */
int64_t pt_calls_query(sqlite3 *db, const pt_calls_filter *f, pt_calls_row_fn fn, void *arg, char *why, size_t cap);

/* Cursors are opaque to clients (32 hex digits: the last row's time and id). */
void pt_calls_cursor_write(int64_t time_ms, int64_t id, char *out, size_t cap);
bool pt_calls_cursor_read(const char *s, int64_t *time_ms, int64_t *id);

#endif
