/* prom.c: Prometheus text exposition writer (see prom.h). */
#include "core/prom.h"

#include <string.h>

void pt_prom_init(pt_prom *p, pt_buf *out)
{
    p->out = out;
    p->rc = 0;
    p->nlabels = 0;
}

static void put(pt_prom *p, const char *s)
{
    if (p->rc == 0) p->rc = pt_buf_append_str(p->out, s);
}

void pt_prom_family(pt_prom *p, const char *name, const char *type, const char *help)
{
    put(p, "# HELP ");
    put(p, name);
    put(p, " ");
    put(p, help);
    put(p, "\n# TYPE ");
    put(p, name);
    put(p, " ");
    put(p, type);
    put(p, "\n");
}

void pt_prom_sample(pt_prom *p, const char *name, const char *suffix)
{
    p->nlabels = 0;
    put(p, name);
    if (suffix) put(p, suffix);
}

int pt_prom_append_label_value(pt_buf *out, const char *s, size_t n)
{
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        if (!esc) continue;
        rc = pt_buf_append(out, s + start, i - start);
        if (rc == 0) rc = pt_buf_append(out, esc, 2);
        start = i + 1;
    }
    if (rc == 0) rc = pt_buf_append(out, s + start, n - start);
    return rc;
}

void pt_prom_label(pt_prom *p, const char *name, const char *value)
{
    put(p, p->nlabels++ ? "," : "{");
    put(p, name);
    put(p, "=\"");
    if (p->rc == 0) p->rc = pt_prom_append_label_value(p->out, value, strlen(value));
    put(p, "\"");
}

/* Closes the label set (if any) and leaves room for the value. */
static void value_start(pt_prom *p)
{
    put(p, p->nlabels ? "} " : " ");
    p->nlabels = 0;
}

void pt_prom_value_u64(pt_prom *p, uint64_t v)
{
    value_start(p);
    if (p->rc == 0) p->rc = pt_buf_append_u64(p->out, v);
    put(p, "\n");
}

void pt_prom_single(pt_prom *p, const char *name, const char *type, const char *help, uint64_t v)
{
    pt_prom_family(p, name, type, help);
    pt_prom_sample(p, name, NULL);
    pt_prom_value_u64(p, v);
}

void pt_prom_value_i64(pt_prom *p, int64_t v)
{
    value_start(p);
    if (v < 0) put(p, "-");
    if (p->rc == 0) p->rc = pt_buf_append_u64(p->out, v < 0 ? -(uint64_t)v : (uint64_t)v);
    put(p, "\n");
}

void pt_prom_value_fixed(pt_prom *p, uint64_t v, unsigned places)
{
    value_start(p);
    if (p->rc == 0) p->rc = pt_buf_append_fixed(p->out, v, places);
    put(p, "\n");
}
