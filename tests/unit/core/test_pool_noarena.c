/* Unit tests for core/pool.c built with PT_NO_ARENA (the sanitizer switch), in every
 * build: each allocation is its own malloc, so ASan sees its exact bounds. */
#ifndef PT_NO_ARENA
#define PT_NO_ARENA 1
#endif
#include <malloc.h>

#include "pool_cases.h"

/* One block per allocation, sized to the allocation (rounded), never shared. */
static void each_allocation_is_its_own_block(void **state)
{
    pt_pool p;
    pt_pool_init(&p, 8192, 0);
    char *a = pt_pool_alloc(&p, 10);
    char *b = pt_pool_alloc(&p, 10);
    assert_int_equal(nblocks(&p), 2);
    assert_int_equal(p.head->size, 16);
    assert_ptr_not_equal(b, a + 16);
    assert_true(malloc_usable_size(p.head) < 8192); /* not a standard block */
    pt_pool_release(&p);
    assert_null(p.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        POOL_COMMON_TESTS,
        cmocka_unit_test(each_allocation_is_its_own_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
