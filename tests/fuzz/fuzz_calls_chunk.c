/* fuzz_calls_chunk.c: the call log's chunks (logs/calls_chunk.c) read back through the
 * virtual table `calls`, from arbitrary bytes as a damaged file could hold them: the first
 * byte picks how the chunk's header and filter are made, the rest is its records' blob.
 * Beyond not crashing: every row read has an id within the chunk's and columns of the
 * types their layout gives; and records encoded from the same bytes read back equal. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "logs/calls_db.h"

static const char schema[] =
    "CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_ms INTEGER);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, min_ms INTEGER NOT NULL,"
    " max_ms INTEGER NOT NULL, n INTEGER NOT NULL);"
    "CREATE TABLE chunk_keys(id INTEGER PRIMARY KEY, keys BLOB NOT NULL);"
    "CREATE TABLE chunk_recs(id INTEGER PRIMARY KEY, recs BLOB NOT NULL);";

static sqlite3 *db;
static sqlite3_stmt *ins[3], *all, *by_consumer;

static void setup(void)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || pt_calls_vtab_register(db) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    for (int i = 0; i < 3; i++)
        if (sqlite3_prepare_v2(db, pt_calls_chunk_sql[i], -1, &ins[i], NULL) != SQLITE_OK) abort();
    if (sqlite3_prepare_v2(db, "SELECT * FROM calls ORDER BY id DESC", -1, &all, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, consumer_id, request_id FROM calls WHERE consumer_id = ?1 AND time_ms >= ?2 "
                               "ORDER BY id",
                           -1, &by_consumer, NULL) != SQLITE_OK)
        abort();
}

static void check_rows(sqlite3_stmt *st, int64_t lo, int64_t hi)
{
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (id < lo || id > hi) __builtin_trap();
        int n = sqlite3_column_count(st);
        for (int i = 1; i < n && i < PT_CALLS_NCOLS; i++) {
            int t = sqlite3_column_type(st, i);
            if (t == SQLITE_NULL) continue;
            if ((t == SQLITE_TEXT) != (pt_calls_col_kind(i) == PT_CALLS_TEXT) && n == PT_CALLS_NCOLS + 1) __builtin_trap();
        }
    }
    sqlite3_reset(st);
}

/* Records made from the bytes, encoded, stored and read back: each column as given. */
static void round_trip(const uint8_t *data, size_t size)
{
    pt_calls_chunk c = { 0 };
    pt_calls_chunk_reset(&c);
    pt_calls_val v[4][PT_CALLS_NCOLS];
    int64_t id = 1000 << PT_CALLS_SEQ_BITS;
    int k = 0;
    size_t at = 0;
    for (; k < 4 && at < size; k++) {
        id += 1 + data[at] % 7;
        v[k][PT_CALLS_COL_id] = (pt_calls_val){ .type = PT_CALLS_INT, .i = id };
        v[k][PT_CALLS_COL_time_ms] = (pt_calls_val){ .type = PT_CALLS_INT, .i = (id >> PT_CALLS_SEQ_BITS) - data[at] % 3 };
        for (int i = 2; i < PT_CALLS_NCOLS; i++) {
            uint8_t b = at < size ? data[at++] : 0;
            if (b % 3 == 0) v[k][i] = (pt_calls_val){ .type = PT_CALLS_NULL };
            else if (pt_calls_col_kind(i) == PT_CALLS_INT) v[k][i] = (pt_calls_val){ .type = PT_CALLS_INT, .i = (int64_t)b * 77777 - 9000000 };
            else v[k][i] = (pt_calls_val){ .type = PT_CALLS_TEXT, .s = (const char *)data + at, .n = size - at < b % 9 ? size - at : b % 9u };
        }
        /* handed over whole, or without some of its NULL columns (as the writer does) */
        pt_calls_val list[PT_CALLS_NCOLS];
        int n = 0;
        for (int i = 0; i < PT_CALLS_NCOLS; i++) {
            v[k][i].col = (uint16_t)i;
            if (v[k][i].type != PT_CALLS_NULL || (id + i) % 2) list[n++] = v[k][i];
        }
        if (pt_calls_chunk_add(&c, list, n) != 0) abort();
    }
    sqlite3_exec(db, "DELETE FROM chunks; DELETE FROM chunk_keys; DELETE FROM chunk_recs", NULL, NULL, NULL);
    if (k && pt_calls_chunk_write(ins, &c) != SQLITE_OK) __builtin_trap();
    pt_calls_chunk_free(&c);
    int r = k;
    while (sqlite3_step(all) == SQLITE_ROW) {
        if (--r < 0) __builtin_trap();
        const pt_calls_val *x = v[r];
        for (int i = 0; i < PT_CALLS_NCOLS; i++) {
            int t = sqlite3_column_type(all, i);
            if ((x[i].type == PT_CALLS_NULL) != (t == SQLITE_NULL)) __builtin_trap();
            if (x[i].type == PT_CALLS_INT && sqlite3_column_int64(all, i) != x[i].i) __builtin_trap();
            if (x[i].type == PT_CALLS_TEXT && ((size_t)sqlite3_column_bytes(all, i) != x[i].n ||
                                               (x[i].n && memcmp(sqlite3_column_blob(all, i), x[i].s, x[i].n) != 0)))
                __builtin_trap();
        }
    }
    sqlite3_reset(all);
    if (r != 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db) setup();
    if (size < 1) return 0;
    round_trip(data + 1, size - 1);
    int64_t first = (int64_t)(data[0] & 0x0f) << 20, last = first + ((int64_t)(data[0] >> 4) << 16);
    sqlite3_exec(db, "DELETE FROM chunks; DELETE FROM chunk_keys; DELETE FROM chunk_recs", NULL, NULL, NULL);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO chunks VALUES(?1, ?2, 0, 9000000000000, 1);"
                               , -1, &st, NULL) != SQLITE_OK) abort();
    sqlite3_bind_int64(st, 1, first);
    sqlite3_bind_int64(st, 2, last);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO chunk_recs VALUES(?1, ?2)", -1, &st, NULL) != SQLITE_OK) abort();
    sqlite3_bind_int64(st, 1, first);
    sqlite3_bind_blob(st, 2, data + 1, (int)(size - 1), SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (data[0] & 1) { /* a filter of the blob's first bytes too */
        if (sqlite3_prepare_v2(db, "INSERT INTO chunk_keys VALUES(?1, ?2)", -1, &st, NULL) != SQLITE_OK) abort();
        sqlite3_bind_int64(st, 1, first);
        sqlite3_bind_blob(st, 2, data + 1, (int)((size - 1) < 64 ? size - 1 : 64), SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    check_rows(all, first, last);
    sqlite3_bind_int64(by_consumer, 1, data[0] % 5);
    sqlite3_bind_int64(by_consumer, 2, data[0] * 1000);
    check_rows(by_consumer, first, last);
    return 0;
}
