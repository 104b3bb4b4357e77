/* spool.h: a bounded queue of bytes handed from many threads to one writer thread.
 *
 * Producers (worker loops) copy a record into the queue under a lock (a memcpy, no
 * allocation, never a wait on I/O); when the record does not fit, push fails at once and
 * the caller counts the drop. The writer thread swaps the queue with an empty buffer and
 * hands the whole batch to the consumer's function with the lock released, so the disk is
 * touched only there. The function is also called with an empty batch at least every
 * flush_ms, so a consumer can do housekeeping (pruning) on the writer thread. The writer
 * runs under SCHED_BATCH: as much CPU as any thread, but it does not preempt a worker
 * when it wakes. */
#ifndef PT_CORE_SPOOL_H
#define PT_CORE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pt_spool pt_spool;

/* Called on the writer thread with n bytes (0 on an idle wake-up): every byte pushed,
 * in push order, exactly once. */
typedef void (*pt_spool_fn)(void *arg, const char *data, size_t n);

typedef struct pt_spool_opts {
    size_t cap;          /* bytes that may wait for the writer (both buffers are allocated at it) */
    size_t flush_bytes;  /* a batch this large wakes the writer at once */
    unsigned flush_ms;   /* otherwise the writer wakes this often */
    const char *name;    /* the writer thread's name in the error log */
    pt_spool_fn fn;
    void *arg;
} pt_spool_opts;

/* Starts the writer thread (with every signal blocked). NULL when out of memory or
 * threads. */
pt_spool *pt_spool_new(const pt_spool_opts *o);

/* Queues n bytes as one piece (never split between batches). Thread-safe and never
 * blocks on I/O. Returns 0, or PT_ETOOBIG when the queue has no room (nothing queued). */
int pt_spool_push(pt_spool *s, const void *data, size_t n);

/* The same as push for a piece the caller writes in place, once, instead of copying it:
 * reserve returns where its n bytes go, or NULL when the queue has no room (nothing
 * reserved); then the caller writes them and calls commit with the same n. Between the
 * two the queue's lock is held: write the bytes and nothing else. */
void *pt_spool_reserve(pt_spool *s, size_t n);
void pt_spool_commit(pt_spool *s, size_t n);

/* Returns once every byte pushed before the call has been handed to fn and fn returned. */
void pt_spool_sync(pt_spool *s);

/* Bytes waiting for the writer now. */
size_t pt_spool_pending(pt_spool *s);

/* Pieces pushed so far (counted under the queue's lock, so a producer pays no atomic of
 * its own for it). */
uint64_t pt_spool_pushed(pt_spool *s);

/* Hands what is queued to fn, stops and joins the writer, frees s. NULL is allowed. */
void pt_spool_free(pt_spool *s);

#endif
