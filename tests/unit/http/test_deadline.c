/* Unit tests for http/deadline.c: a deadline fires once, after it is due, whatever way it
 * was moved; a cleared one never fires. Real libuv loop, real time (lower bounds only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/deadline.h"

typedef struct probe {
    pt_deadline d;
    int fired;
    uint64_t fired_at;
} probe;

static void on_fire(uv_timer_t *t)
{
    probe *p = t->data;
    if (!pt_deadline_expired(&p->d)) return;
    p->fired++;
    p->fired_at = uv_now(t->loop);
}

/* Each test gets a loop and a probe whose deadline is initialised on it. */
typedef struct fixture {
    uv_loop_t loop;
    probe p;
    uint64_t t0;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || uv_loop_init(&f->loop)) return -1;
    pt_deadline_init(&f->p.d, &f->loop, on_fire, &f->p);
    f->t0 = uv_now(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    uv_loop_close(&f->loop);
    free(f);
    return 0;
}

/* Runs the loop until the timer is idle, then closes it. */
static void run(fixture *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&f->p.d.timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Moved later while armed: the early firing re-arms; the callback runs once, on time. */
static void moved_later_fires_once_when_due(void **state)
{
    fixture *f = *state;
    pt_deadline_set(&f->p.d, 10);
    pt_deadline_set(&f->p.d, 60);
    run(f);
    assert_int_equal(f->p.fired, 1);
    assert_true(f->p.fired_at >= f->t0 + 60);
}

/* Moved earlier: the timer is restarted for the earlier time. */
static void moved_earlier_fires_at_the_new_time(void **state)
{
    fixture *f = *state;
    pt_deadline_set(&f->p.d, 5000);
    pt_deadline_set(&f->p.d, 20);
    run(f);
    assert_int_equal(f->p.fired, 1);
    assert_true(f->p.fired_at >= f->t0 + 20);
    assert_true(f->p.fired_at < f->t0 + 5000);
}

/* Cleared while armed: the timer still runs out, but the callback sees nothing due. */
static void cleared_never_fires(void **state)
{
    fixture *f = *state;
    pt_deadline_set(&f->p.d, 10);
    pt_deadline_set(&f->p.d, 0);
    run(f);
    assert_int_equal(f->p.fired, 0);
}

/* Stopped: nothing is left armed, so the loop ends at once. */
static void stopped_leaves_no_timer(void **state)
{
    fixture *f = *state;
    pt_deadline_set(&f->p.d, 10000);
    pt_deadline_stop(&f->p.d);
    assert_false(uv_is_active((uv_handle_t *)&f->p.d.timer));
    run(f);
    assert_int_equal(f->p.fired, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(moved_later_fires_once_when_due, setup, teardown),
        cmocka_unit_test_setup_teardown(moved_earlier_fires_at_the_new_time, setup, teardown),
        cmocka_unit_test_setup_teardown(cleared_never_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(stopped_leaves_no_timer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
