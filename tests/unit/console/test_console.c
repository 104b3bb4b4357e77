/* Unit tests for console/console.c against the table the build embedded from console/:
 * lookup, traversal refused, content types, ETag and If-None-Match, methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "console/console.h"

#define S(lit) lit, sizeof(lit) - 1

static void the_table_is_sorted_and_complete(void **state)
{
    assert_true(pt__console_nassets >= 8);
    for (size_t i = 1; i < pt__console_nassets; i++)
        assert_true(strcmp(pt__console_assets[i - 1].path, pt__console_assets[i].path) < 0);
    static const char *const shell[] = {"index.html", "app.js", "api.js", "ui.js", "chart.js", "style.css",
                                        "pages/index.js", "pages/signin.js"};
    for (size_t i = 0; i < sizeof shell / sizeof shell[0]; i++) {
        const pt_console_asset *a = pt_console_find(shell[i], strlen(shell[i]));
        assert_non_null(a);
        assert_string_equal(a->path, shell[i]);
        assert_true(a->len > 0);
        assert_int_equal(a->etag[0], '"');
        assert_int_equal(a->etag[strlen(a->etag) - 1], '"');
    }
}

static void every_asset_is_found_and_nothing_else(void **state)
{
    for (size_t i = 0; i < pt__console_nassets; i++) {
        const pt_console_asset *a = &pt__console_assets[i];
        assert_ptr_equal(pt_console_find(a->path, strlen(a->path)), a);
    }
    assert_ptr_equal(pt_console_find("", 0), pt_console_find(S("index.html")));
    assert_null(pt_console_find(S("index.htm")));
    assert_null(pt_console_find(S("index.html2")));
    assert_null(pt_console_find(S("pages")));
    assert_null(pt_console_find(S("pages/")));
    assert_null(pt_console_find(S("zzz")));
    assert_null(pt_console_find(S("0")));
}

static void traversal_and_odd_names_are_never_found(void **state)
{
    assert_null(pt_console_find(S("../index.html")));
    assert_null(pt_console_find(S("pages/../index.html")));
    assert_null(pt_console_find(S("./index.html")));
    assert_null(pt_console_find(S("pages//index.js")));
    assert_null(pt_console_find(S("/index.html")));
    assert_null(pt_console_find(S("%2e%2e/index.html")));
    assert_null(pt_console_find(S("pages\\index.js")));
    assert_null(pt_console_find(S("index.html\0x")));
    assert_null(pt_console_find(S("..")));
}

static void types_follow_extensions(void **state)
{
    assert_string_equal(pt_console_find(S("index.html"))->content_type, "text/html; charset=utf-8");
    assert_string_equal(pt_console_find(S("app.js"))->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(pt_console_find(S("style.css"))->content_type, "text/css; charset=utf-8");
}

static void serving_paths_methods_and_etags(void **state)
{
    pt_console_resp r;
    assert_true(pt_console_owns(S("/console")));
    assert_true(pt_console_owns(S("/console/app.js")));
    assert_false(pt_console_owns(S("/consoles")));
    assert_false(pt_console_owns(S("/admin/v1/teams")));

    pt_console_serve("GET", S("/console/"), NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.asset->path, "index.html");
    assert_int_equal(r.body_len, r.asset->len);
    assert_memory_equal(r.body, r.asset->data, r.body_len);
    pt_console_serve("GET", S("/console"), NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.asset->path, "index.html");

    const char *etag = pt_console_find(S("app.js"))->etag;
    char inm[128];
    snprintf(inm, sizeof inm, "\"nope\", %s", etag);
    pt_console_serve("GET", S("/console/app.js"), inm, strlen(inm), &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body_len, 0);
    snprintf(inm, sizeof inm, "W/%s", etag);
    pt_console_serve("HEAD", S("/console/app.js"), inm, strlen(inm), &r);
    assert_int_equal(r.status, 304);
    pt_console_serve("GET", S("/console/app.js"), S("*"), &r);
    assert_int_equal(r.status, 304);
    pt_console_serve("GET", S("/console/app.js"), S("\"0000000000000000\""), &r);
    assert_int_equal(r.status, 200);
    pt_console_serve("GET", S("/console/index.html"), etag, strlen(etag), &r);
    assert_int_equal(r.status, 200); /* another file's tag */

    pt_console_serve("GET", S("/console/../data/store.db"), NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_null(r.asset);
    assert_true(r.body_len > 0);
    pt_console_serve("POST", S("/console/app.js"), NULL, 0, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    pt_console_serve("DELETE", S("/console/nothing"), NULL, 0, &r);
    assert_int_equal(r.status, 405);
}

static void security_headers_are_the_contracts(void **state)
{
    assert_int_equal(pt_console_nsecurity_headers, 4);
    bool csp = false;
    for (size_t i = 0; i < pt_console_nsecurity_headers; i++)
        if (strcmp(pt_console_security_headers[i].name, "Content-Security-Policy") == 0) {
            csp = true;
            assert_non_null(strstr(pt_console_security_headers[i].value, "script-src 'self'"));
            assert_non_null(strstr(pt_console_security_headers[i].value, "frame-ancestors 'none'"));
            assert_null(strstr(pt_console_security_headers[i].value, "unsafe"));
        }
    assert_true(csp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table_is_sorted_and_complete),
        cmocka_unit_test(every_asset_is_found_and_nothing_else),
        cmocka_unit_test(traversal_and_odd_names_are_never_found),
        cmocka_unit_test(types_follow_extensions),
        cmocka_unit_test(serving_paths_methods_and_etags),
        cmocka_unit_test(security_headers_are_the_contracts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
