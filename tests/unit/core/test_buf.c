/* Unit tests for core/buf.c (growth, the hard cap, JSON escaping, numbers, consume/detach)
 * and core/str.c (bounded string building). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"

static void append_grows_and_keeps_nul(void **state)
{
    pt_buf b = PT_BUF_INIT;
    for (int i = 0; i < 1000; i++) assert_int_equal(pt_buf_append(&b, "ab", 2), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[2000], '\0');
    assert_memory_equal(b.data + 1998, "ab", 2);
    pt_buf_release(&b);
}

static void cap_limit_refuses_and_leaves_buffer_unchanged(void **state)
{
    pt_buf b;
    pt_buf_init(&b, 8);
    assert_int_equal(pt_buf_append(&b, "12345678", 8), 0);
    assert_int_equal(pt_buf_append(&b, "9", 1), PT_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    pt_buf_release(&b);
}

static void printf_handles_long_output(void **state)
{
    pt_buf b = PT_BUF_INIT;
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pt_buf_printf(&b, "[%s]%d", big, 42), 0);
    assert_int_equal(b.len, 599 + 4);
    assert_memory_equal(b.data + 600, "]42", 3);
    pt_buf_release(&b);
}

static void json_escape_controls_quotes_backslashes(void **state)
{
    pt_buf b = PT_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01z";
    assert_int_equal(pt_buf_append_json_escaped(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\u0001z");
    pt_buf_release(&b);
}

/* The raw writer escapes as the buffer form does, at most six bytes per input byte. */
static void json_escape_to_matches_the_buffer_form(void **state)
{
    const char in[] = "a\"b\\c\n\r\t\x01\x1fz\x7f\xc3\xa9";
    char out[6 * (sizeof in - 1)];
    char *end = pt_json_escape_to(out, in, sizeof in - 1);
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_buf_append_json_escaped(&b, in, sizeof in - 1), 0);
    assert_int_equal((size_t)(end - out), b.len);
    assert_memory_equal(out, "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001fz\x7f\xc3\xa9", b.len);
    assert_memory_equal(out, b.data, b.len);
    assert_ptr_equal(pt_json_escape_to(out, "", 0), out);
    pt_buf_release(&b);
    /* every byte value at every offset of a longer plain text (the 8-byte steps) */
    for (int pos = 0; pos < 20; pos++)
        for (int v = 0; v < 256; v++) {
            char text[20], esc[6 * sizeof text];
            memset(text, 'x', sizeof text);
            text[pos] = (char)v;
            pt_buf ref = PT_BUF_INIT;
            assert_int_equal(pt_buf_append_json_escaped(&ref, text, sizeof text), 0);
            char *e = pt_json_escape_to(esc, text, sizeof text);
            assert_int_equal((size_t)(e - esc), ref.len);
            assert_memory_equal(esc, ref.data, ref.len);
            pt_buf_release(&ref);
        }
}

/* The escape one byte should get, written the slow obvious way. */
static size_t reference_escape(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') o += (size_t)sprintf(out + o, "\\%c", (char)c);
        else if (c == '\n') o += (size_t)sprintf(out + o, "\\n");
        else if (c == '\r') o += (size_t)sprintf(out + o, "\\r");
        else if (c == '\t') o += (size_t)sprintf(out + o, "\\t");
        else if (c < 0x20) o += (size_t)sprintf(out + o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    return o;
}

/* Checks every escaping form on the n bytes at s (in a block of exactly n bytes, so a read
 * past the end is caught under ASan), and that the raw writer writes nothing past its end. */
static void escape_forms_agree(const unsigned char *text, size_t n)
{
    char *in = malloc(n ? n : 1), want[6 * 48 + 1], got[6 * 48 + 16];
    assert_non_null(in);
    memcpy(in, text, n);
    size_t wlen = reference_escape(text, n, want);
    memset(got, '#', sizeof got);
    char *end = pt_json_escape_to(got, in, n);
    assert_int_equal((size_t)(end - got), wlen);
    assert_memory_equal(got, want, wlen);
    for (size_t i = wlen; i < sizeof got; i++) /* block copies never reach past the end */
        if (got[i] != '#') fail_msg("length %zu: byte %zu past the end was written", n, i);
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_buf_append_json_escaped(&b, in, n), 0);
    assert_int_equal(b.len, wlen);
    assert_memory_equal(b.data, want, wlen);
    pt_buf_reset(&b);
    assert_int_equal(pt_buf_append_json_quoted(&b, in, n), 0);
    assert_int_equal(b.len, wlen + 2);
    assert_int_equal(b.data[0], '"');
    assert_memory_equal(b.data + 1, want, wlen);
    assert_int_equal(b.data[wlen + 1], '"');
    pt_buf_release(&b);
    free(in);
}

/* Every length 0..48 (the 4-, 8- and 16-byte steps, their overlapping tails, and more than
 * one 16-byte block), with no escape, and with one needing-escape byte at every position;
 * also a byte just outside the escaped range (0x20, 0x7f, 0x80, 0xff) at every position. */
static void json_escape_every_length_and_position(void **state)
{
    static const unsigned char needy[] = { 0x00, 0x01, '\n', 0x1f, '"', '\\' };
    static const unsigned char plain[] = { 0x20, 0x7f, 0x80, 0xff, '#', ']' };
    for (size_t n = 0; n <= 48; n++) {
        unsigned char text[48] = { 0 };
        for (size_t i = 0; i < n; i++) text[i] = (unsigned char)('a' + i % 26);
        escape_forms_agree(text, n);
        for (size_t pos = 0; pos < n; pos++) {
            for (size_t k = 0; k < sizeof needy; k++) {
                unsigned char t[48];
                memcpy(t, text, n);
                t[pos] = needy[k];
                escape_forms_agree(t, n);
                if (pos + 3 < n) { /* a second one after it */
                    t[pos + 3] = '"';
                    escape_forms_agree(t, n);
                }
            }
            for (size_t k = 0; k < sizeof plain; k++) {
                unsigned char t[48];
                memcpy(t, text, n);
                t[pos] = plain[k];
                escape_forms_agree(t, n);
            }
        }
    }
}

static void consume_and_detach(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_str(&b, "hello world");
    pt_buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    size_t n;
    char *p = pt_buf_detach(&b, &n);
    assert_int_equal(n, 5);
    assert_string_equal(p, "world");
    assert_null(b.data);
    free(p);
}

/* Every length of number, odd and even (the formatter writes digits in pairs). */
static void decimal_every_length(void **state)
{
    (void)state;
    unsigned long long v = 1;
    for (int digits = 1; digits <= 20; digits++, v *= 10) {
        unsigned long long cases[] = { v - 1, v, v + 1, v * 5 + 3, digits < 20 ? v * 10 - 1 : 18446744073709551615ull };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char got[24], want[24];
            *pt_u64_to(got, cases[i]) = '\0';
            snprintf(want, sizeof want, "%llu", cases[i]);
            assert_string_equal(got, want);
        }
    }
}

/* Every bit length, at each end (the digit count is estimated from it). */
static void decimal_every_bit_length(void **state)
{
    (void)state;
    for (int bits = 1; bits <= 64; bits++) {
        unsigned long long top = bits < 64 ? (1ull << bits) - 1 : 18446744073709551615ull;
        unsigned long long cases[] = { top >> 1, (top >> 1) + 1, top };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char got[24], want[24];
            *pt_u64_to(got, cases[i]) = '\0';
            snprintf(want, sizeof want, "%llu", cases[i]);
            assert_string_equal(got, want);
        }
    }
}

/* Fixed-point figures as printf writes them, for every number of places up to the cap, into a
 * buffer and written in place (within PT_FIXED_MAX bytes). */
static void fixed_point_every_place(void **state)
{
    (void)state;
    const unsigned long long cases[] = { 0, 1, 9, 10, 999, 1000, 1234567, 40200000, 18446744073709551615ull };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned long long scale = 1;
        for (unsigned places = 0; places <= 19; places++, scale *= 10) {
            char want[64];
            if (places) snprintf(want, sizeof want, "%llu.%0*llu", cases[i] / scale, (int)places, cases[i] % scale);
            else snprintf(want, sizeof want, "%llu", cases[i]);
            pt_buf b = PT_BUF_INIT;
            assert_int_equal(pt_buf_append_fixed(&b, cases[i], places), 0);
            assert_string_equal(b.data, want);
            pt_buf_release(&b);
            char at[PT_FIXED_MAX + 1];
            char *end = pt_fixed_to(at, cases[i], places);
            assert_true(end - at <= PT_FIXED_MAX);
            *end = '\0';
            assert_string_equal(at, want);
        }
    }
}

static void numbers_without_printf(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_u64(&b, 0);
    pt_buf_append_str(&b, " ");
    pt_buf_append_u64(&b, 18446744073709551615ull);
    pt_buf_append_str(&b, " ");
    pt_buf_append_hex(&b, 0x1f);
    pt_buf_append_str(&b, " ");
    pt_buf_append_fixed(&b, 1234, 3);
    pt_buf_append_str(&b, " ");
    pt_buf_append_fixed(&b, 7, 6);
    pt_buf_append_str(&b, " ");
    pt_buf_append_fixed(&b, 0, 3);
    pt_buf_append_str(&b, " ");
    pt_buf_append_fixed(&b, 42, 0);
    assert_string_equal(b.data, "0 18446744073709551615 1f 1.234 0.000007 0.000 42");
    pt_buf_release(&b);
}

static void strings_are_built_bounded(void **state)
{
    char s[12];
    assert_string_equal(pt_str_copy(s, sizeof s, "model"), "model");
    assert_string_equal(pt_str_copy(s, sizeof s, "a-much-longer-text"), "a-much-long");
    assert_string_equal(pt_str_join(s, sizeof s, "m[0]", ".content"), "m[0].conten");
    assert_string_equal(pt_str_index(s, sizeof s, "tools", "", 12), "tools[12]");
    assert_string_equal(pt_str_index(s, sizeof s, "m[1]", ".c", 0), "m[1].c[0]");
    assert_string_equal(pt_str_index(s, 6, "messages", "", 3), "messa");
    char one[1];
    assert_string_equal(pt_str_join(one, sizeof one, "x", "y"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_grows_and_keeps_nul),
        cmocka_unit_test(cap_limit_refuses_and_leaves_buffer_unchanged),
        cmocka_unit_test(printf_handles_long_output),
        cmocka_unit_test(json_escape_controls_quotes_backslashes),
        cmocka_unit_test(json_escape_to_matches_the_buffer_form),
        cmocka_unit_test(json_escape_every_length_and_position),
        cmocka_unit_test(consume_and_detach),
        cmocka_unit_test(numbers_without_printf),
        cmocka_unit_test(fixed_point_every_place),
        cmocka_unit_test(decimal_every_length),
        cmocka_unit_test(decimal_every_bit_length),
        cmocka_unit_test(strings_are_built_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
