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

static void run(uv_loop_t *loop, probe *p)
{
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&p->d.timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* Moved later while armed: the early firing re-arms; the callback runs once, on time. */
static void moved_later_fires_once_when_due(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe p = { .fired = 0 };
    pt_deadline_init(&p.d, &loop, on_fire, &p);
    uint64_t t0 = uv_now(&loop);
    pt_deadline_set(&p.d, 10);
    pt_deadline_set(&p.d, 60);
    run(&loop, &p);
    assert_int_equal(p.fired, 1);
    assert_true(p.fired_at >= t0 + 60);
    uv_loop_close(&loop);
}

/* Moved earlier: the timer is restarted for the earlier time. */
static void moved_earlier_fires_at_the_new_time(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe p = { .fired = 0 };
    pt_deadline_init(&p.d, &loop, on_fire, &p);
    uint64_t t0 = uv_now(&loop);
    pt_deadline_set(&p.d, 5000);
    pt_deadline_set(&p.d, 20);
    run(&loop, &p);
    assert_int_equal(p.fired, 1);
    assert_true(p.fired_at >= t0 + 20);
    assert_true(p.fired_at < t0 + 5000);
    uv_loop_close(&loop);
}

/* Cleared while armed: the timer still runs out, but the callback sees nothing due. */
static void cleared_never_fires(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe p = { .fired = 0 };
    pt_deadline_init(&p.d, &loop, on_fire, &p);
    pt_deadline_set(&p.d, 10);
    pt_deadline_set(&p.d, 0);
    run(&loop, &p);
    assert_int_equal(p.fired, 0);
    uv_loop_close(&loop);
}

/* Stopped: nothing is left armed, so the loop ends at once. */
static void stopped_leaves_no_timer(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    probe p = { .fired = 0 };
    pt_deadline_init(&p.d, &loop, on_fire, &p);
    pt_deadline_set(&p.d, 10000);
    pt_deadline_stop(&p.d);
    assert_false(uv_is_active((uv_handle_t *)&p.d.timer));
    run(&loop, &p);
    assert_int_equal(p.fired, 0);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(moved_later_fires_once_when_due),
        cmocka_unit_test(moved_earlier_fires_at_the_new_time),
        cmocka_unit_test(cleared_never_fires),
        cmocka_unit_test(stopped_leaves_no_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
