/* session.h: the console's sign-in sessions, the parts that need no store: the cookie, the
 * CSRF token bound to it, the idle and absolute expiry rules, and the brake on repeated
 * failed sign-ins. auth.c keeps the sessions themselves (hashed, as user_tokens rows of kind
 * "session") and answers /admin/v1/sessions (docs/ADMIN.md). */
#ifndef PT_ADMIN_SESSION_H
#define PT_ADMIN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_SESSION_COOKIE "portico_session"
#define PT_SESSION_CSRF_LEN 64           /* hex of 32 bytes */
#define PT_SESSION_IDLE_DEFAULT (30 * 60)   /* seconds */
#define PT_SESSION_MAX_DEFAULT (12 * 3600)  /* seconds */

/* Finds the portico_session cookie in a Cookie header ("a=1; portico_session=pt_...").
 * Copies its value into out (NUL-terminated) and returns its length, or -1 when absent,
 * empty or longer than cap - 1. */
int pt_session_cookie(const char *header, size_t n, char *out, size_t cap);

/* The CSRF token of a session: derived from its secret (SHA-256 of a label and the secret,
 * hex), so the server keeps nothing more and a page that cannot read the HttpOnly
 * cookie cannot make it. out holds PT_SESSION_CSRF_LEN + 1 bytes. */
void pt_session_csrf(const char *secret, size_t n, char out[PT_SESSION_CSRF_LEN + 1]);
/* Whether a presented X-CSRF-Token header is the session's (constant time); NULL: absent. */
bool pt_session_csrf_ok(const char *secret, size_t n, const char *header, size_t hn);
/* Methods that change nothing need no CSRF token: GET and HEAD. */
bool pt_session_safe_method(const char *method);

typedef enum pt_session_state { PT_SESSION_LIVE, PT_SESSION_IDLE, PT_SESSION_ENDED } pt_session_state;

/* A session used last at last_used (its creation when never) and ending at expires_at
 * (absolute) is, at now: LIVE, IDLE (unused for idle_s or more) or ENDED (past expires_at). */
pt_session_state pt_session_check(int64_t now, int64_t last_used, int64_t expires_at, int64_t idle_s);
/* Whether a use at now should be written back (last_used_at): often enough that the idle
 * limit is kept within a tenth of itself (a minute at most), not at every request. */
bool pt_session_needs_touch(int64_t now, int64_t last_used, int64_t idle_s);

/* Set-Cookie values: the session's (max_age seconds; Secure when tls) and the one that
 * clears it. Return the length written, or -1 when cap is too small. */
int pt_session_set_cookie(char *out, size_t cap, const char *secret, int64_t max_age, bool tls);
int pt_session_clear_cookie(char *out, size_t cap, bool tls);

/* Whether a request that a trusted proxy forwarded reached that proxy over https: the
 * proto of the first element of Forwarded (RFC 7239) when it names one, else the first
 * value of X-Forwarded-Proto (both: the client's side of the chain). NULL: the header is
 * absent. The caller believes these headers only from its trusted proxies. */
bool pt_session_forwarded_https(const char *forwarded, size_t fn, const char *xfp, size_t xn);

/* Failed sign-ins per user and client address: after PT_SIGNIN_FREE failures within
 * PT_SIGNIN_WINDOW seconds, the next attempts of that pair wait (429) for a delay doubling
 * with each further failure (2 s, 4 s, ... at most PT_SIGNIN_WINDOW). A success clears
 * the pair. A small fixed table on the admin thread: the oldest entry makes room. */
#define PT_SIGNIN_FREE 5
#define PT_SIGNIN_WINDOW 300
#define PT_SIGNIN_SLOTS 256

typedef struct pt_signin_slot {
    uint64_t key;         /* hash of user and address; 0 for a free slot */
    int64_t first, until; /* first failure of the window; refused before until */
    unsigned failures;
} pt_signin_slot;

typedef struct pt_signin_brake {
    pt_signin_slot slot[PT_SIGNIN_SLOTS];
} pt_signin_brake;

uint64_t pt_signin_key(const char *user, const char *addr);
/* Seconds the pair must still wait (0: it may try now). */
int64_t pt_signin_wait(const pt_signin_brake *b, uint64_t key, int64_t now);
void pt_signin_failed(pt_signin_brake *b, uint64_t key, int64_t now);
void pt_signin_succeeded(pt_signin_brake *b, uint64_t key);

#endif
