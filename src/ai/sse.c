/* sse.c: incremental event-stream parser (see sse.h). */
#include "ai/sse.h"

#include <string.h>

#include "core/err.h"

#define SSE_DEFAULT_LINE (64u * 1024u)
#define SSE_DEFAULT_EVENT (1024u * 1024u)

void pt_sse_init(pt_sse *s, size_t max_line, size_t max_event)
{
    memset(s, 0, sizeof *s);
    s->max_line = max_line ? max_line : SSE_DEFAULT_LINE;
    s->max_event = max_event ? max_event : SSE_DEFAULT_EVENT;
    pt_buf_init(&s->line, s->max_line);
    pt_buf_init(&s->data, s->max_event);
    pt_buf_init(&s->event, 256);
    pt_buf_init(&s->id, 1024);
}

void pt_sse_release(pt_sse *s)
{
    pt_buf_release(&s->line);
    pt_buf_release(&s->data);
    pt_buf_release(&s->event);
    pt_buf_release(&s->id);
}

static int dispatch(pt_sse *s, pt_sse_cb cb, void *arg)
{
    int rc = 0;
    if (s->has_data) {
        pt_sse_event ev = {
            .event = pt_buf_slice(&s->event),
            .data = pt_buf_slice(&s->data),
            .id = pt_buf_slice(&s->id),
        };
        if (!ev.data.ptr) ev.data = PT_SLICE_LIT("");
        if (!ev.event.ptr) ev.event = PT_SLICE_LIT("");
        if (!ev.id.ptr) ev.id = PT_SLICE_LIT("");
        rc = cb(arg, &ev);
    }
    pt_buf_reset(&s->data);
    pt_buf_reset(&s->event);
    s->has_data = false;
    return rc;
}

/* Handles one complete line (without its terminator). */
static int line(pt_sse *s, const char *p, size_t n, pt_sse_cb cb, void *arg)
{
    if (n == 0) return dispatch(s, cb, arg);
    if (p[0] == ':') return 0;
    const char *colon = memchr(p, ':', n);
    size_t flen = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    pt_slice field = pt_slice_from(p, flen);
    int rc = 0;
    if (pt_slice_eq_cstr(field, "data")) {
        if (s->has_data) rc = pt_buf_append(&s->data, "\n", 1);
        if (!rc) rc = pt_buf_append(&s->data, v, vlen);
        s->has_data = true;
        if (rc) return PT_ETOOBIG;
    } else if (pt_slice_eq_cstr(field, "event")) {
        pt_buf_reset(&s->event);
        if (pt_buf_append(&s->event, v, vlen)) return PT_ETOOBIG;
    } else if (pt_slice_eq_cstr(field, "id")) {
        if (!memchr(v, '\0', vlen)) {
            pt_buf_reset(&s->id);
            if (pt_buf_append(&s->id, v, vlen)) return PT_ETOOBIG;
        }
    }
    /* "retry" and unknown fields are ignored, as the spec says */
    return 0;
}

int pt_sse_feed(pt_sse *s, const char *p, size_t n, pt_sse_cb cb, void *arg)
{
    if (s->failed) return PT_ETOOBIG;
    size_t i = 0;
    if (!s->started && n) {
        /* a BOM may itself arrive split; only a whole one at the very start is dropped */
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = s->line.len;
        size_t need = 3 - have;
        size_t take = n < need ? n : need;
        if (memcmp(p, bom + have, take) == 0) {
            if (pt_buf_append(&s->line, p, take)) return PT_ETOOBIG;
            if (s->line.len < 3) return 0;
            pt_buf_reset(&s->line);
            i = take;
        }
        /* otherwise the bytes already held (a BOM prefix) are ordinary line bytes */
        s->started = true;
    }
    while (i < n) {
        if (s->skip_lf) {
            s->skip_lf = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        /* the next line end: LF, or a CR before it (CR alone or CRLF) */
        const char *lf = memchr(p + i, '\n', n - i);
        size_t j = lf ? (size_t)(lf - p) : n;
        const char *cr = memchr(p + i, '\r', j - i);
        if (cr) j = (size_t)(cr - p);
        if (j == n) {
            if (pt_buf_append(&s->line, p + i, n - i)) {
                s->failed = true;
                return PT_ETOOBIG;
            }
            return 0;
        }
        int rc;
        if (s->line.len) {
            if (pt_buf_append(&s->line, p + i, j - i)) {
                s->failed = true;
                return PT_ETOOBIG;
            }
            rc = line(s, s->line.data, s->line.len, cb, arg);
            pt_buf_reset(&s->line);
        } else {
            if (j - i > s->max_line) {
                s->failed = true;
                return PT_ETOOBIG;
            }
            rc = line(s, p + i, j - i, cb, arg);
        }
        if (rc) {
            if (rc == PT_ETOOBIG) s->failed = true;
            return rc;
        }
        if (p[j] == '\r') s->skip_lf = true;
        i = j + 1;
    }
    return 0;
}

int pt_sse_finish(pt_sse *s, pt_sse_cb cb, void *arg)
{
    if (s->failed) return 0;
    if (s->line.len) {
        /* an unterminated last line is incomplete: per the spec it is dropped */
        pt_buf_reset(&s->line);
        pt_buf_reset(&s->data);
        s->has_data = false;
        return 0;
    }
    return dispatch(s, cb, arg);
}

bool pt_sse_pending(const pt_sse *s) { return s->line.len > 0 || s->has_data; }
