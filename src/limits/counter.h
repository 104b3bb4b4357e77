/* counter.h: where limit counters live, behind one interface.
 *
 * A counter is named by a key (the policy's name and the subject it counts, e.g.
 * "free-tier\x1facme-app") and holds a GCRA theoretical arrival time (gcra.h) and a
 * number of requests in flight. A backend must decide each operation atomically for its
 * key across every thread (and, for a shared backend such as Redis, every process): the
 * in-process backend here is one table shared by all worker threads, never one per
 * worker, so a limit holds for the whole gateway. The in-process backend takes times
 * from the caller (an injectable monotonic clock) and reads no clock of its own except
 * the injectable wall clock in its sweep, to forget windows that are over. A backend
 * shared by several nodes (counter_redis.h) ignores the caller's monotonic time and
 * reads one clock for all nodes (the server's), since each node's monotonic clock has its
 * own origin. A calendar window's total (quota, budget) is a separate key holding a
 * number. */
#ifndef PT_LIMITS_COUNTER_H
#define PT_LIMITS_COUNTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"
#include "limits/gcra.h"

typedef struct pt_counters pt_counters;

/* One step of a batch (pt_counter_ops.batch): the same operations as below, named. */
typedef enum pt_counter_op_kind {
    PT_COUNTER_TAKE,    /* rate_take_n: n cells from g's window at key */
    PT_COUNTER_ACQUIRE, /* inflight_acquire: one of n slots */
    PT_COUNTER_ADD,     /* window_add: n added to the total at key, within limit (0: none) */
    PT_COUNTER_ADJUST,  /* rate_adjust: n cells booked, or -n given back; never refused */
    PT_COUNTER_LEASE,   /* a shared backend's own: up to n cells from g's window, at least one
                         * (total: how many it took), for a worker to decide alone (lease below) */
} pt_counter_op_kind;

typedef struct pt_counter_op {
    pt_counter_op_kind kind;
    pt_slice key;
    const pt_gcra *g;        /* TAKE, ADJUST */
    int64_t n;               /* TAKE: cells; ACQUIRE: max in flight; ADD, ADJUST: delta */
    uint64_t limit;          /* ADD */
    int64_t expires;         /* ADD: the window's end, wall-clock seconds */
    uint64_t lease;          /* TAKE of one cell: a shared backend may take up to this many at
                              * once and decide the key's next takes on this thread alone until
                              * they are used or their time is over (a policy's rate.slack);
                              * 0 or 1: every take asks the backend */
    /* what happened, once run */
    bool refused;
    pt_gcra_result rate;     /* TAKE */
    unsigned inflight;       /* ACQUIRE: in flight after the decision */
    void *held;              /* ACQUIRE: the slot, for inflight_release */
    uint64_t total;          /* ADD: the total after the decision */
} pt_counter_op;

typedef struct pt_counter_ops {
    /* Takes one call from key's window at now (out says whether it passed). 0, or
     * PT_ENOMEM when the key could not be stored (the caller lets the call pass). */
    int (*rate_take)(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now, pt_gcra_result *out);
    /* Gives back one call rate_take let pass, when another policy refused the request. */
    void (*rate_give_back)(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now);
    /* Takes one of max in-flight slots: *held is set when it was taken (pass it to
     * inflight_release exactly once), NULL when max were already in flight. *inflight
     * is the count after the decision. 0, or PT_ENOMEM as for rate_take. */
    int (*inflight_acquire)(pt_counters *b, pt_slice key, unsigned max, uint64_t now, unsigned *inflight,
                            void **held);
    void (*inflight_release)(pt_counters *b, void *held);
    /* Takes n cells at once (tokens) from key's window; as rate_take. */
    int (*rate_take_n)(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t n, uint64_t now, pt_gcra_result *out);
    /* Books delta more cells whatever the window holds, or gives -delta back (settling a
     * reservation on the real usage). */
    void (*rate_adjust)(pt_counters *b, pt_slice key, const pt_gcra *g, int64_t delta, uint64_t now);
    /* A calendar window's running total (quotas, budgets): adds delta when limit is 0, or
     * when the total is below limit and stays within it (a delta of 0 just asks whether the
     * total is below limit); a negative delta gives back (never below 0). expires is the
     * wall-clock second after which the window is over and its key may be forgotten.
     * Returns 0 (added; *total after), 1 (refused; *total as it is), or PT_ENOMEM / PT_EIO
     * when the total could not be stored (the policy's on_store_error decides). */
    int (*window_add)(pt_counters *b, pt_slice key, int64_t delta, uint64_t limit, int64_t expires, uint64_t now,
                      uint64_t *total);
    /* Visits every window total (only those changed since the last visit when
     * changed_only), for a backend that persists them elsewhere; fn runs under the key's
     * lock and must not call back into b. */
    void (*window_each)(pt_counters *b, bool changed_only,
                        void (*fn)(void *arg, pt_slice key, uint64_t total, int64_t expires), void *arg);
    /* Restores a total read back after a restart (the larger of the two is kept). */
    int (*window_load)(pt_counters *b, pt_slice key, uint64_t total, int64_t expires, uint64_t now);
    /* Runs ops in order as one atomic step (one round trip for a remote backend): at the
     * first that refuses (a take without room, an acquire without a slot, an add beyond
     * its limit) every earlier op is undone and the rest are not run. Returns the index of
     * the refusing op, n when every op passed, or PT_EIO when the backend could not be
     * reached (nothing was taken; the policies' on_store_error decide). NULL in a backend
     * whose single operations are cheap (the in-process one). */
    int (*batch)(pt_counters *b, pt_counter_op *ops, size_t n);
    /* Keys stored now (for tests and metrics). */
    size_t (*size)(pt_counters *b);
    void (*free)(pt_counters *b);
} pt_counter_ops;

struct pt_counters {
    const pt_counter_ops *ops;
};

/* The in-process backend: a table of keys split in lock stripes, shared by every thread.
 * Memory stays bounded: a key whose window is whole again and which has nothing in flight
 * holds no information and is dropped when its stripe is next swept (a stripe is swept
 * whenever it has doubled since the last sweep). NULL when out of memory. */
pt_counters *pt_counters_local_new(void);

/* The clock every decision reads: monotonic nanoseconds (a wall-clock jump moves no
 * window). Tests replace it; NULL restores the real one. */
typedef uint64_t (*pt_limits_clock_fn)(void);
void pt_limits_set_clock(pt_limits_clock_fn fn);
uint64_t pt_limits_now(void);

/* The wall clock calendar windows (quotas, budgets) are counted in: Unix seconds. Rate
 * windows never read it. Tests replace it; NULL restores the real one. */
typedef int64_t (*pt_limits_wall_fn)(void);
void pt_limits_set_wall_clock(pt_limits_wall_fn fn);
int64_t pt_limits_wall(void);

#endif
