/* retry.c: retry_on and the retry budget of a service (see retry.h). */
#include "gateway/retry.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "gateway/config.h"

#define WINDOW_MS 10000u

bool pt_retry_any(const pt_retry_policy *r)
{
    return r->reset || r->timeout || r->statuses[0] || r->statuses[1];
}

bool pt_retry_on_status(const pt_retry_policy *r, int status)
{
    if (status < 500 || status > 599) return false;
    unsigned b = (unsigned)(status - 500);
    return (r->statuses[b / 64] >> (b % 64)) & 1u;
}

/* Moves the counts to the window of now_ms; one thread wins the change, and a count
 * racing it lands in either window, which the budget's slack absorbs. */
static void roll(pt_retry_policy *r, uint64_t now_ms)
{
    uint64_t w = now_ms / WINDOW_MS, cur = atomic_load_explicit(&r->window, memory_order_relaxed);
    if (cur == w || !atomic_compare_exchange_strong(&r->window, &cur, w)) return;
    atomic_store_explicit(&r->requests, 0, memory_order_relaxed);
    atomic_store_explicit(&r->retries, 0, memory_order_relaxed);
}

void pt_retry_count_request(pt_retry_policy *r, uint64_t now_ms)
{
    roll(r, now_ms);
    atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
}

bool pt_retry_take(pt_retry_policy *r, uint64_t now_ms)
{
    roll(r, now_ms);
    uint64_t req = atomic_load_explicit(&r->requests, memory_order_relaxed);
    uint64_t allowed = req * r->budget_percent / 100 + (uint64_t)r->budget_min_per_s * (WINDOW_MS / 1000);
    uint64_t taken = atomic_fetch_add_explicit(&r->retries, 1, memory_order_relaxed);
    if (taken < allowed) return true;
    atomic_fetch_sub_explicit(&r->retries, 1, memory_order_relaxed);
    return false;
}

/* ---- configuration -------------------------------------------------------------------- */

static int condition_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    (void)i;
    pt_retry_policy *r = &((pt_service *)obj)->retry;
    char *s = NULL;
    if (pt_cfg_str(c, it, &s)) return -1;
    int rc = 0;
    char *end;
    long st = strtol(s, &end, 10);
    if (strcmp(s, "reset") == 0) {
        r->reset = true;
    } else if (strcmp(s, "timeout") == 0) {
        r->timeout = true;
    } else if (*s && !*end && st >= 500 && st <= 599) {
        unsigned b = (unsigned)(st - 500);
        r->statuses[b / 64] |= (uint64_t)1 << (b % 64);
    } else if (*s && !*end) {
        rc = pt_cfg_fail(c, it, "only a 5xx status can be retried, got %s (a 4xx is the request's own fault)", s);
    } else {
        static const char *const names[] = { "reset", "timeout", "502", "503", "504" };
        rc = pt_cfg_unknown_name(c, it, "retry condition", names, sizeof names / sizeof names[0]);
    }
    free(s);
    return rc;
}

static const pt_cfg_list conditions = { "a list of retry conditions (reset, timeout, 5xx statuses)", 32,
                                        NULL, NULL, condition_entry };

int pt__config_retry_on(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &conditions, obj); }

static const pt_cfg_field budget_fields[] = {
    CFG_UINT("percent", pt_retry_policy, budget_percent, 0, 100),
    CFG_UINT("min_per_second", pt_retry_policy, budget_min_per_s, 0, 1000000),
    CFG_END,
};

int pt__config_retry_budget(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_map_fields(c, v, budget_fields, &((pt_service *)obj)->retry, NULL);
}
