/* Unit tests for admin/session.c: the session cookie among others, the CSRF token bound to
 * the secret, idle and absolute expiry, the Set-Cookie values, the failed sign-in brake, and
 * whether a proxy's forwarding headers say https. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "admin/session.h"

#define S(lit) lit, sizeof(lit) - 1

static void cookie_is_found_among_others(void **state)
{
    char v[64];
    assert_int_equal(pt_session_cookie(S("portico_session=pt_abc"), v, sizeof v), 6);
    assert_string_equal(v, "pt_abc");
    assert_int_equal(pt_session_cookie(S("a=1; portico_session=pt_x; b=2"), v, sizeof v), 4);
    assert_string_equal(v, "pt_x");
    assert_int_equal(pt_session_cookie(S("x_portico_session=no; portico_session = \"pt_q\" ;"), v, sizeof v), 4);
    assert_string_equal(v, "pt_q");
    assert_int_equal(pt_session_cookie(S("portico_sessionx=1; other=2"), v, sizeof v), -1);
    assert_int_equal(pt_session_cookie(S("portico_session="), v, sizeof v), -1);
    assert_int_equal(pt_session_cookie(S("portico_session"), v, sizeof v), -1);
    assert_int_equal(pt_session_cookie(S(";;; ;"), v, sizeof v), -1);
    assert_int_equal(pt_session_cookie(NULL, 0, v, sizeof v), -1);
    assert_int_equal(pt_session_cookie(S("portico_session=0123456789"), v, 8), -1); /* too long for cap */
}

static void csrf_is_bound_to_the_secret(void **state)
{
    char a[PT_SESSION_CSRF_LEN + 1], b[PT_SESSION_CSRF_LEN + 1];
    pt_session_csrf(S("pt_one"), a);
    pt_session_csrf(S("pt_two"), b);
    assert_int_equal(strlen(a), PT_SESSION_CSRF_LEN);
    assert_string_not_equal(a, b);
    assert_true(pt_session_csrf_ok(S("pt_one"), a, strlen(a)));
    assert_false(pt_session_csrf_ok(S("pt_two"), a, strlen(a)));
    assert_false(pt_session_csrf_ok(S("pt_one"), a, strlen(a) - 1));
    assert_false(pt_session_csrf_ok(S("pt_one"), NULL, 0));
    assert_false(pt_session_csrf_ok(S("pt_one"), S("pt_one")));
    a[3] ^= 1;
    assert_false(pt_session_csrf_ok(S("pt_one"), a, strlen(a)));
    assert_true(pt_session_safe_method("GET"));
    assert_true(pt_session_safe_method("HEAD"));
    assert_false(pt_session_safe_method("POST"));
    assert_false(pt_session_safe_method("DELETE"));
    assert_false(pt_session_safe_method("get"));
}

static void sessions_end_idle_or_at_their_limit(void **state)
{
    assert_int_equal(pt_session_check(1000, 990, 2000, 60), PT_SESSION_LIVE);
    assert_int_equal(pt_session_check(1000, 940, 2000, 60), PT_SESSION_IDLE);
    assert_int_equal(pt_session_check(1000, 941, 2000, 60), PT_SESSION_LIVE);
    assert_int_equal(pt_session_check(2000, 1999, 2000, 60), PT_SESSION_ENDED);
    assert_int_equal(pt_session_check(2000, 1000, 2000, 60), PT_SESSION_ENDED); /* the limit wins */
    assert_int_equal(pt_session_check(1000, 0, 0, 0), PT_SESSION_LIVE);
    /* touched often enough to keep idle accurate, not at every request */
    assert_false(pt_session_needs_touch(1000, 1000, 1800));
    assert_false(pt_session_needs_touch(1059, 1000, 1800));
    assert_true(pt_session_needs_touch(1060, 1000, 1800));
    assert_true(pt_session_needs_touch(1001, 1000, 2));
    assert_false(pt_session_needs_touch(1000, 1000, 2));
}

static void cookies_carry_their_flags(void **state)
{
    char c[160];
    assert_true(pt_session_set_cookie(c, sizeof c, "pt_s", 3600, false) > 0);
    assert_string_equal(c, "portico_session=pt_s; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict");
    assert_true(pt_session_set_cookie(c, sizeof c, "pt_s", 60, true) > 0);
    assert_non_null(strstr(c, "; Secure"));
    assert_true(pt_session_clear_cookie(c, sizeof c, false) > 0);
    assert_string_equal(c, "portico_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    assert_int_equal(pt_session_set_cookie(c, 10, "pt_s", 60, false), -1);
}

static bool HTTPS(const char *f, const char *x)
{
    return pt_session_forwarded_https(f, f ? strlen(f) : 0, x, x ? strlen(x) : 0);
}

static void forwarded_https_reads_the_client_side_of_the_chain(void **state)
{
    (void)state;
    assert_false(HTTPS(NULL, NULL));
    assert_true(HTTPS(NULL, "https"));
    assert_true(HTTPS(NULL, " HTTPS , http"));
    assert_false(HTTPS(NULL, "http, https")); /* the first value is the client's side */
    assert_false(HTTPS(NULL, "httpsx"));
    assert_false(HTTPS(NULL, ""));
    assert_true(HTTPS("for=192.0.2.60;proto=https;by=203.0.113.43", NULL));
    assert_true(HTTPS("For=\"[2001:db8::1]:4711\"; Proto=\"https\"", NULL));
    assert_false(HTTPS("proto=http, proto=https", NULL));
    assert_true(HTTPS("for=\"a,b\";proto=https, proto=http", NULL)); /* a comma inside quotes */
    /* Forwarded names the proto: it wins; without one, X-Forwarded-Proto decides */
    assert_false(HTTPS("proto=http", "https"));
    assert_true(HTTPS("for=192.0.2.60", "https"));
    assert_false(HTTPS("protocol=https;xproto=https", NULL));
    assert_false(HTTPS("proto", NULL));
}

static void failed_sign_ins_are_braked_per_pair(void **state)
{
    static pt_signin_brake b;
    memset(&b, 0, sizeof b);
    uint64_t k = pt_signin_key("alice", "10.0.0.1"), other = pt_signin_key("alice", "10.0.0.2");
    assert_true(k != other);
    assert_true(pt_signin_key("ab", "c") != pt_signin_key("a", "bc"));
    for (int i = 0; i < PT_SIGNIN_FREE - 1; i++) {
        pt_signin_failed(&b, k, 100);
        assert_int_equal(pt_signin_wait(&b, k, 100), 0);
    }
    pt_signin_failed(&b, k, 100);
    assert_int_equal(pt_signin_wait(&b, k, 100), 2);
    assert_int_equal(pt_signin_wait(&b, k, 101), 1);
    assert_int_equal(pt_signin_wait(&b, k, 102), 0);
    pt_signin_failed(&b, k, 102);
    assert_int_equal(pt_signin_wait(&b, k, 102), 4);   /* doubling */
    assert_int_equal(pt_signin_wait(&b, other, 102), 0); /* another address is not held back */
    assert_int_equal(pt_signin_wait(&b, k, 100 + PT_SIGNIN_WINDOW), 0); /* the window passes */
    pt_signin_succeeded(&b, k);
    assert_int_equal(pt_signin_wait(&b, k, 103), 0);
    /* a full table makes room rather than forgetting the new pair */
    for (uint64_t i = 1; i <= PT_SIGNIN_SLOTS + 5; i++)
        for (int j = 0; j < PT_SIGNIN_FREE; j++) pt_signin_failed(&b, i * 7919, (int64_t)(200 + i));
    assert_true(pt_signin_wait(&b, (PT_SIGNIN_SLOTS + 5) * 7919ull, 200 + PT_SIGNIN_SLOTS + 5) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cookie_is_found_among_others),
        cmocka_unit_test(csrf_is_bound_to_the_secret),
        cmocka_unit_test(sessions_end_idle_or_at_their_limit),
        cmocka_unit_test(cookies_carry_their_flags),
        cmocka_unit_test(failed_sign_ins_are_braked_per_pair),
        cmocka_unit_test(forwarded_https_reads_the_client_side_of_the_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
