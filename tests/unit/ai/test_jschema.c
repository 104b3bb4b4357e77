/* Unit tests for ai/jschema.c: the JSON Schema subset, its refusals at check time and the
 * first failure named by JSON pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ai/jschema.h"

static pt_jschema *compile(const char *text, char *why, size_t n)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!j) fail_msg("test schema is not JSON: %s", text);
    pt_jschema *s = pt_jschema_new(j, why, n);
    json_decref(j);
    return s;
}

/* Validates doc against schema; want NULL for valid, else the expected message. */
static void expect(const char *schema, const char *doc, const char *want)
{
    char why[400] = "";
    pt_jschema *s = compile(schema, why, sizeof why);
    if (!s) fail_msg("schema %s refused: %s", schema, why);
    json_t *v = json_loads(doc, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    int rc = pt_jschema_validate(s, v, why, sizeof why);
    if (!want && rc) fail_msg("%s against %s: unexpected failure: %s", doc, schema, why);
    if (want && (!rc || strcmp(why, want) != 0))
        fail_msg("%s against %s: got [%s], want [%s]", doc, schema, rc ? why : "valid", want);
    json_decref(v);
    pt_jschema_free(s);
}

static void expect_refused(const char *schema, const char *want)
{
    char why[400] = "";
    pt_jschema *s = compile(schema, why, sizeof why);
    if (s) fail_msg("schema %s accepted, want [%s]", schema, want);
    if (strcmp(why, want) != 0) fail_msg("schema %s: got [%s], want [%s]", schema, why, want);
}

static void types_are_checked(void **state)
{
    expect("{\"type\":\"object\"}", "{}", NULL);
    expect("{\"type\":\"object\"}", "[]", "at /: expected an object, got an array");
    expect("{\"type\":\"number\"}", "\"3\"", "at /: expected a number, got a string");
    expect("{\"type\":\"integer\"}", "3.0", NULL);
    expect("{\"type\":\"integer\"}", "3.5", "at /: expected an integer, got a number");
    expect("{\"type\":[\"string\",\"null\"]}", "null", NULL);
    expect("{\"type\":[\"string\",\"null\"]}", "true", "at /: a boolean is none of the allowed types");
    expect("true", "42", NULL);
    expect("{\"properties\":{\"a\":false}}", "{\"a\":1}", "at /a: no value is allowed here");
}

static void objects_name_the_failing_member(void **state)
{
    const char *card = "{\"type\":\"object\",\"required\":[\"city\",\"temp_c\"],\"additionalProperties\":false,"
                       "\"properties\":{\"city\":{\"type\":\"string\",\"minLength\":2},\"temp_c\":{\"type\":\"number\","
                       "\"minimum\":-90,\"maximum\":60}}}";
    expect(card, "{\"city\":\"Paris\",\"temp_c\":21.5}", NULL);
    expect(card, "{\"city\":\"Paris\"}", "at /: missing required property 'temp_c'");
    expect(card, "{\"city\":\"P\",\"temp_c\":1}", "at /city: shorter than minLength 2");
    expect(card, "{\"city\":\"Paris\",\"temp_c\":99}", "at /temp_c: 99 is more than the maximum 60");
    expect(card, "{\"city\":\"Paris\",\"temp_c\":-91}", "at /temp_c: -91 is less than the minimum -90");
    expect(card, "{\"city\":\"Paris\",\"temp_c\":1,\"wind\":3}", "at /: property 'wind' is not allowed");
    expect("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":1,\"b\":\"x\"}",
           "at /b: expected an integer, got a string");
}

static void arrays_and_lengths_count_characters(void **state)
{
    expect("{\"items\":{\"type\":\"string\",\"maxLength\":2}}", "[\"ab\",\"\xc3\xa9\xc3\xa9\"]", NULL); /* two characters */
    expect("{\"items\":{\"type\":\"string\",\"maxLength\":2}}", "[\"ab\",\"abc\"]", "at /1: longer than maxLength 2");
    expect("{\"items\":{\"items\":{\"type\":\"number\"}}}", "[[1],[2,\"x\"]]", "at /1/1: expected a number, got a string");
}

static void enum_and_const_compare_values(void **state)
{
    expect("{\"enum\":[\"a\",1,{\"k\":[true]}]}", "{\"k\":[true]}", NULL);
    expect("{\"enum\":[\"a\",1]}", "1.0", NULL);
    expect("{\"enum\":[\"a\",1]}", "\"b\"", "at /: not one of the values enum allows");
    expect("{\"const\":\"x\"}", "\"y\"", "at /: not the constant value the schema requires");
}

static void combinations(void **state)
{
    const char *any = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\",\"minimum\":0}]}";
    expect(any, "\"s\"", NULL);
    expect(any, "-1", "at /: matches none of anyOf (anyOf[0]: at /: expected a string, got a number)");
    const char *one = "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}";
    expect(one, "1.5", NULL);
    expect(one, "2", "at /: matches 2 of oneOf, not exactly one");
    expect("{\"allOf\":[{\"type\":\"object\"},{\"required\":[\"a\"]}]}", "{}",
           "at /: missing required property 'a'");
}

static void refs_resolve_to_local_defs(void **state)
{
    const char *s = "{\"$defs\":{\"pos\":{\"type\":\"number\",\"minimum\":0},"
                    "\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"$ref\":\"#/$defs/pos\"},"
                    "\"next\":{\"$ref\":\"#/$defs/node\"}}}},\"$ref\":\"#/$defs/node\"}";
    expect(s, "{\"v\":1,\"next\":{\"v\":2,\"next\":{\"v\":3}}}", NULL);
    expect(s, "{\"v\":1,\"next\":{\"v\":-2}}", "at /next/v: -2 is less than the minimum 0");
    expect_refused("{\"$ref\":\"#/$defs/none\"}", "at /: $ref must name a schema under #/$defs/ of this schema");
    expect_refused("{\"$ref\":\"http://example.com/s.json\"}",
                   "at /: $ref must name a schema under #/$defs/ of this schema");
}

static void a_ref_loop_is_cut(void **state)
{
    char why[400];
    pt_jschema *s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", why, sizeof why);
    assert_non_null(s);
    json_t *v = json_integer(1);
    assert_int_equal(pt_jschema_validate(s, v, why, sizeof why), -1);
    assert_non_null(strstr(why, "nest more than"));
    json_decref(v);
    pt_jschema_free(s);
}

static void unsupported_keywords_are_refused_by_name(void **state)
{
    expect_refused("{\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^x\"}}}",
                   "at /properties/a: unsupported keyword 'pattern' (supported: type, properties, required, items, enum, "
                   "const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, "
                   "maxItems, additionalProperties, anyOf, oneOf, allOf, $ref, $defs)");
    expect_refused("{\"type\":\"strin\"}", "at /: unknown type 'strin'");
    expect_refused("{\"anyOf\":[]}", "at /anyOf: expected a non-empty list of schemas");
    expect_refused("{\"items\":[{\"type\":\"string\"}]}", "at /items: a schema must be an object or a boolean");
    expect_refused("{\"minLength\":-1}", "at /: minLength must be a non-negative integer");
    expect_refused("\"x\"", "at /: a schema must be an object or a boolean");
    /* annotations are accepted */
    expect("{\"title\":\"t\",\"description\":\"d\",\"$schema\":\"x\",\"default\":1,\"examples\":[1]}", "1", NULL);
    expect("{\"format\":\"email\",\"readOnly\":true,\"deprecated\":true,\"example\":\"x\"}", "\"not an email\"", NULL);
    assert_true(pt_jschema_keyword_known("minItems"));
    assert_true(pt_jschema_keyword_known("format"));
    assert_false(pt_jschema_keyword_known("pattern"));
    assert_false(pt_jschema_keyword_known("not"));
}

static void exclusive_bounds_and_item_counts(void **state)
{
    expect("{\"exclusiveMinimum\":0}", "0.5", NULL);
    expect("{\"exclusiveMinimum\":0}", "0", "at /: 0 is not more than the exclusive minimum 0");
    expect("{\"exclusiveMaximum\":10}", "10", "at /: 10 is not less than the exclusive maximum 10");
    expect("{\"minItems\":1,\"maxItems\":2}", "[1]", NULL);
    expect("{\"minItems\":1}", "[]", "at /: fewer than minItems 1 items");
    expect("{\"properties\":{\"a\":{\"maxItems\":2}}}", "{\"a\":[1,2,3]}", "at /a: more than maxItems 2 items");
    expect_refused("{\"maxItems\":-2}", "at /: maxItems must be a non-negative integer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(types_are_checked),
        cmocka_unit_test(objects_name_the_failing_member),
        cmocka_unit_test(arrays_and_lengths_count_characters),
        cmocka_unit_test(enum_and_const_compare_values),
        cmocka_unit_test(combinations),
        cmocka_unit_test(refs_resolve_to_local_defs),
        cmocka_unit_test(a_ref_loop_is_cut),
        cmocka_unit_test(unsupported_keywords_are_refused_by_name),
        cmocka_unit_test(exclusive_bounds_and_item_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
