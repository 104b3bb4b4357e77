/* mcp_config.c: the `mcp:` section as key tables (see mcp_config.h). */
#include "mcp/mcp_config.h"

#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/check.h"

#define MAX_SERVERS 256u
#define MAX_LIST 1000u

/* ---- one server --------------------------------------------------------------------- */

/* A name that prefixes tool names (a server's, an apis entry's) into *out. */
static int prefix_name(pt_cfg *c, const pt_cfg_node *v, char **out)
{
    if (pt_cfg_str(c, v, out) || pt_cfg_name(c, v, *out)) return -1;
    if (strlen(*out) + strlen(PT_MCP_SEP) >= PT_MCP_TOOL_NAME_MAX)
        return pt_cfg_fail(c, v, "'%s' is too long: it prefixes tool names, which must stay within %d characters",
                           PT_CFG_SHOW(v), PT_MCP_TOOL_NAME_MAX);
    return 0;
}

static int name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return prefix_name(c, v, &((pt_mcp_server *)obj)->name); }

static int args_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_server *s = obj;
    return PT_CFG_ALLOC(c, v, s->args, s->nargs, count) ? -1 : 0;
}

static int arg_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    return pt_cfg_str(c, it, &((pt_mcp_server *)obj)->args[i]);
}

static const pt_cfg_list args_list = { "a list of arguments", MAX_LIST, NULL, args_begin, arg_entry };

static int args_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &args_list, obj); }

static int env_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_server *s = obj;
    return PT_CFG_ALLOC(c, v, s->env, s->nenv, count) ? -1 : 0;
}

static int env_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    pt_cfg_kv *kv = &((pt_mcp_server *)obj)->env[i];
    bool ok = k->len > 0 && !(k->text[0] >= '0' && k->text[0] <= '9');
    for (size_t j = 0; ok && j < k->len; j++) {
        char ch = k->text[j];
        ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    }
    if (!ok) return pt_cfg_fail(c, k, "'%s' is not an environment variable name (letters, digits, _)", PT_CFG_SHOW(k));
    kv->name = strndup(k->text, k->len);
    if (!kv->name) return pt_cfg_oom(c, k);
    return pt_cfg_str(c, val, &kv->value);
}

static const pt_cfg_pairs env_pairs = { "a mapping of variable names to values", MAX_LIST, env_begin, env_pair };

static int env_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_pairs(c, v, &env_pairs, obj); }

static int url_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_mcp_server *s = obj;
    if (pt_cfg_str(c, v, &s->url)) return -1;
    pt_cfg_url_parts u = { 0 };
    if (pt_cfg_url(c, v, s->url, "url", true, &u)) {
        free(u.host);
        free(u.path);
        return -1;
    }
    s->tls = u.tls;
    s->host = u.host;
    s->port = u.port;
    if (u.path && u.path[0]) {
        s->path = u.path;
    } else {
        free(u.path);
        s->path = strdup("/");
        if (!s->path) return pt_cfg_oom(c, v);
    }
    return 0;
}

/* One of two words, no or yes: *yes says which. */
static int two_words(pt_cfg *c, const pt_cfg_node *v, const char *no, const char *yes, bool *is_yes)
{
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    bool y = strcmp(s, yes) == 0, n = strcmp(s, no) == 0;
    free(s);
    if (!y && !n) return pt_cfg_fail(c, v, "expected %s or %s, got '%s'", yes, no, PT_CFG_SHOW(v));
    *is_yes = y;
    return 0;
}

/* `auth: key` or `auth: none`, into *key. */
static int auth_word(pt_cfg *c, const pt_cfg_node *v, bool *key) { return two_words(c, v, "none", "key", key); }

static int server_auth_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return auth_word(c, v, &((pt_mcp_server *)obj)->auth_key);
}

static int server_prefix_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_mcp_server *s = obj;
    s->prefix_set = true;
    return pt_cfg_bool(c, v, &s->prefix);
}

/* `transport: streamable` (default) or `transport: sse` (the 2024-11-05 HTTP+SSE transport). */
static int transport_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return two_words(c, v, "streamable", "sse", &((pt_mcp_server *)obj)->legacy_sse);
}

/* `era: auto` (default: probed), `era: 2025` or `era: 2026`. */
static int era_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const words[] = { "auto", "2025", "2026" };
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(s, words[i]) == 0) {
            free(s);
            ((pt_mcp_server *)obj)->era = (pt_mcp_era)i;
            return 0;
        }
    }
    free(s);
    return pt_cfg_fail(c, v, "expected auto, 2025 or 2026, got '%s'", PT_CFG_SHOW(v));
}

static const pt_cfg_field server_fields[] = {
    CFG_FUNC("name", name_fn),
    CFG_STR("command", pt_mcp_server, command),
    CFG_FUNC("args", args_fn),
    CFG_FUNC("env", env_fn),
    CFG_STR("cwd", pt_mcp_server, cwd),
    CFG_FUNC("url", url_fn),
    CFG_FUNC("transport", transport_fn),
    CFG_FUNC("era", era_fn),
    CFG_DUR("timeout", pt_mcp_server, timeout_ms, 1, 3600000),
    CFG_UINT("max_concurrency", pt_mcp_server, max_concurrency, 1, 100000),
    CFG_FUNC("auth", server_auth_fn),
    CFG_FUNC("prefix", server_prefix_fn),
    CFG_END,
};

/* Checks that need the whole entry: which kind it is, and what goes with which. */
static int finish_server(pt_cfg *c, const pt_cfg_node *n, pt_mcp_server *s)
{
    if (!s->name) return pt_cfg_fail(c, n, "missing required key 'name'");
    if (!s->command && !s->url)
        return pt_cfg_fail(c, n, "give command (a stdio server Portico starts) or url (a Streamable HTTP server)");
    if (s->command && s->url) return pt_cfg_fail_key(c, "url", pt_cfg_map_get(n, "url"), "give either command or url, not both");
    if (s->command && !s->command[0]) return pt_cfg_fail_key(c, "command", pt_cfg_map_get(n, "command"), "is empty");
    if (s->command && s->legacy_sse)
        return pt_cfg_fail_key(c, "transport", pt_cfg_map_get(n, "transport"), "only applies to an HTTP server (url)");
    if (s->legacy_sse && s->era == PT_MCP_ERA_2026)
        return pt_cfg_fail_key(c, "era", pt_cfg_map_get(n, "era"), "2026 has no HTTP+SSE transport (transport: sse)");
    const char *stdio_only = s->nargs ? "args" : s->nenv ? "env" : s->cwd ? "cwd" : NULL;
    if (s->url && stdio_only)
        return pt_cfg_fail_key(c, stdio_only, pt_cfg_map_get(n, stdio_only), "only applies to a stdio server (command)");
    return 0;
}

static int servers_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_config *m = obj;
    if (PT_CFG_ALLOC(c, v, m->servers, m->nservers, count)) return -1;
    for (size_t i = 0; i < count; i++)
        m->servers[i] = (pt_mcp_server){ .timeout_ms = 60000, .max_concurrency = 32 };
    return 0;
}

static int server_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_mcp_config *m = obj;
    pt_mcp_server *s = &m->servers[i];
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with name and command or url, got %s", pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, server_fields, s, NULL) || finish_server(c, it, s)) return -1;
    for (size_t j = 0; j < i; j++)
        if (m->servers[j].name && strcmp(m->servers[j].name, s->name) == 0)
            return pt_cfg_fail_key(c, "name", pt_cfg_map_get(it, "name"), "duplicate server name '%s' (also servers[%zu])",
                                   s->name, j);
    return 0;
}

static const pt_cfg_list servers_list = { "a list of servers", MAX_SERVERS, NULL, servers_begin, server_entry };

static int servers_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &servers_list, obj); }

/* ---- apis: routes as tools --------------------------------------------------------------- */

static int api_name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return prefix_name(c, v, &((pt_mcp_api *)obj)->name); }

static int api_prefix_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_mcp_api *a = obj;
    a->prefix_set = true;
    return pt_cfg_bool(c, v, &a->prefix);
}

static int api_openapi_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_file(c, v, &((pt_mcp_api *)obj)->openapi);
}

static const pt_cfg_field api_fields[] = {
    CFG_FUNC("name", api_name_fn),
    CFG_STR("route", pt_mcp_api, route),
    CFG_FUNC("openapi", api_openapi_fn),
    CFG_DUR("timeout", pt_mcp_api, timeout_ms, 1, 3600000),
    CFG_FUNC("prefix", api_prefix_fn),
    CFG_END,
};

static int apis_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_config *m = obj;
    if (PT_CFG_ALLOC(c, v, m->apis, m->napis, count)) return -1;
    for (size_t i = 0; i < count; i++) m->apis[i] = (pt_mcp_api){ .timeout_ms = 60000 };
    return 0;
}

/* The name an entry goes by: its own, else its route's when that is a valid name. */
static int api_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_mcp_config *m = obj;
    pt_mcp_api *a = &m->apis[i];
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with route (and openapi for a REST route), got %s",
                           pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, api_fields, a, NULL)) return -1;
    if (!a->route || !a->route[0]) return pt_cfg_fail(c, it, "missing required key 'route': the route whose API becomes tools");
    if (!a->name) {
        const pt_cfg_node *r = pt_cfg_map_get(it, "route");
        if (strspn(a->route, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(a->route) ||
            strlen(a->route) + strlen(PT_MCP_SEP) >= PT_MCP_TOOL_NAME_MAX)
            return pt_cfg_fail_key(c, "route", r, "'%s' cannot name tools: give the entry a name (A-Z a-z 0-9 _ - .)",
                                   a->route);
        if (!(a->name = strdup(a->route))) return pt_cfg_oom(c, it);
    }
    if (pt_mcp_config_server(m, a->name, strlen(a->name)) || strcmp(a->name, PT_MCP_BUILTIN) == 0)
        return pt_cfg_fail(c, it, "the name '%s' is taken by %s: give the entry another name", a->name,
                           strcmp(a->name, PT_MCP_BUILTIN) == 0 ? "the built-in tools" : "an MCP server");
    for (size_t j = 0; j < i; j++)
        if (strcmp(m->apis[j].name, a->name) == 0)
            return pt_cfg_fail(c, it, "a second entry named '%s' (also apis[%zu])", a->name, j);
    return 0;
}

static const pt_cfg_list apis_list = { "a list of routes to expose as tools", MAX_SERVERS, NULL, apis_begin, api_entry };

const pt_mcp_api *pt_mcp_config_api(const pt_mcp_config *m, const char *name, size_t len)
{
    for (size_t i = 0; m && i < m->napis; i++)
        if (strlen(m->apis[i].name) == len && memcmp(m->apis[i].name, name, len) == 0) return &m->apis[i];
    return NULL;
}

/* ---- the section -------------------------------------------------------------------- */

static int mcp_auth_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return auth_word(c, v, &((pt_mcp_config *)obj)->auth_key);
}

static int origins_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_config *m = obj;
    return PT_CFG_ALLOC(c, v, m->allowed_origins, m->norigins, count) ? -1 : 0;
}

/* An origin as browsers send it: scheme://host[:port], nothing after. */
static int origin_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_mcp_config *m = obj;
    char **o = &m->allowed_origins[i];
    if (pt_cfg_str(c, it, o)) return -1;
    const char *p = strstr(*o, "://");
    if (!p || p == *o || !p[3] || strchr(p + 3, '/') || strpbrk(*o, " \t\r\n"))
        return pt_cfg_fail(c, it, "'%s' is not an origin (expected scheme://host[:port], e.g. https://app.example.com)",
                           PT_CFG_SHOW(it));
    return 0;
}

static const pt_cfg_list origins_list = { "a list of origins", MAX_LIST, NULL, origins_begin, origin_entry };

static int origins_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &origins_list, obj); }

static int hosts_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_config *m = obj;
    return PT_CFG_ALLOC(c, v, m->allowed_hosts, m->nhosts, count) ? -1 : 0;
}

static int host_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_mcp_config *m = obj;
    if (pt_cfg_str(c, it, &m->allowed_hosts[i])) return -1;
    return pt_cfg_host_pattern(c, it, m->allowed_hosts[i]);
}

static const pt_cfg_list hosts_list = { "a list of host names", MAX_LIST, NULL, hosts_begin, host_entry };

static int hosts_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &hosts_list, obj); }

/* ---- access ---------------------------------------------------------------------------- */

/* A list of patterns into *v / *n (the member access entries point at). */
typedef struct patterns {
    char ***v;
    size_t *n;
    const pt_mcp_config *m;
} patterns;

static int patterns_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    patterns *p = obj;
    return PT_CFG_ALLOC(c, v, *p->v, *p->n, count) ? -1 : 0;
}

/* Whether pattern ("server" or "server/tool") is well formed and its server part, unless it
 * has a '*', names a server, an apis entry or the built-in tools; else why. */
static bool pattern_ok(const pt_mcp_config *m, const char *pattern, char *why, size_t whysz)
{
    const char *slash = strchr(pattern, '/');
    size_t sl = slash ? (size_t)(slash - pattern) : strlen(pattern);
    if (!sl || (slash && (!slash[1] || strchr(slash + 1, '/')))) {
        snprintf(why, whysz, "'%.100s' is not a server or server/tool pattern (e.g. files, files/read_*)", pattern);
        return false;
    }
    bool builtin = sl == strlen(PT_MCP_BUILTIN) && memcmp(pattern, PT_MCP_BUILTIN, sl) == 0;
    if (memchr(pattern, '*', sl) || builtin || pt_mcp_config_server(m, pattern, sl) || pt_mcp_config_api(m, pattern, sl))
        return true;
    snprintf(why, whysz, "no MCP server named '%.*s' in mcp.servers (nor an entry of mcp.apis)", (int)(sl > 100 ? 100 : sl),
             pattern);
    return false;
}

static int pattern_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    patterns *p = obj;
    char **out = &(*p->v)[i];
    char why[200];
    if (pt_cfg_str(c, it, out)) return -1;
    return pattern_ok(p->m, *out, why, sizeof why) ? 0 : pt_cfg_fail(c, it, "%s", why);
}

static const pt_cfg_list patterns_list = { "a list of server or server/tool patterns", MAX_LIST, NULL,
                                           patterns_begin, pattern_entry };

typedef struct access_obj {
    pt_mcp_access *a;
    const pt_mcp_config *m;
} access_obj;

static int allow_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    access_obj *o = obj;
    o->a->allow_set = true;
    patterns p = { &o->a->allow, &o->a->nallow, o->m };
    return pt_cfg_map_list(c, v, &patterns_list, &p);
}

static int deny_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    access_obj *o = obj;
    patterns p = { &o->a->deny, &o->a->ndeny, o->m };
    return pt_cfg_map_list(c, v, &patterns_list, &p);
}

static int consumer_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_str(c, v, &((access_obj *)obj)->a->consumer);
}

static int team_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_str(c, v, &((access_obj *)obj)->a->team);
}

static const pt_cfg_field access_fields[] = {
    CFG_FUNC("consumer", consumer_fn),
    CFG_FUNC("team", team_fn),
    CFG_FUNC("allow", allow_fn),
    CFG_FUNC("deny", deny_fn),
    CFG_END,
};

static int access_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_mcp_config *m = obj;
    return PT_CFG_ALLOC(c, v, m->access, m->naccess, count) ? -1 : 0;
}

static int access_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pt_mcp_config *m = obj;
    pt_mcp_access *a = &m->access[i];
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with consumer or team, and allow or deny, got %s",
                           pt_cfg_kind_name(it));
    access_obj o = { a, m };
    if (pt_cfg_map_fields(c, it, access_fields, &o, NULL)) return -1;
    if (!a->consumer == !a->team)
        return pt_cfg_fail(c, it, "name one consumer or one team the entry is for, not %s",
                           a->consumer ? "both" : "neither");
    if (!a->allow_set && !a->ndeny) return pt_cfg_fail(c, it, "give allow, deny or both");
    for (size_t j = 0; j < i; j++) {
        const pt_mcp_access *b = &m->access[j];
        if ((a->consumer && b->consumer && strcmp(a->consumer, b->consumer) == 0) ||
            (a->team && b->team && strcmp(a->team, b->team) == 0))
            return pt_cfg_fail(c, it, "a second entry for %s '%s' (also access[%zu]): merge them",
                               a->consumer ? "consumer" : "team", a->consumer ? a->consumer : a->team, j);
    }
    return 0;
}

static const pt_cfg_list access_list = { "a list of access entries", MAX_LIST, NULL, access_begin, access_entry };

/* Keys mapped after the rest: `apis:` and `access:` once the servers are (they name them), and
 * `cors:` by the gateway, onto the route it adds. */
static int access_later_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    (void)c, (void)v, (void)obj;
    return 0;
}

/* Copies n patterns into *out, each checked; -1 with why. */
static int copy_patterns(const pt_mcp_config *m, char *const *in, size_t n, char ***out, char *why, size_t whysz)
{
    *out = n ? calloc(n, sizeof **out) : NULL;
    if (n && !*out) return snprintf(why, whysz, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        if (!pattern_ok(m, in[i], why, whysz)) return -1;
        if (!((*out)[i] = strdup(in[i]))) return snprintf(why, whysz, "out of memory"), -1;
    }
    return 0;
}

static void access_release(pt_mcp_access *a)
{
    free(a->consumer);
    free(a->team);
    for (size_t j = 0; a->allow && j < a->nallow; j++) free(a->allow[j]);
    for (size_t j = 0; a->deny && j < a->ndeny; j++) free(a->deny[j]);
    free(a->allow);
    free(a->deny);
}

int pt_mcp_access_add(pt_mcp_config *m, const char *consumer, const char *team, char *const *allow, size_t nallow,
                      bool allow_set, char *const *deny, size_t ndeny, char *why, size_t whysz)
{
    for (size_t i = 0; i < m->naccess; i++)
        if ((consumer && m->access[i].consumer && strcmp(consumer, m->access[i].consumer) == 0) ||
            (team && m->access[i].team && strcmp(team, m->access[i].team) == 0))
            return 1;
    pt_mcp_access a = { .allow_set = allow_set, .nallow = nallow, .ndeny = ndeny };
    if ((consumer && !(a.consumer = strdup(consumer))) || (team && !(a.team = strdup(team))))
        snprintf(why, whysz, "out of memory");
    else if (copy_patterns(m, allow, nallow, &a.allow, why, whysz) == 0 &&
             copy_patterns(m, deny, ndeny, &a.deny, why, whysz) == 0) {
        pt_mcp_access *v = realloc(m->access, (m->naccess + 1) * sizeof *v);
        if (v) {
            m->access = v;
            m->access[m->naccess++] = a;
            return 0;
        }
        snprintf(why, whysz, "out of memory");
    }
    access_release(&a);
    return -1;
}

const pt_mcp_access *pt_mcp_access_for(const pt_mcp_config *m, const char *consumer, const char *team)
{
    const pt_mcp_access *by_team = NULL;
    for (size_t i = 0; m && i < m->naccess; i++) {
        const pt_mcp_access *a = &m->access[i];
        if (a->consumer && consumer && strcmp(a->consumer, consumer) == 0) return a;
        if (a->team && team && strcmp(a->team, team) == 0) by_team = a;
    }
    return by_team;
}

/* Whether pattern covers server/tool: a server-only pattern covers all of it; with tool
 * NULL, a server/tool pattern covers the server when its server part does (some tool). */
static bool covers(const char *pattern, const char *server, const char *tool, bool whole_only)
{
    const char *slash = strchr(pattern, '/');
    char sp[128];
    snprintf(sp, sizeof sp, "%.*s", (int)(slash ? slash - pattern : (ptrdiff_t)strlen(pattern)), pattern);
    if (fnmatch(sp, server, 0) != 0) return false;
    if (!slash) return true;
    if (!tool) return !whole_only;
    return fnmatch(slash + 1, tool, 0) == 0;
}

bool pt_mcp_access_allows(const pt_mcp_access *a, const char *server, const char *tool)
{
    if (!a) return true;
    for (size_t i = 0; i < a->ndeny; i++)
        if (covers(a->deny[i], server, tool, true)) return false;
    if (!a->allow_set) return true;
    for (size_t i = 0; i < a->nallow; i++)
        if (covers(a->allow[i], server, tool, false)) return true;
    return false;
}

static const pt_cfg_field mcp_fields[] = {
    CFG_FUNC("servers", servers_fn),
    CFG_FUNC("auth", mcp_auth_fn),
    CFG_FUNC("allowed_origins", origins_fn),
    CFG_FUNC("allowed_hosts", hosts_fn),
    CFG_SIZE("max_message_bytes", pt_mcp_config, max_message_bytes, 1024, 1ull << 30),
    CFG_BOOL("prefix", pt_mcp_config, prefix),
    CFG_FUNC("access", access_later_fn),
    CFG_FUNC("apis", access_later_fn),
    CFG_BOOL("diagnose_connection", pt_mcp_config, diagnose_connection),
    CFG_DUR("diagnose_deadline", pt_mcp_config, diagnose_deadline_ms, 1, 600000),
    CFG_BOOL("record_arguments", pt_mcp_config, record_arguments),
    CFG_FUNC("cors", access_later_fn), /* the /mcp route's cors, mapped by the gateway (gateway/cors.c) */
    CFG_END,
};

pt_mcp_config *pt_mcp_config_map(pt_cfg *c, const pt_cfg_node *v, bool key_required)
{
    pt_mcp_config *m = calloc(1, sizeof *m);
    if (!m) {
        pt_cfg_oom(c, v);
        return NULL;
    }
    m->max_message_bytes = 4u << 20;
    m->prefix = true;
    m->diagnose_connection = true;
    m->diagnose_deadline_ms = 30000;
    m->key_required = key_required;
    if (v->kind != PT_CFG_MAP && !pt_cfg_is_null(v)) {
        pt_cfg_fail(c, v, "expected a mapping with servers, got %s", pt_cfg_kind_name(v));
        pt_mcp_config_free(m);
        return NULL;
    }
    if (pt_cfg_map_fields(c, v, mcp_fields, m, NULL)) {
        pt_mcp_config_free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->nservers; i++)
        if (!m->servers[i].prefix_set) m->servers[i].prefix = m->prefix;
    const pt_cfg_node *apis = pt_cfg_map_get(v, "apis");
    if (apis) {
        size_t mark = pt_cfg_push_key(c, "apis");
        int rc = pt_cfg_map_list(c, apis, &apis_list, m);
        pt_cfg_pop(c, mark);
        if (rc) {
            pt_mcp_config_free(m);
            return NULL;
        }
    }
    for (size_t i = 0; i < m->napis; i++)
        if (!m->apis[i].prefix_set) m->apis[i].prefix = m->prefix;
    const pt_cfg_node *access = pt_cfg_map_get(v, "access");
    if (access) {
        size_t mark = pt_cfg_push_key(c, "access");
        int rc = pt_cfg_map_list(c, access, &access_list, m);
        if (rc == 0 && m->naccess && !pt_mcp_config_keyed(m))
            rc = pt_cfg_fail(c, access, "callers are told apart by their key: give `auth: key` to /mcp or to the "
                                        "servers the entries are about");
        pt_cfg_pop(c, mark);
        if (rc) {
            pt_mcp_config_free(m);
            return NULL;
        }
    }
    return m;
}

static void server_free(pt_mcp_server *s)
{
    free(s->name);
    free(s->command);
    for (size_t i = 0; i < s->nargs; i++) free(s->args[i]);
    free(s->args);
    pt_cfg_kv_free(s->env, s->nenv);
    free(s->cwd);
    free(s->url);
    free(s->host);
    free(s->path);
}

void pt_mcp_config_free(pt_mcp_config *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nservers; i++) server_free(&m->servers[i]);
    free(m->servers);
    for (size_t i = 0; i < m->norigins; i++) free(m->allowed_origins[i]);
    free(m->allowed_origins);
    for (size_t i = 0; i < m->nhosts; i++) free(m->allowed_hosts[i]);
    free(m->allowed_hosts);
    for (size_t i = 0; i < m->naccess; i++) access_release(&m->access[i]);
    free(m->access);
    for (size_t i = 0; i < m->napis; i++) {
        free(m->apis[i].name);
        free(m->apis[i].route);
        free(m->apis[i].openapi);
    }
    free(m->apis);
    pt_mcp_apitools_release(&m->tools);
    free(m);
}

const pt_mcp_server *pt_mcp_config_server(const pt_mcp_config *m, const char *name, size_t len)
{
    for (size_t i = 0; m && i < m->nservers; i++)
        if (strlen(m->servers[i].name) == len && memcmp(m->servers[i].name, name, len) == 0) return &m->servers[i];
    return NULL;
}

bool pt_mcp_config_served(const pt_mcp_config *m) { return m && (m->nservers || m->napis); }

bool pt_mcp_config_keyed(const pt_mcp_config *m)
{
    if (!pt_mcp_config_served(m)) return false;
    bool keyed = m->auth_key || m->key_required;
    for (size_t i = 0; i < m->nservers; i++) keyed |= m->servers[i].auth_key;
    return keyed;
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

bool pt_mcp_server_same(const pt_mcp_server *a, const pt_mcp_server *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->command, b->command) || !str_eq(a->cwd, b->cwd) ||
        !str_eq(a->url, b->url) || a->legacy_sse != b->legacy_sse || a->era != b->era || a->nargs != b->nargs || a->nenv != b->nenv)
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (!str_eq(a->args[i], b->args[i])) return false;
    for (size_t i = 0; i < a->nenv; i++)
        if (!str_eq(a->env[i].name, b->env[i].name) || !str_eq(a->env[i].value, b->env[i].value)) return false;
    return true;
}
