/* calllog.c: drives the call log's writer and query directly (no HTTP), for
 * bench/calllog.sh.
 *
 *   calllog write PATH ROWS DAYS CONSUMERS [fill]
 *                                           writes ROWS records spread over the last DAYS
 *                                           days (DAYS 0: stamped with the time they are
 *                                           written, as a gateway's are) as fast as the
 *                                           writer takes them; prints records/s and the
 *                                           file's bytes. "fill" leaves the analytics
 *                                           rollups out (a table filled with old records
 *                                           for the query benchmark)
 *   calllog query PATH ROUNDS DAYS CONSUMERS one consumer, one day, the first page (100 rows),
 *                                           ROUNDS times on random consumers and days; prints
 *                                           the median and the slowest in ms */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "logs/calllog.h"
#include "logs/calls_db.h"

#define DAY_MS 86400000LL

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
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
    pt_call_ai ai = { .provider = "openai", .model = "gpt-4o-mini", .input_tokens = 420, .output_tokens = 180,
                      .cost_micro_usd = 171, .cost_known = true, .ttft_us = 350000 };
    long retries = 0;
    double t0 = now_ms();
    for (long i = 0; i < rows; i++) {
        char rid[24], consumer[24], team[16], service[16], api[32], path_s[40];
        int c = (int)(i * 7919 % consumers);
        snprintf(rid, sizeof rid, "%016lx", (unsigned long)i * 2654435761u);
        snprintf(consumer, sizeof consumer, "consumer-%d", c);
        snprintf(team, sizeof team, "team-%d", c % 50);
        snprintf(service, sizeof service, "svc-%d", c % 20);
        snprintf(api, sizeof api, "svc-%d/v1", c % 20);
        snprintf(path_s, sizeof path_s, "/v1/items/%ld", i % 10000);
        pt_call_record r = {
            .time_ms = span ? start + (int64_t)((double)span * i / rows) : pt_calllog_now_ms(), .request_id = rid, .team = team,
            .consumer = consumer, .key_prefix = "pk_AbCdEfGhI", .service = service, .service_team = team, .api = api,
            .method = PT_SLICE_LIT("POST"), .path = pt_slice_cstr(path_s), .client = PT_SLICE_LIT("10.1.2.3:54321"),
            .status = i % 50 ? 200 : 503, .error = i % 50 ? NULL : "upstream_error", .total_us = 1200 + i % 5000,
            .upstream_us = 900 + i % 4000, .ttfb_us = 400, .bytes_in = 812, .bytes_out = 2450, .ai = i % 3 ? NULL : &ai,
        };
        while (!pt_calllog_write(l, &r)) { /* the benchmark wants every record: wait for room, */
            retries++;                   /* leaving the core to the writer meanwhile */
            nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
        }
    }
    pt_calllog_sync(l);
    double ms = now_ms() - t0;
    pt_calllog_stats s;
    pt_calllog_stats_get(l, &s);
    pt_calllog_close(l);
    long long bytes = file_bytes(path);
    printf("rows=%ld written=%llu ms=%.0f records_per_s=%.0f queue_full_waits=%ld (each also counted as dropped) file_bytes=%lld "
           "bytes_per_million=%.0f\n",
           rows, (unsigned long long)s.written, ms, rows / (ms / 1e3), retries, bytes, bytes * 1e6 / rows);
    return s.written == (unsigned long long)rows ? 0 : 1;
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
    printf("rounds=%d median_ms=%.3f max_ms=%.3f rows_per_query=%.1f\n", rounds, ms[rounds / 2], ms[rounds - 1],
           (double)total / rounds);
    free(ms);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 6 || (argc == 7 && strcmp(argv[6], "fill") == 0)) && strcmp(argv[1], "write") == 0)
        return write_rows(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]), argc == 7);
    if (argc == 6 && strcmp(argv[1], "query") == 0) return query(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: calllog write PATH ROWS DAYS CONSUMERS [fill] | query PATH ROUNDS DAYS CONSUMERS\n");
    return 2;
}
