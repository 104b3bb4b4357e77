/* Unit tests for limits/counter_redis.c's pure parts: the redis:// URL, and reading the
 * batch script's reply (hand-built replies: passed, refused, and every wrong shape). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "core/err.h"
#include "limits/counter_redis.h"

static void url_full(void **state)
{
    pt_redis_url u;
    char err[256];
    assert_int_equal(pt_redis_url_parse("redis://app:s%40cret@10.0.0.5:6380/3", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s@cret");
}

static void url_defaults(void **state)
{
    pt_redis_url u;
    char err[256];
    assert_int_equal(pt_redis_url_parse("redis://localhost", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    assert_int_equal(pt_redis_url_parse("redis://:pw@127.0.0.1/", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.port, 6379);
}

static void url_refused(void **state)
{
    static const struct { const char *url, *says; } bad[] = {
        { "http://127.0.0.1:6379", "does not start with redis://" },
        { "redis://", "has no host" },
        { "redis://:6379", "has no host" },
        { "redis://h:0", "port is not a number" },
        { "redis://h:70000", "port is not a number" },
        { "redis://h:12x", "port is not a number" },
        { "redis://h:6379/x", "database is not a number" },
        { "redis://h:6379/1/2", "database is not a number" },
        { "redis://secretpw@h", "no ':' before the password" },
        { "redis://:bad%zzsecret@h", "badly %-encoded" },
        { "redis://:bad%4secret@h", "badly %-encoded" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_redis_url u;
        char err[256] = "";
        assert_int_equal(pt_redis_url_parse(bad[i].url, &u, err, sizeof err), -1);
        if (!strstr(err, bad[i].says)) fail_msg("%s: '%s' does not say '%s'", bad[i].url, err, bad[i].says);
        assert_null(strstr(err, "secret")); /* never the password */
    }
    pt_redis_url u;
    char err[256];
    assert_int_equal(pt_redis_url_parse(NULL, &u, err, sizeof err), -1);
}

/* ---- replies ---- */

static redisReply ints[64], *elems[64];

/* An array reply of n integers v. */
static redisReply array_of(const long long *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ints[i] = (redisReply){ .type = REDIS_REPLY_INTEGER, .integer = v[i] };
        elems[i] = &ints[i];
    }
    return (redisReply){ .type = REDIS_REPLY_ARRAY, .elements = n, .element = elems };
}

static pt_gcra g = { 1000, 9000 };

static void reply_all_passed(void **state)
{
    pt_counter_op ops[3] = {
        { .kind = PT_COUNTER_TAKE, .g = &g, .n = 1 },
        { .kind = PT_COUNTER_ACQUIRE, .n = 4 },
        { .kind = PT_COUNTER_ADD, .n = 1, .limit = 5 },
    };
    long long v[] = { 0, 1, 9, 0, 1000, 1, 2, 0, 0, 0, 3, 0, 0 };
    redisReply r = array_of(v, 13);
    assert_int_equal(pt__counters_redis_reply(&r, ops, 3), 3);
    assert_true(ops[0].rate.allowed);
    assert_int_equal(ops[0].rate.remaining, 9);
    assert_int_equal(ops[0].rate.reset_ns, 1000);
    assert_int_equal(ops[1].inflight, 2);
    assert_int_equal(ops[2].total, 3);
    assert_false(ops[0].refused || ops[1].refused || ops[2].refused);
}

static void reply_refused(void **state)
{
    pt_counter_op ops[3] = {
        { .kind = PT_COUNTER_TAKE, .g = &g, .n = 1 },
        { .kind = PT_COUNTER_ADD, .n = 1, .limit = 5 },
        { .kind = PT_COUNTER_ACQUIRE, .n = 4 },
    };
    /* the second op refused: its total is 5; the third never ran */
    long long v[] = { 2, 1, 8, 0, 2000, 1, 5, 0, 0, 0, 0, 0, 0 };
    redisReply r = array_of(v, 13);
    assert_int_equal(pt__counters_redis_reply(&r, ops, 3), 1);
    assert_false(ops[0].refused);
    assert_true(ops[1].refused);
    assert_int_equal(ops[1].total, 5);
    assert_false(ops[2].refused);
    /* a refused take carries when to retry */
    pt_counter_op one = { .kind = PT_COUNTER_TAKE, .g = &g, .n = 1 };
    long long w[] = { 1, 0, 0, 1500, 9000 };
    r = array_of(w, 5);
    assert_int_equal(pt__counters_redis_reply(&r, &one, 1), 0);
    assert_true(one.refused);
    assert_false(one.rate.allowed);
    assert_int_equal(one.rate.retry_ns, 1500);
}

/* A lease that passes says how many cells it took where a refusal says when to retry. */
static void reply_lease(void **state)
{
    pt_counter_op one = { .kind = PT_COUNTER_LEASE, .g = &g, .n = 20 };
    long long v[] = { 0, 1, 3, 17, 20000 };
    redisReply r = array_of(v, 5);
    assert_int_equal(pt__counters_redis_reply(&r, &one, 1), 1);
    assert_true(one.rate.allowed);
    assert_int_equal(one.total, 17);
    assert_int_equal(one.rate.retry_ns, 0);
    assert_int_equal(one.rate.remaining, 3);
    long long w[] = { 1, 0, 0, 1500, 9000 };
    r = array_of(w, 5);
    assert_int_equal(pt__counters_redis_reply(&r, &one, 1), 0);
    assert_true(one.refused);
    assert_false(one.rate.allowed);
    assert_int_equal(one.rate.retry_ns, 1500);
    assert_int_equal(one.total, 0);
}

static void reply_wrong_shapes(void **state)
{
    pt_counter_op ops[2] = { { .kind = PT_COUNTER_TAKE, .g = &g, .n = 1 }, { .kind = PT_COUNTER_ACQUIRE, .n = 1 } };
    assert_int_equal(pt__counters_redis_reply(NULL, ops, 2), PT_EIO);
    redisReply err = { .type = REDIS_REPLY_ERROR, .str = "ERR boom", .len = 8 };
    assert_int_equal(pt__counters_redis_reply(&err, ops, 2), PT_EIO);
    long long short_v[] = { 0, 1, 1, 0, 0 };
    redisReply r = array_of(short_v, 5);
    assert_int_equal(pt__counters_redis_reply(&r, ops, 2), PT_EIO); /* 5 numbers for 2 ops */
    long long past[] = { 3, 1, 1, 0, 0, 1, 1, 0, 0 };
    r = array_of(past, 9);
    assert_int_equal(pt__counters_redis_reply(&r, ops, 2), PT_EIO); /* refusing op 3 of 2 */
    long long neg[] = { 0, 1, -1, 0, 0, 1, 1, 0, 0 };
    r = array_of(neg, 9);
    assert_int_equal(pt__counters_redis_reply(&r, ops, 2), PT_EIO);
    long long ok[] = { 0, 1, 1, 0, 0, 1, 1, 0, 0 };
    r = array_of(ok, 9);
    ints[4] = (redisReply){ .type = REDIS_REPLY_STRING, .str = "0", .len = 1 };
    assert_int_equal(pt__counters_redis_reply(&r, ops, 2), PT_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_full),           cmocka_unit_test(url_defaults),  cmocka_unit_test(url_refused),
        cmocka_unit_test(reply_all_passed),   cmocka_unit_test(reply_refused),
        cmocka_unit_test(reply_lease), cmocka_unit_test(reply_wrong_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
