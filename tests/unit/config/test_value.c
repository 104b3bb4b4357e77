/* Unit tests for config/value.c: typed readers and their bounds, ${ENV} expansion,
 * suggestions, and errors that accumulate (capped) and read in file order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/value.h"

typedef struct fixture {
    pt_buf err;
    pt_cfg c;
    pt_cfg_node *root;
} fixture;

/* Parses yaml (a mapping) into f->root, with a fresh context on f->err. */
static void parse(fixture *f, const char *yaml)
{
    pt_buf_init(&f->err, 0);
    f->c = (pt_cfg){ .file = "v.yaml", .err = &f->err };
    f->root = pt_cfg_yaml_parse("v.yaml", yaml, strlen(yaml), &f->err);
    if (!f->root) fail_msg("yaml: %s", f->err.data);
}

static void done(fixture *f)
{
    pt_cfg_node_free(f->root);
    pt_buf_release(&f->err);
}

static const pt_cfg_node *val(fixture *f, const char *key)
{
    const pt_cfg_node *v = pt_cfg_map_get(f->root, key);
    assert_non_null(v);
    return v;
}

static void durations_sizes_and_bounds(void **state)
{
    fixture f;
    parse(&f, "a: 1.5s\nb: 250\nc: 2m\nd: 10 parsecs\ne: 1KiB\nf: 3MB\ng: 0\n");
    uint64_t v = 0;
    assert_int_equal(pt_cfg_duration(&f.c, val(&f, "a"), 1, PT_CFG_DAY_MS, &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(pt_cfg_duration(&f.c, val(&f, "b"), 1, PT_CFG_DAY_MS, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(pt_cfg_duration(&f.c, val(&f, "c"), 1, PT_CFG_DAY_MS, &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(pt_cfg_size(&f.c, val(&f, "e"), 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(pt_cfg_size(&f.c, val(&f, "f"), 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, 3000000);
    assert_int_equal(f.c.nerrors, 0);
    assert_int_equal(pt_cfg_duration(&f.c, val(&f, "d"), 1, PT_CFG_DAY_MS, &v), -1);
    assert_int_equal(pt_cfg_duration(&f.c, val(&f, "g"), 1, PT_CFG_DAY_MS, &v), -1);
    assert_int_equal(f.c.nerrors, 2);
    assert_string_equal(f.err.data, "v.yaml:4: (top level): expected a duration like 500ms, 10s, 2m or 1h (a plain "
                                     "number is milliseconds), got '10 parsecs'\n"
                                     "v.yaml:7: (top level): must be between 1ms and 1d, got '0'");
    done(&f);
}

static void env_is_expanded_and_never_shown(void **state)
{
    setenv("PT_T_VALUE", "s3cret", 1);
    unsetenv("PT_T_MISSING");
    fixture f;
    parse(&f, "a: \"x-${PT_T_VALUE}-y\"\nb: \"$${PT_T_VALUE}\"\nc: ${PT_T_MISSING}\nd: ${1BAD}\n");
    char *s = NULL;
    assert_int_equal(pt_cfg_str(&f.c, val(&f, "a"), &s), 0);
    assert_string_equal(s, "x-s3cret-y");
    assert_int_equal(pt_cfg_str(&f.c, val(&f, "b"), &s), 0);
    assert_string_equal(s, "${PT_T_VALUE}");
    assert_int_equal(pt_cfg_str(&f.c, val(&f, "c"), &s), -1);
    assert_int_equal(pt_cfg_str(&f.c, val(&f, "d"), &s), -1);
    free(s);
    assert_non_null(strstr(f.err.data, "v.yaml:3: (top level): environment variable 'PT_T_MISSING' is not set"));
    assert_non_null(strstr(f.err.data, "v.yaml:4: (top level): malformed environment reference in '${1BAD}'"));
    assert_null(strstr(f.err.data, "s3cret"));
    done(&f);
}

static void closest_is_a_likely_typo_or_nothing(void **state)
{
    const char *const keys[] = { "connect", "first_byte", "idle" };
    assert_string_equal(pt_cfg_closest("conect", keys, 3), "connect");
    assert_string_equal(pt_cfg_closest("frist_byte", keys, 3), "first_byte");
    assert_string_equal(pt_cfg_closest("IDLE", keys, 3), "idle");
    assert_null(pt_cfg_closest("zzzzzz", keys, 3));
    assert_null(pt_cfg_closest("x", keys, 3));
}

static void errors_are_capped_and_sorted_by_line(void **state)
{
    fixture f;
    parse(&f, "a: 1\nb: 2\nc: 3\n");
    pt_cfg_fail(&f.c, val(&f, "c"), "third");
    pt_cfg_fail(&f.c, val(&f, "a"), "first");
    pt_cfg_fail(&f.c, val(&f, "b"), "second");
    pt_cfg_fail(&f.c, val(&f, "a"), "first again");
    pt_cfg_sort_errors(&f.c);
    assert_string_equal(f.err.data, "v.yaml:1: (top level): first\nv.yaml:1: (top level): first again\n"
                                    "v.yaml:2: (top level): second\nv.yaml:3: (top level): third");
    pt_buf_reset(&f.err);
    f.c.nerrors = 0;
    for (unsigned i = 0; i < PT_CFG_MAX_ERRORS + 10; i++) pt_cfg_fail(&f.c, val(&f, "a"), "e%u", i);
    size_t lines = 1;
    for (size_t i = 0; i < f.err.len; i++) lines += f.err.data[i] == '\n';
    assert_int_equal(lines, PT_CFG_MAX_ERRORS + 1);
    assert_non_null(strstr(f.err.data, "more than 50 errors; the rest are not shown"));
    done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_sizes_and_bounds),
        cmocka_unit_test(env_is_expanded_and_never_shown),
        cmocka_unit_test(closest_is_a_likely_typo_or_nothing),
        cmocka_unit_test(errors_are_capped_and_sorted_by_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
