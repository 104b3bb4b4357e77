/* probe_mcp.c: JSON-RPC messages for the doctor's MCP probes (see probe_mcp.h). */
#include "doctor/probe_mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "mcp/modern.h"
#include "version.h"

static const char *const known_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

bool pt__dr_mcp_version_known(const char *v)
{
    for (size_t i = 0; v && i < sizeof known_versions / sizeof known_versions[0]; i++)
        if (strcmp(v, known_versions[i]) == 0) return true;
    return false;
}

char *pt__dr_mcp_message(long id, const char *method, json_t *params)
{
    json_t *m = json_object();
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    if (id >= 0) json_object_set_new(m, "id", json_integer(id));
    json_object_set_new(m, "method", json_string(method));
    if (params) json_object_set_new(m, "params", params);
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

json_t *pt__dr_mcp_initialize_params(const char *version)
{
    return json_pack("{s:s,s:{},s:{s:s,s:s}}", "protocolVersion", version, "capabilities", "clientInfo", "name",
                     "portico-doctor", "version", PT_VERSION);
}

json_t *pt__dr_mcp_modern_params(void)
{
    return json_pack("{s:{s:s,s:{},s:{s:s,s:s}}}", "_meta", PT_MCP_META_VERSION, PT_MCP_MODERN_VERSION, PT_MCP_META_CAPS,
                     PT_MCP_META_CLIENT, "name", "portico-doctor", "version", PT_VERSION);
}

static bool blank(pt_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] != ' ' && s.ptr[i] != '\t' && s.ptr[i] != '\r' && s.ptr[i] != '\n') return false;
    return true;
}

pt_dr_msg_kind pt__dr_mcp_classify(pt_slice text, json_t **msg)
{
    if (msg) *msg = NULL;
    if (blank(text)) return PT_DR_MSG_BLANK;
    json_error_t je;
    json_t *j = json_loadb(text.ptr, text.len, JSON_DECODE_ANY, &je);
    if (!j) return PT_DR_MSG_NOT_JSON;
    pt_dr_msg_kind k = PT_DR_MSG_NOT_RPC;
    const char *ver = json_string_value(json_object_get(j, "jsonrpc"));
    if (json_is_object(j) && ver && strcmp(ver, "2.0") == 0) {
        json_t *id = json_object_get(j, "id");
        bool has_id = id && (json_is_integer(id) || json_is_string(id) || json_is_null(id));
        bool method = json_is_string(json_object_get(j, "method"));
        bool outcome = json_object_get(j, "result") || json_is_object(json_object_get(j, "error"));
        if (has_id && outcome && !method) k = PT_DR_MSG_RESPONSE;
        else if (has_id && method && !json_is_null(id)) k = PT_DR_MSG_REQUEST;
        else if (!id && method) k = PT_DR_MSG_NOTIFICATION;
    }
    if (msg && k != PT_DR_MSG_NOT_RPC) *msg = j;
    else json_decref(j);
    return k;
}

static bool id_is(json_t *msg, long id)
{
    json_t *v = json_object_get(msg, "id");
    return json_is_integer(v) && json_integer_value(v) == id;
}

/* The response to id in one piece of JSON text (object or batch array); new ref or NULL. */
static json_t *response_in(pt_slice text, long id)
{
    json_error_t je;
    json_t *j = json_loadb(text.ptr, text.len, 0, &je), *found = NULL;
    if (!j) return NULL;
    if (json_is_array(j)) {
        size_t i;
        json_t *m;
        json_array_foreach(j, i, m) {
            if (!found && id_is(m, id)) found = json_incref(m);
        }
    } else if (id_is(j, id)) {
        found = json_incref(j);
    }
    json_decref(j);
    return found;
}

json_t *pt__dr_mcp_find_response(const pt_dr_http_resp *r, long id, char *why, size_t whysz)
{
    const char *ct = pt__dr_http_header(r, "Content-Type");
    if (r->is_sse) {
        for (size_t i = 0; i < r->sse.n; i++) {
            json_t *m = response_in(pt_slice_cstr(r->sse.events[i].data), id);
            if (m) return m;
        }
        snprintf(why, whysz, "no response with id %ld among the %zu event%s of the stream", id, r->sse.n,
                 r->sse.n == 1 ? "" : "s");
        return NULL;
    }
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        snprintf(why, whysz, "the body is %s, not JSON-RPC", ct ? ct : "untyped");
        if (r->body.len == 0) snprintf(why, whysz, "the body is empty");
        return NULL;
    }
    json_t *m = response_in(pt_buf_slice(&r->body), id);
    if (!m) snprintf(why, whysz, "the JSON body holds no response with id %ld", id);
    return m;
}

bool pt__dr_mcp_text_is_version_error(pt_slice text)
{
    static const char *needles[] = { "protocol version", "protocolversion", "unsupported version",
                                     "mcp-protocol-version" };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        size_t n = strlen(needles[i]);
        for (size_t j = 0; j + n <= text.len; j++)
            if (strncasecmp(text.ptr + j, needles[i], n) == 0) return true;
    }
    return false;
}

bool pt__dr_mcp_text_is_session_error(pt_slice text)
{
    static const char *needles[] = { "session" };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        size_t n = strlen(needles[i]);
        for (size_t j = 0; j + n <= text.len; j++)
            if (strncasecmp(text.ptr + j, needles[i], n) == 0) return true;
    }
    return false;
}

int pt__dr_mcp_read_init(json_t *msg, pt_dr_mcp_init *out)
{
    memset(out, 0, sizeof *out);
    json_t *res = json_object_get(msg, "result"), *err = json_object_get(msg, "error");
    if (json_is_object(res)) {
        const char *v = json_string_value(json_object_get(res, "protocolVersion"));
        json_t *si = json_object_get(res, "serverInfo");
        const char *name = json_string_value(json_object_get(si, "name"));
        const char *sv = json_string_value(json_object_get(si, "version"));
        out->ok = true;
        snprintf(out->version, sizeof out->version, "%s", v ? v : "");
        snprintf(out->server, sizeof out->server, "%s%s%s", name ? name : "unnamed server", sv ? " " : "",
                 sv ? sv : "");
        out->tools = json_object_get(json_object_get(res, "capabilities"), "tools") != NULL;
        return 0;
    }
    if (!json_is_object(err)) return PT_EPARSE;
    const char *m = json_string_value(json_object_get(err, "message"));
    out->code = (long)json_integer_value(json_object_get(err, "code"));
    json_t *data = json_object_get(err, "data");
    json_t *supported = json_object_get(data, "supported");
    char sup[160] = "";
    if (json_is_array(supported)) {
        size_t i, o = 0;
        json_t *v;
        json_array_foreach(supported, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), PT_MCP_MODERN_VERSION) == 0) out->modern = true;
            int n = snprintf(sup + o, sizeof sup - o, "%s%s", i ? ", " : "", json_string_value(v) ? json_string_value(v) : "?");
            if (n < 0 || (size_t)n >= sizeof sup - o) break;
            o += (size_t)n;
        }
    }
    snprintf(out->message, sizeof out->message, "%s%s%s%s", m ? m : "(no message)", sup[0] ? " (supported: " : "",
             sup, sup[0] ? ")" : "");
    /* -32022 is the 2026 UnsupportedProtocolVersion error; -32602 with the supported list, or a
     * message naming the version, is how 2025 servers say it. */
    out->version_error = out->code == -32022 || (out->code == -32602 && json_is_array(supported)) ||
                         (m && pt__dr_mcp_text_is_version_error(pt_slice_cstr(m)));
    return 0;
}

int pt__dr_mcp_tool_count(json_t *msg, char *names, size_t namesz)
{
    json_t *tools = json_object_get(json_object_get(msg, "result"), "tools");
    if (names && namesz) names[0] = '\0';
    if (!json_is_array(tools)) return -1;
    size_t i, o = 0;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (!names || i >= 8 || !n) continue;
        int w = snprintf(names + o, namesz - o, "%s%s", i ? ", " : "", n);
        if (w < 0 || (size_t)w >= namesz - o) break;
        o += (size_t)w;
    }
    if (names && json_array_size(tools) > 8 && o + 6 < namesz) snprintf(names + o, namesz - o, ", ...");
    return (int)json_array_size(tools);
}
