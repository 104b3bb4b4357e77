/* gcra.h: the generic cell rate algorithm, as pure arithmetic on one stored value.
 *
 * A window of `requests` per `per` with a `burst` is an emission interval T = per /
 * requests and a tolerance tau = (burst - 1) * T. The only state per key is the
 * theoretical arrival time (TAT): a call at `now` passes when max(TAT, now) - now <= tau
 * and then moves TAT to max(TAT, now) + T. A full window lets `burst` calls through at
 * once and then one per T, with no boundary where two windows' worth pass together (the
 * fault of fixed windows). Times are nanoseconds on a monotonic clock; a TAT of 0 is a
 * key never seen. Backends (counter.h) keep the TAT and call this under their own lock
 * or in their own script, so every backend decides alike. */
#ifndef PT_LIMITS_GCRA_H
#define PT_LIMITS_GCRA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pt_gcra {
    uint64_t interval_ns;  /* T: per / requests, >= 1 */
    uint64_t tolerance_ns; /* tau: (burst - 1) * T */
} pt_gcra;

/* The window for requests per per_ns with burst (0: burst = requests). */
pt_gcra pt_gcra_make(uint64_t requests, uint64_t per_ns, uint64_t burst);

typedef struct pt_gcra_result {
    bool allowed;
    uint64_t tat;        /* the TAT to store: moved on when allowed, unchanged otherwise */
    uint64_t remaining;  /* calls that would pass at once after this decision */
    uint64_t retry_ns;   /* refused: how long until one call passes; 0 when allowed */
    uint64_t reset_ns;   /* how long until the window is whole again */
} pt_gcra_result;

/* Decides one call at now against a stored tat. */
void pt_gcra_take(const pt_gcra *g, uint64_t tat, uint64_t now, pt_gcra_result *out);

/* Decides n cells at once (a weighted call: n tokens of a tokens-per-minute window).
 * It passes when the window, once booked n cells further, is still within burst cells
 * of now; remaining and reset_ns count cells as pt_gcra_take does. */
void pt_gcra_take_n(const pt_gcra *g, uint64_t tat, uint64_t now, uint64_t n, pt_gcra_result *out);

/* The TAT after booking delta more cells unconditionally (delta > 0: usage beyond a
 * reservation) or giving back -delta cells (never before now). */
uint64_t pt_gcra_adjust(const pt_gcra *g, uint64_t tat, uint64_t now, int64_t delta);

/* The TAT after giving back one call that was taken (another policy refused the
 * request): one interval earlier, never before now. */
uint64_t pt_gcra_give_back(const pt_gcra *g, uint64_t tat, uint64_t now);

/* Whether a key with this TAT holds nothing at now (it may be forgotten). */
static inline bool pt_gcra_idle(uint64_t tat, uint64_t now) { return tat <= now; }

#endif
