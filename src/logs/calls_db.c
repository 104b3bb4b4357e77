/* calls_db.c: the call log's schema, opening its file, and the query (see calls_db.h).
 * SQL is built only from the constant fragments below; every value is a bound parameter. */
#include "logs/calls_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/rollup.h"
#include "core/hash.h"
#include "core/log.h"
#include "logs/calls_vfs.h"

#define BUSY_TIMEOUT_MS 2000
#define STR_(x) #x
#define STR(x) STR_(x)

#define NAME(name, type) #name,
#define NAME_N(name) #name,
#define INSERT_NAME(name, type) "," #name
#define INSERT_NAME_N(name) "," #name "_id"
#define SELECT_NAME(name, type) ",c." #name
#define SELECT_NAME_N(name) ",(SELECT name FROM names WHERE id=c." #name "_id)"
/* Copying a row of layout 2 (see migrate()). */
#define COPY(name, type) ",o." #name
#define COPY_N(name) ",(SELECT id FROM names WHERE name=o." #name ")"
#define OLD_NAMES(name, type)
#define OLD_NAMES_N(name) " UNION SELECT " #name " FROM calls_v2 WHERE " #name " IS NOT NULL"

const char *const pt_calls_columns[PT_CALLS_NCOLS] = { "id", PT_CALLS_COLUMNS(NAME, NAME_N) };

#define SELECT_COLS "c.id" PT_CALLS_COLUMNS(SELECT_NAME, SELECT_NAME_N)
#define INSERT_COLS "id" PT_CALLS_COLUMNS(INSERT_NAME, INSERT_NAME_N) ",rid_hash"
#define OLD_COLS "id" PT_CALLS_COLUMNS(INSERT_NAME, INSERT_NAME_N)

const char *const pt_calls_name_find_sql = "SELECT id, last_ms FROM names WHERE name = ?1";
const char *const pt_calls_name_add_sql = "INSERT INTO names(name, last_ms) VALUES(?1, ?2)";

/* user_version of the current layout; an older file's records are converted, or replaced
 * when they cannot be (see migrate()). */
#define LAYOUT_VERSION 6

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, min_ms INTEGER NOT NULL,"
    " max_ms INTEGER NOT NULL, n INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS chunk_keys(id INTEGER PRIMARY KEY, keys BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS chunk_recs(id INTEGER PRIMARY KEY, recs BLOB NOT NULL);";

const char pt_calls_table_v5_sql[] =
    "CREATE TABLE calls(id INTEGER PRIMARY KEY" PT_CALLS_COLUMN_DEFS ");";

/* Layout 2 kept names as text in each row: its rows are copied into layout 3, once. */
static const char convert_v2[] =
    "ALTER TABLE calls RENAME TO calls_v2;"
    "DROP INDEX IF EXISTS calls_consumer; DROP INDEX IF EXISTS calls_request; DROP INDEX IF EXISTS calls_trace;";
static const char copy_v2[] =
    "INSERT OR IGNORE INTO names(name) SELECT NULL WHERE 0" PT_CALLS_COLUMNS(OLD_NAMES, OLD_NAMES_N) ";"
    "INSERT INTO calls(" INSERT_COLS ") SELECT o.id" PT_CALLS_COLUMNS(COPY, COPY_N) ",o.rid_hash FROM calls_v2 o;"
    "DROP TABLE calls_v2;";

/* Columns layouts 2 to 4 gained after their first release, for files created before
 * them: added when missing ("duplicate column" is the answer when they are there already),
 * so that a file of layout 2 can be copied and one of layout 3 to 5 converted. */
static const char *const added_columns[] = {
    "ALTER TABLE calls ADD COLUMN trace_id TEXT",
    "ALTER TABLE calls ADD COLUMN masked TEXT",
    "ALTER TABLE calls ADD COLUMN request_body TEXT",
    "ALTER TABLE calls ADD COLUMN response_body TEXT",
    "ALTER TABLE calls ADD COLUMN operation TEXT",
    "ALTER TABLE calls ADD COLUMN cache TEXT",
    "ALTER TABLE calls ADD COLUMN cost_saved_micro_usd INTEGER",
    "ALTER TABLE calls ADD COLUMN arguments_shape TEXT",
    "ALTER TABLE calls ADD COLUMN arguments TEXT",
};

static int add_column(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    bool dup = rc != SQLITE_OK && msg && strstr(msg, "duplicate column");
    sqlite3_free(msg);
    return dup ? SQLITE_OK : rc;
}

static int add_columns(sqlite3 *db)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof added_columns / sizeof *added_columns; i++)
        rc = add_column(db, added_columns[i]);
    return rc;
}

/* The names of a file from before layout 4 get, as their last use, the newest id's
 * millisecond: no row of the file is newer. */
static const char names_last_ms[] =
    "UPDATE names SET last_ms = (SELECT coalesce(max(id), 0) >> " STR(PT_CALLS_SEQ_BITS) " FROM calls) "
    "WHERE last_ms IS NULL";

int64_t pt_calls_name_id(sqlite3 *db, sqlite3_stmt *find, sqlite3_stmt *add, const char *s, size_t n, int64_t at_ms,
                         int64_t *last_ms)
{
    sqlite3_bind_text(find, 1, s, (int)n, SQLITE_STATIC);
    int rc = sqlite3_step(find);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(find, 0) : -1;
    *last_ms = rc == SQLITE_ROW ? sqlite3_column_int64(find, 1) : at_ms;
    sqlite3_reset(find);
    if (rc != SQLITE_DONE) return id;
    sqlite3_bind_int64(add, 2, at_ms);
    sqlite3_bind_text(add, 1, s, (int)n, SQLITE_STATIC);
    rc = sqlite3_step(add);
    sqlite3_reset(add);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(db) : -1;
}

int64_t pt_calls_rid_hash(const char *s, size_t n) { return (int32_t)(pt_hash_bytes(s, n) >> 32); }

/* The file is created 0640 in a directory made 0700, before SQLite opens it. */
static int create_file(const char *path, char *why, size_t cap)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(why, cap, "call log: cannot create %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(why, cap, "call log: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static int64_t user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static bool has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    bool had = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        had = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    return had;
}

int pt_calls_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- converting the rows of an earlier layout, in steps ---- */

struct pt_calls_convert {
    sqlite3 *db;
    sqlite3_stmt *ins[3], *sel, *del, *prune;
    pt_calls_chunk chunk;
};

void pt_calls_convert_free(pt_calls_convert *cv)
{
    if (!cv) return;
    sqlite3_stmt *st[] = { cv->ins[0], cv->ins[1], cv->ins[2], cv->sel, cv->del, cv->prune };
    for (size_t i = 0; i < sizeof st / sizeof *st; i++) sqlite3_finalize(st[i]);
    pt_calls_chunk_free(&cv->chunk);
    free(cv);
}

/* The newest `?1` rows left: from the id of the ?1-th newest (all of them when fewer). */
#define NEWEST_LEFT "id >= coalesce((SELECT id FROM calls_v5 ORDER BY id DESC LIMIT 1 OFFSET ?1 - 1), -9223372036854775807 - 1)"

pt_calls_convert *pt_calls_convert_new(sqlite3 *db, int *rc)
{
    *rc = SQLITE_OK;
    if (!has_table(db, "calls_v5")) return NULL;
    pt_calls_convert *cv = calloc(1, sizeof *cv);
    if (!cv) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    cv->db = db;
    pt_calls_chunk_reset(&cv->chunk);
    for (int i = 0; *rc == SQLITE_OK && i < 3; i++)
        *rc = sqlite3_prepare_v3(db, pt_calls_chunk_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &cv->ins[i], NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_prepare_v3(db, "SELECT " OLD_COLS " FROM calls_v5 WHERE " NEWEST_LEFT " ORDER BY id", -1,
                                 SQLITE_PREPARE_PERSISTENT, &cv->sel, NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_prepare_v3(db, "DELETE FROM calls_v5 WHERE " NEWEST_LEFT, -1, SQLITE_PREPARE_PERSISTENT, &cv->del, NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_prepare_v3(db, "DELETE FROM calls_v5 WHERE id IN (SELECT id FROM calls_v5 WHERE id < ?1 ORDER BY id LIMIT ?2)",
                                 -1, SQLITE_PREPARE_PERSISTENT, &cv->prune, NULL);
    if (*rc != SQLITE_OK) {
        pt_calls_convert_free(cv);
        return NULL;
    }
    return cv;
}

/* The first column of sql's one row, 0 when none. */
static int64_t first_value(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int64_t pt_calls_convert_max_id(pt_calls_convert *cv) { return first_value(cv->db, "SELECT max(id) FROM calls_v5"); }

int64_t pt_calls_convert_left(pt_calls_convert *cv) { return first_value(cv->db, "SELECT count(*) FROM calls_v5"); }

int pt_calls_convert_prune(pt_calls_convert *cv, int64_t before_id, int rows, int64_t *deleted)
{
    sqlite3_bind_int64(cv->prune, 1, before_id);
    sqlite3_bind_int(cv->prune, 2, rows);
    int rc = pt_calls_run(cv->prune);
    *deleted = rc == SQLITE_OK ? sqlite3_changes(cv->db) : 0;
    return rc;
}

int pt_calls_convert_step(pt_calls_convert *cv, int rows, int64_t *done, int64_t *lowest_id)
{
    *done = 0;
    sqlite3_bind_int(cv->sel, 1, rows);
    int rc = SQLITE_OK, s;
    while (rc == SQLITE_OK && (s = sqlite3_step(cv->sel)) == SQLITE_ROW) {
        pt_calls_val v[PT_CALLS_NCOLS];
        for (int i = 0; i < PT_CALLS_NCOLS; i++) {
            if (sqlite3_column_type(cv->sel, i) == SQLITE_NULL) v[i] = (pt_calls_val){ .type = PT_CALLS_NULL };
            else if (pt_calls_col_kind(i) == PT_CALLS_INT)
                v[i] = (pt_calls_val){ .type = PT_CALLS_INT, .i = sqlite3_column_int64(cv->sel, i) };
            else
                v[i] = (pt_calls_val){ .type = PT_CALLS_TEXT, .s = (const char *)sqlite3_column_text(cv->sel, i),
                                       .n = (uint32_t)sqlite3_column_bytes(cv->sel, i) };
            v[i].col = (uint16_t)i;
        }
        if (!*done) *lowest_id = v[PT_CALLS_COL_id].i;
        if (pt_calls_chunk_add(&cv->chunk, v, PT_CALLS_NCOLS) != 0) rc = SQLITE_NOMEM;
        else if (pt_calls_chunk_full(&cv->chunk)) rc = pt_calls_chunk_write(cv->ins, &cv->chunk);
        (*done)++;
    }
    if (rc == SQLITE_OK && s != SQLITE_DONE) rc = s;
    sqlite3_reset(cv->sel);
    if (rc == SQLITE_OK) rc = pt_calls_chunk_write(cv->ins, &cv->chunk);
    pt_calls_chunk_reset(&cv->chunk);
    if (rc == SQLITE_OK && *done) {
        sqlite3_bind_int(cv->del, 1, rows);
        rc = pt_calls_run(cv->del);
    }
    /* fewer than asked for: none are left, and the table goes in the same transaction */
    if (rc == SQLITE_OK && *done < rows) rc = sqlite3_exec(cv->db, "DROP TABLE calls_v5", NULL, NULL, NULL);
    return rc;
}

/* Brings the file to LAYOUT_VERSION in one transaction: the rows of layouts 3 to 5 gain
 * the columns added since (the cache's, names' last use, tool calls' arguments) and their
 * table becomes calls_v5, which the writer converts into chunks in steps
 * (pt_calls_convert_step); layout 2 (names as text in each row) is first copied into
 * layout 5's table, said in the log with its time. A file written before ids were times
 * has a table the queries cannot range over: it is dropped (a log, not a record of truth),
 * said once in the log. */
static int migrate(sqlite3 *db)
{
    int64_t v = user_version(db);
    if (v == LAYOUT_VERSION) return sqlite3_exec(db, schema, NULL, NULL, NULL);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    bool had = has_table(db, "calls"), copy = had && v == 2, keep = had && v >= 3 && v <= 5;
    int64_t t0 = pt_now_ms();
    if (had && !copy && !keep) pt_log_warn("call log: the file has an older layout; its records are dropped and a new table started");
    if (copy || keep) rc = add_columns(db);
    /* (only a real table: `calls` is otherwise the virtual table, not to be dropped) */
    if (rc == SQLITE_OK && had && !keep) rc = sqlite3_exec(db, copy ? convert_v2 : "DROP TABLE calls;", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = add_column(db, "ALTER TABLE names ADD COLUMN last_ms INTEGER");
    if (rc == SQLITE_OK && copy) rc = sqlite3_exec(db, pt_calls_table_v5_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK && copy) rc = sqlite3_exec(db, copy_v2, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, names_last_ms, NULL, NULL, NULL);
    /* its indexes go now (the rows are deleted as they are converted: every deletion would
     * rewrite a page of the request id's index at random) */
    if (rc == SQLITE_OK && (copy || keep))
        rc = sqlite3_exec(db, "DROP INDEX IF EXISTS calls_consumer; DROP INDEX IF EXISTS calls_request;"
                              "DROP INDEX IF EXISTS calls_trace; ALTER TABLE calls RENAME TO calls_v5",
                          NULL, NULL, NULL);
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", LAYOUT_VERSION);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    rc = sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? rc : SQLITE_ERROR;
    if (rc == SQLITE_OK && (copy || keep))
        pt_log_info("call log: the file's earlier layout (%lld) was set aside for conversion in %lld ms", (long long)v,
                    (long long)(pt_now_ms() - t0));
    return rc;
}

int pt_calls_db_open(const char *path, bool readonly, sqlite3 **out, char *why, size_t cap)
{
    *out = NULL;
    if (!readonly && create_file(path, why, cap) != 0) return -1;
    /* One thread at a time uses a connection (the writer holds its lock; a reader is one
     * admin request), so SQLite's own mutexes would only cost. */
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    /* the writer's WAL appends are gathered into one write per commit (calls_vfs.h) */
    int rc = sqlite3_open_v2(path, &db, flags, readonly ? NULL : pt_calls_vfs_name());
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK) rc = pt_calls_vtab_register(db);
    /* 16 KiB pages (a new file's; an existing file keeps its own): a quarter of the page
     * writes and splits of 4 KiB ones for the same rows, measured about a third more
     * records/s here; the WAL is checkpointed every 32 MiB either way. */
    if (rc == SQLITE_OK && !readonly)
        rc = sqlite3_exec(db,
                          "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                          "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-32768; "
                          "PRAGMA wal_autocheckpoint=2048;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK && !readonly) rc = migrate(db);
    if (rc == SQLITE_OK && !readonly) rc = sqlite3_exec(db, pt_rollups_schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, cap, "call log: %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

/* ---- the query --------------------------------------------------------------------------- */

typedef struct sql_buf {
    char text[2048];
    size_t len;
} sql_buf;

static void add(sql_buf *q, const char *frag)
{
    size_t n = strlen(frag);
    if (q->len + n < sizeof q->text) {
        memcpy(q->text + q->len, frag, n + 1);
        q->len += n;
    }
}

/* A name's id, for comparing a column of names (no row has a name the table lacks). */
#define NAME_ID "(SELECT id FROM names WHERE name = ?)"

/* Appends the WHERE terms for f in a fixed order; bind() binds them in the same order. */
static void where(sql_buf *q, const pt_calls_filter *f)
{
    add(q, " WHERE 1");
    /* A record's id is at least its time's, so `from` bounds the ids too; a record written
     * late (a long call) has an id past its time's, so `to` bounds only the time (the table
     * skips the chunks whose times are all past it). */
    if (f->from_ms) add(q, " AND id >= ? AND time_ms >= ?");
    if (f->to_ms) add(q, " AND time_ms < ?");
    if (f->team) add(q, " AND team_id = " NAME_ID);
    if (f->consumer) add(q, " AND consumer_id = " NAME_ID);
    if (f->service) add(q, " AND service_id = " NAME_ID);
    if (f->api) add(q, " AND api_id = " NAME_ID);
    if (f->model) add(q, " AND model_id = " NAME_ID);
    if (f->request_id) add(q, " AND rid_hash = ? AND request_id = ?");
    if (f->trace_id) add(q, " AND trace_id = ?");
    if (f->operation) add(q, " AND operation = ?");
    if (f->status_lo) add(q, " AND status BETWEEN ? AND ?");
    if (f->visible_team) add(q, " AND (team_id = " NAME_ID " OR service_team_id = " NAME_ID ")");
    if (f->has_cursor) add(q, " AND id < ?");
}

static void bind_text(sqlite3_stmt *st, int *i, const char *s)
{
    if (s) sqlite3_bind_text(st, (*i)++, s, -1, SQLITE_STATIC);
}

static void bind(sqlite3_stmt *st, const pt_calls_filter *f)
{
    int i = 1;
    if (f->from_ms) {
        sqlite3_bind_int64(st, i++, PT_CALLS_ID(f->from_ms));
        sqlite3_bind_int64(st, i++, f->from_ms);
    }
    if (f->to_ms) sqlite3_bind_int64(st, i++, f->to_ms);
    bind_text(st, &i, f->team);
    bind_text(st, &i, f->consumer);
    bind_text(st, &i, f->service);
    bind_text(st, &i, f->api);
    bind_text(st, &i, f->model);
    if (f->request_id) {
        sqlite3_bind_int64(st, i++, pt_calls_rid_hash(f->request_id, strlen(f->request_id)));
        bind_text(st, &i, f->request_id);
    }
    bind_text(st, &i, f->trace_id);
    bind_text(st, &i, f->operation);
    if (f->status_lo) {
        sqlite3_bind_int(st, i++, f->status_lo);
        sqlite3_bind_int(st, i++, f->status_hi);
    }
    bind_text(st, &i, f->visible_team);
    bind_text(st, &i, f->visible_team);
    if (f->has_cursor) sqlite3_bind_int64(st, i++, f->cursor_id);
    sqlite3_bind_int64(st, i, f->limit);
}

int64_t pt_calls_query(sqlite3 *db, const pt_calls_filter *f, pt_calls_row_fn fn, void *arg, char *why, size_t cap)
{
    sql_buf q = { .len = 0 };
    add(&q, "SELECT " SELECT_COLS " FROM calls c");
    where(&q, f);
    add(&q, " ORDER BY id DESC LIMIT ?");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, q.text, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "call log query: %s", sqlite3_errmsg(db));
        return -1;
    }
    bind(st, f);
    int64_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pt_calls_row row = { .id = sqlite3_column_int64(st, 0), .time_ms = sqlite3_column_int64(st, 1), .st = st };
        n++;
        if (fn(arg, &row) != 0) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(why, cap, "call log query: %s", sqlite3_errmsg(db));
        n = -1;
    }
    sqlite3_finalize(st);
    return n;
}

void pt_calls_cursor_write(int64_t time_ms, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%016llx%016llx", (unsigned long long)time_ms, (unsigned long long)id);
}

static bool hex16(const char *s, int64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = (int64_t)x;
    return *v >= 0;
}

bool pt_calls_cursor_read(const char *s, int64_t *time_ms, int64_t *id)
{
    return strlen(s) == 32 && hex16(s, time_ms) && hex16(s + 16, id);
}
