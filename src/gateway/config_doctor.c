/* config_doctor.c: the doctor over every object a configuration file points at (see
 * config_doctor.h). Each object is one pt_doctor_json() call; a few run at once on their
 * own threads, and the sections print in the file's order. */
#include "gateway/config_doctor.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ai/ai_config.h"
#include "core/buf.h"
#include "core/err.h"
#include "doctor/doctor.h"
#include "doctor/probe_http.h"
#include "gateway/config.h"

#define PARALLEL 4

typedef struct object {
    const char *kind;      /* "listener", "service target", "AI provider" */
    const pt_ai_provider *provider; /* AI providers: whose keys --check-keys tries */
    json_t *keys;          /* --check-keys: [{"key": position, "result", "status"}], never a key */
    char name[160];        /* "echo", "openai" */
    char target[600];      /* what the doctor is asked about */
    json_t *report;        /* NULL when the target did not parse */
    char err[256];
} object;

typedef struct batch {
    object *v;
    size_t n, next;
    unsigned timeout_ms;
    bool check_keys;
    pthread_mutex_t lock;
} batch;

/* The cheapest authenticated call each provider type offers: listing its models. */
static void key_request(const pt_ai_provider *p, const char *key, char *path, size_t pathsz, char *hdr, size_t hdrsz)
{
    const char *pre = p->path_prefix ? p->path_prefix : "";
    switch (p->type) {
    case PT_AI_PROV_ANTHROPIC:
        snprintf(path, pathsz, "%s/v1/models", pre);
        snprintf(hdr, hdrsz, "x-api-key: %s\r\nanthropic-version: %s\r\n", key,
                 p->api_version ? p->api_version : "2023-06-01");
        break;
    case PT_AI_PROV_GEMINI:
        snprintf(path, pathsz, "%s/v1beta/models", pre);
        snprintf(hdr, hdrsz, "x-goog-api-key: %s\r\n", key);
        break;
    case PT_AI_PROV_AZURE:
        snprintf(path, pathsz, "%s/openai/models?api-version=%s", pre, p->api_version ? p->api_version : "2024-10-21");
        snprintf(hdr, hdrsz, "api-key: %s\r\n", key);
        break;
    default: /* OpenAI and the OpenAI-wire types: the base URL holds the version */
        snprintf(path, pathsz, "%s/models", pre);
        snprintf(hdr, hdrsz, "Authorization: Bearer %s\r\n", key);
        break;
    }
}

/* Tries each key of p with that call: accepted (2xx), refused (401/403), or what else came. */
static json_t *check_keys(const pt_ai_provider *p, unsigned timeout_ms)
{
    json_t *out = json_array();
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char port[8], addr[INET6_ADDRSTRLEN] = "";
    snprintf(port, sizeof port, "%u", (unsigned)p->port);
    if (getaddrinfo(p->host, port, &hints, &ai) == 0 && ai) {
        const void *a = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                  : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, a, addr, sizeof addr);
    }
    if (ai) freeaddrinfo(ai);
    for (size_t i = 0; out && i < p->nkeys; i++) {
        char path[512], hdr[1024], err[256], host[300];
        key_request(p, p->keys[i].value, path, sizeof path, hdr, sizeof hdr);
        snprintf(host, sizeof host, "%s%s%s:%u", strchr(p->host, ':') ? "[" : "", p->host,
                 strchr(p->host, ':') ? "]" : "", (unsigned)p->port);
        pt_dr_http_req req = { .method = "GET", .path = path, .host = host, .headers = hdr, .body_cap = 4096 };
        pt_dr_http_resp r;
        int rc = addr[0] ? pt__dr_http_do(addr, p->port, p->tls, p->host, &req,
                                          pt__dr_deadline((timeout_ms ? timeout_ms : 1000) * 3), &r, NULL, err, sizeof err)
                         : -1;
        int st = rc == 0 ? r.status : 0;
        const char *result = rc != 0 ? "no answer" : st / 100 == 2 ? "accepted" : st == 401 || st == 403 ? "refused"
                                                                                                       : "other";
        json_array_append_new(out, json_pack("{s:i,s:s,s:i}", "key", (int)i + 1, "result", result, "status", st));
        if (addr[0]) pt__dr_http_resp_release(&r);
    }
    return out;
}

static bool keys_refused(const object *o)
{
    size_t i;
    json_t *k;
    json_array_foreach(o->keys, i, k) if (strcmp(json_string_value(json_object_get(k, "result")), "accepted") != 0)
        return true;
    return false;
}

static void *worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        size_t i = b->next++;
        pthread_mutex_unlock(&b->lock);
        if (i >= b->n) return NULL;
        object *o = &b->v[i];
        o->report = pt_doctor_json(o->target, false, b->timeout_ms, o->err, sizeof o->err);
        if (b->check_keys && o->provider) o->keys = check_keys(o->provider, b->timeout_ms);
    }
}

static int add(object **v, size_t *n, size_t *cap, const char *kind, const char *name, const char *target)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        object *q = realloc(*v, nc * sizeof *q);
        if (!q) return -1;
        *v = q;
        *cap = nc;
    }
    object *o = &(*v)[(*n)++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->target, sizeof o->target, "%s", target);
    return 0;
}

/* host:port as the doctor's connect mode takes it: reachability, the protocol spoken and its
 * TLS when it speaks TLS, without judging what GET / answers (a base URL or a gateway
 * without a route there rightly answers 404). */
static void endpoint(const char *host, unsigned port, char *out, size_t n)
{
    bool v6 = strchr(host, ':') != NULL;
    snprintf(out, n, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Every object of cfg worth a diagnosis, in the file's order. A service target with an active
 * health check is asked for that path over HTTP, as the gateway itself asks. */
static int collect(const pt_config *cfg, object **v, size_t *n)
{
    size_t cap = 0;
    int rc = 0;
    char t[600];
    for (size_t i = 0; rc == 0 && i < cfg->nlisteners; i++) {
        endpoint(cfg->listeners[i].host, cfg->listeners[i].port, t, sizeof t);
        rc = add(v, n, &cap, "listener", cfg->listeners[i].text, t);
    }
    for (size_t i = 0; rc == 0 && i < cfg->nservices; i++) {
        const pt_service *s = &cfg->services[i];
        for (size_t j = 0; rc == 0 && j < s->ntargets; j++) {
            const pt_target *g = &s->targets[j];
            if (s->health.enabled) snprintf(t, sizeof t, "%s%s", g->url, s->health.path);
            else endpoint(g->host, g->port, t, sizeof t);
            rc = add(v, n, &cap, "service target", s->name, t);
        }
    }
    for (size_t i = 0; rc == 0 && cfg->ai && i < cfg->ai->nproviders; i++) {
        const pt_ai_provider *p = &cfg->ai->providers[i];
        endpoint(p->host, p->port, t, sizeof t);
        rc = add(v, n, &cap, "AI provider", p->name, t);
        if (rc == 0) (*v)[*n - 1].provider = p;
    }
    return rc;
}

static int exit_of(const object *o)
{
    int e = o->report ? (int)json_integer_value(json_object_get(o->report, "exit_code")) : PT_DR_EXIT_USAGE;
    return keys_refused(o) && e < PT_DR_EXIT_FAIL ? PT_DR_EXIT_FAIL : e;
}

static void print_text(const object *v, size_t n, int worst)
{
    for (size_t i = 0; i < n; i++) {
        const object *o = &v[i];
        printf("%s %s: %s\n", o->kind, o->name, o->target);
        if (!o->report) {
            printf("  cannot check it: %s\n\n", o->err);
            continue;
        }
        json_t *rc = json_object_get(o->report, "root_cause");
        const char *verdict = json_string_value(json_object_get(o->report, "verdict"));
        if (json_is_object(rc)) {
            printf("  %s: %s\n", verdict ? verdict : "?", json_string_value(json_object_get(rc, "summary")));
            const char *fix = json_string_value(json_object_get(rc, "remedy"));
            for (const char *l = fix, *nl; l && *l; l = nl ? nl + 1 : NULL) { /* one remedy per line */
                nl = strchr(l, '\n');
                printf("  %s %.*s\n", l == fix ? "fix:" : "    ", (int)(nl ? nl - l : (long)strlen(l)), l);
            }
        } else {
            printf("  %s\n", verdict ? verdict : "?");
        }
        size_t k;
        json_t *key;
        json_array_foreach(o->keys, k, key)
            printf("  key %lld: %s (HTTP %lld)\n", (long long)json_integer_value(json_object_get(key, "key")),
                   json_string_value(json_object_get(key, "result")),
                   (long long)json_integer_value(json_object_get(key, "status")));
        printf("\n");
    }
    printf("%zu object%s checked; exit %d\n", n, n == 1 ? "" : "s", worst);
}

static void print_json(const char *file, const object *v, size_t n, int worst)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:O?,s:s?,s:O?}", "kind", v[i].kind, "name", v[i].name,
                                             "target", v[i].target, "report", v[i].report, "error",
                                             v[i].report ? NULL : v[i].err, "keys", v[i].keys));
    json_t *doc = json_pack("{s:s,s:o,s:i}", "config", file, "objects", arr, "exit_code", worst);
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(doc);
}

int pt_config_doctor_wanted(int argc, char **argv)
{
    /* options come before the target; after "--" everything is a command (MCP stdio) */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) return 1;
    return 0;
}

int pt_config_doctor_main(int argc, char **argv)
{
    const char *file = NULL;
    bool json = false, keys = false;
    unsigned timeout = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) file = argv[++i];
        else if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--check-keys") == 0) keys = true;
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "portico doctor -c: unknown argument '%s' (takes -c FILE, --json, --timeout MS, --check-keys)\n", a);
            return PT_DR_EXIT_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "portico doctor -c: give a configuration file\n");
        return PT_DR_EXIT_USAGE;
    }
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_file(file, &err);
    if (!cfg) {
        fprintf(stderr, "portico doctor: %s\n", err.data ? err.data : "the configuration does not load");
        pt_buf_release(&err);
        return PT_DR_EXIT_USAGE;
    }
    pt_buf_release(&err);
    object *v = NULL;
    size_t n = 0;
    if (collect(cfg, &v, &n) != 0) {
        fprintf(stderr, "portico doctor: out of memory\n");
        free(v);
        pt_config_release(cfg);
        return PT_DR_EXIT_UNKNOWN;
    }
    batch b = { .v = v, .n = n, .timeout_ms = timeout, .check_keys = keys };
    pthread_mutex_init(&b.lock, NULL);
    pthread_t th[PARALLEL];
    int started = 0;
    for (int i = 0; i < PARALLEL && (size_t)i < n; i++)
        if (pthread_create(&th[started], NULL, worker, &b) == 0) started++;
    if (!started) worker(&b); /* no thread: one at a time here */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&b.lock);
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int e = exit_of(&v[i]);
        if (e == PT_DR_EXIT_USAGE) e = PT_DR_EXIT_UNKNOWN;
        if (e > worst) worst = e;
    }
    if (json) print_json(file, v, n, worst);
    else print_text(v, n, worst);
    for (size_t i = 0; i < n; i++) {
        json_decref(v[i].report);
        json_decref(v[i].keys);
    }
    free(v);
    pt_config_release(cfg); /* the providers the key checks read live in it */
    return worst;
}
