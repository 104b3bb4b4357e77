/* calls_chunk.c: the call log's records in chunks (see calls_db.h): how a chunk is encoded
 * and stored by the writer, and the virtual table `calls` that reads them back for every
 * reader, one record per row.
 *
 * A chunk's records, in id order, each as:
 *   3 bytes  the body's length (little-endian), then the body:
 *   varint   its id less the previous record's (0 for the first: the chunk's id)
 *   varint   its id's millisecond less its time_ms, zigzag-encoded
 *   5 bytes  which columns after time_ms are not NULL (bit c - 2 for column c, little-endian)
 *   then each such column in order: an integer or a name's id as a zigzag varint, a text
 *   as a varint length and its bytes.
 * Its filter (chunk_keys) is a Bloom filter of 2^k bits, three per key, over the keys
 * key_of() makes of the columns readers look up by: the names team, consumer, service,
 * API and model (their ids), the request id (its rid_hash) and the trace id (its text's
 * hash). Everything read from the file is bounds-checked: a damaged chunk ends where it
 * stops making sense. */
#include "logs/calls_db.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

enum { K_INT, K_TEXT, K_NAME };
/* TEXT is the only type of four letters in PT_CALLS_COLUMNS. */
#define KIND(name, type) (sizeof(type) == sizeof("TEXT") ? K_TEXT : K_INT),
#define KIND_N(name) K_NAME,
static const uint8_t kinds[PT_CALLS_NCOLS] = { K_INT, PT_CALLS_COLUMNS(KIND, KIND_N) };

/* The columns whose keys a chunk's filter holds. */
static const int filtered[] = { PT_CALLS_COL_team,  PT_CALLS_COL_consumer, PT_CALLS_COL_service,
                                PT_CALLS_COL_api,   PT_CALLS_COL_model,    PT_CALLS_COL_rid_hash,
                                PT_CALLS_COL_trace_id };
#define NFILTERED ((int)(sizeof filtered / sizeof *filtered))
_Static_assert(PT_CALLS_COL_provider - PT_CALLS_COL_team < (int)(sizeof((pt_calls_chunk *)0)->last_name / sizeof(int64_t)),
               "a last id per name column");

#define BLOOM_HASHES 3
#define BLOOM_BITS_PER_KEY 12
#define BLOOM_MIN_BYTES 32

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t key_of(int col, uint64_t v) { return mix64(v * 0x9e3779b97f4a7c15ULL + (uint64_t)col); }


static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int pt_calls_col_kind(int col) { return kinds[col] == K_TEXT ? PT_CALLS_TEXT : PT_CALLS_INT; }

/* ---- the writer's side ------------------------------------------------------------------- */

static bool reserve(pt_calls_chunk *c, size_t more)
{
    if (c->len + more <= c->cap) return true;
    size_t cap = c->cap ? c->cap : 64 << 10;
    while (cap < c->len + more) cap *= 2;
    uint8_t *p = realloc(c->buf, cap);
    if (!p) return false;
    c->buf = p;
    c->cap = cap;
    return true;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static bool add_key(pt_calls_chunk *c, uint64_t k)
{
    if (c->nkeys == c->kcap) {
        size_t cap = c->kcap ? c->kcap * 2 : 1024;
        uint64_t *p = realloc(c->keys, cap * sizeof *p);
        if (!p) return false;
        c->keys = p;
        c->kcap = cap;
    }
    c->keys[c->nkeys++] = k;
    return true;
}

/* The columns whose keys a chunk's filter holds (filtered[]), as bits. */
#define BIT(col) (1ULL << PT_CALLS_COL_##col)
static const uint64_t filtered_bits = BIT(team) | BIT(consumer) | BIT(service) | BIT(api) | BIT(model) |
                                      BIT(request_id) | BIT(trace_id);
#undef BIT

/* The key of a filtered column's value: a name once per run of records naming it in the
 * chunk, the request id's hash, the trace id's. */
static bool add_col_key(pt_calls_chunk *c, const pt_calls_val *x)
{
    if (x->col == PT_CALLS_COL_request_id)
        return x->type != PT_CALLS_TEXT || add_key(c, key_of(PT_CALLS_COL_rid_hash, (uint64_t)pt_calls_rid_hash(x->s, x->n)));
    if (x->col == PT_CALLS_COL_trace_id)
        return x->type != PT_CALLS_TEXT || add_key(c, key_of(PT_CALLS_COL_trace_id, pt_hash_bytes(x->s, x->n)));
    int64_t *last = &c->last_name[x->col - PT_CALLS_COL_team];
    if (x->type != PT_CALLS_INT || *last == x->i) return true; /* (reset: none) */
    *last = x->i;
    return add_key(c, key_of(x->col, (uint64_t)x->i));
}

#define LEN_BYTES 3
#define PRESENT_BYTES 5
_Static_assert(PT_CALLS_NCOLS - 2 <= PRESENT_BYTES * 8, "a bit per column after time_ms");

/* The most a record's encoding takes besides its texts' bytes. */
#define FIXED_MOST (LEN_BYTES + 20 + PRESENT_BYTES + (PT_CALLS_NCOLS - 2) * 10)

/* v's n low bytes at p, little-endian. */
static inline void put_le(uint8_t *p, uint64_t v, int n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, (size_t)n);
#else
    for (int b = 0; b < n; b++) p[b] = (uint8_t)(v >> (8 * b));
#endif
}

int pt_calls_chunk_add(pt_calls_chunk *c, const pt_calls_val *v, int n)
{
    if (n < 2 || v[0].col != PT_CALLS_COL_id || v[1].col != PT_CALLS_COL_time_ms || !reserve(c, FIXED_MOST)) return -1;
    int64_t id = v[0].i, t = v[1].i;
    size_t start = c->len;
    uint8_t *p = c->buf + start + LEN_BYTES;
    p = put_varint(p, c->n ? (uint64_t)(id - c->last_id) : 0);
    p = put_varint(p, zigzag((id >> PT_CALLS_SEQ_BITS) - t));
    size_t present_at = (size_t)(p - c->buf);
    p += PRESENT_BYTES;
    uint64_t present = 0;
    int last_col = PT_CALLS_COL_time_ms;
    size_t text = 0; /* the texts' bytes so far: the room reserved covers FIXED_MOST besides */
    for (const pt_calls_val *x = v + 2; x < v + n; x++) {
        if (x->type == PT_CALLS_NULL) continue;
        int col = x->col;
        if (col <= last_col || col >= PT_CALLS_NCOLS) return -1; /* (the record is not kept: len is where it was) */
        last_col = col;
        present |= 1ULL << (col - 2);
        if (filtered_bits >> col & 1 && !add_col_key(c, x)) return -1;
        if (x->type == PT_CALLS_INT) {
            p = put_varint(p, zigzag(x->i));
            continue;
        }
        text += x->n;
        size_t off = (size_t)(p - c->buf); /* an offset: the room may move */
        if (text + FIXED_MOST >= 1u << (8 * LEN_BYTES) || !reserve(c, off - start + x->n + FIXED_MOST)) return -1;
        p = put_varint(c->buf + off, x->n);
        memcpy(p, x->s, x->n);
        p += x->n;
    }
    put_le(c->buf + present_at, present, PRESENT_BYTES);
    size_t body = (size_t)(p - c->buf) - start - LEN_BYTES;
    put_le(c->buf + start, body, LEN_BYTES);
    c->len += LEN_BYTES + body;
    if (!c->n) {
        c->first_id = id;
        c->min_ms = c->max_ms = t;
    }
    c->last_id = id;
    if (t < c->min_ms) c->min_ms = t;
    if (t > c->max_ms) c->max_ms = t;
    c->n++;
    return 0;
}

const char *const pt_calls_chunk_sql[3] = {
    "INSERT INTO chunks(id, last_id, min_ms, max_ms, n) VALUES(?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO chunk_keys(id, keys) VALUES(?1, ?2)",
    "INSERT INTO chunk_recs(id, recs) VALUES(?1, ?2)",
};

static inline void bloom_positions(uint64_t k, uint64_t mask, uint64_t out[BLOOM_HASHES])
{
    uint64_t h1 = k, h2 = (k >> 32) | 1;
    for (int i = 0; i < BLOOM_HASHES; i++) out[i] = (h1 + (uint64_t)i * h2) & mask;
}

int pt_calls_chunk_write(sqlite3_stmt *const ins[3], pt_calls_chunk *c)
{
    if (!c->n) return SQLITE_OK;
    size_t bytes = BLOOM_MIN_BYTES;
    while (bytes * 8 < c->nkeys * BLOOM_BITS_PER_KEY) bytes *= 2;
    uint8_t *bloom = calloc(1, bytes);
    if (!bloom) return SQLITE_NOMEM;
    for (size_t i = 0; i < c->nkeys; i++) {
        uint64_t pos[BLOOM_HASHES];
        bloom_positions(c->keys[i], bytes * 8 - 1, pos);
        for (int h = 0; h < BLOOM_HASHES; h++) bloom[pos[h] >> 3] |= (uint8_t)(1u << (pos[h] & 7));
    }
    sqlite3_bind_int64(ins[0], 1, c->first_id);
    sqlite3_bind_int64(ins[0], 2, c->last_id);
    sqlite3_bind_int64(ins[0], 3, c->min_ms);
    sqlite3_bind_int64(ins[0], 4, c->max_ms);
    sqlite3_bind_int64(ins[0], 5, c->n);
    sqlite3_bind_int64(ins[1], 1, c->first_id);
    sqlite3_bind_blob(ins[1], 2, bloom, (int)bytes, SQLITE_STATIC);
    sqlite3_bind_int64(ins[2], 1, c->first_id);
    sqlite3_bind_blob64(ins[2], 2, c->buf, c->len, SQLITE_STATIC);
    int rc = pt_calls_run(ins[0]);
    if (rc == SQLITE_OK) rc = pt_calls_run(ins[1]);
    if (rc == SQLITE_OK) rc = pt_calls_run(ins[2]);
    sqlite3_clear_bindings(ins[1]);
    sqlite3_clear_bindings(ins[2]);
    free(bloom);
    pt_calls_chunk_reset(c);
    return rc;
}

void pt_calls_chunk_reset(pt_calls_chunk *c)
{
    c->len = c->nkeys = 0;
    c->n = 0;
    for (size_t i = 0; i < sizeof c->last_name / sizeof *c->last_name; i++) c->last_name[i] = INT64_MIN; /* no name's id */
}

void pt_calls_chunk_free(pt_calls_chunk *c)
{
    free(c->buf);
    free(c->keys);
    *c = (pt_calls_chunk){ 0 };
}

/* ---- reading a chunk --------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p, *end;
    bool bad;
} reader;

static uint64_t get_fixed(reader *r, int bytes)
{
    if (r->end - r->p < bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int b = 0; b < bytes; b++) v |= (uint64_t)r->p[b] << (8 * b);
    r->p += bytes;
    return v;
}

static uint64_t get_varint(reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}

/* Decodes the body [p, end) of the record whose id is id into v (columns 1 on; text
 * points into the body). false when it does not make sense. */
static bool decode(const uint8_t *p, const uint8_t *end, int64_t id, pt_calls_val *v)
{
    reader r = { p, end, false };
    get_varint(&r); /* the id's delta, known */
    /* (unsigned: a damaged difference wraps instead of overflowing) */
    v[PT_CALLS_COL_time_ms] = (pt_calls_val){
        .type = PT_CALLS_INT, .i = (int64_t)((uint64_t)(id >> PT_CALLS_SEQ_BITS) - (uint64_t)unzigzag(get_varint(&r))) };
    uint64_t present = get_fixed(&r, PRESENT_BYTES);
    for (int i = 2; i < PT_CALLS_NCOLS && !r.bad; i++) {
        if (!(present >> (i - 2) & 1)) {
            v[i] = (pt_calls_val){ .type = PT_CALLS_NULL };
        } else if (kinds[i] != K_TEXT) {
            v[i] = (pt_calls_val){ .type = PT_CALLS_INT, .i = unzigzag(get_varint(&r)) };
        } else {
            uint64_t n = get_varint(&r);
            if (n > (uint64_t)(r.end - r.p)) return false;
            v[i] = (pt_calls_val){ .type = PT_CALLS_TEXT, .s = (const char *)r.p, .n = (uint32_t)n };
            r.p += n;
        }
    }
    return !r.bad && r.p == r.end;
}

/* ---- the virtual table `calls` ------------------------------------------------------------ */

_Atomic uint64_t pt__calls_chunks_read;

/* The constraints the table uses, each in a slot of idxNum (bit = slot); their values come
 * to xFilter in slot order. An equality on a filtered column takes slot S_EQ + its index in
 * filtered[]. */
enum { S_ID_GE, S_ID_GT, S_ID_LE, S_ID_LT, S_ID_EQ, S_T_GE, S_T_GT, S_T_LE, S_T_LT, S_T_EQ, S_EQ, NSLOTS = S_EQ + NFILTERED };
#define DESC_BIT (1 << 30)
_Static_assert(NSLOTS < 30, "slots fit idxNum under DESC_BIT");

typedef struct calls_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
} calls_vtab;

typedef struct eq_filter {
    int col;                     /* PT_CALLS_COL_... */
    int64_t v;                   /* the integer asked for (a name's id, a rid_hash) */
    const char *s;               /* trace_id: the text asked for (owned), n bytes */
    size_t n;
    uint64_t key;
} eq_filter;

typedef struct calls_cur {
    sqlite3_vtab_cursor base;
    sqlite3 *db;
    sqlite3_stmt *scan[2];       /* the chunks, newest first [1] or oldest first [0] */
    sqlite3_stmt *keys, *recs;
    bool desc, eof;
    int64_t lo, hi, from, to;    /* id and time_ms bounds, inclusive */
    int neq;
    eq_filter eq[NFILTERED];
    const uint8_t *blob;         /* the current chunk's records (recs' row) */
    uint32_t n, cap;             /* its records: n of them, at off[i] with id ids[i] */
    uint32_t *off, *len;
    int64_t *ids;
    int64_t at;                  /* the current record */
    pt_calls_val v[PT_CALLS_NCOLS];
} calls_cur;

static const char declaration[] = "CREATE TABLE x(id INTEGER" PT_CALLS_COLUMN_DEFS ")";

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)aux, (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(db, declaration);
    if (rc != SQLITE_OK) return rc;
    calls_vtab *t = sqlite3_malloc(sizeof *t);
    if (!t) return SQLITE_NOMEM;
    memset(t, 0, sizeof *t);
    t->db = db;
    *out = &t->base;
    return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int filtered_index(int col)
{
    for (int f = 0; f < NFILTERED; f++)
        if (filtered[f] == col) return f;
    return -1;
}

static int slot_of(const struct sqlite3_index_constraint *c)
{
    int col = c->iColumn < 0 ? PT_CALLS_COL_id : c->iColumn;
    int base = col == PT_CALLS_COL_id ? S_ID_GE : col == PT_CALLS_COL_time_ms ? S_T_GE : -1;
    if (base >= 0) {
        switch (c->op) {
        case SQLITE_INDEX_CONSTRAINT_GE: return base;
        case SQLITE_INDEX_CONSTRAINT_GT: return base + 1;
        case SQLITE_INDEX_CONSTRAINT_LE: return base + 2;
        case SQLITE_INDEX_CONSTRAINT_LT: return base + 3;
        case SQLITE_INDEX_CONSTRAINT_EQ: return base + 4;
        default: return -1;
        }
    }
    int f = filtered_index(col);
    return f >= 0 && c->op == SQLITE_INDEX_CONSTRAINT_EQ ? S_EQ + f : -1;
}

/* Takes, per slot, the first usable constraint; SQLite still checks every constraint
 * (omit stays 0): the table narrows, it never decides alone. */
static int vt_best_index(sqlite3_vtab *tab, sqlite3_index_info *p)
{
    (void)tab;
    int at[NSLOTS];
    for (int s = 0; s < NSLOTS; s++) at[s] = -1;
    for (int i = 0; i < p->nConstraint; i++) {
        if (!p->aConstraint[i].usable) continue;
        int s = slot_of(&p->aConstraint[i]);
        /* a text compared under another collation than BINARY is SQLite's alone to compare */
        if (s >= 0 && p->aConstraint[i].iColumn == PT_CALLS_COL_trace_id &&
            strcmp(sqlite3_vtab_collation(p, i), "BINARY") != 0)
            continue;
        if (s >= 0 && at[s] < 0) at[s] = i;
    }
    int arg = 1, mask = 0;
    double cost = 1e7;
    for (int s = 0; s < NSLOTS; s++) {
        if (at[s] < 0) continue;
        p->aConstraintUsage[at[s]].argvIndex = arg++;
        mask |= 1 << s;
        cost /= s >= S_EQ ? 1000 : s == S_ID_EQ ? 1e6 : 4;
    }
    if (p->nOrderBy == 1 && (p->aOrderBy[0].iColumn == PT_CALLS_COL_id || p->aOrderBy[0].iColumn < 0)) {
        p->orderByConsumed = 1;
        if (p->aOrderBy[0].desc) mask |= DESC_BIT;
    }
    p->idxNum = mask;
    p->estimatedCost = cost;
    p->estimatedRows = (sqlite3_int64)(cost / 10) + 1;
    return SQLITE_OK;
}

static int vt_close(sqlite3_vtab_cursor *cur);

static int vt_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out)
{
    calls_cur *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->db = ((calls_vtab *)tab)->db;
    int rc = sqlite3_prepare_v3(c->db, "SELECT id, last_id, min_ms, max_ms FROM chunks WHERE id >= "
                                       "coalesce((SELECT max(id) FROM chunks WHERE id <= ?1), ?1) ORDER BY id",
                                -1, SQLITE_PREPARE_PERSISTENT, &c->scan[0], NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(c->db, "SELECT id, last_id, min_ms, max_ms FROM chunks WHERE id <= ?1 ORDER BY id DESC",
                                -1, SQLITE_PREPARE_PERSISTENT, &c->scan[1], NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(c->db, "SELECT keys FROM chunk_keys WHERE id = ?1", -1, SQLITE_PREPARE_PERSISTENT,
                                &c->keys, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(c->db, "SELECT recs FROM chunk_recs WHERE id = ?1", -1, SQLITE_PREPARE_PERSISTENT,
                                &c->recs, NULL);
    if (rc != SQLITE_OK) {
        tab->zErrMsg = sqlite3_mprintf("call log: %s", sqlite3_errmsg(c->db));
        vt_close(&c->base); /* SQLite closes no cursor whose opening failed */
        return rc;
    }
    *out = &c->base;
    return SQLITE_OK;
}

static void free_eq(calls_cur *c)
{
    for (int i = 0; i < c->neq; i++) free((char *)c->eq[i].s);
    c->neq = 0;
}

static int vt_close(sqlite3_vtab_cursor *cur)
{
    calls_cur *c = (calls_cur *)cur;
    sqlite3_finalize(c->scan[0]);
    sqlite3_finalize(c->scan[1]);
    sqlite3_finalize(c->keys);
    sqlite3_finalize(c->recs);
    free_eq(c);
    free(c->off);
    free(c->len);
    free(c->ids);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* Whether the chunk's filter may hold every key asked for. */
static bool may_hold(calls_cur *c, int64_t chunk)
{
    if (!c->neq) return true;
    sqlite3_bind_int64(c->keys, 1, chunk);
    bool may = true;
    if (sqlite3_step(c->keys) == SQLITE_ROW) {
        const uint8_t *b = sqlite3_column_blob(c->keys, 0);
        uint64_t bytes = (uint64_t)sqlite3_column_bytes(c->keys, 0);
        if (b && bytes && !(bytes & (bytes - 1)))
            for (int i = 0; i < c->neq && may; i++) {
                uint64_t pos[BLOOM_HASHES];
                bloom_positions(c->eq[i].key, bytes * 8 - 1, pos);
                for (int h = 0; h < BLOOM_HASHES && may; h++) may = b[pos[h] >> 3] >> (pos[h] & 7) & 1;
            }
    }
    sqlite3_reset(c->keys);
    return may;
}

/* Lists the records of the chunk whose recs row c->recs is on: where each starts, its
 * length and id. A damaged tail is left out. */
static bool list_records(calls_cur *c, int64_t first_id, int64_t last_id)
{
    c->n = 0;
    c->blob = sqlite3_column_blob(c->recs, 0);
    if (!c->blob) return true; /* an empty blob */
    reader r = { c->blob, c->blob + sqlite3_column_bytes(c->recs, 0), false };
    int64_t id = first_id;
    while (r.p < r.end) {
        uint64_t len = get_fixed(&r, LEN_BYTES);
        if (r.bad || len > (uint64_t)(r.end - r.p)) break;
        reader body = { r.p, r.p + len, false };
        uint64_t delta = get_varint(&body);
        /* the first record is the chunk's id, each next one larger, none past its last id */
        if (body.bad || (c->n ? delta == 0 || delta > (uint64_t)last_id - (uint64_t)id : delta != 0)) break;
        id = (int64_t)((uint64_t)id + delta);
        if (c->n == c->cap) {
            uint32_t cap = c->cap ? c->cap * 2 : PT_CALLS_CHUNK_RECORDS;
            uint32_t *off = realloc(c->off, cap * sizeof *off);
            if (off) c->off = off;
            uint32_t *ln = off ? realloc(c->len, cap * sizeof *ln) : NULL;
            if (ln) c->len = ln;
            int64_t *ids = ln ? realloc(c->ids, cap * sizeof *ids) : NULL;
            if (!ids) return false;
            c->ids = ids;
            c->cap = cap;
        }
        c->off[c->n] = (uint32_t)(r.p - c->blob);
        c->len[c->n] = (uint32_t)len;
        c->ids[c->n++] = id;
        r.p += len;
    }
    return true;
}

/* Moves to the next chunk that may hold a record asked for, with its records listed;
 * false at the end (or on an error, in *rc). */
static bool next_chunk(calls_cur *c, int *rc)
{
    sqlite3_reset(c->recs);
    c->n = 0;
    sqlite3_stmt *scan = c->scan[c->desc];
    for (;;) {
        int s = sqlite3_step(scan);
        if (s != SQLITE_ROW) {
            if (s != SQLITE_DONE) *rc = s;
            return false;
        }
        int64_t id = sqlite3_column_int64(scan, 0), last = sqlite3_column_int64(scan, 1);
        int64_t min_ms = sqlite3_column_int64(scan, 2), max_ms = sqlite3_column_int64(scan, 3);
        if (last < id) continue; /* a damaged row */
        if (c->desc ? last < c->lo : id > c->hi) return false; /* this and all after are out of range */
        if (last < c->lo || id > c->hi || max_ms < c->from || min_ms > c->to || !may_hold(c, id)) continue;
        sqlite3_bind_int64(c->recs, 1, id);
        s = sqlite3_step(c->recs);
        atomic_fetch_add_explicit(&pt__calls_chunks_read, 1, memory_order_relaxed);
        if (s == SQLITE_ROW) {
            if (!list_records(c, id, last)) {
                *rc = SQLITE_NOMEM;
                return false;
            }
            if (c->n) {
                c->at = c->desc ? (int64_t)c->n : -1;
                return true;
            }
        } else if (s != SQLITE_DONE) {
            *rc = s;
            return false;
        }
        sqlite3_reset(c->recs);
    }
}

/* Whether the decoded record passes the bounds and equalities (SQLite checks them again). */
static bool passes(calls_cur *c)
{
    int64_t t = c->v[PT_CALLS_COL_time_ms].i;
    if (t < c->from || t > c->to) return false;
    for (int i = 0; i < c->neq; i++) {
        const eq_filter *e = &c->eq[i];
        if (e->col == PT_CALLS_COL_rid_hash) {
            const pt_calls_val *r = &c->v[PT_CALLS_COL_request_id];
            if (r->type != PT_CALLS_TEXT || pt_calls_rid_hash(r->s, r->n) != e->v) return false;
        } else if (e->s) {
            const pt_calls_val *x = &c->v[e->col];
            if (x->type != PT_CALLS_TEXT || x->n != e->n || memcmp(x->s, e->s, e->n) != 0) return false;
        } else if (c->v[e->col].type != PT_CALLS_INT || c->v[e->col].i != e->v) {
            return false;
        }
    }
    return true;
}

/* Moves to the next record asked for, or to the end. */
static int advance(calls_cur *c)
{
    int rc = SQLITE_OK;
    for (;;) {
        if (c->n) c->at += c->desc ? -1 : 1;
        if (!c->n || c->at < 0 || c->at >= (int64_t)c->n) {
            if (!next_chunk(c, &rc)) {
                c->eof = true;
                return rc;
            }
            continue;
        }
        int64_t id = c->ids[c->at];
        if (id < c->lo || id > c->hi) {
            if (c->desc ? id < c->lo : id > c->hi) { /* past the range: no later record is in it */
                c->eof = true;
                return SQLITE_OK;
            }
            continue;
        }
        const uint8_t *p = c->blob + c->off[c->at];
        c->v[PT_CALLS_COL_id] = (pt_calls_val){ .type = PT_CALLS_INT, .i = id };
        if (decode(p, p + c->len[c->at], id, c->v) && passes(c)) return SQLITE_OK;
    }
}

/* The integer of a constraint's value: 1, 0 when it is of another type (the constraint is
 * left to SQLite), -1 when it is NULL (nothing matches). */
static int int_arg(sqlite3_value *a, int64_t *v)
{
    int t = sqlite3_value_type(a);
    if (t == SQLITE_NULL) return -1;
    if (t != SQLITE_INTEGER) return 0;
    *v = sqlite3_value_int64(a);
    return 1;
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc, sqlite3_value **argv)
{
    (void)idx_str;
    calls_cur *c = (calls_cur *)cur;
    free_eq(c);
    sqlite3_reset(c->recs);
    c->n = 0;
    c->desc = idx & DESC_BIT;
    c->lo = c->from = INT64_MIN;
    c->hi = c->to = INT64_MAX;
    c->eof = false;
    bool none = false;
    int k = 0;
    for (int s = 0; s < NSLOTS && k < argc; s++) {
        if (!(idx >> s & 1)) continue;
        sqlite3_value *a = argv[k++];
        int64_t v = 0;
        if (s >= S_EQ) {
            int col = filtered[s - S_EQ];
            eq_filter *e = &c->eq[c->neq];
            *e = (eq_filter){ .col = col };
            if (col == PT_CALLS_COL_trace_id) {
                if (sqlite3_value_type(a) == SQLITE_NULL) none = true;
                if (sqlite3_value_type(a) != SQLITE_TEXT) continue;
                e->n = (size_t)sqlite3_value_bytes(a);
                char *s2 = malloc(e->n + 1);
                if (!s2) return SQLITE_NOMEM;
                memcpy(s2, sqlite3_value_text(a), e->n);
                e->s = s2;
                e->key = key_of(col, pt_hash_bytes(s2, e->n));
            } else {
                int r = int_arg(a, &v);
                if (r < 0) none = true;
                if (r <= 0) continue;
                e->v = v;
                e->key = key_of(col, (uint64_t)v);
            }
            c->neq++;
            continue;
        }
        int r = int_arg(a, &v);
        if (r < 0) none = true;
        if (r <= 0) continue;
        int64_t *lo = s < S_T_GE ? &c->lo : &c->from, *hi = s < S_T_GE ? &c->hi : &c->to;
        switch ((s - S_ID_GE) % (S_T_GE - S_ID_GE)) {
        case 0: if (v > *lo) *lo = v; break;
        case 1: if (v == INT64_MAX) none = true; else if (v + 1 > *lo) *lo = v + 1; break;
        case 2: if (v < *hi) *hi = v; break;
        case 3: if (v == INT64_MIN) none = true; else if (v - 1 < *hi) *hi = v - 1; break;
        default:
            if (v > *lo) *lo = v;
            if (v < *hi) *hi = v;
        }
    }
    /* A record's id is at least its time's: records from `from` on have ids from its on. */
    if (c->from > INT64_MIN && c->from < (INT64_MAX >> PT_CALLS_SEQ_BITS) && c->from > 0 &&
        PT_CALLS_ID(c->from) > c->lo)
        c->lo = PT_CALLS_ID(c->from);
    if (none || c->lo > c->hi || c->from > c->to) {
        c->eof = true;
        return SQLITE_OK;
    }
    sqlite3_stmt *scan = c->scan[c->desc];
    sqlite3_reset(scan);
    sqlite3_bind_int64(scan, 1, c->desc ? c->hi : c->lo);
    return advance(c);
}

static int vt_next(sqlite3_vtab_cursor *cur) { return advance((calls_cur *)cur); }

static int vt_eof(sqlite3_vtab_cursor *cur) { return ((calls_cur *)cur)->eof; }

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    calls_cur *c = (calls_cur *)cur;
    if (i == PT_CALLS_COL_rid_hash) {
        const pt_calls_val *r = &c->v[PT_CALLS_COL_request_id];
        if (r->type == PT_CALLS_TEXT) sqlite3_result_int64(ctx, pt_calls_rid_hash(r->s, r->n));
        else sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    if (i < 0 || i >= PT_CALLS_NCOLS) return SQLITE_OK;
    const pt_calls_val *x = &c->v[i];
    if (x->type == PT_CALLS_INT) sqlite3_result_int64(ctx, x->i);
    else if (x->type == PT_CALLS_TEXT) sqlite3_result_text64(ctx, x->s, x->n, SQLITE_TRANSIENT, SQLITE_UTF8);
    else sqlite3_result_null(ctx);
    return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *id)
{
    *id = ((calls_cur *)cur)->v[PT_CALLS_COL_id].i;
    return SQLITE_OK;
}

static const sqlite3_module calls_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: `calls` is there on every connection that registers it */
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
};

int pt_calls_vtab_register(sqlite3 *db) { return sqlite3_create_module(db, "calls", &calls_module, NULL); }
