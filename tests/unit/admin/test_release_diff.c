/* Unit tests for admin/release_diff.c: a release's canonical content from stored rows, and
 * the diff between two contents (added, removed and changed APIs, service fields, the
 * summary, the names-only form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/release_diff.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) fail_msg("bad JSON in the test: %s", e.text);
    return v;
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g, want_text);
    }
    json_decref(want);
}

/* Content from rows: served members only, nulls dropped, APIs sorted by name. */
static void content_keeps_what_is_served(void **state)
{
    json_t *svc = parse("{\"id\":7,\"name\":\"billing\",\"team_id\":2,\"kind\":\"rest\",\"targets\":[\"http://a\"],"
                        "\"models\":null,\"lb\":\"round_robin\",\"approval\":\"manual\",\"version\":4,"
                        "\"created_at\":1,\"updated_at\":2,\"origin\":\"api\",\"read_only\":false}");
    json_t *apis = parse("[{\"id\":9,\"service_id\":7,\"name\":\"v2\",\"path_prefix\":\"/b/\",\"auth\":\"none\","
                         "\"match_headers\":{\"X-API-Version\":\"2\"},\"rewrite\":null,\"version\":1},"
                         "{\"id\":8,\"service_id\":7,\"name\":\"v1\",\"path_prefix\":\"/b/\",\"auth\":\"key\","
                         "\"methods\":[\"GET\"],\"lifecycle\":null,\"origin\":\"api\"}]");
    json_t *c = pt_release_content(svc, apis, NULL);
    assert_json(c, "{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://a\"],\"lb\":\"round_robin\"},"
                   "\"apis\":[{\"name\":\"v1\",\"path_prefix\":\"/b/\",\"auth\":\"key\",\"methods\":[\"GET\"]},"
                   "{\"name\":\"v2\",\"path_prefix\":\"/b/\",\"auth\":\"none\",\"match_headers\":{\"X-API-Version\":\"2\"}}]}");
    json_decref(c);
    /* the stored policies on the service or one of its routes are part of it, others not */
    json_t *pol = parse("[{\"id\":3,\"name\":\"z-route\",\"team_id\":2,\"spec\":{\"applies_to\":{\"route\":\"billing/v1\"},"
                        "\"concurrency\":2}},{\"id\":4,\"name\":\"other\",\"spec\":{\"applies_to\":{\"service\":\"billing2\"},"
                        "\"concurrency\":1}},{\"id\":5,\"name\":\"a-svc\",\"spec\":{\"applies_to\":{\"service\":\"billing\"},"
                        "\"rate\":{\"requests\":5,\"per\":\"1m\"}}},{\"id\":6,\"name\":\"all\",\"spec\":{\"concurrency\":9}}]");
    c = pt_release_content(svc, apis, pol);
    assert_json(json_object_get(c, "policies"),
                "[{\"name\":\"a-svc\",\"spec\":{\"applies_to\":{\"service\":\"billing\"},\"rate\":{\"requests\":5,\"per\":\"1m\"}}},"
                "{\"name\":\"z-route\",\"spec\":{\"applies_to\":{\"route\":\"billing/v1\"},\"concurrency\":2}}]");
    json_t *without = pt_release_content(svc, apis, NULL), *d = pt_release_diff(without, c);
    assert_json(json_object_get(d, "policies"), "{\"added\":[\"a-svc\",\"z-route\"],\"removed\":[],\"changed\":[]}");
    assert_false(pt_release_diff_empty(d));
    assert_string_equal(json_string_value(json_object_get(d, "summary")), "policies a-svc and z-route added");
    json_decref(d);
    json_decref(without);
    json_decref(c);
    json_decref(pol);
    json_decref(svc);
    json_decref(apis);
}

/* The same rows in another order, with other ids and times, are the same content. */
static void content_is_canonical(void **state)
{
    json_t *s1 = parse("{\"id\":1,\"kind\":\"rest\",\"targets\":[\"http://a\"],\"version\":1}");
    json_t *s2 = parse("{\"id\":5,\"kind\":\"rest\",\"targets\":[\"http://a\"],\"version\":9,\"updated_at\":99}");
    json_t *a1 = parse("[{\"id\":1,\"name\":\"a\",\"path_prefix\":\"/a\"},{\"id\":2,\"name\":\"b\",\"path_prefix\":\"/b\"}]");
    json_t *a2 = parse("[{\"id\":4,\"name\":\"b\",\"path_prefix\":\"/b\"},{\"id\":3,\"name\":\"a\",\"path_prefix\":\"/a\"}]");
    json_t *c1 = pt_release_content(s1, a1, NULL), *c2 = pt_release_content(s2, a2, NULL);
    assert_true(json_equal(c1, c2));
    json_t *d = pt_release_diff(c1, c2);
    assert_true(pt_release_diff_empty(d));
    assert_string_equal(json_string_value(json_object_get(d, "summary")), "no change");
    json_decref(d);
    json_decref(c1);
    json_decref(c2);
    json_decref(s1);
    json_decref(s2);
    json_decref(a1);
    json_decref(a2);
}

static void first_release_adds_everything(void **state)
{
    json_t *c = parse("{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://a\"]},"
                      "\"apis\":[{\"name\":\"v1\",\"path_prefix\":\"/a\"},{\"name\":\"v2\",\"path_prefix\":\"/b\"}]}");
    json_t *d = pt_release_diff(NULL, c);
    assert_json(json_object_get(d, "added"), "[\"v1\",\"v2\"]");
    assert_json(json_object_get(d, "removed"), "[]");
    assert_json(json_object_get(d, "changed"), "[]");
    assert_json(json_object_get(d, "service"), "[{\"field\":\"kind\",\"from\":null,\"to\":\"rest\"},"
                                                "{\"field\":\"targets\",\"from\":null,\"to\":[\"http://a\"]}]");
    assert_string_equal(json_string_value(json_object_get(d, "summary")), "first release, with 2 APIs");
    assert_false(pt_release_diff_empty(d));
    json_decref(d);
    json_decref(c);
}

static void changes_added_removed_and_fields(void **state)
{
    json_t *a = parse("{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://a\"],\"lb\":\"round_robin\"},"
                      "\"apis\":[{\"name\":\"keep\",\"path_prefix\":\"/k\",\"auth\":\"key\"},"
                      "{\"name\":\"old\",\"path_prefix\":\"/o\"},{\"name\":\"same\",\"path_prefix\":\"/s\"}]}");
    json_t *b = parse("{\"service\":{\"kind\":\"rest\",\"targets\":[\"http://b\"]},"
                      "\"apis\":[{\"name\":\"keep\",\"path_prefix\":\"/k2\",\"auth\":\"key\",\"lifecycle\":{\"state\":\"retired\"}},"
                      "{\"name\":\"new\",\"path_prefix\":\"/n\"},{\"name\":\"same\",\"path_prefix\":\"/s\"}]}");
    json_t *d = pt_release_diff(a, b);
    assert_json(json_object_get(d, "service"), "[{\"field\":\"lb\",\"from\":\"round_robin\",\"to\":null},"
                                                "{\"field\":\"targets\",\"from\":[\"http://a\"],\"to\":[\"http://b\"]}]");
    assert_json(json_object_get(d, "added"), "[\"new\"]");
    assert_json(json_object_get(d, "removed"), "[\"old\"]");
    assert_json(json_object_get(d, "changed"),
                "[{\"api\":\"keep\",\"fields\":[{\"field\":\"lifecycle\",\"from\":null,\"to\":{\"state\":\"retired\"}},"
                "{\"field\":\"path_prefix\",\"from\":\"/k\",\"to\":\"/k2\"}]}]");
    assert_string_equal(json_string_value(json_object_get(d, "summary")),
                        "service lb and targets changed; API new added; API old removed; API keep changed");
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

/* The diff the other way round swaps added and removed, from and to. */
static void diff_is_symmetric(void **state)
{
    json_t *a = parse("{\"service\":{\"lb\":\"x\"},\"apis\":[{\"name\":\"p\",\"path_prefix\":\"/p\"}]}");
    json_t *b = parse("{\"service\":{\"lb\":\"y\"},\"apis\":[{\"name\":\"q\",\"path_prefix\":\"/q\"}]}");
    json_t *ab = pt_release_diff(a, b), *ba = pt_release_diff(b, a);
    assert_json(json_object_get(ab, "added"), "[\"q\"]");
    assert_json(json_object_get(ba, "added"), "[\"p\"]");
    assert_json(json_object_get(ba, "removed"), "[\"q\"]");
    assert_json(json_object_get(ba, "service"), "[{\"field\":\"lb\",\"from\":\"y\",\"to\":\"x\"}]");
    json_decref(ab);
    json_decref(ba);
    json_decref(a);
    json_decref(b);
}

/* Long lists are named up to eight, then counted. */
static void summary_names_at_most_eight(void **state)
{
    json_t *b = json_pack("{s:{},s:[]}", "service", "apis");
    char name[8];
    for (int i = 0; i < 11; i++) {
        snprintf(name, sizeof name, "a%02d", i);
        json_array_append_new(json_object_get(b, "apis"), json_pack("{s:s,s:s}", "name", name, "path_prefix", "/"));
    }
    json_t *a = parse("{\"service\":{},\"apis\":[]}");
    json_t *d = pt_release_diff(a, b);
    assert_string_equal(json_string_value(json_object_get(d, "summary")),
                        "APIs a00, a01, a02, a03, a04, a05, a06, a07 and 3 more added");
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

static void names_only_drops_values(void **state)
{
    json_t *a = parse("{\"service\":{\"lb\":\"x\"},\"apis\":[{\"name\":\"p\",\"path_prefix\":\"/p\"}]}");
    json_t *b = parse("{\"service\":{\"lb\":\"y\"},\"apis\":[{\"name\":\"p\",\"path_prefix\":\"/q\"}]}");
    json_t *d = pt_release_diff(a, b), *n = pt_release_diff_names_only(d);
    assert_json(json_object_get(n, "service"), "[{\"field\":\"lb\"}]");
    assert_json(json_object_get(n, "changed"), "[{\"api\":\"p\",\"fields\":[{\"field\":\"path_prefix\"}]}]");
    assert_json(json_object_get(d, "service"), "[{\"field\":\"lb\",\"from\":\"x\",\"to\":\"y\"}]"); /* untouched */
    json_decref(n);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_keeps_what_is_served),
        cmocka_unit_test(content_is_canonical),
        cmocka_unit_test(first_release_adds_everything),
        cmocka_unit_test(changes_added_removed_and_fields),
        cmocka_unit_test(diff_is_symmetric),
        cmocka_unit_test(summary_names_at_most_eight),
        cmocka_unit_test(names_only_drops_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
