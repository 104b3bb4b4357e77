/* Unit tests for admin/oas.c: OpenAPI 3.0 and 3.1 documents normalised (refs, allOf,
 * nullable, type lists), every rejection naming its line or JSON pointer, the diff of two
 * imports, and export then import giving the same operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/oas.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static json_t *import_file(const char *path)
{
    size_t n;
    char *text = slurp(path, &n), *server = NULL;
    json_t *out = NULL;
    pt_admin_err e = {0};
    int rc = pt_oas_import(text, n, &out, &server, &e);
    if (rc) fprintf(stderr, "%s: %s\n", path, e.message);
    assert_int_equal(rc, 0);
    assert_string_equal(server, "/v2");
    free(server);
    free(text);
    return out;
}

static json_t *import_text(const char *text, pt_admin_err *e)
{
    json_t *out = NULL;
    char *server = NULL;
    memset(e, 0, sizeof *e);
    pt_oas_import(text, strlen(text), &out, &server, e);
    free(server);
    return out;
}

static const json_t *op(const json_t *doc, const char *method, const char *path)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(doc, "operations"), i, o) if (
        strcmp(json_string_value(json_object_get(o, "method")), method) == 0 &&
        strcmp(json_string_value(json_object_get(o, "path")), path) == 0) return o;
    return NULL;
}

static void yaml_30_normalises(void **state)
{
    json_t *d = import_file("tests/data/bookshop-3.0.yaml");
    assert_int_equal(json_array_size(json_object_get(d, "operations")), 38);
    /* path-level parameters join each operation, $refs expanded */
    const json_t *get = op(d, "GET", "/books/{bookId}");
    assert_non_null(get);
    json_t *p = json_array_get(json_object_get(get, "parameters"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "name")), "bookId");
    assert_true(json_is_true(json_object_get(p, "required")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "schema"), "type")), "integer");
    /* nullable became a type list; 3.0's boolean exclusiveMinimum the 3.1 number */
    const json_t *put = op(d, "PUT", "/stock/{bookId}");
    json_t *wh = json_object_get(json_object_get(json_object_get(json_object_get(put, "body"), "schema"), "properties"), "warehouse");
    json_t *want = json_pack("{s:[ss]}", "type", "string", "null");
    assert_true(json_equal(wh, want));
    json_decref(want);
    const json_t *post = op(d, "POST", "/books");
    json_t *money = json_object_get(json_object_get(json_object_get(json_object_get(post, "body"), "schema"), "properties"), "price");
    json_t *amount = json_object_get(json_object_get(money, "properties"), "amount");
    assert_int_equal(json_integer_value(json_object_get(amount, "exclusiveMinimum")), 0);
    assert_null(json_object_get(amount, "minimum"));
    /* allOf kept, with its referenced branches inlined */
    const json_t *order = op(d, "POST", "/orders");
    json_t *all = json_object_get(json_object_get(json_object_get(order, "body"), "schema"), "allOf");
    assert_int_equal(json_array_size(all), 2);
    /* a header parameter, and a non-JSON body kept without a schema */
    const json_t *cover = op(d, "PUT", "/books/{bookId}/cover");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cover, "body"), "content_type")), "image/jpeg");
    assert_null(json_object_get(json_object_get(cover, "body"), "schema"));
    json_decref(d);
}

static void json_31_equals_yaml_30(void **state)
{
    json_t *a = import_file("tests/data/bookshop-3.0.yaml"), *b = import_file("tests/data/bookshop-3.1.json");
    assert_true(json_equal(json_object_get(a, "operations"), json_object_get(b, "operations")));
    json_t *d = pt_oas_diff(json_object_get(a, "operations"), json_object_get(b, "operations"));
    assert_int_equal(json_integer_value(json_object_get(d, "unchanged")), 38);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

static void export_then_import_is_equal(void **state)
{
    json_t *d = import_file("tests/data/bookshop-3.0.yaml");
    json_t *apis = json_pack("[{s:s,s:O}]", "path_prefix", "/v2", "openapi", d);
    json_t *doc = pt_oas_export("bookshop", apis);
    char *text = json_dumps(doc, 0), *server = NULL;
    json_t *again = NULL;
    pt_admin_err e = {0};
    assert_int_equal(pt_oas_import(text, strlen(text), &again, &server, &e), 0);
    assert_string_equal(server, "/v2");
    assert_true(json_equal(json_object_get(d, "operations"), json_object_get(again, "operations")));
    free(text);
    free(server);
    json_decref(again);
    json_decref(doc);
    json_decref(apis);
    json_decref(d);
}

static void diff_names_added_removed_changed(void **state)
{
    pt_admin_err e;
    json_t *a = import_text("{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"get\":{\"summary\":\"x\"},\"delete\":{}},"
                            "\"/b/{id}\":{\"get\":{\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true}]}}}}", &e);
    json_t *b = import_text("{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"get\":{\"summary\":\"y\"}},"
                            "\"/b/{id}\":{\"get\":{\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true}]}},"
                            "\"/c\":{\"post\":{}}}}", &e);
    assert_non_null(a);
    assert_non_null(b);
    json_t *d = pt_oas_diff(json_object_get(a, "operations"), json_object_get(b, "operations"));
    json_t *want = json_pack("{s:[s],s:[s],s:[{s:s,s:[s]}],s:i}", "added", "POST /c", "removed", "DELETE /a", "changed",
                             "operation", "GET /a", "fields", "summary", "unchanged", 1);
    assert_true(json_equal(d, want));
    json_decref(want);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

static void only_normalised_forms_pass_the_stored_check(void **state)
{
    json_t *d = import_file("tests/data/bookshop-3.1.json");
    pt_admin_err e = {0};
    assert_int_equal(pt_oas_check_normalised(d, &e), 0);
    json_array_insert_new(json_object_get(d, "operations"), 0, json_pack("{s:s}", "method", "GET"));
    assert_int_equal(pt_oas_check_normalised(d, &e), -1);
    assert_string_equal(e.field, "openapi");
    json_t *raw = json_pack("{s:s,s:{}}", "openapi", "3.1.0", "paths");
    assert_int_equal(pt_oas_check_normalised(raw, &e), -1); /* a document, not its normalised form */
    json_t *s = json_string("x");
    assert_int_equal(pt_oas_check_normalised(s, &e), -1);
    json_decref(s);
    json_decref(raw);
    json_decref(d);
}

/* A document that is refused, with the place the message must name. */
static void refused(const char *text, const char *field, const char *in_message)
{
    pt_admin_err e;
    json_t *d = import_text(text, &e);
    if (d || strcmp(e.field, field) != 0 || !strstr(e.message, in_message))
        fail_msg("expected refusal at '%s' with '%s', got field '%s': %s", field, in_message, e.field, e.message);
    assert_int_equal(e.status, 400);
}

static void bad_documents_are_refused_at_their_place(void **state)
{
    refused("openapi: 3.0.0\npaths: {\n", "", "line");
    refused("{\"openapi\": \"3.0.0\", ", "", "line 1");
    refused("{\"swagger\":\"2.0\",\"paths\":{}}", "/swagger", "Swagger 2.0");
    refused("{\"openapi\":\"4.0.0\",\"paths\":{}}", "/openapi", "unsupported version");
    refused("openapi: 3.0.1\ninfo: {title: t}\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/Nope'\n",
            "/paths/~1a/get/parameters/0/$ref", "line 7");
    refused("openapi: 3.1.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n"
            "            schema: {$ref: '#/components/schemas/A'}\ncomponents:\n  schemas:\n    A:\n      type: object\n"
            "      properties:\n        b: {$ref: '#/components/schemas/B'}\n    B:\n      allOf: [{$ref: '#/components/schemas/A'}]\n",
            "/components/schemas/B/allOf/0/$ref", "cyclic");
    refused("openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - name: q\n          in: query\n"
            "          schema: {type: string, pattern: '^a'}\n",
            "/paths/~1a/get/parameters/0/schema/pattern", "line 8");
    refused("{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"get\":{\"parameters\":[{\"name\":\"x\",\"in\":\"path\"}]}}}}",
            "/paths/~1a/get/parameters/0", "must be required");
    refused("{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"get\":{\"parameters\":[{\"name\":\"x\",\"in\":\"query\","
            "\"schema\":{\"$ref\":\"other.yaml#/X\"}}]}}}}",
            "/paths/~1a/get/parameters/0/schema/$ref", "not local");
    refused("{\"openapi\":\"3.1.0\",\"paths\":{\"/a\":{\"get\":{\"parameters\":[{\"name\":\"x\",\"in\":\"query\","
            "\"schema\":{\"type\":\"string\",\"nullable\":true}}]}}}}",
            "/paths/~1a/get/parameters/0/schema/nullable", "3.0");
    refused("{\"openapi\":\"3.0.0\"}", "/", "paths");
    refused("- a\n- b\n", "", "mapping");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_30_normalises),
        cmocka_unit_test(json_31_equals_yaml_30),
        cmocka_unit_test(export_then_import_is_equal),
        cmocka_unit_test(diff_names_added_removed_changed),
        cmocka_unit_test(bad_documents_are_refused_at_their_place),
        cmocka_unit_test(only_normalised_forms_pass_the_stored_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
