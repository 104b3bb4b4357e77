/* Unit tests for core/recycle.c (per-thread free lists) and core/rand.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/recycle.h"

typedef struct thing {
    char bytes[3000];
} thing;

static PT_RECYCLER(things);

/* What comes back from the list is zeroed like calloc's, however it was left. */
static void get_is_zeroed_after_put(void **state)
{
    for (int round = 0; round < 3; round++) {
        thing *a[5];
        for (int i = 0; i < 5; i++) {
            a[i] = pt_recycle_get(&things, sizeof(thing));
            assert_non_null(a[i]);
            for (size_t k = 0; k < sizeof a[i]->bytes; k++) assert_int_equal(a[i]->bytes[k], 0);
            memset(a[i], 0xA5, sizeof *a[i]);
        }
        for (int i = 0; i < 5; i++) pt_recycle_put(&things, a[i], 3);
        assert_true(things.n <= 3); /* the rest went back to malloc */
    }
    while (things.n) free(pt_recycle_get_raw(&things, sizeof(thing)));
    pt_recycle_put(&things, NULL, 3); /* like free(NULL) */
    assert_int_equal(things.n, 0);
}

/* A worker's last act frees what every one of its lists keeps. */
static PT_RECYCLER(others);

static void thread_release_frees_every_list(void **state)
{
    pt_recycle_put(&things, pt_recycle_get(&things, sizeof(thing)), 3);
    pt_recycle_put(&others, pt_recycle_get(&others, 64), 3);
    pt_recycle_put(&others, pt_recycle_get_raw(&others, 64), 3);
    pt_recycle_thread_release();
    assert_null(things.head);
    assert_int_equal(things.n, 0);
    assert_null(others.head);
    assert_int_equal(others.n, 0);
    pt_recycle_put(&others, malloc(64), 3); /* a list is listed again after a release */
    pt_recycle_thread_release();
    assert_null(others.head);
}

/* A buffer started in a block is an ordinary buffer: it grows past the block, keeps its
 * cap, and goes back to the list (or is freed) when released. */
static void buffers_start_in_blocks(void **state)
{
    pt_buf a;
    pt_buf_init(&a, 10000);
    assert_int_equal(pt_buf_start_block(&a), 0);
    assert_int_equal(a.alloc, PT_BLOCK);
    assert_int_equal(a.len, 0);
    assert_string_equal(a.data, "");
    char *block = a.data;
    assert_int_equal(pt_buf_start_block(&a), 0); /* started already: kept */
    assert_ptr_equal(a.data, block);
    assert_int_equal(pt_buf_append(&a, "abc", 3), 0);
    assert_ptr_equal(a.data, block);
    pt_buf_release_block(&a);
    assert_null(a.data);
    assert_int_equal(a.cap_limit, 10000);
    assert_int_equal(pt_buf_start_block(&a), 0);
#ifndef PT_NO_ARENA
    assert_ptr_equal(a.data, block); /* the same block, from the list (the sanitizer build frees it) */
#endif
    char big[6000];
    memset(big, 'x', sizeof big);
    assert_int_equal(pt_buf_append(&a, big, sizeof big), 0); /* grown past the block */
    assert_true(a.alloc > PT_BLOCK);
    assert_int_equal(pt_buf_append(&a, big, sizeof big), PT_ETOOBIG); /* over its cap */
    pt_buf_release_block(&a); /* freed: not a block any more */
    assert_null(a.data);
    pt_recycle_thread_release();
}

static void rand_varies(void **state)
{
    uint64_t seen[64];
    for (int i = 0; i < 64; i++) {
        seen[i] = pt_rand64();
        for (int j = 0; j < i; j++) assert_true(seen[i] != seen[j]);
    }
    uint64_t ones = 0;
    for (int i = 0; i < 64; i++) ones |= seen[i];
    assert_true(ones == UINT64_MAX); /* every bit is set somewhere */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_is_zeroed_after_put),
        cmocka_unit_test(thread_release_frees_every_list),
        cmocka_unit_test(buffers_start_in_blocks),
        cmocka_unit_test(rand_varies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
