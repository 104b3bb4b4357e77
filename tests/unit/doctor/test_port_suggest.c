/* Unit tests for doctor/check_port.c typo suggestions: edit distance and the ranking that puts
 * listening ports first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/port_suggest.h"

static void distance_counts_each_kind_of_edit_once(void **state)
{
    assert_int_equal(pt__dr_osa_distance("8080", "8080"), 0);
    assert_int_equal(pt__dr_osa_distance("619009", "19009"), 1);  /* delete */
    assert_int_equal(pt__dr_osa_distance("8008", "8080"), 1);     /* transpose */
    assert_int_equal(pt__dr_osa_distance("8081", "8080"), 1);     /* replace */
    assert_int_equal(pt__dr_osa_distance("808", "8080"), 1);      /* insert */
    assert_int_equal(pt__dr_osa_distance("619009", "9009"), 2);
    assert_int_equal(pt__dr_osa_distance("123", "456"), 3);
}

static void listening_port_one_edit_away_comes_first(void **state)
{
    unsigned listening[] = { 22, 19009, 5432 };
    pt_dr_suggestion s[5];
    size_t n = pt__dr_port_suggest("619009", listening, 3, s, 5);
    assert_true(n >= 1);
    assert_int_equal(s[0].port, 19009);
    assert_true(s[0].listening);
    assert_int_equal(s[0].distance, 1);
}

static void listening_two_edits_beats_idle_one_edit(void **state)
{
    unsigned listening[] = { 9009 };
    pt_dr_suggestion s[5];
    size_t n = pt__dr_port_suggest("619009", listening, 1, s, 5);
    assert_true(n >= 2);
    assert_int_equal(s[0].port, 9009);
    assert_int_equal(s[0].distance, 2);
    assert_false(s[1].listening);
    assert_int_equal(s[1].distance, 1);
}

static void common_dev_port_ranks_above_other_one_edit_ports(void **state)
{
    pt_dr_suggestion s[5];
    size_t n = pt__dr_port_suggest("51773", NULL, 0, s, 5);
    assert_true(n >= 2);
    assert_int_equal(s[0].port, 5173); /* Vite's port, one edit away, before 1773, 5177, ... */
    assert_false(s[1].port == 5173);
}

static void no_suggestion_when_nothing_is_close(void **state)
{
    pt_dr_suggestion s[5];
    assert_int_equal(pt__dr_port_suggest("99999999", NULL, 0, s, 5), 0);
    assert_int_equal(pt__dr_port_suggest("", NULL, 0, s, 5), 0);
}

static void suggestions_are_valid_ports_and_capped(void **state)
{
    pt_dr_suggestion s[3];
    size_t n = pt__dr_port_suggest("70000", NULL, 0, s, 3);
    assert_true(n <= 3);
    for (size_t i = 0; i < n; i++) {
        assert_true(s[i].port >= 1 && s[i].port <= 65535);
        assert_true(s[i].distance >= 1 && s[i].distance <= 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distance_counts_each_kind_of_edit_once),
        cmocka_unit_test(listening_port_one_edit_away_comes_first),
        cmocka_unit_test(listening_two_edits_beats_idle_one_edit),
        cmocka_unit_test(common_dev_port_ranks_above_other_one_edit_ports),
        cmocka_unit_test(no_suggestion_when_nothing_is_close),
        cmocka_unit_test(suggestions_are_valid_ports_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
