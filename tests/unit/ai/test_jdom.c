/* Unit tests for ai/jdom.c: the arena JSON tree the AI parsers read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ai/jdom.h"

static const pt_jv *parse(pt_pool *a, const char *s, size_t *errpos)
{
    pt_pool_init(a, 0, 0);
    return pt_jdom_parse(a, s, strlen(s), errpos);
}

static void values_have_types_and_raw_text(void **state)
{
    pt_pool a;
    const pt_jv *v = parse(&a, " {\"s\":\"x\\u00e9\",\"i\":-42,\"f\":0.50,\"big\":123456789012345678901,"
                               "\"t\":true,\"n\":null,\"a\":[1, {\"k\":[]}]} ", NULL);
    assert_non_null(v);
    assert_true(pt_jv_is_object(v));
    assert_int_equal(pt_jv_len(v), 7);
    assert_string_equal(pt_jv_cstr(pt_jv_get(v, "s")), "x\xC3\xA9");
    assert_int_equal(pt_jv_int(pt_jv_get(v, "i")), -42);
    assert_true(pt_jv_is_number(pt_jv_get(v, "f")));
    assert_false(pt_jv_is_integer(pt_jv_get(v, "f")));
    assert_true(pt_jv_num(pt_jv_get(v, "f")) == 0.5);
    assert_true(pt_slice_eq_cstr(pt_jv_get(v, "f")->raw, "0.50"));
    /* too big for int64: a number, not an integer */
    assert_false(pt_jv_is_integer(pt_jv_get(v, "big")));
    assert_true(pt_jv_is_true(pt_jv_get(v, "t")));
    assert_true(pt_jv_is_null(pt_jv_get(v, "n")));
    const pt_jv *arr = pt_jv_get(v, "a");
    assert_true(pt_slice_eq_cstr(arr->raw, "[1, {\"k\":[]}]"));
    assert_int_equal(pt_jv_int(pt_jv_at(arr, 0)), 1);
    assert_int_equal(pt_jv_len(pt_jv_get(pt_jv_at(arr, 1), "k")), 0);
    assert_null(pt_jv_at(arr, 2));
    assert_null(pt_jv_get(v, "missing"));
    assert_null(pt_jv_get(arr, "k")); /* not an object */
    pt_pool_release(&a);
}

/* Integers are read up to the edges of int64, and not one past them. */
static void integers_stop_at_the_edges_of_int64(void **state)
{
    pt_pool a;
    const pt_jv *v = parse(&a, "{\"max\":9223372036854775807,\"over\":9223372036854775808,"
                               "\"min\":-9223372036854775808,\"under\":-9223372036854775809,"
                               "\"nz\":-0,\"z\":0,\"e\":1e3,\"E\":2E1,\"big\":99999999999999999999,"
                               "\"d18\":123456789012345678,\"d19\":1234567890123456789,\"f\":10.25}", NULL);
    assert_non_null(v);
    assert_true(pt_jv_is_integer(pt_jv_get(v, "max")));
    assert_true(pt_jv_int(pt_jv_get(v, "max")) == INT64_MAX);
    assert_false(pt_jv_is_integer(pt_jv_get(v, "over")));
    assert_true(pt_jv_is_integer(pt_jv_get(v, "min")));
    assert_true(pt_jv_get(v, "min")->ival == INT64_MIN);
    assert_false(pt_jv_is_integer(pt_jv_get(v, "under")));
    assert_true(pt_jv_is_integer(pt_jv_get(v, "nz")));
    assert_int_equal(pt_jv_get(v, "nz")->ival, 0);
    assert_int_equal(pt_jv_int(pt_jv_get(v, "z")), 0);
    assert_false(pt_jv_is_integer(pt_jv_get(v, "e")));
    assert_true(pt_jv_num(pt_jv_get(v, "e")) == 1000.0);
    assert_false(pt_jv_is_integer(pt_jv_get(v, "E")));
    assert_false(pt_jv_is_integer(pt_jv_get(v, "big")));
    assert_true(pt_jv_int(pt_jv_get(v, "d18")) == 123456789012345678);
    assert_true(pt_jv_int(pt_jv_get(v, "d19")) == 1234567890123456789);
    assert_false(pt_jv_is_integer(pt_jv_get(v, "f")));
    assert_true(pt_jv_num(pt_jv_get(v, "f")) == 10.25);
    assert_true(pt_slice_eq_cstr(pt_jv_get(v, "f")->raw, "10.25"));
    pt_pool_release(&a);
}

static void lookups_on_nothing_are_safe(void **state)
{
    assert_null(pt_jv_get(NULL, "x"));
    assert_null(pt_jv_at(NULL, 0));
    assert_int_equal(pt_jv_len(NULL), 0);
    assert_null(pt_jv_cstr(NULL));
    assert_int_equal(pt_jv_int(NULL), -1);
    assert_false(pt_jv_is_true(NULL));
}

static void members_keep_their_order_and_first_duplicate_wins(void **state)
{
    pt_pool a;
    const pt_jv *v = parse(&a, "{\"b\":1,\"a\":2,\"b\":3}", NULL);
    size_t i;
    const pt_jv *m;
    char order[8] = { 0 };
    PT_JV_FOREACH(v, i, m) order[i] = m->key.ptr[0];
    assert_string_equal(order, "bab");
    assert_int_equal(pt_jv_int(pt_jv_get(v, "b")), 1);
    pt_pool_release(&a);
}

static void strings_with_nul_keep_their_length(void **state)
{
    pt_pool a;
    const pt_jv *v = parse(&a, "\"a\\u0000b\"", NULL);
    assert_int_equal(pt_jv_str(v).len, 3);
    assert_memory_equal(pt_jv_str(v).ptr, "a\0b", 3);
    pt_pool_release(&a);
}

static void errors_give_the_offset(void **state)
{
    static const struct {
        const char *in;
        size_t at;
    } bad[] = { { "{\"a\":1,}", 7 }, { "[1 2]", 3 }, { "{\"a\" 1}", 5 }, { "\"\\q\"", 1 }, { "[1] x", 4 }, { "", 0 },
                { "[01]", 2 }, { "[tru]", 1 }, { "[1.]", 3 }, { "[nulll]", 5 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_pool a;
        size_t at = 99;
        assert_null(parse(&a, bad[i].in, &at));
        if (at != bad[i].at) fail_msg("[%s]: error at %zu, want %zu", bad[i].in, at, bad[i].at);
        pt_pool_release(&a);
    }
}

static void a_full_arena_is_reported_past_the_end(void **state)
{
    pt_pool a;
    pt_pool_init(&a, 0, 64);
    const char *s = "[\"a long string that will not fit in sixty-four bytes of arena at all\"]";
    size_t at = 0;
    assert_null(pt_jdom_parse(&a, s, strlen(s), &at));
    assert_int_equal(at, strlen(s) + 1);
    pt_pool_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_have_types_and_raw_text),
        cmocka_unit_test(integers_stop_at_the_edges_of_int64),
        cmocka_unit_test(lookups_on_nothing_are_safe),
        cmocka_unit_test(members_keep_their_order_and_first_duplicate_wins),
        cmocka_unit_test(strings_with_nul_keep_their_length),
        cmocka_unit_test(errors_give_the_offset),
        cmocka_unit_test(a_full_arena_is_reported_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
