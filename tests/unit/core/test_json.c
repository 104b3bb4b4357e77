/* Unit tests for core/json_scan.c (validating scanner with value spans) and core/json_write.c (writer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/json_scan.h"
#include "core/json_write.h"

static int doc(const char *s) { return pt_jscan_document(s, strlen(s), NULL); }

static void accepts_what_rfc8259_accepts(void **state)
{
    const char *ok[] = { "{}", "[]", " 0 ", "-0.5e+10", "\"\\u00e9\\n\"", "{\"a\":[1,true,false,null,{\"b\":\"c\"}]}",
                         "\"Z\xC3\xBCrich \xF0\x9F\x98\x80\"", "1E5", "[ 1 , 2 ]" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (doc(ok[i]) != 0) fail_msg("refused valid JSON: %s", ok[i]);
}

static void refuses_what_rfc8259_refuses(void **state)
{
    const char *bad[] = { "", "{", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "+1", "\"\x01\"", "\"\\x\"", "\"\\u12\"",
                          "{'a':1}", "tru", "nul", "{\"a\" 1}", "[1 2]", "{} {}", "/* c */ {}", "\"\xC0\xAF\"",
                          "\"\xED\xA0\x80\"", "\"\xF5\x80\x80\x80\"", "\"abc" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (doc(bad[i]) != PT_EPARSE) fail_msg("accepted invalid JSON: [%s]", bad[i]);
}

/* Strings are scanned 8 bytes at a time; every byte that matters must still be seen. */
static void long_strings_are_checked_at_every_offset(void **state)
{
    for (size_t at = 0; at < 24; at++) {
        char s[40];
        memset(s, 'a', sizeof s);
        s[0] = '"';
        s[38] = '"';
        s[39] = '\0';
        assert_int_equal(doc(s), 0);
        s[1 + at] = '\x01'; /* a control character */
        if (doc(s) != PT_EPARSE) fail_msg("control byte at %zu accepted", at);
        s[1 + at] = '"'; /* an early end: what follows is garbage */
        if (doc(s) != PT_EPARSE) fail_msg("quote at %zu not seen", at);
        s[1 + at] = '\\'; /* escapes are checked: "\a" is not one */
        if (doc(s) != PT_EPARSE) fail_msg("bad escape at %zu accepted", at);
        s[1 + at] = (char)0xC3; /* a lone lead byte of UTF-8 */
        if (doc(s) != PT_EPARSE) fail_msg("broken UTF-8 at %zu accepted", at);
        s[2 + at] = (char)0xA9; /* completed: U+00E9 */
        if (doc(s) != 0) fail_msg("valid UTF-8 at %zu refused", at);
    }
}

static void nesting_is_capped(void **state)
{
    size_t n = PT_JSCAN_MAX_DEPTH + 2;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    assert_int_equal(doc(s), PT_EPARSE);
    free(s);
    n = PT_JSCAN_MAX_DEPTH;
    s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    assert_int_equal(doc(s), 0);
    free(s);
}

static void error_position_points_at_the_bad_byte(void **state)
{
    size_t pos;
    const char *s = "{\"a\":[1,}";
    assert_int_equal(pt_jscan_document(s, strlen(s), &pos), PT_EPARSE);
    assert_int_equal(pos, 8);
}

static void object_members_and_value_spans(void **state)
{
    const char *s = " { \"model\" : \"gpt\" , \"n\":[1, 2] ,\"o\":{\"x\":null} } ";
    pt_jfield f[8];
    size_t nf, open, close;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 8, &nf, &open, &close), 0);
    assert_int_equal(nf, 3);
    assert_int_equal(s[open], '{');
    assert_int_equal(s[close], '}');
    assert_true(pt_slice_eq_cstr(f[0].key, "model"));
    assert_memory_equal(s + f[0].vstart, "\"gpt\"", f[0].vend - f[0].vstart);
    assert_memory_equal(s + f[1].vstart, "[1, 2]", f[1].vend - f[1].vstart);
    assert_memory_equal(s + f[2].vstart, "{\"x\":null}", f[2].vend - f[2].vstart);
}

static void more_members_than_room_are_counted(void **state)
{
    const char *s = "{\"a\":1,\"b\":2,\"c\":3}";
    pt_jfield f[2];
    size_t nf, o, c;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 2, &nf, &o, &c), 0);
    assert_int_equal(nf, 3);
}

static void not_an_object_is_einval(void **state)
{
    size_t nf, o, c;
    assert_int_equal(pt_jscan_object("[1]", 3, 0, NULL, 0, &nf, &o, &c), PT_EINVAL);
}

static void escaped_keys_are_compared_decoded(void **state)
{
    /* "mod\u0065l" is "model" to every JSON parser: routing must see it the same way */
    const char *s = "{\"mod\\u0065l\":\"x\",\"model\":\"y\"}";
    pt_jfield f[4];
    size_t nf, o, c;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 4, &nf, &o, &c), 0);
    bool dup;
    assert_int_equal(pt_jscan_find(f, nf, "model", &dup), 0);
    assert_true(dup);
}

/* Raw keys as long as the name, shorter, or longer without an escape never decode to it. */
static void keys_of_other_lengths_do_not_match(void **state)
{
    const char *s = "{\"mode\\\"\":1,\"mode\":2,\"models\":3,\"m\\u006fdel\":4}";
    pt_jfield f[8];
    size_t nf, o, c;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 8, &nf, &o, &c), 0);
    assert_int_equal(nf, 4);
    assert_false(pt_jscan_key_is(f[0].key, "mode\\\""));  /* same raw bytes, decodes to mode" */
    assert_true(pt_jscan_key_is(f[0].key, "mode\""));
    assert_false(pt_jscan_key_is(f[1].key, "model"));
    assert_false(pt_jscan_key_is(f[2].key, "model"));
    bool dup;
    assert_int_equal(pt_jscan_find(f, nf, "model", &dup), 3);
    assert_false(dup);
}

/* One pass finds what one find per name finds: first occurrences, duplicates, escaped keys,
 * and keys that begin like a name without being it. */
static void find_each_finds_what_find_finds(void **state)
{
    const char *s = "{\"messages\":[],\"mod\\u0065l\":\"x\",\"stream\":true,\"model\":\"y\",\"max\":1,"
                    "\"streams\":2,\"stream_options\":{}}";
    pt_jfield f[8];
    size_t nf, o, c;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 8, &nf, &o, &c), 0);
    static const pt_jname names[] = { PT_JNAME("model"), PT_JNAME("stream"), PT_JNAME("stream_options"),
                                      PT_JNAME("messages"), PT_JNAME("max_tokens") };
    int at[5];
    unsigned dups = pt_jscan_find_each(f, nf, names, 5, at);
    for (size_t j = 0; j < 5; j++) {
        bool dup;
        assert_int_equal(at[j], pt_jscan_findn(f, nf, names[j].s, names[j].len, &dup));
        assert_int_equal((dups >> j) & 1, dup);
    }
    assert_int_equal(at[0], 1);
    assert_int_equal(dups, 1u);
    assert_int_equal(at[4], -1);
}

/* The members the skimmer finds are found by name as the scanner's are: a key with an
 * escape decodes to its name, a key of a length no name has (64 bytes and more too) is none
 * of them, and a key only one byte away from a name is not it. */
static void find_each_over_skimmed_members(void **state)
{
    const char *s = "{\"x\":\"usage\",\"us\\u0061ge\":{\"a\":1},\"choices\":[],\"usagE\":2,"
                    "\"0123456789012345678901234567890123456789012345678901234567890123456789\":3,\"usage\":4}";
    pt_jfield f[8], g[8];
    size_t nf, ng, o, c;
    assert_int_equal(pt_jscan_object(s, strlen(s), 0, f, 8, &nf, &o, &c), 0);
    assert_int_equal(pt_jscan_skim_object(s, strlen(s), g, 8, &ng), 0);
    assert_int_equal(ng, nf);
    assert_false(g[0].key_escaped);
    assert_true(g[1].key_escaped);
    static const pt_jname names[] = {
        PT_JNAME("usage"), PT_JNAME("choices"),
        PT_JNAME("0123456789012345678901234567890123456789012345678901234567890123456789x"),
    };
    int at[3], at2[3];
    assert_int_equal(pt_jscan_find_each(f, nf, names, 3, at), 1u);
    assert_int_equal(pt_jscan_find_each(g, ng, names, 3, at2), 1u);
    for (size_t j = 0; j < 3; j++) assert_int_equal(at[j], at2[j]);
    assert_int_equal(at[0], 1);
    assert_int_equal(at[1], 2);
    assert_int_equal(at[2], -1);
}

static void string_values_are_decoded(void **state)
{
    const char *s = "\"a\\\"b\\u00fc\\ud83d\\ude00\"";
    char out[32];
    long n = pt_jscan_string(s, 0, strlen(s), out, sizeof out);
    assert_int_equal(n, 3 + 2 + 4);
    assert_memory_equal(out, "a\"b\xC3\xBC\xF0\x9F\x98\x80", 9);
    assert_int_equal(pt_jscan_string(s, 0, strlen(s), out, 4), -1);
    assert_int_equal(pt_jscan_string("12", 0, 2, out, sizeof out), -1);
    /* without an escape: the bytes as they are, when they and the NUL fit */
    assert_int_equal(pt_jscan_string("\"abc\"", 0, 5, out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(pt_jscan_string("\"abc\"", 0, 5, out, 4), 3);
    assert_int_equal(pt_jscan_string("\"abc\"", 0, 5, out, 3), -1);
    assert_int_equal(pt_jscan_string("\"\"", 0, 2, out, 1), 0);
}

static void writer_places_commas_and_escapes(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_jw w;
    pt_jw_init(&w, &b);
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "s", "q\"\n");
    pt_jw_key(&w, "a");
    pt_jw_arr(&w);
    pt_jw_int(&w, -3);
    pt_jw_bool(&w, true);
    pt_jw_null(&w);
    pt_jw_obj(&w);
    pt_jw_obj_end(&w);
    pt_jw_arr_end(&w);
    pt_jw_key(&w, "r");
    pt_jw_raw(&w, PT_SLICE_LIT("{\"x\":1}"));
    pt_jw_obj_end(&w);
    assert_int_equal(w.err, 0);
    assert_string_equal(b.data, "{\"s\":\"q\\\"\\n\",\"a\":[-3,true,null,{}],\"r\":{\"x\":1}}");
    pt_buf_release(&b);
}

static void writer_numbers_are_shortest_round_trip(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_jw w;
    pt_jw_init(&w, &b);
    pt_jw_arr(&w);
    pt_jw_num(&w, 0.2);
    pt_jw_num(&w, 0.7);
    pt_jw_num(&w, 1.0);
    pt_jw_num(&w, 1e300);
    pt_jw_num(&w, 0.1 + 0.2);
    pt_jw_num(&w, -1.11111e42); /* far outside long long: must not be converted to one */
    pt_jw_arr_end(&w);
    assert_string_equal(b.data, "[0.2,0.7,1,1e+300,0.30000000000000004,-1.11111e+42]");
    pt_buf_release(&b);
}

static void writer_reports_cap_once(void **state)
{
    pt_buf b;
    pt_buf_init(&b, 8);
    pt_jw w;
    pt_jw_init(&w, &b);
    pt_jw_obj(&w);
    pt_jw_kcstr(&w, "long-key", "long value");
    pt_jw_obj_end(&w);
    assert_int_equal(w.err, PT_ETOOBIG);
    pt_buf_release(&b);
}

/* The skimmer finds in s[0..k) the members (keys, escapes, value spans) the validating
 * scanner finds. */
static void skim_agrees_with_scanner(const char *s, size_t k)
{
    pt_jfield f[8], g[8];
    size_t nf, ng, o, c;
    assert_int_equal(pt_jscan_object(s, k, 0, f, 8, &nf, &o, &c), 0);
    assert_int_equal(pt_jscan_skim_object(s, k, g, 8, &ng), 0);
    assert_int_equal(ng, nf);
    for (size_t i = 0; i < nf && i < 8; i++) {
        assert_true(pt_slice_eq(f[i].key, g[i].key));
        assert_int_equal(g[i].key_escaped, f[i].key_escaped);
        assert_int_equal(g[i].vstart, f[i].vstart);
        assert_int_equal(g[i].vend, f[i].vend);
    }
}

/* The skimmer finds what the validating scanner finds on valid JSON, including strings
 * holding quotes, escaped backslashes and brackets. */
static void skim_finds_the_members_the_scanner_finds(void **state)
{
    const char *docs[] = {
        " { \"model\" : \"gpt\" , \"n\":[1, 2] ,\"o\":{\"x\":null} } ",
        "{\"id\":\"a\\\"}b\",\"choices\":[{\"t\":\"]}\\\\\"}],\"usage\":{\"p\":9},\"z\":-1.5e3}",
        "{}",
        "{\"a\":true,\"b\":false,\"c\":\"\\\\\",\"d\":[[],{}]}",
        "{\"long\":\"0123456789\\\"abcdefgh\\\\\",\"u\":[\"h\xc3\xa9llo w\xc3\xb6rld, a longer one\"]}",
        "{\"c\":[{\"t\":\"a|b]]}}[[{{ and | more | text\\\\\\\"|]\",\"n\":[1,[2,{\"x\":\"|\"}]]}],\"u\":{\"p\":1}}",
        "{\"yy_\":[\"YZ_yz{\",{\"a\":\"\\\\\\\\\"}],\"zz\":\"\\u007b\\u005d\"}",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        skim_agrees_with_scanner(docs[d], strlen(docs[d]));
    }
}

/* Strings of every length up to 40 bytes, with and without an escaped quote and an escaped
 * backslash before their closing quote: the skimmer ends them where the scanner does. */
static void skim_finds_quotes_at_every_offset(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n++) {
        for (int esc = 0; esc < 2; esc++) {
            char s[128];
            size_t k = 0;
            k += (size_t)snprintf(s + k, sizeof s - k, "{\"k\":\"");
            for (size_t i = 0; i < n; i++) s[k++] = (char)('a' + i % 26);
            if (esc) k += (size_t)snprintf(s + k, sizeof s - k, "\\\"x\\\\");
            k += (size_t)snprintf(s + k, sizeof s - k, "\",\"z\":[\"]\",1]}");
            skim_agrees_with_scanner(s, k);
        }
    }
}

/* A small generator of JSON text for the test below: strings with escapes, quotes and
 * brackets inside, of lengths around the sixteen-byte blocks the skimmer reads, nested
 * objects and arrays, numbers, literals, and whitespace or none between tokens. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void gen_ws(char *s, size_t *k)
{
    static const char ws[] = " \t\n\r";
    while (rnd(4) == 0) s[(*k)++] = ws[rnd(4)];
}

static void gen_string(char *s, size_t *k)
{
    static const char *pieces[] = { "a", "b", "{", "}", "[", "]", "\\\"", "\\\\", "\\n", "\\u00e9", ",", ":", " " };
    s[(*k)++] = '"';
    unsigned n = rnd(4) == 0 ? rnd(40) : rnd(8);
    for (unsigned i = 0; i < n; i++) {
        const char *piece = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        memcpy(s + *k, piece, strlen(piece));
        *k += strlen(piece);
    }
    s[(*k)++] = '"';
}

static void gen_value(char *s, size_t *k, int depth)
{
    unsigned kind = depth > 3 ? rnd(3) : rnd(5);
    if (kind == 0) {
        gen_string(s, k);
    } else if (kind == 1) {
        *k += (size_t)sprintf(s + *k, "%d", (int)rnd(100000) - 500);
    } else if (kind == 2) {
        static const char *lits[] = { "true", "false", "null" };
        const char *l = lits[rnd(3)];
        memcpy(s + *k, l, strlen(l));
        *k += strlen(l);
    } else {
        bool obj = kind == 3;
        s[(*k)++] = obj ? '{' : '[';
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i) s[(*k)++] = ',';
            gen_ws(s, k);
            if (obj) {
                gen_string(s, k);
                gen_ws(s, k);
                s[(*k)++] = ':';
                gen_ws(s, k);
            }
            gen_value(s, k, depth + 1);
            gen_ws(s, k);
        }
        s[(*k)++] = obj ? '}' : ']';
    }
}

/* Thousands of generated objects: the skimmer finds the members (keys, escapes, value
 * spans) the validating scanner finds. */
static void skim_agrees_with_the_scanner_on_generated_json(void **state)
{
    (void)state;
    static char s[1 << 16];
    for (int round = 0; round < 3000; round++) {
        size_t k = 0;
        s[k++] = '{';
        unsigned n = 1 + rnd(6);
        for (unsigned i = 0; i < n; i++) {
            if (i) s[k++] = ',';
            gen_ws(s, &k);
            gen_string(s, &k);
            s[k++] = ':';
            gen_ws(s, &k);
            gen_value(s, &k, 0);
            gen_ws(s, &k);
        }
        s[k++] = '}';
        assert_true(k < sizeof s);
        char *copy = malloc(k); /* exactly k bytes: a read past them is ASan's to see */
        memcpy(copy, s, k);
        skim_agrees_with_scanner(copy, k);
        free(copy);
    }
}

/* On text that is not JSON the skimmer may be wrong, never out of bounds (ASan checks). */
static void skim_stays_in_bounds_on_garbage(void **state)
{
    const char *bad[] = { "", "{", "{\"a", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"a\":[1,{", "{\"a\\", "[1]",
                          "{\"a\":1,,}", "{\"a\":}", "{\"a\":\"0123456789\\", "{\"a\":[\"0123456789abc\\" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        char *s = malloc(len ? len : 1); /* exactly len bytes: no NUL to lean on */
        memcpy(s, bad[i], len);
        pt_jfield f[4];
        size_t nf;
        if (pt_jscan_skim_object(s, len, f, 4, &nf) == 0)
            for (size_t k = 0; k < nf && k < 4; k++) assert_true(f[k].vstart <= f[k].vend && f[k].vend <= len);
        free(s);
    }
}

static void string_at_reports_escapes(void **state)
{
    size_t pos = 0;
    bool esc = true;
    assert_int_equal(pt_jscan_string_at("\"plain\" ", 9, &pos, &esc), 0);
    assert_int_equal(pos, 7);
    assert_false(esc);
    pos = 0;
    const char *e = "\"a\\nb\"";
    assert_int_equal(pt_jscan_string_at(e, strlen(e), &pos, &esc), 0);
    assert_int_equal(pos, strlen(e));
    assert_true(esc);
    pos = 0;
    assert_int_equal(pt_jscan_string_at("x", 1, &pos, &esc), PT_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_what_rfc8259_accepts),
        cmocka_unit_test(keys_of_other_lengths_do_not_match),
        cmocka_unit_test(find_each_finds_what_find_finds),
        cmocka_unit_test(find_each_over_skimmed_members),
        cmocka_unit_test(refuses_what_rfc8259_refuses),
        cmocka_unit_test(long_strings_are_checked_at_every_offset),
        cmocka_unit_test(nesting_is_capped),
        cmocka_unit_test(error_position_points_at_the_bad_byte),
        cmocka_unit_test(object_members_and_value_spans),
        cmocka_unit_test(more_members_than_room_are_counted),
        cmocka_unit_test(not_an_object_is_einval),
        cmocka_unit_test(escaped_keys_are_compared_decoded),
        cmocka_unit_test(string_values_are_decoded),
        cmocka_unit_test(skim_finds_the_members_the_scanner_finds),
        cmocka_unit_test(skim_finds_quotes_at_every_offset),
        cmocka_unit_test(skim_agrees_with_the_scanner_on_generated_json),
        cmocka_unit_test(skim_stays_in_bounds_on_garbage),
        cmocka_unit_test(string_at_reports_escapes),
        cmocka_unit_test(writer_places_commas_and_escapes),
        cmocka_unit_test(writer_numbers_are_shortest_round_trip),
        cmocka_unit_test(writer_reports_cap_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
