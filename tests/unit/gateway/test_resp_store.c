/* Unit tests for gateway/resp_store.c: writes queued from a loop are found by the next read
 * (the thread runs them in the order asked), reads and deletes answer on the asking loop,
 * another consumer's response cannot be deleted, a cancelled read calls nobody, a write
 * over max_size is refused, and expired responses are pruned by the thread. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/log.h"
#include "gateway/resp_store.h"

typedef struct answer {
    int calls, rc;
    char consumer[32], response[128];
} answer;

static void on_done(void *arg, int rc, const pt_store_response *row)
{
    answer *a = arg;
    a->calls++;
    a->rc = rc;
    if (row) {
        snprintf(a->consumer, sizeof a->consumer, "%s", row->consumer);
        snprintf(a->response, sizeof a->response, "%s", row->response);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static char dir[64];

static void start(uint64_t retention_ms, uint64_t prune_ms)
{
    snprintf(dir, sizeof dir, "/tmp/pt-resp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.data_dir = dir;
    cfg.responses = (pt_responses_cfg){ .enabled = true, .default_store = true, .retention_ms = retention_ms,
                                        .max_bytes = 4096, .prune_every_ms = prune_ms };
    pt_resp_store_start(&cfg);
    assert_true(pt_resp_store_enabled());
}

static void stop(void)
{
    pt_resp_store_stop();
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs the loop until a has been answered (an async handle keeps the loop alive until then). */
static void wait_answer(uv_loop_t *loop, answer *a)
{
    while (!a->calls) uv_run(loop, UV_RUN_ONCE);
}

static void a_write_is_read_back_in_order_and_deleted_by_its_owner(void **state)
{
    start(60000, 60000);
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(pt_resp_store_put("resp_1", "bot", "claude", PT_SLICE_LIT("[]"), PT_SLICE_LIT("{\"id\":\"resp_1\"}")), 0);
    answer a = { 0 };
    assert_non_null(pt_resp_store_get(&loop, "resp_1", on_done, &a)); /* queued right after the write */
    wait_answer(&loop, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, 0);
    assert_string_equal(a.consumer, "bot");
    assert_string_equal(a.response, "{\"id\":\"resp_1\"}");

    answer d = { 0 };
    assert_non_null(pt_resp_store_delete(&loop, "resp_1", "other", on_done, &d));
    wait_answer(&loop, &d);
    assert_int_equal(d.rc, PT_STORE_ENOTFOUND);
    memset(&d, 0, sizeof d);
    assert_non_null(pt_resp_store_delete(&loop, "resp_1", "bot", on_done, &d));
    wait_answer(&loop, &d);
    assert_int_equal(d.rc, 0);
    memset(&a, 0, sizeof a);
    assert_non_null(pt_resp_store_get(&loop, "resp_1", on_done, &a));
    wait_answer(&loop, &a);
    assert_int_equal(a.rc, PT_STORE_ENOTFOUND);

    answer gone = { 0 };
    pt_resp_job *j = pt_resp_store_get(&loop, "resp_1", on_done, &gone);
    pt_resp_store_cancel(j); /* the asker went away */
    uv_run(&loop, UV_RUN_DEFAULT); /* ends once the job's handle is closed */
    assert_int_equal(gone.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    stop();
}

static void an_answer_over_max_size_is_not_kept(void **state)
{
    start(60000, 60000);
    char big[5000];
    memset(big, 'a', sizeof big);
    assert_int_equal(pt_resp_store_put("resp_big", "", "m", PT_SLICE_LIT("[]"), pt_slice_from(big, sizeof big)), -1);
    stop();
}

static int64_t responses_left(void)
{
    pt_store_error err;
    pt_store *st = pt_store_open_sqlite(dir, &err);
    assert_non_null(st);
    pt_store_response r;
    int rc = pt_store_response_get(st, "resp_old", 0, &r);
    pt_store_response_release(&r);
    pt_store_close(st);
    return rc == 0 ? 1 : 0;
}

static void expired_responses_are_pruned_by_the_thread(void **state)
{
    start(1000, 100); /* kept one second, pruned every 100 ms */
    assert_int_equal(pt_resp_store_put("resp_old", "", "m", PT_SLICE_LIT("[]"), PT_SLICE_LIT("{}")), 0);
    int left = 1;
    for (int i = 0; i < 60 && left; i++) { /* up to 3 s: expiry is counted in whole seconds */
        usleep(50000);
        left = (int)responses_left();
    }
    assert_int_equal(left, 0);
    stop();
}

int main(void)
{
    pt_log_set_level(PT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_write_is_read_back_in_order_and_deleted_by_its_owner),
        cmocka_unit_test(an_answer_over_max_size_is_not_kept),
        cmocka_unit_test(expired_responses_are_pruned_by_the_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
