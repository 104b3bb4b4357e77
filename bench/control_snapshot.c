/* control_snapshot.c: fills a store with consumers and keys, or measures compiling the
 * control snapshot from one (time, RSS added while it is held, key lookup cost). Built and
 * driven by bench/control_snapshot.sh; each measurement runs in a fresh process so that
 * memory the fill left in the allocator does not hide what the snapshot costs.
 *
 *   control_snapshot fill DIR CONSUMERS KEYS SERVICES
 *   control_snapshot compile DIR ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cred.h"
#include "control/snapshot.h"
#include "store/store.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static pt_store *open_store(const char *dir)
{
    pt_store_error err;
    pt_store *st = pt_store_open_sqlite(dir, &err);
    if (!st) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    return st;
}

static int64_t insert(pt_store *st, pt_store_kind kind, json_t *o)
{
    int64_t id = 0;
    if (pt_store_insert(st, kind, o, "bench", &id) != 0) {
        fprintf(stderr, "bench: insert: %s\n", pt_store_last_error(st)->message);
        exit(1);
    }
    json_decref(o);
    return id;
}

/* Teams of 1,000 consumers; every consumer has keys/consumers keys (the rest spread over
 * the first ones) and an active subscription to one service. Every tenth key has an
 * allowed-models list, every hundredth is revoked. */
static int fill(const char *dir, long consumers, long keys, long services)
{
    pt_store *st = open_store(dir);
    double t0 = now_ms();
    if (pt_store_begin(st) != 0) return 1;
    int64_t *svc = calloc((size_t)services, sizeof *svc);
    int64_t team = 0;
    char name[64];
    for (long i = 0; i < services; i++) {
        if (i % 10 == 0) {
            snprintf(name, sizeof name, "steam%ld", i);
            team = insert(st, PT_KIND_TEAM, json_pack("{s:s}", "name", name));
        }
        snprintf(name, sizeof name, "svc%ld", i);
        svc[i] = insert(st, PT_KIND_SERVICE, json_pack("{s:s, s:I, s:s, s:[s], s:s}", "name", name, "team_id",
                                                      (json_int_t)team, "kind", "rest", "targets",
                                                      "http://127.0.0.1:9001", "approval", i % 2 ? "manual" : "auto"));
    }
    long per = keys / consumers, extra = keys % consumers;
    for (long c = 0; c < consumers; c++) {
        if (c % 1000 == 0) {
            snprintf(name, sizeof name, "team%ld", c / 1000);
            team = insert(st, PT_KIND_TEAM, json_pack("{s:s}", "name", name));
        }
        snprintf(name, sizeof name, "consumer-%07ld", c);
        int64_t cid = insert(st, PT_KIND_CONSUMER, json_pack("{s:s, s:I}", "name", name, "team_id", (json_int_t)team));
        insert(st, PT_KIND_SUBSCRIPTION, json_pack("{s:I, s:I, s:s}", "consumer_id", (json_int_t)cid, "service_id",
                                                   (json_int_t)svc[c % services], "state", "active"));
        for (long k = 0; k < per + (c < extra); k++) {
            pt_cred_secret s;
            if (pt_cred_generate(PT_CRED_KEY_SCHEME, &s) != 0) return 1;
            json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "consumer_id", (json_int_t)cid, "prefix", s.prefix, "hash",
                                  s.hash_hex, "label", "bench");
            if ((c + k) % 10 == 0) json_object_set_new(o, "allowed_models", json_pack("[s,s]", "gpt-4o", "claude-sonnet"));
            if ((c + k) % 100 == 0) json_object_set_new(o, "revoked_at", json_integer(1700000000));
            insert(st, PT_KIND_KEY, o);
        }
    }
    if (pt_store_commit(st) != 0) {
        fprintf(stderr, "bench: commit: %s\n", pt_store_last_error(st)->message);
        return 1;
    }
    printf("filled %ld consumers, %ld keys, %ld services in %.1f s\n", consumers, keys, services, (now_ms() - t0) / 1e3);
    free(svc);
    pt_store_close(st);
    return 0;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ns per lookup of present keys, taken from the snapshot itself so no hashing is timed. */
static double lookup_ns(const pt_snapshot *s)
{
    if (s->nkeys == 0) return 0;
    enum { N = 2000000 };
    double t0 = now_ms();
    size_t found = 0;
    for (size_t i = 0; i < N; i++) found += pt_snapshot_key(s, s->keys[(i * 7919) % s->nkeys].hash) != NULL;
    double t = now_ms() - t0;
    if (found != N) fprintf(stderr, "bench: lookups found %zu of %d\n", found, N);
    return t * 1e6 / N;
}

static int compile(const char *dir, int rounds)
{
    pt_store *st = open_store(dir);
    double times[32];
    if (rounds < 1) rounds = 1;
    if (rounds > 32) rounds = 32;
    long rss0 = rss_kb(), rss1 = 0;
    size_t nkeys = 0, nconsumers = 0;
    double ns = 0;
    for (int r = 0; r < rounds; r++) {
        pt_store_error err;
        double t0 = now_ms();
        pt_snapshot *s = pt_snapshot_compile(st, &err);
        times[r] = now_ms() - t0;
        if (!s) {
            fprintf(stderr, "bench: compile: %s\n", err.message);
            return 1;
        }
        if (r == 0) {
            rss1 = rss_kb();
            nkeys = s->nkeys;
            nconsumers = s->nconsumers;
            ns = lookup_ns(s);
        }
        pt_snapshot_release(s);
    }
    qsort(times, (size_t)rounds, sizeof times[0], by_double);
    printf("consumers=%zu keys=%zu compile_ms_median=%.1f compile_ms_min=%.1f compile_ms_max=%.1f "
           "rss_before_kb=%ld rss_with_snapshot_kb=%ld rss_added_kb=%ld lookup_ns=%.1f\n",
           nconsumers, nkeys, times[rounds / 2], times[0], times[rounds - 1], rss0, rss1, rss1 - rss0, ns);
    pt_store_close(st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
    if (argc == 4 && strcmp(argv[1], "compile") == 0) return compile(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: control_snapshot fill DIR CONSUMERS KEYS SERVICES | compile DIR ROUNDS\n");
    return 2;
}
