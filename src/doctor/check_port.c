/* check_port.c: the "port" check. A port outside 1-65535 (619009) is a typo: suggest the ports
 * one or two digit edits away, the ones something listens on first, with their owner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/listeners.h"
#include "doctor/port_suggest.h"

#define MAX_SHOWN 5

/* Ports developers use most: a one-edit typo of one of these is the likelier reading. */
static const unsigned common_ports[] = {
    80,   443,  1234, 3000, 3001, 3306, 4000, 4200, 5000,  5001,  5173,  5432,  6006,
    6379, 7860, 8000, 8008, 8080, 8081, 8443, 8787, 8888,  9000,  9090,  9200,  11434, 27017,
};

static bool is_common(unsigned port)
{
    for (size_t i = 0; i < sizeof common_ports / sizeof common_ports[0]; i++)
        if (common_ports[i] == port) return true;
    return false;
}

int pt__dr_osa_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 32 || m > 32) return 99;
    int d[33][33];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[n][m];
}

/* Lower rank = shown first: listening ports by distance, then one-edit common ports, then other
 * one-edit ports, then two-edit common ports. Two-edit ports nobody uses are noise. */
static int rank_of(const pt_dr_suggestion *s)
{
    if (s->listening) return s->distance;
    if (s->distance == 1) return is_common(s->port) ? 3 : 4;
    return is_common(s->port) ? 5 : 99;
}

static int cmp_suggestion(const void *pa, const void *pb)
{
    const pt_dr_suggestion *a = pa, *b = pb;
    int ra = rank_of(a), rb = rank_of(b);
    if (ra != rb) return ra - rb;
    return (int)a->port - (int)b->port;
}

size_t pt__dr_port_suggest(const char *typed, const unsigned *listening, size_t nlistening,
                           pt_dr_suggestion *out, size_t max)
{
    size_t len = strlen(typed);
    if (len == 0 || len > 12 || max == 0) return 0;
    pt_dr_suggestion *all = NULL;
    size_t n = 0, cap = 0;
    for (unsigned port = 1; port <= 65535; port++) {
        char text[8];
        int tl = snprintf(text, sizeof text, "%u", port);
        if ((size_t)tl + 2 < len || (size_t)tl > len + 2) continue;
        int d = pt__dr_osa_distance(typed, text);
        if (d < 1 || d > 2) continue;
        bool lis = false;
        for (size_t i = 0; i < nlistening; i++)
            if (listening[i] == port) lis = true;
        pt_dr_suggestion s = { port, d, lis };
        if (rank_of(&s) == 99) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            pt_dr_suggestion *v = realloc(all, cap * sizeof *v);
            if (!v) break;
            all = v;
        }
        all[n++] = s;
    }
    if (n) qsort(all, n, sizeof *all, cmp_suggestion);
    size_t k = n < max ? n : max;
    if (k) memcpy(out, all, k * sizeof *out);
    free(all);
    return k;
}

static const pt_dr_sock *listener_on(const pt_dr_socks *socks, unsigned port)
{
    for (size_t i = 0; i < socks->n; i++)
        if (socks->v[i].port == port) return &socks->v[i];
    return NULL;
}

static void suggest(pt_dr_ctx *ctx, pt_dr_result *res, const char *typed)
{
    pt_dr_socks socks = { 0 };
    pt_dr_socks_listening(&socks, -1);
    unsigned *ports = calloc(socks.n + 1, sizeof *ports);
    for (size_t i = 0; ports && i < socks.n; i++) ports[i] = socks.v[i].port;
    pt_dr_suggestion sug[MAX_SHOWN];
    size_t n = pt__dr_port_suggest(typed, ports, ports ? socks.n : 0, sug, MAX_SHOWN);
    free(ports);

    /* Owners only for the sockets we are going to name: the /proc walk is the costly part. */
    pt_dr_socks named = { .source = socks.source };
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < socks.n; j++)
            if (socks.v[j].port == sug[i].port) pt_dr_socks_push(&named, &socks.v[j]);
    pt_dr_socks_find_owners(&named);

    json_t *arr = json_array();
    const pt_dr_sock *best = NULL;
    /* When something listens one or two edits away, that is the answer: idle ports are noise. */
    bool any_listening = n && sug[0].listening;
    for (size_t i = 0; i < n; i++) {
        if (any_listening && !sug[i].listening) continue;
        json_t *o = json_object();
        json_object_set_new(o, "port", json_integer(sug[i].port));
        json_object_set_new(o, "distance", json_integer(sug[i].distance));
        json_object_set_new(o, "listening", json_boolean(sug[i].listening));
        const pt_dr_sock *l = listener_on(&named, sug[i].port);
        const char *edits = sug[i].distance == 1 ? "one edit" : "two edits";
        if (l) {
            char ep[80], owner[512];
            pt_dr_sock_endpoint(l, ep, sizeof ep);
            pt_dr_sock_owner(l, named.fd_denied, owner, sizeof owner);
            json_object_set_new(o, "pid", l->pid ? json_integer(l->pid) : json_null());
            json_object_set_new(o, "command", l->pid ? json_string(l->cmdline[0] ? l->cmdline : l->comm) : json_null());
            json_object_set_new(o, "listener", json_string(ep));
            pt_dr_detail(res, "%u (%s away) is listening: %s, %s", sug[i].port, edits, ep, owner);
            if (!best) best = l;
        } else {
            json_object_set_new(o, "pid", json_null());
            pt_dr_detail(res, "%u (%s away)%s; nothing listens on it now", sug[i].port, edits,
                         is_common(sug[i].port) ? ", a common development port" : "");
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(res->evidence, "suggestions", arr);
    json_object_set_new(res->evidence, "listening_ports_seen", json_integer((json_int_t)socks.n));

    const char *host = ctx->target->host ? ctx->target->host : "localhost";
    char fixed[600] = "", hp[300];
    if (best) {
        pt_dr_hostport(host, best->port, hp, sizeof hp);
        if (ctx->target->scheme)
            snprintf(fixed, sizeof fixed, "%s://%s%.200s", ctx->target->scheme, hp,
                     ctx->target->path ? ctx->target->path : "");
        else
            snprintf(fixed, sizeof fixed, "%s", hp);
    }
    if (best) {
        const char *cmd = best->cmdline[0] ? best->cmdline : best->comm;
        if (best->pid)
            pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95,
                      "port %s is not a TCP port (1-65535); did you mean %u? pid %d (%s) listens there", typed,
                      best->port, best->pid, cmd);
        else
            pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95,
                      "port %s is not a TCP port (1-65535); did you mean %u? something listens there", typed,
                      best->port);
        pt_dr_remedy(res, "Use port %u: fix the port in the client's URL or configuration, then check it with "
                     "`portico doctor %s`", best->port, fixed);
    } else if (n) {
        pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95,
                  "port %s is not a TCP port (1-65535); nothing listens on a port one or two edits away "
                  "(closest: %u)", typed, sug[0].port);
        pt_dr_remedy(res, "Fix the port in the client's URL or configuration (TCP ports are 1-65535)");
    } else {
        pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95, "port %s is not a TCP port (1-65535)", typed);
        pt_dr_remedy(res, "Fix the port in the client's URL or configuration (TCP ports are 1-65535)");
    }
    pt_dr_socks_release(&named);
    pt_dr_socks_release(&socks);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    char typed[24];
    if (t->port_text) snprintf(typed, sizeof typed, "%s", t->port_text);
    else snprintf(typed, sizeof typed, "%ld", t->port);
    json_object_set_new(res->evidence, "port_text", json_string(typed));
    bool valid = t->port >= 1 && t->port <= 65535;
    json_object_set_new(res->evidence, "valid", json_boolean(valid));
    json_object_set_new(ctx->facts, "port_valid", json_boolean(valid));
    if (valid) {
        if (t->port_explicit)
            pt_dr_set(res, PT_DR_PASS, NULL, 0, "%ld is a valid TCP port", t->port);
        else
            pt_dr_set(res, PT_DR_PASS, NULL, 0, "%ld (the default port for %s://)", t->port, t->scheme);
        return;
    }
    if (t->port == 0) {
        pt_dr_set(res, PT_DR_FAIL, "port_out_of_range", 95,
                  "port 0 cannot be connected to (to bind() it means \"any free port\")");
        pt_dr_remedy(res, "Use the port the server printed when it started, or find it with `ss -ltnp`");
        return;
    }
    suggest(ctx, res, typed);
}

const pt_dr_check pt_dr_check_port = {
    .id = "port",
    .title = "Port number is valid",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
