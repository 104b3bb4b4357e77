/* counter_redis.c: the Redis counter backend (counter_redis.h).
 *
 * Why blocking connections, one per thread, rather than hiredis's async API on each
 * worker's loop: the limit gate decides inside the request handler and returns its answer
 * at once (proxy, AI and MCP routes all call it that way, as do settle and release when a
 * request ends), so suspending it would mean reworking every route's state machine. A
 * blocking call bounded by a short timeout (50 ms by default; a healthy loopback or LAN
 * round trip is well under 1 ms) and a backoff that stops trying once Redis fails keeps
 * the worst case a worker can stall to one timeout per backoff period. */
#include "limits/counter_redis.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u
#define LOG_EVERY_S 5
#define MAX_BATCH 64u
#define KEY_MAX 400u /* a prefix (at most 128) and a limit key (enforce.c: at most 216) */

/* Rate windows are kept in microseconds since 2020-09-13 (Redis's TIME less 1.6e9 s), so
 * a TAT stays well inside a double's exact range; EPS absorbs the rounding of a
 * fractional interval. Slots are scored in Unix milliseconds. A window's total outlives
 * its end by a day, so a call settled just after the end still finds it. Each op reads
 * four numbers from ARGV (kind and three arguments) and answers four numbers; a lease that
 * passes answers how many cells it took in place of the retry time. */
static const char script[] =
    "local t = redis.call('TIME')\n"
    "local now = (tonumber(t[1]) - 1600000000) * 1e6 + tonumber(t[2])\n"
    "local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local EPS = 0.05\n"
    "local undo = {}\n"
    "local function tat_of(key) return tonumber(redis.call('GET', key) or '0') or 0 end\n"
    "local function set_tat(key, v)\n"
    "  if v <= now then redis.call('DEL', key) return end\n"
    "  redis.call('SET', key, string.format('%.17g', v), 'PX', math.ceil((v - now) / 1000) + 1000)\n"
    "end\n"
    "local function back(key, cost)\n"
    "  local tat = tat_of(key)\n"
    "  if tat <= now then return end\n"
    "  if tat - now > cost then set_tat(key, tat - cost) else set_tat(key, now) end\n"
    "end\n"
    "local function take(key, T, tau, n)\n"
    "  local cost, tat = n * T, tat_of(key)\n"
    "  local start = math.max(tat, now)\n"
    "  local owed, room = start - now, tau + T\n"
    "  if owed + cost > room + EPS then\n"
    "    local retry = owed + cost - room\n"
    "    if cost > room then retry = owed + 1 end\n"
    "    return false, {0, 0, math.ceil(retry * 1000), math.ceil(owed * 1000)}\n"
    "  end\n"
    "  local nxt = start + cost\n"
    "  set_tat(key, nxt)\n"
    "  undo[#undo + 1] = function() back(key, cost) end\n"
    "  local ahead, rem = nxt - now, 0\n"
    "  if ahead <= tau + EPS then rem = math.floor(math.max(tau - ahead, 0) / T + 1e-6) + 1 end\n"
    "  return true, {1, rem, 0, math.ceil(ahead * 1000)}\n"
    "end\n"
    "local function lease(key, T, tau, n)\n"
    "  local owed = math.max(tat_of(key), now) - now\n"
    "  local got = math.min(n, math.floor((tau + T + EPS - owed) / T))\n"
    "  if got < 1 then return take(key, T, tau, 1) end\n"
    "  local ok, r = take(key, T, tau, got)\n"
    "  if ok then r[3] = got end\n"
    "  return ok, r\n"
    "end\n"
    "local function adjust(key, T, delta)\n"
    "  if delta >= 0 then set_tat(key, math.max(tat_of(key), now) + delta * T) else back(key, -delta * T) end\n"
    "  return true, {1, 0, 0, 0}\n"
    "end\n"
    "local function acquire(key, max, member, ttl)\n"
    "  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)\n"
    "  local c = redis.call('ZCARD', key)\n"
    "  if c >= max then return false, {0, c, 0, 0} end\n"
    "  redis.call('ZADD', key, now_ms + ttl, member)\n"
    "  redis.call('PEXPIRE', key, ttl + 1000)\n"
    "  undo[#undo + 1] = function() redis.call('ZREM', key, member) end\n"
    "  return true, {1, c + 1, 0, 0}\n"
    "end\n"
    "local function put(key, total, expires)\n"
    "  redis.call('SET', key, string.format('%d', total))\n"
    "  redis.call('EXPIREAT', key, expires + 86400)\n"
    "end\n"
    "local function add(key, delta, limit, expires)\n"
    "  local total = tonumber(redis.call('GET', key) or '0') or 0\n"
    "  if delta < 0 then\n"
    "    total = math.max(total + delta, 0)\n"
    "    put(key, total, expires)\n"
    "  elseif limit > 0 and (total >= limit or delta > limit - total) then\n"
    "    return false, {1, total, 0, 0}\n"
    "  elseif delta > 0 then\n"
    "    total = total + delta\n"
    "    put(key, total, expires)\n"
    "    undo[#undo + 1] = function() put(key, math.max(tonumber(redis.call('GET', key) or '0') - delta, 0), expires) end\n"
    "  end\n"
    "  return true, {0, total, 0, 0}\n"
    "end\n"
    "local out = {0}\n"
    "for j = 2, 1 + 4 * #KEYS do out[j] = 0 end\n"
    "for i = 1, #KEYS do\n"
    "  local k, a, b, c = ARGV[4*i-3], ARGV[4*i-2], ARGV[4*i-1], ARGV[4*i]\n"
    "  local ok, r\n"
    "  if k == 't' then ok, r = take(KEYS[i], tonumber(a) / 1000, tonumber(b) / 1000, tonumber(c))\n"
    "  elseif k == 'j' then ok, r = adjust(KEYS[i], tonumber(a) / 1000, tonumber(c))\n"
    "  elseif k == 'l' then ok, r = lease(KEYS[i], tonumber(a) / 1000, tonumber(b) / 1000, tonumber(c))\n"
    "  elseif k == 'c' then ok, r = acquire(KEYS[i], tonumber(a), b, tonumber(c))\n"
    "  else ok, r = add(KEYS[i], tonumber(a), tonumber(b), tonumber(c)) end\n"
    "  for j = 1, 4 do out[4*i-3+j] = r[j] end\n"
    "  if not ok then\n"
    "    for u = #undo, 1, -1 do undo[u]() end\n"
    "    out[1] = i\n"
    "    return out\n"
    "  end\n"
    "end\n"
    "return out\n";

/* A rate key's cells taken ahead by this thread (rate.slack), or its refusal remembered:
 * either holds until until_ms, the time those cells take to come back to the window (or
 * the refusal's retry time), so a lease never lets calls through later than the window
 * would have. */
typedef struct lease {
    uint64_t until_ms;   /* monotonic ms; 0: an empty entry */
    uint64_t cells;      /* cells left; 0 with refused */
    bool refused;
    pt_gcra_result rate; /* the refusal's figures, or the last lease's */
    size_t keylen;
    char key[KEY_MAX];
} lease;

#define LEASES 64 /* rate keys with slack one thread decides alone at a time */

typedef struct conn {
    redisContext *c;
    uint64_t retry_at, backoff; /* monotonic ms: no attempt before retry_at */
    lease *leases;              /* LEASES of them, made at the first take with slack */
} conn;

typedef struct redis_b {
    pt_counters base;
    pt_redis_url url;
    struct timeval tv;
    char *prefix;
    size_t prefix_len;
    uint64_t slot_ttl_ms;
    char sha[41];
    char node[17];                /* this process's slot members start with it */
    pthread_key_t tls;            /* each thread's conn */
    _Atomic uint64_t calls, errors, seq, local;
    _Atomic bool up;
    _Atomic int64_t last_log;
} redis_b;

/* A slot held: its key and member, for inflight_release. */
typedef struct slot {
    size_t keylen;
    char member[40];
    char key[];
} slot;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the URL ---- */

static int url_fail(char *err, size_t cap, const char *what)
{
    snprintf(err, cap, "%s (expected redis://[[user]:password@]host[:port][/db])", what);
    return -1;
}

/* "host[:port][/db]" */
static int parse_where(const char *s, pt_redis_url *out, char *err, size_t cap)
{
    size_t h = strcspn(s, ":/");
    if (h == 0) return url_fail(err, cap, "the Redis URL has no host");
    if (h >= sizeof out->host) return url_fail(err, cap, "the Redis URL's host is too long");
    memcpy(out->host, s, h);
    out->host[h] = '\0';
    s += h;
    if (*s == ':') {
        char *end;
        unsigned long p = strtoul(s + 1, &end, 10);
        if (end == s + 1 || p == 0 || p > 65535 || (*end && *end != '/'))
            return url_fail(err, cap, "the Redis URL's port is not a number from 1 to 65535");
        out->port = (unsigned)p;
        s = end;
    }
    if (*s == '/' && s[1]) {
        char *end;
        unsigned long db = strtoul(s + 1, &end, 10);
        if (end == s + 1 || *end || db > 1000000) return url_fail(err, cap, "the Redis URL's database is not a number");
        out->db = (unsigned)db;
    } else if (*s && strcmp(s, "/") != 0) {
        return url_fail(err, cap, "the Redis URL has something after its host it cannot read");
    }
    return 0;
}

int pt_redis_url_parse(const char *url, pt_redis_url *out, char *err, size_t cap)
{
    *out = (pt_redis_url){ .port = 6379 };
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return url_fail(err, cap, "the Redis URL does not start with redis://");
    const char *s = url + sizeof scheme - 1, *at = strrchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (!colon) return url_fail(err, cap, "the Redis URL's credentials have no ':' before the password");
        if (!pt_str_percent_decode(s, (size_t)(colon - s), out->user, sizeof out->user, false) ||
            !pt_str_percent_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password, false))
            return url_fail(err, cap, "the Redis URL's user or password is too long or badly %-encoded");
        s = at + 1;
    }
    return parse_where(s, out, err, cap);
}

/* ---- connections ---- */

/* Logs at most once every LOG_EVERY_S seconds (failures come in floods). */
static void log_limited(redis_b *r, const char *fmt, const char *what)
{
    int64_t now = (int64_t)(mono_ms() / 1000), last = atomic_load(&r->last_log);
    if (now - last < LOG_EVERY_S && last) return;
    if (!atomic_compare_exchange_strong(&r->last_log, &last, now)) return;
    pt_log_warn(fmt, r->url.host, r->url.port, what);
}

/* Sends AUTH and SELECT when the URL asks for them. 0, or -1 with the server's answer in msg. */
static int handshake(redis_b *r, redisContext *c, char *msg, size_t cap)
{
    redisReply *rep = NULL;
    if (r->url.password[0])
        rep = r->url.user[0] ? redisCommand(c, "AUTH %s %s", r->url.user, r->url.password)
                             : redisCommand(c, "AUTH %s", r->url.password);
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(msg, cap, "redis at %s:%u refused the credentials in counters.redis: %s", r->url.host, r->url.port,
                 rep->str);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    rep = r->url.db && !c->err ? redisCommand(c, "SELECT %u", r->url.db) : NULL;
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(msg, cap, "redis at %s:%u refused database %u of counters.redis: %s", r->url.host, r->url.port,
                 r->url.db, rep->str);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    if (!c->err) return 0;
    snprintf(msg, cap, "redis at %s:%u: %s", r->url.host, r->url.port, c->errstr);
    return -1;
}

/* A new connection; NULL with msg set (*refused when Redis answered but said no). */
static redisContext *dial(redis_b *r, char *msg, size_t cap, bool *refused)
{
    *refused = false;
    redisContext *c = redisConnectWithTimeout(r->url.host, (int)r->url.port, r->tv);
    if (!c || c->err) {
        snprintf(msg, cap, "redis at %s:%u cannot be reached: %s", r->url.host, r->url.port,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, r->tv);
    if (handshake(r, c, msg, cap) != 0) {
        *refused = !c->err;
        redisFree(c);
        return NULL;
    }
    return c;
}

static void conn_free(void *p)
{
    conn *k = p;
    if (k) redisFree(k->c);
    if (k) free(k->leases);
    free(k);
}

/* This thread's state, made at its first use; NULL when out of memory. */
static conn *thread_state(redis_b *r)
{
    conn *k = pthread_getspecific(r->tls);
    if (!k) {
        if (!(k = calloc(1, sizeof *k)) || pthread_setspecific(r->tls, k) != 0) {
            free(k);
            return NULL;
        }
    }
    return k;
}

/* This thread's connection, dialled when there is none and the backoff allows; NULL
 * when Redis cannot be used now. */
static redisContext *thread_conn(redis_b *r)
{
    conn *k = thread_state(r);
    if (!k) return NULL;
    if (k->c) return k->c;
    uint64_t now = mono_ms();
    if (now < k->retry_at) return NULL;
    char msg[512];
    bool refused;
    k->c = dial(r, msg, sizeof msg, &refused);
    if (k->c) {
        if (k->backoff) pt_log_info("counters: redis at %s:%u reachable again", r->url.host, r->url.port);
        k->backoff = 0;
        return k->c;
    }
    k->backoff = k->backoff ? (k->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : k->backoff * 2) : BACKOFF_MIN_MS;
    k->retry_at = now + k->backoff;
    log_limited(r, "counters: redis at %s:%u: %s; policies follow their on_store_error until it answers", msg);
    return NULL;
}

/* Drops this thread's connection after a failure on it; the next call redials. */
static void conn_failed(redis_b *r, const char *why)
{
    conn *k = pthread_getspecific(r->tls);
    log_limited(r, "counters: redis at %s:%u failed: %s; policies follow their on_store_error until it answers", why);
    if (!k) return;
    redisFree(k->c);
    k->c = NULL;
    k->backoff = BACKOFF_MIN_MS;
    k->retry_at = mono_ms() + BACKOFF_MIN_MS;
}

/* ---- one batch, one round trip ---- */

int pt__counters_redis_reply(const redisReply *rep, pt_counter_op *ops, size_t n)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 + 4 * n) return PT_EIO;
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER || rep->element[i]->integer < 0) return PT_EIO;
    long long refused = rep->element[0]->integer;
    if (refused > (long long)n) return PT_EIO;
    size_t ran = refused ? (size_t)refused : n;
    for (size_t i = 0; i < ran; i++) {
        pt_counter_op *o = &ops[i];
        uint64_t v[4];
        for (int j = 0; j < 4; j++) v[j] = (uint64_t)rep->element[1 + 4 * i + (size_t)j]->integer;
        o->refused = refused && i + 1 == (size_t)refused;
        if (o->kind == PT_COUNTER_LEASE) {
            o->rate = (pt_gcra_result){ .allowed = v[0] == 1, .remaining = v[1], .retry_ns = v[0] ? 0 : v[2],
                                        .reset_ns = v[3] };
            o->total = v[0] ? v[2] : 0;
        } else if (o->kind == PT_COUNTER_TAKE || o->kind == PT_COUNTER_ADJUST)
            o->rate = (pt_gcra_result){ .allowed = v[0] == 1, .remaining = v[1], .retry_ns = v[2], .reset_ns = v[3] };
        else if (o->kind == PT_COUNTER_ACQUIRE)
            o->inflight = (unsigned)v[1];
        else
            o->total = v[1];
    }
    return refused ? (int)(refused - 1) : (int)n;
}

/* The script's four arguments for o, in buf: its kind, then
 *   TAKE, LEASE, ADJUST: the interval and tolerance (ns) and the cells n;
 *   ACQUIRE: the max in flight, the slot's member and its lifetime (ms);
 *   ADD: the delta, the limit and the window's end (Unix s). */
static void op_args(const redis_b *r, const pt_counter_op *o, const char *member, char (*buf)[40])
{
    static const char kinds[] = { [PT_COUNTER_TAKE] = 't', [PT_COUNTER_ACQUIRE] = 'c', [PT_COUNTER_ADD] = 'a',
                                  [PT_COUNTER_ADJUST] = 'j', [PT_COUNTER_LEASE] = 'l' };
    snprintf(buf[0], 40, "%c", kinds[o->kind]);
    switch (o->kind) {
    case PT_COUNTER_TAKE:
    case PT_COUNTER_LEASE:
    case PT_COUNTER_ADJUST:
        snprintf(buf[1], 40, "%llu", (unsigned long long)o->g->interval_ns);
        snprintf(buf[2], 40, "%llu", (unsigned long long)o->g->tolerance_ns);
        snprintf(buf[3], 40, "%lld", (long long)o->n);
        break;
    case PT_COUNTER_ACQUIRE:
        snprintf(buf[1], 40, "%lld", (long long)o->n);
        snprintf(buf[2], 40, "%s", member);
        snprintf(buf[3], 40, "%llu", (unsigned long long)r->slot_ttl_ms);
        break;
    case PT_COUNTER_ADD:
        snprintf(buf[1], 40, "%lld", (long long)o->n);
        snprintf(buf[2], 40, "%llu", (unsigned long long)o->limit);
        snprintf(buf[3], 40, "%lld", (long long)o->expires);
        break;
    }
}

/* Sends EVALSHA (then EVAL if the server lacks the script) with argv[1] free for the
 * command's second word; the reply, or NULL after a connection failure. */
static redisReply *eval(redis_b *r, redisContext *c, int argc, const char **argv, size_t *lens)
{
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = r->sha;
    lens[1] = 40;
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = script;
        lens[1] = sizeof script - 1;
        rep = redisCommandArgv(c, argc, argv, lens);
    }
    return rep;
}

/* Fills members with a fresh slot name for each ACQUIRE op. */
static void name_slots(redis_b *r, const pt_counter_op *ops, size_t n, char (*members)[40])
{
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind == PT_COUNTER_ACQUIRE)
            snprintf(members[i], 40, "%s.%llu", r->node,
                     (unsigned long long)atomic_fetch_add_explicit(&r->seq, 1, memory_order_relaxed));
}

/* The slots the batch took, for inflight_release (a slot that cannot be recorded here
 * stays taken until it expires). */
static void record_slots(redis_b *r, pt_counter_op *ops, size_t ran, char (*members)[40], char (*keys)[KEY_MAX],
                         const size_t *keylens)
{
    for (size_t i = 0; i < ran; i++) {
        if (ops[i].kind != PT_COUNTER_ACQUIRE || ops[i].refused) continue;
        slot *s = malloc(sizeof *s + keylens[i]);
        if (s) {
            s->keylen = keylens[i];
            memcpy(s->key, keys[i], keylens[i]);
            memcpy(s->member, members[i], sizeof s->member);
        }
        ops[i].held = s;
    }
    (void)r;
}


static int run_batch(redis_b *r, redisContext *c, pt_counter_op *ops, size_t n)
{
    char keys[MAX_BATCH][KEY_MAX], args[MAX_BATCH][4][40], members[MAX_BATCH][40];
    size_t keylens[MAX_BATCH];
    const char *argv[3 + 5 * MAX_BATCH];
    size_t lens[3 + 5 * MAX_BATCH];
    char nkeys[16];
    snprintf(nkeys, sizeof nkeys, "%zu", n);
    argv[2] = nkeys;
    lens[2] = strlen(nkeys);
    name_slots(r, ops, n, members);
    for (size_t i = 0; i < n; i++) {
        size_t kl = ops[i].key.len < sizeof keys[i] - r->prefix_len ? ops[i].key.len : sizeof keys[i] - r->prefix_len;
        memcpy(keys[i], r->prefix, r->prefix_len);
        memcpy(keys[i] + r->prefix_len, ops[i].key.ptr, kl);
        keylens[i] = r->prefix_len + kl;
        argv[3 + i] = keys[i];
        lens[3 + i] = keylens[i];
        op_args(r, &ops[i], members[i], args[i]);
        for (int j = 0; j < 4; j++) {
            argv[3 + n + 4 * i + (size_t)j] = args[i][j];
            lens[3 + n + 4 * i + (size_t)j] = strlen(args[i][j]);
        }
    }
    redisReply *rep = eval(r, c, (int)(3 + 5 * n), argv, lens);
    if (!rep) {
        conn_failed(r, c->errstr);
        return PT_EIO;
    }
    int rc = pt__counters_redis_reply(rep, ops, n);
    if (rc < 0) log_limited(r, "counters: redis at %s:%u answered the limit script with an error: %s",
                            rep->type == REDIS_REPLY_ERROR ? rep->str : "a reply of the wrong shape");
    else if ((size_t)rc == n) record_slots(r, ops, n, members, keys, keylens); /* a refusal undid them all */
    freeReplyObject(rep);
    return rc;
}

/* ---- rate.slack: cells taken ahead, decided on this thread ---- */

static bool leasable(const pt_counter_op *ops, size_t n)
{
    if (n > MAX_BATCH) return false;
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != PT_COUNTER_TAKE || ops[i].n != 1 || ops[i].lease < 2 || ops[i].key.len > KEY_MAX)
            return false;
    return true;
}

/* key's entry in this thread's table: the live one, else the slot it may take (its
 * keylen 0 or another key's). */
static lease *lease_of(conn *k, pt_slice key, uint64_t now)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < key.len; i++) h = (h ^ (unsigned char)key.ptr[i]) * 16777619u;
    lease *free_slot = NULL;
    for (unsigned probe = 0; probe < 4; probe++) {
        lease *e = &k->leases[(h + probe) % LEASES];
        bool live = e->until_ms > now;
        if (live && e->keylen == key.len && memcmp(e->key, key.ptr, key.len) == 0) return e;
        if (!live && !free_slot) free_slot = e;
    }
    lease *e = free_slot ? free_slot : &k->leases[h % LEASES]; /* a full neighbourhood: its cells go unused */
    e->until_ms = 0;
    e->keylen = 0;
    return e;
}

/* Gives back the cells taken from the thread's leases for ops[0..n) marked in took. */
static void lease_undo(lease **e, const bool *took, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (took[i]) e[i]->cells++;
}

/* The batch decided from this thread's leases, asking Redis (one round trip) only for
 * keys without cells left: a lease op there takes up to ops[i].lease cells at once. */
static int leased_batch(redis_b *r, conn *k, pt_counter_op *ops, size_t n)
{
    lease *e[MAX_BATCH];
    bool took[MAX_BATCH] = { 0 };
    pt_counter_op sub[MAX_BATCH];
    size_t at[MAX_BATCH], m = 0;
    uint64_t now = mono_ms();
    for (size_t i = 0; i < n; i++) {
        e[i] = lease_of(k, ops[i].key, now);
        if (e[i]->keylen && e[i]->refused) {
            lease_undo(e, took, i);
            ops[i].rate = e[i]->rate;
            ops[i].rate.retry_ns = (e[i]->until_ms - now) * 1000000u;
            ops[i].refused = true;
            atomic_fetch_add_explicit(&r->local, 1, memory_order_relaxed);
            return (int)i;
        }
        if (e[i]->keylen && e[i]->cells) {
            e[i]->cells--;
            took[i] = true;
            ops[i].rate = e[i]->rate;
            ops[i].rate.remaining = e[i]->cells;
            continue;
        }
        sub[m] = ops[i];
        sub[m].kind = PT_COUNTER_LEASE;
        sub[m].n = (int64_t)ops[i].lease;
        at[m++] = i;
    }
    if (m == 0) {
        atomic_fetch_add_explicit(&r->local, 1, memory_order_relaxed);
        return (int)n;
    }
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
    redisContext *c = thread_conn(r);
    int rc = c ? run_batch(r, c, sub, m) : PT_EIO;
    atomic_store_explicit(&r->up, rc >= 0, memory_order_relaxed);
    if (rc < 0) atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
    if (rc < 0 || (size_t)rc < m) {
        lease_undo(e, took, n);
        if (rc < 0) return rc;
        lease *x = e[at[rc]]; /* remembered until the window has room again */
        *x = (lease){ .until_ms = now + (sub[rc].rate.retry_ns + 999999u) / 1000000u, .refused = true,
                      .rate = sub[rc].rate, .keylen = sub[rc].key.len };
        memcpy(x->key, sub[rc].key.ptr, sub[rc].key.len);
        ops[at[rc]].rate = sub[rc].rate;
        ops[at[rc]].refused = true;
        return (int)at[rc];
    }
    for (size_t j = 0; j < m; j++) {
        lease *x = e[at[j]];
        uint64_t got = sub[j].total ? sub[j].total : 1;
        *x = (lease){ .until_ms = now + (uint64_t)((double)got * (double)sub[j].g->interval_ns / 1e6), .cells = got - 1,
                      .rate = sub[j].rate, .keylen = sub[j].key.len };
        memcpy(x->key, sub[j].key.ptr, sub[j].key.len);
        ops[at[j]].rate = sub[j].rate;
    }
    return (int)n;
}

static int batch(pt_counters *b, pt_counter_op *ops, size_t n)
{
    redis_b *r = (redis_b *)b;
    if (n == 0) return 0;
    conn *k = leasable(ops, n) ? thread_state(r) : NULL;
    if (k && !k->leases) k->leases = calloc(LEASES, sizeof *k->leases);
    if (k && k->leases) return leased_batch(r, k, ops, n);
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
    redisContext *c = n <= MAX_BATCH ? thread_conn(r) : NULL;
    int rc = c ? run_batch(r, c, ops, n) : PT_EIO;
    if (rc < 0) atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
    atomic_store_explicit(&r->up, rc >= 0, memory_order_relaxed);
    return rc;
}

/* ---- the single operations, each a batch of one ---- */

static int rate_take_n(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t n, uint64_t now, pt_gcra_result *out)
{
    pt_counter_op o = { .kind = PT_COUNTER_TAKE, .key = key, .g = g, .n = (int64_t)n };
    (void)now; /* the server's clock decides */
    if (batch(b, &o, 1) < 0) return PT_EIO;
    *out = o.rate;
    return 0;
}

static int rate_take(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now, pt_gcra_result *out)
{
    return rate_take_n(b, key, g, 1, now, out);
}

static void rate_adjust(pt_counters *b, pt_slice key, const pt_gcra *g, int64_t delta, uint64_t now)
{
    pt_counter_op o = { .kind = PT_COUNTER_ADJUST, .key = key, .g = g, .n = delta };
    (void)now;
    batch(b, &o, 1);
}

static void rate_give_back(pt_counters *b, pt_slice key, const pt_gcra *g, uint64_t now)
{
    rate_adjust(b, key, g, -1, now);
}

static int inflight_acquire(pt_counters *b, pt_slice key, unsigned max, uint64_t now, unsigned *inflight, void **held)
{
    pt_counter_op o = { .kind = PT_COUNTER_ACQUIRE, .key = key, .n = max };
    (void)now;
    *held = NULL;
    if (batch(b, &o, 1) < 0) return PT_EIO;
    *inflight = o.inflight;
    *held = o.held;
    return 0;
}

/* A slot that cannot be given back now expires on its own (slot_ttl). */
static void inflight_release(pt_counters *b, void *held)
{
    redis_b *r = (redis_b *)b;
    slot *s = held;
    if (!s) return;
    atomic_fetch_add_explicit(&r->calls, 1, memory_order_relaxed);
    redisContext *c = thread_conn(r);
    redisReply *rep = c ? redisCommand(c, "ZREM %b %s", s->key, s->keylen, s->member) : NULL;
    if (!rep) {
        atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
        if (c) conn_failed(r, c->errstr);
    }
    freeReplyObject(rep);
    free(s);
}

static int window_add(pt_counters *b, pt_slice key, int64_t delta, uint64_t limit, int64_t expires, uint64_t now,
                      uint64_t *total)
{
    pt_counter_op o = { .kind = PT_COUNTER_ADD, .key = key, .n = delta, .limit = limit, .expires = expires };
    (void)now;
    int rc = batch(b, &o, 1);
    *total = o.total;
    return rc < 0 ? PT_EIO : o.refused ? 1 : 0;
}

/* The totals live in Redis itself: nothing to persist elsewhere or load back. */
static void window_each(pt_counters *b, bool changed_only,
                        void (*fn)(void *arg, pt_slice key, uint64_t total, int64_t expires), void *arg)
{
    (void)b, (void)changed_only, (void)fn, (void)arg;
}

static int window_load(pt_counters *b, pt_slice key, uint64_t total, int64_t expires, uint64_t now)
{
    (void)b, (void)key, (void)total, (void)expires, (void)now;
    return 0;
}

static size_t size(pt_counters *b)
{
    (void)b;
    return 0;
}

static void redis_free(pt_counters *b)
{
    redis_b *r = (redis_b *)b;
    if (!r) return;
    conn_free(pthread_getspecific(r->tls));
    pthread_setspecific(r->tls, NULL);
    pthread_key_delete(r->tls);
    free(r->prefix);
    free(r);
}

static const pt_counter_ops redis_ops = {
    .rate_take = rate_take,
    .rate_give_back = rate_give_back,
    .inflight_acquire = inflight_acquire,
    .inflight_release = inflight_release,
    .rate_take_n = rate_take_n,
    .rate_adjust = rate_adjust,
    .window_add = window_add,
    .window_each = window_each,
    .window_load = window_load,
    .batch = batch,
    .size = size,
    .free = redis_free,
};

void pt_counters_redis_stats_get(pt_counters *b, pt_counters_redis_stats *out)
{
    *out = (pt_counters_redis_stats){ 0 };
    if (!b || b->ops != &redis_ops) return;
    redis_b *r = (redis_b *)b;
    out->calls = atomic_load(&r->calls);
    out->errors = atomic_load(&r->errors);
    out->local = atomic_load(&r->local);
    out->up = atomic_load(&r->up);
}

static redis_b *redis_new(const pt_counters_redis_cfg *cfg, char *msg, size_t cap)
{
    redis_b *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->base.ops = &redis_ops;
    if (pt_redis_url_parse(cfg->url, &r->url, msg, cap) != 0) {
        free(r);
        return NULL;
    }
    uint64_t t = cfg->timeout_ms ? cfg->timeout_ms : 50;
    r->tv = (struct timeval){ .tv_sec = (time_t)(t / 1000), .tv_usec = (suseconds_t)(t % 1000 * 1000) };
    r->prefix = strdup(cfg->prefix ? cfg->prefix : "portico:");
    r->prefix_len = r->prefix ? strlen(r->prefix) : 0;
    r->slot_ttl_ms = cfg->slot_ttl_ms ? cfg->slot_ttl_ms : 600000;
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, sizeof script - 1, d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(r->sha + 2 * i, 3, "%02x", d[i]);
    snprintf(r->node, sizeof r->node, "%016llx", (unsigned long long)pt_rand64());
    if (!r->prefix || r->prefix_len > 128 || pthread_key_create(&r->tls, conn_free) != 0) {
        snprintf(msg, cap, "counters.prefix is longer than 128 bytes, or out of memory");
        free(r->prefix);
        free(r);
        return NULL;
    }
    atomic_store(&r->up, true);
    return r;
}

int pt_counters_redis_open(const pt_counters_redis_cfg *cfg, pt_counters **out, char *msg, size_t cap)
{
    *out = NULL;
    redis_b *r = redis_new(cfg, msg, cap);
    if (!r) return -1;
    bool refused;
    redisContext *c = dial(r, msg, cap, &refused);
    if (refused) {
        redis_free(&r->base);
        return -1;
    }
    redisFree(c);
    *out = &r->base;
    if (c) return 0;
    atomic_store(&r->up, false);
    return 1;
}
