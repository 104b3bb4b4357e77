/* json_write.c: compact JSON writer (see json_write.h). */
#include "core/json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void pt_jw_init(pt_jw *w, pt_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

static void put(pt_jw *w, const char *p, size_t n)
{
    if (w->err) return;
    int rc = pt_buf_append(w->b, p, n);
    if (rc) w->err = rc;
}

/* One byte (a bracket or a comma): written in place, without a copy call. */
static void put1(pt_jw *w, char c)
{
    if (w->err) return;
    int rc = pt_buf_reserve(w->b, 1);
    if (rc) {
        w->err = rc;
        return;
    }
    w->b->data[w->b->len++] = c;
    w->b->data[w->b->len] = '\0';
}

/* Writes the separator a new value needs at the current position. */
static void before_value(pt_jw *w)
{
    if (w->err) return;
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_member[w->depth]) put1(w, ',');
        w->has_member[w->depth] = true;
    }
}

static void open(pt_jw *w, char c)
{
    before_value(w);
    if (w->err) return;
    if (w->depth >= PT_JW_MAX_DEPTH) {
        w->err = PT_EINVAL;
        return;
    }
    put1(w, c);
    w->depth++;
    w->has_member[w->depth] = false;
}

static void close_(pt_jw *w, char c)
{
    if (w->err) return;
    if (w->depth == 0) {
        w->err = PT_EINVAL;
        return;
    }
    put1(w, c);
    w->depth--;
}

void pt_jw_obj(pt_jw *w) { open(w, '{'); }
void pt_jw_obj_end(pt_jw *w) { close_(w, '}'); }
void pt_jw_arr(pt_jw *w) { open(w, '['); }
void pt_jw_arr_end(pt_jw *w) { close_(w, ']'); }

void pt_jw_keyn(pt_jw *w, const char *k, size_t n)
{
    if (w->err) return;
    bool comma = w->has_member[w->depth];
    w->has_member[w->depth] = true;
    w->after_key = true;
    int rc = pt_buf_reserve(w->b, n + 4);
    if (rc) {
        w->err = rc;
        return;
    }
    char *d = w->b->data + w->b->len;
    if (comma) *d++ = ',';
    *d++ = '"';
    memcpy(d, k, n);
    d += n;
    *d++ = '"';
    *d++ = ':';
    *d = '\0';
    w->b->len = (size_t)(d - w->b->data);
}

void pt_jw_key_slice(pt_jw *w, pt_slice k)
{
    if (w->err) return;
    if (w->has_member[w->depth]) put(w, ",", 1);
    w->has_member[w->depth] = true;
    put(w, "\"", 1);
    if (!w->err && k.len) {
        int rc = pt_buf_append_json_escaped(w->b, k.ptr, k.len);
        if (rc) w->err = rc;
    }
    put(w, "\":", 2);
    w->after_key = true;
}

void pt_jw_str(pt_jw *w, pt_slice s)
{
    before_value(w);
    if (w->err) return;
    int rc = pt_buf_append_json_quoted(w->b, s.len ? s.ptr : "", s.len);
    if (rc) w->err = rc;
}

void pt_jw_cstr(pt_jw *w, const char *s) { pt_jw_str(w, pt_slice_cstr(s)); }

/* Decimal digits of v into the end of tmp[24]; returns where they start. (No printf:
 * numbers are written for every usage member of every answer.) */
static char *digits(char tmp[24], uint64_t v)
{
    char *p = tmp + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void pt_jw_int(pt_jw *w, int64_t v)
{
    char tmp[24];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = digits(tmp, mag);
    if (v < 0) *--p = '-';
    before_value(w);
    put(w, p, (size_t)(tmp + 24 - p));
}

void pt_jw_uint(pt_jw *w, uint64_t v)
{
    char tmp[24];
    char *p = digits(tmp, v);
    before_value(w);
    put(w, p, (size_t)(tmp + 24 - p));
}

int pt_jw_format_double(pt_buf *b, double v)
{
    char tmp[40];
    int n = 0;
    /* range first: converting a double outside long long's range is undefined */
    if (fabs(v) < 1e15 && v == (double)(long long)v) {
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v) break;
        }
    }
    return pt_buf_append(b, tmp, (size_t)n);
}

void pt_jw_num(pt_jw *w, double v)
{
    if (!isfinite(v)) {
        pt_jw_null(w);
        return;
    }
    before_value(w);
    if (w->err) return;
    int rc = pt_jw_format_double(w->b, v);
    if (rc) w->err = rc;
}

void pt_jw_bool(pt_jw *w, bool v)
{
    before_value(w);
    if (v) put(w, "true", 4);
    else put(w, "false", 5);
}

void pt_jw_null(pt_jw *w)
{
    before_value(w);
    put(w, "null", 4);
}

void pt_jw_raw(pt_jw *w, pt_slice json)
{
    before_value(w);
    put(w, json.ptr, json.len);
}
