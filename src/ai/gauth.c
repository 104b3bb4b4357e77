/* gauth.c: Google credentials (service-account and authorized-user files, the metadata
 * server), RS256 JWT assertions, and the token refresher thread (see gauth.h). */
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
#include <unistd.h>

#include "ai/sigv4.h"
#include "core/log.h"
#include "http/post.h"

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define TOKEN_MAX 4096
#define EXCHANGE_TIMEOUT_MS 10000
#define RETRY_MAX_S 30
#define GOOGLE_TOKEN_URI "https://oauth2.googleapis.com/token"
#define METADATA_HOST "metadata.google.internal"
#define METADATA_PATH "/computeMetadata/v1/instance/service-accounts/default/token"

/* How a token is obtained: a signed assertion (service account), a refresh token (the
 * authorized-user file `gcloud auth application-default login` writes), or a GET to the
 * metadata server of the machine the gateway runs on. */
typedef enum { SRC_SERVICE_ACCOUNT, SRC_AUTHORIZED_USER, SRC_METADATA } src_kind;

struct pt_gauth {
    _Atomic int refs;
    src_kind kind;
    char *source;              /* where the credentials came from, for logs (never a secret) */
    char *email, *token_uri, *owner;
    char *client_id, *client_secret, *refresh_token; /* authorized user */
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
    if (g->client_secret) OPENSSL_cleanse(g->client_secret, strlen(g->client_secret));
    if (g->refresh_token) OPENSSL_cleanse(g->refresh_token, strlen(g->refresh_token));
    free(g->client_id);
    free(g->client_secret);
    free(g->refresh_token);
    free(g->source);
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

static pt_gauth *gauth_new(src_kind kind, const char *source)
{
    pt_gauth *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->refs = 1;
    g->kind = kind;
    g->source = strdup(source);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    snprintf(g->why, sizeof g->why, "no token exchange has finished yet");
    return g;
}

/* A service-account file's members; NULL or what is wrong. */
static const char *service_account(pt_gauth *g, json_t *j)
{
    const char *pem = json_string_value(json_object_get(j, "private_key"));
    g->email = member(j, "client_email");
    g->token_uri = member(j, "token_uri");
    if (pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        g->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    return !g->email ? "it has no client_email"
           : !g->token_uri ? "it has no token_uri"
           : !pem ? "it has no private_key"
           : !g->key || EVP_PKEY_base_id(g->key) != EVP_PKEY_RSA ? "its private_key is not an RSA key in PEM"
                                                                  : NULL;
}

/* An authorized-user file's members (token_uri is optional, Google's by default). */
static const char *authorized_user(pt_gauth *g, json_t *j)
{
    g->client_id = member(j, "client_id");
    g->client_secret = member(j, "client_secret");
    g->refresh_token = member(j, "refresh_token");
    g->token_uri = member(j, "token_uri");
    if (!g->token_uri) g->token_uri = strdup(GOOGLE_TOKEN_URI);
    return !g->client_id ? "it has no client_id"
           : !g->client_secret ? "it has no client_secret"
           : !g->refresh_token ? "it has no refresh_token"
           : !g->token_uri ? "out of memory"
                            : NULL;
}

/* Reads a credentials file; what names it in messages (its path, and how it was found). */
static pt_gauth *load_file(const char *path, const char *what, pt_buf *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        pt_buf_printf(err, "cannot read the %s '%s': %s", what, path, je.text);
        return NULL;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    bool user = type && strcmp(type, "authorized_user") == 0;
    char source[600];
    snprintf(source, sizeof source, "%s '%s'", what, path);
    pt_gauth *g = gauth_new(user ? SRC_AUTHORIZED_USER : SRC_SERVICE_ACCOUNT, source);
    const char *bad = !g                                          ? "out of memory"
                      : type && !user && strcmp(type, "service_account") != 0
                          ? "its type is neither service_account nor authorized_user (other kinds are not supported)"
                      : user ? authorized_user(g, j)
                             : service_account(g, j);
    if (!bad && pt_post_url_parse(g->token_uri, &g->to)) bad = "its token_uri is not an http(s) URL";
    json_decref(j);
    if (bad) {
        pt_buf_printf(err, "%s '%s': %s", what, path, bad);
        if (g) unref(g);
        return NULL;
    }
    return g;
}

pt_gauth *pt_gauth_load(const char *path, pt_buf *err)
{
    return load_file(path, "service account file", err);
}

pt_gauth *pt_gauth_load_default(pt_buf *err)
{
    const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (env && *env) return load_file(env, "GOOGLE_APPLICATION_CREDENTIALS file", err);
    char path[1024] = "";
    const char *dir = getenv("CLOUDSDK_CONFIG"), *home = getenv("HOME");
    if (dir && *dir) snprintf(path, sizeof path, "%s/application_default_credentials.json", dir);
    else if (home && *home) snprintf(path, sizeof path, "%s/.config/gcloud/application_default_credentials.json", home);
    if (path[0] && access(path, F_OK) == 0) return load_file(path, "application default credentials file", err);
    const char *host = getenv("GCE_METADATA_HOST");
    if (!host || !*host) host = METADATA_HOST;
    bool hostlike = strlen(host) < 256 && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                                              strlen(host);
    char url[600], source[700];
    snprintf(url, sizeof url, "http://%s" METADATA_PATH, host);
    snprintf(source, sizeof source, "the metadata server %s", host);
    pt_gauth *g = gauth_new(SRC_METADATA, source);
    if (g) g->token_uri = strdup(url);
    const char *bad = !g || !g->token_uri || !g->source                    ? "out of memory"
                      : !hostlike || pt_post_url_parse(g->token_uri, &g->to) ? "GCE_METADATA_HOST is not a host[:port]"
                                                                              : NULL;
    if (bad) {
        pt_buf_printf(err, "no credentials file was given or found, and %s", bad);
        if (g) unref(g);
        return NULL;
    }
    return g;
}

const char *pt_gauth_source(const pt_gauth *g)
{
    return g->source ? g->source : "?";
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

/* The token request of g's kind into form (empty for a GET); -1 when it cannot be built. */
static int token_request(const pt_gauth *g, pt_buf *form)
{
    if (g->kind == SRC_METADATA) return 0;
    if (g->kind == SRC_AUTHORIZED_USER) {
        const char *v[] = { g->client_id, g->client_secret, g->refresh_token };
        static const char *const k[] = { "grant_type=refresh_token&client_id=", "&client_secret=", "&refresh_token=" };
        int rc = 0;
        for (int i = 0; i < 3 && !rc; i++)
            rc = pt_buf_append(form, k[i], strlen(k[i])) || pt_sigv4_uri_encode(form, pt_slice_cstr(v[i]), false);
        return rc ? -1 : 0;
    }
    pt_buf jwt = PT_BUF_INIT;
    int rc = pt_gauth_assertion(g, (int64_t)time(NULL), &jwt) ||
             pt_buf_printf(form, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%.*s",
                           (int)jwt.len, jwt.data);
    pt_buf_release(&jwt);
    return rc ? -1 : 0;
}

/* One exchange; returns the token's lifetime in seconds, or -1 with g->why set. */
static int64_t exchange(pt_gauth *g)
{
    pt_buf form = PT_BUF_INIT, answer;
    pt_buf_init(&answer, 1 << 20);
    char why[200] = "", msg[256] = "";
    int64_t life = -1;
    if (token_request(g, &form) == 0) {
        int status = g->kind == SRC_METADATA
                         ? pt_http_get_read(&g->to, "Metadata-Flavor: Google\r\nAccept: application/json\r\n",
                                            EXCHANGE_TIMEOUT_MS, &answer, why, sizeof why)
                         : pt_http_post_read(&g->to, "Accept: application/json\r\n", "application/x-www-form-urlencoded",
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
    if (form.data) OPENSSL_cleanse(form.data, form.len);
    if (answer.data) OPENSSL_cleanse(answer.data, answer.len);
    pt_buf_release(&form);
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
            pt_log_info("AI provider '%s': access token obtained from %s (expires in %lld s)", g->owner, g->source,
                        (long long)life);
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
