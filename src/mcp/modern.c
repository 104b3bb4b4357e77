/* modern.c: the stateless 2026-07-28 revision, as a server to clients and as a client of
 * upstreams (see modern.h). */
#include "mcp/modern.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const served[] = { PT_MCP_MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

json_t *pt_mcp_supported_versions(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof served / sizeof served[0]; i++) json_array_append_new(a, json_string(served[i]));
    return a;
}

static json_t *meta_of(const pt_mcp_msg *m) { return json_object_get(m->params, "_meta"); }

bool pt_mcp_modern_is(const pt_mcp_msg *m, pt_slice header_version, bool has_session)
{
    if (has_session) return false;
    return json_object_get(meta_of(m), PT_MCP_META_VERSION) || pt_slice_eq_cstr(header_version, PT_MCP_MODERN_VERSION);
}

static int refuse(pt_mcp_refusal *out, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(pt_mcp_refusal *out, int code, json_t *data, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
    out->code = code;
    out->status = 400;
    out->data = data;
    return code;
}

const char *pt_mcp_named_by(const char *method)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) return "name";
    if (strcmp(method, "resources/read") == 0) return "uri";
    return NULL;
}

/* Mcp-Name against the body's name (when the body has one: a request without it is the
 * method's own -32602). */
static int check_name(const pt_mcp_msg *m, pt_slice header, pt_mcp_refusal *out)
{
    const char *member = pt_mcp_named_by(m->method);
    const char *body = member ? json_string_value(json_object_get(m->params, member)) : NULL;
    if (!body) return 0;
    if (!header.ptr)
        return refuse(out, PT_MCP_HEADER_MISMATCH, NULL, "the Mcp-Name header is required for %s (params.%s)", m->method,
                      member);
    char *decoded = pt_mcp_header_decode(header);
    bool same = decoded && strcmp(decoded, body) == 0;
    free(decoded);
    if (same) return 0;
    return refuse(out, PT_MCP_HEADER_MISMATCH, NULL, "the Mcp-Name header does not match params.%s", member);
}

int pt_mcp_modern_check(const pt_mcp_msg *m, const pt_mcp_modern_headers *h, pt_mcp_refusal *out)
{
    json_t *meta = meta_of(m);
    const char *version = json_string_value(json_object_get(meta, PT_MCP_META_VERSION));
    if (!version)
        return refuse(out, PT_MCP_INVALID_PARAMS, NULL,
                      "params._meta[\"" PT_MCP_META_VERSION "\"] is required (the %s revision has no initialize)",
                      PT_MCP_MODERN_VERSION);
    if (!h->version.ptr)
        return refuse(out, PT_MCP_HEADER_MISMATCH, NULL, "the MCP-Protocol-Version header is required");
    if (!pt_slice_eq_cstr(h->version, version))
        return refuse(out, PT_MCP_HEADER_MISMATCH, NULL,
                      "the MCP-Protocol-Version header does not match params._meta's protocol version (%.40s)", version);
    if (strcmp(version, PT_MCP_MODERN_VERSION) != 0)
        return refuse(out, PT_MCP_UNSUPPORTED_VERSION,
                      json_pack("{s:o, s:s}", "supported", pt_mcp_supported_versions(), "requested", version),
                      "unsupported protocol version '%.40s' without initialize: this server serves %s statelessly, "
                      "and the 2025 revisions after initialize",
                      version, PT_MCP_MODERN_VERSION);
    if (!json_is_object(json_object_get(meta, PT_MCP_META_CAPS)))
        return refuse(out, PT_MCP_INVALID_PARAMS, NULL,
                      "params._meta[\"" PT_MCP_META_CAPS "\"] is required (an object; {} declares none)");
    if (!h->method.ptr)
        return refuse(out, PT_MCP_HEADER_MISMATCH, NULL, "the Mcp-Method header is required");
    if (!pt_slice_eq_cstr(h->method, m->method))
        return refuse(out, PT_MCP_HEADER_MISMATCH, NULL, "the Mcp-Method header does not match the method (%.100s)",
                      m->method);
    return check_name(m, h->name, out);
}

/* The value of one base64 digit (standard alphabet), or -1. */
static int digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (padding optional) into a new NUL-terminated string; NULL when malformed. */
static char *base64_decode(pt_slice in)
{
    while (in.len && in.ptr[in.len - 1] == '=') in.len--;
    if (in.len % 4 == 1) return NULL;
    char *out = malloc(in.len / 4 * 3 + 3);
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; out && i < in.len; i++) {
        int d = digit((unsigned char)in.ptr[i]);
        if (d < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (out) out[n] = 0;
    if (out && memchr(out, 0, n)) {
        free(out);
        return NULL;
    }
    return out;
}

char *pt_mcp_header_decode(pt_slice v)
{
    static const pt_slice open = PT_SLICE_LIT("=?base64?"), close = PT_SLICE_LIT("?=");
    if (v.len >= open.len + close.len && pt_slice_starts_with(v, open) &&
        memcmp(v.ptr + v.len - close.len, close.ptr, close.len) == 0)
        return base64_decode(pt_slice_from(v.ptr + open.len, v.len - open.len - close.len));
    char *s = malloc(v.len + 1);
    if (!s) return NULL;
    if (v.len) memcpy(s, v.ptr, v.len);
    s[v.len] = 0;
    if (memchr(s, 0, v.len)) {
        free(s);
        return NULL;
    }
    return s;
}

void pt_mcp_modern_strip(json_t *params, char *level, size_t levelsz)
{
    json_t *meta = json_object_get(params, "_meta");
    const char *asked = json_string_value(json_object_get(meta, PT_MCP_META_LOG_LEVEL));
    if (levelsz) snprintf(level, levelsz, "%s", asked ? asked : "");
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(meta, tmp, key, value)
    {
        if (strncmp(key, "io.modelcontextprotocol/", 24) == 0) json_object_del(meta, key);
    }
    if (meta && json_object_size(meta) == 0) json_object_del(params, "_meta");
}

/* The methods whose results are cacheable (ttlMs and cacheScope required). */
static bool cacheable(const char *method)
{
    static const char *const names[] = { "tools/list", "prompts/list", "resources/list", "resources/templates/list",
                                         "resources/read", "server/discover" };
    for (size_t i = 0; method && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(method, names[i]) == 0) return true;
    return false;
}

void pt_mcp_modern_result(json_t *result, const char *method)
{
    if (!json_is_object(result)) return;
    if (!json_object_get(result, "resultType")) json_object_set_new(result, "resultType", json_string("complete"));
    if (!cacheable(method)) return;
    if (!json_object_get(result, "ttlMs")) json_object_set_new(result, "ttlMs", json_integer(0));
    /* private whatever a server said: the gateway filters what it relays by the caller's access */
    json_object_set_new(result, "cacheScope", json_string("private"));
}

/* A log level's rank (RFC 5424 order, debug lowest), or -1 for a name that is none. */
static int level_rank(const char *level)
{
    static const char *const levels[] = { "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency" };
    for (int i = 0; level && i < (int)(sizeof levels / sizeof levels[0]); i++)
        if (strcmp(level, levels[i]) == 0) return i;
    return -1;
}

bool pt_mcp_log_wanted(const char *asked, const char *level)
{
    int a = level_rank(asked), l = level_rank(level);
    return a >= 0 && l >= a;
}

/* ---- as a client of an upstream of the revision ---- */

int pt_mcp_modern_meta(json_t *request, json_t *caps, const char *log_level)
{
    json_t *params = json_object_get(request, "params");
    if (!json_is_object(request)) return -1;
    if (!params && json_object_set_new(request, "params", params = json_object()) != 0) return -1;
    json_t *meta = json_object_get(params, "_meta");
    if (!json_is_object(meta) && json_object_set_new(params, "_meta", meta = json_object()) != 0) return -1;
    int rc = json_object_set_new(meta, PT_MCP_META_VERSION, json_string(PT_MCP_MODERN_VERSION));
    rc |= json_object_set_new(meta, PT_MCP_META_CAPS, caps ? json_deep_copy(caps) : json_object());
    rc |= json_object_set_new(meta, PT_MCP_META_CLIENT, json_pack("{s:s, s:s}", "name", "portico", "version", "1"));
    if (log_level) rc |= json_object_set_new(meta, PT_MCP_META_LOG_LEVEL, json_string(log_level));
    return rc ? -1 : 0;
}

static bool header_safe(const char *v, size_t len)
{
    if (len == 0) return true;
    if (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' || v[len - 1] == '\t') return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e))) return false;
    }
    /* a plain value that looks like the sentinel is encoded too, so it cannot be misread */
    return !(len >= 11 && strncmp(v, "=?base64?", 9) == 0 && strncmp(v + len - 2, "?=", 2) == 0);
}

static int base64(pt_buf *out, const unsigned char *p, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
        char q[4] = { abc[v >> 18 & 63], abc[v >> 12 & 63], i + 1 < len ? abc[v >> 6 & 63] : '=',
                      i + 2 < len ? abc[v & 63] : '=' };
        if (pt_buf_append(out, q, 4) != 0) return -1;
    }
    return 0;
}

int pt_mcp_header_value(pt_buf *out, const char *value, size_t len)
{
    if (header_safe(value, len)) return pt_buf_append(out, value, len);
    if (pt_buf_append_str(out, "=?base64?") != 0 || base64(out, (const unsigned char *)value, len) != 0) return -1;
    return pt_buf_append_str(out, "?=");
}

static int header(pt_buf *out, const char *name, const char *value, size_t len)
{
    if (pt_buf_append_str(out, name) != 0 || pt_buf_append_str(out, ": ") != 0) return -1;
    if (pt_mcp_header_value(out, value, len) != 0) return -1;
    return pt_buf_append_str(out, "\r\n");
}

/* An argument as the string its header carries; false for the types no header carries. */
static bool param_text(const json_t *v, char *tmp, size_t tmpsz, const char **s, size_t *len)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = json_string_length(v);
    } else if (json_is_integer(v)) {
        *len = (size_t)snprintf(tmp, tmpsz, "%lld", (long long)json_integer_value(v));
        *s = tmp;
    } else if (json_is_boolean(v)) {
        *s = json_is_true(v) ? "true" : "false";
        *len = strlen(*s);
    } else {
        return false;
    }
    return true;
}

int pt_mcp_modern_write_headers(pt_buf *out, const json_t *request, const json_t *params_map)
{
    const char *method = json_string_value(json_object_get(request, "method"));
    json_t *params = json_object_get(request, "params");
    if (!method) return -1;
    int rc = pt_buf_printf(out, "MCP-Protocol-Version: %s\r\n", PT_MCP_MODERN_VERSION) < 0 ? -1 : 0;
    rc |= header(out, "Mcp-Method", method, strlen(method));
    const char *member = pt_mcp_named_by(method);
    json_t *name = member ? json_object_get(params, member) : NULL;
    if (json_is_string(name)) rc |= header(out, "Mcp-Name", json_string_value(name), json_string_length(name));
    /* only a tool's arguments are mirrored (x-mcp-header is a tool's schema annotation) */
    json_t *args = strcmp(method, "tools/call") == 0 ? json_object_get(params, "arguments") : NULL;
    const char *arg;
    json_t *hname;
    json_object_foreach((json_t *)params_map, arg, hname) {
        char tmp[32], hdr[160];
        const char *s;
        size_t len;
        if (!param_text(json_object_get(args, arg), tmp, sizeof tmp, &s, &len)) continue;
        snprintf(hdr, sizeof hdr, "Mcp-Param-%s", json_string_value(hname));
        rc |= header(out, hdr, s, len);
    }
    return rc ? -1 : 0;
}

/* RFC 9110's tchar: what a header name may hold. */
static bool token(const char *s)
{
    if (!s || !*s || strlen(s) > 100) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

json_t *pt_mcp_param_map(const json_t *tool)
{
    json_t *props = json_object_get(json_object_get(tool, "inputSchema"), "properties");
    json_t *map = NULL;
    const char *arg;
    json_t *schema;
    json_object_foreach(props, arg, schema) {
        const char *h = json_string_value(json_object_get(schema, "x-mcp-header"));
        if (!h) continue;
        if (!token(h)) {
            json_decref(map);
            return NULL;
        }
        if (!map) map = json_object();
        json_object_set_new(map, arg, json_string(h));
    }
    return map;
}

pt_mcp_era_answer pt_mcp_discover_era(const json_t *response, char *why, size_t whysz)
{
    json_t *result = json_object_get(response, "result");
    json_t *error = json_object_get(response, "error");
    if (json_is_object(result)) {
        json_t *versions = json_object_get(result, "supportedVersions");
        if (!json_is_array(versions)) {
            snprintf(why, whysz, "it answered server/discover without supportedVersions");
            return PT_MCP_ERA_ANSWER_LEGACY;
        }
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v)
            if (json_is_string(v) && strcmp(json_string_value(v), PT_MCP_MODERN_VERSION) == 0) {
                snprintf(why, whysz, "it answered server/discover");
                return PT_MCP_ERA_ANSWER_MODERN;
            }
        snprintf(why, whysz, "it speaks none of the gateway's versions (the gateway speaks %s)", PT_MCP_MODERN_VERSION);
        return PT_MCP_ERA_ANSWER_OTHER;
    }
    json_t *code = json_object_get(error, "code");
    json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
    const char *msg = json_string_value(json_object_get(error, "message"));
    if (c == PT_MCP_HEADER_MISMATCH || c == PT_MCP_MISSING_CAPABILITY || c == PT_MCP_UNSUPPORTED_VERSION) {
        snprintf(why, whysz, "it refused server/discover with the 2026-07-28 error %lld: %s", (long long)c,
                 msg ? msg : "(no message)");
        return PT_MCP_ERA_ANSWER_OTHER;
    }
    if (error) snprintf(why, whysz, "it answered server/discover with the error %lld: %s", (long long)c, msg ? msg : "");
    else snprintf(why, whysz, "it did not answer server/discover");
    return PT_MCP_ERA_ANSWER_LEGACY;
}

/* What an input_required result asks for, e.g. "elicitation/create, sampling/createMessage". */
static void input_methods(const json_t *result, char *out, size_t outsz)
{
    size_t n = 0;
    const char *key;
    json_t *req;
    out[0] = '\0';
    json_object_foreach(json_object_get(result, "inputRequests"), key, req) {
        const char *m = json_string_value(json_object_get(req, "method"));
        int w = snprintf(out + n, outsz - n, "%s%s", n ? ", " : "", m ? m : key);
        if (w < 0 || (size_t)w >= outsz - n) break;
        n += (size_t)w;
    }
}

json_t *pt_mcp_modern_to_legacy(json_t *response, const char *server)
{
    json_t *result = json_object_get(response, "result");
    const char *type = json_string_value(json_object_get(result, "resultType"));
    if (!type) return json_incref(response);
    if (strcmp(type, "input_required") == 0) {
        char asked[200], msg[400];
        input_methods(result, asked, sizeof asked);
        snprintf(msg, sizeof msg,
                 "MCP server '%s' needs input from the client to go on (%s); the gateway does not relay a "
                 "2026-07-28 server's input requests to this client's protocol version",
                 server, asked[0] ? asked : "input_required");
        return pt_mcp_error(json_object_get(response, "id"), PT_MCP_UPSTREAM_ERROR, msg);
    }
    json_t *copy = json_copy(response);
    json_t *rcopy = json_copy(result);
    if (!copy || !rcopy || json_object_set_new(copy, "result", rcopy) != 0) {
        json_decref(copy);
        return json_incref(response);
    }
    json_object_del(rcopy, "resultType");
    return copy;
}

json_t *pt_mcp_discover_as_init(const json_t *discover, const char *name)
{
    json_t *meta = json_object_get(discover, "_meta");
    json_t *info = json_object_get(meta, PT_MCP_META_SERVER_INFO);
    json_t *caps = json_object_get(discover, "capabilities");
    json_t *init = json_pack("{s:s, s:o, s:o}", "protocolVersion", PT_MCP_MODERN_VERSION, "capabilities",
                             json_is_object(caps) ? json_deep_copy(caps) : json_object(), "serverInfo",
                             json_is_object(info) ? json_deep_copy(info)
                                                  : json_pack("{s:s, s:s}", "name", name, "version", "unknown"));
    json_t *instructions = json_object_get(discover, "instructions");
    if (init && json_is_string(instructions)) json_object_set(init, "instructions", instructions);
    return init;
}
