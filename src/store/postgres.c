/* postgres.c: the PostgreSQL backend of the store (see backend.h), for several nodes sharing
 * one database. One connection per handle, reconnected with backoff when it is lost; every
 * write transaction takes one advisory lock (the writers queue as SQLite's do) and its
 * commit NOTIFYs the new store version to every node listening (pt_store_watch). Statements
 * are built only from the constant names in schema.c and take values as parameters. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "store/backend.h"
#include "store/migrations.h"
#include "store/pg_sql.h"

#define SQL_MAX 4096
#define MAX_PARAMS 40
#define CONNECT_TIMEOUT_S "3"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* advisory lock keys: any two constants Portico alone uses */
#define LOCK_MIGRATE "7270001"
#define LOCK_WRITE "7270002"
#define CHANNEL "portico_store"

typedef struct pt_pg {
    pt_store base;          /* first: the front's part */
    PGconn *conn;
    char *url;
    char shown[256];        /* the URL without its password: for messages */
    char select_cols[PT_KIND_COUNT][1024];
    int64_t retry_at_ms;    /* no reconnect before this while the server is away */
    unsigned backoff_ms;
} pt_pg;

static pt_pg *PG(pt_store *st) { return (pt_pg *)st; }

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

/* The server's notices (a FATAL as it shuts down) would go to stderr raw; the store
 * reports what matters through its errors instead. */
static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A connection to url with our timeout and name (the URL's own settings win). */
static PGconn *connect_url(const char *url)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT_S, "portico", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c) PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

/* One line of libpq's message, without its trailing newline. */
static void conn_message(PGconn *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c ? PQerrorMessage(c) : "out of memory");
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = 0;
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
}

static int unavailable(pt_store *st)
{
    char why[200];
    conn_message(PG(st)->conn, why, sizeof why);
    return pt__store_fail(st, PT_STORE_EUNAVAIL, NULL, "the PostgreSQL server %s cannot be reached (%s); "
                          "nothing was written, try again when it is back", PG(st)->shown, why);
}

/* A usable connection: reconnects a lost one outside a transaction, at most once per
 * backoff period so a server that is away costs a caller no more than one timeout. */
static int ensure(pt_store *st)
{
    pt_pg *p = PG(st);
    if (PQstatus(p->conn) == CONNECTION_OK) return 0;
    if (st->depth) return unavailable(st); /* the transaction died with the connection */
    int64_t now = now_ms();
    if (now < p->retry_at_ms) return unavailable(st);
    PQreset(p->conn);
    if (PQstatus(p->conn) == CONNECTION_OK) {
        p->backoff_ms = 0;
        return 0;
    }
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (p->backoff_ms > BACKOFF_MAX_MS) p->backoff_ms = BACKOFF_MAX_MS;
    p->retry_at_ms = now_ms() + p->backoff_ms;
    return unavailable(st);
}

/* ---- errors ---- */

static int pg_fail(pt_store *st, const PGresult *r, pt_store_kind kind, const char *what)
{
    PGconn *c = PG(st)->conn;
    bool lost = PQstatus(c) != CONNECTION_OK;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = pt__store_pg_code(state, lost || !r);
    if (code == PT_STORE_EUNAVAIL) return unavailable(st);
    const char *obj = kind >= 0 && kind < PT_KIND_COUNT ? pt_store_kinds[kind].name : "object";
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg) msg = "unknown error";
    char field[64];
    switch (code) {
    case PT_STORE_ECONFLICT:
        pt__store_pg_unique_field(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), field, sizeof field);
        return pt__store_fail(st, code, field, "%s: a %s with this %s already exists", field, obj, field);
    case PT_STORE_EREF:
        return pt__store_fail(st, code, NULL, "%s refers to a missing object, or is still referred to", obj);
    case PT_STORE_EFULL:
        return pt__store_fail(st, code, NULL, "the database server's disk is full: the %s was not saved", what);
    case PT_STORE_EINVAL:
        return pt__store_fail(st, code, NULL, "%s: %s", obj, msg);
    }
    return pt__store_fail(st, code, NULL, "%s: %s", what, msg);
}

/* ---- statements ---- */

/* Parameters in text form, except hashes (32 raw bytes). */
typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    char *owned[MAX_PARAMS];
    char num[MAX_PARAMS][40];
} params;

static void params_free(params *ps)
{
    for (int i = 0; i < ps->n; i++) free(ps->owned[i]);
}

static void param_int(params *ps, int64_t v)
{
    int i = ps->n++;
    snprintf(ps->num[i], sizeof ps->num[i], "%lld", (long long)v);
    ps->v[i] = ps->num[i];
}

static int param_value(pt_store *st, params *ps, const pt_store_col *col, const json_t *v)
{
    int i = ps->n++;
    if (!v || json_is_null(v)) return 0;
    switch (col->type) {
    case PT_COL_TEXT: case PT_COL_NAME: case PT_COL_ENUM:
        ps->v[i] = json_string_value(v);
        return 0;
    case PT_COL_TIME: case PT_COL_REF: case PT_COL_INT:
        ps->n--;
        param_int(ps, json_integer_value(v));
        return 0;
    case PT_COL_BOOL:
        ps->v[i] = json_is_true(v) ? "1" : "0";
        return 0;
    case PT_COL_JSON:
        if (!(ps->owned[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
            return pt__store_fail(st, PT_STORE_ENOMEM, col->name, "out of memory");
        ps->v[i] = ps->owned[i];
        return 0;
    case PT_COL_HASH:
        if (pt__store_unhex(json_string_value(v), json_string_length(v), (unsigned char *)ps->num[i], 32) != 0)
            return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be 64 hex digits", col->name);
        ps->v[i] = ps->num[i];
        ps->len[i] = 32;
        ps->fmt[i] = 1;
        return 0;
    }
    return 0;
}

/* Outside a transaction a statement that found its connection dead (the server restarted
 * since the last one) ran nowhere: it is tried once more on a new connection. */
static bool retry_on_new_connection(pt_store *st, PGresult **r)
{
    if (st->depth || PQstatus(PG(st)->conn) == CONNECTION_OK) return false;
    if (ensure(st) != 0) return false;
    PQclear(*r);
    *r = NULL;
    return true;
}

/* Runs sql with ps (none when ps is NULL: several statements allowed). */
static PGresult *send(pt_store *st, const char *sql, const params *ps)
{
    if (!ps) return PQexec(PG(st)->conn, sql);
    return PQexecParams(PG(st)->conn, sql, ps->n, NULL, ps->v, ps->len, ps->fmt, 0);
}

/* Runs sql with ps; *out the result when it succeeded (the caller clears it). */
static int run(pt_store *st, const char *sql, const params *ps, pt_store_kind kind, const char *what, PGresult **out)
{
    *out = NULL;
    int rc = ensure(st);
    if (rc) return rc;
    PGresult *r = send(st, sql, ps);
    if (PQresultStatus(r) == PGRES_FATAL_ERROR && retry_on_new_connection(st, &r)) r = send(st, sql, ps);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        *out = r;
        return 0;
    }
    rc = pg_fail(st, r, kind, what);
    PQclear(r);
    return rc;
}

/* Runs constant statements (several allowed) that return nothing the caller reads. */
static int exec(pt_store *st, const char *sql, const char *what)
{
    PGresult *r;
    int rc = run(st, sql, NULL, -1, what, &r);
    PQclear(r);
    return rc;
}


static int param_masked(pt_store *st, params *ps, pt_store_kind kind, uint32_t mask, const json_t *obj)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    int rc = 0;
    for (size_t c = 0; rc == 0 && c < d->ncols; c++)
        if (mask & 1u << c) rc = param_value(st, ps, &d->cols[c], json_object_get(obj, d->cols[c].name));
    return rc;
}

static int64_t int_at(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? 0 : strtoll(PQgetvalue(r, row, i), NULL, 10);
}

static json_t *column_value(const PGresult *r, int row, int i, pt_store_coltype type)
{
    if (PQgetisnull(r, row, i)) return json_null();
    const char *t = PQgetvalue(r, row, i);
    json_t *v = NULL;
    switch (type) {
    case PT_COL_TEXT: case PT_COL_NAME: case PT_COL_ENUM: case PT_COL_HASH: /* hashes selected as hex */
        v = json_stringn(t, (size_t)PQgetlength(r, row, i));
        break;
    case PT_COL_TIME: case PT_COL_REF: case PT_COL_INT:
        v = json_integer(strtoll(t, NULL, 10));
        break;
    case PT_COL_BOOL:
        v = json_boolean(strtoll(t, NULL, 10) != 0);
        break;
    case PT_COL_JSON:
        v = json_loads(t, JSON_DECODE_ANY, NULL);
        break;
    }
    return v ? v : json_null();
}

/* One row selected with select_cols[kind] as an object. */
static json_t *row_object(const PGresult *r, int row, pt_store_kind kind)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    json_t *o = json_object();
    int i = 0;
    json_object_set_new(o, "id", json_integer(int_at(r, row, i++)));
    json_object_set_new(o, "created_at", json_integer(int_at(r, row, i++)));
    if (!d->append_only) {
        json_object_set_new(o, "updated_at", json_integer(int_at(r, row, i++)));
        json_object_set_new(o, "version", json_integer(int_at(r, row, i++)));
    }
    for (size_t c = 0; c < d->ncols; c++)
        json_object_set_new(o, d->cols[c].name, column_value(r, row, i++, d->cols[c].type));
    return o;
}

static void build_select_cols(pt_pg *p)
{
    for (int k = 0; k < PT_KIND_COUNT; k++) {
        const pt_store_kind_desc *d = &pt_store_kinds[k];
        char *s = p->select_cols[k];
        size_t cap = sizeof p->select_cols[k], n;
        n = (size_t)snprintf(s, cap, "\"id\", \"created_at\"%s", d->append_only ? "" : ", \"updated_at\", \"version\"");
        for (size_t c = 0; c < d->ncols && n < cap; c++)
            n += (size_t)snprintf(s + n, cap - n, d->cols[c].type == PT_COL_HASH ? ", encode(\"%s\", 'hex')" : ", \"%s\"",
                                  d->cols[c].name);
    }
}

/* ---- metadata and transactions ---- */

static int one_int(pt_store *st, const char *sql, int64_t *out)
{
    PGresult *r;
    int rc = run(st, sql, NULL, -1, "reading store metadata", &r);
    if (rc) return rc;
    if (PQntuples(r) == 1) *out = int_at(r, 0, 0);
    else rc = pt__store_fail(st, PT_STORE_ECORRUPT, NULL, "%s holds no Portico store metadata", PG(st)->shown);
    PQclear(r);
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

/* The new version goes to every listening node when (and only if) the transaction commits. */
static int be_bump_version(pt_store *st)
{
    return exec(st,
                "WITH v AS (UPDATE store_meta SET value = value + 1 WHERE key = 'store_version' RETURNING value) "
                "SELECT pg_notify('" CHANNEL "', value::text) FROM v",
                "saving the change");
}

static int be_begin(pt_store *st, bool write)
{
    return exec(st, write ? "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_WRITE ")" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                "starting a transaction");
}

/* Ending a transaction on a lost connection: nothing to undo, the server did it. */
static int end_txn(pt_store *st, const char *sql, const char *what)
{
    if (PQstatus(PG(st)->conn) != CONNECTION_OK) return strcmp(sql, "COMMIT") == 0 ? unavailable(st) : 0;
    PGresult *r = PQexec(PG(st)->conn, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = s == PGRES_COMMAND_OK ? 0 : pg_fail(st, r, -1, what);
    PQclear(r);
    return rc;
}

static int be_commit(pt_store *st) { return end_txn(st, "COMMIT", "committing"); }
static int be_rollback(pt_store *st) { return end_txn(st, "ROLLBACK", "rolling back"); }
static int be_savepoint(pt_store *st) { return exec(st, "SAVEPOINT w", "starting a write"); }
static int be_release(pt_store *st) { return end_txn(st, "RELEASE SAVEPOINT w", "finishing a write"); }
static int be_rollback_to(pt_store *st) { return end_txn(st, "ROLLBACK TO SAVEPOINT w", "undoing a write"); }

/* ---- objects ---- */

static int be_insert(pt_store *st, pt_store_kind kind, const json_t *fields, int64_t now, int64_t *id)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = pt__store_column_mask(kind, fields);
    char sql[SQL_MAX], vals[512];
    int np = d->append_only ? 1 : 2;
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (\"created_at\"%s", d->table,
                                d->append_only ? "" : ", \"updated_at\"");
    size_t nv = (size_t)snprintf(vals, sizeof vals, d->append_only ? "$1" : "$1, $2");
    for (size_t c = 0; c < d->ncols; c++) {
        if (!(mask & 1u << c)) continue;
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", d->cols[c].name);
        nv += (size_t)snprintf(vals + nv, sizeof vals - nv, ", $%d", ++np);
    }
    snprintf(sql + n, sizeof sql - n, ") VALUES (%s) RETURNING \"id\"", vals);
    params ps = {0};
    param_int(&ps, now);
    if (!d->append_only) param_int(&ps, now);
    int rc = param_masked(st, &ps, kind, mask, fields);
    PGresult *r = NULL;
    if (rc == 0) rc = run(st, sql, &ps, kind, "write", &r);
    if (rc == 0) *id = int_at(r, 0, 0);
    PQclear(r);
    params_free(&ps);
    return rc;
}

static bool touched_none(PGresult *r) { return strcmp(PQcmdTuples(r), "0") == 0; }

static int be_update(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version, const json_t *fields, int64_t now)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = pt__store_column_mask(kind, fields);
    char sql[SQL_MAX];
    int np = 0;
    size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE \"%s\" SET ", d->table);
    for (size_t c = 0; c < d->ncols; c++)
        if (mask & 1u << c) n += (size_t)snprintf(sql + n, sizeof sql - n, "\"%s\" = $%d, ", d->cols[c].name, ++np);
    n += (size_t)snprintf(sql + n, sizeof sql - n, "\"updated_at\" = $%d, \"version\" = \"version\" + 1 WHERE \"id\" = $%d",
                          np + 1, np + 2);
    if (if_version > 0) snprintf(sql + n, sizeof sql - n, " AND \"version\" = $%d", np + 3);
    params ps = {0};
    int rc = param_masked(st, &ps, kind, mask, fields);
    param_int(&ps, now);
    param_int(&ps, id);
    if (if_version > 0) param_int(&ps, if_version);
    PGresult *r = NULL;
    if (rc == 0) rc = run(st, sql, &ps, kind, "change", &r);
    if (rc == 0 && touched_none(r))
        rc = pt__store_fail(st, if_version > 0 ? PT_STORE_ESTALE : PT_STORE_ENOTFOUND, "version",
                            "%s %lld changed or went away meanwhile", d->name, (long long)id);
    PQclear(r);
    params_free(&ps);
    return rc;
}

static int be_remove(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"id\" = $1%s", pt_store_kinds[kind].table,
             if_version > 0 ? " AND \"version\" = $2" : "");
    params ps = {0};
    param_int(&ps, id);
    if (if_version > 0) param_int(&ps, if_version);
    PGresult *r;
    int rc = run(st, sql, &ps, kind, "deletion", &r);
    if (rc == 0 && touched_none(r))
        rc = pt__store_fail(st, PT_STORE_ESTALE, "version", "%s %lld changed or went away meanwhile",
                            pt_store_kinds[kind].name, (long long)id);
    PQclear(r);
    return rc;
}

/* At most one row of kind from sql. */
static int one_object(pt_store *st, const char *sql, params *ps, pt_store_kind kind, json_t **out)
{
    PGresult *r;
    int rc = run(st, sql, ps, kind, "read", &r);
    if (rc) return rc;
    if (PQntuples(r) >= 1) *out = row_object(r, 0, kind);
    else rc = pt__store_fail(st, PT_STORE_ENOTFOUND, NULL, "no such %s", pt_store_kinds[kind].name);
    PQclear(r);
    return rc;
}

static int be_get(pt_store *st, pt_store_kind kind, int64_t id, json_t **out)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"id\" = $1", PG(st)->select_cols[kind],
             pt_store_kinds[kind].table);
    params ps = {0};
    param_int(&ps, id);
    return one_object(st, sql, &ps, kind, out);
}

static int be_find(pt_store *st, pt_store_kind kind, const pt_store_col *col, const json_t *value, json_t **out)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE \"%s\" = $1", PG(st)->select_cols[kind],
             pt_store_kinds[kind].table, col->name);
    params ps = {0};
    int rc = param_value(st, &ps, col, value);
    if (rc == 0) rc = one_object(st, sql, &ps, kind, out);
    params_free(&ps);
    return rc;
}

static int be_count_refs(pt_store *st, pt_store_kind kind, const pt_store_col *col, int64_t id, int64_t *count)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE \"%s\" = $1", pt_store_kinds[kind].table, col->name);
    params ps = {0};
    param_int(&ps, id);
    PGresult *r;
    int rc = run(st, sql, &ps, kind, "read", &r);
    if (rc == 0) *count = int_at(r, 0, 0);
    PQclear(r);
    return rc;
}

static int be_list(pt_store *st, pt_store_kind kind, const json_t *filter, int64_t after_id, unsigned limit,
                   bool newest_first, json_t *items)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = pt__store_column_mask(kind, filter);
    char sql[SQL_MAX];
    int np = 0;
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" WHERE true", PG(st)->select_cols[kind], d->table);
    for (size_t c = 0; c < d->ncols; c++)
        if (mask & 1u << c) n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"%s\" = $%d", d->cols[c].name, ++np);
    if (after_id) n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"id\" %s $%d", newest_first ? "<" : ">", ++np);
    snprintf(sql + n, sizeof sql - n, " ORDER BY \"id\" %s LIMIT $%d", newest_first ? "DESC" : "ASC", np + 1);
    params ps = {0};
    int rc = param_masked(st, &ps, kind, mask, filter);
    if (after_id) param_int(&ps, after_id);
    param_int(&ps, limit);
    PGresult *r = NULL;
    if (rc == 0) rc = run(st, sql, &ps, kind, "list", &r);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) json_array_append_new(items, row_object(r, i, kind));
    PQclear(r);
    params_free(&ps);
    return rc;
}

static int be_scan(pt_store *st, pt_store_kind kind, pt_store_obj_cb cb, void *ctx)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" ORDER BY \"id\"", PG(st)->select_cols[kind],
             pt_store_kinds[kind].table);
    PGresult *r;
    int rc = run(st, sql, NULL, kind, "scan", &r);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *o = row_object(r, i, kind);
        rc = cb(ctx, o);
        json_decref(o);
    }
    PQclear(r);
    return rc;
}

/* Runs sql and hands each row to per_row; stops at the first non-zero return. */
static int scan_rows(pt_store *st, const char *sql, int (*per_row)(const PGresult *, int, void *, void *), void *cb,
                     void *ctx)
{
    PGresult *r;
    int rc = run(st, sql, NULL, -1, "scan", &r);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) rc = per_row(r, i, cb, ctx);
    PQclear(r);
    return rc;
}

static const char *text_or_null(const PGresult *r, int row, int i)
{
    return PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
}

static int consumer_row(const PGresult *r, int i, void *cb, void *ctx)
{
    pt_store_consumer_row row = {int_at(r, i, 0), int_at(r, i, 1), PQgetvalue(r, i, 2)};
    return ((pt_store_consumer_cb)cb)(ctx, &row);
}

static int key_row(const PGresult *r, int i, void *cb, void *ctx)
{
    unsigned char hash[32];
    if (pt__store_unhex(PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3), hash, sizeof hash) != 0)
        return 0; /* the schema's CHECK makes this unreachable */
    pt_store_key_row row = {int_at(r, i, 0), int_at(r, i, 1), PQgetvalue(r, i, 2), hash,
                            int_at(r, i, 4), int_at(r, i, 5), text_or_null(r, i, 6)};
    return ((pt_store_key_cb)cb)(ctx, &row);
}

static int sub_row(const PGresult *r, int i, void *cb, void *ctx)
{
    pt_store_sub_row row = {int_at(r, i, 0), int_at(r, i, 1), int_at(r, i, 2), PQgetvalue(r, i, 3)};
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
                     "SELECT id, consumer_id, prefix, encode(hash, 'hex'), expires_at, revoked_at, allowed_models "
                     "FROM keys ORDER BY id",
                     key_row, (void *)cb, ctx);
}

static int be_scan_subscriptions(pt_store *st, pt_store_sub_cb cb, void *ctx)
{
    return scan_rows(st,
                     "SELECT id, consumer_id, service_id, state FROM subscriptions WHERE state <> 'cancelled' ORDER BY id",
                     sub_row, (void *)cb, ctx);
}

/* PostgreSQL checks its own pages; what is left to see is that the store answers. */
static int be_check(pt_store *st)
{
    int64_t v;
    return be_version(st, &v);
}

static int be_node_beat(pt_store *st, const pt_store_node *n, int schema_version, int64_t now)
{
    params ps = {0};
    const char *texts[] = {n->id, n->address, n->admin_address, n->version};
    for (int i = 0; i < 4; i++) ps.v[ps.n++] = texts[i];
    param_int(&ps, n->store_version);
    param_int(&ps, schema_version);
    ps.v[ps.n++] = n->health;
    param_int(&ps, n->started_at);
    param_int(&ps, now);
    param_int(&ps, n->beat_ms);
    PGresult *r;
    int rc = run(st, PT__STORE_NODE_UPSERT, &ps, -1, "the node's heartbeat", &r);
    PQclear(r);
    return rc;
}

static int be_nodes(pt_store *st, json_t *items)
{
    PGresult *r;
    int rc = run(st, PT__STORE_NODE_LIST, NULL, -1, "reading the nodes", &r);
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        json_t *o = json_object();
        for (int i = 0; i < PQnfields(r); i++) {
            json_t *v = PQgetisnull(r, row, i)        ? json_null()
                        : PT__STORE_NODE_INT_COL(i) ? json_integer(int_at(r, row, i))
                                                    : json_string(PQgetvalue(r, row, i));
            json_object_set_new(o, PQfname(r, i), v);
        }
        json_array_append_new(items, o);
    }
    PQclear(r);
    return rc;
}

static int be_resp_put(pt_store *st, const pt_store_response *r)
{
    params ps = {0};
    ps.v[ps.n++] = r->id;
    ps.v[ps.n++] = r->consumer;
    param_int(&ps, r->created_at);
    param_int(&ps, r->expires_at);
    ps.v[ps.n++] = r->model;
    ps.v[ps.n++] = r->input;
    ps.v[ps.n++] = r->response;
    PGresult *res;
    int rc = run(st, PT__STORE_RESP_PUT, &ps, -1, "stored response", &res);
    if (!rc && PQntuples(res) == 0)
        rc = pt__store_fail(st, PT_STORE_ECONFLICT, "id", "id: a response with this id already exists");
    PQclear(res);
    return rc;
}

static int be_resp_get(pt_store *st, const char *id, pt_store_response *out)
{
    params ps = {0};
    ps.v[ps.n++] = id;
    PGresult *r;
    int rc = run(st, PT__STORE_RESP_GET, &ps, -1, "reading a stored response", &r);
    if (!rc && PQntuples(r) == 0) rc = PT_STORE_ENOTFOUND;
    if (!rc) {
        *out = (pt_store_response){.id = strdup(id), .consumer = strdup(PQgetvalue(r, 0, 0)), .created_at = int_at(r, 0, 1),
                                   .expires_at = int_at(r, 0, 2), .model = strdup(PQgetvalue(r, 0, 3)),
                                   .input = strdup(PQgetvalue(r, 0, 4)), .response = strdup(PQgetvalue(r, 0, 5))};
        if (!out->id || !out->consumer || !out->model || !out->input || !out->response)
            rc = pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    }
    PQclear(r);
    return rc;
}

static int be_resp_delete(pt_store *st, const char *id, const char *consumer, int64_t *n)
{
    params ps = {0};
    ps.v[ps.n++] = id;
    ps.v[ps.n++] = consumer;
    PGresult *r;
    int rc = run(st, PT__STORE_RESP_DELETE, &ps, -1, "deleting a stored response", &r);
    if (!rc) *n = PQntuples(r);
    PQclear(r);
    return rc;
}

static int be_resp_prune(pt_store *st, int64_t now, int64_t *n)
{
    params ps = {0};
    param_int(&ps, now);
    PGresult *r;
    int rc = run(st, PT__STORE_RESP_PRUNE, &ps, -1, "pruning stored responses", &r);
    if (!rc) *n = PQntuples(r);
    PQclear(r);
    return rc;
}

static int be_clear(pt_store *st)
{
    char sql[SQL_MAX];
    size_t n = (size_t)snprintf(sql, sizeof sql, "TRUNCATE ");
    for (int k = 0; k < PT_KIND_COUNT; k++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", k ? ", " : "", pt_store_kinds[k].table);
    snprintf(sql + n, sizeof sql - n, " RESTART IDENTITY CASCADE");
    return exec(st, sql, "emptying the target");
}

static int be_load(pt_store *st, pt_store_kind kind, const json_t *row)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    static const char *const managed[] = {"id", "created_at", "updated_at", "version"};
    int nmanaged = d->append_only ? 2 : 4, np = 0;
    char sql[SQL_MAX], vals[512];
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (", d->table), nv = 0;
    params ps = {0};
    for (int i = 0; i < nmanaged; i++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "", managed[i]);
        nv += (size_t)snprintf(vals + nv, sizeof vals - nv, "%s$%d", i ? ", " : "", ++np);
        param_int(&ps, json_integer_value(json_object_get(row, managed[i])));
    }
    int rc = 0;
    for (size_t c = 0; rc == 0 && c < d->ncols; c++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", d->cols[c].name);
        nv += (size_t)snprintf(vals + nv, sizeof vals - nv, ", $%d", ++np);
        rc = param_value(st, &ps, &d->cols[c], json_object_get(row, d->cols[c].name));
    }
    snprintf(sql + n, sizeof sql - n, ") VALUES (%s)", vals);
    PGresult *r = NULL;
    if (rc == 0) rc = run(st, sql, &ps, kind, "copy", &r);
    PQclear(r);
    params_free(&ps);
    return rc;
}

/* Each identity sequence past the source's last id and the highest copied: new objects
 * never reuse an id, not even a deleted one's. */
static int be_loaded(pt_store *st, const int64_t last_id[PT_KIND_COUNT])
{
    int rc = 0;
    for (int k = 0; rc == 0 && k < PT_KIND_COUNT; k++) {
        char sql[512];
        const char *t = pt_store_kinds[k].table;
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('\"%s\"', 'id'), greatest(coalesce(max(\"id\"), 0), %lld) + 1, "
                 "false) FROM \"%s\"",
                 t, (long long)last_id[k], t);
        rc = exec(st, sql, "advancing the ids");
    }
    return rc;
}

static int be_last_id(pt_store *st, pt_store_kind kind, int64_t *out)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(\"id\"), 0) FROM \"%s\"", pt_store_kinds[kind].table);
    return one_int(st, sql, out);
}

static void be_close(pt_store *st)
{
    pt_pg *p = PG(st);
    PQfinish(p->conn);
    free(p->url);
    free(p);
}

static const pt__store_backend pg_backend = {
    .name = "postgres",
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
    .clear = be_clear,
    .load = be_load,
    .loaded = be_loaded,
    .last_id = be_last_id,
};

/* ---- opening and migrating ---- */

static int apply(pt_store *st, const pt__store_migration *m)
{
    char *sql = m->pg_sql ? NULL : pt__store_pg_dialect(m->sql);
    if (!m->pg_sql && !sql) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    int rc = exec(st, "BEGIN", "migrating the schema");
    if (rc == 0) rc = exec(st, m->pg_sql ? m->pg_sql : sql, "migrating the schema");
    free(sql);
    params ps = {0};
    param_int(&ps, m->version);
    ps.v[ps.n++] = m->name;
    param_int(&ps, (int64_t)time(NULL));
    PGresult *r = NULL;
    if (rc == 0)
        rc = run(st, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", &ps, -1,
                 "migration record", &r);
    PQclear(r);
    if (rc == 0) rc = be_commit(st);
    if (rc) {
        pt_store_error saved = st->err;
        be_rollback(st);
        return pt__store_fail(st, saved.code, NULL, "migration %d (%s) failed: %s", m->version, m->name, saved.message);
    }
    return 0;
}

/* Pending migrations, one node at a time: the others wait on the lock, then find nothing
 * left to do. */
static int migrate(pt_store *st)
{
    int rc = exec(st, "SELECT pg_advisory_lock(" LOCK_MIGRATE ")", "waiting for other nodes' migrations");
    if (rc) return rc;
    rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at BIGINT NOT NULL)", "creating the migrations table");
    int have = 0, latest = pt_store_schema_latest();
    if (rc == 0) rc = be_schema_version(st, &have);
    if (rc == 0 && have > latest)
        rc = pt__store_fail(st, PT_STORE_ENEWER, NULL,
                            "the database %s has schema version %d but this portico knows versions up to %d: "
                            "upgrade this node to the version the other nodes run",
                            PG(st)->shown, have, latest);
    for (int i = 0; rc == 0 && i < pt__store_nmigrations; i++)
        if (pt__store_migrations[i].version > have) rc = apply(st, &pt__store_migrations[i]);
    if (rc == 0 && have < latest) {
        st->migrated_from = have;
        st->migrated_to = latest;
    }
    pt_store_error saved = st->err;
    exec(st, "SELECT pg_advisory_unlock(" LOCK_MIGRATE ")", "releasing the migration lock");
    st->err = saved;
    return rc;
}

static pt_pg *pg_new(const char *url, pt_store_error *err)
{
    pt_pg *p = calloc(1, sizeof *p);
    if (p) p->url = strdup(url);
    if (!p || !p->url) {
        free(p);
        *err = (pt_store_error){.code = PT_STORE_ENOMEM, .message = "out of memory"};
        return NULL;
    }
    pt_store_pg_url_redact(url, p->shown, sizeof p->shown);
    return p;
}

pt_store *pt_store_open_postgres(const char *url, pt_store_error *err)
{
    char why[160];
    if (pt_store_pg_url_check(url, why, sizeof why) != 0) {
        *err = (pt_store_error){.code = PT_STORE_EOPEN};
        snprintf(err->field, sizeof err->field, "postgres");
        snprintf(err->message, sizeof err->message, "store.postgres: %s", why);
        return NULL;
    }
    pt_pg *p = pg_new(url, err);
    if (!p) return NULL;
    p->base.be = &pg_backend;
    build_select_cols(p);
    p->conn = connect_url(url);
    int rc = PQstatus(p->conn) == CONNECTION_OK ? 0 : unavailable(&p->base);
    if (rc == 0) rc = exec(&p->base, "SET client_min_messages = warning", "configuring the session");
    if (rc == 0) rc = migrate(&p->base);
    if (rc) {
        *err = p->base.err;
        be_close(&p->base);
        return NULL;
    }
    memset(&p->base.err, 0, sizeof p->base.err);
    return &p->base;
}

/* ---- watching for other nodes' writes ---- */

struct pt_store_watch {
    PGconn *conn;
    char shown[256];
};

pt_store_watch *pt_store_watch_open(const char *url, char *why, size_t cap)
{
    pt_store_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    pt_store_pg_url_redact(url, w->shown, sizeof w->shown);
    w->conn = connect_url(url);
    PGresult *r = PQstatus(w->conn) == CONNECTION_OK ? PQexec(w->conn, "LISTEN " CHANNEL) : NULL;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[200];
        conn_message(w->conn, msg, sizeof msg);
        snprintf(why, cap, "the PostgreSQL server %s cannot be reached (%s)", w->shown, msg);
        PQclear(r);
        pt_store_watch_close(w);
        return NULL;
    }
    PQclear(r);
    return w;
}

int pt_store_watch_wait(pt_store_watch *w, int wake_fd, int timeout_ms, int64_t *version)
{
    *version = 0;
    int got = 0;
    for (;;) {
        if (PQconsumeInput(w->conn) == 0 || PQstatus(w->conn) != CONNECTION_OK) return -1;
        PGnotify *n;
        while ((n = PQnotifies(w->conn)) != NULL) {
            int64_t v = strtoll(n->extra, NULL, 10);
            if (v > *version) *version = v;
            got = 1;
            PQfreemem(n);
        }
        if (got) return 1;
        struct pollfd fds[2] = {{PQsocket(w->conn), POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int r = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
        if (r == 0) return 0;
        if (r < 0) continue;
        if (wake_fd >= 0 && fds[1].revents) return -2;
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL) && !(fds[0].revents & POLLIN)) return -1;
    }
}

void pt_store_watch_close(pt_store_watch *w)
{
    if (!w) return;
    PQfinish(w->conn);
    free(w);
}
