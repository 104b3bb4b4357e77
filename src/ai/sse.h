/* sse.h: incremental server-sent-events parser (the WHATWG event-stream format).
 *
 * Bytes are fed in whatever pieces the network delivers; each complete event is handed
 * to a callback as soon as its terminating blank line arrives, so nothing is held back
 * longer than the event itself. Lines may end in CRLF, LF or CR (a CRLF split across two
 * feeds is one line end). Comment lines (":...") are skipped, several "data:" lines are
 * joined with "\n", one leading space after the colon is dropped, and a leading UTF-8 BOM
 * is ignored. A line longer than max_line or an event whose data exceeds max_event
 * fails the stream with PT_ETOOBIG: the caller treats that as a broken upstream. */
#ifndef PT_AI_SSE_H
#define PT_AI_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/slice.h"

typedef struct pt_sse_event {
    pt_slice event; /* "" when the event had no event: field ("message" by the spec) */
    pt_slice data;
    pt_slice id;    /* last id: seen on this stream, possibly from an earlier event */
} pt_sse_event;

/* Returns 0 to go on; anything else stops pt_sse_feed, which returns it. The slices
 * are valid only during the call. */
typedef int (*pt_sse_cb)(void *arg, const pt_sse_event *ev);

typedef struct pt_sse {
    pt_buf line;       /* a line not yet terminated */
    pt_buf data;       /* data of the event being collected */
    pt_buf event;      /* its event name */
    pt_buf id;         /* last event id */
    size_t max_line, max_event;
    bool has_data;     /* at least one data: line in the current event */
    bool skip_lf;      /* the previous byte was CR: an LF right after it ends nothing */
    bool started;      /* BOM check done */
    bool failed;       /* a cap was hit; every later feed fails */
} pt_sse;

/* Caps: 0 picks the defaults (64 KiB per line, 1 MiB per event). */
void pt_sse_init(pt_sse *s, size_t max_line, size_t max_event);
void pt_sse_release(pt_sse *s);
int pt_sse_feed(pt_sse *s, const char *p, size_t n, pt_sse_cb cb, void *arg);
/* At end of input: an event whose lines are complete but which lacks its final blank
 * line is dispatched (providers that close right after "data: [DONE]\n" are common).
 * Returns the callback's result, or 0. */
int pt_sse_finish(pt_sse *s, pt_sse_cb cb, void *arg);
/* True when bytes of an unfinished line or event are buffered. */
bool pt_sse_pending(const pt_sse *s);

#endif
