/* cluster.c: the call log's and analytics' questions put to every node of a cluster (see
 * cluster.h). */
#include "admin/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "core/buf.h"
#include "http/post.h"

#define ANSWER_MAX ((size_t)256 << 20) /* a share larger than this is refused, not read */

bool pt__node_alive(const json_t *node, int64_t now)
{
    int64_t seen = json_integer_value(json_object_get(node, "last_seen"));
    int64_t beat_s = (json_integer_value(json_object_get(node, "beat_ms")) + 999) / 1000;
    const char *health = json_string_value(json_object_get(node, "health"));
    bool stopped = health && strcmp(health, "stopped") == 0;
    return !stopped && now - seen <= 3 * beat_s + 1;
}

void pt__cluster_tag(const char *id, char out[9])
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 16777619u;
    snprintf(out, 9, "%08x", h);
}

static void share_of(pt__share *s, const json_t *row, const char *self, int64_t now)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    const char *addr = json_string_value(json_object_get(row, "admin_address"));
    snprintf(s->id, sizeof s->id, "%s", id ? id : "");
    snprintf(s->admin_address, sizeof s->admin_address, "%s", addr ? addr : "");
    s->self = strcmp(s->id, self) == 0;
    s->ask = true;
    if (s->self) return;
    const char *health = json_string_value(json_object_get(row, "health"));
    if (health && strcmp(health, "stopped") == 0) snprintf(s->why, sizeof s->why, "the node stopped");
    else if (!pt__node_alive(row, now))
        snprintf(s->why, sizeof s->why, "no heartbeat for %lld s",
                 (long long)(now - json_integer_value(json_object_get(row, "last_seen"))));
    else if (!s->admin_address[0]) snprintf(s->why, sizeof s->why, "its admin API is off");
}

int pt__cluster_shares(pt_admin_api *api, pt__share **out, pt_admin_err *err)
{
    *out = NULL;
    const char *self = api->node_id ? api->node_id : "";
    /* a SQLite store is one node's: its registry may still hold the rows of ids it had before */
    if (strcmp(pt_store_backend_name(api->st), "postgres") != 0) return 0;
    json_t *rows = NULL;
    if (!self[0] || pt_store_nodes(api->st, &rows) != 0) {
        json_decref(rows);
        if (!self[0]) return 0;
        return pt_admin_fail(err, 503, "store_unavailable", "", "the node registry cannot be read: %s",
                             pt_store_last_error(api->st)->message);
    }
    size_t n = json_array_size(rows), i, k = 0;
    bool self_listed = false;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *id = json_string_value(json_object_get(row, "id"));
        self_listed |= id && strcmp(id, self) == 0;
    }
    size_t total = n + !self_listed;
    if (total <= 1) {
        json_decref(rows);
        return 0;
    }
    pt__share *s = calloc(total, sizeof *s);
    if (!s) {
        json_decref(rows);
        return pt_admin_fail(err, 500, "out_of_memory", "", "out of memory");
    }
    int64_t now = (int64_t)time(NULL);
    json_array_foreach(rows, i, row) share_of(&s[k++], row, self, now);
    if (!self_listed) { /* a node whose first heartbeat is not written yet still reads its own */
        snprintf(s[k].id, sizeof s[k].id, "%s", self);
        s[k].self = s[k].ask = true;
    }
    json_decref(rows);
    *out = s;
    return (int)total;
}

static bool dropped(const char *name, size_t n, const char *const *drop)
{
    for (int i = 0; drop[i]; i++)
        if (strlen(drop[i]) == n && memcmp(drop[i], name, n) == 0) return true;
    return false;
}

void pt__cluster_query(const pt_admin_req *rq, const char *const *drop, const char *extra, char *out, size_t cap)
{
    pt_buf b = PT_BUF_INIT;
    const char *p = rq->query, *end = rq->query + rq->query_len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (e > p && !dropped(p, (size_t)((eq ? eq : e) - p), drop)) {
            pt_buf_append(&b, p, (size_t)(e - p));
            pt_buf_append(&b, "&", 1);
        }
        p = amp ? amp + 1 : end;
    }
    pt_buf_append_str(&b, extra);
    snprintf(out, cap, "%.*s", b.data ? (int)b.len : 0, b.data ? b.data : "");
    pt_buf_release(&b);
}

/* ---- asking ---------------------------------------------------------------------------- */

typedef struct asking {
    pt__share *s;
    const char *path;
    char headers[8192];
    uv_thread_t thread;
    bool started;
} asking;

/* A node's answer: its JSON body on 200, else why. */
static void take_answer(pt__share *s, int status, const pt_buf *answer)
{
    json_error_t je;
    json_t *j = status > 0 && answer->data ? json_loadb(answer->data, answer->len, 0, &je) : NULL;
    if (status == 200 && json_is_object(j)) {
        s->body = j;
        return;
    }
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (status > 0) snprintf(s->why, sizeof s->why, "answered %d%s%s", status, msg ? ": " : "", msg ? msg : "");
    json_decref(j);
}

static void ask_one(void *arg)
{
    asking *a = arg;
    pt__share *s = a->s;
    char url[2048];
    snprintf(url, sizeof url, "http://%s/admin/v1/%s?%s", s->admin_address, a->path, s->query);
    pt_post_url u;
    if (pt_post_url_parse(url, &u) != 0) {
        snprintf(s->why, sizeof s->why, "its admin address %s is not one to call", s->admin_address);
        return;
    }
    pt_buf answer;
    pt_buf_init(&answer, ANSWER_MAX);
    char why[256] = "";
    int status = pt_http_get_read(&u, a->headers, PT_CLUSTER_ASK_MS, &answer, why, sizeof why);
    if (status < 0) snprintf(s->why, sizeof s->why, "did not answer at %s: %s", s->admin_address, why);
    else take_answer(s, status, &answer);
    pt_buf_release(&answer);
}

/* The caller's credentials, as header lines for the other nodes. */
static void credentials(const pt_admin_req *rq, char *out, size_t cap)
{
    out[0] = '\0';
    if (rq->authorization && rq->authorization_len < cap / 2)
        snprintf(out, cap, "Authorization: %.*s\r\n", (int)rq->authorization_len, rq->authorization);
    size_t used = strlen(out);
    if (rq->cookie && rq->cookie_len < cap - used - 16)
        snprintf(out + used, cap - used, "Cookie: %.*s\r\n", (int)rq->cookie_len, rq->cookie);
}

static void ask_self(pt_admin_api *api, const pt_admin_req *rq, const char *visible_team, pt__share_fn fn, pt__share *s)
{
    pt_admin_req mine = *rq;
    mine.query = s->query;
    mine.query_len = strlen(s->query);
    pt_admin_resp resp = { 0 };
    pt_admin_err e = { 0 };
    fn(api, &mine, visible_team, &resp, &e);
    if (!e.status && resp.status == 200 && json_is_object(resp.body)) {
        s->body = resp.body;
        resp.body = NULL;
    } else {
        snprintf(s->why, sizeof s->why, "answered %d: %s", e.status ? e.status : resp.status, e.message);
    }
    json_decref(resp.body);
    free(resp.raw);
}

void pt__cluster_ask(pt_admin_api *api, const pt_admin_req *rq, const char *path, const char *visible_team,
                     pt__share_fn self_fn, pt__share *s, size_t n)
{
    asking *a = calloc(n, sizeof *a);
    for (size_t i = 0; a && i < n; i++) {
        if (!s[i].ask || s[i].self || s[i].why[0]) continue;
        a[i].s = &s[i];
        a[i].path = path;
        credentials(rq, a[i].headers, sizeof a[i].headers);
        a[i].started = uv_thread_create(&a[i].thread, ask_one, &a[i]) == 0;
        if (!a[i].started) snprintf(s[i].why, sizeof s[i].why, "no thread to ask it");
    }
    for (size_t i = 0; i < n; i++) /* this node's share is read while the others answer */
        if (s[i].ask && s[i].self) ask_self(api, rq, visible_team, self_fn, &s[i]);
    for (size_t i = 0; a && i < n; i++)
        if (a[i].started) uv_thread_join(&a[i].thread);
    if (!a)
        for (size_t i = 0; i < n; i++)
            if (s[i].ask && !s[i].self) snprintf(s[i].why, sizeof s[i].why, "out of memory");
    free(a);
}

json_t *pt__cluster_report(const pt__share *s, size_t n, char *missing, size_t cap)
{
    json_t *list = json_array();
    missing[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        bool answered = !s[i].ask || s[i].body;
        json_t *o = json_pack("{s:s,s:b}", "id", s[i].id, "answered", answered);
        if (!answered) {
            json_object_set_new(o, "error", json_string(s[i].why));
            size_t used = strlen(missing);
            snprintf(missing + used, cap - used, "%s%s", used ? "," : "", s[i].id);
            for (char *p = missing + used; *p; p++) /* a header value: no control bytes from the registry */
                if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
        }
        json_array_append_new(list, o);
    }
    return list;
}

void pt__cluster_free(pt__share *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) json_decref(s[i].body);
    free(s);
}
