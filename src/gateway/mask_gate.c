/* mask_gate.c: data masking on the request path (mask_gate.h): which policies' rules
 * apply to a call, the request body, the answer as it flows, and the counts. */
#include "gateway/mask_gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/prom.h"
#include "gateway/limits_gate.h"
#include "gateway/metrics.h"
#include "mask/mask_config.h"

/* ---- counters, one per (policy, rule, direction), kept across reloads ---- */

typedef struct series {
    struct series *next;
    char *policy, *rule;
    int dir;              /* 0 request, 1 response */
    _Atomic uint64_t n;
} series;

static series *_Atomic all_series;
static pthread_mutex_t series_lock = PTHREAD_MUTEX_INITIALIZER;

static series *series_find(const char *policy, const char *rule, int dir)
{
    for (series *s = atomic_load_explicit(&all_series, memory_order_acquire); s; s = s->next)
        if (s->dir == dir && strcmp(s->policy, policy) == 0 && strcmp(s->rule, rule) == 0) return s;
    return NULL;
}

static series *series_get(const char *policy, const char *rule, int dir)
{
    series *s = series_find(policy, rule, dir);
    if (s) return s;
    pthread_mutex_lock(&series_lock);
    if (!(s = series_find(policy, rule, dir)) && (s = calloc(1, sizeof *s))) {
        s->policy = strdup(policy);
        s->rule = strdup(rule);
        s->dir = dir;
        if (s->policy && s->rule) {
            s->next = atomic_load(&all_series);
            atomic_store_explicit(&all_series, s, memory_order_release);
        } else {
            free(s->policy);
            free(s->rule);
            free(s);
            s = NULL;
        }
    }
    pthread_mutex_unlock(&series_lock);
    return s;
}

static void render(pt_prom *p, void *arg)
{
    series *head = atomic_load_explicit(&all_series, memory_order_acquire);
    if (!head) return;
    pt_prom_family(p, "portico_masked_values_total", "counter",
                   "Values masked, replaced or refused by a policy's masking rule, by direction.");
    for (series *s = head; s; s = s->next) {
        pt_prom_sample(p, "portico_masked_values_total", NULL);
        pt_prom_label(p, "policy", s->policy);
        pt_prom_label(p, "rule", s->rule);
        pt_prom_label(p, "direction", s->dir ? "response" : "request");
        pt_prom_value_u64(p, atomic_load_explicit(&s->n, memory_order_relaxed));
    }
}

void pt_mask_gate_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }

/* ---- one request ---- */

typedef enum out_mode { OUT_OFF, OUT_TEXT, OUT_SSE, OUT_DOC } out_mode;

/* The rules of every policy that applies, in one set (copies of the policies' rules,
 * which the configuration snapshot the request holds keeps alive), with the policy each
 * came from and its count. */
typedef struct side {
    pt_mask_rules rules;
    const pt_policy **from;
    uint32_t *counts;
    size_t cap;
} side;

typedef struct gate {
    pt_request *req;
    const pt_policy_table *table;
    pt_limit_subject subject;
    const pt_policy **applied;
    size_t napplied;
    side in, out;
    out_mode mode;
    pt_mask_stream text;
    pt_mask_sse sse;
    pt_buf doc;
    pt_buf counts_json;
    const pt_mask_bodies *bodies; /* the route's call_log bodies, NULL when not kept */
    pt_buf kept[2];               /* the first body_max + PT_DETECT_MAX bytes of each body */
    pt_buf logged[2];             /* ...redacted and cut, for the record */
} gate;

static bool applied_already(const gate *g, const pt_policy *p)
{
    for (size_t i = 0; i < g->napplied; i++)
        if (g->applied[i] == p) return true;
    return false;
}

static int side_add(gate *g, side *sd, const pt_policy *p, const pt_mask_rules *r)
{
    if (!r->n) return 0;
    size_t need = sd->rules.n + r->n;
    if (need > sd->cap) {
        size_t cap = need * 2;
        pt_mask_rule *v = pt_req_alloc(g->req, cap * sizeof *v);
        const pt_policy **from = pt_req_alloc(g->req, cap * sizeof *from);
        uint32_t *counts = pt_req_alloc(g->req, cap * sizeof *counts);
        if (!v || !from || !counts) return -1;
        if (sd->rules.n) {
            memcpy(v, sd->rules.v, sd->rules.n * sizeof *v);
            memcpy(from, sd->from, sd->rules.n * sizeof *from);
            memcpy(counts, sd->counts, sd->rules.n * sizeof *counts);
        }
        memset(counts + sd->rules.n, 0, (cap - sd->rules.n) * sizeof *counts);
        sd->rules.v = v;
        sd->from = from;
        sd->counts = counts;
        sd->cap = cap;
    }
    for (size_t i = 0; i < r->n; i++) {
        sd->rules.v[sd->rules.n] = r->v[i];
        sd->from[sd->rules.n++] = p;
    }
    sd->rules.has_path |= r->has_path;
    sd->rules.has_text |= r->has_text;
    sd->rules.has_regex |= r->has_regex;
    return 0;
}

/* Adds the masking policies of phase ph that apply to the subject. */
static int gather(gate *g, pt_limit_phase ph)
{
    for (size_t i = 0; g->table && i < g->table->n; i++) {
        const pt_policy *p = &g->table->v[i];
        if (!p->mask || applied_already(g, p) || !pt_limit_applies(p, ph, &g->subject)) continue;
        g->applied[g->napplied++] = p;
        if (side_add(g, &g->in, p, &p->mask->request) != 0 || side_add(g, &g->out, p, &p->mask->response) != 0)
            return -1;
    }
    return 0;
}

static void count_side(const side *sd, int dir)
{
    for (size_t i = 0; i < sd->rules.n; i++) {
        if (!sd->counts[i]) continue;
        series *s = series_get(sd->from[i]->name, sd->rules.v[i].name, dir);
        if (s) atomic_fetch_add_explicit(&s->n, sd->counts[i], memory_order_relaxed);
    }
}

/* The request's cleanup hook: after the call log record. */
static void gate_end(void *arg)
{
    gate *g = arg;
    count_side(&g->in, 0);
    count_side(&g->out, 1);
    if (g->mode == OUT_TEXT) pt_mask_stream_release(&g->text);
    if (g->mode == OUT_SSE) pt_mask_sse_release(&g->sse);
    pt_buf_release(&g->doc);
    pt_buf_release(&g->counts_json);
    for (int d = 0; d < 2; d++) {
        pt_buf_release(&g->kept[d]);
        pt_buf_release(&g->logged[d]);
    }
}

/* Whether a masking policy applies now, or may once the model is known (the table is
 * short: a few pointer reads per call when it holds policies, none when it does not). */
static bool any_mask_applies(const pt_policy_table *t, const pt_limit_subject *s, bool model_later)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].mask && (pt_limit_applies(&t->v[i], PT_LIMIT_PHASE_REQUEST, s) ||
                             (model_later && t->v[i].scope == PT_POLICY_MODEL)))
            return true;
    return false;
}

int pt_mask_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route)
{
    const pt_policy_table *t = cfg->policies && cfg->policies->has_mask ? cfg->policies : NULL;
    if (!t && !route->log_bodies) return 0;
    pt_limit_subject s = pt__limits_gate_subject(c, route);
    if (t && !any_mask_applies(t, &s, route->kind == PT_ROUTE_AI)) t = NULL;
    if (!t && !route->log_bodies) return 0;
    gate *g = pt_req_alloc(req, sizeof *g);
    const pt_policy **applied = g ? pt_req_alloc(req, (t ? t->n : 1) * sizeof *applied) : NULL;
    if (!applied || (memset(g, 0, sizeof *g), pt_req_cleanup_add(req, gate_end, g)) != 0) goto oom;
    g->req = req;
    g->table = t;
    g->bodies = route->log_bodies;
    g->subject = s;
    g->applied = applied;
    if (gather(g, PT_LIMIT_PHASE_REQUEST) != 0) goto oom;
    pt_conn_info(c)->mask = g;
    return 0;
oom:
    pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
    return -1;
}

void pt_mask_gate_model(const pt_req_info *info, const char *model)
{
    gate *g = info->mask;
    if (!g || !g->table) return;
    g->subject.model = model;
    gather(g, PT_LIMIT_PHASE_MODEL); /* out of memory: the request-phase rules still apply */
}

bool pt_mask_gate_wants_request(const pt_req_info *info)
{
    const gate *g = info->mask;
    return g && g->in.rules.n > 0;
}

bool pt_mask_gate_wants_response(const pt_req_info *info)
{
    const gate *g = info->mask;
    return g && g->out.rules.n > 0;
}

/* ---- the request body ---- */

int pt_mask_gate_request_body(const pt_req_info *info, const char *body, size_t n, pt_buf *out, char *msg, size_t cap)
{
    gate *g = info->mask;
    if (!g || !g->in.rules.n || !n) return 0;
    pt_mask_tally t = { .counts = g->in.counts };
    int rc = pt_mask_json(&g->in.rules, body, n, out, &t);
    if (rc == -1) { /* not JSON: the regex and detector rules on its text */
        pt_buf_reset(out);
        rc = pt_mask_text(&g->in.rules, body, n, out, &t) ? 1 : 0;
    }
    if (t.refused) {
        const pt_mask_rule *u = t.refused;
        const pt_policy *p = g->in.from[u - g->in.rules.v];
        snprintf(msg, cap, "the request was refused by masking rule '%s' of policy '%s': it carries a value "
                           "that rule does not allow upstream", u->name, p->name);
        return -1;
    }
    if (rc == -2) {
        snprintf(msg, cap, "the gateway is out of memory");
        return -1;
    }
    return rc == 1 ? 1 : 0;
}

int pt_mask_gate_for_record(const pt_req_info *info, json_t *doc)
{
    const gate *g = info->mask;
    if (!g || !g->in.rules.n) return 0;
    pt_mask_tally t = { 0 };
    pt_mask_json_tree(&g->in.rules, doc, true, &t);
    return t.refused ? -1 : 0;
}

/* ---- the answer ---- */

static bool has(pt_slice s, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= s.len; i++)
        if (strncasecmp(s.ptr + i, word, w) == 0) return true;
    return false;
}

bool pt_mask_gate_response_start(const pt_req_info *info, pt_slice ctype)
{
    gate *g = info->mask;
    if (!g || !g->out.rules.n) return false;
    if (has(ctype, "event-stream")) {
        g->mode = OUT_SSE;
        pt_mask_sse_init(&g->sse, &g->out.rules);
    } else if (has(ctype, "json")) {
        g->mode = OUT_DOC;
        pt_buf_init(&g->doc, 0);
    } else {
        g->mode = OUT_TEXT;
        pt_mask_stream_init(&g->text, &g->out.rules);
    }
    return true;
}

/* A document grown past PT_MASK_GATE_DOC_MAX goes on as text. */
static void doc_to_text(gate *g, pt_buf *out, pt_mask_tally *t)
{
    g->mode = OUT_TEXT;
    pt_mask_stream_init(&g->text, &g->out.rules);
    pt_mask_stream_feed(&g->text, g->doc.data, g->doc.len, false, out, t);
    pt_buf_release(&g->doc);
}

void pt_mask_gate_response_body(const pt_req_info *info, const char *data, size_t n, pt_buf *out)
{
    gate *g = info->mask;
    pt_mask_tally t = { .counts = g->out.counts };
    switch (g->mode) {
    case OUT_SSE: pt_mask_sse_feed(&g->sse, data, n, out, &t); break;
    case OUT_TEXT: pt_mask_stream_feed(&g->text, data, n, false, out, &t); break;
    case OUT_DOC:
        pt_buf_append(&g->doc, data, n);
        if (g->doc.len > PT_MASK_GATE_DOC_MAX) doc_to_text(g, out, &t);
        break;
    default: pt_buf_append(out, data, n); break;
    }
}

void pt_mask_gate_response_end(const pt_req_info *info, pt_buf *out)
{
    gate *g = info->mask;
    pt_mask_tally t = { .counts = g->out.counts };
    if (g->mode == OUT_SSE) {
        pt_mask_sse_end(&g->sse, out, &t);
    } else if (g->mode == OUT_TEXT) {
        pt_mask_stream_feed(&g->text, "", 0, true, out, &t);
    } else if (g->mode == OUT_DOC) {
        int rc = pt_mask_json(&g->out.rules, g->doc.data, g->doc.len, out, &t);
        if (rc == -1) pt_mask_text(&g->out.rules, g->doc.data ? g->doc.data : "", g->doc.len, out, &t);
        else if (rc == 0) pt_buf_append(out, g->doc.data ? g->doc.data : "", g->doc.len);
        pt_buf_reset(&g->doc);
    }
}

/* ---- the call log ---- */

void pt_mask_gate_keep(const pt_req_info *info, int dir, const char *data, size_t n)
{
    gate *g = info->mask;
    if (!g || !g->bodies || !n) return;
    pt_buf *k = &g->kept[dir != 0];
    size_t room = g->bodies->body_max + PT_DETECT_MAX; /* a value cut at body_max is still seen whole */
    if (k->len < room) pt_buf_append(k, data, n < room - k->len ? n : room - k->len);
}

/* The redacted text of one kept body, cut at max on a character boundary. */
static pt_slice redact(const pt_mask_bodies *b, const pt_buf *kept, pt_buf *out)
{
    if (!kept->len) return PT_SLICE_NULL;
    pt_mask_tally t = { 0 };
    pt_buf_reset(out);
    pt_mask_text(&b->redact, kept->data, kept->len, out, &t);
    size_t n = out->len < b->body_max ? out->len : b->body_max;
    while (n > 0 && n < out->len && ((unsigned char)out->data[n] & 0xC0) == 0x80) n--; /* not mid-character */
    json_t *text = json_stringn(out->data, n); /* NULL when the bytes are not UTF-8 text */
    if (!text) {
        pt_buf_reset(out);
        pt_buf_printf(out, "[body of %zu bytes or more, not UTF-8 text]", kept->len);
        n = out->len;
    }
    json_decref(text);
    return (pt_slice){ out->data, n };
}

void pt_mask_gate_bodies(const pt_req_info *info, pt_slice *request, pt_slice *response)
{
    gate *g = info->mask;
    *request = *response = PT_SLICE_NULL;
    if (!g || !g->bodies) return;
    *request = redact(g->bodies, &g->kept[0], &g->logged[0]);
    *response = redact(g->bodies, &g->kept[1], &g->logged[1]);
}

/* Adds one side's counts to the object being written, merged by rule name. */
static void counts_side(const side *sd, json_t *o)
{
    for (size_t i = 0; i < sd->rules.n; i++) {
        if (!sd->counts[i]) continue;
        const char *name = sd->rules.v[i].name;
        json_int_t have = json_integer_value(json_object_get(o, name));
        json_object_set_new(o, name, json_integer(have + sd->counts[i]));
    }
}

const char *pt_mask_gate_counts_json(const pt_req_info *info)
{
    gate *g = info->mask;
    if (!g) return NULL;
    json_t *o = json_object();
    if (!o) return NULL;
    counts_side(&g->in, o);
    counts_side(&g->out, o);
    char *d = json_object_size(o) ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!d) return NULL;
    pt_buf_reset(&g->counts_json);
    pt_buf_append_str(&g->counts_json, d);
    free(d);
    return g->counts_json.data;
}
