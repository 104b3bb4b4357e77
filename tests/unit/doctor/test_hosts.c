/* Unit tests for doctor/check_resolve.c helpers: hosts(5) lookups in file order and the names
 * that curl and browsers resolve themselves. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "doctor/resolve.h"

static void localhost_names(void **state)
{
    assert_true(pt__dr_is_localhost_name("localhost"));
    assert_true(pt__dr_is_localhost_name("LocalHost"));
    assert_true(pt__dr_is_localhost_name("localhost."));
    assert_true(pt__dr_is_localhost_name("app.localhost"));
    assert_false(pt__dr_is_localhost_name("localhost.example"));
    assert_false(pt__dr_is_localhost_name("mylocalhost"));
    assert_false(pt__dr_is_localhost_name("127.0.0.1"));
}

static void hosts_file_in_order_with_aliases_and_comments(void **state)
{
    char path[] = "/tmp/pt-hosts-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# static table\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost ip6-loopback\n"
               "10.0.0.5 db db.internal # the database\n#10.0.0.6 db\nnot-an-address db\n127.0.0.1 localhost\n");
    fclose(f);
    pt_dr_addrlist l = { 0 };
    assert_int_equal(pt__dr_hosts_lookup(path, "localhost", &l), 0);
    assert_int_equal(l.n, 2); /* the repeated line adds nothing */
    assert_string_equal(l.v[0].text, "127.0.0.1");
    assert_string_equal(l.v[1].text, "::1");
    pt_dr_addrlist d = { 0 };
    assert_int_equal(pt__dr_hosts_lookup(path, "DB.internal", &d), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].text, "10.0.0.5");
    pt_dr_addrlist none = { 0 };
    assert_int_equal(pt__dr_hosts_lookup(path, "the", &none), 0);
    assert_int_equal(none.n, 0);
    unlink(path);
}

static void missing_file_is_an_error(void **state)
{
    pt_dr_addrlist l = { 0 };
    assert_true(pt__dr_hosts_lookup("/nonexistent/hosts", "localhost", &l) < 0);
    assert_int_equal(l.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(localhost_names),
        cmocka_unit_test(hosts_file_in_order_with_aliases_and_comments),
        cmocka_unit_test(missing_file_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
