/* counter_redis.h: limit counters in Redis, shared by every node of a cluster.
 *
 *   counters: { redis: "redis://[[user]:password@]host[:port][/db]", timeout: 50ms,
 *               prefix: "portico:", slot_ttl: 10m }
 *
 * Every operation is one Lua script run (EVALSHA, falling back to EVAL when the server
 * has not seen the script), atomic on the server, and reads the server's TIME for rate
 * windows, so all nodes share one clock. A check of all the policies of a request is
 * one batch (counter.h), so one round trip. Each thread talks to Redis over its own
 * blocking connection with a short timeout (see counter_redis.c for why); a failed
 * connection is retried after a backoff that doubles from 100 ms to 5 s, and until then
 * every operation fails at once with PT_EIO, so an unreachable Redis costs a worker at
 * most one timeout per backoff period. Concurrency slots are members of a sorted set
 * scored by their expiry (slot_ttl), so a node that dies holding slots gives them back
 * when they expire. Quota and budget totals expire a day after their window ends. */
#ifndef PT_LIMITS_COUNTER_REDIS_H
#define PT_LIMITS_COUNTER_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits/counter.h"

struct redisReply;

typedef struct pt_redis_url {
    char host[256];
    unsigned port; /* default 6379 */
    unsigned db;   /* default 0 */
    char user[128], password[256]; /* "" when absent; percent-decoded */
} pt_redis_url;

/* Parses "redis://[[user]:password@]host[:port][/db]". 0, or -1 with a message in err
 * (which never repeats the password). */
int pt_redis_url_parse(const char *url, pt_redis_url *out, char *err, size_t cap);

typedef struct pt_counters_redis_cfg {
    const char *url;
    uint64_t timeout_ms;  /* connect and each reply; default 50 */
    const char *prefix;   /* before every key; default "portico:" */
    uint64_t slot_ttl_ms; /* how long a concurrency slot outlives a node that dies; default 10 min */
} pt_counters_redis_cfg;

/* Opens the backend and tries it once. 0: connected; 1: created, but Redis cannot be
 * reached now (msg says why; operations fail with PT_EIO until it can); -1: refused
 * (a bad URL, a wrong password or database: msg says which), *out NULL. */
int pt_counters_redis_open(const pt_counters_redis_cfg *cfg, pt_counters **out, char *msg, size_t cap);

typedef struct pt_counters_redis_stats {
    uint64_t calls;  /* round trips attempted */
    uint64_t errors; /* ...that failed: unreachable, timed out, or an error reply */
    uint64_t local;  /* checks decided from a thread's cells taken ahead (rate.slack), no round trip */
    bool up;         /* the last round trip succeeded */
} pt_counters_redis_stats;

/* The backend's counts; zeros for a backend that is not this one. */
void pt_counters_redis_stats_get(pt_counters *b, pt_counters_redis_stats *out);

/* Reads a batch script's reply into ops: the index of the refusing op, n when all
 * passed, or PT_EIO for a reply of the wrong shape. (Shared with the unit tests.) */
int pt__counters_redis_reply(const struct redisReply *r, pt_counter_op *ops, size_t n);

#endif
