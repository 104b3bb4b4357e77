/* Unit tests for core/str.c: pt_mem_find answers as memmem does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/str.h"

static void same_as_memmem(const char *h, const char *s)
{
    size_t n = strlen(h), m = strlen(s);
    assert_ptr_equal(pt_mem_find(h, n, s, m), memmem(h, n, s, m));
}

static void finds_what_memmem_finds(void **state)
{
    (void)state;
    const char *texts[] = { "", "a", "\"finish_reason\":\"stop\"", "{\"a\":\"\\\"finish_reason\\\":\"}",
                            "xx__sig__yy__sig__", "gemini", "gemini:", "ge gemini: x", "\"\"\"::",
                            "thought_signaturethought_signature", "tool_calls\"tool_calls\"" };
    const char *needles[] = { "", "a", "\"finish_reason\":\"", "__sig__", "gemini:", "thought_signature",
                              "\"tool_calls\"", "\"\"", "::", "\"" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        for (size_t j = 0; j < sizeof needles / sizeof *needles; j++) same_as_memmem(texts[i], needles[j]);
    /* only the n bytes given count: a match that runs past them is not one */
    assert_null(pt_mem_find("abcdef", 4, "def", 3));
    assert_non_null(pt_mem_find("abcdef", 6, "def", 3));
    assert_null(pt_mem_find("abc", 3, "abcd", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_what_memmem_finds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
