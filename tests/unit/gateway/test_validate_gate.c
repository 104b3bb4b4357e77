/* Unit tests for gateway/validate_gate.c: operations matched segment by segment (a literal
 * beats a parameter), parameters required and typed, bodies checked against nested allOf
 * schemas, each refusal naming the parameter or the body's JSON pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/oas.h"
#include "gateway/validate_gate.h"

static pt_validate *bookshop(void)
{
    FILE *f = fopen("tests/data/bookshop-3.0.yaml", "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    json_t *doc = NULL;
    char *server = NULL, why[256];
    pt_admin_err e = {0};
    assert_int_equal(pt_oas_import(text, n, &doc, &server, &e), 0);
    char *dumped = json_dumps(doc, JSON_COMPACT);
    pt_validate *v = pt_validate_compile(dumped, why, sizeof why);
    assert_non_null(v);
    assert_int_equal(pt_validate_count(v), 38);
    free(dumped);
    free(server);
    free(text);
    json_decref(doc);
    return v;
}

typedef struct fixture {
    pt_validate *v;
    pt_route route;
    pt_request req;
    pt_header headers[4];
    char msg[400];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->v = bookshop();
    f->route.path_prefix = "/v2";
    f->route.validate = f->v;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pt_validate_free(f->v);
    free(f);
    return 0;
}

static int check(fixture *f, const char *method, const char *path, const char *query, bool body)
{
    f->req.method_name = pt_slice_cstr(method);
    f->req.path = pt_slice_cstr(path);
    f->req.query = pt_slice_cstr(query ? query : "");
    f->req.headers = f->headers;
    f->msg[0] = 0;
    return pt__validate_check(f->v, &f->route, &f->req, body, f->msg, sizeof f->msg);
}

static void templates_match_by_segment(void **state)
{
    fixture *f = *state;
    assert_int_equal(check(f, "GET", "/v2/books/7", NULL, false), 0);
    assert_int_equal(check(f, "GET", "/v2/books/7/reviews/3", NULL, false), 0);
    /* the literal "search" wins over {bookId}, so q is asked for, not an integer id */
    assert_int_equal(check(f, "GET", "/v2/books/search", NULL, false), 400);
    assert_string_equal(f->msg, "query parameter 'q' is required");
    assert_int_equal(check(f, "GET", "/v2/books/search", "q=dune", false), 0);
    assert_int_equal(check(f, "GET", "/v2/nothing/here", NULL, false), 404);
    assert_int_equal(check(f, "HEAD", "/v2/books/7", NULL, false), 0); /* HEAD where GET is declared */
    assert_int_equal(check(f, "HEAD", "/v2/books/abc", NULL, false), 400);
    assert_int_equal(check(f, "POST", "/v2/books/7", NULL, false), 404);
    assert_non_null(strstr(f->msg, "other methods"));
}

static void parameters_are_typed(void **state)
{
    fixture *f = *state;
    assert_int_equal(check(f, "GET", "/v2/books/abc", NULL, false), 400);
    assert_string_equal(f->msg, "path parameter 'bookId': 'abc' is not an integer");
    assert_int_equal(check(f, "GET", "/v2/books/0", NULL, false), 400);
    assert_non_null(strstr(f->msg, "path parameter 'bookId': at /: 0 is less than the minimum 1"));
    assert_int_equal(check(f, "GET", "/v2/books", "limit=500", false), 400);
    assert_non_null(strstr(f->msg, "query parameter 'limit'"));
    assert_int_equal(check(f, "GET", "/v2/books", "genre=horror", false), 400);
    assert_non_null(strstr(f->msg, "query parameter 'genre'"));
    assert_int_equal(check(f, "GET", "/v2/books", "in_stock=yes", false), 400);
    assert_int_equal(check(f, "GET", "/v2/books", "in_stock=true&limit=10&author=Le%20Guin", false), 0);
    assert_int_equal(check(f, "GET", "/v2/books", "author=%zz", false), 400);
}

static void headers_and_required_bodies(void **state)
{
    fixture *f = *state;
    f->req.nheaders = 0;
    assert_int_equal(check(f, "POST", "/v2/orders", NULL, true), 400);
    assert_string_equal(f->msg, "header parameter 'Idempotency-Key' is required");
    f->headers[0] = (pt_header){pt_slice_cstr("idempotency-key"), pt_slice_cstr("abcdefgh12")};
    f->req.nheaders = 1;
    assert_int_equal(check(f, "POST", "/v2/orders", NULL, false), 400);
    assert_string_equal(f->msg, "a request body is required");
    assert_int_equal(check(f, "POST", "/v2/orders", NULL, true), 0);
    f->req.nheaders = 0;
}

static int body(fixture *f, const char *method, const char *path, const char *json)
{
    f->req.method_name = pt_slice_cstr(method);
    f->req.path = pt_slice_cstr(path);
    f->msg[0] = 0;
    return pt_validate_gate_body(&f->req, &f->route, json, strlen(json), f->msg, sizeof f->msg);
}

static void bodies_name_the_failing_pointer(void **state)
{
    fixture *f = *state;
    static const char ok[] = "{\"customer_id\":\"c-42\",\"items\":[{\"book_id\":1,\"quantity\":2}],"
                             "\"shipping\":{\"street\":\"1 Road\",\"city\":\"Oslo\",\"country\":\"NO\",\"recipient\":\"Ann\"}}";
    assert_int_equal(body(f, "POST", "/v2/orders", ok), 0);
    /* the nested allOf: shipping is an Address and has a recipient */
    assert_int_equal(body(f, "POST", "/v2/orders",
                          "{\"customer_id\":\"c-42\",\"items\":[{\"book_id\":1,\"quantity\":2}],"
                          "\"shipping\":{\"street\":\"1 Road\",\"city\":\"Oslo\",\"country\":\"NO\"}}"), -1);
    assert_non_null(strstr(f->msg, "at /shipping: missing required property 'recipient'"));
    assert_int_equal(body(f, "POST", "/v2/orders",
                          "{\"customer_id\":\"c-42\",\"items\":[{\"book_id\":1,\"quantity\":99}],"
                          "\"shipping\":{\"street\":\"1 Road\",\"city\":\"Oslo\",\"country\":\"NO\",\"recipient\":\"A\"}}"), -1);
    assert_non_null(strstr(f->msg, "/items/0/quantity"));
    assert_int_equal(body(f, "POST", "/v2/orders", "{not json"), -1);
    assert_non_null(strstr(f->msg, "not JSON"));
    /* oneOf of two closed objects */
    assert_int_equal(body(f, "POST", "/v2/orders/5/payment", "{\"method\":\"card\",\"token\":\"12345678\"}"), 0);
    assert_int_equal(body(f, "POST", "/v2/orders/5/payment", "{\"method\":\"card\",\"code\":\"123456\"}"), -1);
    /* an operation without a JSON body schema is not read */
    f->req.method_name = pt_slice_cstr("PUT");
    f->req.path = pt_slice_cstr("/v2/books/1/cover");
    assert_false(pt_validate_gate_wants_body(&f->req, &f->route));
    f->req.path = pt_slice_cstr("/v2/stock/1");
    assert_true(pt_validate_gate_wants_body(&f->req, &f->route));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(templates_match_by_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(parameters_are_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(headers_and_required_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(bodies_name_the_failing_pointer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
