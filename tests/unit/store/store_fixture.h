/* store_fixture.h: a fresh store in a temporary data directory for each test, removed after. */
#ifndef TEST_STORE_FIXTURE_H
#define TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fixture {
    char dir[64];
    char url[192];    /* a PostgreSQL store's URL (test_store.c), "" for SQLite */
    pt_store *st;
} fixture;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pt-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    pt_store_error err;
    f->st = pt_store_open_sqlite(f->dir, &err);
    if (!f->st) { fprintf(stderr, "open: %s\n", err.message); return -1; }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    pt_store_close(f->st);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Inserts an object from a JSON literal and returns its id (fails the test otherwise). */
static inline int64_t must_insert(pt_store *st, pt_store_kind kind, const char *json)
{
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    if (!o) { fprintf(stderr, "bad test JSON: %s\n", jerr.text); abort(); }
    int64_t id = 0;
    int rc = pt_store_insert(st, kind, o, "test", &id);
    json_decref(o);
    if (rc) { fprintf(stderr, "insert %s: %s\n", json, pt_store_last_error(st)->message); abort(); }
    return id;
}

/* Inserts and returns the code (for the failing cases). */
static inline int try_insert(pt_store *st, pt_store_kind kind, const char *json)
{
    json_t *o = json_loads(json, 0, NULL);
    if (!o) abort();
    int64_t id;
    int rc = pt_store_insert(st, kind, o, "test", &id);
    json_decref(o);
    return rc;
}

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

#endif
