/* health.c: periodic HTTP probes of service targets (see health.h).
 *
 * A 100 ms tick walks the current configuration; each target has a due time and at
 * most one probe in flight. Probes reuse the worker's upstream client, so a target's
 * TLS settings apply to its probes too. A probe passes when the status is within the
 * configured range before the probe timeout. */
#include "gateway/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "gateway/proxy.h"

#define TICK_MS 100

typedef struct probe_slot {
    pt_target_state *state;
    uint64_t due_ms;
    struct probe *inflight;
} probe_slot;

typedef struct probe {
    pt_health *h;
    probe_slot *slot;
    pt_config *cfg;        /* keeps svc and target alive */
    pt_service *svc;
    pt_target *target;
    pt_exchange *x;
    int status;
} probe;

struct pt_health {
    uv_timer_t timer;
    pt_client *client;
    probe_slot *slots;
    size_t nslots, cap;
    bool stopping;
};

static probe_slot *slot_for(pt_health *h, pt_target_state *st)
{
    for (size_t i = 0; i < h->nslots; i++)
        if (h->slots[i].state == st) return &h->slots[i];
    if (h->nslots == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        probe_slot *s = realloc(h->slots, ncap * sizeof *s);
        if (!s) return NULL;
        /* in-flight probes point at slots: re-point them after the move */
        for (size_t i = 0; i < h->nslots; i++)
            if (s[i].inflight) s[i].inflight->slot = &s[i];
        h->slots = s;
        h->cap = ncap;
    }
    probe_slot *s = &h->slots[h->nslots++];
    memset(s, 0, sizeof *s);
    s->state = st;
    return s;
}

static void probe_end(probe *pr, bool ok, const char *why)
{
    if (!ok)
        pt_log_debug("health check of %s (service '%s') failed: %s", pr->target->url, pr->svc->name, why);
    pt_health_record(pr->svc, pr->target, ok);
    if (pr->slot) pr->slot->inflight = NULL;
    pt_config_release(pr->cfg);
    free(pr);
}

static void p_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    probe *pr = u;
    pr->status = status;
}

static void p_body(void *u, const char *data, size_t n) {}

static void p_done(void *u)
{
    probe *pr = u;
    const pt_active_health *hc = &pr->svc->health;
    bool ok = pr->status >= hc->expect_min && pr->status <= hc->expect_max;
    char why[64];
    snprintf(why, sizeof why, "status %d", pr->status);
    probe_end(pr, ok, why);
}

static void p_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    probe_end(u, false, detail);
}

static const pt_exchange_cb probe_cb = { .on_head = p_head, .on_body = p_body, .on_done = p_done, .on_error = p_error };

static void probe_start(pt_health *h, probe_slot *slot, pt_config *cfg, pt_service *svc, pt_target *t)
{
    probe *pr = calloc(1, sizeof *pr);
    if (!pr) return;
    pr->h = h;
    pr->slot = slot;
    pr->cfg = pt_config_acquire(cfg);
    pr->svc = svc;
    pr->target = t;
    slot->inflight = pr;
    pt_buf head = PT_BUF_INIT;
    pt_buf_printf(&head, "GET %s HTTP/1.1\r\n", svc->health.path);
    pt_http_append_host(&head, t->host, t->port, t->tls);
    pt_buf_append_str(&head, "User-Agent: portico-health\r\n\r\n");
    pt_endpoint ep;
    pt_proxy_endpoint(svc, t, &ep);
    pt_exchange_opts o = {
        .connect_timeout_ms = svc->health.timeout_ms,
        .first_byte_timeout_ms = svc->health.timeout_ms,
        .idle_timeout_ms = svc->health.timeout_ms,
        .pool_idle_ms = svc->pool_idle_ms,
        .pool_max_idle = svc->pool_max_idle,
        .idempotent = true,
    };
    /* a failure at start comes through p_error later; NULL means no callback ever will */
    pr->x = pt_exchange_start(h->client, &ep, &o, head.data, head.len, &probe_cb, pr);
    pt_buf_release(&head);
    if (!pr->x) probe_end(pr, false, "out of memory starting the probe");
}

static void on_tick(uv_timer_t *t)
{
    pt_health *h = t->data;
    pt_config *cfg = pt_config_current();
    if (!cfg) return;
    uint64_t now = pt_now_ms();
    for (size_t i = 0; i < cfg->nservices; i++) {
        pt_service *svc = &cfg->services[i];
        if (!svc->health.enabled) continue;
        for (size_t j = 0; j < svc->ntargets; j++) {
            pt_target *tg = &svc->targets[j];
            probe_slot *slot = slot_for(h, tg->state);
            if (!slot || slot->inflight || now < slot->due_ms) continue;
            slot->due_ms = now + svc->health.interval_ms;
            probe_start(h, slot, cfg, svc, tg);
        }
    }
    pt_config_release(cfg);
}

pt_health *pt_health_start(uv_loop_t *loop, pt_client *client)
{
    pt_health *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->client = client;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_tick, TICK_MS, TICK_MS);
    return h;
}

static void on_health_closed(uv_handle_t *hd)
{
    pt_health *h = hd->data;
    free(h->slots);
    free(h);
}

void pt_health_stop(pt_health *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->nslots; i++) {
        probe *pr = h->slots[i].inflight;
        if (!pr) continue;
        h->slots[i].inflight = NULL;
        if (pr->x) pt_exchange_cancel(pr->x);
        pt_config_release(pr->cfg);
        free(pr);
    }
    uv_close((uv_handle_t *)&h->timer, on_health_closed);
}
