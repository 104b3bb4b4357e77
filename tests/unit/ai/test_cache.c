/* Unit tests for ai/cache.c: the key's canonical form, what a request says, and the
 * in-process backend's expiry, replacement and eviction by use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/cache.h"
#include "core/err.h"

static void key_of(const char *scope, const char *model, int framing, const char *body, uint8_t *out)
{
    assert_int_equal(pt_ai_cache_key(scope, model, PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, framing, body, strlen(body), out), 0);
}

static void keys_name_content_not_spelling(void **state)
{
    (void)state;
    uint8_t a[PT_AI_CACHE_KEY_LEN], b[PT_AI_CACHE_KEY_LEN];
    key_of("alice", "gpt", 0, "{\"model\":\"gpt\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", a);
    key_of("alice", "gpt", 0,
           " { \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ], \"temperature\":0, \"model\":\"gpt\", "
           "\"user\":\"u-1\", \"metadata\":{\"k\":\"v\"} }",
           b);
    assert_memory_equal(a, b, sizeof a); /* order, spaces, user and metadata do not count */
    key_of("bob", "gpt", 0, "{\"model\":\"gpt\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", b);
    assert_memory_not_equal(a, b, sizeof a); /* another caller */
    key_of("alice", "gpt2", 0, "{\"model\":\"gpt\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", b);
    assert_memory_not_equal(a, b, sizeof a); /* another model */
    key_of("alice", "gpt", 1, "{\"model\":\"gpt\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", b);
    assert_memory_not_equal(a, b, sizeof a); /* streamed */
    key_of("alice", "gpt", 0, "{\"model\":\"gpt\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}]}", b);
    assert_memory_not_equal(a, b, sizeof a); /* another prompt */
    /* the order of the messages is content */
    key_of("", "m", 0, "{\"messages\":[{\"content\":\"a\"},{\"content\":\"b\"}]}", a);
    key_of("", "m", 0, "{\"messages\":[{\"content\":\"b\"},{\"content\":\"a\"}]}", b);
    assert_memory_not_equal(a, b, sizeof a);
    uint8_t k[PT_AI_CACHE_KEY_LEN];
    assert_int_equal(pt_ai_cache_key("", "m", PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, 0, "[1]", 3, k), PT_EINVAL);
    assert_int_equal(pt_ai_cache_key("", "m", PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, 0, "{\"a\":", 5, k), PT_EINVAL);
}

static void requests_say_on_off_refresh(void **state)
{
    (void)state;
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, NULL, 0), PT_AI_CACHE_ASK_NONE);
    assert_int_equal(pt_ai_cache_ask_parse("on", 2, NULL, 0), PT_AI_CACHE_ASK_ON);
    assert_int_equal(pt_ai_cache_ask_parse(" OFF ", 5, NULL, 0), PT_AI_CACHE_ASK_OFF);
    assert_int_equal(pt_ai_cache_ask_parse("Refresh", 7, NULL, 0), PT_AI_CACHE_ASK_REFRESH);
    assert_int_equal(pt_ai_cache_ask_parse("yes", 3, NULL, 0), PT_AI_CACHE_ASK_BAD);
    assert_int_equal(pt_ai_cache_ask_parse("", 0, NULL, 0), PT_AI_CACHE_ASK_BAD);
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, "no-store", 8), PT_AI_CACHE_ASK_OFF);
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, "max-age=0, no-cache", 19), PT_AI_CACHE_ASK_REFRESH);
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, "no-cache=\"x\"", 12), PT_AI_CACHE_ASK_REFRESH);
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, "no-cachex", 9), PT_AI_CACHE_ASK_NONE);
    assert_int_equal(pt_ai_cache_ask_parse(NULL, 0, "max-age=60", 10), PT_AI_CACHE_ASK_NONE);
    assert_int_equal(pt_ai_cache_ask_parse("on", 2, "no-store", 8), PT_AI_CACHE_ASK_ON); /* ours wins */
}

static uint8_t *key_n(uint8_t *k, int n)
{
    memset(k, 0, PT_AI_CACHE_KEY_LEN);
    memcpy(k, &n, sizeof n);
    k[31] = (uint8_t)n;
    return k;
}

static void put_n(pt_ai_cache *c, int n, size_t len, int64_t ttl, int64_t now, size_t cap)
{
    uint8_t k[PT_AI_CACHE_KEY_LEN];
    char *body = malloc(len);
    assert_non_null(body);
    memset(body, 'a' + n % 26, len);
    pt_ai_cached e = { .content_type = "application/json", .provider = "p", .model = "m", .cost_micro_usd = (uint64_t)n,
                       .cost_known = true, .stored_ms = now, .body = body, .len = len };
    assert_int_equal(c->ops->put(c, key_n(k, n), &e, ttl, now, cap), 0);
    free(body);
}

static int get_n(pt_ai_cache *c, int n, int64_t now, size_t *len)
{
    uint8_t k[PT_AI_CACHE_KEY_LEN];
    pt_ai_cached out;
    memset(&out, 0, sizeof out);
    int rc = c->ops->get(c, key_n(k, n), now, &out);
    if (rc == 1) {
        assert_int_equal(out.body[0], 'a' + n % 26);
        assert_string_equal(out.content_type, "application/json");
        if (len) *len = out.len;
        free(out.body);
    }
    return rc;
}

static void entries_expire_replace_and_count(void **state)
{
    (void)state;
    pt_ai_cache *c = pt_ai_cache_local_new();
    assert_non_null(c);
    put_n(c, 1, 100, 1000, 5000, 1 << 20);
    assert_int_equal(get_n(c, 1, 5999, NULL), 1);
    assert_int_equal(get_n(c, 1, 6000, NULL), 0); /* ttl over: gone */
    assert_int_equal(get_n(c, 2, 6000, NULL), 0);
    put_n(c, 3, 100, 1000, 7000, 1 << 20);
    put_n(c, 3, 250, 1000, 7100, 1 << 20); /* replaced */
    size_t len = 0;
    assert_int_equal(get_n(c, 3, 7200, &len), 1);
    assert_int_equal(len, 250);
    pt_ai_cache_stats st;
    c->ops->stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.stores, 3);
    assert_int_equal(st.saved_micro_usd, 1 + 3);
    c->ops->free(c);
}

static void the_least_recently_used_go_first(void **state)
{
    (void)state;
    pt_ai_cache *c = pt_ai_cache_local_new();
    assert_non_null(c);
    size_t cap = 4 * (1000 + 400); /* room for about four entries of 1000 bytes and their bookkeeping */
    for (int n = 1; n <= 4; n++) put_n(c, n, 1000, 60000, 0, cap);
    assert_int_equal(get_n(c, 1, 10, NULL), 1); /* 1 is now the most recently used */
    put_n(c, 5, 1000, 60000, 20, cap);
    pt_ai_cache_stats st;
    c->ops->stats(c, &st);
    assert_true(st.bytes <= cap);
    assert_true(st.evictions >= 1);
    assert_int_equal(get_n(c, 2, 30, NULL), 0); /* the least recently used went */
    assert_int_equal(get_n(c, 1, 30, NULL), 1);
    assert_int_equal(get_n(c, 5, 30, NULL), 1);
    put_n(c, 6, 10000, 60000, 40, cap); /* larger than the whole cache: not kept */
    assert_int_equal(get_n(c, 6, 50, NULL), 0);
    assert_int_equal(get_n(c, 5, 50, NULL), 1);
    /* many entries: the table grows and every one is found */
    for (int n = 100; n < 1100; n++) put_n(c, n, 10, 60000, 60, 1 << 24);
    for (int n = 100; n < 1100; n++) assert_int_equal(get_n(c, n, 70, NULL), 1);
    c->ops->free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_name_content_not_spelling),
        cmocka_unit_test(requests_say_on_off_refresh),
        cmocka_unit_test(entries_expire_replace_and_count),
        cmocka_unit_test(the_least_recently_used_go_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
