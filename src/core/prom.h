/* prom.h: the one writer of Prometheus text exposition (format 0.0.4).
 *
 * Every /metrics family goes through it, so label values are escaped in one place and
 * a failed append is never mistaken for complete output. The writer has a sticky
 * error: after the first failure (PT_ETOOBIG / PT_ENOMEM from the buffer) every call
 * is a no-op; read p->rc once at the end.
 *
 * A sample is written as pt_prom_sample(), any number of pt_prom_label(), then one
 * pt_prom_value_*() which closes the label set and ends the line:
 *     name{a="x",b="y"} 12 */
#ifndef PT_CORE_PROM_H
#define PT_CORE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct pt_prom {
    pt_buf *out;
    int rc;          /* 0, or the first error */
    unsigned nlabels; /* labels written for the open sample */
} pt_prom;

void pt_prom_init(pt_prom *p, pt_buf *out);
/* # HELP and # TYPE lines; type is "counter", "gauge", "histogram" or "summary". */
void pt_prom_family(pt_prom *p, const char *name, const char *type, const char *help);
/* Starts a sample: name followed by suffix ("_bucket", "_sum"; NULL for none). */
void pt_prom_sample(pt_prom *p, const char *name, const char *suffix);
/* name="value" with value escaped (backslash, double quote, line feed). */
void pt_prom_label(pt_prom *p, const char *name, const char *value);
void pt_prom_value_u64(pt_prom *p, uint64_t v);
void pt_prom_value_i64(pt_prom *p, int64_t v);
/* v / 10^places with exactly `places` decimals, from integers (microseconds as seconds). */
void pt_prom_value_fixed(pt_prom *p, uint64_t v, unsigned places);
/* A family of one unlabelled sample: its HELP and TYPE lines and the value. */
void pt_prom_single(pt_prom *p, const char *name, const char *type, const char *help, uint64_t v);

/* Appends s (n bytes) escaped as a label value: \ -> \\, " -> \", LF -> \n. */
int pt_prom_append_label_value(pt_buf *out, const char *s, size_t n);

#endif
