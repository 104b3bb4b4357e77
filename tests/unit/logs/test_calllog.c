/* Unit tests for logs/: the call log's writer (records stored field by field, batches
 * larger than one transaction, drops counted when the queue is full, pruning by age with an
 * injected clock and by size, a full disk) and its query (filters, visibility, cursors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <unistd.h>

#include "logs/calllog.c" /* for the packed record's size */

typedef struct fx {
    char dir[64], path[96];
    pt_calllog *log;
    sqlite3 *ro;
} fx;

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pt-calls-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/data/calls.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    pt_calllog_close(f->log);
    sqlite3_close(f->ro);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void open_log(fx *f, pt_calllog_opts o)
{
    char why[256] = "";
    o.path = f->path;
    f->log = pt_calllog_open(&o, why, sizeof why);
    if (!f->log) fail_msg("open: %s", why);
    if (!f->ro && pt_calls_db_open(f->path, true, &f->ro, why, sizeof why) != 0) fail_msg("read-only open: %s", why);
}

static pt_call_record rest(int64_t t, const char *consumer, int status)
{
    return (pt_call_record){
        .time_ms = t, .request_id = "req-1", .team = consumer ? "ml" : NULL, .consumer = consumer,
        .key_prefix = consumer ? "pk_abcdefghi" : NULL, .service = "echo", .service_team = "web", .api = "echo/v1",
        .method = PT_SLICE_LIT("GET"), .path = PT_SLICE_LIT("/v1/x"), .client = PT_SLICE_LIT("127.0.0.1:5555"),
        .status = status, .error = status >= 400 ? "no_route" : NULL, .total_us = 1500, .upstream_us = 1000,
        .ttfb_us = 800, .bytes_in = 10, .bytes_out = 20,
    };
}

static int64_t count(fx *f, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM calls %s", where);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int64_t run(fx *f, pt_calls_filter q);

/* The log's file, made by hand before any writer opened it (its directory too). */
static sqlite3 *make_file(fx *f)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    return db;
}

static size_t packed_size(const pt_call_record *r)
{
    packer k;
    return plan(r, &k);
}

/* ---- the writer ---------------------------------------------------------------------------- */

/* A string of every length up to past the short ones' copy is packed whole, and its
 * neighbours and the bytes after the record are left as they were. */
static void strings_of_every_length_are_packed_whole(void **state)
{
    (void)state;
    char src[80];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (char)('A' + i % 50);
    for (size_t len = 0; len <= 70; len++) {
        pt_call_record r = rest(1000, "acme", 200);
        r.path = pt_slice_from(src + 3, len); /* not word-aligned */
        packer k;
        size_t n = plan(&r, &k);
        char out[2048];
        memset(out, '#', sizeof out);
        pack(&k, out);
        packed h;
        memcpy(&h, out, sizeof h);
        const char *base = out + sizeof h;
        pt_slice path = str_slice(&h, base, S_PATH), method = str_slice(&h, base, S_METHOD);
        pt_slice error = str_slice(&h, base, S_ERROR), client = str_slice(&h, base, S_CLIENT);
        assert_int_equal(path.len, len);
        assert_memory_equal(path.ptr, src + 3, len);
        assert_true(pt_slice_eq(method, PT_SLICE_LIT("GET")));
        assert_null(error.ptr);
        assert_true(pt_slice_eq(client, PT_SLICE_LIT("127.0.0.1:5555")));
        for (size_t i = n; i < sizeof out; i++) assert_int_equal(out[i], '#');
    }
}

static int col_index(const char *name)
{
    for (int i = 0; i < PT_CALLS_NCOLS; i++)
        if (strcmp(pt_calls_columns[i], name) == 0) return i;
    fail_msg("no column %s", name);
    return -1;
}

typedef struct rows {
    int n;
    char text[4][PT_CALLS_NCOLS][64];
    bool null[4][PT_CALLS_NCOLS];
} rows;

static int keep_row(void *arg, const pt_calls_row *row)
{
    rows *r = arg;
    if (r->n >= 4) return 1;
    for (int i = 0; i < PT_CALLS_NCOLS; i++) {
        r->null[r->n][i] = sqlite3_column_type(row->st, i) == SQLITE_NULL;
        const unsigned char *t = sqlite3_column_text(row->st, i);
        snprintf(r->text[r->n][i], 64, "%s", t ? (const char *)t : "");
    }
    r->n++;
    return 0;
}

/* Writes n records, waits for them, and reads every row back into r, newest first. */
static void write_and_read(fx *f, const pt_call_record *recs, int n, rows *r)
{
    for (int i = 0; i < n; i++) assert_true(pt_calllog_write(f->log, &recs[i]));
    pt_calllog_sync(f->log);
    char why[128];
    assert_int_equal(pt_calls_query(f->ro, &(pt_calls_filter){ .limit = 10 }, keep_row, r, why, sizeof why), n);
}

#define COL(r, i, name) ((r).text[i][col_index(name)])
#define ISNULL(r, i, name) ((r).null[i][col_index(name)])

static void records_are_stored_field_by_field(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_record a = rest(1000, "bot", 200);
    pt_call_ai ai = { .provider = "ok", .model = "gpt-4o", .input_tokens = 12, .output_tokens = 7,
                      .cached_tokens = 3, .cost_micro_usd = 1234, .cost_known = true, .ttft_us = 4200 };
    pt_call_record b = rest(2000, NULL, 404);
    b.ai = &ai;
    rows r = { 0 };
    write_and_read(f, (pt_call_record[]){ a, b }, 2, &r);
    /* newest first: the AI call */
    assert_string_equal(COL(r, 0, "model"), "gpt-4o");
    assert_string_equal(COL(r, 0, "provider"), "ok");
    assert_string_equal(COL(r, 0, "input_tokens"), "12");
    assert_string_equal(COL(r, 0, "output_tokens"), "7");
    assert_string_equal(COL(r, 0, "cached_tokens"), "3");
    assert_string_equal(COL(r, 0, "cost_micro_usd"), "1234");
    assert_string_equal(COL(r, 0, "ttfb_us"), "4200"); /* the first token is the first byte that counts */
    assert_string_equal(COL(r, 0, "error"), "no_route");
    assert_true(ISNULL(r, 0, "consumer"));
    assert_true(ISNULL(r, 0, "team"));
    /* the REST call */
    assert_string_equal(COL(r, 1, "consumer"), "bot");
    assert_string_equal(COL(r, 1, "team"), "ml");
    assert_string_equal(COL(r, 1, "key_prefix"), "pk_abcdefghi");
    assert_string_equal(COL(r, 1, "service"), "echo");
    assert_string_equal(COL(r, 1, "api"), "echo/v1");
    assert_string_equal(COL(r, 1, "method"), "GET");
    assert_string_equal(COL(r, 1, "path"), "/v1/x");
    assert_string_equal(COL(r, 1, "status"), "200");
    assert_string_equal(COL(r, 1, "total_us"), "1500");
    assert_string_equal(COL(r, 1, "upstream_us"), "1000");
    assert_string_equal(COL(r, 1, "bytes_in"), "10");
    assert_string_equal(COL(r, 1, "bytes_out"), "20");
    assert_string_equal(COL(r, 1, "client"), "127.0.0.1:5555");
    assert_true(ISNULL(r, 1, "error"));
    assert_true(ISNULL(r, 1, "model"));
    assert_true(ISNULL(r, 1, "input_tokens"));
    assert_true(ISNULL(r, 1, "cost_micro_usd"));
}

/* An AI response-cache hit: cost 0, what the answer cost when made, and the cache's say. */
static void cache_hits_are_stored_with_the_cost_saved(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_ai hit = { .provider = "ok", .model = "gpt-4o", .cost_known = true, .cache = "hit",
                       .saved_micro_usd = 6300, .saved_known = true };
    pt_call_ai miss = { .provider = "ok", .model = "gpt-4o", .input_tokens = 5, .cost_micro_usd = 6300,
                        .cost_known = true, .cache = "miss" };
    pt_call_record a = rest(1000, "bot", 200), b = rest(2000, "bot", 200), c = rest(3000, "bot", 200);
    a.ai = &miss;
    b.ai = &hit;
    rows r = { 0 };
    write_and_read(f, (pt_call_record[]){ a, b, c }, 3, &r);
    assert_true(ISNULL(r, 0, "cache")); /* the REST call */
    assert_true(ISNULL(r, 0, "cost_saved_micro_usd"));
    assert_string_equal(COL(r, 1, "cache"), "hit");
    assert_string_equal(COL(r, 1, "cost_micro_usd"), "0");
    assert_string_equal(COL(r, 1, "cost_saved_micro_usd"), "6300");
    assert_string_equal(COL(r, 2, "cache"), "miss");
    assert_string_equal(COL(r, 2, "cost_micro_usd"), "6300");
    assert_true(ISNULL(r, 2, "cost_saved_micro_usd"));
}

/* A multi-row statement keeps its bindings between runs and binds NULL only over a value:
 * records with and without each field, interleaved, never take one another's. */
static void no_field_of_one_record_leaks_into_another(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000 });
    pt_call_ai ai = { .provider = "ok", .model = "m", .input_tokens = 1, .cost_micro_usd = 2, .cost_known = true };
    enum { N = 64 * 3 + 7 };
    for (int i = 0; i < N; i++) {
        pt_call_record a = rest(1000 + i, i % 3 ? NULL : "bot", i % 2 ? 200 : 500);
        if (i % 2 == 0) a.ai = &ai;
        if (i % 5 == 0) a.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_true(pt_calllog_write(f->log, &a));
    }
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), N);
    char where[256];
    for (int i = 0; i < N; i++) {
        snprintf(where, sizeof where,
                 "WHERE time_ms = %d AND (consumer_id IS NULL) = %d AND (model_id IS NULL) = %d AND "
                 "(input_tokens IS NULL) = %d AND (trace_id IS NULL) = %d AND (error IS NULL) = %d",
                 1000 + i, i % 3 != 0, i % 2 != 0, i % 2 != 0, i % 5 != 0, i % 2 != 0);
        if (count(f, where) != 1) fail_msg("record %d: %s", i, where);
    }
}

/* Records in a row that name the same reuse the names found for the first of them, and
 * count in the analytics as one run: runs of one consumer, of another, of none, broken by
 * a change of service team alone, and one going on after the writer's name cache was
 * emptied (more names than it keeps), each record keeps its own names and counts once. */
static void records_naming_the_same_keep_their_names_and_counts(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000 });
    static const char *who[] = { "a", "a", "a", "b", "b", NULL, NULL, "a", "b", "b" };
    enum { N = 200 };
    int64_t want_a = 0, want_b = 0;
    for (int i = 0; i < N; i++) {
        pt_call_record r = rest(60000 + i, who[i % 10], 200);
        if (i % 10 == 4) r.service_team = "ops"; /* only the service team differs from the one before */
        want_a += r.consumer && !strcmp(r.consumer, "a");
        want_b += r.consumer && !strcmp(r.consumer, "b");
        assert_true(pt_calllog_write(f->log, &r));
    }
    /* more names than the cache keeps, then a run across the emptying */
    char name[32];
    for (int i = 0; i < NAME_FILL + 10; i++) {
        snprintf(name, sizeof name, "c%d", i);
        pt_call_record r = rest(70000, name, 200);
        assert_true(pt_calllog_write(f->log, &r));
        if (i % 1000 == 999) pt_calllog_sync(f->log); /* batches that end and begin inside it */
    }
    pt_calllog_flush_rollups(f->log);
    char where[160];
    for (int i = 0; i < N; i++) {
        const char *c = who[i % 10];
        snprintf(where, sizeof where,
                 "WHERE time_ms = %d AND %s AND service_team_id = (SELECT id FROM names WHERE name = '%s')", 60000 + i,
                 c ? (c[0] == 'a' ? "consumer_id = (SELECT id FROM names WHERE name = 'a')"
                                  : "consumer_id = (SELECT id FROM names WHERE name = 'b')")
                   : "consumer_id IS NULL",
                 i % 10 == 4 ? "ops" : "web");
        if (count(f, where) != 1) fail_msg("record %d: %s", i, where);
    }
    for (int i = 0; i < NAME_FILL + 10; i += 997) {
        snprintf(where, sizeof where, "WHERE time_ms = 70000 AND consumer_id = (SELECT id FROM names WHERE name = 'c%d')", i);
        if (count(f, where) != 1) fail_msg("name c%d: %s", i, where);
    }
    /* the analytics: each consumer's minute counts its calls once */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro,
                                        "SELECT name, sum(requests) FROM rollups WHERE step = 0 AND dim = 2 AND"
                                        " name IN ('a', 'b', 'c0') GROUP BY name ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t want[] = { want_a, want_b, 1 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(st, 1), want[i]);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Method, path and client are bound again only when a row's differ from what its place in
 * the statement held last: rows that repeat them, change them, or have no client, in
 * batches one after another (the queue's memory is reused between them), each keep their
 * own; an empty client stays empty, not NULL. */
static void method_path_and_client_are_each_rows_own(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000 });
    static const char *const methods[] = { "GET", "POST", "DELETE" };
    static const char *const paths[] = { "/v1/x", "/v1/items/42", "/v1/x/longer/than/the/others" };
    static const char *const clients[] = { "127.0.0.1:5555", "", NULL };
    enum { BATCHES = 4, PER = 64 + 5 };
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER; i++) {
            int n = b * PER + i, v = b % 2 ? 0 : n; /* odd batches repeat one row throughout */
            pt_call_record a = rest(1000 + n, NULL, 200);
            a.method = pt_slice_cstr(methods[v % 3]);
            a.path = pt_slice_cstr(paths[v / 3 % 3]);
            a.client = clients[v / 9 % 3] ? pt_slice_cstr(clients[v / 9 % 3]) : PT_SLICE_NULL;
            assert_true(pt_calllog_write(f->log, &a));
        }
        pt_calllog_sync(f->log);
    }
    assert_int_equal(count(f, ""), BATCHES * PER);
    char where[256];
    for (int n = 0; n < BATCHES * PER; n++) {
        int v = n / PER % 2 ? 0 : n;
        const char *client = clients[v / 9 % 3];
        snprintf(where, sizeof where, "WHERE time_ms = %d AND method = '%s' AND path = '%s' AND client %s%s%s", 1000 + n,
                 methods[v % 3], paths[v / 3 % 3], client ? "= '" : "IS NULL", client ? client : "", client ? "'" : "");
        if (count(f, where) != 1) fail_msg("record %d: %s", n, where);
    }
}

static int64_t names_count(fx *f, const char *name)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT count(*) FROM names WHERE ?1 IS NULL OR name = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Names no record names any more go once retention has pruned their records; names still
 * in use stay, and a pruned name used again comes back. */
static void unused_names_are_pruned_after_retention(void **state)
{
    fx *f = *state;
    fake_now = 1000000;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .retention_ms = 60000, .now_ms = fake_clock });
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "old-%d", i);
        pt_call_record a = rest(fake_now, name, 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(names_count(f, "old-7"), 1);
    fake_now += 2 * PT_CALLS_NAME_TOUCH_MS;
    pt_call_record b = rest(fake_now, "new", 200);
    pt_calllog_write(f->log, &b);
    pt_calllog_prune_all(f->log);
    assert_int_equal(count(f, ""), 1);
    assert_int_equal(names_count(f, "old-7"), 0);
    assert_int_equal(names_count(f, "new"), 1);
    assert_int_equal(names_count(f, "ml"), 1); /* the team of both: still named by the new record */
    assert_int_equal(names_count(f, "echo"), 1);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.names_pruned, 50);
    assert_int_equal(run(f, (pt_calls_filter){ .team = "ml" }), 1);
    pt_call_record c = rest(fake_now + 1, "old-7", 200);
    pt_calllog_write(f->log, &c);
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "old-7" }), 1);
    assert_int_equal(names_count(f, NULL), 1 + 1 + 5); /* new, old-7, ml, the prefix, echo, web, echo/v1 */
}

/* Layout 5, the last with one row per record, as a gateway of that layout left it (its
 * table is pt_calls_table_v5_sql): the record rest(5000, "bot", 200) and its names. */
static const char layout_5[] =
    "CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_ms INTEGER);"
    "CREATE INDEX calls_consumer ON calls(consumer_id) WHERE consumer_id IS NOT NULL;"
    "CREATE INDEX calls_request ON calls(rid_hash);"
    "CREATE INDEX calls_trace ON calls(trace_id) WHERE trace_id IS NOT NULL;"
    "INSERT INTO names(id, name, last_ms) VALUES(1, 'ml', 5000), (2, 'bot', 5000), (3, 'pk_abcdefghi', 5000),"
    " (4, 'echo', 5000), (5, 'web', 5000), (6, 'echo/v1', 5000);"
    "INSERT INTO calls(id, time_ms, request_id, team_id, consumer_id, key_prefix_id, service_id, service_team_id,"
    " api_id, method, path, status, total_us, upstream_us, ttfb_us, bytes_in, bytes_out, client, rid_hash)"
    " VALUES(5000 << 12, 5000, 'req-1', 1, 2, 3, 4, 5, 6, 'GET', '/v1/x', 200, 1500, 1000, 800, 10, 20,"
    " '127.0.0.1:5555', 0);"
    "PRAGMA user_version=5;";

/* Makes a file of layout 5 (above), turns it into an older layout with sql, and opens it
 * (the writer brings it up to date). */
static void reopen_as_older_with(fx *f, const char *sql, pt_calllog_opts o)
{
    sqlite3 *db = make_file(f);
    assert_int_equal(sqlite3_exec(db, pt_calls_table_v5_sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, layout_5, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_log(f, o);
}

static void reopen_as_older(fx *f, const char *sql) { reopen_as_older_with(f, sql, (pt_calllog_opts){ 0 }); }

/* A file of layout 3 (before the cache columns and names' last use) is brought up to date
 * in place: its records stay, its names are kept until retention takes their records. */
static void a_file_of_layout_3_gains_the_new_columns(void **state)
{
    fx *f = *state;
    reopen_as_older(f, "ALTER TABLE calls DROP COLUMN cache; ALTER TABLE calls DROP COLUMN cost_saved_micro_usd;"
                       "ALTER TABLE calls DROP COLUMN arguments_shape; ALTER TABLE calls DROP COLUMN arguments;"
                       "ALTER TABLE names DROP COLUMN last_ms; PRAGMA user_version=3;");
    pt_call_ai hit = { .provider = "ok", .model = "gpt-4o", .cost_known = true, .cache = "hit" };
    pt_call_record b = rest(6000, "bot", 200);
    b.ai = &hit;
    assert_true(pt_calllog_write(f->log, &b));
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "bot" }), 2);
    assert_int_equal(count(f, "WHERE cache = 'hit' AND time_ms = 6000"), 1);
    assert_int_equal(count(f, "WHERE cache IS NULL AND time_ms = 5000"), 1);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT last_ms, (SELECT user_version FROM pragma_user_version) FROM names "
                                               "WHERE name = 'echo'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 5000); /* its newest record's millisecond */
    assert_int_equal(sqlite3_column_int64(st, 1), 6);
    sqlite3_finalize(st);
}

/* The user_version of the file the read-only connection sees. */
static int64_t layout(fx *f)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* A file of layout 4 (before tool calls' arguments) gains their columns in place: its
 * records stay, with no arguments, and new ones carry theirs. */
static void a_file_of_layout_4_gains_the_arguments_columns(void **state)
{
    fx *f = *state;
    reopen_as_older(f, "ALTER TABLE calls DROP COLUMN arguments_shape; ALTER TABLE calls DROP COLUMN arguments;"
                       "PRAGMA user_version=4;");
    assert_int_equal(layout(f), 6);
    pt_call_record b = rest(6000, "bot", 200);
    b.operation = "files/read";
    b.arguments_shape = "{\"path\":\"string\"}";
    assert_true(pt_calllog_write(f->log, &b));
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "bot" }), 2);
    assert_int_equal(count(f, "WHERE arguments_shape IS NULL AND arguments IS NULL AND time_ms = 5000"), 1);
    assert_int_equal(count(f, "WHERE arguments_shape = '{\"path\":\"string\"}' AND arguments IS NULL AND time_ms = 6000"), 1);
}

/* A tool call's shape and values are stored whole or not at all: JSON cut short is no JSON. */
static void arguments_are_stored_whole_or_not_at_all(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_record a = rest(1000, "bot", 200);
    a.arguments_shape = "{\"q\":\"string\"}";
    a.arguments = "{\"q\":\"hello\"}";
    assert_true(pt_calllog_write(f->log, &a));
    static char big[PT_CALLLOG_BODY_MAX + 16], shape[PT_CALLLOG_SHAPE_MAX + 16];
    snprintf(big, sizeof big, "{\"q\":\"%0*d\"}", PT_CALLLOG_BODY_MAX, 7);
    snprintf(shape, sizeof shape, "{\"%0*d\":\"string\"}", PT_CALLLOG_SHAPE_MAX, 7);
    pt_call_record b = rest(2000, "bot", 200);
    b.arguments_shape = shape;
    b.arguments = big;
    assert_true(pt_calllog_write(f->log, &b));
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, "WHERE arguments = '{\"q\":\"hello\"}' AND arguments_shape = '{\"q\":\"string\"}'"), 1);
    assert_int_equal(count(f, "WHERE time_ms = 2000 AND arguments IS NULL AND arguments_shape IS NULL"), 1);
}

static void long_strings_are_cut(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    static char path[5000];
    memset(path, 'p', sizeof path);
    pt_call_record a = rest(1000, "bot", 200);
    a.path = pt_slice_from(path, sizeof path);
    assert_true(pt_calllog_write(f->log, &a));
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, "WHERE length(path) = 2048"), 1);
}

static void a_batch_larger_than_a_transaction_is_stored_whole(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .queue_bytes = 64 << 20, .flush_bytes = 64 << 20 });
    enum { N = ROWS_PER_TX * 2 + 17 };
    for (int i = 0; i < N; i++) {
        pt_call_record a = rest(1000 + i, "bot", 200);
        assert_true(pt_calllog_write(f->log, &a));
    }
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.queued, N);
    pt_calllog_sync(f->log);
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.written, N);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(count(f, ""), N);
}

static void a_full_queue_drops_and_counts(void **state)
{
    fx *f = *state;
    pt_call_record a = rest(1000, "bot", 200);
    size_t one = packed_size(&a);
    /* room for 3 and a half: the writer is never woken early, so exactly 3 fit */
    size_t cap = one * 7 / 2;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .queue_bytes = cap, .flush_bytes = cap });
    int ok = 0;
    for (int i = 0; i < 10; i++) ok += pt_calllog_write(f->log, &a);
    assert_int_equal(ok, 3);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.dropped, 7);
    pt_calllog_sync(f->log);
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.written, 3);
    assert_int_equal(count(f, ""), 3);
    assert_true(pt_calllog_write(f->log, &a)); /* the writer caught up: room again */
}

static void old_records_are_pruned_in_bounded_steps(void **state)
{
    fx *f = *state;
    fake_now = 1000000;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .retention_ms = 60000, .now_ms = fake_clock,
                                   .queue_bytes = 32 << 20, .flush_bytes = 32 << 20 });
    enum { OLD = PT_CALLLOG_PRUNE_STEP * 2 + 500, NEW = 10 };
    for (int i = 0; i < OLD; i++) {
        pt_call_record a = rest(1000 + i, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    for (int i = 0; i < NEW; i++) {
        pt_call_record a = rest(fake_now - 1000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    /* the batch itself: 2 * (OLD+NEW) rows of budget, so everything old goes at once */
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), NEW);
    /* later: records age past the retention one step per wake-up, never one huge delete */
    fake_now += 1000000;
    for (int i = 0; i < OLD; i++) {
        pt_call_record a = rest(fake_now - 100000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    fake_now += 1000000; /* everything is old now */
    pt_calllog_sync(f->log); /* the batch's own wake-up: budget 2 * OLD, all of it */
    assert_int_equal(count(f, ""), 0);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.pruned, OLD * 2 + NEW);
}

static void an_idle_wake_up_prunes_one_step(void **state)
{
    fx *f = *state;
    fake_now = 1000000;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .retention_ms = 60000, .now_ms = fake_clock,
                                   .queue_bytes = 32 << 20, .flush_bytes = 32 << 20 });
    enum { N = PT_CALLLOG_PRUNE_STEP * 2 + 500 };
    for (int i = 0; i < N; i++) {
        pt_call_record a = rest(fake_now - 1000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), N);
    fake_now += 120000;
    pt_calllog_sync(f->log); /* an empty wake-up: one step */
    assert_int_equal(count(f, ""), N - PT_CALLLOG_PRUNE_STEP);
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), N - 2 * PT_CALLLOG_PRUNE_STEP);
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), 0);
}

/* A batch's transaction prunes before it inserts (the pages it frees take the batch's
 * records, and no transaction of its own is needed); records already past the retention
 * when that batch writes them are still pruned in the same wake-up, and a batch with
 * nothing old deletes nothing. */
static void a_batch_prunes_first_and_still_prunes_what_it_wrote_too_old(void **state)
{
    fx *f = *state;
    fake_now = 1000000;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .retention_ms = 60000, .now_ms = fake_clock,
                                   .queue_bytes = 32 << 20, .flush_bytes = 32 << 20 });
    for (int i = 0; i < 100; i++) {
        pt_call_record a = rest(fake_now - 1000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), 100);
    fake_now += 120000; /* those 100 are past the retention now */
    /* a chunk's worth past the retention already (a chunk of its own: they come first in
     * time), then recent ones */
    for (int i = 0; i < PT_CALLS_CHUNK_RECORDS; i++) {
        pt_call_record a = rest(fake_now - 90000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    for (int i = 0; i < 100; i++) {
        pt_call_record a = rest(fake_now - 1000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), 100);
    assert_int_equal(count(f, "WHERE time_ms = 1119000"), 100); /* fake_now - 1000: the recent ones */
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.pruned, 100 + PT_CALLS_CHUNK_RECORDS);
    pt_call_record a = rest(fake_now - 500, "bot", 200);
    pt_calllog_write(f->log, &a);
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), 101);
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.pruned, 100 + PT_CALLS_CHUNK_RECORDS);
}

static void the_database_is_kept_under_its_size_cap(void **state)
{
    fx *f = *state;
    uint64_t cap = 512 << 10;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .max_bytes = cap });
    int64_t last = 0;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 1000; i++) {
            pt_call_record a = rest(++last, "bot", 200);
            pt_calllog_write(f->log, &a);
        }
        pt_calllog_sync(f->log);
        assert_true(pt_calllog_used_bytes(f->log) <= cap);
    }
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_true(s.pruned > 0);
    int64_t left = count(f, "");
    assert_true(left > 0 && left < 10000);
    char where[64];
    snprintf(where, sizeof where, "WHERE time_ms = %lld", (long long)last);
    assert_int_equal(count(f, where), 1); /* the oldest went first: the newest is still there */
    assert_int_equal(count(f, "WHERE time_ms = 1"), 0);
}

static void a_full_disk_loses_the_batch_counted_and_recovers(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000 });
    pt_call_record a = rest(1000, "bot", 200);
    pt_calllog_write(f->log, &a);
    pt_calllog_sync(f->log);
    sqlite3_stmt *ps;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "PRAGMA page_size", -1, &ps, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(ps), SQLITE_ROW);
    int64_t pages = (int64_t)pt_calllog_used_bytes(f->log) / sqlite3_column_int64(ps, 0);
    sqlite3_finalize(ps);
    pt__calllog_set_max_pages(f->log, pages + 1);
    for (int i = 0; i < 3000; i++) pt_calllog_write(f->log, &a);
    pt_calllog_sync(f->log);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_true(s.disk_full >= 1);
    assert_true(s.write_errors >= s.disk_full);
    assert_int_equal(s.dropped + s.written, 3001);
    assert_int_equal(count(f, ""), (int64_t)s.written);
    pt__calllog_set_max_pages(f->log, 1 << 30);
    assert_true(pt_calllog_write(f->log, &a));
    pt_calllog_sync(f->log);
    pt_calllog_stats t;
    pt_calllog_stats_get(f->log, &t);
    assert_int_equal(t.written, s.written + 1);
}

/* ---- the query ---------------------------------------------------------------------------- */

static int64_t ids[64], rowids[64];
static int nids;
static int take_id(void *arg, const pt_calls_row *row)
{
    (void)arg;
    rowids[nids] = row->id;
    ids[nids++] = row->time_ms;
    return 0;
}

static int64_t run(fx *f, pt_calls_filter q)
{
    char why[128];
    nids = 0;
    if (!q.limit) q.limit = 64;
    int64_t n = pt_calls_query(f->ro, &q, take_id, NULL, why, sizeof why);
    if (n < 0) fail_msg("%s", why);
    return n;
}

static void queries_filter_and_page_newest_first(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    for (int i = 1; i <= 20; i++) {
        pt_call_record a = rest(i * 1000, i % 2 ? "bot" : "other", i % 4 == 0 ? 503 : i % 4 == 1 ? 404 : 200);
        if (i % 2 == 0) a.team = "ops";
        if (i == 7) a.request_id = "the-one";
        if (i == 3) a.service_team = "ops"; /* another team's consumer calling ops' service */
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ 0 }), 20);
    assert_int_equal(ids[0], 20000);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "bot" }), 10);
    assert_int_equal(run(f, (pt_calls_filter){ .team = "ops" }), 10);
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 5000, .to_ms = 8000 }), 3);
    assert_int_equal(ids[0], 7000);
    assert_int_equal(run(f, (pt_calls_filter){ .status_lo = 500, .status_hi = 599 }), 5);
    assert_int_equal(run(f, (pt_calls_filter){ .status_lo = 404, .status_hi = 404 }), 5);
    assert_int_equal(run(f, (pt_calls_filter){ .request_id = "the-one" }), 1);
    assert_int_equal(ids[0], 7000);
    assert_int_equal(run(f, (pt_calls_filter){ .service = "echo", .api = "echo/v1", .consumer = "other" }), 10);
    assert_int_equal(run(f, (pt_calls_filter){ .model = "gpt-4o" }), 0);
    /* visibility: ops sees its consumers' calls and calls to its services */
    assert_int_equal(run(f, (pt_calls_filter){ .visible_team = "ops" }), 11);
    assert_int_equal(run(f, (pt_calls_filter){ .visible_team = "nobody" }), 0);
    /* pages of 6 through all 20, each strictly older than the last */
    pt_calls_filter q = { .limit = 6 };
    int64_t seen = 0, prev = INT64_MAX;
    for (int page = 0; page < 10; page++) {
        int64_t n = run(f, q);
        for (int i = 0; i < nids; i++) {
            assert_true(ids[i] < prev);
            prev = ids[i];
        }
        seen += n;
        if (n < 6) break;
        char c[40];
        pt_calls_cursor_write(ids[nids - 1], rowids[nids - 1], c, sizeof c);
        q.has_cursor = pt_calls_cursor_read(c, &q.cursor_time_ms, &q.cursor_id);
        assert_true(q.has_cursor);
    }
    assert_int_equal(seen, 20);
}

static void trace_ids_are_stored_and_filtered(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    for (int i = 1; i <= 4; i++) {
        pt_call_record a = rest(i * 1000, "bot", 200);
        if (i == 2) a.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736" }), 1);
    assert_int_equal(ids[0], 2000);
    assert_int_equal(run(f, (pt_calls_filter){ .trace_id = "0af7651916cd43dd8448eb211c80319c" }), 0);
    assert_int_equal(count(f, "WHERE trace_id IS NULL"), 3);
}

/* A file of the previous layout (names as text in each row), written before the trace_id
 * column existed, is converted when the writer opens it, and keeps its records. */
static void an_older_file_gains_the_trace_id_column(void **state)
{
    fx *f = *state;
    sqlite3 *db = make_file(f);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE calls(id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, request_id TEXT,"
                                  " team TEXT, consumer TEXT, key_prefix TEXT, service TEXT, service_team TEXT, api TEXT,"
                                  " model TEXT, provider TEXT, error TEXT, method TEXT, path TEXT, status INTEGER,"
                                  " total_us INTEGER, upstream_us INTEGER, ttfb_us INTEGER, bytes_in INTEGER,"
                                  " bytes_out INTEGER, input_tokens INTEGER, output_tokens INTEGER, cached_tokens INTEGER,"
                                  " cost_micro_usd INTEGER, client TEXT, rid_hash INTEGER);"
                                  "PRAGMA user_version=2;"
                                  "INSERT INTO calls(id, time_ms, request_id, team, consumer, service) "
                                  "VALUES(500 << 12, 500, 'old', 'ml', 'old-bot', 'echo');"
                                  "CREATE INDEX calls_consumer ON calls(consumer) WHERE consumer IS NOT NULL;"
                                  "CREATE INDEX calls_request ON calls(rid_hash);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_record a = rest(1000, "bot", 200);
    a.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_true(pt_calllog_write(f->log, &a));
    pt_calllog_sync(f->log);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.written, 1);
    assert_int_equal(count(f, "WHERE trace_id = '4bf92f3577b34da6a3ce929d0e0e4736'"), 1);
    assert_int_equal(count(f, "WHERE request_id = 'old' AND trace_id IS NULL"), 1);
    /* its names were kept once and are found by name, its own and the new record's */
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "old-bot" }), 1);
    assert_int_equal(run(f, (pt_calls_filter){ .team = "ml" }), 2);
    assert_int_equal(run(f, (pt_calls_filter){ .service = "echo", .consumer = "bot" }), 1);
    assert_int_equal(count(f, "WHERE consumer_id = (SELECT id FROM names WHERE name = 'old-bot')"), 1);
    pt_calllog_close(f->log); /* opening it again finds the column there */
    f->log = NULL;
    sqlite3_close(f->ro);
    f->ro = NULL;
    open_log(f, (pt_calllog_opts){ 0 });
}

static void records_of_one_millisecond_page_by_id(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    for (int i = 0; i < 5; i++) {
        pt_call_record a = rest(7000, "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    pt_calls_filter q = { .limit = 2 };
    int64_t seen = 0;
    for (int page = 0; page < 5; page++) {
        int64_t n = run(f, q);
        seen += n;
        if (n < 2) break;
        q.has_cursor = true;
        q.cursor_time_ms = ids[nids - 1];
        q.cursor_id = rowids[nids - 1];
    }
    assert_int_equal(seen, 5);
}

/* Ids are times: a record that arrives after a later one still gets an id in its own
 * millisecond, so a time range (a range of ids) finds it and pages stay in time order. */
static void ids_are_times_even_for_records_out_of_order(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    int64_t times[] = { 5000, 5000, 9000, 5000, 4000, 9000 };
    for (int i = 0; i < 6; i++) {
        pt_call_record a = rest(times[i], "bot", 200);
        pt_calllog_write(f->log, &a);
    }
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ 0 }), 6);
    int64_t want[] = { 9000, 9000, 5000, 5000, 5000, 4000 };
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ids[i], want[i]);
        assert_int_equal(rowids[i] >> PT_CALLS_SEQ_BITS, want[i]);
    }
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 5000, .to_ms = 5001 }), 3);
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 4000, .to_ms = 5000 }), 1);
    /* reopened, the writer goes on after the largest id */
    pt_calllog_close(f->log);
    f->log = NULL;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_record a = rest(9000, "bot", 200);
    pt_calllog_write(f->log, &a);
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 9000, .to_ms = 9001 }), 3);
}

/* Records spread over many chunks: the filters that skip whole chunks by their keys (a
 * consumer, a request id, a trace id, a service) find every record they should and no
 * other, newest first and oldest first, and the first page stops early. */
static void lookups_skip_chunks_and_miss_nothing(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .queue_bytes = 32 << 20, .flush_bytes = 32 << 20 });
    enum { N = PT_CALLS_CHUNK_RECORDS * 7 + 123 };
    static char rid[N][24], consumer[N][24], trace[N][40];
    for (int i = 0; i < N; i++) {
        pt_call_record a = rest(100000 + i, NULL, 200);
        snprintf(rid[i], sizeof rid[i], "req-%d", i);
        snprintf(consumer[i], sizeof consumer[i], "c-%d", i % 97);
        snprintf(trace[i], sizeof trace[i], "%032x", i * 2654435761u);
        a.request_id = rid[i];
        a.consumer = consumer[i];
        a.trace_id = i % 5 ? NULL : trace[i];
        a.service = i % 1000 == 999 ? "rare" : "echo";
        assert_true(pt_calllog_write(f->log, &a));
    }
    pt_calllog_sync(f->log);
    assert_int_equal(count(f, ""), N);
    int64_t chunks = 0;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT count(*), sum(n) FROM chunks", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    chunks = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_column_int64(st, 1), N);
    sqlite3_finalize(st);
    assert_int_equal(chunks, N / PT_CALLS_CHUNK_RECORDS + 1);
    for (int i = 0; i < N; i += 331) {
        uint64_t read = atomic_load(&pt__calls_chunks_read);
        assert_int_equal(run(f, (pt_calls_filter){ .request_id = rid[i] }), 1);
        assert_int_equal(ids[0], 100000 + i);
        /* its chunk, and at most a few whose filter happens to hold the key too */
        assert_true(atomic_load(&pt__calls_chunks_read) - read <= 3);
    }
    uint64_t read = atomic_load(&pt__calls_chunks_read);
    assert_int_equal(run(f, (pt_calls_filter){ .service = "rare", .limit = 100 }), N / 1000);
    assert_true(atomic_load(&pt__calls_chunks_read) - read <= (uint64_t)N / 1000 + 3); /* the chunks that name it */
    assert_int_equal(run(f, (pt_calls_filter){ .request_id = "req-none" }), 0);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "c-5", .limit = 1000 }), (N - 5 + 96) / 97);
    for (int k = 1; k < nids; k++) assert_true(ids[k] < ids[k - 1]);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "c-5", .limit = 3 }), 3);
    assert_int_equal(ids[0], 100000 + 5 + 97 * ((N - 1 - 5) / 97));
    assert_int_equal(run(f, (pt_calls_filter){ .trace_id = trace[1000] }), 1);
    assert_int_equal(ids[0], 101000);
    assert_int_equal(run(f, (pt_calls_filter){ .trace_id = trace[1001] }), 0); /* none stored for it */
    assert_int_equal(run(f, (pt_calls_filter){ .service = "rare", .limit = 100 }), N / 1000);
    int c0 = 0; /* c-0's records in [600, 1600): its i are the multiples of 97 */
    for (int i = 600; i < 1600; i++) c0 += i % 97 == 0;
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 100000 + 600, .to_ms = 100000 + 1600, .consumer = "c-0" }), c0);
    assert_int_equal(count(f, "WHERE id >= (100000 << 12) + 10 AND id < (100000 + 2000) << 12"), 2000 - 1);
    /* oldest first, through the table's own order */
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT time_ms FROM calls WHERE consumer_id = "
                                               "(SELECT id FROM names WHERE name = 'c-3') ORDER BY id LIMIT 2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 100003);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 100003 + 97);
    sqlite3_finalize(st);
}

/* Records with large bodies end their chunk early: a reader decodes a bounded blob to show
 * a few of them. */
static void large_records_make_smaller_chunks(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ .flush_ms = 600000, .queue_bytes = 32 << 20, .flush_bytes = 32 << 20 });
    static char body[PT_CALLLOG_BODY_MAX];
    memset(body, 'b', sizeof body);
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        pt_call_record a = rest(1000 + i, "bot", 200);
        a.request_body = a.response_body = pt_slice_from(body, sizeof body);
        assert_true(pt_calllog_write(f->log, &a));
    }
    pt_calllog_sync(f->log);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT count(*), sum(n), max(length(recs)) FROM chunks JOIN chunk_recs USING (id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t most = PT_CALLS_CHUNK_BYTES / (2 * sizeof body) + 1; /* records a chunk takes, at most */
    assert_true(sqlite3_column_int64(st, 0) >= (N + most - 1) / most);
    assert_int_equal(sqlite3_column_int64(st, 1), N);
    assert_true(sqlite3_column_int64(st, 2) < PT_CALLS_CHUNK_BYTES + 2 * (int64_t)sizeof body + 4096);
    sqlite3_finalize(st);
    assert_int_equal(count(f, "WHERE length(request_body) = 16384 AND length(response_body) = 16384"), N);
}

/* A call written after later ones, in a later batch (a stream outlasting it), is listed
 * where it was written and found by its own time, `to` included. */
static void a_late_record_is_found_by_its_time(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_call_record a = rest(9000, "bot", 200), late = rest(4000, "bot", 200);
    late.request_id = "late";
    assert_true(pt_calllog_write(f->log, &a));
    pt_calllog_sync(f->log);
    assert_true(pt_calllog_write(f->log, &late));
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ 0 }), 2);
    assert_int_equal(ids[0], 4000); /* newest written first */
    assert_true(rowids[0] > rowids[1]);
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 3000, .to_ms = 5000 }), 1);
    assert_int_equal(ids[0], 4000);
    assert_int_equal(run(f, (pt_calls_filter){ .to_ms = 8000 }), 1);
    assert_int_equal(run(f, (pt_calls_filter){ .from_ms = 4001 }), 1);
    assert_int_equal(ids[0], 9000);
}

/* A layout-5 file of many records is converted by the writer in steps, newest first, while
 * it goes on writing: every record as it was, the new ones after them, the old table gone. */
static void a_large_file_of_layout_5_is_converted_in_steps(void **state)
{
    fx *f = *state;
    enum { N = CONVERT_STEP * 2 + 7 };
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d) "
             "INSERT INTO calls(id, time_ms, request_id, consumer_id, status, total_us, bytes_in, bytes_out, path) "
             "SELECT (5000 + i) << 12, 5000 + i, 'r' || i, CASE WHEN i %% 2 THEN 2 END, 200 + i %% 3, i, i * 3, "
             "-i, CASE WHEN i %% 7 = 0 THEN '/p/' || i END FROM g",
             N);
    reopen_as_older_with(f, sql, (pt_calllog_opts){ .convert_steps = 1, .flush_ms = 600000 });
    pt_call_record a = rest(5000 + N, "bot", 200); /* the same millisecond as the newest converted */
    assert_true(pt_calllog_write(f->log, &a));
    pt_calllog_sync(f->log); /* one wake-up: one step, the newest CONVERT_STEP rows */
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_int_equal(s.to_convert, N + 1 - CONVERT_STEP);
    assert_int_equal(count(f, ""), CONVERT_STEP + 1);
    char newest[64];
    snprintf(newest, sizeof newest, "WHERE time_ms > %d", 5000 + N - CONVERT_STEP);
    assert_int_equal(count(f, newest), CONVERT_STEP + 1); /* the newest rows and the new record */
    int wakes = 0;
    do {
        pt_calllog_sync(f->log);
        pt_calllog_stats_get(f->log, &s);
    } while (s.to_convert && ++wakes < 10);
    assert_int_equal(s.to_convert, 0);
    assert_int_equal(s.written, 1);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->ro, "SELECT count(*) FROM sqlite_master WHERE name = 'calls_v5'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    assert_int_equal(count(f, ""), N + 2);
    assert_int_equal(count(f, "WHERE status = 202 AND bytes_out < 0"), (N + 1) / 3); /* i % 3 == 2 */
    assert_int_equal(count(f, "WHERE path = '/p/' || (time_ms - 5000) AND bytes_in = 3 * total_us"), N / 7);
    assert_int_equal(count(f, "WHERE consumer_id = (SELECT id FROM names WHERE name = 'bot')"), (N + 1) / 2 + 2);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "bot", .limit = 60 }), 60);
    assert_int_equal(run(f, (pt_calls_filter){ .request_id = "r777" }), 1);
    assert_int_equal(ids[0], 5777);
    assert_int_equal(run(f, (pt_calls_filter){ .limit = 2 }), 2);
    assert_int_equal(ids[0], 5000 + N); /* the new record, after the newest converted one */
    assert_int_equal(ids[1], 5000 + N);
    assert_true(rowids[0] > rowids[1]);
}

/* Retention while a file is converted: its rows not yet converted are the oldest, so the
 * size cap takes them first, not the new records nor the newest converted ones. */
static void the_size_cap_takes_unconverted_rows_first(void **state)
{
    fx *f = *state;
    sqlite3 *db = make_file(f);
    assert_int_equal(sqlite3_exec(db, pt_calls_table_v5_sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, layout_5, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20000) "
                                      "INSERT INTO calls(id, time_ms, request_id, consumer_id, status, path) "
                                      "SELECT (6000 + i) << 12, 6000 + i, printf('old-%05d', i), 2, 200, "
                                      "printf('/a/rather/long/path/%040d', i) FROM g",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    uint64_t cap = (uint64_t)st.st_size / 2; /* the file is over its cap from the start */
    open_log(f, (pt_calllog_opts){ .max_bytes = cap, .convert_steps = 1, .flush_ms = 600000 });
    for (int i = 0; i < 50; i++) {
        pt_call_record a = rest(100000 + i, "bot", 200);
        assert_true(pt_calllog_write(f->log, &a));
    }
    pt_calllog_sync(f->log);
    pt_calllog_stats s;
    pt_calllog_stats_get(f->log, &s);
    assert_true(s.pruned > 0);
    assert_int_equal(count(f, "WHERE time_ms >= 100000"), 50); /* every new record */
    assert_int_equal(count(f, "WHERE request_id = 'old-20000'"), 1); /* the newest converted */
    for (int wakes = 0; s.to_convert && wakes < 30; wakes++) {
        pt_calllog_sync(f->log);
        pt_calllog_stats_get(f->log, &s);
    }
    assert_int_equal(s.to_convert, 0);
    pt_calllog_sync(f->log);
    assert_true(pt_calllog_used_bytes(f->log) <= cap);
    assert_int_equal(count(f, "WHERE time_ms >= 100000"), 50);
    assert_int_equal(count(f, "WHERE request_id = 'old-00001'"), 0); /* the oldest went */
}

/* A damaged chunk is read up to where it stops making sense, without crashing; the
 * records of other chunks are all there. */
static void a_damaged_chunk_is_read_as_far_as_it_goes(void **state)
{
    fx *f = *state;
    open_log(f, (pt_calllog_opts){ 0 });
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 10; i++) {
            pt_call_record a = rest(1000 * (round + 1) + i, "bot", 200);
            assert_true(pt_calllog_write(f->log, &a));
        }
        pt_calllog_sync(f->log);
    }
    pt_calllog_close(f->log);
    f->log = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    /* the first chunk's records cut in the middle of its fourth, its filter emptied */
    assert_int_equal(sqlite3_exec(db, "UPDATE chunk_recs SET recs = substr(recs, 1, 3 * length(recs) / 10 + 5) "
                                      "WHERE id = (SELECT min(id) FROM chunks);"
                                      "UPDATE chunk_keys SET keys = x'' WHERE id = (SELECT min(id) FROM chunks);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    int64_t n = count(f, "");
    assert_true(n >= 10 + 3 && n < 20);
    assert_int_equal(count(f, "WHERE time_ms >= 2000"), 10);
    assert_int_equal(run(f, (pt_calls_filter){ .consumer = "bot", .limit = 60 }), n);
}

/* A file from before ids were times is started afresh rather than misread. */
static void a_file_of_the_older_layout_is_replaced(void **state)
{
    fx *f = *state;
    char why[128];
    sqlite3 *db;
    open_log(f, (pt_calllog_opts){ 0 });
    pt_calllog_close(f->log);
    f->log = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=0;"
                                      "CREATE TABLE calls(id INTEGER PRIMARY KEY, time_ms INTEGER);"
                                      "INSERT INTO calls VALUES(1, 1000);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    pt_calllog *l = pt_calllog_open(&(pt_calllog_opts){ .path = f->path }, why, sizeof why);
    assert_non_null(l);
    f->log = l;
    pt_call_record a = rest(2000, "bot", 200);
    pt_calllog_write(f->log, &a);
    pt_calllog_sync(f->log);
    assert_int_equal(run(f, (pt_calls_filter){ 0 }), 1);
    assert_int_equal(ids[0], 2000);
}

static void cursors_round_trip_and_refuse_garbage(void **state)
{
    (void)state;
    char c[40];
    int64_t t, id;
    pt_calls_cursor_write(1764000000123, 42, c, sizeof c);
    assert_int_equal(strlen(c), 32);
    assert_true(pt_calls_cursor_read(c, &t, &id));
    assert_int_equal(t, 1764000000123);
    assert_int_equal(id, 42);
    assert_false(pt_calls_cursor_read("", &t, &id));
    assert_false(pt_calls_cursor_read("0000000000000001000000000000002G", &t, &id));
    assert_false(pt_calls_cursor_read("00000000000000010000000000000002a", &t, &id));
    assert_false(pt_calls_cursor_read("f000000000000001000000000000000a", &t, &id)); /* negative */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(records_are_stored_field_by_field),
        T(cache_hits_are_stored_with_the_cost_saved),
        T(no_field_of_one_record_leaks_into_another),
        T(records_naming_the_same_keep_their_names_and_counts),
        T(method_path_and_client_are_each_rows_own),
        T(unused_names_are_pruned_after_retention),
        T(a_file_of_layout_3_gains_the_new_columns),
        T(a_file_of_layout_4_gains_the_arguments_columns),
        T(arguments_are_stored_whole_or_not_at_all),
        T(long_strings_are_cut),
        T(a_batch_larger_than_a_transaction_is_stored_whole),
        T(a_full_queue_drops_and_counts),
        T(old_records_are_pruned_in_bounded_steps),
        T(an_idle_wake_up_prunes_one_step),
        T(a_batch_prunes_first_and_still_prunes_what_it_wrote_too_old),
        T(the_database_is_kept_under_its_size_cap),
        T(a_full_disk_loses_the_batch_counted_and_recovers),
        T(queries_filter_and_page_newest_first),
        T(records_of_one_millisecond_page_by_id),
        T(trace_ids_are_stored_and_filtered),
        T(an_older_file_gains_the_trace_id_column),
        T(ids_are_times_even_for_records_out_of_order),
        T(lookups_skip_chunks_and_miss_nothing),
        T(large_records_make_smaller_chunks),
        T(a_late_record_is_found_by_its_time),
        T(a_large_file_of_layout_5_is_converted_in_steps),
        T(the_size_cap_takes_unconverted_rows_first),
        T(a_damaged_chunk_is_read_as_far_as_it_goes),
        T(a_file_of_the_older_layout_is_replaced),
        cmocka_unit_test(strings_of_every_length_are_packed_whole),
        cmocka_unit_test(cursors_round_trip_and_refuse_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
