/* session.c: cookies, CSRF tokens, expiry and the failed sign-in brake (see session.h). */
#include "admin/session.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "control/cred.h"

int pt_session_cookie(const char *h, size_t n, char *out, size_t cap)
{
    static const char name[] = PT_SESSION_COOKIE;
    size_t nl = sizeof name - 1, i = 0;
    while (h && i < n) {
        while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == ';')) i++;
        size_t start = i;
        while (i < n && h[i] != '=' && h[i] != ';') i++;
        size_t klen = i - start;
        while (klen && (h[start + klen - 1] == ' ' || h[start + klen - 1] == '\t')) klen--;
        if (i >= n || h[i] != '=') continue;
        size_t v = ++i;
        while (i < n && h[i] != ';') i++;
        size_t vl = i - v;
        while (vl && (h[v] == ' ' || h[v] == '\t')) v++, vl--;
        while (vl && (h[v + vl - 1] == ' ' || h[v + vl - 1] == '\t')) vl--;
        if (vl >= 2 && h[v] == '"' && h[v + vl - 1] == '"') v++, vl -= 2;
        if (klen != nl || memcmp(h + start, name, nl) != 0) continue;
        if (vl == 0 || vl >= cap) return -1;
        memcpy(out, h + v, vl);
        out[vl] = 0;
        return (int)vl;
    }
    return -1;
}

void pt_session_csrf(const char *secret, size_t n, char out[PT_SESSION_CSRF_LEN + 1])
{
    static const char label[] = "portico csrf v1:";
    char buf[sizeof label + 128];
    uint8_t h[PT_CRED_HASH_LEN];
    size_t ll = sizeof label - 1;
    if (n > sizeof buf - ll) n = sizeof buf - ll;
    memcpy(buf, label, ll);
    memcpy(buf + ll, secret, n);
    pt_cred_hash(buf, ll + n, h);
    for (size_t i = 0; i < sizeof h; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

bool pt_session_csrf_ok(const char *secret, size_t n, const char *header, size_t hn)
{
    char want[PT_SESSION_CSRF_LEN + 1];
    if (!header || hn != PT_SESSION_CSRF_LEN) return false;
    pt_session_csrf(secret, n, want);
    return pt_cred_equal(want, header, PT_SESSION_CSRF_LEN);
}

bool pt_session_safe_method(const char *m) { return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0; }

pt_session_state pt_session_check(int64_t now, int64_t last_used, int64_t expires_at, int64_t idle_s)
{
    if (expires_at > 0 && now >= expires_at) return PT_SESSION_ENDED;
    if (idle_s > 0 && now - last_used >= idle_s) return PT_SESSION_IDLE;
    return PT_SESSION_LIVE;
}

bool pt_session_needs_touch(int64_t now, int64_t last_used, int64_t idle_s)
{
    int64_t every = idle_s / 10;
    if (every > 60) every = 60;
    return now - last_used >= (every > 0 ? every : 1);
}

int pt_session_set_cookie(char *out, size_t cap, const char *secret, int64_t max_age, bool tls)
{
    int n = snprintf(out, cap, PT_SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", secret,
                     (long long)max_age, tls ? "; Secure" : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int pt_session_clear_cookie(char *out, size_t cap, bool tls)
{
    int n = snprintf(out, cap, PT_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s", tls ? "; Secure" : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- behind a proxy ---- */

static bool ows(char ch) { return ch == ' ' || ch == '\t'; }

/* The value of the proto parameter in one Forwarded element ([p, end)), unquoted, into
 * out; false when it has none. */
static bool forwarded_proto(const char *p, const char *end, char *out, size_t cap)
{
    while (p < end) {
        while (p < end && (ows(*p) || *p == ';')) p++;
        const char *k = p;
        while (p < end && *p != '=' && *p != ';') p++;
        size_t kl = (size_t)(p - k);
        while (kl && ows(k[kl - 1])) kl--;
        if (p >= end || *p != '=') continue;
        const char *v = ++p;
        bool quoted = p < end && *p == '"';
        if (quoted) v = ++p;
        while (p < end && (quoted ? *p != '"' : *p != ';')) p++;
        size_t vl = (size_t)(p - v);
        while (!quoted && vl && ows(v[vl - 1])) vl--;
        if (quoted && p < end) p++;
        if (kl == 5 && strncasecmp(k, "proto", 5) == 0 && vl < cap) {
            memcpy(out, v, vl);
            out[vl] = 0;
            return true;
        }
    }
    return false;
}

bool pt_session_forwarded_https(const char *fwd, size_t fn, const char *xfp, size_t xn)
{
    char proto[16];
    if (fwd) {
        const char *end = fwd;
        bool q = false;
        while (end < fwd + fn && (q || *end != ',')) q ^= *end++ == '"'; /* the first element */
        if (forwarded_proto(fwd, end, proto, sizeof proto)) return strcasecmp(proto, "https") == 0;
    }
    if (!xfp) return false;
    size_t i = 0, n = 0;
    while (i < xn && ows(xfp[i])) i++;
    while (i + n < xn && xfp[i + n] != ',' && !ows(xfp[i + n])) n++;
    return n == 5 && strncasecmp(xfp + i, "https", 5) == 0;
}

/* ---- failed sign-ins ---- */

uint64_t pt_signin_key(const char *user, const char *addr)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = user ? user : ""; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull; /* "ab"+"c" and "a"+"bc" differ */
    for (const char *p = addr ? addr : ""; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h ? h : 1;
}

static const pt_signin_slot *find_slot(const pt_signin_brake *b, uint64_t key)
{
    for (size_t i = 0; i < PT_SIGNIN_SLOTS; i++)
        if (b->slot[i].key == key) return &b->slot[i];
    return NULL;
}

int64_t pt_signin_wait(const pt_signin_brake *b, uint64_t key, int64_t now)
{
    const pt_signin_slot *s = find_slot(b, key);
    if (!s || now - s->first >= PT_SIGNIN_WINDOW) return 0;
    return s->until > now ? s->until - now : 0;
}

void pt_signin_failed(pt_signin_brake *b, uint64_t key, int64_t now)
{
    pt_signin_slot *s = (pt_signin_slot *)find_slot(b, key);
    if (!s) { /* a free slot, else the one whose window began first */
        s = &b->slot[0];
        for (size_t i = 0; i < PT_SIGNIN_SLOTS && s->key; i++)
            if (!b->slot[i].key || b->slot[i].first < s->first) s = &b->slot[i];
        *s = (pt_signin_slot){.key = key, .first = now};
    }
    if (now - s->first >= PT_SIGNIN_WINDOW) *s = (pt_signin_slot){.key = key, .first = now};
    s->failures++;
    if (s->failures >= PT_SIGNIN_FREE) {
        unsigned extra = s->failures - PT_SIGNIN_FREE;
        int64_t delay = extra >= 8 ? PT_SIGNIN_WINDOW : (int64_t)2 << extra;
        if (delay > PT_SIGNIN_WINDOW) delay = PT_SIGNIN_WINDOW;
        s->until = now + delay;
    }
}

void pt_signin_succeeded(pt_signin_brake *b, uint64_t key)
{
    pt_signin_slot *s = (pt_signin_slot *)find_slot(b, key);
    if (s) *s = (pt_signin_slot){0};
}
