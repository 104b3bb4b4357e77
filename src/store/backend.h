/* backend.h: what a storage backend implements (SQLite now, PostgreSQL later). The front
 * (store.c) has validated every value, checked references, opened the transaction or
 * savepoint and will write the audit record; a backend only runs statements and maps its
 * own errors onto PT_STORE_E* with pt__store_fail(). All values arrive as jansson values of
 * the column's type (HASH as 64 hex digits, JSON as any value, BOOL as true/false). */
#ifndef PT_STORE_BACKEND_H
#define PT_STORE_BACKEND_H

#include "store/schema.h"
#include "store/store.h"

typedef struct pt__store_backend {
    const char *name;
    void (*close)(pt_store *st);
    int (*schema_version)(pt_store *st, int *out);
    int (*version)(pt_store *st, int64_t *out);
    int (*bump_version)(pt_store *st);            /* inside the committing write transaction */

    /* begin(write): write=true takes the write lock at once. Savepoints nest inside. */
    int (*begin)(pt_store *st, bool write);
    int (*commit)(pt_store *st);
    int (*rollback)(pt_store *st);
    int (*savepoint)(pt_store *st);
    int (*release)(pt_store *st);
    int (*rollback_to)(pt_store *st);

    /* fields holds only known, valid, non-managed columns */
    int (*insert)(pt_store *st, pt_store_kind kind, const json_t *fields, int64_t now, int64_t *id);
    /* 0, or PT_STORE_ENOTFOUND / PT_STORE_ESTALE (if_version > 0 and different) */
    int (*update)(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version,
                  const json_t *fields, int64_t now);
    int (*remove)(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version);
    int (*get)(pt_store *st, pt_store_kind kind, int64_t id, json_t **out);
    int (*find)(pt_store *st, pt_store_kind kind, const pt_store_col *col, const json_t *value,
                json_t **out);
    /* rows of kind whose column col equals id (reference checks before a delete) */
    int (*count_refs)(pt_store *st, pt_store_kind kind, const pt_store_col *col, int64_t id,
                      int64_t *count);
    /* filter holds known columns only; after_id 0 starts at the beginning (or the end when
     * newest_first); up to limit objects are appended to items */
    int (*list)(pt_store *st, pt_store_kind kind, const json_t *filter, int64_t after_id,
                unsigned limit, bool newest_first, json_t *items);
    int (*scan)(pt_store *st, pt_store_kind kind, pt_store_obj_cb cb, void *ctx);
    int (*scan_consumers)(pt_store *st, pt_store_consumer_cb cb, void *ctx);
    int (*scan_keys)(pt_store *st, pt_store_key_cb cb, void *ctx);
    int (*scan_subscriptions)(pt_store *st, pt_store_sub_cb cb, void *ctx);
    int (*check)(pt_store *st);
} pt__store_backend;

/* The front's part of every handle; a backend embeds it first in its own struct. */
struct pt_store {
    const pt__store_backend *be;
    int depth;                /* 0 outside a transaction, 1 inside one */
    bool explicit_txn;        /* begun by the caller, not by one write */
    bool dirty;               /* a write happened in the open transaction */
    pt_store_error err;
};

/* Records an error on st and returns code. field may be NULL; fmt is printf-like. */
int pt__store_fail(pt_store *st, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses a HASH column's hex (exactly 2n lower-case digits); 0 or -1. */
int pt__store_unhex(const char *in, size_t len, unsigned char *out, size_t n);

#endif
