/* auth.c: who calls the admin API, sign-in, tokens, console sessions and the first admin
 * (see auth.h and docs/ADMIN.md). */
#include "admin/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/session.h"
#include "control/cred.h"

/* What one request knows while it authenticates or signs in. */
typedef struct actx {
    pt_admin_api *api;
    pt_store *st;
    const pt_admin_req *rq;
    pt_admin_resp *out;
    pt_admin_err *err;
    pt__admin_who *who;
} actx;

static int fail(actx *x, int status, const char *code, const char *field, const char *msg)
{
    return pt_admin_fail(x->err, status, code, field, "%s", msg);
}

static int store_fail(actx *x, int rc, bool creating) { return pt__admin_store_fail(x->st, rc, creating, x->err); }

static void answer(actx *x, int status, json_t *body, int64_t etag)
{
    x->out->status = status;
    x->out->body = body;
    x->out->etag = etag;
}

static json_t *body(actx *x) { return pt_admin_parse_body(x->rq->body, x->rq->body_len, x->err); }

static bool method_is(actx *x, const char *m) { return strcmp(x->rq->method, m) == 0; }

static void bad_method(actx *x) { fail(x, 405, "method_not_allowed", "", "this method is not allowed here"); }

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int64_t int_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *str_member(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

void pt__admin_who_release(pt__admin_who *who)
{
    json_decref(who->user);
    who->user = NULL;
}

/* ---- tokens ------------------------------------------------------------------------------- */

static int insert_token(pt_store *st, int64_t user_id, const char *actor, pt_cred_secret *tok, int64_t *id)
{
    if (pt_cred_generate(PT_CRED_TOKEN_SCHEME, tok) != 0) return PT_STORE_EIO;
    json_t *cols = json_pack("{s:I,s:s,s:s}", "user_id", (json_int_t)user_id, "prefix", tok->prefix, "hash",
                             tok->hash_hex);
    int rc = cols ? pt_store_insert(st, PT_KIND_TOKEN, cols, actor, id) : PT_STORE_ENOMEM;
    json_decref(cols);
    return rc;
}

/* Whether the sign-in brake lets key try now; else 429 naming the wait. */
static int brake_check(actx *x, uint64_t key)
{
    int64_t wait = x->api->brake ? pt_signin_wait(x->api->brake, key, now_s()) : 0;
    if (wait <= 0) return 0;
    x->out->retry_after = wait;
    return pt_admin_fail(x->err, 429, "too_many_attempts", "",
                         "too many failed sign-ins for this user from this address; try again in %lld s", (long long)wait);
}

static void brake_note(actx *x, uint64_t key, bool ok)
{
    if (!x->api->brake) return;
    if (ok) pt_signin_succeeded(x->api->brake, key);
    else pt_signin_failed(x->api->brake, key, now_s());
}

/* The enabled user named name whose password is pw, in *user; else 401 (and the brake
 * counts it). An unknown user costs the same verification as a known one, so the time of
 * the answer does not tell which names exist (a hash of a password nobody has). */
static int verify_password(actx *x, const char *name, const json_t *pwv, json_t **user)
{
    uint64_t bk = pt_signin_key(name, x->rq->peer);
    if (brake_check(x, bk)) return -1;
    json_t *key = json_string(name);
    int rc = key ? pt_store_find(x->st, PT_KIND_USER, "name", key, user) : -1;
    json_decref(key);
    const char *pw = json_string_value(pwv);
    size_t pwlen = json_string_length(pwv);
    if (rc != 0) {
        static const char decoy[] =
            "$argon2id$v=19$m=65536,t=3,p=1$j0fuLb5mF6FYIOcjKmgIzA$Z2ItPzBG7KwbjsLANl5VjXDslmL18i3QV0q1MdGOI/Q";
        pt_cred_password_verify(decoy, pw, pwlen);
    }
    bool ok = rc == 0 && !json_is_true(json_object_get(*user, "disabled")) &&
              pt_cred_password_verify(str_member(*user, "password_hash"), pw, pwlen);
    brake_note(x, bk, ok);
    if (ok) return 0;
    json_decref(*user);
    *user = NULL;
    x->out->www_authenticate = true;
    return fail(x, 401, "unauthenticated", "", "unknown user or wrong password");
}

/* {"user","password"} from a body whose allowed members are allowed; 0 or -1 (answered). */
static int credentials(actx *x, const json_t *in, json_t **user)
{
    const char *name = str_member(in, "user");
    if (!name) return fail(x, 400, "missing_field", "user", "user is required");
    if (!json_is_string(json_object_get(in, "password")))
        return fail(x, 400, "missing_field", "password", "password is required");
    return verify_password(x, name, json_object_get(in, "password"), user);
}

/* POST /tokens {"user","password"}: the password is the credential, no bearer needed. */
static void login(actx *x)
{
    static const char *const allowed[] = {"user", "password", NULL};
    json_t *in = body(x), *user = NULL;
    if (!in || pt_admin_known_fields(in, allowed, x->err) || credentials(x, in, &user)) goto out;
    pt_cred_secret tok;
    int64_t id = 0;
    int rc = insert_token(x->st, int_member(user, "id"), str_member(user, "name"), &tok, &id);
    if (rc != 0) store_fail(x, rc, true);
    else {
        answer(x, 201, json_pack("{s:s,s:I,s:s}", "token", tok.text, "id", (json_int_t)id, "prefix", tok.prefix), 0);
    }
    pt_cred_wipe(&tok);
out:
    json_decref(in);
    json_decref(user);
}

/* GET and DELETE of one bearer token (GET /tokens, the list, is api.c's). */
static void token(actx *x, const pt__admin_who *who, const char *seg)
{
    json_t *tok = NULL;
    int64_t id = pt_admin_parse_id(seg);
    if (id <= 0 || pt_store_get(x->st, PT_KIND_TOKEN, id, &tok) != 0 ||
        (who->role != PT_ROLE_ADMIN && int_member(tok, "user_id") != who->user_id)) {
        fail(x, 404, "not_found", "", "no such token");
    } else if (method_is(x, "GET")) {
        json_object_del(tok, "hash"); /* what a client may see of a token: all but its hash */
        answer(x, 200, json_incref(tok), int_member(tok, "version"));
    } else if (method_is(x, "DELETE")) {
        int rc = pt_store_delete(x->st, PT_KIND_TOKEN, id, 0, who->actor);
        if (rc != 0) store_fail(x, rc, false);
        else answer(x, 204, NULL, 0);
    } else {
        bad_method(x);
    }
    json_decref(tok);
}

/* ---- authentication ----------------------------------------------------------------------- */

static int unauthenticated(actx *x, const char *msg)
{
    x->out->www_authenticate = true;
    return fail(x, 401, "unauthenticated", "", msg);
}

/* The token row whose secret is text (n bytes), of kind ("token" or "session"), in *row;
 * -1 when there is none, PT_STORE_EUNAVAIL when the database cannot be reached. */
static int find_secret(actx *x, const char *text, size_t n, const char *kind, json_t **row)
{
    *row = NULL;
    if (!pt_cred_wellformed(PT_CRED_TOKEN_SCHEME, text, n)) return -1;
    uint8_t h[PT_CRED_HASH_LEN];
    char hex[PT_CRED_HEX_LEN + 1];
    pt_cred_hash(text, n, h);
    pt_store_hex(h, sizeof h, hex);
    json_t *key = json_string(hex);
    int rc = key ? pt_store_find(x->st, PT_KIND_TOKEN, "hash", key, row) : -1;
    json_decref(key);
    if (rc == PT_STORE_EUNAVAIL) return rc; /* the database is away: not the secret's fault */
    const char *k = str_member(*row, "kind");
    if (rc == 0 && strcmp(k ? k : "token", kind) == 0) return 0;
    json_decref(*row);
    *row = NULL;
    return -1;
}

/* The caller is the enabled user uid; else 401 with msg. */
static int adopt_user(actx *x, int64_t uid, const char *msg)
{
    if (pt_store_get(x->st, PT_KIND_USER, uid, &x->who->user) != 0 || json_is_true(json_object_get(x->who->user, "disabled")))
        return unauthenticated(x, msg);
    x->who->user_id = uid;
    x->who->team = int_member(x->who->user, "team_id");
    x->who->role = pt_admin_role_parse(str_member(x->who->user, "role"));
    x->who->actor = str_member(x->who->user, "name");
    return 0;
}

static int bearer(actx *x, const char *a, size_t n)
{
    if (n < 7 || strncasecmp(a, "Bearer ", 7) != 0) return unauthenticated(x, "Authorization must be Bearer <token>");
    a += 7, n -= 7;
    while (n && *a == ' ') a++, n--;
    while (n && a[n - 1] == ' ') n--;
    json_t *tok = NULL;
    int found = find_secret(x, a, n, "token", &tok);
    if (found == PT_STORE_EUNAVAIL) return store_fail(x, found, false); /* 503, not 401 */
    if (found != 0) return unauthenticated(x, "invalid token");
    int64_t exp = int_member(tok, "expires_at"), uid = int_member(tok, "user_id");
    json_decref(tok);
    if (exp > 0 && exp <= now_s()) return unauthenticated(x, "the token has expired");
    return adopt_user(x, uid, "the token's user is disabled or gone");
}

static int64_t session_idle(const actx *x) { return x->api->session_idle_s > 0 ? x->api->session_idle_s : PT_SESSION_IDLE_DEFAULT; }
static int64_t session_max(const actx *x) { return x->api->session_max_s > 0 ? x->api->session_max_s : PT_SESSION_MAX_DEFAULT; }

/* 401 for a session that is gone, telling the browser to forget its cookie. */
static int session_refused(actx *x, const char *code, const char *msg)
{
    pt_session_clear_cookie(x->out->set_cookie, sizeof x->out->set_cookie, x->rq->tls);
    return fail(x, 401, code, "", msg);
}

/* The console's cookie: a live session of an enabled user; writes need its CSRF token. An
 * ended session is deleted as it is found (audited as the system's). */
static int session_cookie(actx *x, const char *secret, size_t n)
{
    json_t *row = NULL;
    int found = find_secret(x, secret, n, "session", &row);
    if (found == PT_STORE_EUNAVAIL) return store_fail(x, found, false);
    if (found != 0) return session_refused(x, "unauthenticated", "no such session: sign in again");
    int64_t id = int_member(row, "id"), uid = int_member(row, "user_id"), exp = int_member(row, "expires_at");
    int64_t used = int_member(row, "last_used_at"), now = now_s();
    if (!used) used = int_member(row, "created_at");
    json_decref(row);
    pt_session_state st = pt_session_check(now, used, exp, session_idle(x));
    if (st != PT_SESSION_LIVE) {
        pt_store_delete(x->st, PT_KIND_TOKEN, id, 0, "system");
        return session_refused(x, "session_expired", st == PT_SESSION_IDLE ? "the session ended after a time without use: sign in again"
                                                                           : "the session reached its time limit: sign in again");
    }
    if (adopt_user(x, uid, "the session's user is disabled or gone")) return -1;
    if (!pt_session_safe_method(x->rq->method) && !pt_session_csrf_ok(secret, n, x->rq->csrf, x->rq->csrf_len))
        return fail(x, 403, "csrf_failed", "X-CSRF-Token", "a write with the session cookie needs the session's X-CSRF-Token header");
    if (pt_session_needs_touch(now, used, session_idle(x))) {
        json_t *t = json_pack("{s:I}", "last_used_at", (json_int_t)now);
        if (t) pt_store_touch(x->st, PT_KIND_TOKEN, id, t); /* a failed touch only shortens the session */
        json_decref(t);
    }
    x->who->session_id = id;
    x->who->session_expires = exp;
    snprintf(x->who->session_secret, sizeof x->who->session_secret, "%.*s", (int)n, secret);
    return 0;
}

/* A bearer token, else the console's session cookie. */
static int authenticate(actx *x)
{
    if (x->rq->authorization) return bearer(x, x->rq->authorization, x->rq->authorization_len);
    char secret[64];
    int n = x->rq->cookie ? pt_session_cookie(x->rq->cookie, x->rq->cookie_len, secret, sizeof secret) : -1;
    if (n > 0) return session_cookie(x, secret, (size_t)n);
    return unauthenticated(x, "missing Authorization: Bearer <token> (or the console's session cookie)");
}

/* ---- console sessions ---------------------------------------------------------------------- */

/* {"user":{"name","role","team"},"csrf_token","expires_at","idle_timeout"} of the session. */
static json_t *session_body(actx *x, const json_t *user, const char *secret, int64_t expires)
{
    char csrf[PT_SESSION_CSRF_LEN + 1];
    pt_session_csrf(secret, strlen(secret), csrf);
    json_t *team = NULL;
    int64_t tid = int_member(user, "team_id");
    const char *tname = NULL;
    if (tid > 0 && pt_store_get(x->st, PT_KIND_TEAM, tid, &team) == 0) tname = str_member(team, "name");
    json_t *b = json_pack("{s:{s:s,s:s,s:s?},s:s,s:I,s:I}", "user", "name", str_member(user, "name"), "role",
                          str_member(user, "role"), "team", tname, "csrf_token", csrf, "expires_at", (json_int_t)expires,
                          "idle_timeout", (json_int_t)session_idle(x));
    json_decref(team);
    return b;
}

/* {"token":"pt_..."}: any live bearer token (the bootstrap one on a first start) signs in
 * as its user; failures are braked per address. */
static int token_credential(actx *x, const json_t *tokv, json_t **user)
{
    uint64_t bk = pt_signin_key("\001token", x->rq->peer);
    if (brake_check(x, bk)) return -1;
    json_t *tok = NULL;
    const char *t = json_string_value(tokv);
    int rc = t ? find_secret(x, t, json_string_length(tokv), "token", &tok) : -1;
    int64_t exp = int_member(tok, "expires_at"), uid = int_member(tok, "user_id");
    json_decref(tok);
    if (rc == 0 && (exp <= 0 || exp > now_s()) && pt_store_get(x->st, PT_KIND_USER, uid, user) == 0 &&
        !json_is_true(json_object_get(*user, "disabled"))) {
        brake_note(x, bk, true);
        return 0;
    }
    json_decref(*user);
    *user = NULL;
    brake_note(x, bk, false);
    return fail(x, 401, "unauthenticated", "token", "invalid or expired token");
}

/* POST /sessions: {"user","password"} or {"token"} -> 201, the session in a cookie. */
static void sign_in(actx *x)
{
    static const char *const allowed[] = {"user", "password", "token", NULL};
    json_t *in = body(x), *user = NULL;
    if (!in || pt_admin_known_fields(in, allowed, x->err)) goto out;
    json_t *tokv = json_object_get(in, "token");
    if (tokv && (json_object_get(in, "user") || json_object_get(in, "password"))) {
        fail(x, 400, "invalid_value", "token", "give either a token or a user and password, not both");
        goto out;
    }
    if (tokv ? token_credential(x, tokv, &user) : credentials(x, in, &user)) goto out;
    pt_cred_secret s;
    if (pt_cred_generate(PT_CRED_TOKEN_SCHEME, &s) != 0) {
        fail(x, 500, "internal", "", "no randomness for a session");
        goto out;
    }
    int64_t now = now_s(), expires = now + session_max(x), id = 0;
    json_t *cols = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I}", "user_id", (json_int_t)int_member(user, "id"), "prefix", s.prefix,
                             "hash", s.hash_hex, "kind", "session", "expires_at", (json_int_t)expires, "last_used_at",
                             (json_int_t)now);
    int rc = cols ? pt_store_insert(x->st, PT_KIND_TOKEN, cols, str_member(user, "name"), &id) : PT_STORE_ENOMEM;
    json_decref(cols);
    if (rc != 0) store_fail(x, rc, true);
    else if (pt_session_set_cookie(x->out->set_cookie, sizeof x->out->set_cookie, s.text, session_max(x), x->rq->tls) < 0)
        fail(x, 500, "internal", "", "the session cookie does not fit");
    else answer(x, 201, session_body(x, user, s.text, expires), 0);
    pt_cred_wipe(&s);
out:
    json_decref(in);
    json_decref(user);
}

/* /sessions and /sessions/current (GET: who is signed in; DELETE: sign out). */
static void sessions(actx *x, char **seg, int nseg)
{
    if (nseg == 1) {
        if (method_is(x, "POST")) sign_in(x);
        else bad_method(x);
        return;
    }
    if (nseg != 2 || strcmp(seg[1], "current") != 0) {
        fail(x, 404, "not_found", "", "no such resource");
        return;
    }
    if (!method_is(x, "GET") && !method_is(x, "DELETE")) {
        bad_method(x);
        return;
    }
    if (authenticate(x)) return;
    if (!x->who->session_id) {
        fail(x, 404, "not_found", "", "a bearer token has no session: sessions are the console's cookie");
    } else if (method_is(x, "GET")) {
        answer(x, 200, session_body(x, x->who->user, x->who->session_secret, x->who->session_expires), 0);
    } else {
        int rc = pt_store_delete(x->st, PT_KIND_TOKEN, x->who->session_id, 0, x->who->actor);
        if (rc != 0) store_fail(x, rc, false);
        else {
            pt_session_clear_cookie(x->out->set_cookie, sizeof x->out->set_cookie, x->rq->tls);
            answer(x, 204, NULL, 0);
        }
    }
}

/* ---- first start ------------------------------------------------------------------------- */

static int write_token_file(const char *data_dir, const char *token, char *why, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/admin-token", data_dir);
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) f = fdopen(fd, "w");
    if (!f || fprintf(f, "%s\n", token) < 0 || fchmod(fd, 0600) != 0 || fclose(f) != 0) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        if (f) fclose(f);
        else if (fd >= 0) close(fd);
        return -1;
    }
    return 0;
}

int pt_admin_bootstrap(pt_store *st, const char *data_dir, bool *created, char *why, size_t cap)
{
    *created = false;
    why[0] = 0;
    json_t *items = NULL;
    char next[PT_STORE_CURSOR_MAX];
    pt_store_list_opts o = {.limit = 1};
    if (pt_store_list(st, PT_KIND_USER, &o, &items, next) != 0) {
        snprintf(why, cap, "cannot read the users: %s", pt_store_last_error(st)->message);
        return -1;
    }
    size_t n = json_array_size(items);
    json_decref(items);
    if (n > 0) return 0;
    /* A password nobody knows: the admin logs in with the token, then sets one. */
    pt_cred_secret pw, tok;
    char phc[PT_CRED_PHC_MAX];
    int64_t uid = 0, tid = 0;
    int rc = pt_cred_generate(PT_CRED_TOKEN_SCHEME, &pw);
    if (rc == 0) rc = pt_cred_password_hash(pw.text, strlen(pw.text), phc);
    pt_cred_wipe(&pw);
    json_t *user = rc == 0 ? json_pack("{s:s,s:s,s:s}", "name", "admin", "role", "admin", "password_hash", phc) : NULL;
    rc = user && pt_store_begin(st) == 0 ? 0 : -1;
    if (rc == 0) rc = pt_store_insert(st, PT_KIND_USER, user, "system", &uid);
    if (rc == PT_STORE_ECONFLICT) { /* another node sharing the store created it first */
        pt_store_rollback(st);
        json_decref(user);
        return 0;
    }
    if (rc == 0) rc = insert_token(st, uid, "system", &tok, &tid);
    if (rc == 0) rc = write_token_file(data_dir, tok.text, why, cap);
    else snprintf(why, cap, "cannot create the admin user: %s", pt_store_last_error(st)->message);
    if (rc == 0) rc = pt_store_commit(st);
    else pt_store_rollback(st);
    pt_cred_wipe(&tok);
    json_decref(user);
    if (rc != 0 && !why[0]) snprintf(why, cap, "cannot create the admin user");
    *created = rc == 0;
    return rc == 0 ? 0 : -1;
}

/* ---- the entry points ------------------------------------------------------------------- */

int pt__admin_authenticate(pt_admin_api *api, const pt_admin_req *rq, pt__admin_who *who, pt_admin_resp *out,
                           pt_admin_err *e)
{
    actx x = {api, api->st, rq, out, e, who};
    return authenticate(&x);
}

void pt__admin_login(pt_admin_api *api, const pt_admin_req *rq, pt_admin_resp *out, pt_admin_err *e)
{
    pt__admin_who who = {0};
    actx x = {api, api->st, rq, out, e, &who};
    login(&x);
}

void pt__admin_token(pt_admin_api *api, const pt_admin_req *rq, const pt__admin_who *who, const char *seg,
                     pt_admin_resp *out, pt_admin_err *e)
{
    actx x = {api, api->st, rq, out, e, NULL};
    token(&x, who, seg);
}

void pt__admin_sessions(pt_admin_api *api, const pt_admin_req *rq, char **seg, int nseg, pt_admin_resp *out,
                        pt_admin_err *e)
{
    pt__admin_who who = {0};
    actx x = {api, api->st, rq, out, e, &who};
    sessions(&x, seg, nseg);
    pt__admin_who_release(&who);
}
