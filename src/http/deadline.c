/* deadline.c: lazily re-armed connection timeouts (see deadline.h). */
#include "http/deadline.h"

void pt_deadline_init(pt_deadline *d, uv_loop_t *loop, uv_timer_cb cb, void *data)
{
    uv_timer_init(loop, &d->timer);
    d->timer.data = data;
    d->cb = cb;
    d->at = 0;
    d->armed = 0;
}

void pt_deadline_set(pt_deadline *d, uint64_t ms)
{
    if (!ms) {
        d->at = 0; /* an armed timer fires, finds nothing due and stays quiet */
        return;
    }
    uint64_t now = uv_now(d->timer.loop);
    d->at = now + ms;
    if (uv_is_active((uv_handle_t *)&d->timer) && d->armed <= d->at) return;
    d->armed = d->at;
    uv_timer_start(&d->timer, d->cb, ms, 0);
}

void pt_deadline_stop(pt_deadline *d)
{
    d->at = 0;
    uv_timer_stop(&d->timer);
}

bool pt_deadline_expired(pt_deadline *d)
{
    if (!d->at) return false;
    uint64_t now = uv_now(d->timer.loop);
    if (now < d->at) {
        d->armed = d->at;
        uv_timer_start(&d->timer, d->cb, d->at - now, 0);
        return false;
    }
    d->at = 0;
    return true;
}
