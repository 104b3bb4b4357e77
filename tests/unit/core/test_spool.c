/* Unit tests for core/spool.c: order and completeness across producers, sync, refusal when
 * full (never a wait), the idle wake-up, and the writer's scheduling class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/spool.h"

typedef struct sink {
    pthread_mutex_t gate;      /* held by a test to stall the writer inside fn */
    uint64_t bytes, calls, empty_calls;
    uint32_t last[4];          /* the last sequence number seen per producer */
    bool out_of_order;
} sink;

static void consume(void *arg, const char *data, size_t n)
{
    sink *k = arg;
    pthread_mutex_lock(&k->gate);
    k->calls++;
    if (!n) k->empty_calls++;
    for (size_t off = 0; off + 8 <= n; off += 8) {
        uint32_t who, seq;
        memcpy(&who, data + off, 4);
        memcpy(&seq, data + off + 4, 4);
        if (who < 4 && seq != k->last[who] + 1) k->out_of_order = true;
        if (who < 4) k->last[who] = seq;
    }
    k->bytes += n;
    pthread_mutex_unlock(&k->gate);
}

typedef struct producer {
    pt_spool *s;
    uint32_t who;
    uint32_t n;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (uint32_t seq = 1; seq <= p->n;) {
        uint32_t rec[2] = { p->who, seq };
        if (pt_spool_push(p->s, rec, sizeof rec) == 0) seq++; /* full: try again (the test wants every record) */
    }
    return NULL;
}

static void every_record_arrives_in_order_per_producer(void **state)
{
    (void)state;
    sink k = { .gate = PTHREAD_MUTEX_INITIALIZER };
    pt_spool *s = pt_spool_new(&(pt_spool_opts){ .cap = 4096, .flush_bytes = 1024, .flush_ms = 5, .fn = consume, .arg = &k });
    assert_non_null(s);
    pthread_t t[4];
    producer p[4];
    for (uint32_t i = 0; i < 4; i++) {
        p[i] = (producer){ s, i, 20000 };
        pthread_create(&t[i], NULL, produce, &p[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    pt_spool_sync(s);
    assert_int_equal(k.bytes, 4 * 20000 * 8);
    assert_false(k.out_of_order);
    for (int i = 0; i < 4; i++) assert_int_equal(k.last[i], 20000);
    pt_spool_free(s);
}

static void a_full_queue_refuses_at_once(void **state)
{
    (void)state;
    sink k = { .gate = PTHREAD_MUTEX_INITIALIZER };
    /* flush_bytes above what fits: nothing wakes the writer early, so the queue fills */
    pt_spool *s = pt_spool_new(&(pt_spool_opts){ .cap = 64, .flush_bytes = 65, .flush_ms = 600000, .fn = consume, .arg = &k });
    assert_non_null(s);
    char rec[16] = { 0 };
    int accepted = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        int rc = pt_spool_push(s, rec, sizeof rec);
        if (rc == 0) accepted++;
        else {
            assert_int_equal(rc, PT_ETOOBIG);
            refused++;
        }
    }
    assert_int_equal(accepted, 4);
    assert_int_equal(refused, 6);
    assert_int_equal(pt_spool_pending(s), 64);
    pt_spool_sync(s);
    assert_int_equal(k.bytes, 64);
    assert_int_equal(pt_spool_pending(s), 0);
    assert_int_equal(pt_spool_push(s, rec, sizeof rec), 0); /* room again */
    assert_int_equal(pt_spool_pushed(s), 5);                /* the pieces taken, not the refused */
    pt_spool_free(s);
    assert_int_equal(k.bytes, 80);                          /* free hands over the rest */
}

static void the_writer_wakes_when_idle(void **state)
{
    (void)state;
    sink k = { .gate = PTHREAD_MUTEX_INITIALIZER };
    pt_spool *s = pt_spool_new(&(pt_spool_opts){ .cap = 64, .flush_ms = 1, .fn = consume, .arg = &k });
    assert_non_null(s);
    for (;;) { /* waits on the event itself: two idle calls */
        pthread_mutex_lock(&k.gate);
        uint64_t n = k.empty_calls;
        pthread_mutex_unlock(&k.gate);
        if (n >= 2) break;
        sched_yield();
    }
    pt_spool_free(s);
}

static void sync_waits_for_a_stalled_batch(void **state)
{
    (void)state;
    sink k = { .gate = PTHREAD_MUTEX_INITIALIZER };
    pt_spool *s = pt_spool_new(&(pt_spool_opts){ .cap = 64, .flush_ms = 600000, .fn = consume, .arg = &k });
    char rec[8] = { 0 };
    assert_int_equal(pt_spool_push(s, rec, sizeof rec), 0);
    pt_spool_sync(s);
    assert_int_equal(k.bytes, 8);
    pt_spool_free(s);
}

/* The writer is a batch thread (SCHED_BATCH): its waking up does not preempt a worker. */
static void note_policy(void *arg, const char *data, size_t n)
{
    (void)data;
    (void)n;
    *(int *)arg = sched_getscheduler(0);
}

static void the_writer_runs_as_a_batch_thread(void **state)
{
    (void)state;
    int policy = -2;
    pt_spool *s = pt_spool_new(&(pt_spool_opts){ .cap = 64, .flush_ms = 600000, .fn = note_policy, .arg = &policy });
    char rec[8] = { 0 };
    assert_int_equal(pt_spool_push(s, rec, sizeof rec), 0);
    pt_spool_sync(s);
    assert_int_equal(policy, SCHED_BATCH);
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER); /* the caller's thread is not changed */
    pt_spool_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_record_arrives_in_order_per_producer),
        cmocka_unit_test(a_full_queue_refuses_at_once),
        cmocka_unit_test(the_writer_wakes_when_idle),
        cmocka_unit_test(sync_waits_for_a_stalled_batch),
        cmocka_unit_test(the_writer_runs_as_a_batch_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
