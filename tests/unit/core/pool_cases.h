/* pool_cases.h: the pool tests that hold in both builds (bump blocks, and one malloc per
 * allocation under PT_NO_ARENA). The including file sets the mode, then includes this,
 * which compiles core/pool.c in that mode: both modes are tested in every build. */
#ifndef PT_TEST_POOL_CASES_H
#define PT_TEST_POOL_CASES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/pool.c"

static size_t nblocks(const pt_pool *p)
{
    size_t n = 0;
    for (const struct pt__pool_blk *b = p->head; b; b = b->next) n++;
    return n;
}

/* Every allocation is aligned for any type and zeroed, whatever was there before. */
static void alloc_is_aligned_and_zeroed(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 1024, 0);
    for (int round = 0; round < 2; round++) {
        static const size_t sizes[] = { 1, 3, 16, 17, 100, 511, 513, 1024, 1500, 5000 };
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            unsigned char *m = pt_pool_alloc(&p, sizes[i]);
            assert_non_null(m);
            assert_int_equal((uintptr_t)m % _Alignof(max_align_t), 0);
            for (size_t k = 0; k < sizes[i]; k++) assert_int_equal(m[k], 0);
            memset(m, 0xA5, sizes[i]); /* dirty it for the next round's blocks */
        }
        pt_pool_release(&p);
    }
}

/* The cap counts every byte handed out (rounded to the alignment); past it NULL, and the
 * pool stays usable below it. */
static void cap_refuses_and_keeps_what_fits(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 0, 100);
    assert_non_null(pt_pool_alloc(&p, 64));
    assert_null(pt_pool_alloc(&p, 40)); /* 64 + 48 > 100 */
    assert_non_null(pt_pool_alloc(&p, 32)); /* 96 */
    assert_null(pt_pool_alloc(&p, 1));      /* 112 */
    assert_null(pt_pool_alloc(&p, SIZE_MAX));
    pt_pool_release(&p);
    assert_int_equal(p.total, 0);
    assert_int_equal(p.limit, 100);
    assert_non_null(pt_pool_alloc(&p, 96)); /* the whole cap again */
    pt_pool_release(&p);
}

/* Raw allocations come from the same blocks under the same cap, aligned alike. */
static void raw_alloc_counts_against_the_cap(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 0, 100);
    unsigned char *a = pt_pool_alloc_raw(&p, 64);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % _Alignof(max_align_t), 0);
    memset(a, 0xab, 64); /* all of it is the caller's */
    assert_null(pt_pool_alloc_raw(&p, 40)); /* 64 + 48 > 100 */
    unsigned char *z = pt_pool_alloc(&p, 32);
    assert_non_null(z);
    for (int i = 0; i < 32; i++) assert_int_equal(z[i], 0);
    assert_int_equal(p.total, 96);
    pt_pool_release(&p);
}

/* A zeroed pool is an empty one: no cap, default block, nothing to release. */
static void zeroed_pool_is_usable(void **state)
{
    pt_pool p;
    memset(&p, 0, sizeof p);
    pt_pool_release(&p);
    char *s = pt_pool_strndup(&p, "hello", 5);
    assert_string_equal(s, "hello");
    pt_slice sl = pt_pool_slice(&p, PT_SLICE_LIT("abc"));
    assert_int_equal(sl.len, 3);
    assert_memory_equal(sl.ptr, "abc", 3);
    assert_ptr_not_equal(sl.ptr, "abc");
    assert_null(pt_pool_slice(&p, PT_SLICE_NULL).ptr);
    pt_pool_release(&p);
    assert_null(p.head);
}

#define POOL_COMMON_TESTS                                                                 \
    cmocka_unit_test(alloc_is_aligned_and_zeroed), cmocka_unit_test(cap_refuses_and_keeps_what_fits), \
        cmocka_unit_test(zeroed_pool_is_usable), cmocka_unit_test(raw_alloc_counts_against_the_cap)

#endif
