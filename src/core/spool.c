/* spool.c: the bounded producer -> writer-thread queue (see spool.h).
 *
 * Two buffers, each allocated at the cap up front: producers append to `pending` under
 * `lock`; the writer swaps `pending` with its empty `back` and works on `back` unlocked.
 * `taken` counts swaps and `done` the batches fn has finished, so pt_spool_sync() can wait
 * for the swap that carries everything queued before it. */
#include "core/spool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"

struct pt_spool {
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    char *pending, *back;
    size_t len;          /* bytes in pending */
    uint64_t pushed;     /* pieces ever pushed */
    size_t cap, flush_bytes;
    unsigned flush_ms;
    bool stop, hurry;    /* hurry: a sync waits, swap now */
    uint64_t taken, done;
    pthread_t thread;
    pt_spool_fn fn;
    void *arg;
    char name[16];
};

void *pt_spool_reserve(pt_spool *s, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (!s->stop && n <= s->cap - s->len) return s->pending + s->len;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void pt_spool_commit(pt_spool *s, size_t n)
{
    /* The writer wakes by itself every flush_ms; it is signalled only when a batch is
     * worth it, so a busy producer does not pay a futex wake per record. */
    if (s->len < s->flush_bytes && s->len + n >= s->flush_bytes) pthread_cond_signal(&s->wake);
    s->len += n;
    s->pushed++;
    pthread_mutex_unlock(&s->lock);
}

int pt_spool_push(pt_spool *s, const void *data, size_t n)
{
    char *at = pt_spool_reserve(s, n);
    if (!at) return PT_ETOOBIG;
    memcpy(at, data, n);
    pt_spool_commit(s, n);
    return 0;
}

size_t pt_spool_pending(pt_spool *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->len;
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t pt_spool_pushed(pt_spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->pushed;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void deadline(struct timespec *t, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void *writer_main(void *arg)
{
    pt_spool *s = arg;
    pt_log_set_thread_name(s->name);
    char comm[24]; /* the kernel's name for it (top -H, /proc/PID/task): portico-calllog */
    snprintf(comm, sizeof comm, "portico-%.7s", s->name);
    pthread_setname_np(pthread_self(), comm);
    /* A batch writer: its share of the CPU as any thread's, but its waking up does not
     * preempt a worker in the middle of requests (SCHED_BATCH; no privilege needed). */
    struct sched_param sp = { 0 };
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        deadline(&until, s->flush_ms);
        while (s->len < s->flush_bytes && !s->stop && !s->hurry)
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT) break;
        char *batch = s->pending;
        size_t n = s->len;
        s->pending = s->back;
        s->back = batch;
        s->len = 0;
        s->hurry = false;
        uint64_t gen = ++s->taken;
        bool stopping = s->stop;
        pthread_mutex_unlock(&s->lock);

        s->fn(s->arg, batch, n);

        pthread_mutex_lock(&s->lock);
        s->done = gen;
        pthread_cond_broadcast(&s->finished);
        pthread_mutex_unlock(&s->lock);
        if (stopping) break;
    }
    return NULL;
}

void pt_spool_sync(pt_spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t want = s->taken + 1; /* the next swap carries everything queued so far */
    s->hurry = true;
    pthread_cond_signal(&s->wake);
    while (s->done < want) pthread_cond_wait(&s->finished, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void spool_release(pt_spool *s)
{
    pthread_cond_destroy(&s->finished);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->pending);
    free(s->back);
    free(s);
}

pt_spool *pt_spool_new(const pt_spool_opts *o)
{
    pt_spool *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall-clock step does not stall it */
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->finished, NULL);
    s->cap = o->cap;
    s->flush_bytes = o->flush_bytes ? o->flush_bytes : o->cap;
    s->flush_ms = o->flush_ms ? o->flush_ms : 100;
    s->fn = o->fn;
    s->arg = o->arg;
    snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "spool");
    /* malloc without touching: pages the queue never reaches stay unmapped */
    s->pending = malloc(o->cap ? o->cap : 1);
    s->back = malloc(o->cap ? o->cap : 1);
    if (!s->pending || !s->back) goto fail;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) goto fail;
    return s;
fail:
    spool_release(s);
    return NULL;
}

void pt_spool_free(pt_spool *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    spool_release(s);
}
