/* Unit tests for ai/evstream.c: AWS event-stream messages out of bytes fed in any pieces,
 * CRC and length checks, exception and error messages, messages over 64 KiB, the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/evstream.h"
#include "core/buf.h"
#include "core/err.h"
#include "evs_encode.h"

/* Messages as text "type|event|exception|payload-length:payload-start\n". */
typedef struct seen {
    pt_buf text;
    int n;
} seen;

static int collect(void *arg, const pt_evs_msg *m)
{
    seen *s = arg;
    pt_buf_printf(&s->text, "%.*s|%.*s|%.*s|%.*s|%zu:%.*s\n", PT_SLICE_ARG(m->message_type), PT_SLICE_ARG(m->event_type),
                  PT_SLICE_ARG(m->exception_type), PT_SLICE_ARG(m->error_code), m->payload.len,
                  (int)(m->payload.len < 24 ? m->payload.len : 24), m->payload.ptr);
    s->n++;
    return 0;
}

static int feed_in(const pt_buf *in, size_t step, seen *s, bool *pending)
{
    pt_evs e;
    pt_evs_init(&e, 0);
    int rc = 0;
    for (size_t off = 0; off < in->len && !rc; off += step)
        rc = pt_evs_feed(&e, in->data + off, in->len - off < step ? in->len - off : step, collect, s);
    if (pending) *pending = pt_evs_pending(&e);
    pt_evs_release(&e);
    return rc;
}

static void sample(pt_buf *b)
{
    evs_event(b, "messageStart", "{\"role\":\"assistant\"}");
    evs_event(b, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    const char *n[] = { ":exception-type", ":message-type", ":content-type" };
    const char *v[] = { "throttlingException", "exception", "application/json" };
    evs_encode(b, n, v, 3, "{\"message\":\"slow down\"}", 23);
}

static void crc32_matches_the_standard_check_value(void **state)
{
    (void)state;
    assert_int_equal(pt_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(pt_crc32(pt_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void messages_are_the_same_split_at_every_byte_boundary(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    sample(&in);
    seen whole = { PT_BUF_INIT, 0 };
    assert_int_equal(feed_in(&in, in.len, &whole, NULL), 0);
    assert_int_equal(whole.n, 3);
    assert_string_equal(whole.text.data, "event|messageStart|||20:{\"role\":\"assistant\"}\n"
                                         "event|contentBlockDelta|||45:{\"contentBlockIndex\":0,\"\n"
                                         "exception||throttlingException||23:{\"message\":\"slow down\"}\n");
    /* two pieces cut at every position, then every piece size */
    for (size_t cut = 1; cut < in.len; cut++) {
        seen s = { PT_BUF_INIT, 0 };
        pt_evs e;
        pt_evs_init(&e, 0);
        assert_int_equal(pt_evs_feed(&e, in.data, cut, collect, &s), 0);
        assert_int_equal(pt_evs_feed(&e, in.data + cut, in.len - cut, collect, &s), 0);
        assert_false(pt_evs_pending(&e));
        assert_string_equal(s.text.data, whole.text.data);
        pt_evs_release(&e);
        pt_buf_release(&s.text);
    }
    for (size_t step = 1; step < 40; step++) {
        seen s = { PT_BUF_INIT, 0 };
        bool pending;
        assert_int_equal(feed_in(&in, step, &s, &pending), 0);
        assert_false(pending);
        assert_string_equal(s.text.data, whole.text.data);
        pt_buf_release(&s.text);
    }
    pt_buf_release(&whole.text);
    pt_buf_release(&in);
}

static void a_bad_message_crc_fails_and_stays_failed(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    sample(&in);
    in.data[in.len - 1] ^= 1; /* the last message's CRC */
    seen s = { PT_BUF_INIT, 0 };
    pt_evs e;
    pt_evs_init(&e, 0);
    assert_int_equal(pt_evs_feed(&e, in.data, in.len, collect, &s), PT_EPARSE);
    assert_int_equal(s.n, 2); /* the two good messages before it went out */
    assert_int_equal(pt_evs_feed(&e, in.data, in.len, collect, &s), PT_EPARSE);
    assert_int_equal(s.n, 2);
    pt_evs_release(&e);
    pt_buf_release(&s.text);
    pt_buf_release(&in);
}

static void a_bad_prelude_crc_fails_before_the_message_arrives(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    evs_event(&in, "messageStart", "{}");
    in.data[9] ^= 0x10;
    seen s = { PT_BUF_INIT, 0 };
    pt_evs e;
    pt_evs_init(&e, 0);
    assert_int_equal(pt_evs_feed(&e, in.data, 12, collect, &s), PT_EPARSE);
    assert_int_equal(s.n, 0);
    pt_evs_release(&e);
    pt_buf_release(&in);
}

static void impossible_lengths_fail(void **state)
{
    (void)state;
    /* total 8 (< 16), then headers longer than the message; both with a right prelude CRC */
    uint32_t cases[][2] = { { 8, 0 }, { 20, 10 } };
    for (size_t i = 0; i < 2; i++) {
        pt_buf in = PT_BUF_INIT;
        evs_put32(&in, cases[i][0]);
        evs_put32(&in, cases[i][1]);
        evs_put32(&in, pt_crc32(0, in.data, 8));
        seen s = { PT_BUF_INIT, 0 };
        pt_evs e;
        pt_evs_init(&e, 0);
        assert_int_equal(pt_evs_feed(&e, in.data, in.len, collect, &s), PT_EPARSE);
        pt_evs_release(&e);
        pt_buf_release(&in);
    }
}

static void a_malformed_header_fails(void **state)
{
    (void)state;
    /* a header of unknown type 12 */
    pt_buf in = PT_BUF_INIT;
    const char hdr[] = { 2, 'a', 'b', 12 };
    uint32_t total = 12 + sizeof hdr + 4;
    evs_put32(&in, total);
    evs_put32(&in, sizeof hdr);
    evs_put32(&in, pt_crc32(0, in.data, 8));
    pt_buf_append(&in, hdr, sizeof hdr);
    evs_put32(&in, pt_crc32(0, in.data, in.len));
    seen s = { PT_BUF_INIT, 0 };
    assert_int_equal(feed_in(&in, 3, &s, NULL), PT_EPARSE);
    assert_int_equal(s.n, 0);
    pt_buf_release(&in);
}

static void other_header_types_are_skipped(void **state)
{
    (void)state;
    /* bool, byte, short, int, long, bytes, timestamp, uuid, then the string we read */
    pt_buf h = PT_BUF_INIT;
    const unsigned char typed[] = { 1, 'a', 0, 1, 'b', 1, 1, 'c', 2, 9, 1, 'd', 3, 0, 1, 1, 'e', 4, 0, 0, 0, 1,
                                    1, 'f', 5, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'g', 6, 0, 2, 'x', 'y',
                                    1, 'h', 8, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'i', 9 };
    pt_buf_append(&h, typed, sizeof typed);
    for (int i = 0; i < 16; i++) pt_buf_append(&h, "u", 1);
    const unsigned char et[] = { 11, ':', 'e', 'v', 'e', 'n', 't', '-', 't', 'y', 'p', 'e', 7, 0, 2, 'o', 'k' };
    pt_buf_append(&h, et, sizeof et);
    pt_buf in = PT_BUF_INIT;
    uint32_t total = (uint32_t)(12 + h.len + 2 + 4);
    evs_put32(&in, total);
    evs_put32(&in, (uint32_t)h.len);
    evs_put32(&in, pt_crc32(0, in.data, 8));
    pt_buf_append(&in, h.data, h.len);
    pt_buf_append(&in, "{}", 2);
    evs_put32(&in, pt_crc32(0, in.data, in.len));
    seen s = { PT_BUF_INIT, 0 };
    assert_int_equal(feed_in(&in, in.len, &s, NULL), 0);
    assert_string_equal(s.text.data, "|ok|||2:{}\n");
    pt_buf_release(&s.text);
    pt_buf_release(&h);
    pt_buf_release(&in);
}

static void messages_over_64k_pass_and_the_cap_holds(void **state)
{
    (void)state;
    size_t n = 200 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    pt_buf in = PT_BUF_INIT;
    const char *names[] = { ":event-type", ":message-type" };
    const char *values[] = { "contentBlockDelta", "event" };
    evs_encode(&in, names, values, 2, big, n);
    for (size_t step = 1000; step <= in.len; step += 70001) {
        seen s = { PT_BUF_INIT, 0 };
        assert_int_equal(feed_in(&in, step, &s, NULL), 0);
        assert_int_equal(s.n, 1);
        pt_buf_release(&s.text);
    }
    pt_evs e;
    pt_evs_init(&e, 100 * 1024);
    seen s = { PT_BUF_INIT, 0 };
    assert_int_equal(pt_evs_feed(&e, in.data, 12, collect, &s), PT_ETOOBIG);
    pt_evs_release(&e);
    free(big);
    pt_buf_release(&in);
}

static void error_messages_carry_their_code(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    const char *n[] = { ":message-type", ":error-code", ":error-message" };
    const char *v[] = { "error", "InternalFailure", "boom" };
    evs_encode(&in, n, v, 3, "", 0);
    seen s = { PT_BUF_INIT, 0 };
    assert_int_equal(feed_in(&in, 5, &s, NULL), 0);
    assert_string_equal(s.text.data, "error|||InternalFailure|0:\n");
    pt_buf_release(&s.text);
    pt_buf_release(&in);
}

static void a_cut_message_is_pending(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    sample(&in);
    in.len -= 5;
    seen s = { PT_BUF_INIT, 0 };
    bool pending;
    assert_int_equal(feed_in(&in, 7, &s, &pending), 0);
    assert_true(pending);
    assert_int_equal(s.n, 2);
    pt_buf_release(&s.text);
    pt_buf_release(&in);
}

static int stop_cb(void *arg, const pt_evs_msg *m)
{
    (void)m;
    ++*(int *)arg;
    return 7;
}

static void callback_result_stops_the_feed(void **state)
{
    (void)state;
    pt_buf in = PT_BUF_INIT;
    sample(&in);
    int calls = 0;
    pt_evs e;
    pt_evs_init(&e, 0);
    assert_int_equal(pt_evs_feed(&e, in.data, in.len, stop_cb, &calls), 7);
    assert_int_equal(calls, 1);
    pt_evs_release(&e);
    pt_buf_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32_matches_the_standard_check_value),
        cmocka_unit_test(messages_are_the_same_split_at_every_byte_boundary),
        cmocka_unit_test(a_bad_message_crc_fails_and_stays_failed),
        cmocka_unit_test(a_bad_prelude_crc_fails_before_the_message_arrives),
        cmocka_unit_test(impossible_lengths_fail),
        cmocka_unit_test(a_malformed_header_fails),
        cmocka_unit_test(other_header_types_are_skipped),
        cmocka_unit_test(messages_over_64k_pass_and_the_cap_holds),
        cmocka_unit_test(error_messages_carry_their_code),
        cmocka_unit_test(a_cut_message_is_pending),
        cmocka_unit_test(callback_result_stops_the_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
