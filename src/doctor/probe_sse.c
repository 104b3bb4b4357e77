/* probe_sse.c: server-sent-events parsing as the HTML living standard describes it (fields
 * data/event/id, comments, LF, CR or CRLF line ends, dispatch on a blank line), with caps. */
#include "doctor/probe_sse.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void pt__dr_sse_init(pt_dr_sse *s, size_t max_line, size_t max_events)
{
    memset(s, 0, sizeof *s);
    pt_buf_init(&s->line, max_line);
    pt_buf_init(&s->data, max_line * 4);
    pt_buf_init(&s->event, 128);
    pt_buf_init(&s->id, 256);
    s->max_events = max_events;
}

void pt__dr_sse_release(pt_dr_sse *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->events[i].event);
        free(s->events[i].data);
        free(s->events[i].id);
    }
    free(s->events);
    pt_buf_release(&s->line);
    pt_buf_release(&s->data);
    pt_buf_release(&s->event);
    pt_buf_release(&s->id);
    memset(s, 0, sizeof *s);
}

static int dispatch(pt_dr_sse *s)
{
    int rc = 0;
    if (s->data.len == 0) goto reset; /* no data: nothing to dispatch */
    if (s->n >= s->max_events) return PT_ETOOBIG;
    pt_dr_sse_event *grown = realloc(s->events, (s->n + 1) * sizeof *grown);
    if (!grown) return PT_ENOMEM;
    s->events = grown;
    pt_dr_sse_event *e = &s->events[s->n];
    size_t dlen = s->data.len;
    if (s->data.data[dlen - 1] == '\n') dlen--; /* the last data line's newline is not data */
    e->data = strndup(s->data.data, dlen);
    e->event = strdup(s->event.len ? s->event.data : "message");
    e->id = s->has_id ? strdup(s->id.data ? s->id.data : "") : NULL;
    if (!e->data || !e->event || (s->has_id && !e->id)) {
        free(e->data);
        free(e->event);
        free(e->id);
        return PT_ENOMEM;
    }
    s->n++;
reset:
    pt_buf_reset(&s->data);
    pt_buf_reset(&s->event);
    return rc;
}

/* Handles one complete line (without its line end). */
static int line(pt_dr_sse *s, const char *p, size_t n)
{
    if (n == 0) return dispatch(s);
    if (p[0] == ':') return 0; /* comment, e.g. keep-alive */
    const char *colon = memchr(p, ':', n);
    size_t flen = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && v[0] == ' ') { v++; vlen--; }
    if (flen == 4 && memcmp(p, "data", 4) == 0) {
        int rc = pt_buf_append(&s->data, v, vlen);
        return rc ? rc : pt_buf_append(&s->data, "\n", 1);
    }
    if (flen == 5 && memcmp(p, "event", 5) == 0) {
        pt_buf_reset(&s->event);
        return pt_buf_append(&s->event, v, vlen);
    }
    if (flen == 2 && memcmp(p, "id", 2) == 0 && !memchr(v, '\0', vlen)) {
        pt_buf_reset(&s->id);
        s->has_id = true;
        return pt_buf_append(&s->id, v, vlen);
    }
    return 0; /* retry and unknown fields */
}

int pt__dr_sse_feed(pt_dr_sse *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n' && s->cr) { s->cr = false; continue; }
        s->cr = c == '\r';
        if (c == '\r' || c == '\n') {
            int rc = line(s, s->line.data ? s->line.data : "", s->line.len);
            pt_buf_reset(&s->line);
            if (rc) return rc;
            continue;
        }
        int rc = pt_buf_append(&s->line, &c, 1);
        if (rc) return rc;
    }
    return 0;
}
