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

/* A service with a release is carried as its current release says; another service's rows
 * and APIs are untouched; the released APIs keep the order the release lists them in. */
static void a_released_service_is_carried_as_its_release(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    int64_t a = insert_fmt(ST, PT_KIND_SERVICE, "{\"name\":\"a\",\"team_id\":%lld,\"kind\":\"rest\",\"targets\":[\"http://draft\"]}",
                           (long long)team);
    int64_t b = insert_fmt(ST, PT_KIND_SERVICE, "{\"name\":\"b\",\"team_id\":%lld,\"kind\":\"rest\",\"targets\":[\"http://b\"]}",
                           (long long)team);
    insert_fmt(ST, PT_KIND_API, "{\"service_id\":%lld,\"name\":\"draft\",\"path_prefix\":\"/draft/\"}", (long long)a);
    insert_fmt(ST, PT_KIND_API, "{\"service_id\":%lld,\"name\":\"bee\",\"path_prefix\":\"/b/\"}", (long long)b);
    insert_fmt(ST, PT_KIND_RELEASE, "{\"service_id\":%lld,\"number\":1,\"created_by\":\"t\",\"diff\":{},"
               "\"snapshot\":{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://one\"]},\"apis\":[]}}", (long long)a);
    insert_fmt(ST, PT_KIND_RELEASE, "{\"service_id\":%lld,\"number\":2,\"created_by\":\"t\",\"diff\":{},"
               "\"snapshot\":{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://two\"],\"lb\":\"least_conn\"},"
               "\"apis\":[{\"name\":\"v1\",\"path_prefix\":\"/v/\"},{\"name\":\"v2\",\"path_prefix\":\"/v/\","
               "\"match_headers\":{\"X-API-Version\":\"2\"}}]}}", (long long)a);
    pt_snapshot *s = compile(ST);
    const pt_snap_service *va = pt_snapshot_service(s, a), *vb = pt_snapshot_service(s, b);
    assert_string_equal(va->targets, "[\"http://two\"]");
    assert_string_equal(va->lb, "least_conn");
    assert_string_equal(va->name, "a");
    assert_string_equal(vb->targets, "[\"http://b\"]");
    assert_int_equal(s->napis, 3);
    int seen = 0;
    for (size_t i = 0; i < s->napis; i++) {
        const pt_snap_api *api = &s->apis[i];
        assert_ptr_equal(&s->services[api->service], api->service_id == a ? va : vb);
        if (api->service_id == b) { assert_string_equal(api->name, "bee"); seen |= 1; continue; }
        assert_int_equal(api->id, 0);
        assert_string_not_equal(api->name, "draft");
        if (strcmp(api->name, "v2") == 0) { assert_string_equal(api->match_headers, "{\"X-API-Version\":\"2\"}"); seen |= 2; }
        else { assert_null(api->match_headers); seen |= 4; }
    }
    assert_int_equal(seen, 7);
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

/* ---- patching ---- */

#define NKEYS 40
typedef struct world {
    pt_cred_secret keys[NKEYS];
    int nkeys;
    int64_t consumers[8], services[3];
    int nconsumers;
} world;

/* Every key and every (consumer, service) pair reads the same in a and b. */
static void same_answers(const pt_snapshot *a, const pt_snapshot *b, const world *w)
{
    for (int i = 0; i < w->nkeys; i++) {
        const pt_snap_key *ka = NULL, *kb = NULL;
        const char *t = w->keys[i].text;
        assert_int_equal(pt_snapshot_check_key(a, t, strlen(t), 1000, &ka), pt_snapshot_check_key(b, t, strlen(t), 1000, &kb));
        assert_int_equal(ka == NULL, kb == NULL);
        if (!ka) continue;
        const pt_snap_consumer *ca = pt_snapshot_consumer(a, ka), *cb = pt_snapshot_consumer(b, kb);
        assert_int_equal(ca->id, cb->id);
        assert_string_equal(pt_snapshot_consumer_name(a, ca), pt_snapshot_consumer_name(b, cb));
        assert_string_equal(pt_snapshot_team_name(a, ca), pt_snapshot_team_name(b, cb));
        assert_int_equal(pt_snapshot_model_allowed(a, ka, "m1", 2), pt_snapshot_model_allowed(b, kb, "m1", 2));
        for (int s = 0; s < 3; s++)
            assert_int_equal(pt_snapshot_subscription(a, ca, w->services[s]), pt_snapshot_subscription(b, cb, w->services[s]));
    }
}

/* Applies the write just made to prev by a patch, checks it against a fresh compile and
 * returns the patched snapshot (prev released). */
static pt_snapshot *step(pt_store *st, pt_snapshot *prev, int kind, int64_t id, const world *w)
{
    int64_t v = 0;
    assert_int_equal(pt_store_version(st, &v), 0);
    assert_int_equal(v, prev->store_version + 1);
    pt_snapshot *p = pt_snapshot_patch(prev, st, kind, id, v);
    assert_non_null(p);
    assert_int_equal(p->store_version, v);
    pt_snapshot *fresh = compile(st);
    same_answers(p, fresh, w);
    pt_snapshot_release(fresh);
    pt_snapshot_release(prev);
    return p;
}

static void update_fmt(pt_store *st, pt_store_kind kind, int64_t id, const char *json)
{
    json_t *o = json_loads(json, 0, NULL);
    assert_int_equal(pt_store_update(st, kind, id, 0, o, "test"), 0);
    json_decref(o);
}

static void patches_read_like_a_fresh_compile(void **state)
{
    world w = { 0 };
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"acme\"}");
    for (int s = 0; s < 3; s++)
        w.services[s] = insert_fmt(ST, PT_KIND_SERVICE, "{\"name\":\"svc%d\",\"team_id\":%lld,\"kind\":\"rest\","
                                   "\"targets\":[\"http://127.0.0.1:1\"]}", s, (long long)team);
    w.consumers[w.nconsumers++] = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"first\",\"team_id\":%lld}", (long long)team);
    new_key(ST, w.consumers[0], "", &w.keys[w.nkeys++]);
    pt_snapshot *s = compile(ST);
    /* new consumers (at the end), their keys (the table grows past half full), subscriptions
     * inserted into runs in the middle, state changes, revocations, a rename */
    for (int c = 1; c < 6; c++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", c);
        w.consumers[w.nconsumers] = insert_fmt(ST, PT_KIND_CONSUMER, "{\"name\":\"%s\",\"team_id\":%lld}", name,
                                               (long long)team);
        s = step(ST, s, PT_KIND_CONSUMER, w.consumers[w.nconsumers], &w);
        w.nconsumers++;
    }
    for (int k = 0; k < NKEYS - 1; k++) {
        int64_t c = w.consumers[k % w.nconsumers];
        int64_t id = new_key(ST, c, k % 3 ? "" : ",\"allowed_models\":[\"m1\"]", &w.keys[w.nkeys++]);
        s = step(ST, s, PT_KIND_KEY, id, &w);
    }
    int64_t subs[16];
    int n = 0;
    for (int c = w.nconsumers - 1; c >= 0; c--)     /* later consumers first: earlier runs move */
        for (int v = 2; v >= 0; v -= 2) {           /* svc2 then svc0: inserted before an existing one */
            subs[n] = insert_fmt(ST, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":%lld,\"service_id\":%lld,\"state\":\"pending\"}",
                                 (long long)w.consumers[c], (long long)w.services[v]);
            s = step(ST, s, PT_KIND_SUBSCRIPTION, subs[n++], &w);
        }
    update_fmt(ST, PT_KIND_SUBSCRIPTION, subs[3], "{\"state\":\"active\"}");
    s = step(ST, s, PT_KIND_SUBSCRIPTION, subs[3], &w);
    update_fmt(ST, PT_KIND_SUBSCRIPTION, subs[5], "{\"state\":\"cancelled\"}");
    s = step(ST, s, PT_KIND_SUBSCRIPTION, subs[5], &w);
    update_fmt(ST, PT_KIND_CONSUMER, w.consumers[2], "{\"name\":\"renamed\"}");
    s = step(ST, s, PT_KIND_CONSUMER, w.consumers[2], &w);
    json_t *k = NULL;
    json_t *v = json_string(w.keys[7].hash_hex);
    assert_int_equal(pt_store_find(ST, PT_KIND_KEY, "hash", v, &k), 0);
    json_decref(v);
    update_fmt(ST, PT_KIND_KEY, json_integer_value(json_object_get(k, "id")), "{\"revoked_at\":500}");
    s = step(ST, s, PT_KIND_KEY, json_integer_value(json_object_get(k, "id")), &w);
    const pt_snap_key *out = NULL;
    assert_int_equal(pt_snapshot_check_key(s, w.keys[7].text, strlen(w.keys[7].text), 1000, &out), PT_SNAP_KEY_REVOKED);
    json_decref(k);
    /* what a patch cannot take: an object that is gone, a kind it does not patch */
    int64_t v0 = s->store_version;
    assert_null(pt_snapshot_patch(s, ST, PT_KIND_CONSUMER, 999999, v0 + 1));
    assert_null(pt_snapshot_patch(s, ST, PT_KIND_TEAM, team, v0 + 1));
    pt_snapshot_release(s);
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
        T(a_released_service_is_carried_as_its_release),
        T(store_version_tells_a_stale_snapshot),
        T(compile_inside_an_open_transaction_fails_cleanly),
        T(publish_swaps_while_readers_keep_theirs),
        T(patches_read_like_a_fresh_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
