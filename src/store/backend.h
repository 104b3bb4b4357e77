/* backend.h: what a storage backend implements (sqlite.c, postgres.c). The front
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
    /* the registry (store.h): one upsert with PT__STORE_NODE_UPSERT's parameters; every row
     * of PT__STORE_NODE_LIST appended to items as an object named by its columns */
    int (*node_beat)(pt_store *st, const pt_store_node *n, int schema_version, int64_t now);
    int (*nodes)(pt_store *st, json_t *items);
    /* stored responses (store.h), with the PT__STORE_RESP_* statements: put returns
     * PT_STORE_ECONFLICT when the id is taken; get fills out (malloc'd strings) or returns
     * PT_STORE_ENOTFOUND; delete and prune say how many rows went in *n */
    int (*resp_put)(pt_store *st, const pt_store_response *r);
    int (*resp_get)(pt_store *st, const char *id, pt_store_response *out);
    int (*resp_delete)(pt_store *st, const char *id, const char *consumer, int64_t *n);
    int (*resp_prune)(pt_store *st, int64_t now, int64_t *n);
    /* pt_store_copy's target side (NULL where a backend cannot be one): every row of every
     * kind removed; one row inserted as read, managed columns and id included; id
     * sequences moved past last_id (an id is never handed out twice) */
    int (*clear)(pt_store *st);
    int (*load)(pt_store *st, pt_store_kind kind, const json_t *row);
    int (*loaded)(pt_store *st, const int64_t last_id[PT_KIND_COUNT]);
    /* the source side: the highest id kind ever handed out (deleted ones too), 0 for none */
    int (*last_id)(pt_store *st, pt_store_kind kind, int64_t *out);
} pt__store_backend;

/* The registry's statements, the same text for both backends ($n parameters in order). */
#define PT__STORE_NODE_UPSERT                                                                           \
    "INSERT INTO nodes (id, address, admin_address, version, store_version, schema_version, health, "    \
    "started_at, last_seen, beat_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "                  \
    "ON CONFLICT (id) DO UPDATE SET address = excluded.address, admin_address = excluded.admin_address, " \
    "version = excluded.version, store_version = excluded.store_version, "                              \
    "schema_version = excluded.schema_version, health = excluded.health, started_at = excluded.started_at, " \
    "last_seen = excluded.last_seen, beat_ms = excluded.beat_ms"
#define PT__STORE_NODE_LIST                                                                             \
    "SELECT id, address, admin_address, version, store_version, schema_version, health, started_at, "    \
    "last_seen, beat_ms FROM nodes ORDER BY id"
/* Stored responses, the same text for both backends. */
#define PT__STORE_RESP_PUT                                                                              \
    "INSERT INTO responses (id, consumer, created_at, expires_at, model, input, response) "              \
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id"
#define PT__STORE_RESP_GET                                                                              \
    "SELECT consumer, created_at, expires_at, model, input, response FROM responses WHERE id = $1"
#define PT__STORE_RESP_DELETE "DELETE FROM responses WHERE id = $1 AND consumer = $2 RETURNING id"
#define PT__STORE_RESP_PRUNE "DELETE FROM responses WHERE expires_at <= $1 RETURNING id"
/* Which of PT__STORE_NODE_LIST's columns are integers (the others are text, maybe null). */
#define PT__STORE_NODE_INT_COL(i) ((i) == 4 || (i) == 5 || (i) >= 7)

/* The front's part of every handle; a backend embeds it first in its own struct. */
struct pt_store {
    const pt__store_backend *be;
    int depth;                /* 0 outside a transaction, 1 inside one */
    bool explicit_txn;        /* begun by the caller, not by one write */
    bool dirty;               /* a write happened in the open transaction */
    int migrated_from, migrated_to; /* what opening it migrated (equal when nothing) */
    pt_store_error err;
};

/* Records an error on st and returns code. field may be NULL; fmt is printf-like. */
int pt__store_fail(pt_store *st, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Bit c set when obj has a member for column c of kind (at most 30 columns per kind): which
 * columns a write or a filter names. */
uint32_t pt__store_column_mask(pt_store_kind kind, const json_t *obj);

/* Parses a HASH column's hex (exactly 2n lower-case digits); 0 or -1. */
int pt__store_unhex(const char *in, size_t len, unsigned char *out, size_t n);

#endif
