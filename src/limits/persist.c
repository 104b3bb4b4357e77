/* persist.c: quota and budget totals in a SQLite file, written off the request path
 * (persist.h). */
#include "limits/persist.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

struct pt_limits_store {
    pt_counters *b;
    char *path;
    sqlite3 *db;
    unsigned interval_ms;
    atomic_bool failing;
    bool resync;          /* the last pass failed: write every total, not only the changed */
    pthread_mutex_t lock; /* one pass at a time */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    bool stop, started;
    pthread_t thread;
};

/* The totals a pass writes, copied out under the table's locks. */
typedef struct row {
    char *key;
    size_t keylen;
    uint64_t total;
    int64_t expires;
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
    bool oom;
} rows;

static void collect(void *arg, pt_slice key, uint64_t total, int64_t expires)
{
    rows *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    char *k = malloc(key.len ? key.len : 1);
    if (!k) {
        r->oom = true;
        return;
    }
    memcpy(k, key.ptr, key.len);
    r->v[r->n++] = (row){ k, key.len, total, expires };
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->v[i].key);
    free(r->v);
}

static int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1; }

static int open_db(pt_limits_store *s)
{
    if (s->db) return 0;
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=2000;") != 0 ||
        exec(s->db, "CREATE TABLE IF NOT EXISTS windows (key BLOB PRIMARY KEY, total INTEGER NOT NULL, "
                    "expires INTEGER NOT NULL)") != 0) {
        sqlite3_close(s->db); /* the failure is logged once, by set_failing */
        s->db = NULL;
        return -1;
    }
    return 0;
}

/* Loads the windows not over at the wall clock's now. */
static int load(pt_limits_store *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT key, total, expires FROM windows WHERE expires > ?", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pt_limits_wall());
    size_t n = 0;
    uint64_t now = pt_limits_now();
    while (sqlite3_step(st) == SQLITE_ROW) {
        pt_slice key = { sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0) };
        if (key.ptr && s->b->ops->window_load(s->b, key, (uint64_t)sqlite3_column_int64(st, 1),
                                              sqlite3_column_int64(st, 2), now) == 0)
            n++;
    }
    sqlite3_finalize(st);
    if (n) pt_log_info("limits store %s: %zu quota and budget totals restored", s->path, n);
    return 0;
}

static int write_rows(sqlite3 *db, const rows *r)
{
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN") != 0) return -1;
    int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO windows (key, total, expires) VALUES (?, ?, ?)", -1, &st,
                                NULL) == SQLITE_OK ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        sqlite3_bind_blob(st, 1, r->v[i].key, (int)r->v[i].keylen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->v[i].total);
        sqlite3_bind_int64(st, 3, r->v[i].expires);
        if (sqlite3_step(st) != SQLITE_DONE) rc = -1;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == 0) {
        sqlite3_stmt *del = NULL;
        rc = sqlite3_prepare_v2(db, "DELETE FROM windows WHERE expires <= ?", -1, &del, NULL) == SQLITE_OK ? 0 : -1;
        if (rc == 0) sqlite3_bind_int64(del, 1, pt_limits_wall());
        if (rc == 0 && sqlite3_step(del) != SQLITE_DONE) rc = -1;
        sqlite3_finalize(del);
    }
    if (rc == 0 && exec(db, "COMMIT") == 0) return 0;
    exec(db, "ROLLBACK");
    return -1;
}

static void set_failing(pt_limits_store *s, bool failing, const char *why)
{
    bool was = atomic_exchange(&s->failing, failing);
    if (failing && !was) pt_log_warn("limits store %s cannot be written (%s): quota and budget totals are kept in "
                                     "memory only until it can", s->path, why);
    if (!failing && was) pt_log_info("limits store %s is written again", s->path);
}

int pt_limits_store_flush(pt_limits_store *s)
{
    pthread_mutex_lock(&s->lock);
    rows r = { 0 };
    int rc = open_db(s);
    if (rc == 0) {
        s->b->ops->window_each(s->b, !s->resync, collect, &r);
        /* nothing changed: no write (windows that are over go with the next one) */
        rc = r.oom ? -1 : r.n || s->resync ? write_rows(s->db, &r) : 0;
    }
    s->resync = rc != 0;
    set_failing(s, rc != 0, rc == 0 ? "" : s->db ? sqlite3_errmsg(s->db) : "it cannot be opened");
    rows_free(&r);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* A window's key is "POLICY\x1fGROUP\x1e<letter><day or month>" (limits/enforce.c); the
 * letter names the window in pt_policy_window's order. */
static void read_row(sqlite3_stmt *st, size_t skip, pt_limits_total_fn fn, void *arg)
{
    const char *key = sqlite3_column_blob(st, 0), *sep, *letters = "rRtTuU", *w;
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    if (!key || len < skip + 2 || !(sep = memchr(key + skip, '\x1e', len - skip)) || sep + 1 >= key + len) return;
    if (!sep[1] || !(w = strchr(letters, sep[1]))) return;
    fn(arg, (pt_slice){ key + skip, (size_t)(sep - key) - skip }, (int)(w - letters),
       (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
}

int pt_limits_store_read(const char *path, const char *policy, pt_limits_total_fn fn, void *arg, char *why, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char prefix[256];
    int n = snprintf(prefix, sizeof prefix, "%s\x1f", policy);
    if (n <= 0 || (size_t)n >= sizeof prefix) return snprintf(why, cap, "policy name too long"), -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0; /* no file yet: nothing has been counted */
    }
    int rc = sqlite3_busy_timeout(db, 2000) == SQLITE_OK &&
                     sqlite3_prepare_v2(db, "SELECT key, total, expires FROM windows WHERE expires > ? AND "
                                            "substr(key, 1, ?) = ? ORDER BY key", -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, pt_limits_wall());
        sqlite3_bind_int(st, 2, n);
        sqlite3_bind_blob(st, 3, prefix, n, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) read_row(st, (size_t)n, fn, arg);
        if (step != SQLITE_DONE) rc = -1;
    }
    /* a file the writer has not given its table yet holds nothing counted */
    if (rc != 0 && strstr(sqlite3_errmsg(db), "no such table")) rc = 0;
    else if (rc != 0) snprintf(why, cap, "%s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

static void *writer(void *arg)
{
    pt_limits_store *s = arg;
    pthread_mutex_lock(&s->wake_lock);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->interval_ms * 1000000ull;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&s->wake, &s->wake_lock, &ts);
        if (s->stop) break;
        pthread_mutex_unlock(&s->wake_lock);
        pt_limits_store_flush(s);
        pthread_mutex_lock(&s->wake_lock);
    }
    pthread_mutex_unlock(&s->wake_lock);
    return NULL;
}

pt_limits_store *pt_limits_store_open(pt_counters *b, const char *path, unsigned interval_ms)
{
    pt_limits_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return NULL;
    }
    s->b = b;
    s->interval_ms = interval_ms ? interval_ms : 1000;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wake_lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (open_db(s) != 0 || load(s) != 0) {
        s->resync = true;
        set_failing(s, true, s->db ? sqlite3_errmsg(s->db) : "it cannot be opened");
    }
    s->started = pthread_create(&s->thread, NULL, writer, s) == 0;
    return s;
}

bool pt_limits_store_failing(const pt_limits_store *s) { return s && atomic_load(&s->failing); }

void pt_limits_store_close(pt_limits_store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->wake_lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->wake_lock);
    if (s->started) pthread_join(s->thread, NULL);
    pt_limits_store_flush(s);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wake_lock);
    pthread_cond_destroy(&s->wake);
    free(s->path);
    free(s);
}
