/* mcp_session.c: the MCP endpoints' process-wide sessions and their GET streams' replay
 * buffers (see mcp_session.h). One lock guards the table: sessions are found on every MCP
 * request, streams written only when a server sends something that belongs to no call. */
#include "gateway/mcp_session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"

#define MAX_SESSIONS 10000
#define SESSION_IDLE_MS (60ull * 60 * 1000)

typedef struct event {
    uint64_t seq;
    char *text;
} event;

typedef struct session {
    char id[33];
    char server[64];           /* "" for /mcp */
    unsigned caps;             /* PT_MCP_CAN_* */
    bool legacy;               /* a 2024-11-05 HTTP+SSE client's (its stream is the session) */
    char consumer[65];         /* whose key made it, "" without a key */
    uint64_t last_ms;
    bool streaming;            /* a GET stream was opened: messages are kept for it */
    uint64_t last_seq;         /* the newest event's number (0: none yet) */
    event *ring;               /* PT_MCP_REPLAY_EVENTS, the oldest at head */
    size_t head, n, bytes;
    char **watched;            /* the resources its client subscribed to */
    size_t nwatched;
} session;

/* A hub whose instance of a server was told resources/subscribe for a resource, kept as
 * "<server>\n<uri>" like a session's watches: it is told to stop once no session watches it. */
typedef struct holding {
    char *key;
    uint64_t hub;
} holding;

/* Holdings released under the lock, told to pt_mcp_unwatch_fn after it (never an upstream
 * call under the sessions' lock). */
typedef struct released {
    holding *v;
    size_t n;
} released;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static session *sessions;
static size_t nsessions, cap;
static holding *holdings;
static size_t nholdings, holdings_cap;
static _Atomic(pt_mcp_unwatch_fn) unwatch_fn; /* read after the lock */

static size_t watchers(const char *key)
{
    size_t n = 0;
    for (size_t i = 0; i < nsessions; i++)
        for (size_t w = 0; w < sessions[i].nwatched; w++) n += strcmp(sessions[i].watched[w], key) == 0;
    return n;
}

/* key's holdings move to out when no session watches key any more. Out of memory, a
 * holding stays (its server keeps sending updates that reach no session). */
static void release_unwatched(const char *key, released *out)
{
    if (watchers(key)) return;
    for (size_t h = 0; h < nholdings;) {
        holding *grown = strcmp(holdings[h].key, key) == 0 ? realloc(out->v, (out->n + 1) * sizeof *grown) : NULL;
        if (!grown) {
            h++;
            continue;
        }
        out->v = grown;
        out->v[out->n++] = holdings[h];
        holdings[h] = holdings[--nholdings];
    }
}

/* Tells the hubs of out's holdings, but skip, to stop (after the lock); frees them. */
static void tell_released(released *out, uint64_t skip)
{
    for (size_t h = 0; h < out->n; h++) {
        char *uri = strchr(out->v[h].key, '\n');
        pt_mcp_unwatch_fn fn = atomic_load(&unwatch_fn);
        if (uri && fn && out->v[h].hub != skip) {
            *uri = '\0';
            fn(out->v[h].hub, out->v[h].key, uri + 1);
        }
        free(out->v[h].key);
    }
    free(out->v);
}

static void ring_free(session *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->ring[(s->head + i) % PT_MCP_REPLAY_EVENTS].text);
    free(s->ring);
    s->ring = NULL;
    s->n = s->bytes = 0;
}

/* Ends session i; the resources it alone watched release their holdings into out. */
static void drop_at(size_t i, released *out)
{
    session gone = sessions[i];
    sessions[i] = sessions[--nsessions];
    ring_free(&gone);
    for (size_t w = 0; w < gone.nwatched; w++) {
        release_unwatched(gone.watched[w], out);
        free(gone.watched[w]);
    }
    free(gone.watched);
}

static void expire(uint64_t now, released *out)
{
    for (size_t i = 0; i < nsessions;)
        if (now - sessions[i].last_ms > SESSION_IDLE_MS) drop_at(i, out);
        else i++;
}

static session *find(pt_slice id, const char *server)
{
    for (size_t i = 0; i < nsessions; i++)
        if (pt_slice_eq_cstr(id, sessions[i].id) && (!server || strcmp(sessions[i].server, server) == 0))
            return &sessions[i];
    return NULL;
}

bool pt__mcp_session_new(const char *server, unsigned caps, char id[33])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return false;
    for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", r[i]);
    released gone = { 0 };
    pthread_mutex_lock(&lock);
    uint64_t now = pt_now_ms();
    expire(now, &gone);
    bool ok = nsessions < MAX_SESSIONS;
    if (ok && nsessions == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        session *s = realloc(sessions, ncap * sizeof *s);
        ok = s != NULL;
        if (ok) sessions = s, cap = ncap;
    }
    if (ok) {
        session *s = &sessions[nsessions++];
        *s = (session){ .caps = caps, .last_ms = now };
        snprintf(s->id, sizeof s->id, "%s", id);
        snprintf(s->server, sizeof s->server, "%s", server);
    }
    pthread_mutex_unlock(&lock);
    tell_released(&gone, 0);
    return ok;
}

void pt__mcp_session_bind(const char *id, bool legacy, const char *consumer)
{
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    if (s) {
        s->legacy = legacy;
        snprintf(s->consumer, sizeof s->consumer, "%s", consumer);
    }
    pthread_mutex_unlock(&lock);
}

bool pt__mcp_session_held(pt_slice id, bool legacy, const char *consumer)
{
    pthread_mutex_lock(&lock);
    session *s = find(id, NULL);
    /* a consumer name longer than the field never matches: compared whole, not cut */
    bool held = s && s->legacy == legacy && strlen(consumer) < sizeof s->consumer && strcmp(s->consumer, consumer) == 0;
    pthread_mutex_unlock(&lock);
    return held;
}

bool pt__mcp_session_use(pt_slice id, const char *server, bool drop, unsigned *caps)
{
    released gone = { 0 };
    pthread_mutex_lock(&lock);
    session *s = find(id, server);
    if (s) {
        s->last_ms = pt_now_ms();
        if (caps) *caps = s->caps;
        if (drop) drop_at((size_t)(s - sessions), &gone);
    }
    pthread_mutex_unlock(&lock);
    tell_released(&gone, 0);
    return s != NULL;
}

/* The number in an event id "g<n>", or -1 when it is not one. */
static long long event_number(pt_slice v)
{
    if (v.len < 2 || v.len > 21 || v.ptr[0] != 'g') return -1;
    unsigned long long n = 0;
    for (size_t i = 1; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return -1;
        n = n * 10 + (unsigned)(v.ptr[i] - '0');
    }
    return n > (unsigned long long)INT64_MAX ? -1 : (long long)n;
}

int pt__mcp_stream_open(pt_slice id, const char *server, const pt_slice *last_event_id, uint64_t *cursor,
                        unsigned *caps)
{
    long long asked = last_event_id ? event_number(*last_event_id) : 0;
    pthread_mutex_lock(&lock);
    session *s = find(id, server);
    int rc = !s ? -1 : asked < 0 || (uint64_t)asked > s->last_seq ? -2 : 0;
    if (rc == 0) {
        s->last_ms = pt_now_ms();
        s->streaming = true;
        *caps = s->caps;
        *cursor = last_event_id ? (uint64_t)asked : s->last_seq;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Keeps text (taken) as s's next event, dropping the oldest past the bounds. */
static bool keep(session *s, char *text)
{
    if (!s->ring && !(s->ring = calloc(PT_MCP_REPLAY_EVENTS, sizeof *s->ring))) {
        free(text);
        return false;
    }
    size_t len = strlen(text);
    while (s->n && (s->n == PT_MCP_REPLAY_EVENTS || s->bytes + len > PT_MCP_REPLAY_BYTES)) {
        event *old = &s->ring[s->head];
        s->bytes -= strlen(old->text);
        free(old->text);
        s->head = (s->head + 1) % PT_MCP_REPLAY_EVENTS;
        s->n--;
    }
    s->ring[(s->head + s->n++) % PT_MCP_REPLAY_EVENTS] = (event){ ++s->last_seq, text };
    s->bytes += len;
    return true;
}

/* A watched resource is kept as "<server>\n<uri>": a session of /mcp watches resources of
 * every server, and URIs hold no newline. */
static bool watch_is(const char *entry, const char *server, const char *uri)
{
    size_t n = strlen(server);
    return strncmp(entry, server, n) == 0 && entry[n] == '\n' && strcmp(entry + n + 1, uri) == 0;
}

static bool watches(const session *s, const char *server, const char *uri, size_t *at)
{
    for (size_t w = 0; w < s->nwatched; w++) {
        if (!watch_is(s->watched[w], server, uri)) continue;
        if (at) *at = w;
        return true;
    }
    return false;
}

/* Adds server's uri to s's watched resources (it is not there yet). */
static bool watch_add(session *s, const char *server, const char *uri)
{
    size_t n = strlen(server) + strlen(uri) + 2;
    char *copy = s->nwatched < PT_MCP_WATCH_MAX ? malloc(n) : NULL;
    char **grown = copy ? realloc(s->watched, (s->nwatched + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return false;
    }
    snprintf(copy, n, "%s\n%s", server, uri);
    s->watched = grown;
    s->watched[s->nwatched++] = copy;
    return true;
}

/* Whether w's hub must tell its instance of the server to subscribe to key: not when it
 * did already, nor when another hub did and one subscription serves them all. Then the
 * hub is kept as one that holds key (unless out of memory). */
static bool hold(const char *key, pt_mcp_watcher w)
{
    for (size_t h = 0; h < nholdings; h++)
        if (strcmp(holdings[h].key, key) == 0 && (w.shared || holdings[h].hub == w.hub)) return false;
    if (nholdings == holdings_cap) {
        size_t ncap = holdings_cap ? holdings_cap * 2 : 16;
        holding *grown = realloc(holdings, ncap * sizeof *grown);
        if (!grown) return true;
        holdings = grown, holdings_cap = ncap;
    }
    char *copy = strdup(key);
    if (copy) holdings[nholdings++] = (holding){ copy, w.hub };
    return true;
}

static bool holds(const released *out, uint64_t hub)
{
    for (size_t h = 0; h < out->n; h++)
        if (out->v[h].hub == hub) return true;
    return false;
}

int pt__mcp_session_watch(const char *id, const char *server, const char *uri, bool on, pt_mcp_watcher w, bool *relay)
{
    released gone = { 0 };
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    size_t at;
    int left = -1;
    *relay = false;
    if (s && s->server[0] && strcmp(s->server, server) != 0) s = NULL;
    if (s && on && !watches(s, server, uri, NULL) && !watch_add(s, server, uri)) s = NULL;
    if (s && on && watches(s, server, uri, &at)) *relay = hold(s->watched[at], w);
    if (s && !on && watches(s, server, uri, &at)) {
        char *key = s->watched[at];
        s->watched[at] = s->watched[--s->nwatched];
        release_unwatched(key, &gone);
        free(key);
        /* this hub's instance, or any when none holds it, gets the client's own unsubscribe */
        *relay = !gone.n || holds(&gone, w.hub);
    } else if (s && !on) {
        *relay = true; /* not watched here: the server answers, as it would without the gateway */
    }
    if (s) {
        left = 0; /* the sessions of /mcp and of /mcp/<server> share the gateway's session with it */
        for (size_t i = 0; i < nsessions; i++) left += watches(&sessions[i], server, uri, NULL);
        if (!on && left) *relay = false;
    }
    pthread_mutex_unlock(&lock);
    tell_released(&gone, *relay ? w.hub : 0);
    return left;
}

void pt__mcp_session_watch_refused(const char *id, const char *server, const char *uri, uint64_t hub)
{
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    size_t at;
    if (s && watches(s, server, uri, &at)) {
        free(s->watched[at]);
        s->watched[at] = s->watched[--s->nwatched];
    }
    for (size_t h = 0; h < nholdings; h++)
        if (holdings[h].hub == hub && watch_is(holdings[h].key, server, uri)) {
            free(holdings[h].key);
            holdings[h] = holdings[--nholdings];
            break;
        }
    pthread_mutex_unlock(&lock);
}

size_t pt__mcp_session_held_uris(uint64_t hub, const char *server, char ***uris)
{
    size_t n = 0, len = strlen(server);
    pthread_mutex_lock(&lock);
    char **got = nholdings ? malloc(nholdings * sizeof *got) : NULL;
    for (size_t h = 0; got && h < nholdings; h++) {
        const char *key = holdings[h].key;
        if (holdings[h].hub != hub || strncmp(key, server, len) != 0 || key[len] != '\n') continue;
        if ((got[n] = strdup(key + len + 1))) n++;
    }
    pthread_mutex_unlock(&lock);
    *uris = got;
    return n;
}

void pt__mcp_session_on_unwatch(pt_mcp_unwatch_fn fn)
{
    atomic_store(&unwatch_fn, fn);
}

void pt__mcp_session_forget_hub(uint64_t hub)
{
    pthread_mutex_lock(&lock);
    for (size_t h = 0; h < nholdings;)
        if (holdings[h].hub == hub) {
            free(holdings[h].key);
            holdings[h] = holdings[--nholdings];
        } else {
            h++;
        }
    pthread_mutex_unlock(&lock);
}

/* Keeps text as the next event of the streams of server's sessions (of those that watch uri
 * only, unless it is NULL) and aggregate_text as that of /mcp's (unless uri is given). */
static size_t publish(const char *server, const char *uri, const char *text, const char *aggregate_text)
{
    size_t got = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nsessions; i++) {
        session *s = &sessions[i];
        const char *t = !s->streaming                         ? NULL
                        : uri                                 ? (watches(s, server, uri, NULL) ? text : NULL)
                        : strcmp(s->server, server) == 0      ? text
                        : s->server[0]                        ? NULL
                                                              : aggregate_text;
        char *copy = t ? strdup(t) : NULL;
        if (copy && keep(s, copy)) got++;
    }
    pthread_mutex_unlock(&lock);
    return got;
}

size_t pt__mcp_stream_publish(const char *server, const char *text, const char *aggregate_text)
{
    return publish(server, NULL, text, aggregate_text);
}

size_t pt__mcp_stream_publish_watched(const char *server, const char *uri, const char *text)
{
    return publish(server, uri, text, NULL);
}

bool pt__mcp_stream_push(const char *id, const char *text)
{
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    char *copy = s ? strdup(text) : NULL;
    bool ok = copy && keep(s, copy);
    pthread_mutex_unlock(&lock);
    return ok;
}

void pt__mcp_session_set_caps(const char *id, unsigned caps)
{
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    if (s) s->caps = caps;
    pthread_mutex_unlock(&lock);
}

bool pt__mcp_stream_read(const char *id, uint64_t *cursor, pt_buf *out)
{
    pthread_mutex_lock(&lock);
    session *s = find(pt_slice_cstr(id), NULL);
    for (size_t i = 0; s && i < s->n; i++) {
        const event *e = &s->ring[(s->head + i) % PT_MCP_REPLAY_EVENTS];
        if (e->seq <= *cursor) continue;
        pt_buf_printf(out, "id: g%llu\nevent: message\ndata: %s\n\n", (unsigned long long)e->seq, e->text);
        *cursor = e->seq;
    }
    if (s && *cursor < s->last_seq) *cursor = s->last_seq; /* dropped meanwhile: skipped */
    pthread_mutex_unlock(&lock);
    return s != NULL;
}

void pt__mcp_sessions_reset(void)
{
    released gone = { 0 };
    pthread_mutex_lock(&lock);
    while (nsessions) drop_at(nsessions - 1, &gone);
    pthread_mutex_unlock(&lock);
    tell_released(&gone, 0);
}
