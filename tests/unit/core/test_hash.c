/* Unit tests for core/hash.h: its values are stored in the call log's chunk filters, so they
 * are pinned here (a changed hash would make every older chunk's filter miss its keys), and
 * every length up to a few words is spread over the bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/hash.h"

static void values_are_those_the_chunk_filters_hold(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t h;
    } pinned[] = {
        { "", 0x0000000000000000ULL },
        { "a", 0x6810831cfc31c7f0ULL },
        { "abcdefgh", 0x077b5bf74b9f67f1ULL },
        { "4bf92f3577b34da6a3ce929d0e0e4736", 0xaaa352caece45c38ULL },
        { "req-0001x", 0x741fedeeca362f23ULL },
        { "hello world!", 0xdf261ce9fd6ace89ULL },
    };
    for (size_t i = 0; i < sizeof pinned / sizeof *pinned; i++)
        assert_int_equal(pt_hash_bytes(pinned[i].s, strlen(pinned[i].s)), pinned[i].h);
}

/* The hash as first written, a byte at a time for the tail: every length agrees with it. */
static uint64_t reference(const char *s, size_t n)
{
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    uint64_t h = (uint64_t)n * m, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
    }
    w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)(uint8_t)s[i] << (8 * i);
    h = (h ^ w) * m;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static void every_length_hashes_as_the_byte_loop_did(void **state)
{
    (void)state;
    char buf[48];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(0x80 + 37 * i); /* high bits set: no sign slips */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n++)
            assert_int_equal(pt_hash_bytes(buf + off, n), reference(buf + off, n));
}

/* Strings differing in one byte, or only in length (a trailing NUL), hash apart, and the
 * low bits (a table's slot) differ too. */
static void a_byte_or_a_length_changes_the_hash(void **state)
{
    (void)state;
    char buf[40] = { 0 };
    for (size_t n = 1; n < sizeof buf; n++) {
        uint64_t base = pt_hash_bytes(buf, n);
        assert_true(base != pt_hash_bytes(buf, n - 1));
        int low_differs = 0;
        for (size_t i = 0; i < n; i++) {
            buf[i] = 1;
            uint64_t h = pt_hash_bytes(buf, n);
            buf[i] = 0;
            assert_true(h != base);
            low_differs += (h & 0xfff) != (base & 0xfff);
        }
        assert_true(low_differs >= (int)n - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_those_the_chunk_filters_hold),
        cmocka_unit_test(every_length_hashes_as_the_byte_loop_did),
        cmocka_unit_test(a_byte_or_a_length_changes_the_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
