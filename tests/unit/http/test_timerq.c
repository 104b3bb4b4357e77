/* Unit tests for http/timerq.c: many deadlines on one timer. Each fires once, after it is
 * due, whatever way it was moved; a cleared or removed one never fires; a released queue
 * leaves the loop with nothing open. Real libuv loop, real time (lower bounds only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/timerq.h"

#define NPROBES 300

typedef struct probe {
    pt_timerq_node n;
    int fired;
    uint64_t due, fired_at;
    int rearm_ms; /* the fire callback sets this deadline once more */
} probe;

typedef struct fixture {
    uv_loop_t loop;
    pt_timerq q;
    probe p[NPROBES];
    uint64_t t0;
} fixture;

static void on_fire(pt_timerq *q, pt_timerq_node *n)
{
    fixture *f = q->data;
    probe *p = (probe *)n;
    p->fired++;
    p->fired_at = uv_now(&f->loop);
    if (p->rearm_ms) {
        int ms = p->rearm_ms;
        p->rearm_ms = 0;
        p->due = uv_now(&f->loop) + (uint64_t)ms;
        pt_timerq_set(q, n, (uint64_t)ms);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || uv_loop_init(&f->loop)) return -1;
    pt_timerq_init(&f->q, &f->loop, on_fire, f);
    if (pt_timerq_reserve(&f->q, NPROBES) != 0) return -1;
    f->t0 = uv_now(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f);
    return 0;
}

static void set(fixture *f, int i, uint64_t ms)
{
    f->p[i].due = uv_now(&f->loop) + ms;
    pt_timerq_set(&f->q, &f->p[i].n, ms);
}

/* Runs the loop until the queue is idle, releases it: the loop must then close cleanly. */
static void run(fixture *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < NPROBES; i++) pt_timerq_remove(&f->q, &f->p[i].n);
    pt_timerq_release(&f->q);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Moved later while placed: the node comes up early, goes back in, fires once on time. */
static void moved_later_fires_once_when_due(void **state)
{
    fixture *f = *state;
    set(f, 0, 10);
    set(f, 0, 60);
    run(f);
    assert_int_equal(f->p[0].fired, 1);
    assert_true(f->p[0].fired_at >= f->t0 + 60);
}

/* Moved earlier: it fires at the new time. */
static void moved_earlier_fires_at_the_new_time(void **state)
{
    fixture *f = *state;
    set(f, 0, 5000);
    set(f, 1, 3000);
    set(f, 0, 20);
    run(f);
    assert_int_equal(f->p[0].fired, 1);
    assert_true(f->p[0].fired_at >= f->t0 + 20);
    assert_true(f->p[0].fired_at < f->t0 + 3000);
    assert_int_equal(f->p[1].fired, 1);
}

/* Cleared or removed: never fires; the others still do. */
static void cleared_and_removed_never_fire(void **state)
{
    fixture *f = *state;
    set(f, 0, 10);
    set(f, 1, 15);
    set(f, 2, 20);
    pt_timerq_set(&f->q, &f->p[0].n, 0);
    pt_timerq_remove(&f->q, &f->p[1].n);
    run(f);
    assert_int_equal(f->p[0].fired, 0);
    assert_int_equal(f->p[1].fired, 0);
    assert_int_equal(f->p[2].fired, 1);
}

/* Many nodes set, moved both ways, removed and re-set from their own callback: each fires
 * once per deadline, never before it. */
static void many_fire_once_when_due(void **state)
{
    fixture *f = *state;
    srand(7);
    for (int i = 0; i < NPROBES; i++) set(f, i, 1 + (uint64_t)(rand() % 80));
    for (int i = 0; i < NPROBES; i += 3) set(f, i, 1 + (uint64_t)(rand() % 80)); /* either way */
    for (int i = 1; i < NPROBES; i += 7) pt_timerq_remove(&f->q, &f->p[i].n);
    for (int i = 2; i < NPROBES; i += 11) f->p[i].rearm_ms = 1 + rand() % 30;
    run(f);
    for (int i = 0; i < NPROBES; i++) {
        int want = i % 7 == 1 ? 0 : (i % 11 == 2 ? 2 : 1);
        assert_int_equal(f->p[i].fired, want);
        if (want) assert_true(f->p[i].fired_at >= f->p[i].due);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(moved_later_fires_once_when_due, setup, teardown),
        cmocka_unit_test_setup_teardown(moved_earlier_fires_at_the_new_time, setup, teardown),
        cmocka_unit_test_setup_teardown(cleared_and_removed_never_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(many_fire_once_when_due, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
