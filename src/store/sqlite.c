/* sqlite.c: the SQLite backend of the store (see backend.h). One connection per handle, WAL
 * journal, foreign keys on, synchronous=FULL (an admin write reported committed survives a
 * crash or power loss), a busy timeout for a second process. Statements are built only from
 * the constant names in schema.c and always take values as bound parameters. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/backend.h"
#include "store/migrations.h"
#include "store/sqlite.h"

#define BUSY_TIMEOUT_MS 5000
#define SQL_MAX 2048
#define CACHE_SLOTS 64

enum { OP_INSERT = 1, OP_UPDATE, OP_LIST };

typedef struct cached_stmt {
    int kind, op;
    uint32_t mask;
    sqlite3_stmt *stmt;
} cached_stmt;

typedef struct pt_sqlite {
    pt_store base;          /* first: the front's part */
    sqlite3 *db;
    char path[4096];
    char select_cols[PT_KIND_COUNT][512];   /* "id","created_at",... in row_object() order */
    sqlite3_stmt *get_stmt[PT_KIND_COUNT];
    cached_stmt cache[CACHE_SLOTS];
    unsigned cache_next;
} pt_sqlite;

static pt_sqlite *DB(pt_store *st) { return (pt_sqlite *)st; }

/* ---- errors ---- */

/* The column a UNIQUE failure names: "UNIQUE constraint failed: apis.service_id, apis.name"
 * gives "name" (the last one, the one a person chose). */
static void unique_field(const char *msg, char *out, size_t cap)
{
    const char *dot = strrchr(msg, '.');
    snprintf(out, cap, "%s", dot ? dot + 1 : "");
}

static int sql_fail(pt_store *st, int rc, pt_store_kind kind, const char *what)
{
    sqlite3 *db = DB(st)->db;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const char *obj = kind >= 0 && kind < PT_KIND_COUNT ? pt_store_kinds[kind].name : "object";
    char field[64];
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            unique_field(msg, field, sizeof field);
            return pt__store_fail(st, PT_STORE_ECONFLICT, field, "%s: a %s with this %s already exists", field, obj,
                                  field);
        }
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return pt__store_fail(st, PT_STORE_EREF, NULL, "%s refers to a missing object, or is still referred to", obj);
        return pt__store_fail(st, PT_STORE_EINVAL, NULL, "%s: %s", obj, msg);
    case SQLITE_FULL:
        return pt__store_fail(st, PT_STORE_EFULL, NULL, "disk full: the %s was not saved", what);
    case SQLITE_CORRUPT: case SQLITE_NOTADB:
        return pt__store_fail(st, PT_STORE_ECORRUPT, NULL, "%s is corrupt or not a Portico database (%s)", DB(st)->path,
                              msg);
    case SQLITE_CANTOPEN:
        return pt__store_fail(st, PT_STORE_EOPEN, NULL, "cannot open %s: %s", DB(st)->path, msg);
    case SQLITE_BUSY: case SQLITE_LOCKED:
        return pt__store_fail(st, PT_STORE_EBUSY, NULL, "%s: %s", what, msg);
    case SQLITE_NOMEM:
        return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    }
    return pt__store_fail(st, PT_STORE_EIO, NULL, "%s: %s", what, msg);
}

/* ---- statements ---- */

static int prepare(pt_store *st, const char *sql, bool keep, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(DB(st)->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(st, rc, -1, "preparing a statement");
}

static int exec(pt_store *st, const char *sql, const char *what)
{
    int rc = sqlite3_exec(DB(st)->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(st, rc, -1, what);
}

/* A cached statement for (kind, op, mask), built by the caller when absent. */
static sqlite3_stmt **cache_slot(pt_sqlite *s, int kind, int op, uint32_t mask, bool *hit)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cached_stmt *c = &s->cache[i];
        if (c->stmt && c->kind == kind && c->op == op && c->mask == mask) {
            *hit = true;
            sqlite3_reset(c->stmt);
            sqlite3_clear_bindings(c->stmt);
            return &c->stmt;
        }
    }
    cached_stmt *c = &s->cache[s->cache_next++ % CACHE_SLOTS];
    sqlite3_finalize(c->stmt);
    *c = (cached_stmt){kind, op, mask, NULL};
    *hit = false;
    return &c->stmt;
}

static int bind_value(pt_store *st, sqlite3_stmt *s, int i, const pt_store_col *col, const json_t *v)
{
    int rc = SQLITE_OK;
    if (!v || json_is_null(v)) rc = sqlite3_bind_null(s, i);
    else switch (col->type) {
    case PT_COL_TEXT: case PT_COL_NAME: case PT_COL_ENUM:
        rc = sqlite3_bind_text(s, i, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
        break;
    case PT_COL_TIME: case PT_COL_REF: case PT_COL_INT:
        rc = sqlite3_bind_int64(s, i, json_integer_value(v));
        break;
    case PT_COL_BOOL:
        rc = sqlite3_bind_int(s, i, json_is_true(v));
        break;
    case PT_COL_JSON: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) return pt__store_fail(st, PT_STORE_ENOMEM, col->name, "out of memory");
        rc = sqlite3_bind_text(s, i, text, -1, free);
        break;
    }
    case PT_COL_HASH: {
        unsigned char h[32];
        if (pt__store_unhex(json_string_value(v), json_string_length(v), h, sizeof h) != 0)
            return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be 64 hex digits", col->name);
        rc = sqlite3_bind_blob(s, i, h, sizeof h, SQLITE_TRANSIENT);
        break;
    }
    }
    return rc == SQLITE_OK ? 0 : sql_fail(st, rc, -1, "binding a value");
}


/* Binds obj's members for the columns in mask, in column order, from parameter *i on. */
static int bind_masked(pt_store *st, sqlite3_stmt *q, int *i, pt_store_kind kind, uint32_t mask, const json_t *obj)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    int rc = 0;
    for (size_t c = 0; rc == 0 && c < d->ncols; c++)
        if (mask & 1u << c) rc = bind_value(st, q, (*i)++, &d->cols[c], json_object_get(obj, d->cols[c].name));
    return rc;
}

static json_t *column_value(sqlite3_stmt *s, int i, pt_store_coltype type)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return json_null();
    switch (type) {
    case PT_COL_TEXT: case PT_COL_NAME: case PT_COL_ENUM: {
        const char *t = (const char *)sqlite3_column_text(s, i);
        json_t *v = json_stringn(t, (size_t)sqlite3_column_bytes(s, i));
        return v ? v : json_null();
    }
    case PT_COL_TIME: case PT_COL_REF: case PT_COL_INT:
        return json_integer(sqlite3_column_int64(s, i));
    case PT_COL_BOOL:
        return json_boolean(sqlite3_column_int(s, i));
    case PT_COL_JSON: {
        json_t *v = json_loads((const char *)sqlite3_column_text(s, i), JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    case PT_COL_HASH: {
        char hex[65];
        if (sqlite3_column_bytes(s, i) != 32) return json_null();
        pt_store_hex(sqlite3_column_blob(s, i), 32, hex);
        return json_string(hex);
    }
    }
    return json_null();
}

/* One row selected with select_cols[kind] as an object. */
static json_t *row_object(sqlite3_stmt *s, pt_store_kind kind)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    json_t *o = json_object();
    int i = 0;
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, i++)));
    json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(s, i++)));
    if (!d->append_only) {
        json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(s, i++)));
        json_object_set_new(o, "version", json_integer(sqlite3_column_int64(s, i++)));
    }
    for (size_t c = 0; c < d->ncols; c++) json_object_set_new(o, d->cols[c].name, column_value(s, i++, d->cols[c].type));
    return o;
}

static void build_select_cols(pt_sqlite *s)
{
    for (int k = 0; k < PT_KIND_COUNT; k++) {
        const pt_store_kind_desc *d = &pt_store_kinds[k];
        char *p = s->select_cols[k];
        size_t cap = sizeof s->select_cols[k], n;
        n = (size_t)snprintf(p, cap, "\"id\", \"created_at\"%s",
                             d->append_only ? "" : ", \"updated_at\", \"version\"");
        for (size_t c = 0; c < d->ncols && n < cap; c++)
            n += (size_t)snprintf(p + n, cap - n, ", \"%s\"", d->cols[c].name);
    }
}

/* Steps a statement that returns no row. */
static int step_done(pt_store *st, sqlite3_stmt *s, pt_store_kind kind, const char *what)
{
    int rc = sqlite3_step(s);
    int out = rc == SQLITE_DONE ? 0 : sql_fail(st, rc, kind, what);
    sqlite3_reset(s);
    return out;
}

/* ---- metadata and transactions ---- */

static int one_int(pt_store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, false, &s);
    if (rc) return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
    else rc = sql_fail(st, r == SQLITE_DONE ? SQLITE_CORRUPT : r, -1, "reading store metadata");
    sqlite3_finalize(s);
    return rc;
}

static int be_schema_version(pt_store *st, int *out)
{
    int64_t v = 0;
    int rc = one_int(st, "SELECT coalesce(max(version), 0) FROM schema_migrations", &v);
    *out = (int)v;
    return rc;
}

static int be_version(pt_store *st, int64_t *out)
{
    return one_int(st, "SELECT value FROM store_meta WHERE key = 'store_version'", out);
}

static int be_bump_version(pt_store *st)
{
    return exec(st, "UPDATE store_meta SET value = value + 1 WHERE key = 'store_version'", "saving the change");
}

static int be_begin(pt_store *st, bool write)
{
    return exec(st, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", "starting a transaction");
}
static int be_commit(pt_store *st) { return exec(st, "COMMIT", "committing"); }
static int be_rollback(pt_store *st)
{
    if (sqlite3_get_autocommit(DB(st)->db)) return 0; /* SQLite already undid it (disk full, I/O error) */
    return exec(st, "ROLLBACK", "rolling back");
}
static int be_savepoint(pt_store *st) { return exec(st, "SAVEPOINT w", "starting a write"); }
static int be_release(pt_store *st)
{
    if (sqlite3_get_autocommit(DB(st)->db)) return 0;
    return exec(st, "RELEASE w", "finishing a write");
}
static int be_rollback_to(pt_store *st)
{
    if (sqlite3_get_autocommit(DB(st)->db)) return 0;
    return exec(st, "ROLLBACK TO w", "undoing a write");
}

/* ---- objects ---- */

static int be_insert(pt_store *st, pt_store_kind kind, const json_t *fields, int64_t now, int64_t *id)
{
    pt_sqlite *s = DB(st);
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = pt__store_column_mask(kind, fields);
    bool hit;
    sqlite3_stmt **slot = cache_slot(s, kind, OP_INSERT, mask, &hit);
    if (!hit) {
        char sql[SQL_MAX], vals[256] = "?";
        size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (\"created_at\"%s", d->table,
                                    d->append_only ? "" : ", \"updated_at\"");
        if (!d->append_only) strcat(vals, ", ?");
        for (size_t c = 0; c < d->ncols; c++) {
            if (!(mask & 1u << c)) continue;
            n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", d->cols[c].name);
            strcat(vals, ", ?");
        }
        snprintf(sql + n, sizeof sql - n, ") VALUES (%s)", vals);
        int rc = prepare(st, sql, true, slot);
        if (rc) return rc;
    }
    sqlite3_stmt *q = *slot;
    int i = 1, rc = 0;
    sqlite3_bind_int64(q, i++, now);
    if (!d->append_only) sqlite3_bind_int64(q, i++, now);
    rc = bind_masked(st, q, &i, kind, mask, fields);
    if (rc == 0) rc = step_done(st, q, kind, "write");
    if (rc == 0) *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int be_update(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version, const json_t *fields, int64_t now)
{
    pt_sqlite *s = DB(st);
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = (if_version > 0 ? 1u << 31 : 0) | pt__store_column_mask(kind, fields);
    bool hit;
    sqlite3_stmt **slot = cache_slot(s, kind, OP_UPDATE, mask, &hit);
    if (!hit) {
        char sql[SQL_MAX];
        size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE \"%s\" SET ", d->table);
        for (size_t c = 0; c < d->ncols; c++)
            if (mask & 1u << c) n += (size_t)snprintf(sql + n, sizeof sql - n, "\"%s\" = ?, ", d->cols[c].name);
        snprintf(sql + n, sizeof sql - n, "\"updated_at\" = ?, \"version\" = \"version\" + 1 WHERE \"id\" = ?%s",
                 if_version > 0 ? " AND \"version\" = ?" : "");
        int rc = prepare(st, sql, true, slot);
        if (rc) return rc;
    }
    sqlite3_stmt *q = *slot;
    int i = 1, rc = bind_masked(st, q, &i, kind, mask & ~(1u << 31), fields);
    if (rc) return rc;
    sqlite3_bind_int64(q, i++, now);
    sqlite3_bind_int64(q, i++, id);
    if (if_version > 0) sqlite3_bind_int64(q, i++, if_version);
    if ((rc = step_done(st, q, kind, "change")) != 0) return rc;
    if (sqlite3_changes(s->db) == 0)
        return pt__store_fail(st, if_version > 0 ? PT_STORE_ESTALE : PT_STORE_ENOTFOUND, "version",
                              "%s %lld changed or went away meanwhile", d->name, (long long)id);
    return 0;
}

static int be_remove(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"id\" = ?%s", pt_store_kinds[kind].table,
             if_version > 0 ? " AND \"version\" = ?" : "");
    sqlite3_stmt *q;
    int rc = prepare(st, sql, false, &q);
    if (rc) return rc;
    sqlite3_bind_int64(q, 1, id);
    if (if_version > 0) sqlite3_bind_int64(q, 2, if_version);
    rc = step_done(st, q, kind, "deletion");
    sqlite3_finalize(q);
    if (rc == 0 && sqlite3_changes(DB(st)->db) == 0)
        rc = pt__store_fail(st, PT_STORE_ESTALE, "version", "%s %lld changed or went away meanwhile",
                            pt_store_kinds[kind].name, (long long)id);
    return rc;
}

/* Steps q expecting at most one row. */
static int one_object(pt_store *st, sqlite3_stmt *q, pt_store_kind kind, json_t **out)
{
    int r = sqlite3_step(q), rc = 0;
    if (r == SQLITE_ROW) *out = row_object(q, kind);
    else if (r == SQLITE_DONE) rc = pt__store_fail(st, PT_STORE_ENOTFOUND, NULL, "no such %s", pt_store_kinds[kind].name);
    else rc = sql_fail(st, r, kind, "read");
    sqlite3_reset(q);
    return rc;
}

static int be_get(pt_store *st, pt_store_kind kind, int64_t id, json_t **out)
{
    pt_sqlite *s = DB(st);
    if (!s->get_stmt[kind]) {
        char sql[SQL_MAX];
        snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"id\" = ?", s->select_cols[kind],
                 pt_store_kinds[kind].table);
        int rc = prepare(st, sql, true, &s->get_stmt[kind]);
        if (rc) return rc;
    }
    sqlite3_bind_int64(s->get_stmt[kind], 1, id);
    return one_object(st, s->get_stmt[kind], kind, out);
}

static int be_find(pt_store *st, pt_store_kind kind, const pt_store_col *col, const json_t *value, json_t **out)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"%s\" = ?", DB(st)->select_cols[kind],
             pt_store_kinds[kind].table, col->name);
    sqlite3_stmt *q;
    int rc = prepare(st, sql, false, &q);
    if (rc == 0) rc = bind_value(st, q, 1, col, value);
    if (rc == 0) rc = one_object(st, q, kind, out);
    sqlite3_finalize(q);
    return rc;
}

static int be_count_refs(pt_store *st, pt_store_kind kind, const pt_store_col *col, int64_t id, int64_t *count)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE \"%s\" = ?", pt_store_kinds[kind].table, col->name);
    sqlite3_stmt *q;
    int rc = prepare(st, sql, false, &q);
    if (rc) return rc;
    sqlite3_bind_int64(q, 1, id);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) *count = sqlite3_column_int64(q, 0);
    else rc = sql_fail(st, r, kind, "read");
    sqlite3_finalize(q);
    return rc;
}

/* Appends every row q yields to items. */
static int collect(pt_store *st, sqlite3_stmt *q, pt_store_kind kind, json_t *items)
{
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) json_array_append_new(items, row_object(q, kind));
    int rc = r == SQLITE_DONE ? 0 : sql_fail(st, r, kind, "list");
    sqlite3_reset(q);
    return rc;
}

static int be_list(pt_store *st, pt_store_kind kind, const json_t *filter, int64_t after_id, unsigned limit,
                   bool newest_first, json_t *items)
{
    pt_sqlite *s = DB(st);
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = (after_id ? 1u << 31 : 0) | (newest_first ? 1u << 30 : 0) | pt__store_column_mask(kind, filter);
    bool hit;
    sqlite3_stmt **slot = cache_slot(s, kind, OP_LIST, mask, &hit);
    if (!hit) {
        char sql[SQL_MAX];
        size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE 1", s->select_cols[kind], d->table);
        for (size_t c = 0; c < d->ncols; c++)
            if (mask & 1u << c) n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"%s\" = ?", d->cols[c].name);
        if (after_id) n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"id\" %s ?", newest_first ? "<" : ">");
        snprintf(sql + n, sizeof sql - n, " ORDER BY \"id\" %s LIMIT ?", newest_first ? "DESC" : "ASC");
        int rc = prepare(st, sql, true, slot);
        if (rc) return rc;
    }
    sqlite3_stmt *q = *slot;
    int i = 1, rc = bind_masked(st, q, &i, kind, mask & ~(3u << 30), filter);
    if (rc) return rc;
    if (after_id) sqlite3_bind_int64(q, i++, after_id);
    sqlite3_bind_int64(q, i++, limit);
    return collect(st, q, kind, items);
}

static int be_scan(pt_store *st, pt_store_kind kind, pt_store_obj_cb cb, void *ctx)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" ORDER BY \"id\"", DB(st)->select_cols[kind],
             pt_store_kinds[kind].table);
    sqlite3_stmt *q;
    int rc = prepare(st, sql, false, &q), r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        json_t *o = row_object(q, kind);
        rc = cb(ctx, o);
        json_decref(o);
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sql_fail(st, r, kind, "scan");
    sqlite3_finalize(q);
    return rc;
}

static int64_t opt_int(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, i);
}

/* Runs sql and hands each row to per_row; stops at the first non-zero return. */
static int scan_rows(pt_store *st, const char *sql, int (*per_row)(sqlite3_stmt *, void *, void *), void *cb,
                     void *ctx)
{
    sqlite3_stmt *q;
    int rc = prepare(st, sql, false, &q), r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) rc = per_row(q, cb, ctx);
    if (rc == 0 && r != SQLITE_DONE) rc = sql_fail(st, r, -1, "scan");
    sqlite3_finalize(q);
    return rc;
}

static int consumer_row(sqlite3_stmt *q, void *cb, void *ctx)
{
    pt_store_consumer_row row = {sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                                 (const char *)sqlite3_column_text(q, 2)};
    return ((pt_store_consumer_cb)cb)(ctx, &row);
}

static int key_row(sqlite3_stmt *q, void *cb, void *ctx)
{
    if (sqlite3_column_bytes(q, 3) != 32) return 0; /* the schema's CHECK makes this unreachable */
    pt_store_key_row row = {sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                            (const char *)sqlite3_column_text(q, 2), sqlite3_column_blob(q, 3),
                            opt_int(q, 4), opt_int(q, 5), (const char *)sqlite3_column_text(q, 6)};
    return ((pt_store_key_cb)cb)(ctx, &row);
}

static int sub_row(sqlite3_stmt *q, void *cb, void *ctx)
{
    pt_store_sub_row row = {sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2),
                            (const char *)sqlite3_column_text(q, 3)};
    return ((pt_store_sub_cb)cb)(ctx, &row);
}

/* Callback pointers travel as void * between the scan and its row adapter (POSIX allows it). */
static int be_scan_consumers(pt_store *st, pt_store_consumer_cb cb, void *ctx)
{
    return scan_rows(st, "SELECT id, team_id, name FROM consumers ORDER BY id", consumer_row, (void *)cb, ctx);
}

static int be_scan_keys(pt_store *st, pt_store_key_cb cb, void *ctx)
{
    return scan_rows(st,
                     "SELECT id, consumer_id, prefix, hash, expires_at, revoked_at, allowed_models FROM keys ORDER BY id",
                     key_row, (void *)cb, ctx);
}

static int be_scan_subscriptions(pt_store *st, pt_store_sub_cb cb, void *ctx)
{
    return scan_rows(st,
                     "SELECT id, consumer_id, service_id, state FROM subscriptions WHERE state <> 'cancelled' ORDER BY id",
                     sub_row, (void *)cb, ctx);
}

static int be_check(pt_store *st)
{
    sqlite3_stmt *q;
    int rc = prepare(st, "PRAGMA integrity_check", false, &q);
    if (rc) return rc;
    int r = sqlite3_step(q);
    if (r != SQLITE_ROW) rc = sql_fail(st, r, -1, "integrity check");
    else if (strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0)
        rc = pt__store_fail(st, PT_STORE_ECORRUPT, NULL, "%s failed its integrity check: %s", DB(st)->path,
                            (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return rc;
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *s)
{
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(q, i);
}

static int be_node_beat(pt_store *st, const pt_store_node *n, int schema_version, int64_t now)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_NODE_UPSERT, false, &q);
    if (rc) return rc;
    const char *texts[] = {n->id, n->address, n->admin_address, n->version};
    for (int i = 0; i < 4; i++) bind_text_or_null(q, i + 1, texts[i]);
    sqlite3_bind_int64(q, 5, n->store_version);
    sqlite3_bind_int(q, 6, schema_version);
    bind_text_or_null(q, 7, n->health);
    sqlite3_bind_int64(q, 8, n->started_at);
    sqlite3_bind_int64(q, 9, now);
    sqlite3_bind_int64(q, 10, n->beat_ms);
    rc = step_done(st, q, -1, "the node's heartbeat");
    sqlite3_finalize(q);
    return rc;
}

static int be_nodes(pt_store *st, json_t *items)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_NODE_LIST, false, &q), r;
    if (rc) return rc;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < sqlite3_column_count(q); i++) {
            json_t *v = sqlite3_column_type(q, i) == SQLITE_NULL ? json_null()
                        : PT__STORE_NODE_INT_COL(i) ? json_integer(sqlite3_column_int64(q, i))
                                                    : json_string((const char *)sqlite3_column_text(q, i));
            json_object_set_new(o, sqlite3_column_name(q, i), v);
        }
        json_array_append_new(items, o);
    }
    if (r != SQLITE_DONE) rc = sql_fail(st, r, -1, "reading the nodes");
    sqlite3_finalize(q);
    return rc;
}

static char *col_dup(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return strdup(t ? (const char *)t : "");
}

static int be_resp_put(pt_store *st, const pt_store_response *r)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_RESP_PUT, false, &q);
    if (rc) return rc;
    const char *texts[] = {r->id, r->consumer};
    for (int i = 0; i < 2; i++) sqlite3_bind_text(q, i + 1, texts[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, r->created_at);
    sqlite3_bind_int64(q, 4, r->expires_at);
    sqlite3_bind_text(q, 5, r->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, r->input, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, r->response, -1, SQLITE_STATIC);
    int s = sqlite3_step(q);
    if (s == SQLITE_DONE) rc = pt__store_fail(st, PT_STORE_ECONFLICT, "id", "id: a response with this id already exists");
    else if (s != SQLITE_ROW) rc = sql_fail(st, s, -1, "stored response");
    sqlite3_finalize(q);
    return rc;
}

static int be_resp_get(pt_store *st, const char *id, pt_store_response *out)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_RESP_GET, false, &q);
    if (rc) return rc;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW) {
        *out = (pt_store_response){.id = strdup(id), .consumer = col_dup(q, 0), .created_at = sqlite3_column_int64(q, 1),
                                   .expires_at = sqlite3_column_int64(q, 2), .model = col_dup(q, 3),
                                   .input = col_dup(q, 4), .response = col_dup(q, 5)};
        if (!out->id || !out->consumer || !out->model || !out->input || !out->response)
            rc = pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    } else {
        rc = s == SQLITE_DONE ? PT_STORE_ENOTFOUND : sql_fail(st, s, -1, "reading a stored response");
    }
    sqlite3_finalize(q);
    return rc;
}

/* Runs a statement returning one row per row it changed; *n counts them. */
static int count_rows(pt_store *st, sqlite3_stmt *q, const char *what, int64_t *n)
{
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) (*n)++;
    int rc = s == SQLITE_DONE ? 0 : sql_fail(st, s, -1, what);
    sqlite3_finalize(q);
    return rc;
}

static int be_resp_delete(pt_store *st, const char *id, const char *consumer, int64_t *n)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_RESP_DELETE, false, &q);
    if (rc) return rc;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, consumer, -1, SQLITE_STATIC);
    return count_rows(st, q, "deleting a stored response", n);
}

static int be_resp_prune(pt_store *st, int64_t now, int64_t *n)
{
    sqlite3_stmt *q;
    int rc = prepare(st, PT__STORE_RESP_PRUNE, false, &q);
    if (rc) return rc;
    sqlite3_bind_int64(q, 1, now);
    return count_rows(st, q, "pruning stored responses", n);
}

/* AUTOINCREMENT's own record of the highest id handed out, deleted rows included. */
static int be_last_id(pt_store *st, pt_store_kind kind, int64_t *out)
{
    sqlite3_stmt *q;
    int rc = prepare(st, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?", false, &q);
    if (rc) return rc;
    sqlite3_bind_text(q, 1, pt_store_kinds[kind].table, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) *out = sqlite3_column_int64(q, 0);
    else rc = sql_fail(st, r, kind, "reading the last id");
    sqlite3_finalize(q);
    return rc;
}

static void be_close(pt_store *st)
{
    pt_sqlite *s = DB(st);
    for (int k = 0; k < PT_KIND_COUNT; k++) sqlite3_finalize(s->get_stmt[k]);
    for (int i = 0; i < CACHE_SLOTS; i++) sqlite3_finalize(s->cache[i].stmt);
    sqlite3_close(s->db);
    free(s);
}

static const pt__store_backend sqlite_backend = {
    .name = "sqlite",
    .close = be_close,
    .schema_version = be_schema_version,
    .version = be_version,
    .bump_version = be_bump_version,
    .begin = be_begin,
    .commit = be_commit,
    .rollback = be_rollback,
    .savepoint = be_savepoint,
    .release = be_release,
    .rollback_to = be_rollback_to,
    .insert = be_insert,
    .update = be_update,
    .remove = be_remove,
    .get = be_get,
    .find = be_find,
    .count_refs = be_count_refs,
    .list = be_list,
    .scan = be_scan,
    .scan_consumers = be_scan_consumers,
    .scan_keys = be_scan_keys,
    .scan_subscriptions = be_scan_subscriptions,
    .check = be_check,
    .node_beat = be_node_beat,
    .nodes = be_nodes,
    .resp_put = be_resp_put,
    .resp_get = be_resp_get,
    .resp_delete = be_resp_delete,
    .resp_prune = be_resp_prune,
    .last_id = be_last_id,
};

/* ---- opening and migrating ---- */

static int migrate(pt_store *st)
{
    int rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT", "creating the migrations table");
    int have = 0, latest = pt_store_schema_latest();
    if (rc == 0) rc = be_schema_version(st, &have);
    if (rc) return rc;
    if (have > latest)
        return pt__store_fail(st, PT_STORE_ENEWER, NULL,
                              "%s has schema version %d but this portico knows versions up to %d: "
                              "run a newer portico, or restore a backup",
                              DB(st)->path, have, latest);
    for (int i = 0; i < pt__store_nmigrations; i++) {
        const pt__store_migration *m = &pt__store_migrations[i];
        if (m->version <= have) continue;
        if ((rc = be_begin(st, true)) != 0) return rc;
        rc = exec(st, m->sql, "migrating the schema");
        sqlite3_stmt *q = NULL;
        if (rc == 0) rc = prepare(st, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                  false, &q);
        if (rc == 0) {
            sqlite3_bind_int(q, 1, m->version);
            sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
            rc = step_done(st, q, -1, "migration record");
        }
        sqlite3_finalize(q);
        if (rc == 0) rc = be_commit(st);
        if (rc) {
            pt_store_error saved = st->err;
            be_rollback(st);
            st->err = saved;
            char why[sizeof st->err.message];
            snprintf(why, sizeof why, "%s", st->err.message);
            return pt__store_fail(st, st->err.code, NULL, "migration %d (%s) failed: %s", m->version, m->name, why);
        }
    }
    if (have < latest) {
        st->migrated_from = have;
        st->migrated_to = latest;
    }
    return 0;
}

int pt_store_schema_latest(void) { return pt__store_migrations[pt__store_nmigrations - 1].version; }

/* data_dir with mode 0700 (when we create it) and portico.db with 0600. */
static int prepare_files(pt_sqlite *s, const char *data_dir)
{
    pt_store *st = &s->base;
    struct stat sb;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return pt__store_fail(st, PT_STORE_EOPEN, "data_dir", "cannot create data_dir %s: %s", data_dir, strerror(errno));
    if (stat(data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pt__store_fail(st, PT_STORE_EOPEN, "data_dir", "data_dir %s is not a directory", data_dir);
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/portico.db", data_dir) >= sizeof s->path)
        return pt__store_fail(st, PT_STORE_EOPEN, "data_dir", "data_dir is too long");
    int fd = open(s->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return pt__store_fail(st, PT_STORE_EOPEN, "data_dir", "cannot open %s: %s", s->path, strerror(errno));
    close(fd);
    return 0;
}

static int configure(pt_store *st)
{
    sqlite3 *db = DB(st)->db;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* journal_mode is the first statement that reads the file: a non-database fails here */
    int rc = exec(st, "PRAGMA journal_mode = WAL", "opening the database");
    if (rc == 0) rc = exec(st, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    if (rc == 0) rc = exec(st, "PRAGMA synchronous = FULL", "configuring durability");
    return rc;
}

pt_store *pt_store_open_sqlite(const char *data_dir, pt_store_error *err)
{
    pt_sqlite *s = calloc(1, sizeof *s);
    if (!s) {
        *err = (pt_store_error){.code = PT_STORE_ENOMEM, .message = "out of memory"};
        return NULL;
    }
    s->base.be = &sqlite_backend;
    build_select_cols(s);
    int rc = prepare_files(s, data_dir);
    if (rc == 0) {
        int r = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
        rc = r == SQLITE_OK ? 0 : sql_fail(&s->base, r, -1, "opening the database");
    }
    if (rc == 0) rc = configure(&s->base);
    if (rc == 0) rc = migrate(&s->base);
    if (rc) {
        *err = s->base.err;
        be_close(&s->base);
        return NULL;
    }
    memset(&s->base.err, 0, sizeof s->base.err);
    return &s->base;
}

sqlite3 *pt__store_sqlite_db(pt_store *st) { return st->be == &sqlite_backend ? DB(st)->db : NULL; }
