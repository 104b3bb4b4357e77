/* calllog.c: drives the call log's writer and query directly (no HTTP), for
 * bench/calllog.sh.
 *
 *   calllog write PATH ROWS DAYS CONSUMERS [fill]
 *                                           writes ROWS records spread over the last DAYS
 *                                           days (DAYS 0: stamped with the time they are
 *                                           written, as a gateway's are) as fast as the
 *                                           writer takes them; prints records/s and the
 *                                           file's bytes, and the CPU time per record of
 *                                           the process (the writer and the thread
 *                                           packing the records). "fill" leaves the analytics
 *                                           rollups out (a table filled with old records
 *                                           for the query benchmark)
 *   calllog batch PATH ROWS BATCH CONSUMERS  writes ROWS records stamped as written, rollups on,
 *                                           in batches of exactly BATCH records (each queued
 *                                           whole, then handed to the writer at once), so two
 *                                           builds' writers are counted on identical batches;
 *                                           CONSUMERS 0: calls without a key, one route, as
 *                                           through bench/instructions.sh; prints the writer
 *                                           thread's CPU time per record (user, system:
 *                                           /proc) over the second half of the batches
 *   calllog bulk PATH ROWS DAYS CONSUMERS    fills a new file with ROWS records like write's
 *                                           over the last DAYS days, generated in SQL as a
 *                                           file of the one-row-per-record layout 5 (no
 *                                           indexes) that the gateway's code then converts
 *                                           into chunks
 *                                           (a large log in a bounded time, for the query
 *                                           benchmark); prints rows/s and the file's bytes
 *   calllog query PATH ROUNDS DAYS CONSUMERS one consumer, one day, the first page (100 rows),
 *                                           ROUNDS times on random consumers and days; prints
 *                                           the median and the slowest in ms; then, on a log
 *                                           of chunks bulk filled, ROUNDS request ids
 *                                           anywhere in it (no time range) */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logs/calllog.h"
#include "logs/calls_db.h"

#define DAY_MS 86400000LL
#define PT__BENCH_STR_(x) #x
#define PT__BENCH_STR(x) PT__BENCH_STR_(x)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the whole process (every thread), user and system, in microseconds. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* CPU time of the writer thread (the thread named portico-calllog): user and system, in
 * microseconds (clock ticks of /proc), and its run time in nanoseconds (schedstat, exact).
 * All 0 when it is not found. */
typedef struct thread_cpu {
    double user_us, sys_us, run_ns, minflt;
} thread_cpu;

static thread_cpu writer_cpu(void)
{
    thread_cpu c = { 0, 0, 0, 0 };
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    double tick = (double)sysconf(_SC_CLK_TCK);
    while (d && (e = readdir(d))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        bool writer = fgets(comm, sizeof comm, f) && strncmp(comm, "portico-calllog", 15) == 0;
        fclose(f);
        if (!writer) continue;
        unsigned long long ut = 0, st = 0, run = 0, minflt = 0;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if ((f = fopen(path, "r"))) { /* after the ")" closing the name: fields 3.., utime is the 14th */
            char line[1024];
            const char *p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
            if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %llu %llu", &minflt, &ut, &st);
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%llu", &run) != 1) run = 0;
            fclose(f);
        }
        c = (thread_cpu){ ut * 1e6 / tick, st * 1e6 / tick, (double)run, (double)minflt };
    }
    if (d) closedir(d);
    return c;
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The strings of record i (a record's strings are borrowed until it is queued). */
typedef struct rec_text {
    char rid[24], consumer[24], team[16], service[16], api[32], path[40];
} rec_text;

static const pt_call_ai bench_ai = { .provider = "openai", .model = "gpt-4o-mini", .input_tokens = 420, .output_tokens = 180,
                                     .cost_micro_usd = 171, .cost_known = true, .ttft_us = 350000 };

/* Record i of write's sequence, stamped time_ms: one of CONSUMERS keyed callers (their
 * teams, services and APIs), a third of them AI calls, one in 50 a 503; CONSUMERS 0: a
 * call without a key on one route, as a gateway logs bench/instructions.sh's requests. */
static pt_call_record make_record(long i, int64_t time_ms, int consumers, rec_text *t)
{
    snprintf(t->rid, sizeof t->rid, "%016lx", (unsigned long)i * 2654435761u);
    snprintf(t->path, sizeof t->path, "/v1/items/%ld", i % 10000);
    pt_call_record r = {
        .time_ms = time_ms, .request_id = t->rid, .method = PT_SLICE_LIT("POST"), .path = pt_slice_cstr(t->path),
        .client = PT_SLICE_LIT("10.1.2.3:54321"), .status = i % 50 ? 200 : 503, .error = i % 50 ? NULL : "upstream_error",
        .total_us = 1200 + i % 5000, .upstream_us = 900 + i % 4000, .ttfb_us = 400, .bytes_in = 812, .bytes_out = 2450,
    };
    if (!consumers) {
        r.service = "up";
        r.api = "bench";
        return r;
    }
    int c = (int)(i * 7919 % consumers);
    snprintf(t->consumer, sizeof t->consumer, "consumer-%d", c);
    snprintf(t->team, sizeof t->team, "team-%d", c % 50);
    snprintf(t->service, sizeof t->service, "svc-%d", c % 20);
    snprintf(t->api, sizeof t->api, "svc-%d/v1", c % 20);
    r.team = r.service_team = t->team;
    r.consumer = t->consumer;
    r.key_prefix = "pk_AbCdEfGhI";
    r.service = t->service;
    r.api = t->api;
    r.ai = i % 3 ? NULL : &bench_ai;
    return r;
}

/* Queues r, waiting for room: the benchmark wants every record. Returns the waits. */
static long queue(pt_calllog *l, const pt_call_record *r)
{
    long waits = 0;
    for (; !pt_calllog_write(l, r); waits++) /* leaving the core to the writer meanwhile */
        nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
    return waits;
}

static int write_rows(const char *path, long rows, int days, int consumers, bool fill)
{
    char why[256];
    pt_calllog *l = pt_calllog_open(&(pt_calllog_opts){ .path = path, .queue_bytes = 32 << 20, .no_rollups = fill },
                                    why, sizeof why);
    if (!l) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    int64_t start = pt_calllog_now_ms() - days * DAY_MS, span = days * DAY_MS;
    long retries = 0;
    double t0 = now_ms(), cpu0 = cpu_us();
    for (long i = 0; i < rows; i++) {
        rec_text t;
        int64_t at = span ? start + (int64_t)((double)span * i / rows) : pt_calllog_now_ms();
        pt_call_record r = make_record(i, at, consumers, &t);
        retries += queue(l, &r);
    }
    pt_calllog_sync(l);
    double ms = now_ms() - t0, cpu = cpu_us() - cpu0;
    pt_calllog_stats s;
    pt_calllog_stats_get(l, &s);
    pt_calllog_close(l);
    long long bytes = file_bytes(path);
    printf("rows=%ld written=%llu ms=%.0f records_per_s=%.0f queue_full_waits=%ld (each also counted as dropped) file_bytes=%lld "
           "bytes_per_million=%.0f cpu_us_per_record=%.2f\n",
           rows, (unsigned long long)s.written, ms, rows / (ms / 1e3), retries, bytes, bytes * 1e6 / rows, cpu / rows);
    return s.written == (unsigned long long)rows ? 0 : 1;
}

/* Batches of exactly `batch` records: the writer wakes only when asked (pt_calllog_sync),
 * never by its timer or its queue's fill, so every build's writer gets the same batches;
 * bench/calllog.sh counts its instructions per record under callgrind. */
static int write_batches(const char *path, long rows, long batch, int consumers)
{
    char why[256];
    size_t queue_bytes = 16 << 20;
    /* the gateway's defaults (call_log.retention 7 days, max_size 1 GiB): pruning checks
     * run as they do there */
    pt_calllog *l = pt_calllog_open(&(pt_calllog_opts){ .path = path, .queue_bytes = queue_bytes, .flush_bytes = queue_bytes,
                                                        .flush_ms = 3600000, .retention_ms = 7 * DAY_MS,
                                                        .max_bytes = 1ull << 30 },
                                    why, sizeof why);
    if (!l) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    long waits = 0, measured = 0;
    thread_cpu c0 = writer_cpu();
    for (long i = 0; i < rows; i++) {
        rec_text t;
        pt_call_record r = make_record(i, pt_calllog_now_ms(), consumers, &t);
        waits += queue(l, &r);
        if ((i + 1) % batch == 0 || i + 1 == rows) {
            pt_calllog_sync(l);
            if (!measured && i + 1 >= rows / 2) { /* the second half: past SQLite's page cache filling */
                measured = rows - (i + 1);
                c0 = writer_cpu();
            }
        }
    }
    thread_cpu c1 = writer_cpu();
    pt_calllog_stats s;
    pt_calllog_stats_get(l, &s);
    pt_calllog_close(l);
    /* the writer thread's own CPU time for the second half of the batches (the first fills
     * SQLite's page cache, once in a process's life; the rollups' last flush, at close, is
     * left out) */
    double m = measured ? (double)measured : 1;
    printf("rows=%ld batch=%ld written=%llu queue_full_waits=%ld writer_cpu_us_per_record=%.3f "
           "writer_user_us_per_record=%.3f writer_sys_us_per_record=%.3f writer_page_faults_per_batch=%.2f\n",
           rows, batch, (unsigned long long)s.written, waits, (c1.run_ns - c0.run_ns) / 1e3 / m,
           (c1.user_us - c0.user_us) / m, (c1.sys_us - c0.sys_us) / m, (c1.minflt - c0.minflt) * batch / m);
    return s.written == (unsigned long long)rows && !waits ? 0 : 1;
}

/* ---- bulk: rows generated in SQL, in layout 5, converted ---- */

/* Layout 5's names; its table is pt_calls_table_v5_sql. */
static const char names_v5[] =
    "CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_ms INTEGER); PRAGMA user_version=5;";

/* rid_hash(request_id) in SQL: the writer's hash of the request id. */
static void rid_hash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    sqlite3_result_int64(ctx, pt_calls_rid_hash(s, (size_t)sqlite3_value_bytes(argv[0])));
}

/* The names of write's records with ids the row generator computes: consumer c is 1 + c,
 * team t is 1 + C + t, service s 1 + C + 50 + s, its API 1 + C + 70 + s, then the key
 * prefix, the provider and the model. */
static int bulk_names(sqlite3 *db, int consumers, int64_t now)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO names(id, name, last_ms) VALUES(?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = SQLITE_DONE;
    for (int i = 0; i < consumers + 93 && rc == SQLITE_DONE; i++) {
        char name[32];
        int j = i - consumers;
        if (j < 0) snprintf(name, sizeof name, "consumer-%d", i);
        else if (j < 50) snprintf(name, sizeof name, "team-%d", j);
        else if (j < 70) snprintf(name, sizeof name, "svc-%d", j - 50);
        else if (j < 90) snprintf(name, sizeof name, "svc-%d/v1", j - 70);
        else snprintf(name, sizeof name, "%s", j == 90 ? "pk_AbCdEfGhI" : j == 91 ? "openai" : "gpt-4o-mini");
        sqlite3_bind_int64(st, 1, 1 + i);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Rows ?1 .. ?2 - 1 of ?3 over [?4, ?4 + ?5) ms, ?6 consumers: the records write makes. */
static const char bulk_sql[] =
    "WITH RECURSIVE g(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < ?2), "
    "r AS (SELECT i, i * 7919 % ?6 AS c, ?4 + ?5 * i / ?3 AS t, i % 3 = 0 AS ai, "
    "             printf('%016x', i * 2654435761) AS rid FROM g) "
    "INSERT INTO calls(id, time_ms, request_id, team_id, consumer_id, key_prefix_id, service_id, service_team_id, api_id, "
    "                  model_id, provider_id, error, method, path, status, total_us, upstream_us, ttfb_us, bytes_in, "
    "                  bytes_out, input_tokens, output_tokens, cached_tokens, cost_micro_usd, client, rid_hash) "
    "SELECT (t << " PT__BENCH_STR(PT_CALLS_SEQ_BITS) ") + i % 4096, t, rid, 1 + ?6 + c % 50, 1 + c, 1 + ?6 + 90, "
    "       1 + ?6 + 50 + c % 20, 1 + ?6 + c % 50, 1 + ?6 + 70 + c % 20, CASE WHEN ai THEN 1 + ?6 + 92 END, "
    "       CASE WHEN ai THEN 1 + ?6 + 91 END, CASE WHEN i % 50 = 0 THEN 'upstream_error' END, 'POST', "
    "       '/v1/items/' || (i % 10000), CASE WHEN i % 50 = 0 THEN 503 ELSE 200 END, 1200 + i % 5000, "
    "       900 + i % 4000, CASE WHEN ai THEN 350000 ELSE 400 END, 812, 2450, CASE WHEN ai THEN 420 END, "
    "       CASE WHEN ai THEN 180 END, CASE WHEN ai THEN 0 END, CASE WHEN ai THEN 171 END, '10.1.2.3:54321', "
    "       rid_hash(rid) FROM r";

#define BULK_CHUNK 1000000L
#define BULK_STEP 100000 /* rows per conversion step */

/* One transaction per BULK_CHUNK rows into layout 5's table; opening the file again with
 * the gateway's code converts them into chunks. */
static int bulk_fill(sqlite3 *db, long rows, int days, int consumers)
{
    int64_t now = pt_calllog_now_ms(), span = days * DAY_MS;
    sqlite3_stmt *st = NULL;
    if (sqlite3_create_function(db, "rid_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, rid_hash_fn, NULL, NULL) ||
        sqlite3_exec(db, names_v5, NULL, NULL, NULL) || sqlite3_exec(db, pt_calls_table_v5_sql, NULL, NULL, NULL) ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) ||
        bulk_names(db, consumers, now) != 0 || sqlite3_prepare_v2(db, bulk_sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = SQLITE_DONE;
    for (long from = 0; from < rows && rc == SQLITE_DONE; from += BULK_CHUNK) {
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, from + BULK_CHUNK < rows ? from + BULK_CHUNK : rows);
        sqlite3_bind_int64(st, 3, rows);
        sqlite3_bind_int64(st, 4, now - span);
        sqlite3_bind_int64(st, 5, span);
        sqlite3_bind_int64(st, 6, consumers);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE && sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL) != SQLITE_OK) rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int bulk(const char *path, long rows, int days, int consumers)
{
    sqlite3 *db;
    char why[256];
    double t0 = now_ms();
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "bulk: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    if (bulk_fill(db, rows, days, consumers) != 0) {
        fprintf(stderr, "bulk fill: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    double filled = now_ms();
    sqlite3_close(db);
    if (pt_calls_db_open(path, false, &db, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    /* the rows into chunks, as the gateway's writer converts them, in larger steps */
    int rc;
    pt_calls_convert *cv = pt_calls_convert_new(db, &rc);
    int64_t done = BULK_STEP, lowest;
    while (cv && rc == SQLITE_OK && done == BULK_STEP) { /* fewer: it was the last step */
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        if (rc == SQLITE_OK) rc = pt_calls_convert_step(cv, BULK_STEP, &done, &lowest);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    pt_calls_convert_free(cv);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "bulk convert: %s\n", sqlite3_errstr(rc));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    /* the pages in use: the file also holds the pages the generated table freed */
    long long bytes = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT (SELECT page_count FROM pragma_page_count) - "
                               "(SELECT freelist_count FROM pragma_freelist_count), (SELECT page_size FROM pragma_page_size)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        bytes = sqlite3_column_int64(st, 0) * sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    double ms = now_ms() - t0;
    printf("rows=%ld ms=%.0f fill_ms=%.0f convert_ms=%.0f rows_per_s=%.0f used_bytes=%lld bytes_per_million=%.0f\n", rows, ms,
           filled - t0, ms - (filled - t0), rows / (ms / 1e3), bytes, bytes * 1e6 / rows);
    return 0;
}

static int count_row(void *arg, const pt_calls_row *row)
{
    (void)row;
    ++*(long *)arg;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int query(const char *path, int rounds, int days, int consumers)
{
    sqlite3 *db;
    char why[256];
    if (pt_calls_db_open(path, true, &db, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    double *ms = calloc((size_t)rounds, sizeof *ms);
    int64_t now = pt_calllog_now_ms();
    long total = 0;
    srand(42);
    for (int i = 0; i < rounds; i++) {
        char consumer[24];
        snprintf(consumer, sizeof consumer, "consumer-%d", rand() % consumers);
        int64_t from = now - (1 + rand() % (days > 1 ? days - 1 : 1)) * DAY_MS;
        pt_calls_filter f = { .consumer = consumer, .from_ms = from, .to_ms = from + DAY_MS, .limit = 100 };
        long n = 0;
        double t0 = now_ms();
        if (pt_calls_query(db, &f, count_row, &n, why, sizeof why) < 0) {
            fprintf(stderr, "%s\n", why);
            return 1;
        }
        ms[i] = now_ms() - t0;
        total += n;
    }
    qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
    printf("rounds=%d median_ms=%.3f max_ms=%.3f rows_per_query=%.1f", rounds, ms[rounds / 2], ms[rounds - 1],
           (double)total / rounds);
    /* one request id of bulk's, anywhere in the log (no time range): every chunk's filter */
    sqlite3_stmt *st;
    long rows = 0, found = 0;
    if (sqlite3_prepare_v2(db, "SELECT sum(n) FROM chunks", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        rows = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (int i = 0; rows > 0 && i < rounds; i++) {
        char rid[24];
        snprintf(rid, sizeof rid, "%016lx", (unsigned long)(rand() % rows) * 2654435761u);
        pt_calls_filter f = { .request_id = rid, .limit = 100 };
        long n = 0;
        double t0 = now_ms();
        if (pt_calls_query(db, &f, count_row, &n, why, sizeof why) < 0) break;
        ms[i] = now_ms() - t0;
        found += n;
    }
    if (rows > 0) {
        qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
        printf(" rid_median_ms=%.3f rid_max_ms=%.3f rid_found=%ld", ms[rounds / 2], ms[rounds - 1], found);
    }
    printf("\n");
    free(ms);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 6 || (argc == 7 && strcmp(argv[6], "fill") == 0)) && strcmp(argv[1], "write") == 0)
        return write_rows(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]), argc == 7);
    if (argc == 6 && strcmp(argv[1], "batch") == 0 && atol(argv[4]) > 0)
        return write_batches(argv[2], atol(argv[3]), atol(argv[4]), atoi(argv[5]));
    if (argc == 6 && strcmp(argv[1], "bulk") == 0) return bulk(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc == 6 && strcmp(argv[1], "query") == 0) return query(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: calllog write PATH ROWS DAYS CONSUMERS [fill] | batch PATH ROWS BATCH CONSUMERS | "
                    "bulk PATH ROWS DAYS CONSUMERS | "
                    "query PATH ROUNDS DAYS CONSUMERS\n");
    return 2;
}
