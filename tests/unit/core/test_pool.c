/* Unit tests for core/pool.c in its normal (bump allocator) mode, in every build. */
#ifdef PT_NO_ARENA
#define RECYCLER_KEEPS 0 /* the library's free lists free at once in this build: nothing
                          * to recycle, so that test is left out */
#undef PT_NO_ARENA
#else
#define RECYCLER_KEEPS 1
#endif
#include "pool_cases.h"

/* Small allocations share a block; a big one gets its own block behind the current one,
 * which keeps serving small ones. */
static void small_share_a_block_big_ones_do_not(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 1024, 0);
    char *a = pt_pool_alloc(&p, 10);
    char *b = pt_pool_alloc(&p, 10);
    assert_ptr_equal(b, a + 16);
    assert_int_equal(nblocks(&p), 1);
    char *big = pt_pool_alloc(&p, 4000);
    assert_non_null(big);
    assert_int_equal(nblocks(&p), 2);
    char *c = pt_pool_alloc(&p, 10);
    assert_ptr_equal(c, b + 16); /* still the first block */
    assert_int_equal(nblocks(&p), 2);
    pt_pool_release(&p);
}

/* The first allocation of a fresh pool up to a whole block takes a standard block (a
 * handler's state of a few KiB costs no malloc of its own). */
static void first_large_alloc_takes_a_standard_block(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 4096, 0);
    assert_non_null(pt_pool_alloc(&p, 3000));
    assert_int_equal(p.head->size, 4096);
    assert_non_null(pt_pool_alloc(&p, 500)); /* fits behind it */
    assert_int_equal(nblocks(&p), 1);
    pt_pool_release(&p);
}

#if RECYCLER_KEEPS
/* A released standard block serves the next pool of that block size on this thread. */
static void standard_blocks_are_recycled(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 2048, 0);
    void *first = pt_pool_alloc(&p, 8);
    pt_pool_release(&p);
    pt_pool q;
    pt_pool_init(&q, 2048, 0);
    assert_ptr_equal(pt_pool_alloc(&q, 8), first);
    pt_pool_release(&q);
    pt_pool r; /* another block size does not take it */
    pt_pool_init(&r, 1024, 0);
    void *other = pt_pool_alloc(&r, 8);
    pt_pool_release(&r);
    assert_ptr_not_equal(other, first);
}
#endif

/* A worker's last act gives every kept block back to malloc. */
static void thread_release_empties_the_free_lists(void **state)
{
    pt_pool p, q;
    pt_pool_init(&p, 1024, 0);
    pt_pool_init(&q, 8192, 0);
    assert_non_null(pt_pool_alloc(&p, 8));
    assert_non_null(pt_pool_alloc(&q, 8));
    pt_pool_release(&p);
    pt_pool_release(&q);
    pt_recycle_thread_release();
    for (unsigned i = 0; i < RECYCLE_CLASSES; i++) {
        assert_null(blocks[i].head);
        assert_int_equal(blocks[i].n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        POOL_COMMON_TESTS,
        cmocka_unit_test(small_share_a_block_big_ones_do_not),
        cmocka_unit_test(first_large_alloc_takes_a_standard_block),
#if RECYCLER_KEEPS
        cmocka_unit_test(standard_blocks_are_recycled),
#endif
        cmocka_unit_test(thread_release_empties_the_free_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
