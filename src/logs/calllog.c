/* calllog.c: the call log's writer: records packed on the worker, queued in a spool,
 * inserted in batches by the writer thread, pruned in bounded steps (see calllog.h).
 *
 * A packed record is a fixed header (numbers, where each string ends, which are NULL)
 * followed by the strings, so a worker writes it once, into the queue's own memory, and
 * the writer encodes straight from the batch into chunks (calls_db.h), one SQL insert per
 * chunk rather than per record. */
#include "logs/calllog.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/spool.h"
#include "logs/calls_db.h"

#define DEFAULT_QUEUE ((size_t)8 << 20)
/* Large batches: a commit's cost (its WAL frames, its sync) is shared by more records. */
#define FLUSH_BYTES ((size_t)256 << 10)
#define ROWS_PER_TX 16384        /* a batch larger than this commits in several transactions */
#define PRUNE_CHUNKS 64          /* chunks looked at per pruning step, at most */
#define WARN_EVERY_MS 10000      /* dropped-record and write-error warnings, at most this often */
#define SIZE_LOW_WATER 0.95      /* size pruning stops below this share of max_bytes */
#define NAME_SLOTS 8192          /* the writer's cache of name ids (a power of two) */
#define NAME_FILL (NAME_SLOTS / 4 * 3) /* emptied when this full */
#define NAMES_PRUNE_MS 60000     /* unused names are looked for at most this often */
#define CONVERT_STEP 2000        /* an earlier layout's records converted per transaction */
#define CONVERT_MS 100           /* converting goes on for this long per wake-up while no batch waits */

/* The order of the strings in a packed record and of their columns. */
enum { S_REQUEST_ID, S_TEAM, S_CONSUMER, S_KEY_PREFIX, S_SERVICE, S_SERVICE_TEAM, S_API, S_MODEL, S_PROVIDER,
       S_METHOD, S_PATH, S_ERROR, S_CLIENT, S_TRACE_ID, S_MASKED, S_REQUEST_BODY, S_RESPONSE_BODY,
       S_OPERATION, S_CACHE, S_ARGS_SHAPE, S_ARGS, NSTR };

#define NULL_LEN 0xffff          /* the length of a NULL string (a kept one is shorter) */
/* The strings, each at its longest, fit the 16-bit ends (calllog.h: their caps). */
_Static_assert(15 * PT_CALLLOG_STR_MAX + PT_CALLLOG_PATH_MAX + PT_CALLLOG_MASKED_MAX + 3 * PT_CALLLOG_BODY_MAX +
                       PT_CALLLOG_SHAPE_MAX < NULL_LEN,
               "a packed record's strings fit 16-bit offsets");

typedef struct packed {
    uint32_t size;               /* header and strings */
    int32_t status;
    int64_t time_ms;
    uint64_t total_us, upstream_us, ttfb_us, bytes_in, bytes_out;
    int64_t input_tokens, output_tokens, cached_tokens, cost_micro_usd, saved_micro_usd; /* -1: NULL */
    uint32_t nulls;              /* bit i: string i is NULL */
    uint16_t end[NSTR];          /* where string i ends, from the first string's start */
} packed;

/* A name and its id in `names`, as the writer last saw it. */
typedef struct name_slot {
    char *s;                     /* NULL: empty */
    uint32_t hash, len;
    int64_t id, last_ms;         /* last_ms: as in `names` (calls_db.h) */
    int64_t use_ms;              /* a newer last use to write there before the commit; 0: none */
} name_slot;

struct pt_calllog {
    pt_spool *spool;
    pthread_mutex_t db_lock;     /* the connection: the writer, or a test's prune_all */
    sqlite3 *db;
    sqlite3_stmt *ins[3];        /* a chunk's inserts (pt_calls_chunk_sql) */
    sqlite3_stmt *del[3];        /* a chunk's deletes, from chunks, chunk_keys and chunk_recs */
    pt_calls_chunk chunk;        /* the chunk being filled (writer thread, under db_lock) */
    size_t *order;               /* a transaction's records, in time order: ROWS_PER_TX offsets */
    bool *same;                  /* ... and whether each names what the one before it named */
    sqlite3_stmt *prune_age, *prune_old, *name_find, *name_add, *name_touch, *prune_names;
    sqlite3_stmt *begin, *commit, *rollback, *page_count, *freelist_count, *first_id;
    name_slot *names;            /* NAME_SLOTS of them (writer thread, under db_lock) */
    size_t nnames;
    uint32_t last_name[S_PROVIDER - S_TEAM + 1]; /* the slot each name column's last name was in */
    pt_calls_val name_vals[S_PROVIDER - S_TEAM + 1]; /* the last record's name columns */
    uint32_t *used;              /* the slots with a use_ms, nused of them */
    size_t nused;
    int name_error;              /* a name could not be stored in this transaction (SQLite's code) */
    bool names_due;              /* records were pruned: names may be unused now */
    bool resized;                /* the file may have changed size since its pages were last counted */
    uint64_t tx_pruned;          /* records the open transaction deleted (counted once it commits) */
    uint64_t names_pruned_ms;    /* monotonic time names were last pruned */
    int64_t last_id;             /* the largest id given (writer thread, under db_lock) */
    int64_t oldest_ms;           /* at most the millisecond of the smallest id (INT64_MAX: none);
                                  * age pruning is skipped while it is within the retention */
    int64_t aged_out_ms;         /* no chunk has all its records before this millisecond (found
                                  * by an age step that ran out of chunks): age pruning is also
                                  * skipped while the cut is not past it */
    uint64_t retention_ms, max_bytes, page_size;
    int64_t (*now_ms)(void);
    _Atomic uint64_t written, dropped, pruned, write_errors, disk_full, used_bytes, names_pruned;
    _Atomic uint64_t taken;      /* records the writer committed or lost (written by it only) */
    _Atomic uint64_t last_drop_warn_ms;
    uint64_t last_error_warn_ms; /* writer thread only */
    bool warned;                 /* writer thread only: a failure was logged, recovery not yet */
    pt_rollup *rollup;           /* writer thread (under db_lock); NULL with opts.no_rollups */
    pt_calls_convert *convert;   /* an earlier layout's records being converted; NULL: none */
    _Atomic uint64_t to_convert; /* their count left */
    uint64_t converted, convert_t0_ms, convert_warn_ms;
    unsigned convert_steps;      /* steps per wake-up at most (opts); 0: as time allows */
    uint64_t last_rollup_ms;     /* monotonic time of the last rollup flush */
};

int64_t pt_calllog_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- packing (the worker's thread) ------------------------------------------------------ */

/* A record is planned first (its header, and where each string comes from and how much
 * of it is kept), then written once, straight into the room the spool reserves for its
 * exact size. plan() lists all NSTR strings, in their order (S_...). */
_Static_assert(NSTR == 21, "plan() lists every string of a packed record");
typedef struct packer {
    packed h;
    int i;                       /* the next string's index */
    int n;                       /* the strings that are not NULL, in order: */
    pt_slice s[NSTR];
} packer;

static inline void put_str(packer *k, const char *s, size_t n, size_t max)
{
    int i = k->i++;
    if (!s) {
        k->h.nulls |= 1u << i;
    } else {
        if (n > max) n = max;
        k->h.size += (uint32_t)n;
        k->s[k->n++] = pt_slice_from(s, n);
    }
    k->h.end[i] = (uint16_t)(k->h.size - sizeof(packed)); /* the strings so far */
}

static inline void put_slice(packer *k, pt_slice s, size_t max) { put_str(k, s.ptr, s.len, max); }

/* A string cut at max bytes. */
static inline void put_cstr(packer *k, const char *s, size_t max) { put_str(k, s, s ? strnlen(s, max) : 0, max); }

/* s when it is at most max bytes, else NULL: JSON that is cut is no JSON. */
static inline void put_whole(packer *k, const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    put_str(k, n <= max ? s : NULL, n, max);
}

/* Plans r's packed record into k; returns its size. */
static size_t plan(const pt_call_record *r, packer *k)
{
    k->h = (packed){
        .size = sizeof(packed), .status = r->status, .time_ms = r->time_ms, .total_us = r->total_us,
        .upstream_us = r->upstream_us, .ttfb_us = r->ttfb_us, .bytes_in = r->bytes_in, .bytes_out = r->bytes_out,
        .input_tokens = -1, .output_tokens = -1, .cached_tokens = -1, .cost_micro_usd = -1, .saved_micro_usd = -1,
    };
    k->i = k->n = 0;
    const pt_call_ai *ai = r->ai;
    if (ai) {
        k->h.input_tokens = ai->input_tokens;
        k->h.output_tokens = ai->output_tokens;
        k->h.cached_tokens = ai->cached_tokens;
        if (ai->cost_known) k->h.cost_micro_usd = (int64_t)ai->cost_micro_usd;
        if (ai->ttft_us) k->h.ttfb_us = ai->ttft_us;
        if (ai->saved_known) k->h.saved_micro_usd = (int64_t)ai->saved_micro_usd;
    }
    put_cstr(k, r->request_id, PT_CALLLOG_STR_MAX);       /* S_REQUEST_ID */
    put_cstr(k, r->team, PT_CALLLOG_STR_MAX);             /* S_TEAM */
    put_cstr(k, r->consumer, PT_CALLLOG_STR_MAX);         /* S_CONSUMER */
    put_cstr(k, r->key_prefix, PT_CALLLOG_STR_MAX);       /* S_KEY_PREFIX */
    put_cstr(k, r->service, PT_CALLLOG_STR_MAX);          /* S_SERVICE */
    put_cstr(k, r->service_team, PT_CALLLOG_STR_MAX);     /* S_SERVICE_TEAM */
    put_cstr(k, r->api, PT_CALLLOG_STR_MAX);              /* S_API */
    put_cstr(k, ai ? ai->model : NULL, PT_CALLLOG_STR_MAX);    /* S_MODEL */
    put_cstr(k, ai ? ai->provider : NULL, PT_CALLLOG_STR_MAX); /* S_PROVIDER */
    put_slice(k, r->method, PT_CALLLOG_STR_MAX);          /* S_METHOD */
    put_slice(k, r->path, PT_CALLLOG_PATH_MAX);           /* S_PATH */
    put_cstr(k, r->error, PT_CALLLOG_STR_MAX);            /* S_ERROR */
    put_slice(k, r->client, PT_CALLLOG_STR_MAX);          /* S_CLIENT */
    put_cstr(k, r->trace_id, PT_CALLLOG_STR_MAX);         /* S_TRACE_ID */
    put_whole(k, r->masked, PT_CALLLOG_MASKED_MAX);       /* S_MASKED */
    put_slice(k, r->request_body, PT_CALLLOG_BODY_MAX);   /* S_REQUEST_BODY */
    put_slice(k, r->response_body, PT_CALLLOG_BODY_MAX);  /* S_RESPONSE_BODY */
    put_cstr(k, r->operation, PT_CALLLOG_STR_MAX);        /* S_OPERATION */
    put_cstr(k, ai ? ai->cache : NULL, PT_CALLLOG_STR_MAX);    /* S_CACHE */
    put_whole(k, r->arguments_shape, PT_CALLLOG_SHAPE_MAX); /* S_ARGS_SHAPE */
    put_whole(k, r->arguments, PT_CALLLOG_BODY_MAX);      /* S_ARGS */
    return k->h.size;
}

/* Copies n bytes of s to out. Most of a record's strings are short (a method, an address,
 * a route's name, a request id): from 4 to 32 bytes they are moved as two words or two
 * pairs of words (which overlap when n is not a multiple of a word), without a call. */
static inline void copy_str(char *out, const char *s, size_t n)
{
    uint64_t a, b, c, d;
    if (n >= 4 && n <= 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(out, &x, 4);
        memcpy(out + n - 4, &y, 4);
    } else if (n > 8 && n <= 16) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(out, &a, 8);
        memcpy(out + n - 8, &b, 8);
    } else if (n > 16 && n <= 32) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8);
        memcpy(&d, s + n - 8, 8);
        memcpy(out, &a, 8);
        memcpy(out + 8, &b, 8);
        memcpy(out + n - 16, &c, 8);
        memcpy(out + n - 8, &d, 8);
    } else {
        memcpy(out, s, n);
    }
}

/* Writes the planned record to out (k->h.size bytes). */
static void pack(const packer *k, char *out)
{
    memcpy(out, &k->h, sizeof k->h);
    out += sizeof k->h;
    for (int i = 0; i < k->n; i++) {
        copy_str(out, k->s[i].ptr, k->s[i].len);
        out += k->s[i].len;
    }
}

static void warn_dropped(pt_calllog *l)
{
    uint64_t now = pt_now_ms(), last = atomic_load_explicit(&l->last_drop_warn_ms, memory_order_relaxed);
    if (last && now - last < WARN_EVERY_MS) return;
    if (!atomic_compare_exchange_strong(&l->last_drop_warn_ms, &last, now)) return;
    pt_log_warn("call log: the writer is behind and its queue is full; %llu records dropped so far "
                "(portico_call_log_dropped_total)",
                (unsigned long long)atomic_load(&l->dropped));
}

bool pt_calllog_write(pt_calllog *l, const pt_call_record *r)
{
    packer k;
    size_t n = plan(r, &k);
    char *at = pt_spool_reserve(l->spool, n);
    if (at) {
        pack(&k, at);
        pt_spool_commit(l->spool, n);
        return true;
    }
    atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
    warn_dropped(l);
    return false;
}

/* ---- the writer thread ----------------------------------------------------------------- */

/* ---- names kept once ---- */

/* Empties the cache; the last uses not written yet are forgotten (write_uses() first to
 * keep them). */
static void names_clear(pt_calllog *l)
{
    for (size_t i = 0; l->names && i < NAME_SLOTS; i++) {
        free(l->names[i].s);
        l->names[i].s = NULL;
    }
    l->nnames = l->nused = 0;
}

/* Writes a name's last use, at_ms. */
static void touch(pt_calllog *l, int64_t id, int64_t at_ms)
{
    sqlite3_bind_int64(l->name_touch, 1, id);
    sqlite3_bind_int64(l->name_touch, 2, at_ms);
    int rc = sqlite3_step(l->name_touch);
    sqlite3_reset(l->name_touch);
    if (rc != SQLITE_DONE) l->name_error = sqlite3_extended_errcode(l->db);
}

/* Notes that a row in millisecond at_ms names the cached name n; its last use is moved on
 * when the row passes it by PT_CALLS_NAME_TOUCH_MS, once per name and transaction at most,
 * in the same transaction as the rows (write_uses()). */
static void note_use(pt_calllog *l, size_t slot, int64_t at_ms)
{
    name_slot *n = &l->names[slot];
    if (at_ms <= n->last_ms + PT_CALLS_NAME_TOUCH_MS || at_ms <= n->use_ms) return;
    if (!n->use_ms) l->used[l->nused++] = (uint32_t)slot;
    n->use_ms = at_ms;
}

/* Writes the last uses noted in this transaction (before its commit). */
static int write_uses(pt_calllog *l)
{
    for (size_t i = 0; i < l->nused; i++) {
        name_slot *n = &l->names[l->used[i]];
        touch(l, n->id, n->use_ms);
        n->last_ms = n->use_ms;
        n->use_ms = 0;
    }
    l->nused = 0;
    return l->name_error;
}

/* The id of the name s[0, len) for a row whose id is in millisecond at_ms: from the cache,
 * else from `names` (added there when missing, in the current transaction); *found is
 * set to its slot in the cache. 0 and name_error set when SQLite fails. */
static int64_t name_id(pt_calllog *l, const char *s, uint32_t len, int64_t at_ms, uint32_t *found)
{
    uint32_t h = (uint32_t)pt_hash_bytes(s, len);
    size_t i = h & (NAME_SLOTS - 1);
    for (; l->names[i].s; i = (i + 1) & (NAME_SLOTS - 1))
        if (l->names[i].hash == h && l->names[i].len == len && memcmp(l->names[i].s, s, len) == 0) {
            note_use(l, i, at_ms);
            *found = (uint32_t)i;
            return l->names[i].id;
        }
    int64_t last_ms;
    int64_t id = pt_calls_name_id(l->db, l->name_find, l->name_add, s, len, at_ms, &last_ms);
    if (id < 0) {
        l->name_error = sqlite3_extended_errcode(l->db);
        return 0;
    }
    if (l->nnames >= NAME_FILL) { /* many names: start again, the table has them all */
        write_uses(l);
        names_clear(l);
        i = h & (NAME_SLOTS - 1);
    }
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        if (at_ms > last_ms + PT_CALLS_NAME_TOUCH_MS) touch(l, id, at_ms);
        return id;
    }
    memcpy(copy, s, len);
    l->names[i] = (name_slot){ copy, h, len, id, last_ms, 0 };
    l->nnames++;
    note_use(l, i, at_ms);
    *found = (uint32_t)i;
    return id;
}

/* name_id for string i (S_TEAM .. S_PROVIDER) of a record: the slot that string's last
 * name was found in is tried first, without hashing (through one route, most records
 * name what the one before them named). */
static int64_t name_id_at(pt_calllog *l, int i, const char *s, uint32_t len, int64_t at_ms)
{
    uint32_t *slot = &l->last_name[i - S_TEAM];
    name_slot *n = &l->names[*slot];
    if (n->s && n->len == len && memcmp(n->s, s, len) == 0) {
        note_use(l, *slot, at_ms);
        return n->id;
    }
    return name_id(l, s, len, at_ms, slot);
}


/* A record's id: its millisecond's first, or one more than the last id when that is
 * larger (calls_db.h): ids only grow, and they follow time but for late records. */
static int64_t next_id(pt_calllog *l, int64_t time_ms)
{
    int64_t id = PT_CALLS_ID(time_ms);
    if (id <= l->last_id) id = l->last_id + 1;
    return l->last_id = id;
}

/* Keeps oldest_ms at most the millisecond of the smallest id. */
static int64_t note_id(pt_calllog *l, int64_t id)
{
    if (id >> PT_CALLS_SEQ_BITS < l->oldest_ms) l->oldest_ms = id >> PT_CALLS_SEQ_BITS;
    if (id >> PT_CALLS_SEQ_BITS < l->aged_out_ms) l->aged_out_ms = INT64_MIN; /* a chunk may end before it now */
    return id;
}

/* String i of a packed record whose header is h and strings start at base: where it
 * starts, and its length (NULL_LEN: NULL). */
static inline const char *str_at(const packed *h, const char *base, int i) { return base + (i ? h->end[i - 1] : 0); }

static inline uint16_t str_len(const packed *h, int i)
{
    return h->nulls >> i & 1 ? NULL_LEN : (uint16_t)(h->end[i] - (i ? h->end[i - 1] : 0));
}

static inline pt_slice str_slice(const packed *h, const char *base, int i)
{
    return h->nulls >> i & 1 ? PT_SLICE_NULL : pt_slice_from(str_at(h, base, i), str_len(h, i));
}

/* A record's columns are listed as they are found, in column order, NULL ones left out
 * (pt_calls_chunk_add). */
static inline pt_calls_val *put_int(pt_calls_val *o, int col, int64_t v)
{
    *o = (pt_calls_val){ .i = v, .type = PT_CALLS_INT, .col = (uint16_t)col };
    return o + 1;
}

/* An integer that is NULL when negative. */
static inline pt_calls_val *put_opt(pt_calls_val *o, int col, int64_t v) { return v < 0 ? o : put_int(o, col, v); }

/* String i of a packed record. */
static inline pt_calls_val *put_text(pt_calls_val *o, int col, const packed *h, const char *base, int i)
{
    uint16_t n = str_len(h, i);
    if (n == NULL_LEN) return o;
    *o = (pt_calls_val){ .s = str_at(h, base, i), .n = n, .type = PT_CALLS_TEXT, .col = (uint16_t)col };
    return o + 1;
}

/* Whether the name columns of the record before (l->name_vals) are still those of the
 * cache's last slots: then a record naming the same only notes their use. */
static bool names_kept(pt_calllog *l, int64_t at_ms)
{
    for (int i = 0; i <= S_PROVIDER - S_TEAM; i++) {
        if (l->name_vals[i].type == PT_CALLS_NULL) continue;
        const name_slot *n = &l->names[l->last_name[i]];
        if (!n->s || n->id != l->name_vals[i].i) return false; /* (the uses noted so far stand) */
        note_use(l, l->last_name[i], at_ms);
    }
    return true;
}

/* The columns of one packed record that are not NULL, in order (calls_db.h), its id given
 * and its names' ids found; returns how many. same: the record names what the one before
 * it named. */
static int record_vals(pt_calllog *l, const char *rec, bool same, pt_calls_val *v)
{
    packed h;
    memcpy(&h, rec, sizeof h);
    const char *base = rec + sizeof h;
    int64_t id = note_id(l, next_id(l, h.time_ms)), at_ms = id >> PT_CALLS_SEQ_BITS;
    pt_calls_val *o = put_int(v, PT_CALLS_COL_id, id);
    o = put_int(o, PT_CALLS_COL_time_ms, h.time_ms);
    o = put_text(o, PT_CALLS_COL_request_id, &h, base, S_REQUEST_ID);
    if (!same || !names_kept(l, at_ms))
        for (int i = S_TEAM; i <= S_PROVIDER; i++) {
            uint16_t n = str_len(&h, i);
            pt_calls_val *x = &l->name_vals[i - S_TEAM];
            x->type = n == NULL_LEN ? PT_CALLS_NULL : PT_CALLS_INT;
            if (n != NULL_LEN) x->i = name_id_at(l, i, str_at(&h, base, i), n, at_ms);
        }
    for (int i = 0; i <= S_PROVIDER - S_TEAM; i++)
        if (l->name_vals[i].type != PT_CALLS_NULL) *o++ = l->name_vals[i];
    o = put_text(o, PT_CALLS_COL_error, &h, base, S_ERROR);
    o = put_text(o, PT_CALLS_COL_method, &h, base, S_METHOD);
    o = put_text(o, PT_CALLS_COL_path, &h, base, S_PATH);
    o = put_int(o, PT_CALLS_COL_status, h.status);
    o = put_int(o, PT_CALLS_COL_total_us, (int64_t)h.total_us);
    o = put_opt(o, PT_CALLS_COL_upstream_us, h.upstream_us ? (int64_t)h.upstream_us : -1);
    o = put_opt(o, PT_CALLS_COL_ttfb_us, h.ttfb_us ? (int64_t)h.ttfb_us : -1);
    o = put_int(o, PT_CALLS_COL_bytes_in, (int64_t)h.bytes_in);
    o = put_int(o, PT_CALLS_COL_bytes_out, (int64_t)h.bytes_out);
    o = put_opt(o, PT_CALLS_COL_input_tokens, h.input_tokens);
    o = put_opt(o, PT_CALLS_COL_output_tokens, h.output_tokens);
    o = put_opt(o, PT_CALLS_COL_cached_tokens, h.cached_tokens);
    o = put_opt(o, PT_CALLS_COL_cost_micro_usd, h.cost_micro_usd);
    o = put_text(o, PT_CALLS_COL_client, &h, base, S_CLIENT);
    o = put_text(o, PT_CALLS_COL_trace_id, &h, base, S_TRACE_ID);
    o = put_text(o, PT_CALLS_COL_masked, &h, base, S_MASKED);
    o = put_text(o, PT_CALLS_COL_request_body, &h, base, S_REQUEST_BODY);
    o = put_text(o, PT_CALLS_COL_response_body, &h, base, S_RESPONSE_BODY);
    o = put_text(o, PT_CALLS_COL_operation, &h, base, S_OPERATION);
    o = put_text(o, PT_CALLS_COL_cache, &h, base, S_CACHE);
    o = put_opt(o, PT_CALLS_COL_cost_saved_micro_usd, h.saved_micro_usd);
    o = put_text(o, PT_CALLS_COL_arguments_shape, &h, base, S_ARGS_SHAPE);
    o = put_text(o, PT_CALLS_COL_arguments, &h, base, S_ARGS);
    return (int)(o - v);
}

static int64_t time_of(const char *rec)
{
    int64_t t;
    memcpy(&t, rec + offsetof(packed, time_ms), sizeof t);
    return t;
}

/* Puts the k records at data + at[] in time order (stable; a batch is nearly in order
 * already, so this is about one comparison per record), so that ids follow time within
 * a batch. */
static void sort_by_time(const char *data, size_t *at, size_t k)
{
    for (size_t i = 1; i < k; i++) {
        size_t x = at[i];
        int64_t t = time_of(data + x);
        size_t j = i;
        for (; j > 0 && time_of(data + at[j - 1]) > t; j--) at[j] = at[j - 1];
        at[j] = x;
    }
}

static int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }

/* The first column of a prepared statement's first row, 0 when none. */
static int64_t first_i64(sqlite3_stmt *st, int64_t none)
{
    int64_t v = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : none;
    sqlite3_reset(st);
    return v;
}

/* The bytes of the pages in use: the file's pages less the free ones. SQLite compiles every
 * PRAGMA but a header field's (freelist_count is one, page_count is not) to run once, so
 * each run of page_count prepares it again. */
static uint64_t pages_used(pt_calllog *l)
{
    return (uint64_t)(first_i64(l->page_count, 0) - first_i64(l->freelist_count, 0)) * l->page_size;
}

/* Ends the writer's transaction: committed when rc is SQLITE_OK, else (or when the commit
 * fails) rolled back. Before its commit it counts the pages in use and, when it pruned
 * chunks, finds the oldest id left, both kept once it commits: inside the transaction they
 * take no read transaction (and WAL-index locks) of their own. Returns rc, or the commit's
 * error. */
static int end_tx(pt_calllog *l, int rc)
{
    uint64_t used = 0;
    int64_t first = 0;
    if (rc == SQLITE_OK) {
        used = pages_used(l);
        if (l->tx_pruned) first = first_i64(l->first_id, -1);
        rc = pt_calls_run(l->commit);
    }
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(l->db)) pt_calls_run(l->rollback);
        l->tx_pruned = 0;
        l->aged_out_ms = INT64_MIN; /* what an age step found went with the transaction */
        return rc;
    }
    atomic_store(&l->used_bytes, used);
    l->resized = false;
    if (l->tx_pruned) {
        l->oldest_ms = first < 0 ? INT64_MAX : first >> PT_CALLS_SEQ_BITS;
        atomic_fetch_add(&l->pruned, l->tx_pruned);
        l->names_due = true;
        l->tx_pruned = 0;
    }
    return rc;
}

/* The bytes of the pages in use: as the writer's last transaction counted them (end_tx),
 * re-read only when something else changed the file since (the rollups' flush, names
 * pruned). */
static uint64_t measure(pt_calllog *l)
{
    if (!l->resized) return atomic_load(&l->used_bytes);
    l->resized = false;
    uint64_t used = pages_used(l);
    atomic_store(&l->used_bytes, used);
    return used;
}

/* Re-reads oldest_ms from the file (after pruning removed the oldest rows). */
static void find_oldest(pt_calllog *l)
{
    int64_t id = first_i64(l->first_id, -1);
    l->oldest_ms = id < 0 ? INT64_MAX : id >> PT_CALLS_SEQ_BITS;
}

/* The pruning step due: by age (prune_age, *arg the id before which a chunk's records all
 * are) while records may be older than the retention (cut_ms), else by size (prune_old,
 * the oldest) while the pages in use exceed SIZE_LOW_WATER of max_bytes; NULL when none. */
static sqlite3_stmt *prune_due(pt_calllog *l, int64_t cut_ms, int64_t *arg)
{
    if (l->retention_ms && cut_ms > l->oldest_ms && cut_ms > l->aged_out_ms) {
        *arg = PT_CALLS_ID(cut_ms);
        return l->prune_age;
    }
    *arg = -1;
    return l->max_bytes && measure(l) > l->max_bytes * SIZE_LOW_WATER ? l->prune_old : NULL;
}

/* Deletes, in the open transaction, the oldest chunks that st lists (prune_due), whole,
 * until PT_CALLLOG_PRUNE_STEP records went; *records: how many (counted by end_tx once
 * committed). An age step that runs out of chunks notes that none is left before cut_ms. */
static int delete_oldest(pt_calllog *l, sqlite3_stmt *st, int64_t arg, int64_t cut_ms, int *records)
{
    int64_t ids[PRUNE_CHUNKS];
    int nids = 0, n = 0, rc = SQLITE_ROW;
    if (arg >= 0) sqlite3_bind_int64(st, 1, arg);
    while (n < PT_CALLLOG_PRUNE_STEP && nids < PRUNE_CHUNKS && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ids[nids++] = sqlite3_column_int64(st, 0);
        n += sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
    if (rc == SQLITE_DONE && st == l->prune_age) l->aged_out_ms = cut_ms;
    rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && i < nids; i++)
        for (int t = 0; rc == SQLITE_OK && t < 3; t++) {
            sqlite3_bind_int64(l->del[t], 1, ids[i]);
            rc = pt_calls_run(l->del[t]);
        }
    l->tx_pruned += (uint64_t)n;
    *records = n;
    return rc;
}

static void flush_rollups(pt_calllog *l)
{
    if (!l->rollup) return;
    int rc = pt_rollup_flush(l->rollup, l->now_ms());
    l->last_rollup_ms = pt_now_ms();
    l->resized = true;
    if (rc == SQLITE_OK) return;
    atomic_fetch_add(&l->write_errors, 1);
    if (!l->last_error_warn_ms || l->last_rollup_ms - l->last_error_warn_ms >= WARN_EVERY_MS) {
        pt_log_warn("call log: analytics rollups not written: %s; the figures since the last flush are lost", sqlite3_errstr(rc));
        l->last_error_warn_ms = l->last_rollup_ms;
    }
}

static void write_failed(pt_calllog *l, int rc, uint64_t lost)
{
    bool full = (rc & 0xff) == SQLITE_FULL;
    atomic_fetch_add(&l->write_errors, 1);
    if (full) atomic_fetch_add(&l->disk_full, 1);
    atomic_fetch_add(&l->dropped, lost);
    uint64_t now = pt_now_ms();
    if (!l->last_error_warn_ms || now - l->last_error_warn_ms >= WARN_EVERY_MS) {
        pt_log_warn("call log: %s; %llu records lost, traffic is not affected%s", sqlite3_errstr(rc),
                    (unsigned long long)lost, full ? " (disk full: free space or lower call_log.max_size)" : "");
        l->last_error_warn_ms = now;
        l->warned = true;
    }
}

/* Whether packed records a and b name the same team, consumer, key, service, service
 * team, API, model and provider: strings S_TEAM .. S_PROVIDER, which lie back to back. */
static bool same_names(const char *a, const char *b)
{
    enum { NAMES = ((1u << (S_PROVIDER + 1)) - 1) & ~((1u << S_TEAM) - 1), FROM = S_TEAM - 1 };
    uint32_t nx, ny;
    uint16_t x[S_PROVIDER - FROM + 1], y[S_PROVIDER - FROM + 1]; /* the ends from the string before */
    memcpy(&nx, a + offsetof(packed, nulls), sizeof nx);
    memcpy(&ny, b + offsetof(packed, nulls), sizeof ny);
    if ((nx ^ ny) & NAMES) return false;
    memcpy(x, a + offsetof(packed, end) + FROM * sizeof x[0], sizeof x);
    memcpy(y, b + offsetof(packed, end) + FROM * sizeof y[0], sizeof y);
    unsigned diff = 0;
    for (int i = 1; i <= S_PROVIDER - FROM; i++) diff |= (uint16_t)(x[i] - x[0]) ^ (uint16_t)(y[i] - y[0]);
    return !diff && memcmp(a + sizeof(packed) + x[0], b + sizeof(packed) + y[0], x[S_PROVIDER - FROM] - x[0]) == 0;
}

/* The analytics' view of a packed record; same: it names what the one before it named. */
static void rollup_record(pt_calllog *l, const char *rec, bool same)
{
    packed h;
    memcpy(&h, rec, sizeof h);
    const char *b = rec + sizeof h;
    pt_slice team = str_slice(&h, b, S_TEAM);
    pt_rollup_rec r = {
        .time_ms = h.time_ms,
        .name = { [PT_DIM_SERVICE] = str_slice(&h, b, S_SERVICE), [PT_DIM_API] = str_slice(&h, b, S_API),
                  [PT_DIM_CONSUMER] = str_slice(&h, b, S_CONSUMER), [PT_DIM_TEAM] = team,
                  [PT_DIM_MODEL] = str_slice(&h, b, S_MODEL), [PT_DIM_PROVIDER] = str_slice(&h, b, S_PROVIDER) },
        .team = team, .service_team = str_slice(&h, b, S_SERVICE_TEAM), .status = h.status, .total_us = h.total_us,
        .input_tokens = h.input_tokens, .output_tokens = h.output_tokens, .cost_micro_usd = h.cost_micro_usd,
        .same_names = same,
    };
    if (l->rollup && pt_rollup_add(l->rollup, &r)) flush_rollups(l);
}

/* Writes up to ROWS_PER_TX records from data in one transaction, in chunks; returns the
 * bytes used (all n when the transaction cannot even begin: those records are lost,
 * counted). */
static size_t insert_some(pt_calllog *l, const char *data, size_t n, int64_t cut)
{
    size_t off = 0, k = 0;
    int rc = pt_calls_run(l->begin);
    /* A pruning step due goes first, in the same transaction: no transaction of its own,
     * and the pages it frees take this batch's records (an earlier layout's rows not yet
     * converted go first: prune() takes them) */
    int64_t arg;
    int pruned;
    sqlite3_stmt *due = rc == SQLITE_OK && !l->convert ? prune_due(l, cut, &arg) : NULL;
    if (due) rc = delete_oldest(l, due, arg, cut, &pruned);
    while (off < n && (rc != SQLITE_OK || k < ROWS_PER_TX)) { /* all of it is skipped, counted, if no transaction */
        uint32_t size;
        memcpy(&size, data + off, sizeof size);
        if (k < ROWS_PER_TX) l->order[k] = off;
        k++;
        off += size;
    }
    if (rc == SQLITE_OK) sort_by_time(data, l->order, k);
    pt_calls_val v[PT_CALLS_NCOLS];
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        l->same[i] = i && same_names(data + l->order[i - 1], data + l->order[i]);
        int nv = record_vals(l, data + l->order[i], l->same[i], v);
        if (l->name_error) rc = l->name_error;
        else if (pt_calls_chunk_add(&l->chunk, v, nv) != 0) rc = SQLITE_NOMEM;
        else if (pt_calls_chunk_full(&l->chunk)) rc = pt_calls_chunk_write(l->ins, &l->chunk);
    }
    if (rc == SQLITE_OK) rc = pt_calls_chunk_write(l->ins, &l->chunk);
    if (rc == SQLITE_OK) rc = write_uses(l);
    rc = end_tx(l, rc);
    uint64_t rows = k;
    if (rc != SQLITE_OK) {
        pt_calls_chunk_reset(&l->chunk);
        names_clear(l); /* names added in the transaction went with it */
        l->name_error = 0;
        write_failed(l, rc, rows);
    } else {
        for (size_t i = 0; l->rollup && i < k; i++) rollup_record(l, data + l->order[i], l->same[i]); /* only committed records count */
        atomic_fetch_add(&l->written, rows);
        if (l->warned) pt_log_info("call log: writing again");
        l->warned = false;
    }
    atomic_fetch_add_explicit(&l->taken, rows, memory_order_relaxed);
    return off;
}

/* The first column of sql's first row (a PRAGMA or an aggregate), 0 when none. */
static uint64_t pragma_u64(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    uint64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* One bounded step of pruning in its own transaction, when one is due; returns the records
 * deleted (0: none due, or it failed). */
static int prune_step(pt_calllog *l, int64_t cut_ms)
{
    int64_t arg;
    sqlite3_stmt *st = prune_due(l, cut_ms, &arg);
    int n = 0;
    if (!st || pt_calls_run(l->begin) != SQLITE_OK) return 0;
    return end_tx(l, delete_oldest(l, st, arg, cut_ms, &n)) == SQLITE_OK ? n : 0;
}

/* Deletes the names no record names any more (calls_db.h: their last use is more than
 * PT_CALLS_NAME_TOUCH_MS before the oldest record's id), in bounded steps, and empties the
 * cache of ids when any went. */
static void prune_names(pt_calllog *l)
{
    int64_t before = l->oldest_ms == INT64_MAX ? INT64_MAX : l->oldest_ms - PT_CALLS_NAME_TOUCH_MS;
    uint64_t gone = 0;
    int n;
    do {
        sqlite3_bind_int64(l->prune_names, 1, before);
        sqlite3_bind_int(l->prune_names, 2, PT_CALLLOG_PRUNE_STEP);
        int rc = sqlite3_step(l->prune_names);
        sqlite3_reset(l->prune_names);
        n = rc == SQLITE_DONE ? sqlite3_changes(l->db) : 0;
        gone += (uint64_t)n;
    } while (n == PT_CALLLOG_PRUNE_STEP);
    l->resized |= gone > 0;
    if (gone) names_clear(l);
    atomic_fetch_add(&l->names_pruned, gone);
    l->names_due = false;
    l->names_pruned_ms = pt_now_ms();
}

/* n records of the earlier layout left it (converted or pruned). */
static void unconverted_gone(pt_calllog *l, int64_t n)
{
    uint64_t left = atomic_load(&l->to_convert);
    atomic_store(&l->to_convert, left > (uint64_t)n ? left - (uint64_t)n : 0);
}

/* One bounded step of retention over an earlier layout's rows not yet converted: up to
 * PT_CALLLOG_PRUNE_STEP of the oldest ones before before_id deleted, in their own
 * transaction; returns how many. */
static int64_t prune_unconverted(pt_calllog *l, int64_t before_id)
{
    int64_t n = 0;
    int rc = pt_calls_run(l->begin);
    if (rc == SQLITE_OK) rc = pt_calls_convert_prune(l->convert, before_id, PT_CALLLOG_PRUNE_STEP, &n);
    if (end_tx(l, rc) != SQLITE_OK) return 0;
    unconverted_gone(l, n);
    atomic_fetch_add(&l->pruned, (uint64_t)n);
    l->names_due |= n > 0;
    return n;
}

/* The millisecond before which records are past the retention. */
static int64_t cut_of(pt_calllog *l) { return l->now_ms() - (int64_t)l->retention_ms; }

/* Prunes by age, then by size, in steps, until nothing is due or budget records went (gone
 * of them already, in the batch's own transaction). While nothing is older than the
 * retention or over the size, it runs no SQL at all. */
static void prune(pt_calllog *l, int64_t cut, uint64_t budget, uint64_t gone)
{
    int64_t n0;
    if (l->convert) { /* an earlier layout's rows not yet converted are the oldest: they go first */
        while (l->retention_ms && gone < budget && (n0 = prune_unconverted(l, PT_CALLS_ID(cut))) > 0) gone += (uint64_t)n0;
        while (l->max_bytes && gone < budget && measure(l) > l->max_bytes * SIZE_LOW_WATER &&
               (n0 = prune_unconverted(l, INT64_MAX)) > 0)
            gone += (uint64_t)n0;
    }
    int n;
    while (gone < budget && (n = prune_step(l, cut)) > 0) gone += (uint64_t)n;
}

/* Converts an earlier layout's records into chunks (calls_db.h), newest first, a step per
 * transaction: at least one step per wake-up, more while no batch waits, for CONVERT_MS at
 * most. A failed step is tried again at the next wake-up. */
static void convert_some(pt_calllog *l)
{
    uint64_t t0 = pt_now_ms();
    if (!l->convert_t0_ms) { /* the first time: how many there are (a count of the table) */
        int64_t left = pt_calls_convert_left(l->convert);
        atomic_store(&l->to_convert, (uint64_t)left);
        l->convert_t0_ms = t0;
        pt_log_info("call log: %lld records of the file's earlier layout are converted in the background, newest first; "
                    "until then the older ones are missing from queries (portico_call_log_records_to_convert)",
                    (long long)left);
    }
    unsigned steps = 0;
    do {
        int64_t done = 0, lowest = 0;
        int rc = pt_calls_run(l->begin);
        if (rc == SQLITE_OK) rc = pt_calls_convert_step(l->convert, CONVERT_STEP, &done, &lowest);
        if ((rc = end_tx(l, rc)) != SQLITE_OK) {
            if (!l->convert_warn_ms || pt_now_ms() - l->convert_warn_ms >= WARN_EVERY_MS) {
                pt_log_warn("call log: converting the records of the earlier layout: %s; tried again", sqlite3_errstr(rc));
                l->convert_warn_ms = pt_now_ms();
            }
            return;
        }
        l->converted += (uint64_t)done;
        unconverted_gone(l, done);
        if (done) note_id(l, lowest);
        if (done < CONVERT_STEP) {
            pt_calls_convert_free(l->convert);
            l->convert = NULL;
            atomic_store(&l->to_convert, 0);
            pt_log_info("call log: the %llu records of the earlier layout were converted in %llu ms",
                        (unsigned long long)l->converted, (unsigned long long)(pt_now_ms() - l->convert_t0_ms));
            return;
        }
    } while (++steps != l->convert_steps && pt_now_ms() - t0 < CONVERT_MS && pt_spool_pending(l->spool) == 0);
}

static void on_batch(void *arg, const char *data, size_t n)
{
    pt_calllog *l = arg;
    pthread_mutex_lock(&l->db_lock);
    uint64_t before = atomic_load(&l->written), pruned = atomic_load(&l->pruned);
    int64_t cut = cut_of(l);
    for (size_t off = 0; off < n;) off += insert_some(l, data + off, n - off, cut);
    uint64_t rows = atomic_load(&l->written) - before;
    /* Pruning keeps pace with writing: at least twice this batch's records per wake-up. */
    prune(l, cut, rows * 2 > PT_CALLLOG_PRUNE_STEP ? rows * 2 : PT_CALLLOG_PRUNE_STEP, atomic_load(&l->pruned) - pruned);
    /* (not while converting: the records not yet converted name what they name) */
    if (l->names_due && !l->convert && pt_now_ms() - l->names_pruned_ms >= NAMES_PRUNE_MS) prune_names(l);
    if (pt_now_ms() - l->last_rollup_ms >= PT_ROLLUP_FLUSH_MS) flush_rollups(l);
    if (l->convert) convert_some(l);
    measure(l);
    pthread_mutex_unlock(&l->db_lock);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int prepare_one(pt_calllog *l, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

static int prepare(pt_calllog *l)
{
    static const char *const del[3] = { "DELETE FROM chunks WHERE id = ?1", "DELETE FROM chunk_keys WHERE id = ?1",
                                        "DELETE FROM chunk_recs WHERE id = ?1" };
    for (int i = 0; i < 3; i++)
        if (prepare_one(l, pt_calls_chunk_sql[i], &l->ins[i]) || prepare_one(l, del[i], &l->del[i])) return SQLITE_ERROR;
    return prepare_one(l, "BEGIN", &l->begin) || prepare_one(l, "COMMIT", &l->commit) ||
           prepare_one(l, "ROLLBACK", &l->rollback) || prepare_one(l, "PRAGMA page_count", &l->page_count) ||
           prepare_one(l, "PRAGMA freelist_count", &l->freelist_count) ||
           prepare_one(l, "SELECT id FROM chunks ORDER BY id LIMIT 1", &l->first_id) ||
           /* a chunk whose last id is before the cut has all its records before it */
           prepare_one(l, "SELECT id, n FROM chunks WHERE id < ?1 AND last_id < ?1 ORDER BY id", &l->prune_age) ||
           prepare_one(l, "SELECT id, n FROM chunks ORDER BY id", &l->prune_old) ||
           prepare_one(l, pt_calls_name_find_sql, &l->name_find) || prepare_one(l, pt_calls_name_add_sql, &l->name_add) ||
           prepare_one(l, "UPDATE names SET last_ms = ?2 WHERE id = ?1", &l->name_touch) ||
           prepare_one(l, "DELETE FROM names WHERE id IN (SELECT id FROM names WHERE last_ms < ?1 LIMIT ?2)",
                       &l->prune_names);
}

static void free_log(pt_calllog *l)
{
    pt_rollup_free(l->rollup);
    pt_calls_convert_free(l->convert);
    sqlite3_stmt *stmts[] = { l->ins[0],    l->ins[1],   l->ins[2],      l->del[0],      l->del[1],
                              l->del[2],    l->begin,    l->commit,      l->rollback,    l->page_count,
                              l->freelist_count, l->first_id, l->prune_age, l->prune_old, l->name_find,
                              l->name_add,  l->name_touch, l->prune_names };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) sqlite3_finalize(stmts[i]);
    pt_calls_chunk_free(&l->chunk);
    free(l->order);
    free(l->same);
    names_clear(l);
    free(l->names);
    free(l->used);
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->db_lock);
    free(l);
}

pt_calllog *pt_calllog_open(const pt_calllog_opts *o, char *why, size_t cap)
{
    pt_calllog *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(why, cap, "call log: out of memory");
        return NULL;
    }
    pthread_mutex_init(&l->db_lock, NULL);
    for (int i = 0; i <= S_PROVIDER - S_TEAM; i++) l->name_vals[i].col = (uint16_t)(PT_CALLS_COL_team + i);
    if (!(l->names = calloc(NAME_SLOTS, sizeof *l->names)) || !(l->used = calloc(NAME_SLOTS, sizeof *l->used)) ||
        !(l->order = malloc(ROWS_PER_TX * sizeof *l->order)) || !(l->same = malloc(ROWS_PER_TX * sizeof *l->same))) {
        snprintf(why, cap, "call log: out of memory");
        goto fail;
    }
    l->retention_ms = o->retention_ms;
    l->max_bytes = o->max_bytes;
    l->now_ms = o->now_ms ? o->now_ms : pt_calllog_now_ms;
    l->convert_steps = o->convert_steps;
    if (pt_calls_db_open(o->path, false, &l->db, why, cap) != 0) goto fail;
    if (prepare(l) != SQLITE_OK) {
        snprintf(why, cap, "call log: %s: %s", o->path, sqlite3_errmsg(l->db));
        goto fail;
    }
    l->page_size = pragma_u64(l->db, "PRAGMA page_size");
    l->resized = true;
    measure(l);
    find_oldest(l);
    l->aged_out_ms = INT64_MIN;
    l->last_id = (int64_t)pragma_u64(l->db, "SELECT coalesce((SELECT last_id FROM chunks ORDER BY id DESC LIMIT 1), 0)");
    int rc;
    if (!(l->convert = pt_calls_convert_new(l->db, &rc)) && rc != SQLITE_OK) {
        snprintf(why, cap, "call log: %s: %s", o->path, sqlite3_errstr(rc));
        goto fail;
    }
    if (l->convert) { /* ids go on after the earlier layout's too */
        int64_t max_id = pt_calls_convert_max_id(l->convert);
        if (max_id > l->last_id) l->last_id = max_id;
    }
    pt_calls_chunk_reset(&l->chunk);
    if (!o->no_rollups && !(l->rollup = pt_rollup_new(l->db, o->rollup_retention_ms, why, cap))) goto fail;
    l->last_rollup_ms = pt_now_ms();
    pt_spool_opts so = { .cap = o->queue_bytes ? o->queue_bytes : DEFAULT_QUEUE, .flush_bytes = o->flush_bytes,
                         .flush_ms = o->flush_ms ? o->flush_ms : 200, .name = "calllog", .fn = on_batch, .arg = l };
    if (!so.flush_bytes) so.flush_bytes = FLUSH_BYTES < so.cap / 2 ? FLUSH_BYTES : so.cap / 2 ? so.cap / 2 : 1;
    l->spool = pt_spool_new(&so);
    if (!l->spool) {
        snprintf(why, cap, "call log: cannot start the writer thread");
        goto fail;
    }
    return l;
fail:
    free_log(l);
    return NULL;
}

void pt_calllog_sync(pt_calllog *l) { pt_spool_sync(l->spool); }

void pt_calllog_flush_rollups(pt_calllog *l)
{
    pt_spool_sync(l->spool);
    pthread_mutex_lock(&l->db_lock);
    flush_rollups(l);
    pthread_mutex_unlock(&l->db_lock);
}

void pt_calllog_prune_all(pt_calllog *l)
{
    pt_spool_sync(l->spool);
    pthread_mutex_lock(&l->db_lock);
    prune(l, cut_of(l), UINT64_MAX, 0);
    if (!l->convert) prune_names(l);
    measure(l);
    pthread_mutex_unlock(&l->db_lock);
}

void pt_calllog_stats_get(pt_calllog *l, pt_calllog_stats *out)
{
    out->written = atomic_load(&l->written);
    out->dropped = atomic_load(&l->dropped);
    out->pruned = atomic_load(&l->pruned);
    out->write_errors = atomic_load(&l->write_errors);
    out->disk_full = atomic_load(&l->disk_full);
    out->names_pruned = atomic_load(&l->names_pruned);
    out->to_convert = atomic_load(&l->to_convert);
    uint64_t pushed = pt_spool_pushed(l->spool), taken = atomic_load(&l->taken);
    out->queued = pushed > taken ? pushed - taken : 0;
}

uint64_t pt_calllog_used_bytes(pt_calllog *l) { return atomic_load(&l->used_bytes); }

void pt_calllog_close(pt_calllog *l)
{
    if (!l) return;
    pt_spool_free(l->spool);
    flush_rollups(l);
    free_log(l);
}

void pt__calllog_set_max_pages(pt_calllog *l, int64_t max_pages)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)max_pages);
    pthread_mutex_lock(&l->db_lock);
    exec(l->db, sql);
    pthread_mutex_unlock(&l->db_lock);
}
