/* gauth.c: service-account JSON, RS256 JWT assertions, and the token refresher thread
 * (see gauth.h). */
#include "ai/gauth.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "http/post.h"

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define TOKEN_MAX 4096
#define EXCHANGE_TIMEOUT_MS 10000
#define RETRY_MAX_S 30

struct pt_gauth {
    _Atomic int refs;
    char *email, *token_uri, *owner;
    EVP_PKEY *key;
    pt_post_url to;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;                 /* under lock */
    _Atomic bool started;
    char token[TOKEN_MAX];     /* under lock; "" when none */
    int64_t expires;           /* under lock: unix seconds */
    char why[256];             /* under lock: the last failure */
};

static void unref(pt_gauth *g)
{
    if (atomic_fetch_sub(&g->refs, 1) != 1) return;
    OPENSSL_cleanse(g->token, sizeof g->token);
    EVP_PKEY_free(g->key);
    free(g->email);
    free(g->token_uri);
    free(g->owner);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

static char *member(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v && *v ? strdup(v) : NULL;
}

pt_gauth *pt_gauth_load(const char *path, pt_buf *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        pt_buf_printf(err, "cannot read the service account file '%s': %s", path, je.text);
        return NULL;
    }
    pt_gauth *g = calloc(1, sizeof *g);
    const char *pem = json_string_value(json_object_get(j, "private_key"));
    if (g) {
        g->refs = 1;
        g->email = member(j, "client_email");
        g->token_uri = member(j, "token_uri");
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->wake, NULL);
        snprintf(g->why, sizeof g->why, "no token exchange has finished yet");
    }
    if (g && pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        g->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    const char *bad = !g ? "out of memory"
                      : !g->email ? "it has no client_email"
                      : !g->token_uri ? "it has no token_uri"
                      : !pem ? "it has no private_key"
                      : !g->key || EVP_PKEY_base_id(g->key) != EVP_PKEY_RSA ? "its private_key is not an RSA key in PEM"
                      : pt_post_url_parse(g->token_uri, &g->to) ? "its token_uri is not an http(s) URL"
                                                                 : NULL;
    json_decref(j);
    if (bad) {
        pt_buf_printf(err, "service account file '%s': %s", path, bad);
        if (g) unref(g);
        return NULL;
    }
    return g;
}

static int b64url(pt_buf *out, const unsigned char *p, size_t n)
{
    static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = { d[v >> 18 & 63], d[v >> 12 & 63], d[v >> 6 & 63], d[v & 63] };
        rc = pt_buf_append(out, q, i + 2 < n ? 4 : i + 1 < n ? 3 : 2);
    }
    return rc;
}

int pt_gauth_assertion(const pt_gauth *g, int64_t now, pt_buf *out)
{
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", g->email, "scope", SCOPE, "aud", g->token_uri,
                               "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
    char *cj = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    int rc = !cj || b64url(out, (const unsigned char *)header, sizeof header - 1) || pt_buf_append(out, ".", 1) ||
             b64url(out, (const unsigned char *)cj, strlen(cj));
    free(cj);
    if (rc) return -1;
    unsigned char sig[1024];
    size_t slen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    rc = !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, g->key) != 1 ||
         EVP_DigestSign(md, sig, &slen, (const unsigned char *)out->data, out->len) != 1;
    EVP_MD_CTX_free(md);
    if (rc || pt_buf_append(out, ".", 1) || b64url(out, sig, slen)) return -1;
    return 0;
}

/* One exchange; returns the token's lifetime in seconds, or -1 with g->why set. */
static int64_t exchange(pt_gauth *g)
{
    pt_buf form = PT_BUF_INIT, answer, jwt = PT_BUF_INIT;
    pt_buf_init(&answer, 1 << 20);
    char why[200] = "", msg[256] = "";
    int64_t life = -1;
    if (pt_gauth_assertion(g, (int64_t)time(NULL), &jwt) == 0 &&
        pt_buf_printf(&form, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%.*s",
                      (int)jwt.len, jwt.data) == 0) {
        int status = pt_http_post_read(&g->to, "Accept: application/json\r\n", "application/x-www-form-urlencoded",
                                       form.data, form.len, EXCHANGE_TIMEOUT_MS, &answer, why, sizeof why);
        json_t *j = status > 0 && answer.data ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
        const char *tok = json_string_value(json_object_get(j, "access_token"));
        json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
        if (status < 0) {
            snprintf(msg, sizeof msg, "the token endpoint %s: %s", g->token_uri, why);
        } else if (status != 200 || !tok || exp <= 0 || strlen(tok) >= TOKEN_MAX) {
            const char *e = json_string_value(json_object_get(j, "error_description"));
            if (!e) e = json_string_value(json_object_get(j, "error"));
            snprintf(msg, sizeof msg, "the token endpoint %s answered %d%s%.120s", g->token_uri, status, e ? ": " : "",
                     e ? e : "");
        } else {
            pthread_mutex_lock(&g->lock);
            snprintf(g->token, sizeof g->token, "%s", tok);
            g->expires = (int64_t)time(NULL) + exp;
            pthread_mutex_unlock(&g->lock);
            life = exp;
        }
        json_decref(j);
    } else {
        snprintf(msg, sizeof msg, "cannot sign the token request");
    }
    if (life < 0) {
        pthread_mutex_lock(&g->lock);
        snprintf(g->why, sizeof g->why, "%s", msg);
        pthread_mutex_unlock(&g->lock);
    }
    OPENSSL_cleanse(form.data, form.len);
    pt_buf_release(&form);
    pt_buf_release(&jwt);
    pt_buf_release(&answer);
    return life;
}

/* Sleeps up to s seconds; false when asked to stop. */
static bool nap(pt_gauth *g, int64_t s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s;
    pthread_mutex_lock(&g->lock);
    while (!g->stop && pthread_cond_timedwait(&g->wake, &g->lock, &until) != ETIMEDOUT) {}
    bool go_on = !g->stop;
    pthread_mutex_unlock(&g->lock);
    return go_on;
}

/* Exchanges, then sleeps until the token has lived through half its life or has five
 * minutes left, whichever is later-but-safe (short-lived tokens refresh at half life);
 * failures retry after 1, 2, 4 ... 30 s. */
static void *refresher(void *arg)
{
    pt_gauth *g = arg;
    int64_t backoff = 1;
    for (;;) {
        int64_t life = exchange(g);
        int64_t wait;
        if (life > 0) {
            int64_t margin = life / 2 < 300 ? life / 2 : 300;
            wait = life - margin;
            backoff = 1;
            pt_log_info("AI provider '%s': access token obtained (expires in %lld s)", g->owner, (long long)life);
        } else {
            char why[256];
            pthread_mutex_lock(&g->lock);
            snprintf(why, sizeof why, "%s", g->why);
            pthread_mutex_unlock(&g->lock);
            pt_log_warn("AI provider '%s': no access token: %s", g->owner, why);
            wait = backoff;
            backoff = backoff * 2 > RETRY_MAX_S ? RETRY_MAX_S : backoff * 2;
        }
        if (!nap(g, wait < 1 ? 1 : wait)) break;
    }
    unref(g);
    return NULL;
}

void pt_gauth_start(pt_gauth *g, const char *owner)
{
    if (!g || atomic_exchange(&g->started, true)) return;
    g->owner = strdup(owner ? owner : "?");
    atomic_fetch_add(&g->refs, 1);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, refresher, g) != 0) {
        atomic_fetch_sub(&g->refs, 1);
        pthread_mutex_lock(&g->lock);
        snprintf(g->why, sizeof g->why, "cannot start the token refresher thread");
        pthread_mutex_unlock(&g->lock);
    }
    pthread_attr_destroy(&a);
}

void pt_gauth_release(pt_gauth *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    unref(g);
}

int pt_gauth_token(pt_gauth *g, char *out, size_t cap, char *why, size_t whycap)
{
    pthread_mutex_lock(&g->lock);
    int rc = -1;
    if (g->token[0] && g->expires > (int64_t)time(NULL) && strlen(g->token) < cap) {
        memcpy(out, g->token, strlen(g->token) + 1);
        rc = 0;
    } else {
        snprintf(why, whycap, "%s", g->token[0] ? "the access token expired and no new one was obtained" : g->why);
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}
