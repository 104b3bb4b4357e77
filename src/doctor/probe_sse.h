/* probe_sse.h: a small server-sent-events parser for the doctor's MCP probes (the response to
 * a POST may be an event stream; an old HTTP+SSE server announces itself with an `endpoint`
 * event). Incremental: bytes may be split anywhere. Bounded: line length and event count
 * have caps, and going past either fails with PT_ETOOBIG rather than growing. */
#ifndef PT_DOCTOR_PROBE_SSE_H
#define PT_DOCTOR_PROBE_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

typedef struct pt_dr_sse_event {
    char *event;  /* "message" when the stream gave no event name */
    char *data;   /* data lines joined with "\n", never NULL */
    char *id;     /* NULL when absent */
} pt_dr_sse_event;

typedef struct pt_dr_sse {
    pt_buf line, data, event, id;
    bool has_id;
    bool cr;                 /* the previous byte was CR: a following LF ends nothing */
    pt_dr_sse_event *events; /* dispatched events, in order */
    size_t n, max_events;
} pt_dr_sse;

void pt__dr_sse_init(pt_dr_sse *s, size_t max_line, size_t max_events);
/* Feeds bytes; complete events are appended to s->events. Returns 0, PT_ETOOBIG or PT_ENOMEM. */
int pt__dr_sse_feed(pt_dr_sse *s, const char *p, size_t n);
void pt__dr_sse_release(pt_dr_sse *s);

#endif
