/* check_proxy_env.c: the "proxy_env" check. http_proxy / HTTPS_PROXY / ALL_PROXY / NO_PROXY
 * that would send the target through a proxy, per client family, since each family reads the
 * variables differently: curl reads http_proxy only in lower case and never skips localhost;
 * Python and Node libraries read both cases; Go never proxies loopback; Node's built-in http
 * and fetch ignore the variables unless NODE_USE_ENV_PROXY=1. Each family also reads NO_PROXY
 * by its own rules (separators, "*", leading dots, "*." wildcards, CIDR blocks, ports), so the
 * report says which families a NO_PROXY entry exempts and which it does not, and why.
 * Credentials are masked everywhere. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/netprobe.h"
#include "doctor/proxy.h"

/* ---- pure rules ----------------------------------------------------------------------- */

/* The authority part of a URL (after "scheme://", before the path) without its userinfo;
 * *userinfo_end points at the '@' when there is one, else NULL. */
static const char *authority(const char *url, size_t *len, const char **userinfo_end)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@') at = p;
    *userinfo_end = at;
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    *len = alen;
    return auth;
}

void pt__dr_proxy_mask(const char *url, char *out, size_t n)
{
    size_t alen;
    const char *at;
    authority(url, &alen, &at);
    if (!at) {
        snprintf(out, n, "%s", url);
        return;
    }
    const char *start = strstr(url, "://");
    start = start ? start + 3 : url;
    snprintf(out, n, "%.*s***%s", (int)(start - url), url, at);
}

int pt__dr_proxy_hostport(const char *url, char *host, size_t hlen, long *port)
{
    size_t alen;
    const char *at;
    const char *auth = authority(url, &alen, &at);
    const char *hs = auth, *he, *ps = NULL;
    if (alen && *auth == '[') {
        he = memchr(auth, ']', alen);
        if (!he) return -1;
        hs = auth + 1;
        if (he + 1 < auth + alen && he[1] == ':') ps = he + 2;
    } else {
        he = memchr(auth, ':', alen);
        if (he) ps = he + 1;
        else he = auth + alen;
    }
    if (he <= hs || (size_t)(he - hs) >= hlen) return -1;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    *port = 1080;
    if (ps && ps < auth + alen) {
        char *end;
        long v = strtol(ps, &end, 10);
        if (end == ps || v < 1 || v > 65535) return -1;
        *port = v;
    }
    return 0;
}

/* Is host inside the CIDR block text ("127.0.0.0/8")? */
static bool cidr_match(const char *block, const char *host)
{
    char net[64];
    const char *slash = strchr(block, '/');
    if (!slash || (size_t)(slash - block) >= sizeof net) return false;
    memcpy(net, block, (size_t)(slash - block));
    net[slash - block] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (*end) return false;
    unsigned char a[16], b[16];
    int family = strchr(net, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, net, a) != 1 || inet_pton(family, host, b) != 1) return false;
    return pt_dr_prefix_match(family, a, b, bits);
}

static int ip_family(const char *s)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 ? AF_INET : inet_pton(AF_INET6, s, tmp) == 1 ? AF_INET6 : 0;
}

static bool same_ip(const char *x, const char *y)
{
    unsigned char a[16], b[16];
    int fx = ip_family(x), fy = ip_family(y);
    if (!fx || fx != fy || inet_pton(fx, x, a) != 1 || inet_pton(fy, y, b) != 1) return false;
    return memcmp(a, b, fx == AF_INET ? 4 : 16) == 0;
}

/* name itself, or a subdomain of it (host ends with "." name), case-insensitively. */
static bool domain_match(const char *host, const char *name, bool itself)
{
    size_t hl = strlen(host), nl = strlen(name);
    if (nl == 0 || nl > hl || strcasecmp(host + hl - nl, name) != 0) return false;
    return hl == nl ? itself : host[hl - nl - 1] == '.';
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t sl = strlen(s), xl = strlen(suffix);
    return xl <= sl && strcasecmp(s + sl - xl, suffix) == 0;
}

/* Splits "name:port", "v4:port" and "[v6]:port" (brackets removed); *eport -1 without a port. */
static void split_port(char *e, char **host, long *eport)
{
    *eport = -1;
    *host = e;
    if (e[0] == '[') {
        char *close = strchr(e, ']');
        if (!close) return;
        if (close[1] == ':') *eport = strtol(close + 2, NULL, 10);
        *close = '\0';
        *host = e + 1;
        return;
    }
    char *c = strchr(e, ':');
    if (c && !strchr(c + 1, ':')) { /* exactly one colon: name:port or v4:port */
        *eport = strtol(c + 1, NULL, 10);
        *c = '\0';
    }
}

/* curl (lib/noproxy.c, 7.86 and later): a leading "." is dropped, a name covers itself and its
 * subdomains, IP entries match exactly or as CIDR blocks; no ports ("host:port" never matches)
 * and no "*." wildcards. */
static bool entry_curl(char *e, const char *host, long port)
{
    (void)port;
    if (e[0] == '[') { /* a bracketed IPv6 entry without a port */
        char *close = strchr(e, ']');
        if (!close || close[1]) return false;
        *close = '\0';
        e++;
    }
    if (strchr(e, '/')) return cidr_match(e, host);
    if (ip_family(host) || ip_family(e)) return same_ip(e, host);
    while (*e == '.') e++;
    return domain_match(host, e, true);
}

/* Python: urllib's proxy_bypass_environment (leading dots dropped; an entry matches the host or
 * "host:port" itself or as a subdomain; IPv6 hosts are compared in brackets), plus requests'
 * own rule for IPv4 hosts (exact addresses and CIDR blocks). No "*." wildcards. */
static bool entry_python(char *e, const char *host, long port)
{
    int fam = ip_family(host);
    if (fam == AF_INET && (strchr(e, '/') ? cidr_match(e, host) : same_ip(e, host))) return true;
    char hostonly[300], netloc[320];
    snprintf(hostonly, sizeof hostonly, fam == AF_INET6 ? "[%s]" : "%s", host);
    snprintf(netloc, sizeof netloc, "%s:%ld", hostonly, port);
    while (*e == '.') e++;
    return domain_match(hostonly, e, true) || (port > 0 && domain_match(netloc, e, true));
}

/* Node: proxy-from-env (axios and most libraries) and undici's EnvHttpProxyAgent (Node's own
 * fetch with NODE_USE_ENV_PROXY=1): "name:port" is split by its last ":digits" (so "::1" reads
 * as host ":" port 1); an entry without a leading "." or "*" matches only exactly (no
 * subdomains); a leading "*" is dropped and the rest must end the host name. IPv6 hosts are
 * compared in brackets. No CIDR blocks. */
static bool entry_node(char *e, const char *host, long port)
{
    char hostname[300];
    snprintf(hostname, sizeof hostname, ip_family(host) == AF_INET6 ? "[%s]" : "%s", host);
    char *c = strrchr(e, ':');
    if (c && c > e && c[1] && strspn(c + 1, "0123456789") == strlen(c + 1)) {
        long eport = strtol(c + 1, NULL, 10);
        if (eport && eport != port) return false;
        *c = '\0';
    }
    if (e[0] != '.' && e[0] != '*') return strcasecmp(hostname, e) == 0;
    if (e[0] == '*') e++;
    return ends_with_ci(hostname, e);
}

/* Go (golang.org/x/net/http/httpproxy): CIDR blocks, exact IPs, "host:port" and "[v6]:port";
 * "*." is read as "."; a name covers itself and its subdomains, ".name" only its subdomains. */
static bool entry_go(char *e, const char *host, long port)
{
    if (strchr(e, '/')) return cidr_match(e, host);
    char *h;
    long eport;
    split_port(e, &h, &eport);
    if (eport >= 0 && eport != port) return false;
    if (ip_family(h)) return same_ip(h, host);
    if (strncmp(h, "*.", 2) == 0) h++;
    if (h[0] == '.') return domain_match(host, h + 1, false);
    return domain_match(host, h, true);
}

static const struct {
    const char *seps;     /* what separates entries */
    bool star_anywhere;   /* a "*" entry anywhere exempts everything (else only NO_PROXY="*") */
    bool (*entry)(char *e, const char *host, long port);
} np_rules[] = {
    [PT_DR_NP_CURL] = { ", \t", false, entry_curl },
    [PT_DR_NP_PYTHON] = { ",", false, entry_python },
    [PT_DR_NP_NODE] = { ", \t\n", false, entry_node },
    [PT_DR_NP_GO] = { ",", true, entry_go },
};

bool pt__dr_noproxy_match(pt_dr_np_family fam, const char *list, const char *host, long port, char *matched,
                          size_t mlen)
{
    if (!list || !host) return false;
    const char *lt = list;
    while (isspace((unsigned char)*lt)) lt++;
    size_t ll = strlen(lt);
    while (ll && isspace((unsigned char)lt[ll - 1])) ll--;
    if (ll == 1 && lt[0] == '*') {
        if (matched) snprintf(matched, mlen, "*");
        return true;
    }
    const char *seps = np_rules[fam].seps;
    const char *p = list;
    for (int k = 0; k < 1000 && *p; k++) {
        while (*p && strchr(seps, *p)) p++;
        size_t n = strcspn(p, seps);
        if (n == 0) break;
        char e[256], keep[256];
        if (n < sizeof e) {
            memcpy(e, p, n);
            e[n] = '\0';
            /* an entry is trimmed (Python and Go split on commas and strip each) */
            char *t = e;
            while (isspace((unsigned char)*t)) t++;
            size_t tl = strlen(t);
            while (tl && isspace((unsigned char)t[tl - 1])) t[--tl] = '\0';
            snprintf(keep, sizeof keep, "%s", t);
            bool hit = strcmp(t, "*") == 0 ? np_rules[fam].star_anywhere : tl && np_rules[fam].entry(t, host, port);
            if (hit) {
                if (matched) snprintf(matched, mlen, "%s", keep);
                return true;
            }
        }
        p += n;
    }
    return false;
}

/* ---- per client family ---------------------------------------------------------------- */

static const char *env2(const char *first, const char *second, const char **name)
{
    const char *v = getenv(first);
    if (v && *v) {
        *name = first;
        return v;
    }
    v = second ? getenv(second) : NULL;
    if (v && *v) {
        *name = second;
        return v;
    }
    return NULL;
}

typedef struct family_view {
    const char *family;
    const char *brief;      /* the name in the one-line summary */
    const char *proxy;      /* the variable's value, or NULL when the client goes direct */
    const char *var;        /* which variable chose it */
    const char *why_direct; /* when proxy is NULL */
    const char *np_limit;   /* through the proxy although NO_PROXY is set: what this family's reading lacks */
    char noproxy_entry[128];
} family_view;

static bool is_loopback_host(const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = { [15] = 1 };
        return memcmp(a, one, 16) == 0;
    }
    return strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0;
}

/* What each family's NO_PROXY reading lacks, said when it sends the target to the proxy
 * although NO_PROXY is set. */
static const char *const np_limits[] = {
    [PT_DR_NP_CURL] = "curl reads no ports and no \"*.\" wildcards in NO_PROXY, and \"*\" only as the whole value",
    [PT_DR_NP_PYTHON] = "Python splits NO_PROXY on commas only, reads no \"*.\" wildcards, CIDR blocks only for "
                        "IPv4 (requests, not urllib), and \"*\" only as the whole value",
    [PT_DR_NP_NODE] = "Node libraries match a name without a leading \".\" or \"*\" exactly (no subdomains), read "
                      "no CIDR blocks, take \"::1\" for host \":\" port 1, and \"*\" only as the whole value",
    [PT_DR_NP_GO] = "Go splits NO_PROXY on commas only, and \".name\" covers subdomains but not name itself",
};

/* How one family treats the target. lower_first: lower-case variables win (curl, Python,
 * proxy-from-env); Go reads upper case first. */
static void view(family_view *f, const char *family, const char *brief, pt_dr_np_family fam, bool tls,
                 const char *host, long port)
{
    bool curl = fam == PT_DR_NP_CURL, go = fam == PT_DR_NP_GO;
    memset(f, 0, sizeof *f);
    f->family = family;
    f->brief = brief;
    const char *var = NULL, *v = NULL;
    if (go) v = tls ? env2("HTTPS_PROXY", "https_proxy", &var) : env2("HTTP_PROXY", "http_proxy", &var);
    else if (curl) v = tls ? env2("https_proxy", "HTTPS_PROXY", &var) : env2("http_proxy", NULL, &var);
    else v = tls ? env2("https_proxy", "HTTPS_PROXY", &var) : env2("http_proxy", "HTTP_PROXY", &var);
    if (!v && !go) v = env2("all_proxy", "ALL_PROXY", &var);
    if (!v) {
        f->why_direct = "no proxy variable it reads is set";
        return;
    }
    if (go && is_loopback_host(host)) {
        f->why_direct = "Go never proxies localhost or loopback addresses";
        return;
    }
    const char *nvar = NULL;
    const char *np = go ? env2("NO_PROXY", "no_proxy", &nvar) : env2("no_proxy", "NO_PROXY", &nvar);
    if (np && pt__dr_noproxy_match(fam, np, host, port, f->noproxy_entry, sizeof f->noproxy_entry)) {
        f->why_direct = "NO_PROXY exempts it";
        return;
    }
    f->proxy = v;
    f->var = var;
    f->np_limit = np ? np_limits[fam] : NULL;
}

static void probe_proxy(pt_dr_result *res, const char *url, unsigned timeout_ms)
{
    char host[256];
    long port;
    if (pt__dr_proxy_hostport(url, host, sizeof host, &port) < 0) return;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai = NULL;
    /* Only numeric proxies are probed: resolving a name here could block past the deadline. */
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) return;
    pt_dr_conn c = { .family = ai->ai_family, .port = (uint16_t)port };
    if (ai->ai_family == AF_INET) memcpy(c.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
    else memcpy(c.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
    freeaddrinfo(ai);
    pt_dr_connect_all(&c, 1, timeout_ms < 500 ? timeout_ms : 500);
    json_t *o = json_object();
    json_object_set_new(o, "host", json_string(host));
    json_object_set_new(o, "port", json_integer(port));
    json_object_set_new(o, "result", json_string(c.result));
    json_object_set_new(o, "ms", json_real(c.ms));
    json_object_set_new(res->evidence, "proxy_probe", o);
    if (c.err)
        pt_dr_detail(res, "the proxy itself, %s port %ld, %s in %.2f ms: clients going through it fail with an "
                     "error about the proxy's port, not %s's", host, port,
                     strcmp(c.result, "refused") == 0 ? "refuses connections" : c.result, c.ms, "the target");
    else
        pt_dr_detail(res, "the proxy %s port %ld accepts connections; it, not your server, answers these clients",
                     host, port);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                        "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY" };
    const pt_dr_target *t = ctx->target;
    if (!t->host) {
        pt_dr_skip(res, "no host to reach");
        return;
    }
    json_t *env = json_object();
    bool any = false;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue;
        char masked[512];
        pt__dr_proxy_mask(v, masked, sizeof masked);
        json_object_set_new(env, vars[i], json_string(masked));
        if (i < 6) any = true;
    }
    json_object_set_new(res->evidence, "environment", env);

    const char *h = getenv("http_proxy"), *hs = getenv("https_proxy");
    if (!h || !*h) h = getenv("HTTP_PROXY");
    if (!hs || !*hs) hs = getenv("HTTPS_PROXY");
    char mh[512] = "", mhs[512] = "";
    if (h && *h) pt__dr_proxy_mask(h, mh, sizeof mh);
    if (hs && *hs) pt__dr_proxy_mask(hs, mhs, sizeof mhs);
    json_t *fact = json_object();
    json_object_set_new(fact, "http", *mh ? json_string(mh) : json_null());
    json_object_set_new(fact, "https", *mhs ? json_string(mhs) : json_null());

    if (!any) {
        json_object_set_new(fact, "bypassed", json_true());
        json_object_set_new(ctx->facts, "proxy", fact);
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "no proxy variables are set");
        return;
    }
    long port = t->port >= 1 && t->port <= 65535 ? t->port : -1;
    family_view fv[5];
    int nf = 4;
    view(&fv[0], "curl", "curl", PT_DR_NP_CURL, t->tls, t->host, port);
    view(&fv[1], "Python (requests, urllib)", "Python", PT_DR_NP_PYTHON, t->tls, t->host, port);
    view(&fv[2], "Node.js libraries that read the variables (axios, proxy-from-env)", "Node.js libraries",
         PT_DR_NP_NODE, t->tls, t->host, port);
    view(&fv[3], "Go (net/http)", "Go", PT_DR_NP_GO, t->tls, t->host, port);
    const char *nuep = getenv("NODE_USE_ENV_PROXY");
    bool node_env = nuep && strcmp(nuep, "1") == 0;
    if (node_env) /* Node's own fetch and http then use undici's EnvHttpProxyAgent: the same rules */
        view(&fv[nf++], "Node.js built-in fetch and http (NODE_USE_ENV_PROXY=1)", "Node.js fetch", PT_DR_NP_NODE,
             t->tls, t->host, port);

    json_t *families = json_object();
    const char *captured[5], *direct[5];
    int ncap = 0, ndirect = 0;
    const char *proxy = NULL, *var = NULL;
    for (int i = 0; i < nf; i++) {
        char masked[512] = "";
        if (fv[i].proxy) pt__dr_proxy_mask(fv[i].proxy, masked, sizeof masked);
        json_t *o = json_object();
        json_object_set_new(o, "proxy", fv[i].proxy ? json_string(masked) : json_null());
        json_object_set_new(o, "variable", fv[i].var ? json_string(fv[i].var) : json_null());
        json_object_set_new(o, "direct_because", fv[i].why_direct ? json_string(fv[i].why_direct) : json_null());
        json_object_set_new(o, "no_proxy_entry", fv[i].noproxy_entry[0] ? json_string(fv[i].noproxy_entry) : json_null());
        json_object_set_new(families, fv[i].family, o);
        if (fv[i].proxy) {
            captured[ncap++] = fv[i].brief;
            if (!proxy) proxy = fv[i].proxy, var = fv[i].var;
            pt_dr_detail(res, "%s: through %s (from %s)%s%s", fv[i].family, masked, fv[i].var,
                         fv[i].np_limit ? "; NO_PROXY does not exempt it: " : "", fv[i].np_limit ? fv[i].np_limit : "");
        } else {
            if (fv[i].noproxy_entry[0]) direct[ndirect++] = fv[i].brief;
            pt_dr_detail(res, "%s: direct, %s%s%s%s", fv[i].family, fv[i].why_direct,
                         fv[i].noproxy_entry[0] ? " (entry '" : "", fv[i].noproxy_entry,
                         fv[i].noproxy_entry[0] ? "')" : "");
        }
    }
    if (!node_env)
        pt_dr_detail(res, "Node.js's built-in http and fetch ignore these variables (unless NODE_USE_ENV_PROXY=1)");
    json_object_set_new(res->evidence, "clients", families);
    json_object_set_new(fact, "bypassed", json_boolean(ncap == 0));
    json_object_set_new(ctx->facts, "proxy", fact);

    if (ncap == 0) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "proxy variables are set, but no client sends %s through them",
                  t->host);
        return;
    }
    char who[256] = "";
    for (int i = 0; i < ncap; i++)
        snprintf(who + strlen(who), sizeof who - strlen(who), "%s%s", i ? (i == ncap - 1 ? " and " : ", ") : "",
                 captured[i]);
    char masked[512];
    pt__dr_proxy_mask(proxy, masked, sizeof masked);
    bool http_mode = t->mode != PT_DR_MODE_CONNECT;
    char exempt[200] = "";
    for (int i = 0; i < ndirect; i++)
        snprintf(exempt + strlen(exempt), sizeof exempt - strlen(exempt), "%s%s", i ? (i == ndirect - 1 ? " and " : ", ")
                 : "; NO_PROXY exempts it only for ", direct[i]);
    pt_dr_set(res, http_mode ? PT_DR_FAIL : PT_DR_WARN, "proxy_captures_target", http_mode ? 75 : 45,
              "%s send %s to the proxy %s (from %s), and NO_PROXY does not exempt %s for %s%s", who,
              http_mode ? "requests for this URL" : "HTTP requests to this address", masked, var, t->host,
              ncap == 1 ? "it" : "them", exempt);
    probe_proxy(res, proxy, ctx->opts->timeout_ms);

    const char *np = getenv("no_proxy");
    if (!np || !*np) np = getenv("NO_PROXY");
    char list[600];
    snprintf(list, sizeof list, "%s%slocalhost,127.0.0.1,::1", np && *np ? np : "", np && *np ? "," : "");
    if (!is_loopback_host(t->host)) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, ",%s", t->host);
    }
    pt_dr_remedy(res, "Exempt local addresses: `export no_proxy=\"%s\" NO_PROXY=\"%s\"`", list, list);
    pt_dr_remedy(res, "Or bypass the proxy for one command: `curl --noproxy '*' ...`, or `unset %s` in this shell",
                 var);
}

const pt_dr_check pt_dr_check_proxy_env = {
    .id = "proxy_env",
    .title = "Proxy environment per client",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
