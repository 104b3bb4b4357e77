/* check_mcp.c: the doctor's "mcp" check. For mcp+http(s):// it does what a Streamable HTTP client
 * does (POST initialize, notifications/initialized, tools/list with the session id) and names
 * the classic failures: wrong path (/sse vs /mcp, found by trying the usual sibling paths), the
 * old HTTP+SSE transport (GET gives an `endpoint` event), 406 on Accept, 421/403 from Host or
 * Origin checks, a missing or rejected session id, a protocol version mismatch, 401 without
 * resource metadata. For --mcp-stdio it starts the command as a client would and names: not on
 * PATH (and where a file of that name is), exiting at once (with its stderr), non-JSON bytes on
 * stdout, no answer to initialize. The child is always stopped and reaped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "doctor/check.h"
#include "doctor/probe_fp.h"
#include "doctor/probe_http.h"
#include "doctor/probe_mcp.h"
#include "doctor/probe_net.h"
#include "doctor/probe_stdio.h"
#include "mcp/modern.h"

#define INIT_ID 1
#define LIST_ID 2
#define PROBE_ID 3
#define DISCOVER_ID 4

/* ------------------------------------------------------------------ the 2026-07-28 revision */

/* Sends one request of the stateless revision (its _meta in params) and returns the response
 * (new reference), or NULL with why. */
typedef json_t *(*modern_ask_fn)(void *transport, long id, const char *method, char *why, size_t whysz);

/* A server that refused initialize and named 2026-07-28 among the versions it supports. That
 * revision has no handshake: server/discover and tools/list, each carrying its _meta, say
 * whether the server works. A working one still cannot serve a client of the 2025 revisions,
 * which begins with initialize: a warning, with the ways around it. */
static void modern_only(pt_dr_result *res, const char *who, const char *over, modern_ask_fn ask, void *transport)
{
    json_t *ev = pt__dr_evidence(res);
    char why[300], names[400];
    json_t *msg = ask(transport, DISCOVER_ID, "server/discover", why, sizeof why);
    if (!msg || pt_mcp_discover_era(msg, why, sizeof why) != PT_MCP_ERA_ANSWER_MODERN) {
        pt_dr_set(res, PT_DR_FAIL, "mcp_init_error", 75, "%s refused initialize as a server of the 2026-07-28 revision "
                  "does, but its server/discover %s: %s", who, msg ? "failed" : "got no answer", why);
        json_decref(msg);
        return;
    }
    pt_dr_mcp_init init;
    json_t *as_init = json_pack("{s:o}", "result", pt_mcp_discover_as_init(json_object_get(msg, "result"), who));
    if (pt__dr_mcp_read_init(as_init, &init) != 0) snprintf(init.server, sizeof init.server, "%s", who);
    json_decref(as_init);
    json_decref(msg);
    json_object_set_new(ev, "server", json_string(init.server));
    json_object_set_new(ev, "protocol_version", json_string(PT_MCP_MODERN_VERSION));
    msg = ask(transport, LIST_ID, "tools/list", why, sizeof why);
    int n = msg ? pt__dr_mcp_tool_count(msg, names, sizeof names) : -1;
    json_decref(msg);
    if (n < 0) {
        pt_dr_set(res, PT_DR_FAIL, "mcp_init_error", 60, "%s answered server/discover (MCP 2026-07-28), but %s",
                  init.server, msg ? "tools/list returned no result.tools" : why);
        return;
    }
    json_object_set_new(ev, "tools", json_integer(n));
    pt_dr_set(res, PT_DR_WARN, "mcp_modern_only", 60, "%s speaks only MCP 2026-07-28 %s: server/discover and "
              "tools/list work (%d tool%s%s%s), but a client of the 2025 revisions, which begins with initialize, "
              "cannot use it", init.server, over, n, n == 1 ? "" : "s", n ? ": " : "", names);
    pt_dr_remedy(res, "Use a client that speaks MCP 2026-07-28, or reach the server through Portico: its /mcp and "
                 "/mcp/<server> endpoints serve clients of either revision from it.");
}

/* ------------------------------------------------------------------ Streamable HTTP */

typedef struct mcp_http {
    pt_dr_ctx *ctx;
    pt_dr_result *res;
    char addr[64];
    char auth[300];       /* Host header value and URL authority */
    json_t *requests;     /* evidence: every request made */
} mcp_http;

typedef struct want_id {
    long id;
} want_id;

/* Stop reading an event stream once it carried the response we wait for. */
static bool enough_response(const pt_dr_http_resp *r, void *arg)
{
    if (!r->is_sse) return r->truncated;
    char why[8];
    json_t *m = pt__dr_mcp_find_response(r, ((want_id *)arg)->id, why, sizeof why);
    json_decref(m);
    return m != NULL;
}

static bool enough_first_event(const pt_dr_http_resp *r, void *arg)
{
    (void)arg;
    return r->is_sse ? r->sse.n > 0 : r->truncated;
}

/* A short printable view of a body: a JSON-RPC error's message when it is one, else its start. */
static void body_excerpt(const pt_dr_http_resp *r, char *out, size_t outsz)
{
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    pt_slice s = msg ? pt_slice_cstr(msg) : pt_slice_from(r->body.data, r->body.len);
    pt__dr_fp_printable(pt_slice_from(s.ptr, s.len > 160 ? 160 : s.len), out, outsz);
    json_decref(j);
}

static void note_request(mcp_http *m, const char *method, const char *path, const char *what, int rc,
                         const pt_dr_http_resp *r, const char *err)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "method", method, "path", path, "sent", what);
    if (rc == 0) {
        const char *ct = pt__dr_http_header(r, "Content-Type");
        json_object_set_new(o, "status", json_integer(r->status));
        if (ct) json_object_set_new(o, "content_type", json_string(ct));
        if (r->status >= 400 && r->body.len) {
            char ex[200];
            body_excerpt(r, ex, sizeof ex);
            json_object_set_new(o, "body", json_string(ex));
        }
    } else {
        json_object_set_new(o, "error", json_string(err));
    }
    json_array_append_new(m->requests, o);
}

#define ACCEPT_BOTH "application/json, text/event-stream"

/* POSTs one JSON-RPC message with the given Accept. id >= 0 waits for that response in an
 * event stream. */
static int post_accept(mcp_http *m, const char *accept, const char *path, long id, const char *method,
                       json_t *params, const char *session, const char *version, pt_dr_http_resp *r, char *err,
                       size_t errsz)
{
    const pt_dr_target *t = m->ctx->target;
    char *body = pt__dr_mcp_message(id, method, params);
    pt_buf hdr = PT_BUF_INIT;
    pt_buf_printf(&hdr, "Accept: %s\r\nContent-Type: application/json\r\n", accept);
    if (session) pt_buf_printf(&hdr, "Mcp-Session-Id: %s\r\n", session);
    if (version) pt_buf_printf(&hdr, "MCP-Protocol-Version: %s\r\n", version);
    /* a request of the 2026-07-28 revision mirrors its method in a header */
    if (version && strcmp(version, PT_MCP_MODERN_VERSION) == 0) pt_buf_printf(&hdr, "Mcp-Method: %s\r\n", method);
    want_id w = { id };
    pt_dr_http_req req = { .method = "POST", .path = path, .host = m->auth, .headers = hdr.data,
                           .body = pt_slice_cstr(body ? body : "{}"), .body_cap = 256 * 1024,
                           .enough = enough_response, .arg = &w };
    int rc = pt__dr_http_do(m->addr, t->port, t->tls, t->host, &req, pt__dr_deadline(m->ctx->opts->timeout_ms), r,
                            NULL, err, errsz);
    note_request(m, "POST", path, method, rc, r, err);
    if (strcmp(accept, ACCEPT_BOTH) != 0)
        json_object_set_new(json_array_get(m->requests, json_array_size(m->requests) - 1), "accept", json_string(accept));
    free(body);
    pt_buf_release(&hdr);
    return rc;
}

/* POSTs with the Accept every MCP client must send. */
static int post(mcp_http *m, const char *path, long id, const char *method, json_t *params, const char *session,
                const char *version, pt_dr_http_resp *r, char *err, size_t errsz)
{
    return post_accept(m, ACCEPT_BOTH, path, id, method, params, session, version, r, err, errsz);
}

static int get_stream(mcp_http *m, const char *path, pt_dr_http_resp *r, char *err, size_t errsz)
{
    const pt_dr_target *t = m->ctx->target;
    pt_dr_http_req req = { .method = "GET", .path = path, .host = m->auth, .headers = "Accept: text/event-stream\r\n",
                           .body_cap = 16384, .enough = enough_first_event };
    int rc = pt__dr_http_do(m->addr, t->port, t->tls, t->host, &req, pt__dr_deadline(m->ctx->opts->timeout_ms), r,
                            NULL, err, errsz);
    note_request(m, "GET", path, "Accept: text/event-stream", rc, r, err);
    return rc;
}

/* Ends a session the doctor opened (best effort; servers may answer 405). */
static void delete_session(mcp_http *m, const char *path, const char *session)
{
    const pt_dr_target *t = m->ctx->target;
    char hdr[400], err[200];
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n", session);
    pt_dr_http_req req = { .method = "DELETE", .path = path, .host = m->auth, .headers = hdr, .body_cap = 1024 };
    pt_dr_http_resp r;
    (void)pt__dr_http_do(m->addr, t->port, t->tls, t->host, &req, pt__dr_deadline(m->ctx->opts->timeout_ms), &r, NULL,
                         err, sizeof err);
    pt__dr_http_resp_release(&r);
}

static void url_for(mcp_http *m, const char *path, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s://%s%s", m->ctx->target->tls ? "mcp+https" : "mcp+http", m->auth, path);
}

/* Does path take an initialize? Fills init when it does. Cleans up the session it made. */
static bool initialize_works(mcp_http *m, const char *path, pt_dr_mcp_init *init, int *status)
{
    pt_dr_http_resp r;
    char err[300], why[200];
    bool ok = false;
    *status = 0;
    if (post(m, path, INIT_ID, "initialize", pt__dr_mcp_initialize_params(PT_DR_MCP_VERSION), NULL, NULL, &r, err,
             sizeof err) == 0) {
        *status = r.status;
        json_t *msg = r.status / 100 == 2 ? pt__dr_mcp_find_response(&r, INIT_ID, why, sizeof why) : NULL;
        ok = msg && pt__dr_mcp_read_init(msg, init) == 0 && init->ok;
        json_decref(msg);
        const char *sid = pt__dr_http_header(&r, "Mcp-Session-Id");
        if (sid) delete_session(m, path, sid);
    }
    pt__dr_http_resp_release(&r);
    return ok;
}

/* Is path an old HTTP+SSE endpoint? Returns true with the endpoint event's data in out. */
static bool old_transport_at(mcp_http *m, const char *path, char *out, size_t outsz)
{
    pt_dr_http_resp r;
    char err[300];
    bool yes = false;
    if (get_stream(m, path, &r, err, sizeof err) == 0 && r.status == 200 && r.is_sse && r.sse.n > 0 &&
        strcmp(r.sse.events[0].event, "endpoint") == 0) {
        snprintf(out, outsz, "%s", r.sse.events[0].data);
        yes = true;
    }
    pt__dr_http_resp_release(&r);
    return yes;
}

static bool same_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    while (lb > 1 && b[lb - 1] == '/') lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

/* The URL's path does not take an initialize: find out what the server speaks, and where. */
static void endpoint_elsewhere(mcp_http *m, const char *path, const char *what_happened)
{
    static const char *siblings[] = { "/mcp", "/sse", "/" };
    char old_here[512] = "", old_where[64] = "", old_there[512] = "", url[700];
    const char *modern = NULL;
    pt_dr_mcp_init init;
    int st;
    json_t *ev = pt__dr_evidence(m->res);
    bool old = old_transport_at(m, path, old_here, sizeof old_here);
    for (size_t i = 0; i < sizeof siblings / sizeof siblings[0] && !modern; i++) {
        if (same_path(siblings[i], path)) continue;
        if (initialize_works(m, siblings[i], &init, &st)) modern = siblings[i];
        else if (!old && !old_where[0] && old_transport_at(m, siblings[i], old_there, sizeof old_there))
            snprintf(old_where, sizeof old_where, "%s", siblings[i]);
    }
    if (old) json_object_set_new(ev, "old_sse_endpoint_event", json_string(old_here));
    if (modern) {
        json_object_set_new(ev, "working_path", json_string(modern));
        url_for(m, modern, url, sizeof url);
        pt_dr_set(m->res, PT_DR_FAIL, "mcp_wrong_path", 90,
                  "%s; the server speaks MCP (Streamable HTTP) at %s, not at %s (%s)", what_happened, modern, path,
                  init.server);
        pt_dr_remedy(m->res, "Use %s (in a client's config: \"url\": \"http%s://%s%s\").", url,
                     m->ctx->target->tls ? "s" : "", m->auth, modern);
        if (old)
            pt_dr_remedy(m->res, "%s itself is the old HTTP+SSE transport (2024-11-05); clients that only speak "
                         "that transport may keep using it.", path);
        return;
    }
    if (old || old_where[0]) {
        const char *where = old ? path : old_where;
        json_object_set_new(ev, "old_sse_path", json_string(where));
        url_for(m, where, url, sizeof url);
        pt_dr_set(m->res, PT_DR_FAIL, "mcp_old_sse_transport", old ? 88 : 85,
                  "%s; the server speaks only the old HTTP+SSE transport (2024-11-05) at %s: GET opens an event "
                  "stream whose first event is `endpoint` (%s)", what_happened, where, old ? old_here : old_there);
        pt_dr_remedy(m->res, "Configure the client for the SSE transport with http%s://%s%s (client configs: "
                     "\"type\": \"sse\"; mcp-remote: --transport sse-only), or move the server to Streamable HTTP "
                     "(TypeScript SDK: StreamableHTTPServerTransport; Python FastMCP: transport=\"streamable-http\"), "
                     "which current clients expect.", m->ctx->target->tls ? "s" : "", m->auth, where);
        return;
    }
    pt_dr_set(m->res, PT_DR_FAIL, "mcp_wrong_path", 65,
              "%s, and none of /mcp, /sse, / answers an MCP initialize or opens an SSE endpoint stream",
              what_happened);
    pt_dr_remedy(m->res, "Check the MCP path in the server's startup log or documentation, and that what listens on "
                 "%s is an MCP server at all (the http check shows what it answers).", m->auth);
}

/* Fetches the protected-resource metadata (RFC 9728) a 401 points at, as an OAuth-capable client
 * does first. Only URLs on the target's own host are fetched (its address, any port); returns
 * false with a reason in why when the document is missing or unusable, true when it is usable
 * or was not fetched (*checked false). */
static bool metadata_usable(mcp_http *m, const char *url, bool *checked, char *why, size_t whysz)
{
    const pt_dr_target *t = m->ctx->target;
    char host[300] = "", path[1024] = "/";
    long port;
    bool tls = strncasecmp(url, "https://", 8) == 0;
    *checked = false;
    if (!tls && strncasecmp(url, "http://", 7) != 0) {
        snprintf(why, whysz, "it is not an http(s) URL");
        *checked = true;
        return false;
    }
    const char *a = url + (tls ? 8 : 7);
    size_t alen = strcspn(a, "/?#");
    char authbuf[300];
    snprintf(authbuf, sizeof authbuf, "%.*s", (int)(alen < 299 ? alen : 299), a);
    snprintf(path, sizeof path, "%s", a[alen] == '/' ? a + alen : "/");
    char *colon = authbuf[0] == '[' ? strstr(authbuf, "]:") : strrchr(authbuf, ':');
    port = tls ? 443 : 80;
    if (colon) {
        port = strtol(colon + (authbuf[0] == '[' ? 2 : 1), NULL, 10);
        *(authbuf[0] == '[' ? colon + 1 : colon) = '\0';
    }
    snprintf(host, sizeof host, "%s", authbuf[0] == '[' ? authbuf + 1 : authbuf);
    host[strcspn(host, "]")] = '\0';
    if (strcasecmp(host, t->host) != 0) return true; /* another host: not probed from here */
    *checked = true;
    pt_dr_http_req req = { .method = "GET", .path = path, .host = authbuf, .headers = "Accept: application/json\r\n",
                           .body_cap = 65536 };
    pt_dr_http_resp r;
    char err[200] = "";
    int rc = pt__dr_http_do(m->addr, port, tls, t->host, &req, pt__dr_deadline(m->ctx->opts->timeout_ms), &r, NULL,
                            err, sizeof err);
    note_request(m, "GET", path, "protected-resource metadata", rc, &r, err);
    bool ok = false;
    if (rc != 0) {
        snprintf(why, whysz, "fetching it failed: %s", err);
    } else if (r.status != 200) {
        snprintf(why, whysz, "it answers %d %s", r.status, r.reason);
    } else {
        json_t *doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        json_t *as = doc ? json_object_get(doc, "authorization_servers") : NULL;
        if (!json_is_object(doc)) snprintf(why, whysz, "it answers 200 but not with a JSON object");
        else if (!json_is_array(as) || json_array_size(as) == 0)
            snprintf(why, whysz, "the document names no authorization_servers");
        else ok = true;
        json_decref(doc);
    }
    pt__dr_http_resp_release(&r);
    return ok;
}

static void auth_required(mcp_http *m, const pt_dr_http_resp *r, const char *path)
{
    const char *wa = pt__dr_http_header(r, "WWW-Authenticate");
    json_t *ev = pt__dr_evidence(m->res);
    json_object_set_new(ev, "www_authenticate", wa ? json_string(wa) : json_null());
    const char *rm = wa ? strcasestr(wa, "resource_metadata=") : NULL;
    if (rm) {
        char url[1024], why[300] = "";
        const char *v = rm + strlen("resource_metadata=");
        bool quoted = *v == '"';
        v += quoted;
        size_t n = strcspn(v, quoted ? "\"" : ", ");
        snprintf(url, sizeof url, "%.*s", (int)(n < sizeof url - 1 ? n : sizeof url - 1), v);
        json_object_set_new(ev, "resource_metadata", json_string(url));
        bool checked;
        if (!metadata_usable(m, url, &checked, why, sizeof why)) {
            pt_dr_set(m->res, PT_DR_FAIL, "mcp_auth_metadata_broken", 85,
                      "POST %s needs authorization (401) and points clients at its OAuth metadata %s, but %s: "
                      "OAuth clients cannot sign in", path, url, why);
            pt_dr_remedy(m->res, "Serve the protected-resource metadata (RFC 9728) at %s: a JSON object with "
                         "\"resource\" and \"authorization_servers\", or fix the URL in WWW-Authenticate (behind a "
                         "proxy, the server must name its public address).", url);
            return;
        }
        pt_dr_set(m->res, PT_DR_WARN, "mcp_auth_required", 40,
                  "POST %s needs authorization (401); the server advertises its OAuth metadata: %s%s", path, url,
                  checked ? ", which answers with authorization servers" : " (on another host, not fetched)");
        pt_dr_remedy(m->res, "Sign in through an MCP client that supports OAuth (it follows resource_metadata), or "
                     "pass a token: Authorization: Bearer TOKEN.");
        return;
    }
    pt_dr_set(m->res, PT_DR_FAIL, "mcp_auth_no_metadata", 80,
              "POST %s answers 401 but %s, so clients cannot discover how to sign in", path,
              wa ? "its WWW-Authenticate header has no resource_metadata" : "sends no WWW-Authenticate header");
    pt_dr_remedy(m->res, "The server must answer 401 with WWW-Authenticate: Bearer resource_metadata=\"%s://%s/"
                 ".well-known/oauth-protected-resource\" and serve that document (RFC 9728), or clients give up "
                 "after the first 401; if it uses static tokens, configure the client to send Authorization: "
                 "Bearer TOKEN.", m->ctx->target->tls ? "https" : "http", m->auth);
}

static void host_rejected(mcp_http *m, const pt_dr_http_resp *r, const char *path)
{
    char ex[200];
    body_excerpt(r, ex, sizeof ex);
    bool named = r->status == 421 || strcasestr(ex, "host") || strcasestr(ex, "origin");
    pt_dr_set(m->res, PT_DR_FAIL, "mcp_host_origin_rejected", named ? 85 : 60,
              "POST %s with Host: %s was refused with %d %s%s%s%s", path, m->auth, r->status, r->reason,
              ex[0] ? " (\"" : "", ex, ex[0] ? "\")" : "");
    pt_dr_remedy(m->res, "The server's DNS-rebinding protection does not allow Host %s (or the request's Origin). Add "
                 "it to the server's allowed hosts/origins (TypeScript SDK: allowedHosts / allowedOrigins in the "
                 "transport options; Python SDK: TransportSecuritySettings(allowed_hosts=[\"%s\"])), or connect "
                 "with a host name it allows (often localhost or 127.0.0.1 with the port).", m->auth, m->auth);
    if (r->status == 403 && !named)
        pt_dr_remedy(m->res, "A 403 without a word about Host or Origin may also be the server's authorization: "
                     "check whether it wants a token.");
}

/* Would a client that accepts only JSON be refused? Servers built on the SDKs answer 406, which
 * is what users of older clients and of proxies that rewrite Accept run into. */
static void strict_accept(mcp_http *m, const char *path)
{
    pt_dr_http_resp r;
    char err[300];
    if (post_accept(m, "application/json", path, INIT_ID, "initialize",
                    pt__dr_mcp_initialize_params(PT_DR_MCP_VERSION), NULL, NULL, &r, err, sizeof err) == 0) {
        json_object_set_new(pt__dr_evidence(m->res), "accept_json_only_status", json_integer(r.status));
        if (r.status == 406)
            pt_dr_detail(m->res, "Clients that send only Accept: application/json get 406 Not Acceptable here: the "
                         "server wants both application/json and text/event-stream.");
        const char *sid = pt__dr_http_header(&r, "Mcp-Session-Id");
        if (sid) delete_session(m, path, sid);
    }
    pt__dr_http_resp_release(&r);
}

/* After a good initialize: initialized notification, tools/list on the session, unknown-session probe. */
static void session_flow(mcp_http *m, const char *path, const pt_dr_mcp_init *init, const char *session)
{
    pt_dr_http_resp r;
    char err[300], why[200], names[400];
    json_t *ev = pt__dr_evidence(m->res);
    const char *v = init->version;
    int rc = post(m, path, -1, "notifications/initialized", NULL, session, v, &r, err, sizeof err);
    int nst = rc == 0 ? r.status : 0;
    char nex[200] = "";
    if (nst == 400) body_excerpt(&r, nex, sizeof nex);
    pt__dr_http_resp_release(&r);
    rc = post(m, path, LIST_ID, "tools/list", json_object(), session, v, &r, err, sizeof err);
    if (rc != 0) {
        pt_dr_set(m->res, PT_DR_FAIL, "mcp_no_answer", 60, "initialize worked, but tools/list got no answer: %s", err);
        goto out;
    }
    /* refused for the version it negotiated itself (carried in MCP-Protocol-Version on every
     * later request): a version problem, not a lost session */
    char lex[200] = "";
    if (r.status == 400) body_excerpt(&r, lex, sizeof lex);
    const char *vex = pt__dr_mcp_text_is_version_error(pt_slice_cstr(lex))   ? lex
                      : pt__dr_mcp_text_is_version_error(pt_slice_cstr(nex)) ? nex
                                                                            : NULL;
    if (vex) {
        pt_dr_set(m->res, PT_DR_FAIL, "mcp_version_mismatch", 85,
                  "initialize negotiated protocol version %s, then requests carrying MCP-Protocol-Version: %s were "
                  "refused with 400 (\"%s\")", v, v, vex);
        pt_dr_remedy(m->res, "The server refuses the version it agreed to: upgrade its MCP SDK, or, if a proxy sits in "
                     "between, make it pass the MCP-Protocol-Version header through unchanged.");
        goto out;
    }
    if (r.status == 400 || r.status == 404 || (nst == 400 || nst == 404)) {
        char ex[200];
        body_excerpt(&r, ex, sizeof ex);
        int st = r.status == 400 || r.status == 404 ? r.status : nst;
        if (!session)
            pt_dr_set(m->res, PT_DR_FAIL, "mcp_session_error", 85,
                      "initialize worked without an Mcp-Session-Id header, then tools/list was refused with %d "
                      "(\"%s\"): the server wants a session id it never gave", st, ex);
        else
            pt_dr_set(m->res, PT_DR_FAIL, "mcp_session_error", 85,
                      "the server issued session %.8s... on initialize, then refused it with %d (\"%s\")", session,
                      st, ex);
        pt_dr_remedy(m->res, session ? "Sessions are lost between requests: several workers or replicas without "
                                       "session affinity, or a restart. Use one process, sticky routing on "
                                       "Mcp-Session-Id, shared session storage, or a stateless server."
                                     : "Make the server return Mcp-Session-Id on the initialize response (and expose "
                                       "it to browsers: Access-Control-Expose-Headers: Mcp-Session-Id), or run "
                                       "it stateless.");
        goto out;
    }
    json_t *msg = r.status / 100 == 2 ? pt__dr_mcp_find_response(&r, LIST_ID, why, sizeof why) : NULL;
    int n = msg ? pt__dr_mcp_tool_count(msg, names, sizeof names) : -1;
    json_decref(msg);
    if (n < 0) {
        pt_dr_set(m->res, PT_DR_FAIL, "mcp_init_error", 60, "initialize worked, but tools/list answered %d %s: %s",
                  r.status, r.reason, msg ? "no result.tools" : why);
        goto out;
    }
    json_object_set_new(ev, "tools", json_integer(n));
    pt_dr_set(m->res, PT_DR_PASS, NULL, 0, "%s speaks MCP %s over Streamable HTTP (%s responses)%s: %d tool%s%s%s%s",
              init->server, v, r.is_sse ? "event-stream" : "JSON", session ? ", with a session" : "", n,
              n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
    if (strcmp(v, PT_DR_MCP_VERSION) != 0)
        pt_dr_detail(m->res, "The server answered protocol version %s to a %s request (a valid negotiation).", v,
                     PT_DR_MCP_VERSION);
    pt__dr_http_resp_release(&r);
    strict_accept(m, path);
    if (session) { /* The spec says an unknown session gets 404, so clients know to re-initialize. */
        rc = post(m, path, PROBE_ID, "tools/list", json_object(), "portico-doctor-unknown-session", v, &r, err,
                  sizeof err);
        json_object_set_new(ev, "unknown_session_status", rc == 0 ? json_integer(r.status) : json_null());
        if (rc == 0 && r.status == 400) {
            pt_dr_set(m->res, PT_DR_WARN, "mcp_session_error", 30,
                      "MCP works (%d tool%s), but an unknown session id gets 400 instead of 404, so clients will not "
                      "re-initialize after the server restarts", n, n == 1 ? "" : "s");
            pt_dr_remedy(m->res, "Answer requests with an unknown or expired Mcp-Session-Id with 404 Not Found (the "
                         "spec's signal to start a new session).");
        }
    }
out:
    pt__dr_http_resp_release(&r);
}

/* The path a redirect's Location names on this same server ("/mcp/", or an absolute URL of
 * the same scheme and authority), or false. */
static bool same_server_location(const mcp_http *m, const pt_dr_http_resp *r, char *out, size_t outsz)
{
    const char *loc = pt__dr_http_header(r, "Location");
    if (!loc || !*loc) return false;
    if (loc[0] == '/' && loc[1] != '/') return (size_t)snprintf(out, outsz, "%s", loc) < outsz;
    char prefix[400];
    snprintf(prefix, sizeof prefix, "%s://%s/", m->ctx->target->tls ? "https" : "http", m->auth);
    size_t n = strlen(prefix);
    if (strncasecmp(loc, prefix, n) != 0) return false;
    return (size_t)snprintf(out, outsz, "%s", loc + n - 1) < outsz;
}

/* A 301, 302 or 303 turns the clients' POST into a GET, which is no MCP request. */
static void redirect_changes_method(mcp_http *m, const char *path, int status, const char *to)
{
    char url[700];
    url_for(m, to, url, sizeof url);
    pt_dr_set(m->res, PT_DR_FAIL, "mcp_redirect_changes_method", 85,
              "POST %s is redirected with %d to %s: clients follow a %d with a GET, which is not an MCP request",
              path, status, to, status);
    pt_dr_remedy(m->res, "Configure the client with %s directly, or make the server redirect with 307 or 308 (which "
                 "keep the POST).", url);
}

typedef struct http_target {
    mcp_http *m;
    const char *path;
} http_target;

static json_t *http_ask(void *transport, long id, const char *method, char *why, size_t whysz)
{
    http_target *h = transport;
    pt_dr_http_resp r;
    char err[300];
    json_t *msg = NULL;
    if (post(h->m, h->path, id, method, pt__dr_mcp_modern_params(), NULL, PT_MCP_MODERN_VERSION, &r, err, sizeof err))
        snprintf(why, whysz, "%s", err);
    else
        msg = pt__dr_mcp_find_response(&r, id, why, whysz); /* a refusal is a JSON-RPC error in a 4xx body */
    pt__dr_http_resp_release(&r);
    return msg;
}

static void run_http(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    mcp_http m = { .ctx = ctx, .res = res };
    char why[256], err[300], ex[200], what[800], moved[300];
    if (!pt__dr_http_prepare(ctx, res, m.addr, sizeof m.addr, m.auth, sizeof m.auth)) return;
    m.requests = json_array();
    json_t *ev = pt__dr_evidence(res);
    json_object_set_new(ev, "requests", m.requests);
    if (t->tls) json_object_set_new(ev, "certificate_verified", json_false()); /* the tls check does that */
    const char *path = t->path && *t->path ? t->path : "/";
    pt_dr_http_resp r;
    bool redirected = false;
again:;
    int rc = post(&m, path, INIT_ID, "initialize", pt__dr_mcp_initialize_params(PT_DR_MCP_VERSION), NULL, NULL, &r,
                  err, sizeof err);
    /* /mcp -> /mcp/ (Starlette's redirect_slashes): clients follow a 307 or 308 with the same
     * POST, so the server is judged where it leads, once */
    if (rc == 0 && r.status / 100 == 3 && !redirected && same_server_location(&m, &r, moved, sizeof moved)) {
        int st = r.status;
        json_object_set_new(ev, "redirect", json_pack("{s:s,s:i,s:s}", "from", path, "status", st, "to", moved));
        if (st != 307 && st != 308) {
            redirect_changes_method(&m, path, st, moved);
            goto out;
        }
        pt_dr_detail(res, "POST %s is redirected (%d) to %s, which MCP clients follow; configure %s to save the "
                     "round trip", path, st, moved, moved);
        pt__dr_http_resp_release(&r);
        redirected = true;
        path = moved;
        goto again;
    }
    if (rc != 0) {
        if (rc == PT_ETIMEDOUT)
            pt_dr_set(res, PT_DR_FAIL, "mcp_no_answer", 70, "POST %s (initialize): %s", path, err);
        else
            pt_dr_set(res, PT_DR_FAIL, "mcp_no_answer", 60, "POST %s (initialize) failed: %s", path, err);
        goto out;
    }
    body_excerpt(&r, ex, sizeof ex);
    snprintf(what, sizeof what, "POST %s (initialize) got %d %s", path, r.status, r.reason);
    int s = r.status;
    /* a JSON-RPC answer: a 2xx's, or a 400's when a server of the 2026-07-28 revision refuses */
    json_t *msg = s / 100 == 2 || s == 400 ? pt__dr_mcp_find_response(&r, INIT_ID, why, sizeof why) : NULL;
    pt_dr_mcp_init init;
    bool found = msg != NULL, parsed = found && pt__dr_mcp_read_init(msg, &init) == 0;
    json_decref(msg);
    if (parsed && !init.ok && init.modern) {
        char url[sizeof m.auth + sizeof moved + 16];
        url_for(&m, path, url, sizeof url);
        modern_only(res, url, "over Streamable HTTP", http_ask, &(http_target){ &m, path });
        goto out;
    }
    if (s / 100 == 2) {
        if (!parsed) {
            size_t n = strlen(what);
            snprintf(what + n, sizeof what - n, ", but %s", found ? "not an initialize result" : why);
            endpoint_elsewhere(&m, path, what);
            goto out;
        }
        json_object_set_new(ev, "server", json_string(init.server));
        if (!init.ok) {
            json_object_set_new(ev, "error", json_pack("{s:I,s:s}", "code", (json_int_t)init.code, "message", init.message));
            if (init.version_error) {
                pt_dr_set(res, PT_DR_FAIL, "mcp_version_mismatch", 85,
                          "initialize with protocol version %s was refused: %ld %s", PT_DR_MCP_VERSION, init.code,
                          init.message);
                pt_dr_remedy(res, "The server does not negotiate: a server must answer initialize with a version it "
                             "supports (its newest) rather than an error. Upgrade its MCP SDK, or use a client that "
                             "speaks one of the versions it lists.");
            } else {
                pt_dr_set(res, PT_DR_FAIL, "mcp_init_error", 70, "initialize failed: %ld %s", init.code, init.message);
            }
            goto out;
        }
        json_object_set_new(ev, "protocol_version", json_string(init.version));
        const char *sid = pt__dr_http_header(&r, "Mcp-Session-Id");
        json_object_set_new(ev, "session", json_boolean(sid != NULL));
        if (!pt__dr_mcp_version_known(init.version)) {
            pt_dr_set(res, PT_DR_FAIL, "mcp_version_mismatch", 80,
                      "%s answered initialize with protocol version \"%s\", which clients do not know (they speak "
                      "2024-11-05 to %s)", init.server, init.version, PT_DR_MCP_VERSION);
            pt_dr_remedy(res, "Upgrade the server's MCP SDK, or make it answer with a version the client asked for.");
            if (sid) delete_session(&m, path, sid);
            goto out;
        }
        char *session = sid ? strdup(sid) : NULL;
        pt__dr_http_resp_release(&r);
        pt__dr_http_resp_init(&r, 0);
        session_flow(&m, path, &init, session);
        if (session) delete_session(&m, path, session);
        free(session);
        goto out;
    }
    if (s == 404 || s == 405) {
        endpoint_elsewhere(&m, path, what);
    } else if (s == 400) {
        if (pt__dr_mcp_text_is_version_error(pt_buf_slice(&r.body))) {
            pt_dr_set(res, PT_DR_FAIL, "mcp_version_mismatch", 80, "%s: \"%s\"", what, ex);
            pt_dr_remedy(res, "The server refuses protocol version %s at the HTTP level; upgrade its MCP SDK (servers "
                         "must negotiate, not refuse, on initialize).", PT_DR_MCP_VERSION);
        } else {
            size_t n = strlen(what);
            snprintf(what + n, sizeof what - n, " (\"%s\")", ex);
            endpoint_elsewhere(&m, path, what);
        }
    } else if (s == 406) {
        pt_dr_set(res, PT_DR_FAIL, "mcp_missing_accept", 80,
                  "%s although it sent Accept: application/json, text/event-stream (\"%s\")", what, ex);
        pt_dr_remedy(res, "MCP clients must send Accept: application/json, text/event-stream (both); a client, SDK "
                     "or proxy that drops or rewrites Accept gets this 406. If a proxy sits in between, make it "
                     "pass Accept through; if the server wants something else, it does not follow the spec.");
    } else if (s == 421 || s == 403) {
        host_rejected(&m, &r, path);
    } else if (s == 401) {
        auth_required(&m, &r, path);
    } else if (s >= 500) {
        pt_dr_set(res, PT_DR_FAIL, "http_error_status", 70, "%s (\"%s\")", what, ex);
        pt_dr_remedy(res, "The server failed while handling initialize: check its log.");
    } else {
        pt_dr_set(res, PT_DR_FAIL, "mcp_init_error", 60, "%s (\"%s\")", what, ex);
    }
out:
    pt__dr_http_resp_release(&r);
}

/* ------------------------------------------------------------------ stdio */

typedef struct stdio_run {
    pt_dr_ctx *ctx;
    pt_dr_result *res;
    pt_dr_child child;
    int lines, noise;
    int noise_line;          /* line number of the first offending line */
    char noise_text[240];
    long unread;             /* bytes of initialize it had not read when the wait ended (-1: unknown) */
    unsigned idle_ms;        /* how long it sat idle before it was called silent; 0: the full wait ran */
} stdio_run;

/* Reads stdout lines until the response to id; notes non-JSON-RPC lines. Returns 1 with *msg,
 * 0 when stdout ended, PT_ETIMEDOUT. */
static int await_response(stdio_run *sr, long id, uint64_t deadline, json_t **msg)
{
    pt_buf line;
    pt_buf_init(&line, 64 * 1024);
    int rc;
    *msg = NULL;
    for (int guard = 0; guard < 10000; guard++) {
        rc = pt__dr_child_read_line(&sr->child, &line, deadline);
        if (rc != 1) break;
        sr->lines++;
        json_t *m = NULL;
        pt_dr_msg_kind k = pt__dr_mcp_classify(pt_buf_slice(&line), &m);
        if (k == PT_DR_MSG_NOT_JSON || k == PT_DR_MSG_NOT_RPC || k == PT_DR_MSG_BLANK) {
            if (sr->noise++ == 0) {
                sr->noise_line = sr->lines;
                pt__dr_fp_printable(pt_slice_from(line.data, line.len > 160 ? 160 : line.len), sr->noise_text,
                                    sizeof sr->noise_text);
            }
            continue;
        }
        if (k == PT_DR_MSG_RESPONSE && json_integer_value(json_object_get(m, "id")) == id) {
            *msg = m;
            rc = 1;
            break;
        }
        json_decref(m); /* server notifications (logging) and requests are fine */
    }
    pt_buf_release(&line);
    return rc;
}

#define STDIO_SLICE_MS 100u
#define STDIO_IDLE_MS 500u          /* read the request, then no CPU and no answer this long: silent */
#define STDIO_NOREAD_PCT 200u       /* never read it and idle: silent at this share of the timeout */

/* Waits for initialize's answer until deadline (generous: slow starters download packages), but
 * calls the server silent early from what it does rather than from the clock alone: it read the
 * request (its stdin pipe is empty) and then sat idle, neither runnable nor using CPU, for
 * STDIO_IDLE_MS; or it never read it and sits idle past STDIO_NOREAD_PCT of the timeout. A busy
 * or starved (runnable) child is never called silent before the deadline. */
static json_t *stdio_ask(void *transport, long id, const char *method, char *why, size_t whysz)
{
    stdio_run *sr = transport;
    uint64_t dl = pt__dr_deadline(sr->ctx->opts->timeout_ms);
    char *line = pt__dr_mcp_message(id, method, pt__dr_mcp_modern_params());
    json_t *msg = NULL;
    int rc = line ? pt__dr_child_send(&sr->child, pt_slice_cstr(line), dl) : PT_ENOMEM;
    free(line);
    if (rc == 0) rc = await_response(sr, id, dl, &msg);
    if (rc == 1) return msg;
    if (rc == PT_ETIMEDOUT) snprintf(why, whysz, "no answer within %u ms", sr->ctx->opts->timeout_ms);
    else snprintf(why, whysz, "it closed its %s", rc == 0 ? "stdout" : "stdin");
    return NULL;
}

static int await_init(stdio_run *sr, uint64_t deadline, json_t **msg)
{
    uint64_t start = pt_now_ms(), progress = start;
    uint64_t noread_cap = start + (uint64_t)sr->ctx->opts->timeout_ms * STDIO_NOREAD_PCT / 100;
    unsigned long long last = 0;
    for (;;) {
        uint64_t slice = pt_now_ms() + STDIO_SLICE_MS;
        int rc = await_response(sr, INIT_ID, slice < deadline ? slice : deadline, msg);
        uint64_t now = pt_now_ms();
        if (rc != PT_ETIMEDOUT || now >= deadline) return rc;
        unsigned long long ticks;
        bool running;
        pt__dr_child_activity(&sr->child, &sr->unread, &ticks, &running);
        if (ticks != last || running) {
            last = ticks;
            progress = now;
        }
        if (now - progress >= STDIO_IDLE_MS && (sr->unread == 0 || now >= noread_cap)) {
            sr->idle_ms = (unsigned)(now - progress);
            return PT_ETIMEDOUT;
        }
    }
}

static void stderr_tail(const pt_dr_child *c, char *out, size_t outsz)
{
    /* The last few lines are what explains an exit. */
    const char *p = c->err_tail;
    size_t n = c->err_len;
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r')) n--;
    size_t start = n, lines = 0;
    while (start > 0 && lines < 6) {
        if (p[start - 1] == '\n') lines++;
        if (lines < 6) start--;
    }
    pt__dr_fp_printable(pt_slice_from(p + start, n - start > 600 ? 600 : n - start), out, outsz);
}

/* Whether a line states an error rather than locating one: "Error: Cannot find module",
 * "ModuleNotFoundError: No module named 'x'", "panic: ...", "fatal: ...", "error: ...";
 * not a stack frame ("    at f (file:1:2)", "  File \"x.py\"") nor a bare "Error". */
static bool states_error(const char *l, size_t n)
{
    if (n == 0 || l[0] == ' ' || l[0] == '\t') return false;
    const char *colon = memchr(l, ':', n);
    if (!colon || colon + 1 >= l + n) return false;
    size_t w = (size_t)(colon - l);
    for (size_t i = 0; i < w; i++)
        if (!(l[i] == '_' || l[i] == '.' || (l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
              (l[i] >= '0' && l[i] <= '9')))
            return false;
    static const char *const words[] = { "Error", "Exception", "error", "fatal", "panic", "FATAL", "ERROR" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = strlen(words[i]);
        if (w >= k && memcmp(colon - k, words[i], k) == 0) return true;
    }
    return false;
}

/* The line of stderr that says what went wrong: the last line stating an error (Node puts
 * "Error: Cannot find module" above a dozen lines of stack and details that a tail of the
 * last lines misses; Python puts its exception last), else "" . */
static void stderr_decisive(const pt_dr_child *c, char *out, size_t outsz)
{
    const char *p = c->err_tail, *best = NULL;
    size_t n = c->err_len, best_len = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(p + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (p + at)) : n - at;
        size_t trimmed = len && p[at + len - 1] == '\r' ? len - 1 : len;
        if (states_error(p + at, trimmed)) {
            best = p + at;
            best_len = trimmed;
        }
        at += len + 1;
    }
    out[0] = '\0';
    if (best) pt__dr_fp_printable(pt_slice_from(best, best_len > 300 ? 300 : best_len), out, outsz);
}

/* The command as a shell would need it typed: arguments with special characters single-quoted. */
static void cmdline(const pt_dr_target *t, char *out, size_t outsz)
{
    pt_buf b;
    pt_buf_init(&b, outsz - 1);
    for (int i = 0; t->argv[i]; i++) {
        const char *a = t->argv[i];
        bool plain = *a != '\0' && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-") ==
                                      strlen(a);
        if (i) (void)pt_buf_append(&b, " ", 1);
        if (plain) {
            (void)pt_buf_append_str(&b, a);
            continue;
        }
        (void)pt_buf_append(&b, "'", 1);
        for (const char *p = a; *p; p++)
            (void)(*p == '\'' ? pt_buf_append_str(&b, "'\\''") : pt_buf_append(&b, p, 1));
        (void)pt_buf_append(&b, "'", 1);
    }
    snprintf(out, outsz, "%s", b.data ? b.data : "");
    pt_buf_release(&b);
}

static void not_found(stdio_run *sr, const char *cmd, int err, const char *where)
{
    const char *path = getenv("PATH");
    char off[4096];
    json_t *ev = pt__dr_evidence(sr->res);
    json_object_set_new(ev, "PATH", json_string(path ? path : ""));
    if (err == -EACCES) {
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_not_found", 90, "%s is not executable (%s)", cmd, where);
        pt_dr_remedy(sr->res, "Make it executable: chmod +x %s", where);
        return;
    }
    if (strchr(cmd, '/')) {
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_not_found", 95, "%s does not exist", cmd);
        pt_dr_remedy(sr->res, "Check the path in the client's config (relative paths are resolved from the directory "
                     "the client starts in, often / or your home directory, not the project).");
        return;
    }
    if (pt__dr_find_off_path(cmd, path, getenv("HOME"), off, sizeof off)) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", off);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        json_object_set_new(ev, "found_off_path", json_string(off));
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_not_found", 95,
                  "%s is not on PATH; a file of that name is at %s, which is not on PATH", cmd, off);
        pt_dr_remedy(sr->res, "Use the absolute path in the client's config (\"command\": \"%s\"), or add %s to the "
                     "PATH the client starts with (apps started from a desktop do not read your shell's rc files).",
                     off, dir);
        return;
    }
    pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_not_found", 95, "%s is not on PATH and not in the usual install places",
              cmd);
    pt_dr_remedy(sr->res, "Install it, or give its absolute path in the client's config; check with: command -v %s "
                 "(PATH searched: %s).", cmd, path ? path : "(empty)");
}

static void exited(stdio_run *sr, const char *cmd)
{
    char how[64], tail[700], line[320];
    pt__dr_exit_text(sr->child.status, how, sizeof how);
    stderr_tail(&sr->child, tail, sizeof tail);
    stderr_decisive(&sr->child, line, sizeof line);
    json_t *ev = pt__dr_evidence(sr->res);
    json_object_set_new(ev, "exit", json_string(how));
    json_object_set_new(ev, "exit_ms", json_real(sr->child.exit_ms));
    json_object_set_new(ev, "stderr_tail", json_string(tail));
    if (line[0]) json_object_set_new(ev, "stderr_error", json_string(line));
    /* what it wrote on stdout instead of JSON-RPC is then its error message, not the cause */
    if (sr->noise) json_object_set_new(ev, "stdout_text", json_string(sr->noise_text));
    const char *said = line[0] ? line : tail;
    if (said[0])
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_exited", 92,
                  "%s %s, %.0f ms after it started, before answering initialize; stderr: \"%s\"", cmd, how,
                  sr->child.exit_ms, said);
    else if (sr->noise)
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_exited", 92,
                  "%s %s, %.0f ms after it started, before answering initialize; it wrote on stdout: \"%s\"", cmd,
                  how, sr->child.exit_ms, sr->noise_text);
    else
        pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_exited", 92,
                  "%s %s, %.0f ms after it started, before answering initialize (nothing on stderr)", cmd, how,
                  sr->child.exit_ms);
    pt_dr_remedy(sr->res, "Run it by hand to see the whole error: %s < /dev/null. Typical causes: a missing "
                 "interpreter on the client's PATH (\"env: node: No such file or directory\"), missing environment "
                 "variables (clients pass only a few unless the config's \"env\" lists them), wrong arguments.", cmd);
}

static void noise_found(stdio_run *sr, bool answered)
{
    json_t *ev = pt__dr_evidence(sr->res);
    json_object_set_new(ev, "stdout_noise", json_pack("{s:i,s:s,s:i}", "first_line", sr->noise_line, "text",
                                                      sr->noise_text, "lines", sr->noise));
    pt_dr_set(sr->res, PT_DR_FAIL, "mcp_stdio_stdout_noise", 90,
              "the server writes non-JSON-RPC text on stdout: line %d is \"%s\"%s", sr->noise_line, sr->noise_text,
              answered ? " (it answers initialize after that, but clients that parse stdout strictly fail on it)"
                       : "");
    pt_dr_remedy(sr->res, "Logs must go to stderr: stdout carries only JSON-RPC messages, one per line (Node: "
                 "console.error instead of console.log; Python: print(..., file=sys.stderr) or logging to "
                 "stderr; also silence banners and progress output of wrappers such as npx: npx -y --quiet).");
}

static void run_stdio(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    if (!t->argv || !t->argv[0]) {
        pt_dr_skip(res, "no command given after --mcp-stdio --");
        return;
    }
    stdio_run sr = { .ctx = ctx, .res = res };
    const char *cmd = t->argv[0];
    char path[4096], cl[1024];
    cmdline(t, cl, sizeof cl);
    json_t *ev = pt__dr_evidence(res);
    json_object_set_new(ev, "command", json_string(cl));
    int w;
    if (strchr(cmd, '/')) {
        snprintf(path, sizeof path, "%s", cmd);
        w = access(path, F_OK) != 0 ? -ENOENT : access(path, X_OK) != 0 ? -EACCES : 0;
    } else {
        w = pt__dr_which(cmd, getenv("PATH"), path, sizeof path);
    }
    if (w != 0) {
        not_found(&sr, cmd, w, path);
        return;
    }
    json_object_set_new(ev, "path", json_string(path));
    int sp = pt__dr_child_spawn(&sr.child, path, t->argv);
    if (sp != 0) {
        char line[300] = "";
        FILE *f = sp == -ENOENT ? fopen(path, "r") : NULL;
        if (f && fgets(line, sizeof line, f) && strncmp(line, "#!", 2) == 0) {
            line[strcspn(line, "\r\n")] = '\0';
            pt_dr_set(res, PT_DR_FAIL, "mcp_stdio_not_found", 90, "%s cannot start: the interpreter of its first line "
                      "\"%s\" does not exist", path, line);
            pt_dr_remedy(res, "Install that interpreter or fix the #! line (#!/usr/bin/env node finds node on PATH).");
        } else {
            pt_dr_set(res, PT_DR_FAIL, "mcp_stdio_exited", 90, "%s cannot be executed: %s", path, strerror(-sp));
        }
        if (f) fclose(f);
        return;
    }
    /* Slow starters (npx fetching a package) get three probe deadlines for the first answer. */
    unsigned start_ms = ctx->opts->timeout_ms * 3;
    uint64_t dl = pt__dr_deadline(start_ms);
    char *init_line = pt__dr_mcp_message(INIT_ID, "initialize", pt__dr_mcp_initialize_params(PT_DR_MCP_VERSION));
    json_t *msg = NULL;
    int rc = pt__dr_child_send(&sr.child, pt_slice_cstr(init_line), dl);
    free(init_line);
    if (rc == 0) {
        rc = await_init(&sr, dl, &msg);
    } else { /* it closed its stdin, exiting: what it wrote on stdout meanwhile may say why */
        (void)await_response(&sr, INIT_ID, pt__dr_deadline(300), &msg);
        json_decref(msg);
        msg = NULL;
    }
    if (rc != 1) {
        /* a server that exited is blamed for exiting, whatever it printed on its way out */
        bool closed = sr.child.exited || rc == PT_ECLOSED || rc == 0;
        if (closed) pt__dr_child_wait_exit(&sr.child, 300); /* stdout closed: the exit follows */
        if (sr.child.exited) {
            exited(&sr, cl);
        } else if (sr.noise) {
            noise_found(&sr, false);
        } else if (closed) {
            pt_dr_set(res, PT_DR_FAIL, "mcp_stdio_exited", 85, "%s closed its stdout before answering initialize", cl);
        } else {
            char tail[700];
            stderr_tail(&sr.child, tail, sizeof tail);
            json_object_set_new(ev, "stderr_tail", json_string(tail));
            json_object_set_new(ev, "stdin_unread_bytes", sr.unread < 0 ? json_null() : json_integer(sr.unread));
            json_object_set_new(ev, "idle_ms", json_integer(sr.idle_ms));
            if (sr.idle_ms)
                pt_dr_set(res, PT_DR_FAIL, "mcp_stdio_no_answer", 85,
                          "%s %s, then sat idle (no CPU) for %u ms without answering%s%s%s", cl,
                          sr.unread == 0 ? "read the initialize request" : "never read the initialize request",
                          sr.idle_ms, tail[0] ? "; stderr: \"" : "; it wrote nothing to stderr", tail,
                          tail[0] ? "\"" : "");
            else
                pt_dr_set(res, PT_DR_FAIL, "mcp_stdio_no_answer", 85,
                          "%s is running but did not answer initialize within %u ms%s%s%s", cl, start_ms,
                          tail[0] ? "; stderr: \"" : " and wrote nothing to stderr", tail, tail[0] ? "\"" : "");
            pt_dr_remedy(res, "Check that it reads JSON-RPC requests from stdin, one per line. A Python server may "
                         "have its stdout buffered: run python -u or set PYTHONUNBUFFERED=1. If it is only slow to "
                         "start (npx downloading a package), rerun with --timeout %u.", ctx->opts->timeout_ms * 5);
        }
        goto out;
    }
    pt_dr_mcp_init init;
    bool parsed = pt__dr_mcp_read_init(msg, &init) == 0;
    if (parsed && !init.ok && init.modern) {
        modern_only(res, cl, "over stdio", stdio_ask, &sr);
        goto out;
    }
    if (!parsed || !init.ok) {
        bool verr = init.version_error;
        pt_dr_set(res, PT_DR_FAIL, verr ? "mcp_version_mismatch" : "mcp_init_error", verr ? 85 : 70,
                  "initialize was refused: %ld %s", init.code, init.message);
        goto out;
    }
    json_object_set_new(ev, "server", json_string(init.server));
    json_object_set_new(ev, "protocol_version", json_string(init.version));
    json_decref(msg);
    msg = NULL;
    if (!pt__dr_mcp_version_known(init.version)) {
        pt_dr_set(res, PT_DR_FAIL, "mcp_version_mismatch", 80, "%s answered initialize with protocol version \"%s\", "
                  "which clients do not know", init.server, init.version);
        goto out;
    }
    dl = pt__dr_deadline(ctx->opts->timeout_ms);
    char *l1 = pt__dr_mcp_message(-1, "notifications/initialized", NULL);
    char *l2 = pt__dr_mcp_message(LIST_ID, "tools/list", json_object());
    rc = pt__dr_child_send(&sr.child, pt_slice_cstr(l1), dl);
    if (rc == 0) rc = pt__dr_child_send(&sr.child, pt_slice_cstr(l2), dl);
    free(l1);
    free(l2);
    if (rc == 0) rc = await_response(&sr, LIST_ID, dl, &msg);
    if (sr.noise) {
        noise_found(&sr, true);
        goto out;
    }
    char names[400];
    int n = rc == 1 ? pt__dr_mcp_tool_count(msg, names, sizeof names) : -1;
    if (n < 0) {
        pt_dr_set(res, PT_DR_FAIL, "mcp_init_error", 60, "%s answered initialize, but %s", init.server,
                  rc == 1 ? "tools/list returned no result.tools" : "not tools/list in time");
        goto out;
    }
    json_object_set_new(ev, "tools", json_integer(n));
    pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s speaks MCP %s over stdio: %d tool%s%s%s%s", init.server, init.version, n,
              n == 1 ? "" : "s", n ? " (" : "", names, n ? ")" : "");
out:
    json_decref(msg);
    pt__dr_child_stop(&sr.child);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    if (ctx->target->mode & PT_DR_MODE_STDIO) run_stdio(ctx, res);
    else run_http(ctx, res);
}

const pt_dr_check pt_dr_check_mcp = {
    .id = "mcp",
    .title = "MCP handshake",
    .modes = PT_DR_MODE_MCP | PT_DR_MODE_STDIO,
    .run = run,
};
