/* snapshot.h: the compiled control snapshot, what the request path knows about keys,
 * consumers, teams, subscriptions, services, APIs and policies. It is read from the store once, in
 * one read transaction, and never changes afterwards; workers read it without locks.
 *
 * Lifecycle mirrors the configuration snapshot (gateway/config.h): pt_snapshot_compile()
 * builds one with a single reference; pt_snapshot_publish() makes it current; a worker takes
 * a counted reference per request with pt_snapshot_current() and drops it with
 * pt_snapshot_release(); the last release frees it, so a swap never pulls a snapshot from
 * under a request. store_version says which store state it shows: when
 * pt_store_version() reads higher, it is stale and a new one should be compiled.
 *
 * Key lookup is one probe sequence in an open-addressing table keyed by the key's SHA-256
 * (whose bytes are already uniform, so they are the hash). */
#ifndef PT_CONTROL_SNAPSHOT_H
#define PT_CONTROL_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/cred.h"
#include "store/store.h"

typedef enum pt_snap_key_status {
    PT_SNAP_KEY_OK,
    PT_SNAP_KEY_UNKNOWN,     /* no such key: 401 */
    PT_SNAP_KEY_REVOKED,     /* 401 saying so */
    PT_SNAP_KEY_EXPIRED,     /* 401 saying so */
} pt_snap_key_status;

typedef enum pt_snap_sub_state {
    PT_SNAP_SUB_NONE,        /* never subscribed, or cancelled: "not subscribed" */
    PT_SNAP_SUB_PENDING,     /* "pending approval" */
    PT_SNAP_SUB_ACTIVE,
    PT_SNAP_SUB_REJECTED,
} pt_snap_sub_state;

#define PT_SNAP_ALL_MODELS UINT32_MAX

typedef struct pt_snap_key {
    uint8_t hash[PT_CRED_HASH_LEN];
    int64_t id;
    int64_t expires_at;          /* Unix seconds; 0 never */
    int64_t revoked_at;          /* Unix seconds; 0 not revoked */
    uint32_t consumer;           /* index into consumers */
    uint32_t models;             /* first index into model_names, or PT_SNAP_ALL_MODELS (the
                                    store has null); an empty list allows no model */
    uint32_t nmodels;
    char prefix[PT_CRED_PREFIX_LEN + 1];
} pt_snap_key;

typedef struct pt_snap_sub {
    int64_t service_id;
    int64_t id;
    pt_snap_sub_state state;
} pt_snap_sub;

typedef struct pt_snap_consumer {
    int64_t id;
    uint32_t team;               /* index into teams, or UINT32_MAX when unknown */
    uint32_t name;               /* offset into strings */
    uint32_t subs, nsubs;        /* range of subs, sorted by service_id */
} pt_snap_consumer;

typedef struct pt_snap_team {
    int64_t id;
    char *name;
} pt_snap_team;

/* Services and APIs carry their JSON members as compact JSON text for the layers that
 * build routes from them; NULL where the store has null. A service with a release shows
 * its current release's members and APIs (those APIs have id 0), not its rows: edits after
 * a release are a draft until the next one. */
typedef struct pt_snap_service {
    int64_t id, team_id;
    char *name, *kind, *approval, *lb, *origin;
    char *targets, *models, *timeouts, *health;
    bool read_only;
} pt_snap_service;

typedef struct pt_snap_api {
    int64_t id, service_id;
    uint32_t service;            /* index into services */
    char *name, *path_prefix, *auth, *rewrite, *key_header, *key_query;
    char *methods;
    char *lifecycle;             /* JSON object text, or NULL */
    char *match_headers;         /* JSON object text (header name -> value), or NULL */
    char *openapi;               /* the imported operations (admin/oas.h) as JSON text, or NULL */
    bool validate;               /* requests are checked against openapi (gateway/validate_gate.h) */
} pt_snap_api;

/* A policy made through the admin API: spec is its members but the name, as compact JSON
 * text, loaded with the file's `policies:` by the same key tables. */
typedef struct pt_snap_policy {
    int64_t id, team_id;
    char *name, *spec;
    char *service;               /* the service whose releases hold it (pt_policy_spec_of_service), or NULL */
} pt_snap_policy;

/* Whether a stored policy's spec (its members but the name) applies to the service named
 * service: `applies_to: {service}` naming it, or `{route}` naming one of its APIs
 * ("service/api"). Such policies are part of the service's releases. */
bool pt_policy_spec_of_service(const json_t *spec, const char *service);

typedef struct pt_snapshot {
    _Atomic long refs;
    int64_t store_version;
    pt_snap_team *teams;            size_t nteams;       /* sorted by id */
    pt_snap_consumer *consumers;    size_t nconsumers;   /* sorted by id */
    pt_snap_key *keys;              size_t nkeys;
    uint32_t *slots;                size_t slot_mask;    /* key index + 1, 0 empty */
    pt_snap_sub *subs;              size_t nsubs;
    uint32_t *model_names;          size_t nmodel_names; /* offsets into strings */
    char *strings;                  size_t strings_len;
    pt_snap_service *services;      size_t nservices;    /* sorted by id */
    pt_snap_api *apis;              size_t napis;        /* sorted by id */
    pt_snap_policy *policies;       size_t npolicies;    /* sorted by id */
} pt_snapshot;

/* Reads everything in one read transaction of st (which must have no transaction open).
 * Returns NULL with *err filled (the store's error, or PT_STORE_ENOMEM) on failure. */
pt_snapshot *pt_snapshot_compile(pt_store *st, pt_store_error *err);

/* Patching: one object of kind (a key, a subscription or a consumer; see patchable) changed
 * in the store, so the new snapshot is old with that object read again, applied to a copy
 * in memory: milliseconds where a compile of a large store takes hundreds. store_version is
 * what the store says now, which must be old's plus that one write. NULL when the change
 * cannot be patched (the object is gone, a consumer it does not know, out of memory): then
 * compile. */
bool pt_snapshot_patchable(int kind);
pt_snapshot *pt_snapshot_patch(const pt_snapshot *old, pt_store *st, int kind, int64_t id, int64_t store_version);

pt_snapshot *pt_snapshot_acquire(pt_snapshot *s);
void pt_snapshot_release(pt_snapshot *s);
/* publish() takes over the caller's reference and releases the previous snapshot;
 * publish(NULL) at exit drops the last. current() returns a counted reference (NULL before
 * the first publish) and is safe against a concurrent publish. */
void pt_snapshot_publish(pt_snapshot *s);
pt_snapshot *pt_snapshot_current(void);

/* The key with this SHA-256, or NULL. */
const pt_snap_key *pt_snapshot_key(const pt_snapshot *s, const uint8_t hash[PT_CRED_HASH_LEN]);
/* Looks a presented key up and says whether it may be used at now (Unix seconds); *out is
 * the key whenever it exists, also when revoked or expired (the 401 names its prefix). */
pt_snap_key_status pt_snapshot_check_key(const pt_snapshot *s, const char *key, size_t len, int64_t now,
                                         const pt_snap_key **out);

const pt_snap_consumer *pt_snapshot_consumer(const pt_snapshot *s, const pt_snap_key *k);
const char *pt_snapshot_consumer_name(const pt_snapshot *s, const pt_snap_consumer *c);
/* The consumer's team name, or NULL. */
const char *pt_snapshot_team_name(const pt_snapshot *s, const pt_snap_consumer *c);
/* The name of the team with this id, or NULL. */
const char *pt_snapshot_team_by_id(const pt_snapshot *s, int64_t id);
/* The state of c's live subscription to service_id (NONE when there is none). */
pt_snap_sub_state pt_snapshot_subscription(const pt_snapshot *s, const pt_snap_consumer *c, int64_t service_id);
/* Whether key k may call model (every model when the key has no list). */
bool pt_snapshot_model_allowed(const pt_snapshot *s, const pt_snap_key *k, const char *model, size_t len);

const pt_snap_service *pt_snapshot_service(const pt_snapshot *s, int64_t id);
const pt_snap_service *pt_snapshot_service_by_name(const pt_snapshot *s, const char *name);

#endif
