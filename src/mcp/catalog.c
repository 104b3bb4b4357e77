/* catalog.c: merging upstream tool lists for /mcp (see catalog.h). */
#include "mcp/catalog.h"

#include <stdio.h>
#include <string.h>

#include "mcp/mcp_config.h"

static bool name_chars_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static bool prefixed(const pt_mcp_tools_in *in) { return in->prefix && (!in->key || strcmp(in->key, "name") == 0); }

bool pt_mcp_final_name(const pt_mcp_tools_in *in, const char *tool, char *out, size_t outsz)
{
    int w = prefixed(in) ? snprintf(out, outsz, "%s%s%s", in->server, PT_MCP_SEP, tool) : snprintf(out, outsz, "%s", tool);
    return w > 0 && (size_t)w < outsz;
}

static const char *entry_name(const pt_mcp_tools_in *in, json_t *t)
{
    return json_string_value(json_object_get(t, in->key ? in->key : "name"));
}

#define NAME_MAX_BYTES 1024 /* a longer final name (a URI) is left out */

/* Why an entry of in[i] cannot be served under final (NULL when it can): checks the
 * name and whether an earlier tool already took final. */
static const char *refusal(const pt_mcp_tools_in *in, size_t i, size_t j, const char *final, char *why, size_t whysz)
{
    if (!in[i].key && strlen(final) > PT_MCP_TOOL_NAME_MAX) { /* tools only: prompts and resources collide or pass */
        snprintf(why, whysz, "its name '%s' is longer than %d characters", final, PT_MCP_TOOL_NAME_MAX);
        return why;
    }
    if (!in[i].key && !name_chars_ok(final)) {
        snprintf(why, whysz, "its name '%s' has characters other than A-Z a-z 0-9 _ - .", final);
        return why;
    }
    char other[NAME_MAX_BYTES];
    for (size_t a = 0; a <= i; a++) {
        size_t nt = in[a].tools ? json_array_size(in[a].tools) : 0;
        for (size_t b = 0; b < nt && (a < i || b < j); b++) {
            const char *on = entry_name(&in[a], json_array_get(in[a].tools, b));
            if (on && pt_mcp_final_name(&in[a], on, other, sizeof other) && strcmp(other, final) == 0) {
                snprintf(why, whysz, "'%s' collides with server '%s''s", final, in[a].server);
                return why;
            }
        }
    }
    return NULL;
}

json_t *pt_mcp_tools_merge(const pt_mcp_tools_in *in, size_t n, pt_buf *problems)
{
    json_t *out = json_array();
    if (!out) return NULL;
    char final[NAME_MAX_BYTES], why[NAME_MAX_BYTES + 200];
    for (size_t i = 0; i < n; i++) {
        size_t nt = in[i].tools ? json_array_size(in[i].tools) : 0;
        for (size_t j = 0; j < nt; j++) {
            json_t *t = json_array_get(in[i].tools, j);
            const char *name = entry_name(&in[i], t);
            if (!json_is_object(t) || !name) {
                if (problems) pt_buf_printf(problems, "server '%s': entry %zu has no %s; left out\n", in[i].server, j,
                                            in[i].key ? in[i].key : "name");
                continue;
            }
            if (!pt_mcp_final_name(&in[i], name, final, sizeof final)) final[0] = '\0';
            const char *bad = final[0] ? refusal(in, i, j, final, why, sizeof why) : "its name is too long";
            if (bad) {
                if (problems)
                    pt_buf_printf(problems, "server '%s': %s '%s': %s; left out\n", in[i].server,
                                  !in[i].key ? "tool" : strcmp(in[i].key, "name") == 0 ? "prompt" : "resource", name, bad);
                continue;
            }
            json_t *copy = json_copy(t);
            if (!copy || json_object_set_new(copy, in[i].key ? in[i].key : "name", json_string(final)) || json_array_append_new(out, copy)) {
                json_decref(out);
                return NULL;
            }
        }
    }
    return out;
}

int pt_mcp_tool_route(const pt_mcp_tools_in *in, size_t n, const char *name, const char **tool)
{
    char final[NAME_MAX_BYTES], why[NAME_MAX_BYTES + 200];
    for (size_t i = 0; i < n; i++) {
        size_t nt = in[i].tools ? json_array_size(in[i].tools) : 0;
        for (size_t j = 0; j < nt; j++) {
            const char *tn = entry_name(&in[i], json_array_get(in[i].tools, j));
            if (!tn || !pt_mcp_final_name(&in[i], tn, final, sizeof final) || strcmp(final, name) != 0) continue;
            if (refusal(in, i, j, final, why, sizeof why)) return -1; /* the first holder was refused too, or won */
            *tool = tn;
            return (int)i;
        }
    }
    return -1;
}

int pt_mcp_prefix_route(const char *const *servers, const bool *prefixed, size_t n, const char *name, const char **tool)
{
    size_t seplen = strlen(PT_MCP_SEP);
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(servers[i]);
        if (!prefixed[i] || strncmp(name, servers[i], sl) != 0 || strncmp(name + sl, PT_MCP_SEP, seplen) != 0) continue;
        if (!name[sl + seplen]) continue;
        *tool = name + sl + seplen;
        return (int)i;
    }
    return -1;
}
