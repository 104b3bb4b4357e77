/* jsonrpc.c: MCP's JSON-RPC messages (see jsonrpc.h). */
#include "mcp/jsonrpc.h"

#include <stdio.h>
#include <string.h>

static int invalid(char *why, size_t whysz, const char *text)
{
    snprintf(why, whysz, "%s", text);
    return PT_MCP_INVALID_REQUEST;
}

static bool id_ok(const json_t *id) { return json_is_string(id) || json_is_integer(id); }

int pt_mcp_parse(const char *data, size_t len, pt_mcp_msg *out, json_t **id_out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (id_out) *id_out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(why, whysz, "the body is not JSON: %s (at byte %d)", jerr.text, jerr.position);
        return PT_MCP_PARSE_ERROR;
    }
    int rc = 0;
    json_t *id = json_object_get(root, "id");
    if (json_is_array(root)) {
        rc = invalid(why, whysz, "batches are not supported: send one JSON-RPC message per request");
    } else if (!json_is_object(root)) {
        rc = invalid(why, whysz, "a JSON-RPC message is an object");
    } else {
        if (id_out && id_ok(id)) *id_out = json_incref(id);
        const char *v = json_string_value(json_object_get(root, "jsonrpc"));
        json_t *method = json_object_get(root, "method");
        json_t *params = json_object_get(root, "params");
        bool has_result = json_object_get(root, "result") != NULL, has_error = json_object_get(root, "error") != NULL;
        if (!v || strcmp(v, "2.0") != 0) rc = invalid(why, whysz, "\"jsonrpc\" must be \"2.0\"");
        else if (id && !id_ok(id)) rc = invalid(why, whysz, "\"id\" must be a string or an integer");
        else if (method && !json_is_string(method)) rc = invalid(why, whysz, "\"method\" must be a string");
        else if (method && params && !json_is_object(params))
            rc = invalid(why, whysz, "\"params\" must be an object");
        else if (method && (has_result || has_error))
            rc = invalid(why, whysz, "a message is a request or a response, not both");
        else if (!method && !(id && (has_result != has_error)))
            rc = invalid(why, whysz, "expected a request (method), a notification or a response (id with result or error)");
        if (rc == 0) {
            if (id_out && *id_out) { /* only a failure hands the id out */
                json_decref(*id_out);
                *id_out = NULL;
            }
            out->root = root;
            out->id = id;
            out->method = method ? json_string_value(method) : NULL;
            out->params = method ? params : NULL;
            out->kind = !method ? PT_MCP_RESPONSE : id ? PT_MCP_REQUEST : PT_MCP_NOTIFICATION;
            return 0;
        }
    }
    json_decref(root);
    return rc;
}

void pt_mcp_msg_release(pt_mcp_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

json_t *pt_mcp_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code", code,
                     "message", message);
}

json_t *pt_mcp_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                     result ? result : json_object());
}

json_t *pt_mcp_request(long long id, const char *method, json_t *params)
{
    json_t *m = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (!m) {
        json_decref(params);
        return NULL;
    }
    if (id >= 0) json_object_set_new(m, "id", json_integer(id));
    if (params) json_object_set_new(m, "params", params);
    return m;
}

static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

bool pt_mcp_version_known(const char *v)
{
    for (size_t i = 0; v && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(v, versions[i]) == 0) return true;
    return false;
}

const char *pt_mcp_version_pick(const char *requested)
{
    for (size_t i = 0; requested && i < sizeof versions / sizeof versions[0]; i++)
        if (strcmp(requested, versions[i]) == 0) return versions[i];
    return PT_MCP_LATEST_VERSION;
}

/* ---- lines -------------------------------------------------------------------------- */

void pt_mcp_lines_init(pt_mcp_lines *l, size_t max)
{
    memset(l, 0, sizeof *l);
    pt_buf_init(&l->pending, max + 1);
    l->max = max;
}

void pt_mcp_lines_release(pt_mcp_lines *l) { pt_buf_release(&l->pending); }

static int emit(pt_mcp_lines *l, const char *s, size_t n, int (*line)(void *, const char *, size_t), void *arg)
{
    if (n && s[n - 1] == '\r') n--;
    return line(arg, s, n);
}

int pt_mcp_lines_feed(pt_mcp_lines *l, const char *data, size_t n, int (*line)(void *arg, const char *s, size_t len),
                      void *arg)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (!l->skipping && l->pending.len + take > l->max) {
            l->skipping = true;
            l->dropped++;
            pt_buf_reset(&l->pending);
        }
        if (!l->skipping) {
            if (nl && l->pending.len == 0) {
                if (emit(l, data, take, line, arg)) return -1;
            } else if (pt_buf_append(&l->pending, data, take) != 0) {
                l->skipping = true;
                l->dropped++;
                pt_buf_reset(&l->pending);
            } else if (nl) {
                int rc = emit(l, l->pending.data, l->pending.len, line, arg);
                pt_buf_reset(&l->pending);
                if (rc) return -1;
            }
        }
        if (!nl) break;
        l->skipping = false;
        data = nl + 1;
        n -= take + 1;
    }
    return 0;
}

/* ---- event streams ------------------------------------------------------------------ */

void pt_mcp_sse_init(pt_mcp_sse *s, size_t max, int (*event)(void *arg, const char *data, size_t len), void *arg)
{
    pt_mcp_lines_init(&s->lines, max);
    pt_buf_init(&s->data, max);
    s->event = event;
    s->arg = arg;
    s->last_id[0] = '\0';
    s->retry_ms = 0;
}

void pt_mcp_sse_release(pt_mcp_sse *s)
{
    pt_mcp_lines_release(&s->lines);
    pt_buf_release(&s->data);
}

/* id: sets the id a client resumes from (one with a NUL is ignored, as the format says). */
static void sse_id(pt_mcp_sse *s, const char *p, size_t n)
{
    if (n && *p == ' ') p++, n--;
    if (memchr(p, '\0', n)) return;
    if (n >= sizeof s->last_id) n = 0; /* cannot be sent back whole: no resuming from it */
    memcpy(s->last_id, p, n);
    s->last_id[n] = '\0';
}

/* retry: the delay before reconnecting, in ms; only digits count, as the format says. */
static void sse_retry(pt_mcp_sse *s, const char *p, size_t n)
{
    if (n && *p == ' ') p++, n--;
    unsigned long ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return;
        if (ms < 3600000) ms = ms * 10 + (unsigned long)(p[i] - '0');
    }
    if (n) s->retry_ms = ms > 3600000 ? 3600000 : (unsigned)ms;
}

static int sse_line(void *arg, const char *p, size_t n)
{
    pt_mcp_sse *s = arg;
    if (n == 0) {
        if (!s->data.len) return 0;
        int rc = s->event(s->arg, s->data.data, s->data.len);
        pt_buf_reset(&s->data);
        return rc;
    }
    if (n >= 3 && memcmp(p, "id:", 3) == 0) {
        sse_id(s, p + 3, n - 3);
        return 0;
    }
    if (n >= 6 && memcmp(p, "retry:", 6) == 0) {
        sse_retry(s, p + 6, n - 6);
        return 0;
    }
    if (n < 5 || memcmp(p, "data:", 5) != 0) return 0; /* event:, comments */
    p += 5, n -= 5;
    if (n && *p == ' ') p++, n--;
    if ((s->data.len && pt_buf_append(&s->data, "\n", 1) != 0) || pt_buf_append(&s->data, p, n) != 0)
        pt_buf_reset(&s->data); /* over the cap: the event is lost, never cut short */
    return 0;
}

int pt_mcp_sse_feed(pt_mcp_sse *s, const char *p, size_t n) { return pt_mcp_lines_feed(&s->lines, p, n, sse_line, s); }

/* ---- responses in an HTTP body ------------------------------------------------------ */

bool pt_mcp_id_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) return json_integer_value(a) == json_integer_value(b);
    if (json_is_string(a) && json_is_string(b)) return strcmp(json_string_value(a), json_string_value(b)) == 0;
    return false;
}

static json_t *if_answers(json_t *m, json_t *id)
{
    if (json_is_object(m) && !json_object_get(m, "method") && pt_mcp_id_equal(json_object_get(m, "id"), id)) return m;
    json_decref(m);
    return NULL;
}

/* Parses one event's data (its data lines joined by "\n") and keeps it when it answers id. */
static json_t *event_answer(pt_buf *data, json_t *id)
{
    json_t *m = data->len ? json_loadb(data->data, data->len, 0, NULL) : NULL;
    pt_buf_reset(data);
    return m ? if_answers(m, id) : NULL;
}

json_t *pt_mcp_find_response(const char *body, size_t len, bool event_stream, json_t *id, char *why, size_t whysz)
{
    if (!event_stream) {
        json_t *m = json_loadb(body, len, 0, NULL);
        if (!m) {
            snprintf(why, whysz, "the upstream's answer is not JSON");
            return NULL;
        }
        m = if_answers(m, id);
        if (!m) snprintf(why, whysz, "the upstream's answer is not the response to the request");
        return m;
    }
    pt_buf data = PT_BUF_INIT;
    pt_buf_init(&data, len + 1);
    json_t *found = NULL;
    unsigned events = 0;
    const char *p = body, *end = body + len;
    while (p < end && !found) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r') n--;
        if (n == 0) {
            if (data.len) events++;
            found = event_answer(&data, id);
        } else if (n >= 5 && memcmp(p, "data:", 5) == 0) {
            const char *v = p + 5;
            size_t vn = n - 5;
            if (vn && *v == ' ') v++, vn--;
            if (data.len) pt_buf_append(&data, "\n", 1);
            pt_buf_append(&data, v, vn);
        }
        p = nl ? nl + 1 : end;
    }
    if (!found && data.len) {
        events++;
        found = event_answer(&data, id);
    }
    pt_buf_release(&data);
    if (!found) snprintf(why, whysz, "no response to the request among %u events of the upstream's stream", events);
    return found;
}
