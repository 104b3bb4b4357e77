/* Unit tests for mcp/argshape.c: keys and types without values, in byte order, and the
 * bounds on odd arguments (deep nesting, huge arrays and objects, long and non-ASCII keys,
 * arguments that are not an object). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/argshape.h"

/* The shape of the JSON text s. */
static char *shape_of(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *out = pt_mcp_arg_shape(v);
    json_decref(v);
    assert_non_null(out);
    return out;
}

static void expect(const char *args, const char *want)
{
    char *got = shape_of(args);
    assert_string_equal(got, want);
    free(got);
}

static void keys_and_types_without_values(void **state)
{
    expect("{\"path\":\"/etc/secret\",\"limit\":10,\"ratio\":0.5,\"opts\":{\"recursive\":true,\"x\":null},"
           "\"ids\":[\"a1\",\"b2\"]}",
           "{\"ids\":[\"string\"],\"limit\":\"integer\",\"opts\":{\"recursive\":\"boolean\",\"x\":\"null\"},"
           "\"path\":\"string\",\"ratio\":\"number\"}");
    char *s = shape_of("{\"path\":\"/etc/secret\",\"n\":4242}");
    assert_null(strstr(s, "secret"));
    assert_null(strstr(s, "4242"));
    free(s);
}

static void key_order_does_not_depend_on_the_callers(void **state)
{
    char *a = shape_of("{\"b\":1,\"a\":{\"z\":1,\"y\":2},\"B\":true}");
    char *b = shape_of("{\"B\":false,\"a\":{\"y\":7,\"z\":9},\"b\":3}");
    assert_string_equal(a, b);
    assert_string_equal(a, "{\"B\":\"boolean\",\"a\":{\"y\":\"integer\",\"z\":\"integer\"},\"b\":\"integer\"}");
    free(a);
    free(b);
}

static void arrays_show_their_first_element_or_mixed(void **state)
{
    expect("{\"a\":[],\"b\":[{\"k\":1},{\"other\":2}],\"c\":[1,\"x\"],\"d\":[true,false],\"e\":[[1],[2]]}",
           "{\"a\":[],\"b\":[{\"k\":\"integer\"}],\"c\":[\"mixed\"],\"d\":[\"boolean\"],\"e\":[[\"integer\"]]}");
}

static void a_huge_array_is_one_element_of_shape(void **state)
{
    json_t *a = json_array();
    for (int i = 0; i < 100000; i++) json_array_append_new(a, json_integer(i));
    json_t *args = json_pack("{s:o}", "xs", a);
    char *s = pt_mcp_arg_shape(args);
    assert_string_equal(s, "{\"xs\":[\"integer\"]}");
    free(s);
    json_decref(args);
}

static void deep_nesting_stops_at_the_depth_bound(void **state)
{
    json_t *v = json_string("leaf");
    for (int i = 0; i < 1000; i++) v = json_pack("{s:o}", "k", v);
    char *s = pt_mcp_arg_shape(v);
    json_decref(v);
    size_t opened = 0;
    for (const char *p = s; *p; p++) opened += *p == '{';
    assert_int_equal(opened, PT_ARGSHAPE_DEPTH);
    assert_non_null(strstr(s, "{\"k\":\"object\"}"));
    assert_null(strstr(s, "leaf"));
    free(s);
}

static void many_keys_are_cut_and_the_text_stays_bounded(void **state)
{
    json_t *o = json_object();
    char k[200];
    for (int i = 0; i < 500; i++) {
        memset(k, 'k', 150);
        snprintf(k + 150, sizeof k - 150, "%03d", i);
        json_object_set_new(o, k, json_pack("{s:{s:i}}", "a", "b", i));
    }
    char *s = pt_mcp_arg_shape(o);
    assert_true(strlen(s) <= PT_ARGSHAPE_MAX);
    json_t *back = json_loads(s, JSON_DECODE_ANY, NULL); /* still JSON */
    assert_non_null(back);
    json_decref(back);
    free(s);
    json_object_clear(o);
    for (int i = 0; i < PT_ARGSHAPE_KEYS + 5; i++) {
        snprintf(k, sizeof k, "k%03d", i);
        json_object_set_new(o, k, json_true());
    }
    s = pt_mcp_arg_shape(o);
    back = json_loads(s, 0, NULL);
    assert_int_equal(json_object_size(back), PT_ARGSHAPE_KEYS + 1);
    assert_string_equal(json_string_value(json_object_get(back, "...")), "more");
    assert_non_null(json_object_get(back, "k000"));
    assert_null(json_object_get(back, "k068"));
    json_decref(back);
    free(s);
    json_decref(o);
}

static void unicode_keys_are_kept_and_cut_on_a_character(void **state)
{
    expect("{\"größe\":1,\"名前\":\"x\",\"\\u00e9\":[1]}", "{\"größe\":\"integer\",\"é\":[\"integer\"],\"名前\":\"string\"}");
    /* 22 three-byte characters: 66 bytes, cut to 63 (21 characters), not mid-character */
    char key[100] = "";
    for (int i = 0; i < 22; i++) strcat(key, "名");
    json_t *o = json_pack("{s:s}", key, "v");
    char *s = pt_mcp_arg_shape(o);
    json_t *back = json_loads(s, 0, NULL);
    assert_non_null(back); /* valid UTF-8, else jansson refuses it */
    const char *k = NULL;
    json_t *x;
    json_object_foreach (back, k, x) assert_int_equal(strlen(k), 63);
    json_decref(back);
    free(s);
    json_decref(o);
}

static void arguments_that_are_not_an_object(void **state)
{
    expect("\"just text\"", "\"string\"");
    expect("[1,2]", "[\"integer\"]");
    expect("42", "\"integer\"");
    expect("null", "\"null\"");
    char *s = pt_mcp_arg_shape(NULL); /* no arguments at all */
    assert_string_equal(s, "{}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_and_types_without_values),
        cmocka_unit_test(key_order_does_not_depend_on_the_callers),
        cmocka_unit_test(arrays_show_their_first_element_or_mixed),
        cmocka_unit_test(a_huge_array_is_one_element_of_shape),
        cmocka_unit_test(deep_nesting_stops_at_the_depth_bound),
        cmocka_unit_test(many_keys_are_cut_and_the_text_stays_bounded),
        cmocka_unit_test(unicode_keys_are_kept_and_cut_on_a_character),
        cmocka_unit_test(arguments_that_are_not_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
