/* modern.c: the stateless 2026-07-28 revision's client requests (see modern.h). */
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

/* The member of params that Mcp-Name mirrors for method, or NULL when it mirrors none. */
static const char *named_by(const char *method)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) return "name";
    if (strcmp(method, "resources/read") == 0) return "uri";
    return NULL;
}

/* Mcp-Name against the body's name (when the body has one: a request without it is the
 * method's own -32602). */
static int check_name(const pt_mcp_msg *m, pt_slice header, pt_mcp_refusal *out)
{
    const char *member = named_by(m->method);
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
    if (!json_object_get(result, "cacheScope")) json_object_set_new(result, "cacheScope", json_string("private"));
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
