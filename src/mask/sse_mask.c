/* sse_mask.c: masking an AI answer's server-sent events as they flow (mask.h). */
#include "mask/mask.h"

#include <stdlib.h>
#include <string.h>

void pt_mask_sse_init(pt_mask_sse *m, const pt_mask_rules *r)
{
    memset(m, 0, sizeof *m);
    m->r = r;
    pt_mask_stream_init(&m->text, r);
    pt_buf_init(&m->in, 0);
    pt_buf_init(&m->tmpl_lines, 0);
}

void pt_mask_sse_release(pt_mask_sse *m)
{
    pt_mask_stream_release(&m->text);
    pt_buf_release(&m->in);
    pt_buf_release(&m->tmpl_lines);
    if (m->tmpl) json_decref(m->tmpl);
    m->tmpl = NULL;
}

/* The answer's text delta in an event: its holder and member, or NULL. */
static json_t *delta_holder(json_t *ev, const char **key)
{
    json_t *choices = json_object_get(ev, "choices");
    json_t *d = json_object_get(json_array_get(choices, 0), "delta");
    if (json_is_string(json_object_get(d, "content"))) return *key = "content", d;
    d = json_object_get(ev, "delta");
    if (json_is_object(d) && json_is_string(json_object_get(d, "text"))) return *key = "text", d;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type && strcmp(type, "response.output_text.delta") == 0 && json_is_string(d)) return *key = "delta", ev;
    /* Gemini: a chunk whose one part is text */
    json_t *parts = json_object_get(json_object_get(json_array_get(json_object_get(ev, "candidates"), 0), "content"), "parts");
    json_t *p = json_array_size(parts) == 1 ? json_array_get(parts, 0) : NULL;
    if (json_is_string(json_object_get(p, "text"))) return *key = "text", p;
    return NULL;
}

static void write_event(const pt_buf *lines, json_t *ev, pt_buf *out)
{
    char *d = json_dumps(ev, JSON_COMPACT);
    if (!d) return;
    pt_buf_append(out, lines->data ? lines->data : "", lines->len);
    pt_buf_append_str(out, "data: ");
    pt_buf_append_str(out, d);
    pt_buf_append_str(out, "\n\n");
    free(d);
}

/* Releases the held text: into an event made like the last delta event. */
static void flush_text(pt_mask_sse *m, pt_buf *out, pt_mask_tally *t)
{
    pt_buf tail = PT_BUF_INIT;
    pt_mask_stream_feed(&m->text, "", 0, true, &tail, t);
    const char *key;
    json_t *h = m->tmpl ? delta_holder(m->tmpl, &key) : NULL;
    if (tail.len && h && json_object_set_new(h, key, json_stringn(tail.data, tail.len)) == 0)
        write_event(&m->tmpl_lines, m->tmpl, out);
    pt_buf_release(&tail);
}

/* One complete event block (without its blank line). */
static void event(pt_mask_sse *m, const char *s, size_t n, pt_buf *out, pt_mask_tally *t)
{
    pt_buf lines = PT_BUF_INIT, data = PT_BUF_INIT;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n, len = e - i;
        if (len >= 5 && memcmp(s + i, "data:", 5) == 0) {
            size_t b = i + 5 + (len > 5 && s[i + 5] == ' ');
            size_t de = e > b && s[e - 1] == '\r' ? e - 1 : e;
            if (data.len) pt_buf_append(&data, "\n", 1);
            pt_buf_append(&data, s + b, de - b);
            if (!data.data) pt_buf_append(&data, "", 0);
        } else {
            pt_buf_append(&lines, s + i, len);
            pt_buf_append(&lines, "\n", 1);
        }
        i = e + 1;
    }
    json_error_t err;
    json_t *ev = data.len ? json_loadb(data.data, data.len, 0, &err) : NULL;
    const char *key = NULL;
    json_t *h = json_is_object(ev) ? delta_holder(ev, &key) : NULL;
    if (!h) {
        flush_text(m, out, t); /* held text goes out before an event that is not a delta */
        if (ev && pt_mask_json_tree(m->r, ev, false, t)) {
            write_event(&lines, ev, out);
        } else { /* unchanged: the bytes as they came (a number is not rewritten) */
            pt_buf_append(out, s, n);
            pt_buf_append_str(out, "\n\n");
        }
    } else {
        json_t *text = json_incref(json_object_get(h, key));
        json_object_set_new(h, key, json_string(""));
        size_t changed = pt_mask_json_tree(m->r, ev, false, t);
        pt_buf rel = PT_BUF_INIT;
        size_t tn = json_string_length(text);
        pt_mask_stream_feed(&m->text, json_string_value(text), tn, false, &rel, t);
        changed |= rel.len != tn || (tn && memcmp(rel.data, json_string_value(text), tn) != 0);
        json_decref(text);
        if (m->tmpl) json_decref(m->tmpl);
        m->tmpl = json_deep_copy(ev);
        pt_buf_reset(&m->tmpl_lines);
        pt_buf_append(&m->tmpl_lines, lines.data ? lines.data : "", lines.len);
        json_object_set_new(h, key, json_stringn(rel.data ? rel.data : "", rel.len));
        pt_buf_release(&rel);
        if (changed) {
            write_event(&lines, ev, out);
        } else {
            pt_buf_append(out, s, n);
            pt_buf_append_str(out, "\n\n");
        }
    }
    if (ev) json_decref(ev);
    pt_buf_release(&lines);
    pt_buf_release(&data);
}

/* The end of the first event in s[0, n): the offset past its blank line, 0 when none. */
static size_t event_end(const char *s, size_t n, size_t *body)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\n') continue;
        if (s[i + 1] == '\n') return *body = i, i + 2;
        if (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n') return *body = i, i + 3;
    }
    return 0;
}

void pt_mask_sse_feed(pt_mask_sse *m, const char *s, size_t n, pt_buf *out, pt_mask_tally *t)
{
    pt_buf_append(&m->in, s, n);
    size_t off = 0, body, e;
    while ((e = event_end(m->in.data + off, m->in.len - off, &body)) != 0) {
        event(m, m->in.data + off, body, out, t);
        off += e;
    }
    pt_buf_consume(&m->in, off);
}

void pt_mask_sse_end(pt_mask_sse *m, pt_buf *out, pt_mask_tally *t)
{
    flush_text(m, out, t);
    if (m->in.len) { /* an unterminated last event: its text is masked as text */
        pt_mask_text(m->r, m->in.data, m->in.len, out, t);
        pt_buf_reset(&m->in);
    }
}
