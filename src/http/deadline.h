/* deadline.h: a connection's single timeout, moved several times per request.
 *
 * A connection's timeout changes with its state (head, body, send, idle, first byte...),
 * several times per request. Restarting a libuv timer each time is a heap removal and
 * insertion; a deadline instead records when it is due and leaves the armed timer alone
 * unless the new deadline is earlier. A timer that fires before the deadline re-arms
 * itself for it, so the callback only sees deadlines that have passed. On a busy
 * keep-alive connection the timer is then touched about once per timeout period
 * instead of several times per request. */
#ifndef PT_HTTP_DEADLINE_H
#define PT_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct pt_deadline {
    uv_timer_t timer;   /* timer.data is the owner's */
    uv_timer_cb cb;
    uint64_t at;        /* uv_now() ms when due; 0: none */
    uint64_t armed;     /* when the libuv timer fires, if it is active */
} pt_deadline;

void pt_deadline_init(pt_deadline *d, uv_loop_t *loop, uv_timer_cb cb, void *data);
/* Due ms from now; 0 clears it. */
void pt_deadline_set(pt_deadline *d, uint64_t ms);
/* Clears it and stops the timer (closing). */
void pt_deadline_stop(pt_deadline *d);
/* Called first in the timer callback: true when the deadline has passed (it is then
 * cleared); false when the timer fired early or there is no deadline (re-armed as
 * needed): the callback returns without doing anything. */
bool pt_deadline_expired(pt_deadline *d);

#endif
