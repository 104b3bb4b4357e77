/* span.h: one finished span as the request path hands it to the exporter: ids, times,
 * a name, a kind, a status and a few attributes. Everything is borrowed for the duration
 * of the call that takes it (the exporter copies what it keeps). */
#ifndef PT_TRACE_SPAN_H
#define PT_TRACE_SPAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/slice.h"

#define PT_SPAN_MAX_ATTRS 16
#define PT_SPAN_STR_MAX 512      /* longer names and string values are cut */

/* OTLP's SpanKind and Status.code numbers. */
enum { PT_SPAN_SERVER = 2, PT_SPAN_CLIENT = 3 };
enum { PT_SPAN_UNSET = 0, PT_SPAN_OK = 1, PT_SPAN_ERROR = 2 };

/* A string attribute (str.ptr != NULL) or an integer one. */
typedef struct pt_span_attr {
    const char *key;             /* a constant of the program ("http.request.method"): at most
                                  * 63 bytes, never escaped in JSON, so never from a request */
    pt_slice str;
    int64_t num;
} pt_span_attr;

typedef struct pt_span {
    uint8_t trace_id[16], span_id[8];
    uint8_t parent_id[8];        /* all zero: a root span */
    int kind, status;
    uint64_t start_ns, end_ns;   /* Unix nanoseconds */
    pt_slice name;
    pt_span_attr attrs[PT_SPAN_MAX_ATTRS];
    unsigned nattrs;
} pt_span;

/* Adds an attribute when there is room (and, for a string, when it is not NULL). */
void pt_span_str(pt_span *s, const char *key, pt_slice v);
void pt_span_int(pt_span *s, const char *key, int64_t v);

/* Unix nanoseconds now. */
uint64_t pt_span_now_ns(void);

#endif
