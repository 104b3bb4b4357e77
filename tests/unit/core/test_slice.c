/* Unit tests for core/slice.h: matching header names against lists of names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/slice.h"

static const pt_slice names[] = { PT_SLICE_LIT("connection"), PT_SLICE_LIT("te"), PT_SLICE_LIT("content-length") };
#define NNAMES (sizeof names / sizeof *names)

static void case_in_matches_whole_names_in_any_case(void **state)
{
    (void)state;
    assert_true(pt_slice_case_in(PT_SLICE_LIT("Connection"), names, NNAMES));
    assert_true(pt_slice_case_in(PT_SLICE_LIT("TE"), names, NNAMES));
    assert_true(pt_slice_case_in(PT_SLICE_LIT("content-LENGTH"), names, NNAMES));
    assert_false(pt_slice_case_in(PT_SLICE_LIT("content-type"), names, NNAMES));
    assert_false(pt_slice_case_in(PT_SLICE_LIT("t"), names, NNAMES));
    assert_false(pt_slice_case_in(PT_SLICE_LIT("tes"), names, NNAMES));
    assert_false(pt_slice_case_in(PT_SLICE_LIT(""), names, NNAMES));
    assert_false(pt_slice_case_in(PT_SLICE_LIT("connection"), names, 0));
    /* a slice is not NUL-terminated: only its own bytes count */
    assert_true(pt_slice_case_in(pt_slice_from("tex", 2), names, NNAMES));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_in_matches_whole_names_in_any_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
