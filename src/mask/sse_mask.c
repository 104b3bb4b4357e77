/* sse_mask.c: masking an AI answer's server-sent events as they flow (mask.h). */
#include "mask/mask.h"

#include <stdlib.h>
#include <string.h>

enum { CH_TEXT, CH_TOOL };

/* Where one channel's fragment sits in an event: holder[key] is the string; call is an
 * OpenAI tool call entry (its id, type and name are not repeated in a carrying event). */
typedef struct holder {
    int kind;
    long choice, index;
    json_t *obj;
    const char *key;
    json_t *call;
} holder;

#define MAX_HOLDERS 8

void pt_mask_sse_init(pt_mask_sse *m, const pt_mask_rules *r)
{
    memset(m, 0, sizeof *m);
    m->r = r;
    pt_buf_init(&m->in, 0);
}

void pt_mask_sse_release(pt_mask_sse *m)
{
    pt_buf_release(&m->in);
    for (size_t i = 0; i < m->nch; i++) {
        pt_mask_stream_release(&m->ch[i].st);
        pt_buf_release(&m->ch[i].lines);
        if (m->ch[i].tmpl) json_decref(m->ch[i].tmpl);
    }
    m->nch = 0;
}

static long int_or(const json_t *v, long dflt) { return json_is_integer(v) ? (long)json_integer_value(v) : dflt; }

static size_t add(holder *h, size_t n, holder one)
{
    if (n < MAX_HOLDERS && json_is_string(json_object_get(one.obj, one.key))) h[n++] = one;
    return n;
}

/* OpenAI chat: each choice's content and its tool calls' arguments. */
static size_t openai_holders(json_t *choices, holder *h, size_t n)
{
    size_t i, j;
    json_t *c, *tc;
    json_array_foreach(choices, i, c) {
        json_t *d = json_object_get(c, "delta");
        long ci = int_or(json_object_get(c, "index"), (long)i);
        n = add(h, n, (holder){ CH_TEXT, ci, 0, d, "content", NULL });
        json_array_foreach(json_object_get(d, "tool_calls"), j, tc) {
            long ti = int_or(json_object_get(tc, "index"), (long)j);
            n = add(h, n, (holder){ CH_TOOL, ci, ti, json_object_get(tc, "function"), "arguments", tc });
        }
    }
    return n;
}

/* The fragments an event carries, at most MAX_HOLDERS. */
static size_t holders(json_t *ev, holder *h)
{
    size_t n = 0;
    json_t *choices = json_object_get(ev, "choices");
    if (json_is_array(choices)) return openai_holders(choices, h, n);
    json_t *d = json_object_get(ev, "delta");
    const char *type = json_string_value(json_object_get(ev, "type"));
    long idx = int_or(json_object_get(ev, "index"), 0);
    if (json_is_object(d)) { /* Anthropic */
        n = add(h, n, (holder){ CH_TEXT, 0, 0, d, "text", NULL });
        return add(h, n, (holder){ CH_TOOL, 0, idx, d, "partial_json", NULL });
    }
    if (type && strcmp(type, "response.output_text.delta") == 0) return add(h, n, (holder){ CH_TEXT, 0, 0, ev, "delta", NULL });
    if (type && strcmp(type, "response.function_call_arguments.delta") == 0)
        return add(h, n, (holder){ CH_TOOL, 0, int_or(json_object_get(ev, "output_index"), 0), ev, "delta", NULL });
    /* Gemini: a chunk whose one part is text */
    json_t *parts = json_object_get(json_object_get(json_array_get(json_object_get(ev, "candidates"), 0), "content"), "parts");
    json_t *p = json_array_size(parts) == 1 ? json_array_get(parts, 0) : NULL;
    return add(h, n, (holder){ CH_TEXT, 0, 0, p, "text", NULL });
}

static bool same(const pt_mask_sse_chan *c, const holder *h)
{
    return c->kind == h->kind && c->choice == h->choice && c->index == h->index;
}

static pt_mask_sse_chan *chan_get(pt_mask_sse *m, const holder *h)
{
    for (size_t i = 0; i < m->nch; i++)
        if (same(&m->ch[i], h)) return &m->ch[i];
    if (m->nch == PT_MASK_SSE_CHANNELS) return NULL;
    pt_mask_sse_chan *c = &m->ch[m->nch++];
    memset(c, 0, sizeof *c);
    c->kind = h->kind;
    c->choice = h->choice;
    c->index = h->index;
    pt_mask_stream_init(&c->st, m->r);
    pt_buf_init(&c->lines, 0);
    return c;
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

/* Releases what channel c holds: into an event made like its last one, carrying only
 * that text (the event's other fragments emptied, a call's id, type and name left out). */
static void flush_chan(pt_mask_sse_chan *c, pt_buf *out, pt_mask_tally *t)
{
    pt_buf tail = PT_BUF_INIT;
    pt_mask_stream_feed(&c->st, "", 0, true, &tail, t);
    holder h[MAX_HOLDERS];
    size_t nh = tail.len && c->tmpl ? holders(c->tmpl, h) : 0;
    bool carried = false;
    for (size_t i = 0; i < nh; i++) {
        bool mine = same(c, &h[i]);
        json_object_set_new(h[i].obj, h[i].key, mine ? json_stringn(tail.data, tail.len) : json_string(""));
        carried |= mine;
        if (h[i].call) {
            json_object_del(h[i].call, "id");
            json_object_del(h[i].call, "type");
            json_object_del(h[i].obj, "name");
        }
    }
    if (carried) write_event(&c->lines, c->tmpl, out);
    pt_buf_release(&tail);
}

static bool fed_by(const pt_mask_sse_chan *c, const holder *h, size_t nh)
{
    for (size_t i = 0; i < nh; i++)
        if (same(c, &h[i])) return true;
    return false;
}

/* Before an event: the answer's text is released unless the event continues it; a tool
 * call's arguments when the event feeds no channel at all. */
static void flush_before(pt_mask_sse *m, const holder *h, size_t nh, pt_buf *out, pt_mask_tally *t)
{
    for (size_t i = 0; i < m->nch; i++) {
        pt_mask_sse_chan *c = &m->ch[i];
        if (nh == 0 || (c->kind == CH_TEXT && !fed_by(c, h, nh))) flush_chan(c, out, t);
    }
}

/* Feeds each fragment of ev to its channel and puts back what is released; returns
 * whether any fragment changed. */
static bool feed_fragments(pt_mask_sse *m, json_t *ev, const holder *h, size_t nh, json_t **text,
                           const pt_buf *lines, pt_mask_tally *t)
{
    bool changed = false;
    pt_buf rel = PT_BUF_INIT;
    for (size_t i = 0; i < nh; i++) {
        pt_mask_sse_chan *c = chan_get(m, &h[i]);
        size_t tn = json_string_length(text[i]);
        pt_buf_reset(&rel);
        if (c) pt_mask_stream_feed(&c->st, json_string_value(text[i]), tn, false, &rel, t);
        else pt_mask_text(m->r, json_string_value(text[i]), tn, &rel, t); /* too many channels: this event's alone */
        changed |= rel.len != tn || (tn && memcmp(rel.data, json_string_value(text[i]), tn) != 0);
        json_object_set_new(h[i].obj, h[i].key, json_stringn(rel.data ? rel.data : "", rel.len));
    }
    pt_buf_release(&rel);
    for (size_t i = 0; i < nh; i++) {
        pt_mask_sse_chan *c = chan_get(m, &h[i]);
        if (!c) continue;
        if (c->tmpl) json_decref(c->tmpl);
        c->tmpl = json_deep_copy(ev);
        pt_buf_reset(&c->lines);
        pt_buf_append(&c->lines, lines->data ? lines->data : "", lines->len);
    }
    return changed;
}

/* Splits an event block into its data (joined) and its other lines. */
static void split_event(const char *s, size_t n, pt_buf *lines, pt_buf *data)
{
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n, len = e - i;
        if (len >= 5 && memcmp(s + i, "data:", 5) == 0) {
            size_t b = i + 5 + (len > 5 && s[i + 5] == ' ');
            size_t de = e > b && s[e - 1] == '\r' ? e - 1 : e;
            if (data->len) pt_buf_append(data, "\n", 1);
            pt_buf_append(data, s + b, de - b);
            if (!data->data) pt_buf_append(data, "", 0);
        } else {
            pt_buf_append(lines, s + i, len);
            pt_buf_append(lines, "\n", 1);
        }
        i = e + 1;
    }
}

/* One complete event block (without its blank line). */
static void event(pt_mask_sse *m, const char *s, size_t n, pt_buf *out, pt_mask_tally *t)
{
    pt_buf lines = PT_BUF_INIT, data = PT_BUF_INIT;
    split_event(s, n, &lines, &data);
    json_error_t err;
    json_t *ev = data.len ? json_loadb(data.data, data.len, 0, &err) : NULL;
    holder h[MAX_HOLDERS];
    json_t *text[MAX_HOLDERS];
    size_t nh = json_is_object(ev) ? holders(ev, h) : 0;
    flush_before(m, h, nh, out, t); /* held text goes out before what follows it */
    for (size_t i = 0; i < nh; i++) { /* the fragments aside: the channels mask them */
        text[i] = json_incref(json_object_get(h[i].obj, h[i].key));
        json_object_set_new(h[i].obj, h[i].key, json_string(""));
    }
    bool changed = ev && pt_mask_json_tree(m->r, ev, false, t);
    if (nh) changed |= feed_fragments(m, ev, h, nh, text, &lines, t);
    for (size_t i = 0; i < nh; i++) json_decref(text[i]);
    if (changed) {
        write_event(&lines, ev, out);
    } else { /* unchanged: the bytes as they came (a number is not rewritten) */
        pt_buf_append(out, s, n);
        pt_buf_append_str(out, "\n\n");
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
    flush_before(m, NULL, 0, out, t);
    if (m->in.len) { /* an unterminated last event: its text is masked as text */
        pt_mask_text(m->r, m->in.data, m->in.len, out, t);
        pt_buf_reset(&m->in);
    }
}
