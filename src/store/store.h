/* store.h: the control-plane store. Every object the admin side keeps (teams, users, tokens,
 * services, APIs, consumers, keys, subscriptions, policies, audit) is read and written here, and only
 * here; no other module talks to a database.
 *
 * The interface is backend-neutral: objects travel as jansson objects whose members are the
 * columns described in store_schema.h, validated here before any backend sees them. A
 * backend (SQLite, PostgreSQL) implements the small vtable in store_backend.h.
 *
 * Threading: one pt_store handle belongs to one thread at a time. Calls block on disk, so
 * the event loop must never call them directly (use the thread pool or a dedicated thread).
 *
 * Errors: every call returns 0 or a negative PT_STORE_E* code; pt_store_last_error() then
 * says which field was at fault and why, in a message fit for an API client. */
#ifndef PT_STORE_STORE_H
#define PT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PT_STORE_ERR_MAP(X)                                                          \
    X(EINVAL,    -1, "invalid value")                                                \
    X(ENOTFOUND, -2, "not found")                                                    \
    X(ECONFLICT, -3, "conflicts with an existing object")                            \
    X(EREF,      -4, "refers to a missing object, or is still referred to")          \
    X(ESTALE,    -5, "the object changed since it was read")                         \
    X(EFULL,     -6, "disk full")                                                    \
    X(ECORRUPT,  -7, "the database is corrupt or not a database")                    \
    X(ENEWER,    -8, "the database schema is newer than this binary")                \
    X(EOPEN,     -9, "cannot open the database")                                     \
    X(EBUSY,     -10, "the database is locked by another writer")                    \
    X(EIO,       -11, "storage input/output error")                                  \
    X(ENOMEM,    -12, "out of memory")                                               \
    X(ETXN,      -13, "transaction misuse")                                        \
    X(EUNAVAIL,  -14, "the store's database server cannot be reached")

enum {
#define PT_STORE_ERR_ENUM(name, val, msg) PT_STORE_##name = (val),
    PT_STORE_ERR_MAP(PT_STORE_ERR_ENUM)
#undef PT_STORE_ERR_ENUM
};

const char *pt_store_strerror(int code);
/* "ECONFLICT" etc., for logs and JSON error codes. */
const char *pt_store_errname(int code);

typedef struct pt_store_error {
    int code;            /* 0 or PT_STORE_E* */
    char field[64];      /* the column at fault ("name", "team_id"), or "" */
    char message[256];   /* one sentence naming the field and the problem */
} pt_store_error;

typedef enum pt_store_kind {
    PT_KIND_TEAM,
    PT_KIND_USER,
    PT_KIND_TOKEN,         /* a user's API token (hashed) */
    PT_KIND_SERVICE,
    PT_KIND_API,
    PT_KIND_CONSUMER,
    PT_KIND_KEY,           /* a consumer's key (hashed) */
    PT_KIND_SUBSCRIPTION,
    PT_KIND_POLICY,        /* a limits or masking policy made through the admin API */
    PT_KIND_RELEASE,       /* a service's published, numbered, immutable release */
    PT_KIND_RELEASE_REQUEST, /* a publish waiting for (or decided by) a team admin */
    PT_KIND_AUDIT,         /* append-only: written by the store itself and pt_store_audit_append */
    PT_KIND_COUNT
} pt_store_kind;

typedef struct pt_store pt_store;

/* Opens (creating when missing) the SQLite store in data_dir: the directory is created with
 * mode 0700, the database file with 0600; WAL, foreign keys and a busy timeout are set and
 * pending migrations run. A database whose schema is newer than this binary is refused
 * (PT_STORE_ENEWER). Returns NULL with *err filled on failure. */
pt_store *pt_store_open_sqlite(const char *data_dir, pt_store_error *err);
/* Connects to the PostgreSQL database at url (postgres://user[:password]@host:port/db) and
 * runs pending migrations under an advisory lock, so several nodes starting at once
 * migrate it once. Messages never show the password. A lost connection is reconnected
 * with backoff by later calls; until then they fail with PT_STORE_EUNAVAIL. */
pt_store *pt_store_open_postgres(const char *url, pt_store_error *err);
/* Whether url is a postgres:// or postgresql:// URL naming a database; 0, or -1 with a
 * sentence in why. */
int pt_store_pg_url_check(const char *url, char *why, size_t cap);
/* url with its password (in the user part, or a password= parameter) replaced by "***":
 * what logs and messages show. Truncated to cap. */
void pt_store_pg_url_redact(const char *url, char *out, size_t cap);
/* PostgreSQL when url is set, else SQLite in data_dir. */
pt_store *pt_store_open(const char *data_dir, const char *url, pt_store_error *err);
void pt_store_close(pt_store *st);

/* "sqlite" or "postgres". */
const char *pt_store_backend_name(const pt_store *st);
/* Whether opening st migrated its schema, and from which version to which. */
bool pt_store_migrated(const pt_store *st, int *from, int *to);

/* Other nodes' writes, as they commit (PostgreSQL's LISTEN on a connection of its own).
 * open: NULL with a sentence in why when the server cannot be reached. wait: blocks up to
 * timeout_ms; 1 when writes were committed (*version the newest store version told),
 * 0 on timeout, -1 when the connection is lost (close it and open another), -2 when
 * wake_fd (-1 for none) became readable. */
typedef struct pt_store_watch pt_store_watch;
pt_store_watch *pt_store_watch_open(const char *url, char *why, size_t cap);
int pt_store_watch_wait(pt_store_watch *w, int wake_fd, int timeout_ms, int64_t *version);
void pt_store_watch_close(pt_store_watch *w);

/* The last call's error (code 0 after a success). Valid until the next call. */
const pt_store_error *pt_store_last_error(const pt_store *st);

/* The schema version this binary knows, and the one the open database has. */
int pt_store_schema_latest(void);
int pt_store_schema_version(pt_store *st, int *out);

/* A counter bumped by every committed write. A snapshot compiled at version v is stale as
 * soon as this reads more than v. */
int pt_store_version(pt_store *st, int64_t *out);

/* Explicit transactions. begin() takes the write lock at once; begin_read() gives a
 * consistent view for several reads (the snapshot compiler). Without them every write is
 * its own transaction. Inside one, a failing write is undone alone (the transaction stays
 * usable); commit() makes all of them durable at once and bumps the store version once. */
int pt_store_begin(pt_store *st);
int pt_store_begin_read(pt_store *st);
int pt_store_commit(pt_store *st);
int pt_store_rollback(pt_store *st);

/* Creates an object from the members of fields (see store_schema.h for names and types;
 * id, created_at, updated_at and version are managed and ignored on input). Every write
 * appends an audit record in the same transaction naming actor (NULL: "system"), with
 * before and after states whose secret columns are redacted. */
int pt_store_insert(pt_store *st, pt_store_kind kind, const json_t *fields, const char *actor,
                    int64_t *id_out);
/* Changes the members present in fields. if_version > 0 makes it conditional (ETag): a
 * different current version fails with PT_STORE_ESTALE. Immutable columns refuse change. */
int pt_store_update(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version,
                    const json_t *fields, const char *actor);
/* Deletes one object (its keys, APIs, subscriptions and tokens go with it); refused with
 * PT_STORE_EREF naming the referring column while other objects still need it. */
int pt_store_delete(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version,
                    const char *actor);

/* Writes bookkeeping columns of one object (a session's last_used_at) without an audit
 * record and without bumping the store version: nothing anyone configured changed. Outside
 * explicit transactions only. */
int pt_store_touch(pt_store *st, pt_store_kind kind, int64_t id, const json_t *fields);

/* Reads one object: *out is a new reference the caller decrefs. Secret columns are included
 * (the caller verifying a password needs them); pt_store_redact() removes them. */
int pt_store_get(pt_store *st, pt_store_kind kind, int64_t id, json_t **out);
/* Reads the one object whose unique column field (name, hash) equals value. */
int pt_store_find(pt_store *st, pt_store_kind kind, const char *field, const json_t *value,
                  json_t **out);

#define PT_STORE_PAGE_MAX 1000
#define PT_STORE_CURSOR_MAX 24

typedef struct pt_store_list_opts {
    const json_t *filter;     /* object of column -> value, all must equal; NULL for none */
    const char *cursor;       /* from a previous page, or NULL/"" for the first */
    unsigned limit;           /* 1..PT_STORE_PAGE_MAX; 0 means 100 */
    bool newest_first;        /* descending id order (the audit log's natural order) */
} pt_store_list_opts;

/* One page of objects in id order: *items is a new array; next_cursor is "" on the last
 * page, otherwise an opaque token for the following page. */
int pt_store_list(pt_store *st, pt_store_kind kind, const pt_store_list_opts *opts,
                  json_t **items, char next_cursor[PT_STORE_CURSOR_MAX]);

/* Appends one audit record of an action that is not a plain write (approve, login).
 * before/after may be NULL; their secrets are removed whatever the caller passed. */
int pt_store_audit_append(pt_store *st, const char *actor, const char *action,
                          pt_store_kind kind, int64_t object_id, const json_t *before,
                          const json_t *after);

/* The current release of a service: the published release with the highest number (releases
 * are only ever added, numbered in id order), as *out, a new reference; PT_STORE_ENOTFOUND
 * when the service has none. */
int pt_store_current_release(pt_store *st, int64_t service_id, json_t **out);

/* Removes, recursively, every member that can hold a secret (password hashes, key and
 * token hashes, passwords, keys, tokens), replacing it with "[redacted]". */
void pt_store_redact(json_t *obj);

/* The store's rule for text: strict UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) without NUL bytes. Anything else is refused, never stored. */
bool pt_store_text_ok(const void *text, size_t n);

/* Lower-case hex of n bytes into out (2n + 1 bytes): how HASH columns are exchanged. */
void pt_store_hex(const unsigned char *in, size_t n, char *out);

/* The node registry. Each node writes its own row (insert or replace, last_seen = now)
 * every heartbeat; it is not a write of the store: no version bump, no audit, no
 * recompiles. */
typedef struct pt_store_node {
    const char *id;               /* unique in the cluster */
    const char *address;          /* the gateway's first listener */
    const char *admin_address;    /* NULL when the admin API is off */
    const char *version;          /* the binary's */
    const char *health;           /* "ok", "stale" (its last compile failed), "stopped" */
    int64_t store_version;        /* the store version of the snapshot it serves */
    int64_t started_at;           /* Unix seconds */
    int64_t beat_ms;              /* how often it beats: alive while last_seen is recent */
} pt_store_node;
int pt_store_node_beat(pt_store *st, const pt_store_node *n);
/* Every node as an object of the members above plus schema_version and last_seen, by id:
 * *items is a new array. */
int pt_store_nodes(pt_store *st, json_t **items);

/* Responses kept for the OpenAI Responses API (`responses:` in the configuration). They are
 * data, not configuration: no version bump, no audit record, no snapshot, and
 * pt_store_copy leaves them behind. Every text is checked like any stored text. */
typedef struct pt_store_response {
    char *id;                     /* "resp_..." (unique) */
    char *consumer;               /* the owner: a consumer's name, "" for calls without a key */
    int64_t created_at, expires_at; /* Unix seconds */
    char *model;                  /* the public model name the client asked for */
    char *input;                  /* JSON array text: the input items the answer was made from */
    char *response;               /* JSON object text: the response object */
} pt_store_response;
/* Inserts r; PT_STORE_ECONFLICT (field "id") when the id is taken. Outside transactions. */
int pt_store_response_put(pt_store *st, const pt_store_response *r);
/* The response id unless it expired by now: *out's strings are the caller's
 * (pt_store_response_release). PT_STORE_ENOTFOUND otherwise. */
int pt_store_response_get(pt_store *st, const char *id, int64_t now, pt_store_response *out);
void pt_store_response_release(pt_store_response *r);
/* Deletes the response id of consumer; PT_STORE_ENOTFOUND when there is none of theirs. */
int pt_store_response_delete(pt_store *st, const char *id, const char *consumer);
/* Deletes every response expired by now; *removed says how many. */
int pt_store_response_prune(pt_store *st, int64_t now, int64_t *removed);

/* Copies every object of from into to (PostgreSQL) in one transaction of to: ids, times and
 * versions kept, id sequences advanced, the audit log with them; the registry is not copied.
 * A target holding any object is refused (PT_STORE_ECONFLICT) unless replace, which empties
 * it first. counts[kind] says how many of each were copied. The commit bumps to's version,
 * so nodes running on it compile the copy. */
int pt_store_copy(pt_store *from, pt_store *to, bool replace, int64_t counts[PT_KIND_COUNT]);

/* Full integrity check of the database (SQLite: PRAGMA integrity_check). */
int pt_store_check(pt_store *st);

/* Bulk reads for the snapshot compiler, in id order. Strings and the hash are valid only
 * during the callback; a callback returning non-zero stops the scan with that value. */
typedef struct pt_store_consumer_row {
    int64_t id, team_id;
    const char *name;
} pt_store_consumer_row;

typedef struct pt_store_key_row {
    int64_t id, consumer_id;
    const char *prefix;
    const uint8_t *hash;          /* 32 bytes, SHA-256 of the key */
    int64_t expires_at;           /* Unix seconds, 0 when it never expires */
    int64_t revoked_at;           /* Unix seconds, 0 when not revoked */
    const char *allowed_models;   /* JSON array text, or NULL for every model */
} pt_store_key_row;

typedef struct pt_store_sub_row {
    int64_t id, consumer_id, service_id;
    const char *state;            /* pending | active | rejected (cancelled ones are skipped) */
} pt_store_sub_row;

typedef int (*pt_store_consumer_cb)(void *ctx, const pt_store_consumer_row *row);
typedef int (*pt_store_key_cb)(void *ctx, const pt_store_key_row *row);
typedef int (*pt_store_sub_cb)(void *ctx, const pt_store_sub_row *row);
typedef int (*pt_store_obj_cb)(void *ctx, json_t *obj);

int pt_store_scan_consumers(pt_store *st, pt_store_consumer_cb cb, void *ctx);
int pt_store_scan_keys(pt_store *st, pt_store_key_cb cb, void *ctx);
int pt_store_scan_subscriptions(pt_store *st, pt_store_sub_cb cb, void *ctx);
/* Every object of a small kind (services, APIs) as JSON; the callback borrows obj. */
int pt_store_scan(pt_store *st, pt_store_kind kind, pt_store_obj_cb cb, void *ctx);

#endif
