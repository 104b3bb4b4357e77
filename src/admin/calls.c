/* calls.c: GET /admin/v1/calls (see calls.h and docs/ADMIN.md, "Call log"). */
#include "admin/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "admin/cluster.h"
#include "core/buf.h"
#include "core/str.h"
#include "core/timefmt.h"
#include "logs/calls_db.h"

#define EXPORT_MAX_BYTES ((size_t)128 << 20) /* an export stops short of this, with a cursor */

static const char *const params[] = { "from", "to", "team", "consumer", "service", "api", "model", "status",
                                      "request_id", "cursor", "limit", "format", "trace_id", "operation", "scope", NULL };
#define NPARAMS 15

typedef enum { FMT_JSON, FMT_NDJSON, FMT_CSV } out_format;

/* cluster: every node's calls (the default); node: this node's; part: this node's share of
 * a cluster answer, asked by another node (JSON at export sizes, a local cursor). */
typedef enum { SCOPE_CLUSTER, SCOPE_NODE, SCOPE_PART } scope;
static const char *const scope_names[] = { "cluster", "node", "part" };

/* What one request asked for; the strings are decoded copies. */
typedef struct query {
    pt_calls_filter f;
    out_format fmt;
    scope scope;
    const char *cluster_cursor; /* a cursor of a cluster answer, read when several nodes answer */
    char v[NPARAMS][PT_ADMIN_VALUE_MAX]; /* decoded values, in params order */
    bool has[NPARAMS];
} query;

/* ---- reading the query string ------------------------------------------------------------ */

static int param_index(const char *const *names, const char *name, size_t n)
{
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) return i;
    return -1;
}

int pt__admin_query_params(const pt_admin_req *rq, const char *const *names, char (*v)[PT_ADMIN_VALUE_MAX], bool *has,
                           pt_admin_err *err)
{
    const char *p = rq->query, *end = rq->query + rq->query_len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        size_t nlen = (size_t)((eq ? eq : e) - p);
        if (nlen) {
            int i = param_index(names, p, nlen);
            if (i < 0) {
                char known[256] = "";
                for (int k = 0; names[k]; k++)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", names[k]);
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)(nlen > 63 ? 63 : nlen), p);
                return pt_admin_fail(err, 400, "invalid_value", name, "unknown query parameter '%s' (known: %s)", name,
                                     known);
            }
            if (has[i]) return pt_admin_fail(err, 400, "invalid_value", names[i], "%s is given twice", names[i]);
            const char *val = eq ? eq + 1 : e;
            if (!pt_str_percent_decode(val, (size_t)(e - val), v[i], PT_ADMIN_VALUE_MAX, true))
                return pt_admin_fail(err, 400, "invalid_value", names[i], "%s is badly percent-encoded or longer than %d bytes",
                                     names[i], PT_ADMIN_VALUE_MAX - 1);
            has[i] = true;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

bool pt__admin_parse_time(const char *s, int64_t *ms) { return pt_time_parse(s, ms); }

static int status_filter(const char *s, pt_calls_filter *f, pt_admin_err *err)
{
    if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x') {
        f->status_lo = (s[0] - '0') * 100;
        f->status_hi = f->status_lo + 99;
        return 0;
    }
    if (strlen(s) == 3 && pt_str_digits(s, 3) && pt_str_num(s, 3) >= 100) {
        f->status_lo = f->status_hi = pt_str_num(s, 3);
        return 0;
    }
    return pt_admin_fail(err, 400, "invalid_value", "status", "status must be 1xx to 5xx or a code such as 404");
}

static int limit_of(const query *q, unsigned *limit, pt_admin_err *err)
{
    bool export = q->fmt != FMT_JSON || q->scope == SCOPE_PART;
    unsigned max = export ? PT_CALLS_EXPORT_MAX : PT_CALLS_PAGE_MAX;
    *limit = export ? PT_CALLS_EXPORT_DEFAULT : PT_CALLS_PAGE_DEFAULT;
    if (!q->has[10]) return 0;
    const char *s = q->v[10];
    size_t n = strlen(s);
    long v = n && n <= 6 && pt_str_digits(s, (int)n) ? strtol(s, NULL, 10) : 0;
    if (v < 1 || (unsigned long)v > max)
        return pt_admin_fail(err, 400, "invalid_value", "limit", "limit must be 1 to %u%s", max,
                             export ? " for an export" : "");
    *limit = (unsigned)v;
    return 0;
}

/* Fills q->f from the parameters read. */
static int build_filter(query *q, pt_admin_err *err)
{
    pt_calls_filter *f = &q->f;
    const char *fmt = q->has[11] ? q->v[11] : "json";
    if (strcmp(fmt, "json") == 0) q->fmt = FMT_JSON;
    else if (strcmp(fmt, "ndjson") == 0) q->fmt = FMT_NDJSON;
    else if (strcmp(fmt, "csv") == 0) q->fmt = FMT_CSV;
    else return pt_admin_fail(err, 400, "invalid_value", "format", "format must be json, ndjson or csv");
    int sc = 0;
    while (q->has[14] && sc < 3 && strcmp(q->v[14], scope_names[sc]) != 0) sc++;
    if (sc == 3) return pt_admin_fail(err, 400, "invalid_value", "scope", "scope must be cluster or node");
    q->scope = (scope)sc;
    if (q->scope == SCOPE_PART && q->fmt != FMT_JSON)
        return pt_admin_fail(err, 400, "invalid_value", "format", "a node's share of a cluster answer is JSON");
    for (int i = 0; i < 2; i++) {
        int64_t *t = i == 0 ? &f->from_ms : &f->to_ms;
        if (q->has[i] && (!pt__admin_parse_time(q->v[i], t) || *t <= 0))
            return pt_admin_fail(err, 400, "invalid_value", params[i],
                                 "%s must be an RFC 3339 time (2026-12-03T10:00:00Z) or Unix milliseconds", params[i]);
    }
    if (f->from_ms && f->to_ms && f->from_ms >= f->to_ms)
        return pt_admin_fail(err, 400, "invalid_value", "to", "to must be later than from");
    const char **names[] = { &f->team, &f->consumer, &f->service, &f->api, &f->model };
    for (int i = 0; i < 5; i++)
        if (q->has[2 + i]) *names[i] = q->v[2 + i];
    if (q->has[8]) f->request_id = q->v[8];
    if (q->has[12]) f->trace_id = q->v[12];
    if (q->has[13]) f->operation = q->v[13];
    if (q->has[7] && status_filter(q->v[7], f, err)) return -1;
    if (q->has[9] && q->scope == SCOPE_CLUSTER && q->v[9][0] == 'c') {
        q->cluster_cursor = q->v[9];
    } else if (q->has[9]) {
        f->has_cursor = pt_calls_cursor_read(q->v[9], &f->cursor_time_ms, &f->cursor_id);
        if (!f->has_cursor) return pt_admin_fail(err, 400, "invalid_value", "cursor", "cursor is not one this API gave");
    }
    return limit_of(q, &f->limit, err);
}

/* ---- writing rows ---------------------------------------------------------------------- */

typedef struct out {
    out_format fmt;
    json_t *items;               /* FMT_JSON */
    pt_buf text;                 /* exports */
    unsigned rows;
    int64_t last_time, last_id;
    bool full;                   /* the export reached its byte cap */
} out;

void pt__admin_iso_time(int64_t ms, char *buf, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The columns that hold JSON text (the masking counts, a tool call's arguments). */
static bool stored_as_json(const char *column)
{
    return strcmp(column, "masked") == 0 || strcmp(column, "arguments_shape") == 0 || strcmp(column, "arguments") == 0;
}

static json_t *row_json(const pt_calls_row *row)
{
    char t[80];
    pt__admin_iso_time(row->time_ms, t, sizeof t);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(t));
    for (int i = 0; i < PT_CALLS_NCOLS; i++) {
        sqlite3_stmt *st = row->st;
        json_t *v;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: v = json_null(); break;
        case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
        default:
            v = json_stringn_nocheck((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
            if (stored_as_json(pt_calls_columns[i])) { /* shown as the JSON value it is */
                json_t *o2 = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
                if (o2) json_decref(v), v = o2;
            }
        }
        json_object_set_new(o, pt_calls_columns[i], v);
    }
    return o;
}

/* A CSV field: quoted when it holds a comma, quote or line break; a text starting with
 * = + - @ gets a leading ' so a spreadsheet does not run it as a formula. */
static void csv_text(pt_buf *b, const char *s, size_t n)
{
    pt_buf_append(b, "\"", 1);
    if (n && strchr("=+-@", s[0])) pt_buf_append(b, "'", 1);
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '"') pt_buf_append(b, "\"", 1);
        pt_buf_append(b, s + k, 1);
    }
    pt_buf_append(b, "\"", 1);
}

static void csv_field(pt_buf *b, sqlite3_stmt *st, int i)
{
    int type = sqlite3_column_type(st, i);
    const char *s = (const char *)sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (type == SQLITE_INTEGER) pt_buf_append(b, s, n);
    else if (type != SQLITE_NULL) csv_text(b, s, n);
}

/* The same field from a row as JSON (a node's share of a cluster answer). */
static void csv_json_field(pt_buf *b, const json_t *v)
{
    if (json_is_integer(v)) {
        pt_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_string(v)) {
        csv_text(b, json_string_value(v), json_string_length(v));
    } else if (v && !json_is_null(v)) {
        char *s = json_dumps(v, JSON_COMPACT);
        if (s) csv_text(b, s, strlen(s));
        free(s);
    }
}

/* The header line; a cluster export names each row's node last. */
static void csv_header(pt_buf *b, bool cluster)
{
    pt_buf_append_str(b, "time");
    for (int i = 0; i < PT_CALLS_NCOLS; i++) {
        pt_buf_append(b, ",", 1);
        pt_buf_append_str(b, pt_calls_columns[i]);
    }
    if (cluster) pt_buf_append_str(b, ",node");
    pt_buf_append(b, "\r\n", 2);
}

/* One export line for row into b. */
static void export_line(out_format fmt, const pt_calls_row *row, pt_buf *b)
{
    if (fmt == FMT_NDJSON) {
        json_t *j = row_json(row);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (s) pt_buf_append_str(b, s);
        pt_buf_append(b, "\n", 1);
        free(s);
        return;
    }
    char t[80];
    pt__admin_iso_time(row->time_ms, t, sizeof t);
    pt_buf_append_str(b, t);
    for (int i = 0; i < PT_CALLS_NCOLS; i++) {
        pt_buf_append(b, ",", 1);
        csv_field(b, row->st, i);
    }
    pt_buf_append(b, "\r\n", 2);
}

/* Adds an export line under the byte cap; false (o->full) when it does not fit: that row is
 * left for the next export (the cursor). */
static bool put_line(out *o, pt_buf *line)
{
    int rc = line->data ? pt_buf_append(&o->text, line->data, line->len) : -1;
    pt_buf_release(line);
    if (rc != 0) o->full = true;
    return rc == 0;
}

static int on_row(void *arg, const pt_calls_row *row)
{
    out *o = arg;
    if (o->fmt == FMT_JSON) {
        json_array_append_new(o->items, row_json(row));
    } else {
        pt_buf line = PT_BUF_INIT;
        export_line(o->fmt, row, &line);
        if (!put_line(o, &line)) return 1;
    }
    o->rows++;
    o->last_time = row->time_ms;
    o->last_id = row->id;
    return 0;
}

/* ---- the request ----------------------------------------------------------------------- */

int pt__admin_calls_reader(pt_admin_api *api, pt_admin_err *err)
{
    if (api->calls) return 0;
    if (!api->calls_path) return pt_admin_fail(err, 404, "not_found", "", "the call log is off (call_log.enabled: false)");
    char why[256];
    sqlite3 *db;
    if (pt_calls_db_open(api->calls_path, true, &db, why, sizeof why) != 0)
        return pt_admin_fail(err, 503, "unavailable", "", "the call log cannot be read yet: %s", why);
    api->calls = db;
    return 0;
}

/* The answer: the page, or the export with its cursor in X-Next-Cursor; next is "" at the end. */
static void answer(out *o, const query *q, const char *next, pt_admin_resp *resp)
{
    resp->status = 200;
    if (q->fmt == FMT_JSON) {
        resp->body = json_pack("{s:o}", "items", o->items);
        json_object_set_new(resp->body, "next_cursor", next[0] ? json_string(next) : json_null());
        o->items = NULL;
        return;
    }
    snprintf(resp->next_cursor, sizeof resp->next_cursor, "%s", next);
    resp->content_type = q->fmt == FMT_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson";
    resp->raw_len = o->text.len;
    resp->raw = o->text.data ? o->text.data : strdup("");
    o->text = (pt_buf)PT_BUF_INIT;
}

static void finish(out *o, const query *q, pt_admin_resp *resp)
{
    char next[40] = "";
    /* A full page (or a cut export) may have more behind it: the cursor leads on. */
    if (o->rows && (o->rows == q->f.limit || o->full)) pt_calls_cursor_write(o->last_time, o->last_id, next, sizeof next);
    answer(o, q, next, resp);
}

/* ---- the whole cluster ------------------------------------------------------------------
 * Every node answers its newest rows after its own position (scope=part); the rows are
 * merged newest first by id (ids grow with time on every node; equal ids in registry order)
 * and the page takes the first limit. The cursor holds each node's position: "c" then, per
 * node, its tag (cluster.h), then the id of its last row taken or "-" once it has no more,
 * joined by ".". A node not named starts from its newest row. */

typedef enum { POS_NEWEST, POS_AT, POS_DONE } pos_kind;
typedef struct pos {
    pos_kind kind;
    int64_t id;
    size_t next;  /* the next row of its share to merge */
} pos;

static int cluster_cursor_read(const char *c, const pt__share *s, size_t n, pos *p, pt_admin_err *err)
{
    const char *e = c + 1;
    while (*e) {
        char tag[9], idhex[17];
        size_t len = strcspn(e, ".");
        bool done = len == 9 && e[8] == '-';
        int64_t id = 0, t = 0;
        snprintf(tag, sizeof tag, "%.8s", e);
        snprintf(idhex, sizeof idhex, "%.16s", len == 24 ? e + 8 : "");
        char local[40];
        snprintf(local, sizeof local, "%016x%s", 0u, idhex);
        if (!done && !(len == 24 && pt_calls_cursor_read(local, &t, &id)))
            return pt_admin_fail(err, 400, "invalid_value", "cursor", "cursor is not one this API gave");
        for (size_t i = 0; i < n; i++) {
            char mine[9];
            pt__cluster_tag(s[i].id, mine);
            if (strcmp(mine, tag) == 0) p[i] = (pos){ .kind = done ? POS_DONE : POS_AT, .id = id };
        }
        e += len;
        if (*e == '.') e++;
    }
    return 0;
}

static void cluster_cursor_write(const pt__share *s, const pos *p, size_t n, char *text, size_t cap)
{
    size_t used = snprintf(text, cap, "c");
    for (size_t i = 0; i < n && used < cap; i++) {
        if (p[i].kind == POS_NEWEST) continue;
        char tag[9];
        pt__cluster_tag(s[i].id, tag);
        if (p[i].kind == POS_DONE) used += snprintf(text + used, cap - used, "%s%s-", used > 1 ? "." : "", tag);
        else used += snprintf(text + used, cap - used, "%s%s%016llx", used > 1 ? "." : "", tag, (unsigned long long)p[i].id);
    }
    if (used >= cap) text[0] = '\0'; /* too many nodes for one cursor: the last page */
}

/* The share whose next row is the newest, or -1 when every share is used up. */
static int newest(const pt__share *s, const pos *p, size_t n)
{
    int best = -1;
    int64_t best_id = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(json_object_get(s[i].body, "items"), p[i].next);
        int64_t id = json_integer_value(json_object_get(row, "id"));
        if (row && (best < 0 || id > best_id)) best = (int)i, best_id = id;
    }
    return best;
}

static bool take_row(out *o, json_t *row, const char *node)
{
    json_object_set_new(row, "node", json_string(node));
    if (o->fmt == FMT_JSON) {
        json_array_append(o->items, row);
        return true;
    }
    pt_buf line = PT_BUF_INIT;
    if (o->fmt == FMT_NDJSON) {
        char *text = json_dumps(row, JSON_COMPACT);
        if (text) pt_buf_append_str(&line, text);
        free(text);
    } else {
        pt_buf_append_str(&line, json_string_value(json_object_get(row, "time")) ?: "");
        for (int i = 0; i < PT_CALLS_NCOLS; i++) {
            pt_buf_append(&line, ",", 1);
            csv_json_field(&line, json_object_get(row, pt_calls_columns[i]));
        }
        pt_buf_append(&line, ",", 1);
        csv_json_field(&line, json_object_get(row, "node"));
    }
    pt_buf_append(&line, o->fmt == FMT_CSV ? "\r\n" : "\n", o->fmt == FMT_CSV ? 2 : 1);
    return put_line(o, &line);
}

/* Merges the shares into o, moving each node's position past the rows taken. */
static void merge(out *o, const query *q, pt__share *s, pos *p, size_t n)
{
    int i;
    while (o->rows < q->f.limit && (i = newest(s, p, n)) >= 0) {
        json_t *row = json_array_get(json_object_get(s[i].body, "items"), p[i].next);
        if (!take_row(o, row, s[i].id)) break;
        o->rows++;
        p[i].next++;
        p[i].kind = POS_AT;
        p[i].id = json_integer_value(json_object_get(row, "id"));
    }
    for (size_t k = 0; k < n; k++) { /* a share shorter than the page, all taken: that node is done */
        size_t got = json_array_size(json_object_get(s[k].body, "items"));
        if (s[k].body && p[k].next == got && got < q->f.limit) p[k].kind = POS_DONE;
    }
}

static void cluster_calls(pt_admin_api *api, const pt_admin_req *rq, query *q, const char *visible_team, pt__share *s,
                          size_t n, out *o, pt_admin_resp *resp, pt_admin_err *err)
{
    pos *p = calloc(n, sizeof *p);
    if (!p) return (void)pt_admin_fail(err, 500, "out_of_memory", "", "out of memory");
    if (q->cluster_cursor && cluster_cursor_read(q->cluster_cursor, s, n, p, err)) goto done;
    static const char *const drop[] = { "scope", "cursor", "format", "limit", NULL };
    for (size_t i = 0; i < n; i++) {
        char extra[128];
        int len = snprintf(extra, sizeof extra, "scope=part&format=json&limit=%u", q->f.limit);
        if (p[i].kind == POS_AT) {
            snprintf(extra + len, sizeof extra - (size_t)len, "&cursor=");
            pt_calls_cursor_write(0, p[i].id, extra + len + 8, sizeof extra - (size_t)len - 8);
        }
        s[i].ask = p[i].kind != POS_DONE;
        pt__cluster_query(rq, drop, extra, s[i].query, sizeof s[i].query);
    }
    pt__cluster_ask(api, rq, "calls", visible_team, pt__admin_calls, s, n);
    merge(o, q, s, p, n);
    char next[PT_ADMIN_CURSOR_MAX] = "";
    bool more = false;
    for (size_t i = 0; i < n; i++) more |= p[i].kind != POS_DONE;
    if (o->rows && more) cluster_cursor_write(s, p, n, next, sizeof next);
    json_t *nodes = pt__cluster_report(s, n, resp->missing_nodes, sizeof resp->missing_nodes);
    answer(o, q, next, resp);
    if (resp->body) {
        json_object_set_new(resp->body, "nodes", nodes);
        json_object_set_new(resp->body, "partial", json_boolean(resp->missing_nodes[0] != '\0'));
    } else {
        json_decref(nodes);
    }
done:
    free(p);
}

void pt__admin_calls(pt_admin_api *api, const pt_admin_req *rq, const char *visible_team, pt_admin_resp *resp,
                     pt_admin_err *err)
{
    query *q = calloc(1, sizeof *q);
    if (!q) {
        pt_admin_fail(err, 500, "out_of_memory", "", "out of memory");
        return;
    }
    out o = { .text = PT_BUF_INIT };
    pt__share *shares = NULL;
    int n = 0;
    if (pt__admin_query_params(rq, params, q->v, q->has, err) || build_filter(q, err)) goto done;
    if (q->scope == SCOPE_CLUSTER && (n = pt__cluster_shares(api, &shares, err)) < 0) goto done;
    if (n == 0 && q->cluster_cursor) {
        pt_admin_fail(err, 400, "invalid_value", "cursor", "cursor is not one this API gave");
        goto done;
    }
    if (n == 0 && pt__admin_calls_reader(api, err)) goto done;
    q->f.visible_team = visible_team;
    o.fmt = q->fmt;
    if (q->fmt == FMT_JSON) o.items = json_array();
    pt_buf_init(&o.text, EXPORT_MAX_BYTES);
    if (q->fmt == FMT_CSV) csv_header(&o.text, n > 0);
    if (n > 0) {
        cluster_calls(api, rq, q, visible_team, shares, (size_t)n, &o, resp, err);
        goto done;
    }
    char why[256];
    if (pt_calls_query(api->calls, &q->f, on_row, &o, why, sizeof why) < 0) {
        pt_admin_fail(err, 503, "unavailable", "", "%s", why);
        goto done;
    }
    finish(&o, q, resp);
done:
    pt__cluster_free(shares, n > 0 ? (size_t)n : 0);
    json_decref(o.items);
    pt_buf_release(&o.text);
    free(q);
}
