/* Unit test for store/ under kill -9: a child commits batches of writes and reports each
 * batch after its commit returns; the parent kills it mid-burst, reopens the store and
 * checks integrity, that every reported batch is there, and that no batch is half there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "store/store_fixture.h"

enum { BATCH = 3, REPORTS_BEFORE_KILL = 150 };

static void batch_name(char *buf, size_t cap, int batch, int j) { snprintf(buf, cap, "b%d-%d", batch, j); }

/* The child: its own handle on the same directory, writing until killed. */
static void writer(const char *dir, int fd)
{
    pt_store_error err;
    pt_store *st = pt_store_open_sqlite(dir, &err);
    if (!st) _exit(2);
    for (int batch = 0;; batch++) {
        if (pt_store_begin(st) != 0) _exit(3);
        for (int j = 0; j < BATCH; j++) {
            char name[32];
            batch_name(name, sizeof name, batch, j);
            json_t *o = json_pack("{s:s}", "name", name);
            int64_t id;
            if (pt_store_insert(st, PT_KIND_TEAM, o, "crash", &id) != 0) _exit(4);
            json_decref(o);
        }
        if (pt_store_commit(st) != 0) _exit(5);
        if (write(fd, &batch, sizeof batch) != sizeof batch) _exit(6);
    }
}

static int present(pt_store *st, int batch)
{
    int n = 0;
    for (int j = 0; j < BATCH; j++) {
        char name[32];
        batch_name(name, sizeof name, batch, j);
        json_t *v = json_string(name), *o = NULL;
        if (pt_store_find(st, PT_KIND_TEAM, "name", v, &o) == 0) n++;
        json_decref(o);
        json_decref(v);
    }
    return n;
}

static void committed_batches_survive_kill_9(void **state)
{
    fixture *f = *state;
    pt_store_close(f->st);
    f->st = NULL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        writer(f->dir, p[1]);
    }
    close(p[1]);
    int last = -1, batch;
    while (last + 1 < REPORTS_BEFORE_KILL && read(p[0], &batch, sizeof batch) == sizeof batch) last = batch;
    kill(pid, SIGKILL);
    /* reports already in the pipe were committed too */
    while (read(p[0], &batch, sizeof batch) == sizeof batch) last = batch;
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_true(last + 1 >= REPORTS_BEFORE_KILL);

    pt_store_error err;
    f->st = pt_store_open_sqlite(f->dir, &err);
    assert_non_null(f->st);
    assert_int_equal(pt_store_check(f->st), 0);
    for (int b = 0; b <= last; b++) assert_int_equal(present(f->st, b), BATCH);
    /* the batch in flight at the kill is all there or not there at all */
    int n = present(f->st, last + 1);
    assert_true(n == 0 || n == BATCH);
    assert_int_equal(present(f->st, last + 2), 0);
    int64_t v;
    assert_int_equal(pt_store_version(f->st, &v), 0);
    assert_int_equal(v, last + 1 + (n == BATCH));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(committed_batches_survive_kill_9, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
