/* stored.c: stored Responses API responses as bytes (see stored.h). A conversation is
 * continued by splicing JSON texts, so every member the client wrote reaches the provider
 * byte for byte; the listing of input items is built with jansson, off the hot path. */
#include "ai/stored.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_body.h"
#include "core/json_scan.h"
#include "core/str.h"

#define FIXED_FIELDS 64

/* The members of the object body[0..len): into fixed when they fit, else into a new
 * array (*f, freed by the caller when it is not fixed). -1 when not an object. */
static int members(const char *body, size_t len, pt_jfield *fixed, pt_jfield **f, size_t *nf)
{
    size_t open, close, errpos;
    *f = fixed;
    if (pt_jscan_object_document(body, len, fixed, FIXED_FIELDS, nf, &open, &close, &errpos)) return -1;
    if (*nf <= FIXED_FIELDS) return 0;
    if (!(*f = calloc(*nf, sizeof **f))) return -1;
    size_t n = *nf;
    pt_jscan_object(body, len, 0, *f, n, nf, &open, &close);
    return 0;
}

static void members_free(pt_jfield *fixed, pt_jfield *f)
{
    if (f != fixed) free(f);
}

static pt_slice value_of(const char *body, const pt_jfield *f)
{
    return pt_slice_from(body + f->vstart, f->vend - f->vstart);
}

static bool is_lit(pt_slice v, const char *lit) { return pt_slice_eq_cstr(v, lit); }

pt_ai_stored_op pt_ai_stored_parse(pt_slice method, pt_slice path, char *id, size_t cap, pt_slice *raw)
{
    id[0] = '\0';
    *raw = PT_SLICE_NULL;
    static const char pre[] = "/responses/";
    if (pt_slice_starts_with(path, PT_SLICE_LIT("/v1/"))) path = pt_slice_from(path.ptr + 3, path.len - 3);
    if (path.len <= sizeof pre - 1 || memcmp(path.ptr, pre, sizeof pre - 1) != 0) return PT_AI_STORED_OTHER;
    pt_slice rest = pt_slice_from(path.ptr + sizeof pre - 1, path.len - (sizeof pre - 1));
    const char *slash = memchr(rest.ptr, '/', rest.len);
    size_t n = slash ? (size_t)(slash - rest.ptr) : rest.len;
    *raw = pt_slice_from(rest.ptr, n);
    if (n < cap) {
        memcpy(id, rest.ptr, n);
        id[n] = '\0';
    } /* else too long to be an id: left empty, reported as malformed */
    pt_slice tail = slash ? pt_slice_from(slash, rest.len - n) : PT_SLICE_NULL;
    bool get = pt_slice_eq_cstr(method, "GET"), del = pt_slice_eq_cstr(method, "DELETE");
    if (!tail.len) return get ? PT_AI_STORED_GET : del ? PT_AI_STORED_DELETE : PT_AI_STORED_OTHER;
    if (get && pt_slice_eq_cstr(tail, "/input_items")) return PT_AI_STORED_INPUT_ITEMS;
    return PT_AI_STORED_OTHER;
}

bool pt_ai_stored_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n <= 5 || n >= PT_AI_RESP_ID_MAX || memcmp(id, "resp_", 5) != 0) return false;
    for (size_t i = 5; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int pt_ai_stored_request(const char *body, size_t len, bool dflt, bool *store, char *prev, size_t cap)
{
    pt_jfield fixed[FIXED_FIELDS], *f;
    size_t nf;
    *store = dflt;
    prev[0] = '\0';
    if (members(body, len, fixed, &f, &nf)) return 0; /* the parser says what is wrong */
    int rc = 0, is = pt_jscan_find(f, nf, "store", NULL), ip = pt_jscan_find(f, nf, "previous_response_id", NULL);
    if (is >= 0) {
        pt_slice v = value_of(body, &f[is]);
        if (is_lit(v, "true")) *store = true;
        else if (is_lit(v, "false")) *store = false;
    }
    if (ip >= 0 && !is_lit(value_of(body, &f[ip]), "null"))
        rc = pt_jscan_string(body, f[ip].vstart, f[ip].vend, prev, cap) < 0 ? -1 : 0;
    members_free(fixed, f);
    return rc;
}

/* The items of a JSON array text, without its brackets and surrounding whitespace ("" for
 * an empty array); false when the text is not an array. */
static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static pt_slice trim(pt_slice a)
{
    while (a.len && is_ws(a.ptr[0])) a = pt_slice_from(a.ptr + 1, a.len - 1);
    while (a.len && is_ws(a.ptr[a.len - 1])) a.len--;
    return a;
}

static bool array_inner(pt_slice a, pt_slice *inner)
{
    a = trim(a);
    if (a.len < 2 || a.ptr[0] != '[' || a.ptr[a.len - 1] != ']') return false;
    *inner = trim(pt_slice_from(a.ptr + 1, a.len - 2));
    return true;
}

/* Appends the request's input as items (no brackets): a string is one user message. */
static int input_items(pt_slice v, pt_buf *out)
{
    if (v.len && v.ptr[0] == '"') {
        int rc = pt_buf_append_str(out, "{\"type\":\"message\",\"role\":\"user\",\"content\":");
        if (!rc) rc = pt_buf_append_slice(out, v);
        return rc ? rc : pt_buf_append_str(out, "}");
    }
    pt_slice inner;
    if (!array_inner(v, &inner)) return -1;
    return pt_buf_append_slice(out, inner);
}

int pt_ai_stored_input(const char *body, size_t len, pt_buf *out)
{
    pt_jfield fixed[FIXED_FIELDS], *f;
    size_t nf;
    if (members(body, len, fixed, &f, &nf)) return -1;
    int i = pt_jscan_find(f, nf, "input", NULL);
    int rc = i < 0 ? -1 : pt_buf_append_str(out, "[");
    if (!rc) rc = input_items(value_of(body, &f[i]), out);
    if (!rc) rc = pt_buf_append_str(out, "]");
    members_free(fixed, f);
    return rc ? -1 : 0;
}

/* The output array of a stored response object, its items without brackets. */
static int output_inner(const char *resp, pt_slice *inner)
{
    pt_jfield fixed[FIXED_FIELDS], *f;
    size_t nf;
    if (members(resp, strlen(resp), fixed, &f, &nf)) return -1;
    int i = pt_jscan_find(f, nf, "output", NULL);
    bool ok = i >= 0 && array_inner(value_of(resp, &f[i]), inner);
    members_free(fixed, f);
    return ok ? 0 : -1;
}

/* "[" a "," b "," c "]" leaving out the empty pieces. */
static int join_items(const pt_slice *parts, size_t n, pt_buf *out)
{
    int rc = pt_buf_append_str(out, "[");
    bool any = false;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!parts[i].len) continue;
        if (any) rc = pt_buf_append_str(out, ",");
        if (!rc) rc = pt_buf_append_slice(out, parts[i]);
        any = true;
    }
    return rc ? rc : pt_buf_append_str(out, "]");
}

int pt_ai_stored_expand(const char *body, size_t len, const char *prev_input, const char *prev_response,
                        pt_buf *out)
{
    pt_jfield fixed[FIXED_FIELDS], *f;
    size_t nf;
    if (members(body, len, fixed, &f, &nf)) return -1;
    int ii = pt_jscan_find(f, nf, "input", NULL), ip = pt_jscan_find(f, nf, "previous_response_id", NULL);
    pt_buf cur = PT_BUF_INIT, input = PT_BUF_INIT;
    pt_slice parts[3];
    int rc = ii < 0 || ip < 0 || !array_inner(pt_slice_cstr(prev_input), &parts[0]) ? -1 : 0;
    if (!rc) rc = output_inner(prev_response, &parts[1]);
    if (!rc) rc = input_items(value_of(body, &f[ii]), &cur);
    if (!rc) {
        parts[2] = pt_buf_slice(&cur);
        rc = join_items(parts, 3, &input);
    }
    if (!rc) { /* the two members replaced in the order they come */
        const pt_jfield *a = &f[ii < ip ? ii : ip], *b = &f[ii < ip ? ip : ii];
        pt_slice wa = a == &f[ii] ? pt_buf_slice(&input) : PT_SLICE_LIT("null");
        pt_slice wb = b == &f[ii] ? pt_buf_slice(&input) : PT_SLICE_LIT("null");
        rc = pt_buf_append(out, body, a->vstart);
        if (!rc) rc = pt_buf_append_slice(out, wa);
        if (!rc) rc = pt_buf_append(out, body + a->vend, b->vstart - a->vend);
        if (!rc) rc = pt_buf_append_slice(out, wb);
        if (!rc) rc = pt_buf_append(out, body + b->vend, len - b->vend);
    }
    pt_buf_release(&cur);
    pt_buf_release(&input);
    members_free(fixed, f);
    return rc ? -1 : 0;
}

/* ---- answers ------------------------------------------------------------------------ */

static int json_out(json_t *v, pt_buf *out)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    int rc = s ? pt_buf_append_str(out, s) : -1;
    free(s);
    return rc;
}

static int openai_error(pt_buf *out, int status, const char *code, const char *param, const char *msg)
{
    pt_error_body b = { .status = status, .code = code, .type = "invalid_request_error", .param = param,
                        .message = msg };
    pt_error_body_render(out, PT_ERRFMT_OPENAI, &b);
    return status;
}

int pt_ai_stored_render_deleted(const char *id, pt_buf *out)
{
    return json_out(json_pack("{s:s, s:s, s:b}", "id", id, "object", "response", "deleted", 1), out);
}

int pt_ai_stored_not_found(const char *id, pt_buf *out)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Response with id '%s' not found.", id);
    return openai_error(out, 404, NULL, NULL, msg);
}

int pt_ai_stored_bad_id(const char *param, pt_slice id, pt_buf *out)
{
    char msg[320];
    snprintf(msg, sizeof msg, "Invalid '%s': '%.*s'. Expected an ID that begins with 'resp_' followed by letters, "
                              "digits, '_' or '-' (at most %d characters).",
             param, (int)(id.len > 160 ? 160 : id.len), id.ptr ? id.ptr : "", PT_AI_RESP_ID_MAX - 1);
    return openai_error(out, 400, "invalid_value", param, msg);
}

int pt_ai_stored_prev_not_found(const char *id, pt_buf *out)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Previous response with id '%s' not found.", id);
    return openai_error(out, 400, "previous_response_not_found", "previous_response_id", msg);
}

int pt_ai_stored_unavailable(pt_buf *out)
{
    pt_error_body b = { .status = 503, .code = "store_unavailable", .type = "api_error",
                        .message = "The stored responses cannot be reached right now; try again." };
    pt_error_body_render(out, PT_ERRFMT_OPENAI, &b);
    return 503;
}

/* ---- input items ------------------------------------------------------------------- */

/* One query parameter's value (raw), or an empty slice; found says whether it is there. */
static pt_slice query_param(pt_slice q, const char *name, bool *found)
{
    size_t n = strlen(name);
    *found = false;
    for (size_t i = 0; i < q.len;) {
        const char *amp = memchr(q.ptr + i, '&', q.len - i);
        size_t end = amp ? (size_t)(amp - q.ptr) : q.len;
        if (end - i > n && q.ptr[i + n] == '=' && memcmp(q.ptr + i, name, n) == 0) {
            *found = true;
            return pt_slice_from(q.ptr + i + n + 1, end - i - n - 1);
        }
        i = end + 1;
    }
    return PT_SLICE_NULL;
}

static const char *item_prefix(const char *type)
{
    return strcmp(type, "function_call") == 0          ? "fc"
           : strcmp(type, "function_call_output") == 0 ? "fco"
           : strcmp(type, "reasoning") == 0            ? "rs"
                                                       : "msg";
}

/* An input item as input_items lists it: a type, an id, a message's content as parts. */
static void item_as_listed(json_t *it, const char *resp_id, size_t k)
{
    if (!json_is_string(json_object_get(it, "type"))) json_object_set_new(it, "type", json_string("message"));
    const char *type = json_string_value(json_object_get(it, "type"));
    if (!json_is_string(json_object_get(it, "id"))) {
        char id[PT_AI_RESP_ID_MAX + 32];
        snprintf(id, sizeof id, "%s_%s_in%zu", item_prefix(type), resp_id + 5, k);
        json_object_set_new(it, "id", json_string(id));
    }
    json_t *c = json_object_get(it, "content");
    if (strcmp(type, "message") == 0 && json_is_string(c)) {
        const char *role = json_string_value(json_object_get(it, "role"));
        bool out = role && strcmp(role, "assistant") == 0;
        json_object_set_new(it, "content", json_pack("[{s:s, s:O}]", "type", out ? "output_text" : "input_text",
                                                     "text", c));
    }
}

static int parse_limit(pt_slice v, bool found, long *limit)
{
    *limit = 20;
    if (!found) return 0;
    char buf[16];
    if (!v.len || v.len >= sizeof buf) return -1;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    char *end;
    long n = strtol(buf, &end, 10);
    if (*end || n < 1 || n > 100) return -1;
    *limit = n;
    return 0;
}

int pt_ai_stored_render_input_items(const char *resp_id, const char *input, pt_slice query, pt_buf *out)
{
    bool has_limit, has_order, has_after;
    long limit;
    pt_slice order = query_param(query, "order", &has_order), after = query_param(query, "after", &has_after);
    pt_slice lv = query_param(query, "limit", &has_limit);
    if (parse_limit(lv, has_limit, &limit))
        return openai_error(out, 400, "invalid_value", "limit", "Invalid 'limit': expected an integer from 1 to 100.");
    bool asc = has_order && pt_slice_eq_cstr(order, "asc");
    if (has_order && !asc && !pt_slice_eq_cstr(order, "desc"))
        return openai_error(out, 400, "invalid_value", "order", "Invalid 'order': expected 'asc' or 'desc'.");
    json_t *items = json_loads(input, 0, NULL);
    if (!json_is_array(items)) {
        json_decref(items);
        return pt_ai_stored_unavailable(out);
    }
    size_t n = json_array_size(items), start = 0;
    for (size_t k = 0; k < n; k++) item_as_listed(json_array_get(items, k), resp_id, k);
    if (has_after) {
        size_t i;
        for (i = 0; i < n; i++) {
            json_t *it = json_array_get(items, asc ? i : n - 1 - i);
            const char *id = json_string_value(json_object_get(it, "id"));
            if (id && pt_slice_eq_cstr(after, id)) break;
        }
        if (i == n) {
            json_decref(items);
            return openai_error(out, 400, "invalid_value", "after", "Invalid 'after': no input item of this response has this id.");
        }
        start = i + 1;
    }
    json_t *data = json_array();
    for (size_t i = start; i < n && json_array_size(data) < (size_t)limit; i++)
        json_array_append(data, json_array_get(items, asc ? i : n - 1 - i));
    size_t m = json_array_size(data);
    json_t *list = json_pack("{s:s, s:o, s:O, s:O, s:b}", "object", "list", "data", data, "first_id",
                             m ? json_object_get(json_array_get(data, 0), "id") : json_null(), "last_id",
                             m ? json_object_get(json_array_get(data, m - 1), "id") : json_null(), "has_more",
                             start + m < n);
    json_decref(items);
    return json_out(list, out) ? 500 : 200;
}
