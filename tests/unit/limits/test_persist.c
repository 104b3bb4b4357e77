/* Unit tests for limits/persist.c: totals written and read back by a new table (a
 * restart), windows already over not restored, a file that cannot be written making
 * the store failing until it can, and one policy's totals read back for the admin API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "limits/persist.h"

static int64_t wall = 1796299200;
static int64_t fake_wall(void) { return wall; }

static char dir[64], path[128];

static int setup(void **state)
{
    pt_limits_set_wall_clock(fake_wall);
    snprintf(dir, sizeof dir, "/tmp/portico-persist-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/limits.db", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    pt_limits_set_wall_clock(NULL);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t total_of(pt_counters *b, const char *key)
{
    uint64_t t = 0;
    b->ops->window_add(b, pt_slice_cstr(key), 0, 0, wall + 10, 1, &t);
    return t;
}

static void totals_survive_a_restart(void **state)
{
    pt_counters *b = pt_counters_local_new();
    pt_limits_store *s = pt_limits_store_open(b, path, 60000);
    assert_non_null(s);
    assert_false(pt_limits_store_failing(s));
    uint64_t t;
    assert_int_equal(b->ops->window_add(b, pt_slice_cstr("day"), 7, 0, wall + 3600, 1, &t), 0);
    assert_int_equal(b->ops->window_add(b, pt_slice_cstr("over-soon"), 3, 0, wall + 5, 1, &t), 0);
    assert_int_equal(pt_limits_store_flush(s), 0);
    assert_int_equal(b->ops->window_add(b, pt_slice_cstr("day"), 2, 0, wall + 3600, 1, &t), 0);
    pt_limits_store_close(s); /* the last pass writes the 2 more */
    b->ops->free(b);

    wall += 10; /* "over-soon" has ended */
    b = pt_counters_local_new();
    s = pt_limits_store_open(b, path, 60000);
    assert_int_equal(total_of(b, "day"), 9);
    assert_int_equal(total_of(b, "over-soon"), 0);
    pt_limits_store_close(s);
    b->ops->free(b);
}

static void a_file_that_cannot_be_written_fails_until_it_can(void **state)
{
    assert_int_equal(mkdir(path, 0700), 0); /* a directory where the file should be */
    pt_counters *b = pt_counters_local_new();
    pt_limits_store *s = pt_limits_store_open(b, path, 60000);
    assert_non_null(s);
    assert_true(pt_limits_store_failing(s));
    uint64_t t;
    b->ops->window_add(b, pt_slice_cstr("k"), 4, 0, wall + 3600, 1, &t);
    assert_int_equal(pt_limits_store_flush(s), -1);
    assert_true(pt_limits_store_failing(s));
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(pt_limits_store_flush(s), 0); /* written whole once it can be */
    assert_false(pt_limits_store_failing(s));
    pt_limits_store_close(s);
    b->ops->free(b);
    b = pt_counters_local_new();
    s = pt_limits_store_open(b, path, 60000);
    assert_int_equal(total_of(b, "k"), 4);
    pt_limits_store_close(s);
    b->ops->free(b);
}

typedef struct {
    char seen[8][48];
    int n;
} seen_t;

static void seen_one(void *arg, pt_slice group, int window, uint64_t total, int64_t expires)
{
    seen_t *s = arg;
    if (s->n < 8)
        snprintf(s->seen[s->n++], sizeof s->seen[0], "%.*s/%d/%llu/%lld", (int)group.len, group.ptr, window,
                 (unsigned long long)total, (long long)(expires - wall));
}

static void one_policys_totals_are_read_by_name(void **state)
{
    pt_counters *b = pt_counters_local_new();
    pt_limits_store *s = pt_limits_store_open(b, path, 60000);
    uint64_t t;
    seen_t none = { 0 };
    char why[128] = "";
    /* the writer has not run: nothing counted, not an error */
    assert_int_equal(pt_limits_store_read(path, "web", seen_one, &none, why, sizeof why), 0);
    assert_int_equal(none.n, 0);
    /* keys as limits/enforce.c makes them: POLICY \x1f GROUP \x1e window letter, period */
    b->ops->window_add(b, pt_slice_cstr("web\x1f\x1eR202612"), 3, 0, wall + 3600, 1, &t);
    b->ops->window_add(b, pt_slice_cstr("web\x1f" "app\x1eu20261203"), 250, 0, wall + 60, 1, &t);
    b->ops->window_add(b, pt_slice_cstr("web2\x1f\x1er20261203"), 9, 0, wall + 60, 1, &t);  /* another policy */
    b->ops->window_add(b, pt_slice_cstr("web\x1f\x1er20261202"), 4, 0, wall + 5, 1, &t);     /* over below */
    assert_int_equal(pt_limits_store_flush(s), 0);
    wall += 10;
    seen_t got = { 0 };
    assert_int_equal(pt_limits_store_read(path, "web", seen_one, &got, why, sizeof why), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.seen[0], "/1/3/3590");     /* requests per month, one window for all */
    assert_string_equal(got.seen[1], "app/4/250/50");  /* USD per day of group app */
    pt_limits_store_close(s);
    b->ops->free(b);
    seen_t gone = { 0 };
    assert_int_equal(pt_limits_store_read("/nonexistent-dir/limits.db", "web", seen_one, &gone, why, sizeof why), 0);
    assert_int_equal(gone.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(totals_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(a_file_that_cannot_be_written_fails_until_it_can, setup, teardown),
        cmocka_unit_test_setup_teardown(one_policys_totals_are_read_by_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
