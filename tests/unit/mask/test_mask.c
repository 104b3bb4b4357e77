/* Unit tests for mask/: each detector (and what it must not take), the Luhn check, JSON
 * paths, rules on JSON documents, and values split across stream pieces and SSE events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mask/detect.h"
#include "mask/jpath.h"
#include "mask/mask.h"

/* ---- rule sets built by hand ---- */

static pt_mask_rule detect_rule(pt_detector d, pt_mask_action a)
{
    return (pt_mask_rule){ .name = strdup(pt_detector_name(d)), .by = PT_MASK_BY_DETECT, .det = d, .action = a,
                           .keep = PT_MASK_KEEP_DEFAULT };
}

static pt_mask_rules rules_of(pt_mask_rule *v, size_t n)
{
    pt_mask_rules r = { .v = calloc(n, sizeof *v), .n = n };
    for (size_t i = 0; i < n; i++) {
        r.v[i] = v[i];
        r.has_path |= v[i].by == PT_MASK_BY_PATH;
        r.has_text |= v[i].by != PT_MASK_BY_PATH;
        r.has_regex |= v[i].by == PT_MASK_BY_REGEX;
    }
    return r;
}

static pt_mask_rules all_detectors(pt_mask_action a)
{
    pt_mask_rule v[PT_DET_COUNT];
    for (int d = 0; d < PT_DET_COUNT; d++) v[d] = detect_rule((pt_detector)d, a);
    return rules_of(v, PT_DET_COUNT);
}

/* The text masked in one piece, as a new string. */
static char *masked(const pt_mask_rules *r, const char *s, size_t *count)
{
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    pt_mask_text(r, s, strlen(s), &out, &t);
    if (count) *count = t.total;
    pt_buf_append(&out, "", 1);
    return pt_buf_detach(&out, NULL);
}

static void expect_masked(const pt_mask_rules *r, const char *in, const char *want)
{
    char *got = masked(r, in, NULL);
    assert_string_equal(got, want);
    free(got);
}

/* Which detector finds something in s (one-piece text), -1 none. */
static int found_by(const char *s)
{
    for (int d = 0; d < PT_DET_COUNT; d++) {
        pt_mask_rule u = detect_rule((pt_detector)d, PT_MASK_REPLACE);
        pt_mask_rules r = rules_of(&u, 1);
        size_t n;
        free(masked(&r, s, &n));
        pt_mask_rules_release(&r);
        if (n) return d;
    }
    return -1;
}

/* ---- detectors ---- */

static void luhn_accepts_test_cards_and_refuses_a_changed_digit(void **state)
{
    assert_true(pt_luhn("4111111111111111", 16));
    assert_true(pt_luhn("5500 0000 0000 0004", 19));
    assert_true(pt_luhn("378282246310005", 15));
    assert_false(pt_luhn("4111111111111112", 16));
    assert_false(pt_luhn("1234567890123456", 16));
}

static void cards_are_masked_only_when_luhn_passes(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    expect_masked(&r, "card 4111111111111111 ok", "card ****1111 ok");
    expect_masked(&r, "card 4111 1111 1111 1111.", "card ****1111.");
    expect_masked(&r, "4111-1111-1111-1111", "****1111");
    expect_masked(&r, "order 1234567890123456 ref", "order 1234567890123456 ref"); /* not Luhn */
    expect_masked(&r, "id 41111111111111110000", "id 41111111111111110000");    /* 22 digits */
    expect_masked(&r, "x4111111111111111", "x4111111111111111");                /* glued to a letter */
    expect_masked(&r, "1234", "1234");
    pt_mask_rules_release(&r);
}

static void each_detector_finds_its_kind(void **state)
{
    assert_int_equal(found_by("write to jane.doe+x@mail.example.org please"), PT_DET_EMAIL);
    assert_int_equal(found_by("call +44 20 7946 0958 now"), PT_DET_PHONE);
    assert_int_equal(found_by("call (555) 123-4567 now"), PT_DET_PHONE);
    assert_int_equal(found_by("call 555-123-4567 now"), PT_DET_PHONE);
    assert_int_equal(found_by("ssn 123-45-6789."), PT_DET_SSN);
    assert_int_equal(found_by("nino AB123456C"), PT_DET_UK_NINO);
    assert_int_equal(found_by("nino AB 12 34 56 C"), PT_DET_UK_NINO);
    assert_int_equal(found_by("key sk-proj-abcdefghij0123456789XYZ"), PT_DET_API_KEY);
    assert_int_equal(found_by("key sk-ant-api03-abcdefghij0123456789"), PT_DET_API_KEY);
    assert_int_equal(found_by("AKIAIOSFODNN7EXAMPLE"), PT_DET_API_KEY);
    assert_int_equal(found_by("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), PT_DET_API_KEY);
    assert_int_equal(found_by("pk_abcdefghijABCDEFGHIJ0123456789ab"), PT_DET_API_KEY);
}

static void detectors_leave_look_alikes_alone(void **state)
{
    assert_int_equal(found_by("user@localhost"), -1);              /* no dot in the domain */
    assert_int_equal(found_by("v1.2@3.4"), -1);                    /* numeric TLD */
    assert_int_equal(found_by("call 5551234567 now"), -1);         /* bare digits are not a phone */
    assert_int_equal(found_by("ssn 000-12-3456 666-12-3456"), -1); /* invalid areas */
    assert_int_equal(found_by("date 2024-01-15"), -1);
    assert_int_equal(found_by("ids 411-11111111-11111"), -1);       /* Luhn, but no card's layout */
    assert_int_equal(found_by("DA123456C"), -1);                   /* D is no NINO prefix letter */
    assert_int_equal(found_by("sk-learn-is-a-library-name"), -1);  /* no digit */
    assert_int_equal(found_by("xsk-abcdefghij0123456789abc"), -1); /* glued */
    assert_int_equal(found_by("pk_short"), -1);
    assert_int_equal(found_by("AKIA1234"), -1);
}

static void actions_mask_replace_and_refuse(void **state)
{
    pt_mask_rule v[3] = { detect_rule(PT_DET_EMAIL, PT_MASK_REPLACE), detect_rule(PT_DET_SSN, PT_MASK_REFUSE),
                          detect_rule(PT_DET_CARD, PT_MASK_MASK) };
    v[0].with = strdup("[email]");
    v[2].keep = 2;
    pt_mask_rules r = rules_of(v, 3);
    pt_buf out = PT_BUF_INIT;
    uint32_t counts[3] = { 0 };
    pt_mask_tally t = { .counts = counts };
    const char *in = "a@b.example x 4111111111111111 y 123-45-6789 z c@d.example";
    pt_mask_text(&r, in, strlen(in), &out, &t);
    pt_buf_append(&out, "", 1);
    assert_string_equal(out.data, "[email] x ****11 y [REFUSED] z [email]");
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[2], 1);
    assert_int_equal(t.total, 4);
    assert_ptr_equal(t.refused, &r.v[1]);
    pt_buf_release(&out);
    pt_mask_rules_release(&r);
}

static void regex_rules_match_text(void **state)
{
    pt_mask_rule u = { .name = strdup("acme"), .by = PT_MASK_BY_REGEX, .action = PT_MASK_REPLACE };
    assert_int_equal(regcomp(&u.re, "ACME-[0-9]{6}", REG_EXTENDED), 0);
    u.re_ok = true;
    pt_mask_rules r = rules_of(&u, 1);
    expect_masked(&r, "ref ACME-123456 and ACME-654321; ACME-12", "ref [REDACTED] and [REDACTED]; ACME-12");
    pt_mask_rules_release(&r);
}

/* ---- JSON paths ---- */

static void paths_parse_and_refuse_what_they_do_not_support(void **state)
{
    char why[160];
    pt_jpath *p = pt_jpath_parse("$.messages[*].content", 21, why, sizeof why);
    assert_non_null(p);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->v[0].kind, PT_JPATH_KEY);
    assert_string_equal(p->v[0].key, "messages");
    assert_int_equal(p->v[1].kind, PT_JPATH_ANY);
    assert_string_equal(p->v[2].key, "content");
    pt_jpath_free(p);
    p = pt_jpath_parse("$['a b'][2].*", 13, why, sizeof why);
    assert_non_null(p);
    assert_string_equal(p->v[0].key, "a b");
    assert_int_equal(p->v[1].kind, PT_JPATH_INDEX);
    assert_int_equal(p->v[1].index, 2);
    assert_int_equal(p->v[2].kind, PT_JPATH_ANY);
    pt_jpath_free(p);
    const char *bad[] = { "user.email", "$..email", "$.", "$[", "$['a]", "$[x]", "$.a]", "" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_null(pt_jpath_parse(bad[i], strlen(bad[i]), why, sizeof why));
        assert_true(why[0] != '\0');
    }
}

static pt_mask_rule path_rule(const char *path, pt_mask_action a)
{
    char why[160];
    pt_mask_rule u = { .name = strdup(path), .by = PT_MASK_BY_PATH, .action = a, .keep = 4 };
    u.path = pt_jpath_parse(path, strlen(path), why, sizeof why);
    assert_non_null(u.path);
    return u;
}

static void json_bodies_get_path_and_detector_rules(void **state)
{
    pt_mask_rule v[3] = { path_rule("$.user.email", PT_MASK_REPLACE), path_rule("$.messages[*].content", PT_MASK_MASK),
                          detect_rule(PT_DET_CARD, PT_MASK_MASK) };
    pt_mask_rules r = rules_of(v, 3);
    const char *in = "{\"user\":{\"email\":\"x@y.example\",\"id\":7},\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"hello there\"},{\"content\":12345678901}],\"note\":\"card 4111111111111111\"}";
    pt_buf out = PT_BUF_INIT;
    uint32_t counts[3] = { 0 };
    pt_mask_tally t = { .counts = counts };
    assert_int_equal(pt_mask_json(&r, in, strlen(in), &out, &t), 1);
    pt_buf_append(&out, "", 1);
    assert_string_equal(out.data, "{\"user\":{\"email\":\"[REDACTED]\",\"id\":7},\"messages\":[{\"role\":\"user\","
                                  "\"content\":\"****here\"},{\"content\":\"****8901\"}],\"note\":\"card ****1111\"}");
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 1);
    pt_buf_release(&out);
    /* nothing to mask: out untouched; not JSON: -1 */
    assert_int_equal(pt_mask_json(&r, "{\"a\":1}", 7, &out, &t), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(pt_mask_json(&r, "not json", 8, &out, &t), -1);
    pt_mask_rules_release(&r);
}

/* ---- streams ---- */

/* Feeds s in pieces of `step` bytes; returns what came out. */
static char *stream_in_steps(const pt_mask_rules *r, const char *s, size_t step, size_t *max_held)
{
    pt_mask_stream st;
    pt_mask_stream_init(&st, r);
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    size_t n = strlen(s);
    *max_held = 0;
    for (size_t i = 0; i < n; i += step) {
        pt_mask_stream_feed(&st, s + i, n - i < step ? n - i : step, false, &out, &t);
        if (st.held.len > *max_held) *max_held = st.held.len;
    }
    pt_mask_stream_feed(&st, "", 0, true, &out, &t);
    pt_mask_stream_release(&st);
    pt_buf_append(&out, "", 1);
    return pt_buf_detach(&out, NULL);
}

static void a_stream_masks_values_split_anywhere(void **state)
{
    pt_mask_rules r = all_detectors(PT_MASK_REPLACE);
    const char *in = "Your card 4111 1111 1111 1111 and mail bob@example.com, key sk-ant-abcdefghij0123456789 "
                     "and nothing else in this long sentence to show that text flows.";
    const char *want = "Your card [REDACTED] and mail [REDACTED], key [REDACTED] "
                       "and nothing else in this long sentence to show that text flows.";
    for (size_t step = 1; step <= 40; step++) {
        size_t held;
        char *got = stream_in_steps(&r, in, step, &held);
        assert_string_equal(got, want);
        assert_true(held < 80); /* holds back the word in progress, not the text */
        free(got);
    }
    pt_mask_rules_release(&r);
}

static void a_stream_releases_plain_text_as_it_comes(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    pt_mask_stream st;
    pt_mask_stream_init(&st, &r);
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    pt_mask_stream_feed(&st, "hello world, ", 13, false, &out, &t);
    assert_int_equal(out.len, 13); /* no digits: nothing held */
    pt_mask_stream_feed(&st, "card 4111 1111", 14, false, &out, &t);
    assert_int_equal(out.len, 18); /* "card " out, the digits held */
    pt_mask_stream_feed(&st, " 1111 1111 done", 15, false, &out, &t);
    pt_mask_stream_feed(&st, "", 0, true, &out, &t);
    pt_buf_append(&out, "", 1);
    assert_string_equal(out.data, "hello world, card ****1111 done");
    assert_int_equal(t.total, 1);
    pt_buf_release(&out);
    pt_mask_stream_release(&st);
    pt_mask_rules_release(&r);
}

static size_t occurrences(const char *s, const char *word)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, word)) != NULL; p++) n++;
    return n;
}

static char *sse_through(const pt_mask_rules *r, const char *const *pieces, size_t n, size_t *count)
{
    pt_mask_sse m;
    pt_mask_sse_init(&m, r);
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    for (size_t i = 0; i < n; i++) pt_mask_sse_feed(&m, pieces[i], strlen(pieces[i]), &out, &t);
    pt_mask_sse_end(&m, &out, &t);
    pt_mask_sse_release(&m);
    *count = t.total;
    pt_buf_append(&out, "", 1);
    return pt_buf_detach(&out, NULL);
}

static void a_card_split_across_two_gemini_chunks_is_masked(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Card: 4111 1111\"}],\"role\":\"model\"}}]}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" 1111 1111 ok\"}],\"role\":\"model\"}}]}\r\n\r\n",
        "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\r\n\r\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 3, &n);
    assert_int_equal(n, 1);
    assert_null(strstr(got, "4111"));
    assert_non_null(strstr(got, "\"text\":\"****1111 ok\""));
    free(got);
    pt_mask_rules_release(&r);
}

static void a_card_split_across_two_openai_events_is_masked(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Card: 4111 1111\"}}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 1111 1111 ok\"}}]}\n\nda",
        "ta: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 3, &n);
    assert_int_equal(n, 1);
    assert_null(strstr(got, "4111"));
    assert_string_equal(got,
                        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Card: \"}}]}\n\n"
                        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"****1111 ok\"}}]}\n\n"
                        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                        "data: [DONE]\n\n");
    free(got);
    pt_mask_rules_release(&r);
}

static void a_card_split_across_two_anthropic_events_is_masked(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_REPLACE);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\"pay with 5500 0000\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"text_delta\",\"text\":\" 0000 0004\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 3, &n);
    assert_int_equal(n, 1);
    assert_null(strstr(got, "5500"));
    assert_non_null(strstr(got, "\"text\":\"[REDACTED]\""));
    /* the held value went out in a delta event of its own, before the block's stop */
    assert_true(strstr(got, "[REDACTED]") < strstr(got, "content_block_stop\ndata"));
    free(got);
    pt_mask_rules_release(&r);
}

/* Two OpenAI tool calls, each with a card split across its argument fragments, the
 * second interleaved with the first: each index is its own stream, held until the finish. */
static void cards_split_in_openai_tool_call_arguments_are_masked_per_index(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_0\",\"type\":\"function\","
        "\"function\":{\"name\":\"pay\",\"arguments\":\"{\\\"card\\\":\\\"4111 11\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"pay\",\"arguments\":\"{\\\"card\\\":\\\"5500 0000\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        "\"11 1111 1111\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":"
        "\" 0000 0004\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 5, &n);
    assert_int_equal(n, 2);
    assert_null(strstr(got, "4111"));
    assert_null(strstr(got, "5500"));
    assert_non_null(strstr(got, "****1111"));
    assert_non_null(strstr(got, "****0004"));
    /* the held ends go out before the finish, without the calls' id, type or name again */
    assert_true(strstr(got, "****0004") < strstr(got, "finish_reason"));
    assert_int_equal(occurrences(got, "\"id\":\"call_"), 2);
    assert_int_equal(occurrences(got, "\"name\":"), 2);
    assert_int_equal(occurrences(got, "\"type\":"), 2);
    free(got);
    pt_mask_rules_release(&r);
}

static void a_card_split_in_anthropic_partial_json_is_masked(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{\\\"card\\\": \\\"4111 1111 1\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"111 1111\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 3, &n);
    assert_int_equal(n, 1);
    assert_null(strstr(got, "4111"));
    assert_non_null(strstr(got, "\"partial_json\":\"****1111\\\"}\""));
    assert_true(strstr(got, "****1111") < strstr(got, "content_block_stop\ndata"));
    free(got);
    pt_mask_rules_release(&r);
}

static void a_card_split_in_responses_function_call_arguments_is_masked(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\","
        "\"output_index\":2,\"item_id\":\"fc_1\",\"delta\":\"{\\\"card\\\":\\\"4111 1111 1\"}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
        "\"delta\":\"plain\"}\n\n",
        "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\","
        "\"output_index\":2,\"item_id\":\"fc_1\",\"delta\":\"111 1111\\\"}\"}\n\n",
        "event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_arguments.done\","
        "\"output_index\":2,\"item_id\":\"fc_1\",\"arguments\":\"{\\\"card\\\":\\\"4111 1111 1111 1111\\\"}\"}\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 4, &n);
    assert_int_equal(n, 2); /* the fragments' card, and the whole arguments of the done event */
    assert_null(strstr(got, "4111"));
    assert_non_null(strstr(got, "\"delta\":\"****1111\\\"}\""));
    assert_non_null(strstr(got, "\"delta\":\"plain\""));
    free(got);
    pt_mask_rules_release(&r);
}

static void events_without_a_value_pass_byte_for_byte(void **state)
{
    pt_mask_rule u = detect_rule(PT_DET_CARD, PT_MASK_MASK);
    pt_mask_rules r = rules_of(&u, 1);
    const char *ev[] = {
        "data: {\"choices\": [{\"delta\": {\"content\": \"hello \"}, \"logprob\": 0.7}]}\n\n",
        "event: ping\ndata: {\"type\": \"ping\", \"t\": 1.10}\n\n",
    };
    size_t n;
    char *got = sse_through(&r, ev, 2, &n);
    assert_int_equal(n, 0);
    char want[256];
    snprintf(want, sizeof want, "%s%s", ev[0], ev[1]);
    assert_string_equal(got, want);
    free(got);
    pt_mask_rules_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(luhn_accepts_test_cards_and_refuses_a_changed_digit),
        cmocka_unit_test(cards_are_masked_only_when_luhn_passes),
        cmocka_unit_test(each_detector_finds_its_kind),
        cmocka_unit_test(detectors_leave_look_alikes_alone),
        cmocka_unit_test(actions_mask_replace_and_refuse),
        cmocka_unit_test(regex_rules_match_text),
        cmocka_unit_test(paths_parse_and_refuse_what_they_do_not_support),
        cmocka_unit_test(json_bodies_get_path_and_detector_rules),
        cmocka_unit_test(a_stream_masks_values_split_anywhere),
        cmocka_unit_test(a_stream_releases_plain_text_as_it_comes),
        cmocka_unit_test(a_card_split_across_two_openai_events_is_masked),
        cmocka_unit_test(a_card_split_across_two_gemini_chunks_is_masked),
        cmocka_unit_test(a_card_split_across_two_anthropic_events_is_masked),
        cmocka_unit_test(cards_split_in_openai_tool_call_arguments_are_masked_per_index),
        cmocka_unit_test(a_card_split_in_anthropic_partial_json_is_masked),
        cmocka_unit_test(a_card_split_in_responses_function_call_arguments_is_masked),
        cmocka_unit_test(events_without_a_value_pass_byte_for_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
