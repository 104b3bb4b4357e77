/* Unit tests for ai/price.c: finding a model's price and exact cost arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ai/price.h"

static void exact_name_and_longest_prefix_win(void **state)
{
    pt_ai_price p;
    assert_true(pt_price_lookup(NULL, "gpt-4o-mini-2024-07-18", &p));
    assert_int_equal(p.input, 150000); /* gpt-4o-mini*, not gpt-4o* */
    assert_int_equal(p.output, 600000);
    assert_true(pt_price_lookup(NULL, "gpt-4o-2024-11-20", &p));
    assert_int_equal(p.input, 2500000);
    assert_true(pt_price_lookup(NULL, "claude-opus-4-5-20251101", &p));
    assert_int_equal(p.input, 5000000);
    assert_true(pt_price_lookup(NULL, "claude-opus-4-20250514", &p));
    assert_int_equal(p.input, 15000000);
    assert_true(pt_price_lookup(NULL, "text-embedding-3-small", &p));
    assert_int_equal(p.output, 0);
    /* an exact entry does not match as a prefix */
    assert_false(pt_price_lookup(NULL, "text-embedding-3-small-v2", &p));
    assert_false(pt_price_lookup(NULL, "my-local-llama", &p));
}

static void router_vendor_prefix_is_tried_without_it(void **state)
{
    pt_ai_price p;
    assert_true(pt_price_lookup(NULL, "anthropic/claude-sonnet-4-5", &p));
    assert_int_equal(p.cache_write, 3750000);
}

static void provider_overrides_beat_the_table(void **state)
{
    pt_ai_model_price mp[] = { { "gpt-4o*", { 1000000, 2000000, -1, -1 } }, { "llama3", { 10, 20, -1, -1 } } };
    pt_ai_provider prov;
    memset(&prov, 0, sizeof prov);
    prov.prices = mp;
    prov.nprices = 2;
    pt_ai_price p;
    assert_true(pt_price_lookup(&prov, "gpt-4o-mini", &p));
    assert_int_equal(p.input, 1000000);
    assert_true(pt_price_lookup(&prov, "llama3", &p));
    assert_int_equal(p.output, 20);
    /* models the overrides do not name still find the built-in price */
    assert_true(pt_price_lookup(&prov, "claude-haiku-4-5", &p));
    assert_int_equal(p.input, 1000000);
}

static void cost_is_exact_in_pico_dollars(void **state)
{
    pt_ai_price p = { 3000000, 15000000, 300000, 3750000 };
    pt_usage u = { .input = 310, .output = 95, .cache_read = 2048, .cache_write = 1200, .reasoning = 0 };
    uint64_t c = pt_price_cost_pusd(&p, &u);
    assert_int_equal(c, 310ull * 3000000 + 95ull * 15000000 + 2048ull * 300000 + 1200ull * 3750000);
    assert_int_equal(pt_price_pusd_to_micro(c), 7469);
}

static void missing_cache_prices_fall_back_to_input(void **state)
{
    pt_ai_price p = { 100000, 300000, -1, -1 };
    pt_usage u = { .input = 10, .output = 0, .cache_read = 5, .cache_write = 5, .reasoning = -1 };
    assert_int_equal(pt_price_cost_pusd(&p, &u), 20 * 100000);
}

static void unknown_usage_counts_zero(void **state)
{
    pt_ai_price p = { 100000, 300000, 1, 1 };
    pt_usage u = PT_USAGE_UNKNOWN;
    assert_int_equal(pt_price_cost_pusd(&p, &u), 0);
}

static void cost_saturates_instead_of_wrapping(void **state)
{
    pt_ai_price p = { INT64_MAX, INT64_MAX, 0, 0 };
    pt_usage u = { .input = INT64_MAX, .output = INT64_MAX, .cache_read = 0, .cache_write = 0, .reasoning = 0 };
    assert_true(pt_price_cost_pusd(&p, &u) == UINT64_MAX);
}

static void micro_rounding_is_half_up(void **state)
{
    assert_int_equal(pt_price_pusd_to_micro(499999), 0);
    assert_int_equal(pt_price_pusd_to_micro(500000), 1);
    assert_int_equal(pt_price_pusd_to_micro(1500000), 2);
    assert_int_equal(pt_price_pusd_to_micro(0), 0);
}

static void usd_text_parses_exactly(void **state)
{
    int64_t v;
    assert_true(pt_price_parse_usd("3", &v));
    assert_int_equal(v, 3000000);
    assert_true(pt_price_parse_usd("0.075", &v));
    assert_int_equal(v, 75000);
    assert_true(pt_price_parse_usd("2.50", &v));
    assert_int_equal(v, 2500000);
    assert_true(pt_price_parse_usd("0.000001", &v));
    assert_int_equal(v, 1);
    assert_false(pt_price_parse_usd("0.0000001", &v));
    assert_false(pt_price_parse_usd("-1", &v));
    assert_false(pt_price_parse_usd("1.", &v));
    assert_false(pt_price_parse_usd("1e3", &v));
    assert_false(pt_price_parse_usd("", &v));
    assert_false(pt_price_parse_usd("99999999999", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_name_and_longest_prefix_win),
        cmocka_unit_test(router_vendor_prefix_is_tried_without_it),
        cmocka_unit_test(provider_overrides_beat_the_table),
        cmocka_unit_test(cost_is_exact_in_pico_dollars),
        cmocka_unit_test(missing_cache_prices_fall_back_to_input),
        cmocka_unit_test(unknown_usage_counts_zero),
        cmocka_unit_test(cost_saturates_instead_of_wrapping),
        cmocka_unit_test(micro_rounding_is_half_up),
        cmocka_unit_test(usd_text_parses_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
