/* authz.h: the admin API's pure helpers: who may do what (roles against an object's
 * team), and the checks every request goes through before the store sees it (JSON body
 * shape and depth, unknown fields, If-Match, path segments, query parameters). Nothing
 * here touches the store or the network, so all of it is unit-tested on its own. */
#ifndef PT_ADMIN_AUTHZ_H
#define PT_ADMIN_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

typedef enum pt_admin_role {
    PT_ROLE_NONE = -1,
    PT_ROLE_ADMIN,        /* everything, every team */
    PT_ROLE_TEAM_ADMIN,   /* everything in its own team, approvals included; no teams, no audit */
    PT_ROLE_DEVELOPER,    /* its team's services and APIs */
    PT_ROLE_CONSUMER,     /* its team's consumers, keys and subscriptions */
} pt_admin_role;

typedef enum pt_admin_act { PT_ACT_READ, PT_ACT_WRITE, PT_ACT_APPROVE } pt_admin_act;

/* HIDDEN answers 404 (another team's object: its existence is not revealed), FORBIDDEN
 * 403 (the caller can see the object but its role may not do this). */
typedef enum pt_authz { PT_AUTHZ_OK, PT_AUTHZ_HIDDEN, PT_AUTHZ_FORBIDDEN } pt_authz;

pt_admin_role pt_admin_role_parse(const char *s);

/* May a user of role, in team user_team (0: none), act on an object of kind that belongs
 * to obj_team (0: no team, e.g. an admin user)? Visibility is checked first, then the
 * role: a non-admin never learns about another team's objects. */
pt_authz pt_admin_authorize(pt_admin_role role, int64_t user_team, pt_store_kind kind, pt_admin_act act,
                            int64_t obj_team);

/* An error answer: status, a stable code, the field at fault ("" for none), a sentence. */
typedef struct pt_admin_err {
    int status;
    const char *code;
    char field[64];
    char message[256];
} pt_admin_err;

int pt_admin_fail(pt_admin_err *e, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define PT_ADMIN_MAX_DEPTH 32

/* Parses a request body: a JSON object of valid UTF-8, without duplicate keys or NUL
 * characters, nested at most PT_ADMIN_MAX_DEPTH deep. NULL with e filled (400) otherwise. */
json_t *pt_admin_parse_body(const char *data, size_t n, pt_admin_err *e);

/* Refuses (400, naming it) the first member of obj not in allowed (NULL-terminated). */
int pt_admin_known_fields(const json_t *obj, const char *const *allowed, pt_admin_err *e);

/* If-Match: "\"7\"", "W/\"7\"" or "7" -> 7; "*" and absent -> 0 (unconditional); -1 when
 * it is not one of these. */
int64_t pt_admin_if_match(const char *v, size_t n);

#define PT_ADMIN_MAX_SEGS 6

/* Splits "/admin/v1/a/b" into {"a","b"} (copies into buf, NUL-terminated segments).
 * Returns the count, or -1 when the path is not under /admin/v1/, has an empty segment,
 * too many, or a byte outside [A-Za-z0-9._-] (percent-encoding included: names never
 * need it). */
int pt_admin_split_path(const char *path, size_t n, char *buf, size_t cap, char *segs[PT_ADMIN_MAX_SEGS]);

/* The value of query parameter name (copied, at most cap-1 bytes, no decoding), or false
 * when absent. */
bool pt_admin_query(const char *q, size_t n, const char *name, char *out, size_t cap);

/* "42" -> 42; anything else (names, signs, overflow) -> 0. */
int64_t pt_admin_parse_id(const char *s);

#endif
