/* Unit tests for store/: opening and migrating, refusing newer or foreign databases, CRUD of
 * every kind with the errors that name their field, pagination, the store version,
 * transactions, hostile text, audit redaction and a full disk. Every test that does not
 * look at SQLite's files runs again on PostgreSQL: a throwaway server started here with
 * scripts/pg.sh, its database emptied before each test; skipped only when the server's
 * binaries are not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store_fixture.h"

/* ---- PostgreSQL: one server and one migrated database for the run, emptied before each test ---- */

static char pg_dir[64], pg_url[160]; /* the server's directory; the store's database */
static char *pg_reset;                /* SQL that puts the database back as migrated */

/* Runs a function of scripts/pg.sh ("pg_start DIR PORT", ...) in bash; its exit status. */
static int pg_script(const char *call)
{
    const char *root = getenv("PORTICO_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash -c '. \"%s/scripts/pg.sh\" && %s' >&2", root ? root : ".", call);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                       getsockname(fd, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port) : -1;
    if (fd >= 0) close(fd);
    return port;
}

/* Runs sql on the test database: its one value as a new string ("" for none), or NULL. */
static char *pg_sql(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    char *out = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = strdup(PQgetvalue(r, 0, 0));
    else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) out = strdup("");
    else fprintf(stderr, "%.80s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

static int pg_group_setup(void **state)
{
    (void)state;
    snprintf(pg_dir, sizeof pg_dir, "/tmp/pt-pg-XXXXXX");
    int port = free_port();
    if (!mkdtemp(pg_dir) || port < 0) return -1;
    char call[256];
    snprintf(call, sizeof call, "PG_OPTS=\"-c fsync=off\" pg_start %s %d", pg_dir, port);
    if (pg_script(call) != 0) {
        fprintf(stderr, "PostgreSQL did not start in %s\n", pg_dir);
        return -1;
    }
    snprintf(pg_url, sizeof pg_url, "postgres://portico@127.0.0.1:%d/portico", port);
    pt_store_error err;
    pt_store *st = pt_store_open_postgres(pg_url, &err); /* migrates it */
    if (!st) return -1;
    pt_store_close(st);
    /* every table but the migrations' emptied, ids from 1, and the metadata as it is now */
    pg_reset = pg_sql("SELECT 'TRUNCATE ' || string_agg(quote_ident(tablename), ', ') || ' RESTART IDENTITY CASCADE; '"
                      " || (SELECT string_agg(format('UPDATE store_meta SET value = %s WHERE key = %L', value, key), '; ')"
                      "     FROM store_meta)"
                      " FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'store_meta')");
    return pg_reset && pg_reset[0] ? 0 : -1;
}

static int pg_group_teardown(void **state)
{
    (void)state;
    char call[256];
    snprintf(call, sizeof call, "pg_stop %s immediate; rm -rf %s", pg_dir, pg_dir);
    pg_script(call);
    free(pg_reset);
    return 0;
}

static int pg_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->url, sizeof f->url, "%s", pg_url);
    char *done = pg_sql(pg_reset);
    pt_store_error err;
    if (!done || !(f->st = pt_store_open_postgres(f->url, &err))) {
        fprintf(stderr, "open %s: %s\n", f->url, done ? err.message : "the database could not be emptied");
        free(done);
        free(f);
        return -1;
    }
    free(done);
    *state = f;
    return 0;
}

static int pg_teardown(void **state)
{
    fixture *f = *state;
    pt_store_close(f->st);
    free(f);
    return 0;
}

/* A second handle on the fixture's store, of the same backend. */
static pt_store *open_other(const fixture *f, pt_store_error *err)
{
    return f->url[0] ? pt_store_open_postgres(f->url, err) : pt_store_open_sqlite(f->dir, err);
}

/* SELECT count(*) ... with one text parameter, run on the store's own database. */
static int64_t raw_count(const fixture *f, const char *sql, const char *param)
{
    if (!f->url[0]) {
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(pt__store_sqlite_db(f->st), sql, -1, &q, NULL), SQLITE_OK);
        if (param) sqlite3_bind_text(q, 1, param, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int64_t n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        return n;
    }
    char pgsql[512];
    snprintf(pgsql, sizeof pgsql, "%s", sql);
    char *qm = strchr(pgsql, '?');
    if (qm) memmove(qm + 2, qm + 1, strlen(qm + 1) + 1), qm[0] = '$', qm[1] = '1';
    PGconn *c = PQconnectdb(f->url);
    PGresult *r = PQexecParams(c, pgsql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fprintf(stderr, "%s: %s\n", pgsql, PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

#define ST (((fixture *)*state)->st)
#define ERR (pt_store_last_error(ST))

static int64_t version_of(pt_store *st)
{
    int64_t v = -1;
    assert_int_equal(pt_store_version(st, &v), 0);
    return v;
}

static json_t *get(pt_store *st, pt_store_kind kind, int64_t id)
{
    json_t *o = NULL;
    assert_int_equal(pt_store_get(st, kind, id, &o), 0);
    return o;
}

static const char *str_of(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static int64_t int_of(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* A team, a service and a consumer, the frame most other objects hang on. */
typedef struct world { int64_t team, service, consumer, user; } world;

static world make_world(pt_store *st)
{
    world w;
    w.team = must_insert(st, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    char buf[256];
    snprintf(buf, sizeof buf, "{\"name\":\"echo\",\"team_id\":%lld,\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:9001\"],\"approval\":\"manual\"}",
             (long long)w.team);
    w.service = must_insert(st, PT_KIND_SERVICE, buf);
    snprintf(buf, sizeof buf, "{\"name\":\"app\",\"team_id\":%lld}", (long long)w.team);
    w.consumer = must_insert(st, PT_KIND_CONSUMER, buf);
    snprintf(buf, sizeof buf, "{\"name\":\"alice\",\"password_hash\":\"$argon2id$x\",\"role\":\"team_admin\",\"team_id\":%lld}",
             (long long)w.team);
    w.user = must_insert(st, PT_KIND_USER, buf);
    return w;
}

/* ---- opening ---- */

static void fresh_dir_is_private_and_migrated(void **state)
{
    fixture *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->dir, &sb), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/portico.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    int v = 0;
    assert_int_equal(pt_store_schema_version(ST, &v), 0);
    assert_int_equal(v, pt_store_schema_latest());
    assert_int_equal(version_of(ST), 0);
    assert_int_equal(pt_store_check(ST), 0);
}

static void new_data_dir_is_created_0700(void **state)
{
    fixture *f = *state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/inner", f->dir);
    pt_store_error err;
    pt_store *st = pt_store_open_sqlite(sub, &err);
    assert_non_null(st);
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    pt_store_close(st);
}

static void reopen_keeps_objects_and_runs_no_migration_twice(void **state)
{
    fixture *f = *state;
    int64_t id = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"kept\"}");
    pt_store_close(f->st);
    pt_store_error err;
    f->st = pt_store_open_sqlite(f->dir, &err);
    assert_non_null(f->st);
    json_t *o = get(ST, PT_KIND_TEAM, id);
    assert_string_equal(str_of(o, "name"), "kept");
    json_decref(o);
    int64_t n = -1;
    sqlite3_stmt *q;
    sqlite3_prepare_v2(pt__store_sqlite_db(ST), "SELECT count(*) FROM schema_migrations", -1, &q, NULL);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    assert_int_equal(n, pt_store_schema_latest());
    assert_int_equal(version_of(ST), 1);
}

static void newer_schema_is_refused_with_a_clear_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(sqlite3_exec(pt__store_sqlite_db(ST),
                                  "INSERT INTO schema_migrations VALUES (999, 'from the future', 0)", NULL, NULL, NULL),
                     SQLITE_OK);
    pt_store_close(f->st);
    pt_store_error err;
    f->st = pt_store_open_sqlite(f->dir, &err);
    assert_null(f->st);
    assert_int_equal(err.code, PT_STORE_ENEWER);
    assert_non_null(strstr(err.message, "schema version 999"));
    assert_non_null(strstr(err.message, "newer portico"));
    f->st = NULL;
    /* leave a store for the teardown */
    assert_int_equal(remove(strcat(strcpy((char[128]){0}, f->dir), "/portico.db")), 0);
    char p[128];
    snprintf(p, sizeof p, "%s/portico.db-wal", f->dir); remove(p);
    snprintf(p, sizeof p, "%s/portico.db-shm", f->dir); remove(p);
    f->st = pt_store_open_sqlite(f->dir, &err);
    assert_non_null(f->st);
}

static void a_file_that_is_not_a_database_is_refused(void **state)
{
    fixture *f = *state;
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/bad", f->dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/portico.db", dir);
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 512; i++) fputs("this is not sqlite ", fp);
    fclose(fp);
    pt_store_error err;
    assert_null(pt_store_open_sqlite(dir, &err));
    assert_int_equal(err.code, PT_STORE_ECORRUPT);
    assert_non_null(strstr(err.message, "portico.db"));
}

static void data_dir_that_is_a_file_is_refused(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/plain", f->dir);
    FILE *fp = fopen(path, "w");
    fclose(fp);
    pt_store_error err;
    assert_null(pt_store_open_sqlite(path, &err));
    assert_int_equal(err.code, PT_STORE_EOPEN);
    assert_string_equal(err.field, "data_dir");
}

/* ---- CRUD and constraint errors ---- */

static void teams_crud_and_duplicate_name(void **state)
{
    int64_t id = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"red\"}");
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"red\"}"), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "name");
    assert_non_null(strstr(ERR->message, "already exists"));
    json_t *o = get(ST, PT_KIND_TEAM, id);
    assert_int_equal(int_of(o, "version"), 1);
    json_decref(o);
    json_t *ch = json_pack("{s:s}", "name", "blue");
    assert_int_equal(pt_store_update(ST, PT_KIND_TEAM, id, 1, ch, "test"), 0);
    o = get(ST, PT_KIND_TEAM, id);
    assert_string_equal(str_of(o, "name"), "blue");
    assert_int_equal(int_of(o, "version"), 2);
    json_decref(o);
    /* an ETag from before the change is refused */
    assert_int_equal(pt_store_update(ST, PT_KIND_TEAM, id, 1, ch, "test"), PT_STORE_ESTALE);
    assert_string_equal(ERR->field, "version");
    json_decref(ch);
    json_t *byname = NULL;
    json_t *name = json_string("blue");
    assert_int_equal(pt_store_find(ST, PT_KIND_TEAM, "name", name, &byname), 0);
    assert_int_equal(int_of(byname, "id"), id);
    json_decref(byname);
    json_decref(name);
    assert_int_equal(pt_store_delete(ST, PT_KIND_TEAM, id, 0, "test"), 0);
    assert_int_equal(pt_store_get(ST, PT_KIND_TEAM, id, &o), PT_STORE_ENOTFOUND);
    assert_int_equal(pt_store_delete(ST, PT_KIND_TEAM, id, 0, "test"), PT_STORE_ENOTFOUND);
}

static void users_roles_and_references(void **state)
{
    world w = make_world(ST);
    assert_int_equal(try_insert(ST, PT_KIND_USER, "{\"name\":\"alice\",\"password_hash\":\"h\",\"role\":\"admin\"}"),
                     PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "name");
    assert_int_equal(try_insert(ST, PT_KIND_USER, "{\"name\":\"bob\",\"password_hash\":\"h\",\"role\":\"root\"}"),
                     PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "role");
    assert_int_equal(try_insert(ST, PT_KIND_USER, "{\"name\":\"bob\",\"password_hash\":\"h\",\"role\":\"admin\",\"team_id\":4242}"),
                     PT_STORE_EREF);
    assert_string_equal(ERR->field, "team_id");
    assert_non_null(strstr(ERR->message, "no team with id 4242"));
    assert_int_equal(try_insert(ST, PT_KIND_USER, "{\"name\":\"bob\",\"role\":\"admin\"}"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "password_hash");
    /* an admin has no team */
    int64_t admin = must_insert(ST, PT_KIND_USER, "{\"name\":\"root\",\"password_hash\":\"h\",\"role\":\"admin\"}");
    json_t *o = get(ST, PT_KIND_USER, admin);
    assert_true(json_is_null(json_object_get(o, "team_id")));
    assert_true(json_is_false(json_object_get(o, "disabled")));
    json_decref(o);
    json_t *ch = json_pack("{s:b}", "disabled", 1);
    assert_int_equal(pt_store_update(ST, PT_KIND_USER, w.user, 0, ch, "test"), 0);
    json_decref(ch);
    o = get(ST, PT_KIND_USER, w.user);
    assert_true(json_is_true(json_object_get(o, "disabled")));
    json_decref(o);
    /* a team with members cannot go; the message names who still needs it */
    assert_int_equal(pt_store_delete(ST, PT_KIND_TEAM, w.team, 0, "test"), PT_STORE_EREF);
    assert_non_null(strstr(ERR->field, ".team_id"));
}

static void tokens_are_hashed_unique_and_immutable(void **state)
{
    world w = make_world(ST);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"user_id\":%lld,\"prefix\":\"pt_abc\",\"hash\":\"" HASH_A "\",\"expires_at\":2000000000}",
             (long long)w.user);
    int64_t id = must_insert(ST, PT_KIND_TOKEN, buf);
    assert_int_equal(try_insert(ST, PT_KIND_TOKEN, buf), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "hash");
    snprintf(buf, sizeof buf, "{\"user_id\":%lld,\"prefix\":\"pt_abc\",\"hash\":\"XYZ\"}", (long long)w.user);
    assert_int_equal(try_insert(ST, PT_KIND_TOKEN, buf), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "hash");
    json_t *ch = json_pack("{s:s}", "hash", HASH_B);
    assert_int_equal(pt_store_update(ST, PT_KIND_TOKEN, id, 0, ch, "test"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "hash");
    json_decref(ch);
    ch = json_pack("{s:I}", "last_used_at", (json_int_t)1700000000);
    assert_int_equal(pt_store_update(ST, PT_KIND_TOKEN, id, 0, ch, "test"), 0);
    json_decref(ch);
    json_t *h = json_string(HASH_A), *o = NULL;
    assert_int_equal(pt_store_find(ST, PT_KIND_TOKEN, "hash", h, &o), 0);
    assert_int_equal(int_of(o, "last_used_at"), 1700000000);
    json_decref(o);
    json_decref(h);
    /* deleting the user takes the token with it */
    assert_int_equal(pt_store_delete(ST, PT_KIND_USER, w.user, 0, "test"), 0);
    assert_int_equal(pt_store_get(ST, PT_KIND_TOKEN, id, &o), PT_STORE_ENOTFOUND);
}

static void services_and_apis(void **state)
{
    world w = make_world(ST);
    json_t *o = get(ST, PT_KIND_SERVICE, w.service);
    assert_string_equal(str_of(o, "approval"), "manual");
    assert_string_equal(str_of(o, "origin"), "api");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "targets"), 0)), "http://127.0.0.1:9001");
    json_decref(o);
    assert_int_equal(try_insert(ST, PT_KIND_SERVICE, "{\"name\":\"x\",\"team_id\":999,\"kind\":\"rest\"}"), PT_STORE_EREF);
    assert_string_equal(ERR->field, "team_id");
    char buf[256];
    snprintf(buf, sizeof buf, "{\"name\":\"x\",\"team_id\":%lld,\"kind\":\"grpc\"}", (long long)w.team);
    assert_int_equal(try_insert(ST, PT_KIND_SERVICE, buf), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "kind");
    snprintf(buf, sizeof buf, "{\"service_id\":%lld,\"name\":\"v1\",\"path_prefix\":\"/v1/\",\"methods\":[\"GET\"],\"key_header\":\"x-key\"}",
             (long long)w.service);
    int64_t api = must_insert(ST, PT_KIND_API, buf);
    assert_int_equal(try_insert(ST, PT_KIND_API, buf), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "name");
    o = get(ST, PT_KIND_API, api);
    assert_string_equal(str_of(o, "auth"), "key");
    assert_string_equal(str_of(o, "key_header"), "x-key");
    json_decref(o);
    assert_int_equal(try_insert(ST, PT_KIND_API, "{\"service_id\":77,\"name\":\"v1\",\"path_prefix\":\"/\"}"), PT_STORE_EREF);
    assert_string_equal(ERR->field, "service_id");
    /* APIs go with their service */
    assert_int_equal(pt_store_delete(ST, PT_KIND_SERVICE, w.service, 0, "test"), 0);
    assert_int_equal(pt_store_get(ST, PT_KIND_API, api, &o), PT_STORE_ENOTFOUND);
}

static void consumers_keys_and_cascade(void **state)
{
    world w = make_world(ST);
    char buf[512];
    snprintf(buf, sizeof buf, "{\"name\":\"app\",\"team_id\":%lld}", (long long)w.team);
    assert_int_equal(try_insert(ST, PT_KIND_CONSUMER, buf), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "name");
    snprintf(buf, sizeof buf, "{\"consumer_id\":%lld,\"prefix\":\"pk_abcdefgh\",\"hash\":\"" HASH_A "\",\"label\":\"ci\","
             "\"allowed_models\":[\"gpt-4o\"],\"expires_at\":1900000000}", (long long)w.consumer);
    int64_t key = must_insert(ST, PT_KIND_KEY, buf);
    assert_int_equal(try_insert(ST, PT_KIND_KEY, buf), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "hash");
    assert_int_equal(try_insert(ST, PT_KIND_KEY, "{\"consumer_id\":555,\"prefix\":\"pk_x\",\"hash\":\"" HASH_B "\"}"),
                     PT_STORE_EREF);
    assert_string_equal(ERR->field, "consumer_id");
    json_t *ch = json_pack("{s:I}", "revoked_at", (json_int_t)1800000000);
    assert_int_equal(pt_store_update(ST, PT_KIND_KEY, key, 0, ch, "test"), 0);
    json_decref(ch);
    json_t *o = get(ST, PT_KIND_KEY, key);
    assert_int_equal(int_of(o, "revoked_at"), 1800000000);
    assert_string_equal(str_of(o, "hash"), HASH_A);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "allowed_models"), 0)), "gpt-4o");
    json_decref(o);
    assert_int_equal(pt_store_delete(ST, PT_KIND_CONSUMER, w.consumer, 0, "test"), 0);
    assert_int_equal(pt_store_get(ST, PT_KIND_KEY, key, &o), PT_STORE_ENOTFOUND);
}

static void subscriptions_one_live_per_consumer_and_service(void **state)
{
    world w = make_world(ST);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"consumer_id\":%lld,\"service_id\":%lld}", (long long)w.consumer, (long long)w.service);
    int64_t sub = must_insert(ST, PT_KIND_SUBSCRIPTION, buf);
    json_t *o = get(ST, PT_KIND_SUBSCRIPTION, sub);
    assert_string_equal(str_of(o, "state"), "pending");
    json_decref(o);
    assert_int_equal(try_insert(ST, PT_KIND_SUBSCRIPTION, buf), PT_STORE_ECONFLICT);
    assert_string_equal(ERR->field, "service_id");
    json_t *ch = json_pack("{s:s, s:s, s:I, s:I}", "state", "rejected", "reason", "no budget", "decided_by",
                           (json_int_t)w.user, "decided_at", (json_int_t)1700000000);
    assert_int_equal(pt_store_update(ST, PT_KIND_SUBSCRIPTION, sub, 0, ch, "alice"), 0);
    json_decref(ch);
    /* rejected is still live; cancelled is history and frees the pair */
    assert_int_equal(try_insert(ST, PT_KIND_SUBSCRIPTION, buf), PT_STORE_ECONFLICT);
    ch = json_pack("{s:s}", "state", "cancelled");
    assert_int_equal(pt_store_update(ST, PT_KIND_SUBSCRIPTION, sub, 0, ch, "alice"), 0);
    json_decref(ch);
    must_insert(ST, PT_KIND_SUBSCRIPTION, buf);
    ch = json_pack("{s:s}", "state", "sleeping");
    assert_int_equal(pt_store_update(ST, PT_KIND_SUBSCRIPTION, sub, 0, ch, "alice"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "state");
    json_decref(ch);
    snprintf(buf, sizeof buf, "{\"consumer_id\":%lld,\"service_id\":999}", (long long)w.consumer);
    assert_int_equal(try_insert(ST, PT_KIND_SUBSCRIPTION, buf), PT_STORE_EREF);
    assert_string_equal(ERR->field, "service_id");
    /* deleting the deciding user keeps the decision, without the name */
    assert_int_equal(pt_store_delete(ST, PT_KIND_USER, w.user, 0, "test"), 0);
    o = get(ST, PT_KIND_SUBSCRIPTION, sub);
    assert_true(json_is_null(json_object_get(o, "decided_by")));
    json_decref(o);
}

/* Releases are numbered once per service, never changed, found newest first, and go with
 * their service; one release request waits per service. */
static void releases_are_immutable_and_numbered_per_service(void **state)
{
    world w = make_world(ST);
    json_t *o = NULL;
    assert_int_equal(pt_store_current_release(ST, w.service, &o), PT_STORE_ENOTFOUND);
    assert_null(o);
    char buf[512];
    int64_t ids[3];
    for (int n = 1; n <= 3; n++) {
        snprintf(buf, sizeof buf, "{\"service_id\":%lld,\"number\":%d,\"snapshot\":{\"service\":{},\"apis\":[]},"
                 "\"diff\":{\"summary\":\"r%d\"},\"created_by\":\"alice\"}", (long long)w.service, n, n);
        ids[n - 1] = must_insert(ST, PT_KIND_RELEASE, buf);
    }
    assert_int_equal(try_insert(ST, PT_KIND_RELEASE, buf), PT_STORE_ECONFLICT); /* number 3 again */
    assert_int_equal(pt_store_current_release(ST, w.service, &o), 0);
    assert_int_equal(int_of(o, "number"), 3);
    assert_int_equal(int_of(o, "id"), ids[2]);
    json_decref(o);
    json_t *ch = json_pack("{s:s}", "note", "rewritten");
    assert_int_equal(pt_store_update(ST, PT_KIND_RELEASE, ids[0], 0, ch, "alice"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "note");
    json_decref(ch);
    snprintf(buf, sizeof buf, "{\"service_id\":%lld,\"number\":-1,\"snapshot\":{},\"diff\":{},\"created_by\":\"a\"}",
             (long long)w.service);
    assert_int_equal(try_insert(ST, PT_KIND_RELEASE, buf), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "number");
    snprintf(buf, sizeof buf, "{\"service_id\":%lld,\"requested_by\":\"bob\",\"snapshot\":{}}", (long long)w.service);
    int64_t req = must_insert(ST, PT_KIND_RELEASE_REQUEST, buf);
    o = get(ST, PT_KIND_RELEASE_REQUEST, req);
    assert_string_equal(str_of(o, "state"), "pending");
    json_decref(o);
    assert_int_equal(try_insert(ST, PT_KIND_RELEASE_REQUEST, buf), PT_STORE_ECONFLICT);
    ch = json_pack("{s:s,s:s}", "state", "refused", "reason", "not yet");
    assert_int_equal(pt_store_update(ST, PT_KIND_RELEASE_REQUEST, req, 0, ch, "alice"), 0);
    json_decref(ch);
    must_insert(ST, PT_KIND_RELEASE_REQUEST, buf); /* a decided request no longer blocks the next */
    assert_int_equal(pt_store_delete(ST, PT_KIND_SERVICE, w.service, 0, "test"), 0);
    assert_int_equal(pt_store_get(ST, PT_KIND_RELEASE, ids[0], &o), PT_STORE_ENOTFOUND);
    assert_int_equal(pt_store_get(ST, PT_KIND_RELEASE_REQUEST, req, &o), PT_STORE_ENOTFOUND);
}

static void unknown_and_managed_fields(void **state)
{
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"a\",\"colour\":\"red\"}"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "colour");
    /* id and version on input are the store's to decide */
    int64_t id = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"a\",\"id\":777,\"version\":9}");
    assert_true(id != 777);
    json_t *o = get(ST, PT_KIND_TEAM, id);
    assert_int_equal(int_of(o, "version"), 1);
    json_decref(o);
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "[1,2]"), PT_STORE_EINVAL);
    assert_int_equal(try_insert(ST, PT_KIND_AUDIT, "{\"actor\":\"x\"}"), PT_STORE_EINVAL);
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"\"}"), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "name");
    char buf[200];
    snprintf(buf, sizeof buf, "{\"name\":\"%0100d\"}", 1);
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, buf), PT_STORE_EINVAL);
    assert_non_null(strstr(ERR->message, "longer than 64"));
}

/* ---- pagination ---- */

static void cursor_pages_cover_everything_once(void **state)
{
    enum { N = 250 };
    pt_store_begin(ST);
    for (int i = 0; i < N; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"name\":\"t%03d\"}", i);
        must_insert(ST, PT_KIND_TEAM, buf);
    }
    assert_int_equal(pt_store_commit(ST), 0);
    for (int desc = 0; desc <= 1; desc++) {
        char cursor[PT_STORE_CURSOR_MAX] = "";
        int seen = 0, pages = 0;
        int64_t last = desc ? INT64_MAX : 0;
        do {
            pt_store_list_opts o = {.cursor = cursor, .limit = 100, .newest_first = desc};
            json_t *items = NULL;
            char next[PT_STORE_CURSOR_MAX];
            assert_int_equal(pt_store_list(ST, PT_KIND_TEAM, &o, &items, next), 0);
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it) {
                int64_t id = int_of(it, "id");
                assert_true(desc ? id < last : id > last);
                last = id;
            }
            seen += (int)json_array_size(items);
            pages++;
            json_decref(items);
            strcpy(cursor, next);
        } while (cursor[0]);
        assert_int_equal(seen, N);
        assert_int_equal(pages, 3);
    }
    pt_store_list_opts bad = {.cursor = "12abc"};
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(ST, PT_KIND_TEAM, &bad, &items, next), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "cursor");
    pt_store_list_opts big = {.limit = PT_STORE_PAGE_MAX + 1};
    assert_int_equal(pt_store_list(ST, PT_KIND_TEAM, &big, &items, next), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "limit");
}

static void list_filters_by_column(void **state)
{
    world w = make_world(ST);
    int64_t other = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"other\"}");
    char buf[128];
    snprintf(buf, sizeof buf, "{\"name\":\"app2\",\"team_id\":%lld}", (long long)other);
    must_insert(ST, PT_KIND_CONSUMER, buf);
    json_t *filter = json_pack("{s:I}", "team_id", (json_int_t)w.team);
    pt_store_list_opts o = {.filter = filter};
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(ST, PT_KIND_CONSUMER, &o, &items, next), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str_of(json_array_get(items, 0), "name"), "app");
    assert_string_equal(next, "");
    json_decref(items);
    json_decref(filter);
    filter = json_pack("{s:s}", "password_hash; DROP TABLE teams", "x");
    o.filter = filter;
    assert_int_equal(pt_store_list(ST, PT_KIND_CONSUMER, &o, &items, next), PT_STORE_EINVAL);
    json_decref(filter);
}

/* ---- version and transactions ---- */

static void every_committed_write_bumps_the_version_once(void **state)
{
    int64_t v0 = version_of(ST);
    int64_t id = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"v\"}");
    assert_int_equal(version_of(ST), v0 + 1);
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"v\"}"), PT_STORE_ECONFLICT);
    assert_int_equal(version_of(ST), v0 + 1);
    json_t *ch = json_pack("{s:s}", "name", "w");
    assert_int_equal(pt_store_update(ST, PT_KIND_TEAM, id, 0, ch, NULL), 0);
    json_decref(ch);
    assert_int_equal(version_of(ST), v0 + 2);
    assert_int_equal(pt_store_begin(ST), 0);
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"x1\"}");
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"x2\"}");
    assert_int_equal(pt_store_commit(ST), 0);
    assert_int_equal(version_of(ST), v0 + 3);
    assert_int_equal(pt_store_delete(ST, PT_KIND_TEAM, id, 0, NULL), 0);
    assert_int_equal(version_of(ST), v0 + 4);
    /* a read transaction changes nothing */
    assert_int_equal(pt_store_begin_read(ST), 0);
    assert_int_equal(pt_store_commit(ST), 0);
    assert_int_equal(version_of(ST), v0 + 4);
}

static void rollback_undoes_the_whole_transaction(void **state)
{
    int64_t v0 = version_of(ST);
    assert_int_equal(pt_store_begin(ST), 0);
    int64_t a = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"first\"}");
    /* a failed write inside leaves the transaction usable */
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"first\"}"), PT_STORE_ECONFLICT);
    int64_t b = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"second\"}");
    assert_int_equal(pt_store_rollback(ST), 0);
    json_t *o;
    assert_int_equal(pt_store_get(ST, PT_KIND_TEAM, a, &o), PT_STORE_ENOTFOUND);
    assert_int_equal(pt_store_get(ST, PT_KIND_TEAM, b, &o), PT_STORE_ENOTFOUND);
    assert_int_equal(version_of(ST), v0);
    assert_int_equal(pt_store_commit(ST), PT_STORE_ETXN);
    assert_int_equal(pt_store_begin(ST), 0);
    assert_int_equal(pt_store_begin(ST), PT_STORE_ETXN);
    assert_int_equal(pt_store_rollback(ST), 0);
}

static size_t audit_count(pt_store *st)
{
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    pt_store_list_opts o = {.limit = 1000};
    assert_int_equal(pt_store_list(st, PT_KIND_AUDIT, &o, &items, next), 0);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

static void failed_write_leaves_no_audit_record(void **state)
{
    make_world(ST);
    size_t before = audit_count(ST);
    assert_int_equal(try_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}"), PT_STORE_ECONFLICT);
    assert_int_equal(audit_count(ST), before);
}

/* A session's last use is bookkeeping: written without an audit record or a version bump,
 * checked like any column, refused inside a transaction. Sessions are tokens of their kind. */
static void touch_writes_bookkeeping_quietly(void **state)
{
    world w = make_world(ST);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"user_id\":%lld,\"prefix\":\"pt_abcdefghi\",\"hash\":\"%064d\",\"kind\":\"session\"}",
             (long long)w.user, 7);
    int64_t id = must_insert(ST, PT_KIND_TOKEN, buf);
    json_t *tok = get(ST, PT_KIND_TOKEN, id);
    assert_string_equal(str_of(tok, "kind"), "session");
    json_decref(tok);
    size_t audits = audit_count(ST);
    int64_t v = version_of(ST);
    json_t *t = json_pack("{s:I}", "last_used_at", (json_int_t)12345);
    assert_int_equal(pt_store_touch(ST, PT_KIND_TOKEN, id, t), 0);
    tok = get(ST, PT_KIND_TOKEN, id);
    assert_int_equal(int_of(tok, "last_used_at"), 12345);
    json_decref(tok);
    assert_int_equal(audit_count(ST), audits);
    assert_int_equal(version_of(ST), v);
    json_t *bad = json_pack("{s:s}", "last_used_at", "soon");
    assert_int_equal(pt_store_touch(ST, PT_KIND_TOKEN, id, bad), PT_STORE_EINVAL);
    json_decref(bad);
    assert_int_equal(pt_store_begin(ST), 0);
    assert_int_equal(pt_store_touch(ST, PT_KIND_TOKEN, id, t), PT_STORE_ETXN);
    assert_int_equal(pt_store_rollback(ST), 0);
    json_decref(t);
    snprintf(buf, sizeof buf, "{\"user_id\":%lld,\"prefix\":\"pt_abcdefghj\",\"hash\":\"%064d\",\"kind\":\"cookie\"}",
             (long long)w.user, 8);
    assert_int_equal(try_insert(ST, PT_KIND_TOKEN, buf), PT_STORE_EINVAL);
}

/* A second handle (another thread or process) sees the first one's commits and version:
 * what a snapshot watcher relies on. Its reads do not block the writer (WAL). */
static void another_handle_sees_commits_and_the_version(void **state)
{
    fixture *f = *state;
    pt_store_error err;
    pt_store *other = open_other(f, &err);
    assert_non_null(other);
    assert_int_equal(pt_store_begin_read(other), 0);
    int64_t seen0 = version_of(other);
    int64_t id = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"shared\"}");
    /* the open read transaction keeps its consistent view */
    assert_int_equal(version_of(other), seen0);
    assert_int_equal(pt_store_commit(other), 0);
    assert_int_equal(version_of(other), seen0 + 1);
    json_t *o = get(other, PT_KIND_TEAM, id);
    assert_string_equal(str_of(o, "name"), "shared");
    json_decref(o);
    pt_store_close(other);
}

/* ---- hostile text ---- */

static void sql_injection_strings_are_stored_literally(void **state)
{
    world w = make_world(ST);
    const char *evil = "x'); DROP TABLE keys; --\" OR 1=1 /*";
    json_t *k = json_pack("{s:I, s:s, s:s, s:s}", "consumer_id", (json_int_t)w.consumer, "prefix", "pk_q",
                          "hash", HASH_A, "label", evil);
    int64_t id;
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, evil, &id), 0);
    json_decref(k);
    json_t *o = get(ST, PT_KIND_KEY, id);
    assert_string_equal(str_of(o, "label"), evil);
    json_decref(o);
    /* names are restricted: the same string is refused naming the field */
    json_t *t = json_pack("{s:s}", "name", evil);
    assert_int_equal(pt_store_insert(ST, PT_KIND_TEAM, t, "test", &id), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "name");
    json_decref(t);
    /* lookup by a hostile value finds nothing and breaks nothing */
    json_t *v = json_string("acme' OR '1'='1");
    assert_int_equal(pt_store_find(ST, PT_KIND_TEAM, "name", v, &o), PT_STORE_EINVAL);
    json_decref(v);
    assert_int_equal(pt_store_check(ST), 0);
    pt_store_list_opts lo = {.filter = NULL};
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(ST, PT_KIND_KEY, &lo, &items, next), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
}

/* Decision: text must be valid UTF-8 without NUL bytes; anything else is refused naming the
 * field, never stored (so every later reader can hand it to a JSON encoder). */
static void invalid_utf8_is_refused_naming_the_field(void **state)
{
    world w = make_world(ST);
    json_t *k = json_pack("{s:I, s:s, s:s}", "consumer_id", (json_int_t)w.consumer, "prefix", "pk_u", "hash", HASH_B);
    json_object_set_new(k, "label", json_stringn_nocheck("bad \xC3\x28 byte", 12));
    int64_t id;
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, "test", &id), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "label");
    assert_non_null(strstr(ERR->message, "UTF-8"));
    json_object_set_new(k, "label", json_stringn("nul\0inside", 10));
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, "test", &id), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "label");
    json_object_set_new(k, "label", json_stringn_nocheck("\xED\xA0\x80", 3)); /* a lone surrogate */
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, "test", &id), PT_STORE_EINVAL);
    json_object_set_new(k, "label", json_string("caf\xC3\xA9 \xF0\x9F\x94\x91"));
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, "test", &id), 0);
    json_object_set_new(k, "hash", json_string(HASH_A));
    json_object_set_new(k, "allowed_models", json_pack("[o]", json_stringn_nocheck("\xFF", 1)));
    assert_int_equal(pt_store_insert(ST, PT_KIND_KEY, k, "test", &id), PT_STORE_EINVAL);
    assert_string_equal(ERR->field, "allowed_models");
    json_decref(k);
}

/* ---- audit ---- */

static void audit_records_writes_without_secrets(void **state)
{
    world w = make_world(ST);
    json_t *filter = json_pack("{s:s}", "object_kind", "user");
    pt_store_list_opts o = {.filter = filter, .newest_first = true};
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(ST, PT_KIND_AUDIT, &o, &items, next), 0);
    assert_int_equal(json_array_size(items), 1);
    json_t *rec = json_array_get(items, 0);
    assert_string_equal(str_of(rec, "action"), "create");
    assert_string_equal(str_of(rec, "actor"), "test");
    assert_int_equal(int_of(rec, "object_id"), w.user);
    assert_true(json_is_null(json_object_get(rec, "before")));
    json_t *after = json_object_get(rec, "after");
    assert_string_equal(str_of(after, "name"), "alice");
    assert_string_equal(str_of(after, "password_hash"), "[redacted]");
    json_decref(items);
    /* a caller passing secrets gets them removed anyway, nested too */
    json_t *leaky = json_pack("{s:s, s:{s:s}, s:[{s:s}]}", "password", "hunter2hunter2", "inner", "key", "pk_secret",
                              "list", "token", "pt_secret");
    assert_int_equal(pt_store_audit_append(ST, "alice", "login", PT_KIND_USER, w.user, NULL, leaky), 0);
    json_decref(leaky);
    assert_int_equal(pt_store_list(ST, PT_KIND_AUDIT, &o, &items, next), 0);
    char *dump = json_dumps(json_array_get(items, 0), 0);
    assert_null(strstr(dump, "hunter2"));
    assert_null(strstr(dump, "pk_secret"));
    assert_null(strstr(dump, "pt_secret"));
    assert_string_equal(str_of(json_array_get(items, 0), "action"), "login");
    free(dump);
    json_decref(items);
    json_decref(filter);
    /* and nothing in the audit table holds a hash of any kind */
    char buf[256];
    snprintf(buf, sizeof buf, "{\"consumer_id\":%lld,\"prefix\":\"pk_a\",\"hash\":\"" HASH_A "\"}", (long long)w.consumer);
    int64_t key = must_insert(ST, PT_KIND_KEY, buf);
    assert_int_equal(pt_store_delete(ST, PT_KIND_KEY, key, 0, "test"), 0);
    fixture *f = *state;
    assert_int_equal(raw_count(f, "SELECT count(*) FROM audit WHERE coalesce(\"before\",'') || coalesce(\"after\",'') LIKE ?",
                               "%aaaaaaaaaaaaaaaa%"),
                     0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM audit WHERE \"after\" LIKE '%argon2id%'", NULL), 0);
}

static void audit_is_append_only(void **state)
{
    json_t *ch = json_pack("{s:s}", "actor", "mallory");
    assert_int_equal(pt_store_update(ST, PT_KIND_AUDIT, 1, 0, ch, "x"), PT_STORE_EINVAL);
    assert_int_equal(pt_store_delete(ST, PT_KIND_AUDIT, 1, 0, "x"), PT_STORE_EINVAL);
    json_decref(ch);
}

/* ---- faults ---- */

static void disk_full_is_its_own_code_and_keeps_what_was_saved(void **state)
{
    world w = make_world(ST);
    sqlite3 *db = pt__store_sqlite_db(ST);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &q, NULL);
    sqlite3_step(q);
    int pages = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %d", pages + 2);
    assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
    char label[250];
    memset(label, 'L', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    int rc = 0, saved = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        unsigned char h[32] = {0};
        memcpy(h, &i, sizeof i);
        char hex[65];
        for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", h[j]);
        json_t *k = json_pack("{s:I, s:s, s:s, s:s}", "consumer_id", (json_int_t)w.consumer, "prefix", "pk_f", "hash",
                              hex, "label", label);
        int64_t id;
        rc = pt_store_insert(ST, PT_KIND_KEY, k, "test", &id);
        json_decref(k);
        if (rc == 0) saved++;
    }
    assert_int_equal(rc, PT_STORE_EFULL);
    assert_non_null(strstr(ERR->message, "disk full"));
    int64_t v = version_of(ST);
    pt_store_list_opts o = {.limit = 1000};
    json_t *items;
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(ST, PT_KIND_KEY, &o, &items, next), 0);
    assert_int_equal((int)json_array_size(items), saved);
    json_decref(items);
    /* with room again, writes work and the version moves on */
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL), SQLITE_OK);
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"after-full\"}");
    assert_int_equal(version_of(ST), v + 1);
    assert_int_equal(pt_store_check(ST), 0);
}

static void error_names_and_messages(void **state)
{
    assert_string_equal(pt_store_errname(PT_STORE_EFULL), "EFULL");
    assert_string_equal(pt_store_strerror(PT_STORE_EFULL), "disk full");
    assert_string_equal(pt_store_errname(0), "OK");
    assert_string_equal(pt_store_errname(12345), "EUNKNOWN");
}

/* Kept responses (migration 9): data beside the configuration, not part of it. */
static pt_store_response resp_row(const char *id, const char *consumer, int64_t created, int64_t expires)
{
    return (pt_store_response){ .id = (char *)id, .consumer = (char *)consumer, .created_at = created,
                                .expires_at = expires, .model = "claude",
                                .input = "[{\"role\":\"user\",\"content\":\"hi\"}]",
                                .response = "{\"id\":\"resp_a\",\"object\":\"response\"}" };
}

static void responses_are_kept_found_and_deleted_by_their_owner(void **state)
{
    int64_t v0 = version_of(ST);
    pt_store_response r = resp_row("resp_a", "bot", 100, 2000);
    assert_int_equal(pt_store_response_put(ST, &r), 0);
    assert_int_equal(pt_store_response_put(ST, &r), PT_STORE_ECONFLICT); /* an id is never taken over */
    assert_string_equal(pt_store_last_error(ST)->field, "id");
    pt_store_response got;
    assert_int_equal(pt_store_response_get(ST, "resp_a", 1000, &got), 0);
    assert_string_equal(got.consumer, "bot");
    assert_string_equal(got.model, "claude");
    assert_string_equal(got.input, r.input);
    assert_string_equal(got.response, r.response);
    assert_int_equal(got.created_at, 100);
    assert_int_equal(got.expires_at, 2000);
    pt_store_response_release(&got);
    assert_int_equal(version_of(ST), v0); /* not a configuration write: no version, no audit */
    assert_int_equal(pt_store_response_delete(ST, "resp_a", "other"), PT_STORE_ENOTFOUND);
    assert_int_equal(pt_store_response_get(ST, "resp_a", 1000, &got), 0);
    pt_store_response_release(&got);
    assert_int_equal(pt_store_response_delete(ST, "resp_a", "bot"), 0);
    assert_int_equal(pt_store_response_get(ST, "resp_a", 1000, &got), PT_STORE_ENOTFOUND);
    assert_null(got.response);
    assert_int_equal(pt_store_response_delete(ST, "resp_a", "bot"), PT_STORE_ENOTFOUND);
}

static void expired_responses_are_not_found_and_pruned(void **state)
{
    pt_store_response a = resp_row("resp_old", "", 100, 200), b = resp_row("resp_new", "", 100, 5000);
    assert_int_equal(pt_store_response_put(ST, &a), 0);
    assert_int_equal(pt_store_response_put(ST, &b), 0);
    pt_store_response got;
    assert_int_equal(pt_store_response_get(ST, "resp_old", 200, &got), PT_STORE_ENOTFOUND); /* due, not yet pruned */
    int64_t n = -1;
    assert_int_equal(pt_store_response_prune(ST, 1000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pt_store_response_get(ST, "resp_new", 1000, &got), 0);
    pt_store_response_release(&got);
    assert_int_equal(pt_store_response_prune(ST, 1000, &n), 0);
    assert_int_equal(n, 0);
}

static void response_text_is_checked(void **state)
{
    pt_store_response r = resp_row("resp_bad", "bot", 1, 2);
    r.response = "{\"text\":\"\xff\xfe\"}";
    assert_int_equal(pt_store_response_put(ST, &r), PT_STORE_EINVAL);
    assert_string_equal(pt_store_last_error(ST)->field, "response");
    r = resp_row("resp_bad", NULL, 1, 2);
    assert_int_equal(pt_store_response_put(ST, &r), PT_STORE_EINVAL);
    assert_string_equal(pt_store_last_error(ST)->field, "consumer");
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)
#define PG(f) { "postgres: " #f, f, pg_setup, pg_teardown, NULL }

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(fresh_dir_is_private_and_migrated),
        T(new_data_dir_is_created_0700),
        T(reopen_keeps_objects_and_runs_no_migration_twice),
        T(newer_schema_is_refused_with_a_clear_error),
        T(a_file_that_is_not_a_database_is_refused),
        T(data_dir_that_is_a_file_is_refused),
        T(teams_crud_and_duplicate_name),
        T(users_roles_and_references),
        T(tokens_are_hashed_unique_and_immutable),
        T(services_and_apis),
        T(consumers_keys_and_cascade),
        T(subscriptions_one_live_per_consumer_and_service),
        T(releases_are_immutable_and_numbered_per_service),
        T(unknown_and_managed_fields),
        T(cursor_pages_cover_everything_once),
        T(list_filters_by_column),
        T(every_committed_write_bumps_the_version_once),
        T(rollback_undoes_the_whole_transaction),
        T(another_handle_sees_commits_and_the_version),
        T(failed_write_leaves_no_audit_record),
        T(touch_writes_bookkeeping_quietly),
        T(sql_injection_strings_are_stored_literally),
        T(invalid_utf8_is_refused_naming_the_field),
        T(audit_records_writes_without_secrets),
        T(audit_is_append_only),
        T(disk_full_is_its_own_code_and_keeps_what_was_saved),
        T(error_names_and_messages),
        T(responses_are_kept_found_and_deleted_by_their_owner),
        T(expired_responses_are_not_found_and_pruned),
        T(response_text_is_checked),
    };
    /* the same behaviour on PostgreSQL; the tests of SQLite's files stay above */
    const struct CMUnitTest pg_tests[] = {
        PG(teams_crud_and_duplicate_name),
        PG(users_roles_and_references),
        PG(tokens_are_hashed_unique_and_immutable),
        PG(services_and_apis),
        PG(consumers_keys_and_cascade),
        PG(subscriptions_one_live_per_consumer_and_service),
        PG(releases_are_immutable_and_numbered_per_service),
        PG(unknown_and_managed_fields),
        PG(cursor_pages_cover_everything_once),
        PG(list_filters_by_column),
        PG(every_committed_write_bumps_the_version_once),
        PG(rollback_undoes_the_whole_transaction),
        PG(another_handle_sees_commits_and_the_version),
        PG(failed_write_leaves_no_audit_record),
        PG(touch_writes_bookkeeping_quietly),
        PG(sql_injection_strings_are_stored_literally),
        PG(invalid_utf8_is_refused_naming_the_field),
        PG(audit_records_writes_without_secrets),
        PG(audit_is_append_only),
        PG(error_names_and_messages),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
    if (pg_script("pg_available") != 0) {
        printf("ok - postgres # SKIP PostgreSQL's server binaries (initdb, pg_ctl) are not installed\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgres", pg_tests, pg_group_setup, pg_group_teardown);
}
