/* Unit tests for logs/calls_vfs.c: a connection writing through the VFS that gathers the
 * WAL's appends, read by another connection on the default VFS: every commit is seen whole
 * at once (small ones, ones larger than a write of the default VFS, ones larger than the
 * gathering buffer), a transaction that spilled frames and rolled back leaves nothing, a
 * gathered write that fails fails its commit and nothing else, the file checks whole
 * after a checkpoint and a reopening; and, at the level of the VFS's files, a commit's
 * frames are all in the file when the write of its last page returns, wherever the
 * gathering buffer fills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "logs/calls_vfs.h"

typedef struct fx {
    char dir[64], path[96];
    sqlite3 *w, *r;              /* the writer (the VFS), a reader (the default VFS) */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pt-vfs-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    assert_non_null(pt_calls_vfs_name());
    assert_int_equal(sqlite3_open_v2(f->path, &f->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, pt_calls_vfs_name()),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->w,
                                  "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                  "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB NOT NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(f->path, &f->r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sqlite3_close(f->r);
    sqlite3_close(f->w);
    char p[128];
    const char *suffix[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Row id's blob: n bytes that depend on id and their place. */
static void fill(unsigned char *b, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(id * 131 + i * 7 + (i >> 9));
}

/* Inserts rows [from, from + rows) of n bytes each in one transaction; commits or rolls back. */
static void insert(sqlite3 *db, int64_t from, int rows, size_t n, bool commit)
{
    unsigned char *b = malloc(n);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(id, b) VALUES(?1, ?2)", -1, &st, NULL), SQLITE_OK);
    for (int64_t id = from; id < from + rows; id++) {
        fill(b, n, id);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_blob(st, 2, b, (int)n, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, commit ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    free(b);
}

/* Checks, through db, that t holds exactly the rows [1, rows], each as insert() wrote it. */
static void check_rows(sqlite3 *db, int64_t rows)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, b FROM t ORDER BY id", -1, &st, NULL), SQLITE_OK);
    int64_t seen = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        unsigned char *want = malloc(n ? n : 1);
        fill(want, n, id);
        assert_int_equal(id, ++seen);
        assert_memory_equal(sqlite3_column_blob(st, 1), want, n);
        free(want);
    }
    sqlite3_finalize(st);
    assert_int_equal(seen, rows);
}

static void every_commit_is_seen_whole_by_another_connection(void **state)
{
    fx *f = *state;
    int64_t rows = 0;
    /* one small row; pages past one write of the default VFS (128 KiB); pages past the
     * gathering buffer (1 MiB) */
    const struct { int rows; size_t n; } rounds[] = { { 1, 100 }, { 20, 16000 }, { 100, 16000 }, { 3, 300000 } };
    for (size_t i = 0; i < sizeof rounds / sizeof *rounds; i++) {
        insert(f->w, rows + 1, rounds[i].rows, rounds[i].n, true);
        rows += rounds[i].rows;
        check_rows(f->r, rows);
    }
}

static void a_transaction_that_spilled_and_rolled_back_leaves_nothing(void **state)
{
    fx *f = *state;
    insert(f->w, 1, 5, 1000, true);
    /* a cache of a few pages: the transaction's pages spill into the WAL before its end */
    assert_int_equal(sqlite3_exec(f->w, "PRAGMA cache_size=4", NULL, NULL, NULL), SQLITE_OK);
    insert(f->w, 6, 200, 16000, false);
    check_rows(f->r, 5);
    insert(f->w, 6, 10, 20000, true);
    check_rows(f->r, 15);
    check_rows(f->w, 15);
}

static void integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* The commit's gathered write goes past the file size the process may write (as a full
 * disk would stop it): the commit fails, readers never see it, and the next one is stored. */
static void a_failed_gathered_write_fails_its_commit_and_nothing_else(void **state)
{
    fx *f = *state;
    insert(f->w, 1, 5, 1000, true);
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 20000; /* about one page more, not the commit's ten */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    unsigned char b[16000];
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_exec(f->w, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(f->w, "INSERT INTO t(id, b) VALUES(?1, ?2)", -1, &ins, NULL), SQLITE_OK);
    for (int64_t id = 6; id < 16; id++) {
        fill(b, sizeof b, id);
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_blob(ins, 2, b, (int)sizeof b, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    assert_int_not_equal(sqlite3_exec(f->w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    if (!sqlite3_get_autocommit(f->w)) sqlite3_exec(f->w, "ROLLBACK", NULL, NULL, NULL);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    check_rows(f->r, 5);
    check_rows(f->w, 5);
    insert(f->w, 6, 10, 16000, true);
    check_rows(f->r, 15);
    integrity_ok(f->r);
}

static void the_file_checks_whole_after_a_checkpoint_and_a_reopening(void **state)
{
    fx *f = *state;
    insert(f->w, 1, 50, 16000, true);
    assert_int_equal(sqlite3_exec(f->w, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL), SQLITE_OK);
    insert(f->w, 51, 50, 16000, true);
    check_rows(f->r, 100);
    sqlite3_close(f->r);
    sqlite3_close(f->w);
    f->r = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &f->w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    integrity_ok(f->w);
    check_rows(f->w, 100);
}

/* Frames written as SQLite writes them (a 24-byte header, then the page), the last one a
 * commit, through the VFS's own files: when the commit's page is written, every byte is in
 * the file (read through another descriptor), with transactions of 3 frames, of 64 (the
 * buffer of 1 MiB fills at the commit's page) and of 100 (it fills before). */
static void a_commit_is_in_the_file_when_its_last_write_returns(void **state)
{
    fx *f = *state;
    enum { PAGE = 16384, FRAME = 24 + PAGE };
    sqlite3_vfs *v = sqlite3_vfs_find(pt_calls_vfs_name());
    assert_non_null(v);
    char db_path[128];
    snprintf(db_path, sizeof db_path, "%s/raw.db", f->dir);
    char wal_path[136];
    snprintf(wal_path, sizeof wal_path, "%s-wal", db_path);
    sqlite3_filename name = sqlite3_create_filename(db_path, "", wal_path, 0, NULL);
    sqlite3_file *db = calloc(1, (size_t)v->szOsFile), *wal = calloc(1, (size_t)v->szOsFile);
    int out;
    assert_int_equal(v->xOpen(v, name, db, SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &out), SQLITE_OK);
    assert_int_equal(v->xOpen(v, sqlite3_filename_wal(name), wal, SQLITE_OPEN_WAL | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              &out),
                     SQLITE_OK);
    int fd = open(wal_path, O_RDONLY);
    assert_true(fd >= 0);
    unsigned char header[24], *page = malloc(PAGE), *got = malloc(FRAME);
    sqlite3_int64 off = 32;
    const int sizes[] = { 3, 64, 100 };
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++)
        for (int i = 0; i < sizes[t]; i++) {
            bool commit = i == sizes[t] - 1;
            memset(header, 0, sizeof header);
            header[3] = (unsigned char)(i + 1);          /* page number */
            header[7] = commit ? (unsigned char)sizes[t] : 0; /* the database's size after a commit */
            fill(page, PAGE, (int64_t)(t * 1000 + (size_t)i));
            assert_int_equal(wal->pMethods->xWrite(wal, header, sizeof header, off), SQLITE_OK);
            assert_int_equal(wal->pMethods->xWrite(wal, page, PAGE, off + 24), SQLITE_OK);
            off += FRAME;
            if (!commit) continue;
            /* every frame of this transaction, read back from the file */
            for (int j = 0; j < sizes[t]; j++) {
                sqlite3_int64 at = off - (sqlite3_int64)(sizes[t] - j) * FRAME;
                assert_int_equal(pread(fd, got, FRAME, at), FRAME);
                fill(page, PAGE, (int64_t)(t * 1000 + (size_t)j));
                assert_memory_equal(got + 24, page, PAGE);
                assert_int_equal(got[3], (unsigned char)(j + 1));
            }
        }
    close(fd);
    free(page);
    free(got);
    assert_int_equal(wal->pMethods->xClose(wal), SQLITE_OK);
    assert_int_equal(db->pMethods->xClose(db), SQLITE_OK);
    free(wal);
    free(db);
    sqlite3_free_filename(name);
    unlink(wal_path);
    unlink(db_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_commit_is_seen_whole_by_another_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(a_transaction_that_spilled_and_rolled_back_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_gathered_write_fails_its_commit_and_nothing_else, setup, teardown),
        cmocka_unit_test_setup_teardown(the_file_checks_whole_after_a_checkpoint_and_a_reopening, setup, teardown),
        cmocka_unit_test_setup_teardown(a_commit_is_in_the_file_when_its_last_write_returns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
