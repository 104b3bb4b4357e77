/* Unit tests for control/snapshot.c: compiling from a real store, key lookup hit, miss,
 * revoked and expired, subscription states, allowed models, services and APIs, staleness
 * by store version, and the publish / current / release cycle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/cred.h"
#include "control/snapshot.h"
#include "store/store_fixture.h"

#define ST (((fixture *)*state)->st)

static pt_snapshot *compile(pt_store *st)
{
    pt_store_error err;
    pt_snapshot *s = pt_snapshot_compile(st, &err);
    if (!s) fprintf(stderr, "compile: %s\n", err.message);
    assert_non_null(s);
    return s;
}

static int64_t insert_fmt(pt_store *st, pt_store_kind kind, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return must_insert(st, kind, buf);
}

/* A key for consumer with extra JSON members (may be ""); its secret goes to *out. */
static int64_t new_key(pt_store *st, int64_t consumer, const char *extra, pt_cred_secret *out)
{
    assert_int_equal(pt_cred_generate(PT_CRED_KEY_SCHEME, out), 0);
    return insert_fmt(st, PT_KIND_KEY, "{\"consumer_id\":%lld,\"prefix\":\"%s\",\"hash\":\"%s\"%s}", (long long)consumer,
                      out->prefix, out->hash_hex, extra);
}

static void empty_store_compiles_to_an_empty_snapshot(void **state)
{
    pt_snapshot *s = compile(ST);
    assert_int_equal(s->nkeys, 0);
    assert_int_equal(s->nconsumers, 0);
    assert_int_equal(s->store_version, 0);
    const pt_snap_key *k = NULL;
    assert_int_equal(pt_snapshot_check_key(s, "pk_nothing", 10, 0, &k), PT_SNAP_KEY_UNKNOWN);
    assert_null(k);
    pt_snapshot_release(s);
}

static void key_lookup_hit_miss_revoked_expired(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    int64_t app = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"app\",\"team_id\":%lld}", (long long)team);
    pt_cred_secret good, revoked, expired, later, unknown;
    int64_t good_id = new_key(ST, app, "", &good);
    new_key(ST, app, ",\"revoked_at\":1500", &revoked);
    new_key(ST, app, ",\"expires_at\":1000", &expired);
    new_key(ST, app, ",\"expires_at\":4000000000", &later);
    assert_int_equal(pt_cred_generate(PT_CRED_KEY_SCHEME, &unknown), 0);
    pt_snapshot *s = compile(ST);
    const int64_t now = 2000;
    const pt_snap_key *k;
    assert_int_equal(pt_snapshot_check_key(s, good.text, strlen(good.text), now, &k), PT_SNAP_KEY_OK);
    assert_int_equal(k->id, good_id);
    assert_string_equal(k->prefix, good.prefix);
    const pt_snap_consumer *c = pt_snapshot_consumer(s, k);
    assert_string_equal(pt_snapshot_consumer_name(s, c), "app");
    assert_string_equal(pt_snapshot_team_name(s, c), "acme");
    assert_int_equal(pt_snapshot_check_key(s, revoked.text, strlen(revoked.text), now, &k), PT_SNAP_KEY_REVOKED);
    assert_string_equal(k->prefix, revoked.prefix);
    assert_int_equal(pt_snapshot_check_key(s, expired.text, strlen(expired.text), now, &k), PT_SNAP_KEY_EXPIRED);
    assert_int_equal(pt_snapshot_check_key(s, expired.text, strlen(expired.text), 999, &k), PT_SNAP_KEY_OK);
    assert_int_equal(pt_snapshot_check_key(s, later.text, strlen(later.text), now, &k), PT_SNAP_KEY_OK);
    assert_int_equal(pt_snapshot_check_key(s, unknown.text, strlen(unknown.text), now, &k), PT_SNAP_KEY_UNKNOWN);
    assert_null(k);
    /* one character short of a real key is a different key */
    assert_int_equal(pt_snapshot_check_key(s, good.text, strlen(good.text) - 1, now, &k), PT_SNAP_KEY_UNKNOWN);
    pt_snapshot_release(s);
}

static void thousands_of_keys_all_found_none_invented(void **state)
{
    enum { N = 5000 };
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"t\"}");
    static pt_cred_secret keys[N];
    int64_t ids[N];
    pt_store_begin(ST);
    for (int i = 0; i < N; i++) {
        int64_t c = i % 2 ? ids[i - 1] : insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"c%d\",\"team_id\":%lld}", i,
                                                     (long long)team);
        ids[i] = c;
        new_key(ST, c, "", &keys[i]);
    }
    assert_int_equal(pt_store_commit(ST), 0);
    pt_snapshot *s = compile(ST);
    assert_int_equal(s->nkeys, N);
    assert_int_equal(s->nconsumers, N / 2);
    for (int i = 0; i < N; i++) {
        const pt_snap_key *k = pt_snapshot_key(s, keys[i].hash);
        assert_non_null(k);
        assert_int_equal(s->consumers[k->consumer].id, ids[i]);
        pt_cred_secret other;
        pt_cred_generate(PT_CRED_KEY_SCHEME, &other);
        assert_null(pt_snapshot_key(s, other.hash));
    }
    pt_snapshot_release(s);
}

static void subscription_states_per_service(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    int64_t svc[5];
    for (int i = 0; i < 5; i++)
        svc[i] = insert_fmt(ST, PT_KIND_SERVICE, "{\"name\":\"s%d\",\"team_id\":%lld,\"kind\":\"rest\"}", i, (long long)team);
    int64_t app = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"app\",\"team_id\":%lld}", (long long)team);
    int64_t other = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"other\",\"team_id\":%lld}", (long long)team);
    const char *states[] = {"active", "pending", "rejected", "cancelled"};
    for (int i = 3; i >= 0; i--) /* out of service order on purpose */
        insert_fmt(ST, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":%lld,\"service_id\":%lld,\"state\":\"%s\"}", (long long)app,
                   (long long)svc[i], states[i]);
    insert_fmt(ST, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":%lld,\"service_id\":%lld,\"state\":\"active\"}", (long long)other,
               (long long)svc[4]);
    pt_cred_secret key;
    new_key(ST, app, "", &key);
    pt_snapshot *s = compile(ST);
    const pt_snap_key *k = pt_snapshot_key(s, key.hash);
    const pt_snap_consumer *c = pt_snapshot_consumer(s, k);
    assert_int_equal(pt_snapshot_subscription(s, c, svc[0]), PT_SNAP_SUB_ACTIVE);
    assert_int_equal(pt_snapshot_subscription(s, c, svc[1]), PT_SNAP_SUB_PENDING);
    assert_int_equal(pt_snapshot_subscription(s, c, svc[2]), PT_SNAP_SUB_REJECTED);
    assert_int_equal(pt_snapshot_subscription(s, c, svc[3]), PT_SNAP_SUB_NONE);
    /* another consumer's subscription is not this one's */
    assert_int_equal(pt_snapshot_subscription(s, c, svc[4]), PT_SNAP_SUB_NONE);
    assert_int_equal(pt_snapshot_subscription(s, c, 999), PT_SNAP_SUB_NONE);
    pt_snapshot_release(s);
}

static void allowed_models_per_key(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    int64_t app = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"app\",\"team_id\":%lld}", (long long)team);
    pt_cred_secret some, all, none;
    new_key(ST, app, ",\"allowed_models\":[\"gpt-4o\",\"claude-sonnet\"]", &some);
    new_key(ST, app, "", &all);
    new_key(ST, app, ",\"allowed_models\":[]", &none);
    pt_snapshot *s = compile(ST);
    const pt_snap_key *k = pt_snapshot_key(s, some.hash);
    assert_true(pt_snapshot_model_allowed(s, k, "gpt-4o", 6));
    assert_true(pt_snapshot_model_allowed(s, k, "claude-sonnet", 13));
    assert_false(pt_snapshot_model_allowed(s, k, "gpt-4", 5));
    assert_false(pt_snapshot_model_allowed(s, k, "gpt-4o-mini", 11));
    k = pt_snapshot_key(s, all.hash);
    assert_true(pt_snapshot_model_allowed(s, k, "anything", 8));
    k = pt_snapshot_key(s, none.hash);
    assert_false(pt_snapshot_model_allowed(s, k, "gpt-4o", 6));
    pt_snapshot_release(s);
}

static void services_and_apis_are_carried(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    int64_t svc = insert_fmt(ST, PT_KIND_SERVICE,
                             "{\"name\":\"llm\",\"team_id\":%lld,\"kind\":\"ai\",\"models\":[\"gpt-4o\"],\"approval\":\"manual\"}",
                             (long long)team);
    insert_fmt(ST, PT_KIND_API, "{\"service_id\":%lld,\"name\":\"chat\",\"path_prefix\":\"/v1/\",\"methods\":[\"POST\"],\"key_query\":\"k\"}",
               (long long)svc);
    pt_snapshot *s = compile(ST);
    const pt_snap_service *v = pt_snapshot_service(s, svc);
    assert_non_null(v);
    assert_ptr_equal(pt_snapshot_service_by_name(s, "llm"), v);
    assert_null(pt_snapshot_service_by_name(s, "nope"));
    assert_null(pt_snapshot_service(s, svc + 100));
    assert_string_equal(v->kind, "ai");
    assert_string_equal(v->approval, "manual");
    assert_string_equal(v->models, "[\"gpt-4o\"]");
    assert_null(v->targets);
    assert_int_equal(s->napis, 1);
    assert_int_equal(s->apis[0].service, 0);
    assert_string_equal(s->apis[0].path_prefix, "/v1/");
    assert_string_equal(s->apis[0].auth, "key");
    assert_string_equal(s->apis[0].methods, "[\"POST\"]");
    assert_string_equal(s->apis[0].key_query, "k");
    pt_snapshot_release(s);
}

static void store_version_tells_a_stale_snapshot(void **state)
{
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"a\"}");
    pt_snapshot *s = compile(ST);
    int64_t v;
    assert_int_equal(pt_store_version(ST, &v), 0);
    assert_int_equal(s->store_version, v);
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"b\"}");
    assert_int_equal(pt_store_version(ST, &v), 0);
    assert_true(v > s->store_version);
    pt_snapshot_release(s);
}

static void compile_inside_an_open_transaction_fails_cleanly(void **state)
{
    assert_int_equal(pt_store_begin(ST), 0);
    pt_store_error err;
    assert_null(pt_snapshot_compile(ST, &err));
    assert_int_equal(err.code, PT_STORE_ETXN);
    assert_int_equal(pt_store_rollback(ST), 0);
}

static void publish_swaps_while_readers_keep_theirs(void **state)
{
    assert_null(pt_snapshot_current());
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"a\"}");
    pt_snapshot *a = compile(ST);
    pt_snapshot_publish(a);
    pt_snapshot *held = pt_snapshot_current();
    assert_ptr_equal(held, a);
    assert_int_equal(atomic_load(&a->refs), 2);
    must_insert(ST, PT_KIND_TEAM, "{\"name\":\"b\"}");
    pt_snapshot *b = compile(ST);
    pt_snapshot_publish(b);
    /* the old one lives on for the reader that holds it */
    assert_int_equal(atomic_load(&held->refs), 1);
    assert_int_equal(held->nteams, 1);
    pt_snapshot *now = pt_snapshot_current();
    assert_ptr_equal(now, b);
    assert_int_equal(now->nteams, 2);
    pt_snapshot_release(held);
    pt_snapshot_release(now);
    pt_snapshot_publish(NULL);
    assert_null(pt_snapshot_current());
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(empty_store_compiles_to_an_empty_snapshot),
        T(key_lookup_hit_miss_revoked_expired),
        T(thousands_of_keys_all_found_none_invented),
        T(subscription_states_per_service),
        T(allowed_models_per_key),
        T(services_and_apis_are_carried),
        T(store_version_tells_a_stale_snapshot),
        T(compile_inside_an_open_transaction_fails_cleanly),
        T(publish_swaps_while_readers_keep_theirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
