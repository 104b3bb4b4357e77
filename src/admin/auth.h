/* auth.h: who calls the admin API and how they sign in: a bearer token or the console's
 * session cookie checked (with the session's CSRF token on writes), POST /tokens (a
 * password for a token), one token read or deleted, /sessions (sign in, who is signed in,
 * sign out), and the first start's admin user and token. The rules are docs/ADMIN.md's;
 * session.h holds the parts that need no store. Sessions and tokens are user_tokens rows
 * (kind "session" or "token"), kept hashed. */
#ifndef PT_ADMIN_AUTH_H
#define PT_ADMIN_AUTH_H

#include "admin/api.h"

/* The authenticated caller. */
typedef struct pt__admin_who {
    json_t *user;          /* the user's row (owned; pt__admin_who_release), NULL before */
    int64_t user_id, team;
    pt_admin_role role;
    const char *actor;     /* the user's name (inside user): the audit's actor */
    int64_t session_id;    /* the console session the caller came with, 0 for a bearer token */
    char session_secret[64];
    int64_t session_expires;
} pt__admin_who;

void pt__admin_who_release(pt__admin_who *who);

/* Fills who from rq's bearer token, else its session cookie. 0, or -1 with the answer in e
 * (401, 403 for a write without the session's CSRF token, 503 when the store is away) and
 * out's WWW-Authenticate or Set-Cookie (forgetting an ended session) set. */
int pt__admin_authenticate(pt_admin_api *api, const pt_admin_req *rq, pt__admin_who *who, pt_admin_resp *out,
                           pt_admin_err *e);

/* POST /tokens {"user","password"}: a new bearer token; no credential needed beyond them. */
void pt__admin_login(pt_admin_api *api, const pt_admin_req *rq, pt_admin_resp *out, pt_admin_err *e);

/* GET and DELETE /tokens/{seg} for the authenticated who (an admin: any token; anyone
 * else: their own). */
void pt__admin_token(pt_admin_api *api, const pt_admin_req *rq, const pt__admin_who *who, const char *seg,
                     pt_admin_resp *out, pt_admin_err *e);

/* /sessions (POST: sign in) and /sessions/current (GET: who is signed in; DELETE: sign
 * out); seg and nseg are the path's segments from "sessions". */
void pt__admin_sessions(pt_admin_api *api, const pt_admin_req *rq, char **seg, int nseg, pt_admin_resp *out,
                        pt_admin_err *e);

/* First start: when the store has no user, creates "admin" (role admin) with a random
 * password nobody sees, and a token written to data_dir/admin-token (mode 0600). Returns
 * 0 (also when there was nothing to do), or -1 with a sentence in why. *created says
 * whether it did. */
int pt_admin_bootstrap(pt_store *st, const char *data_dir, bool *created, char *why, size_t cap);

#endif
