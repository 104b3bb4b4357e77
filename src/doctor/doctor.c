/* doctor.c: `portico doctor`: the command line, target parsing, the check table, running the
 * checks in order with their deadlines, ranking the results and the exit status. */
#include "doctor/doctor.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "doctor/checks.h"
#include "doctor/proxy.h"

/* The order is the contract: facts flow from earlier checks to later ones. */
static const pt_dr_check *const check_table[] = {
    &pt_dr_check_port,     &pt_dr_check_resolve,      &pt_dr_check_proxy_env, &pt_dr_check_listeners,
    &pt_dr_check_bind,     &pt_dr_check_connect,      &pt_dr_check_firewall,  &pt_dr_check_protocol,
    &pt_dr_check_tls,      &pt_dr_check_unresponsive, &pt_dr_check_http,      &pt_dr_check_mcp,
    &pt_dr_check_listen,   &pt_dr_check_environment,
};
#define NCHECKS (sizeof check_table / sizeof check_table[0])

/* Which earlier checks' facts a check reads. With --only/--skip these still run, quietly, so a
 * selected check never works from missing evidence; they are neither shown nor ranked. */
static const struct {
    const char *id;
    const char *needs[4];
} check_needs[] = {
    { "listeners", { "resolve" } },
    { "bind", { "resolve", "listeners" } },
    { "connect", { "resolve", "listeners" } },
    { "firewall", { "connect" } },
    { "protocol", { "connect" } },
    { "tls", { "connect", "protocol" } },
    { "unresponsive", { "connect", "protocol" } },
    { "http", { "connect", "proxy_env" } },
    { "mcp", { "connect" } },
    { "environment", { "listeners" } },
};

#define PT_DR_TIMEOUT_DEFAULT 1000u
#define PT_DR_TIMEOUT_MAX 60000u
#define PT_DR_HOST_MAX 253

static const pt_dr_check *find_check(const char *id, size_t len)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (strlen(check_table[i]->id) == len && memcmp(check_table[i]->id, id, len) == 0) return check_table[i];
    return NULL;
}

/* ---- target parsing ------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen) snprintf(err, errlen, fmt, arg);
}

/* Accepts 1..32 decimal digits; out-of-range values are kept (capped) so the port check can
 * explain them and suggest the port that was meant. */
static int parse_port_text(const char *s, size_t n, pt_dr_target *t, char *err, size_t errlen)
{
    char buf[40];
    if (n == 0) {
        set_err(err, errlen, "%s", "the port is empty");
        return -1;
    }
    if (n >= sizeof buf - 8) {
        set_err(err, errlen, "%s", "the port is too long to be a port number");
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)buf[i])) {
            set_err(err, errlen, "port '%s' is not a number", buf);
            return -1;
        }
    }
    long v = 0;
    for (size_t i = 0; i < n && v < 1000000000L; i++) v = v * 10 + (buf[i] - '0');
    if (n > 10) v = 1000000000L;
    t->port = v;
    t->port_explicit = true;
    t->port_text = strdup(buf);
    return t->port_text ? 0 : -1;
}

static bool host_chars_ok(const char *h, size_t n)
{
    if (n == 0 || n > PT_DR_HOST_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c >= 0x7f || strchr("/?#@[]\\\"'<>", c)) return false;
    }
    return true;
}

/* Splits "host:port", "[v6]:port", ":port", "port", "[v6]" or "host" (authority form, no path).
 * host_out gets a malloc'd host or NULL when absent. */
static int parse_hostport(const char *s, size_t n, bool need_port, pt_dr_target *t, char **host_out, char *err,
                          size_t errlen)
{
    const char *host = NULL, *port = NULL;
    size_t hlen = 0, plen = 0;
    bool all_digits = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) all_digits = false;

    if (all_digits) {
        port = s, plen = n;
    } else if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            set_err(err, errlen, "%s", "missing ']' after the IPv6 address");
            return -1;
        }
        host = s + 1, hlen = (size_t)(close - s - 1);
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest) {
            if (close[1] != ':') {
                set_err(err, errlen, "%s", "expected ':PORT' after ']'");
                return -1;
            }
            port = close + 2, plen = rest - 1;
        }
        if (hlen == 0) {
            set_err(err, errlen, "%s", "empty IPv6 address in []");
            return -1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
            set_err(err, errlen, "%s", "write IPv6 addresses in brackets, like [::1]:8080");
            return -1;
        }
        if (colon) {
            host = s, hlen = (size_t)(colon - s);
            port = colon + 1, plen = n - hlen - 1;
        } else {
            host = s, hlen = n;
        }
    }
    if (host && hlen == 0) host = NULL;
    if (host && !host_chars_ok(host, hlen)) {
        set_err(err, errlen, "%s", "the host name has characters a host name cannot have");
        return -1;
    }
    if (port) {
        if (parse_port_text(port, plen, t, err, errlen) < 0) return -1;
    } else if (need_port) {
        set_err(err, errlen, "%s", "the target needs a port, like localhost:8080 or :8080");
        return -1;
    }
    *host_out = host ? strndup(host, hlen) : NULL;
    return 0;
}

static int parse_url(const char *text, const char *sep, pt_dr_target *t, char *err, size_t errlen)
{
    static const struct {
        const char *scheme;
        pt_dr_mode mode;
        bool tls;
        long port;
    } schemes[] = {
        { "http", PT_DR_MODE_HTTP, false, 80 },      { "https", PT_DR_MODE_HTTP, true, 443 },
        { "mcp+http", PT_DR_MODE_MCP, false, 80 },   { "mcp+https", PT_DR_MODE_MCP, true, 443 },
    };
    size_t slen = (size_t)(sep - text);
    int which = -1;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strlen(schemes[i].scheme) == slen && strncasecmp(text, schemes[i].scheme, slen) == 0) which = (int)i;
    if (which < 0) {
        set_err(err, errlen, "%s", "unsupported URL scheme (use http://, https://, mcp+http:// or mcp+https://)");
        return -1;
    }
    t->mode = schemes[which].mode;
    t->tls = schemes[which].tls;
    t->scheme = strdup(schemes[which].scheme);

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    /* Credentials in the URL are never needed by the checks and never printed. */
    const char *at = NULL;
    for (const char *p = auth; p < rest; p++)
        if (*p == '@') at = p;
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
        /* The target as typed is printed and put in the JSON: never with its password. */
        size_t n = strlen(t->input) + 4;
        char *masked = malloc(n);
        if (!masked) return -1;
        pt__dr_proxy_mask(t->input, masked, n);
        free(t->input);
        t->input = masked;
    }
    char *host = NULL;
    if (parse_hostport(auth, alen, false, t, &host, err, errlen) < 0) return -1;
    t->host = host ? host : strdup("localhost");
    if (t->port < 0) t->port = schemes[which].port;
    size_t plen = strcspn(rest, "#");
    if (plen == 0 || rest[0] != '/') {
        /* "http://h?x" has an empty path: the request goes to "/?x". */
        char *p = malloc(plen + 2);
        if (!p) return -1;
        p[0] = '/';
        memcpy(p + 1, rest, plen);
        p[plen + 1] = '\0';
        t->path = p;
    } else {
        t->path = strndup(rest, plen);
    }
    return 0;
}

int pt_dr_target_parse(const char *text, bool listen, pt_dr_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->port = -1;
    if (!text || !*text) {
        set_err(err, errlen, "%s", "empty target");
        return -1;
    }
    if (strlen(text) > 4096) {
        set_err(err, errlen, "%s", "the target is too long");
        return -1;
    }
    t->input = strdup(text);
    if (!t->input) goto fail;
    const char *sep = strstr(text, "://");
    if (sep && !listen) {
        if (parse_url(text, sep, t, err, errlen) < 0) goto fail;
        return 0;
    }
    if (sep) {
        set_err(err, errlen, "%s", "--listen takes [ADDR:]PORT, not a URL");
        goto fail;
    }
    char *host = NULL;
    if (parse_hostport(text, strlen(text), true, t, &host, err, errlen) < 0) goto fail;
    if (listen) {
        t->mode = PT_DR_MODE_LISTEN;
        if (host && strcmp(host, "*") == 0) {
            free(host);
            host = NULL;
        }
        t->host = host;
    } else {
        t->mode = PT_DR_MODE_CONNECT;
        t->host = host ? host : strdup("localhost");
    }
    return 0;
fail:
    pt_dr_target_release(t);
    return -1;
}

void pt_dr_target_release(pt_dr_target *t)
{
    free(t->input);
    free(t->scheme);
    free(t->host);
    free(t->path);
    free(t->port_text);
    if (t->argv)
        for (char **a = t->argv; *a; a++) free(*a);
    free(t->argv);
    memset(t, 0, sizeof *t);
    t->port = -1;
}

/* ---- running and ranking -------------------------------------------------------------- */

void pt_dr_result_release(pt_dr_result *res)
{
    free(res->summary);
    free(res->remedy);
    free(res->skip_reason);
    free(res->details);
    json_decref(res->evidence);
    memset(res, 0, sizeof *res);
}

static bool key_check(const pt_dr_check *c, pt_dr_mode mode)
{
    switch (mode) {
    case PT_DR_MODE_LISTEN: return strcmp(c->id, "listen") == 0;
    case PT_DR_MODE_STDIO: return strcmp(c->id, "mcp") == 0;
    default: return strcmp(c->id, "connect") == 0;
    }
}

void pt_dr_rank(pt_dr_run *run)
{
    const pt_dr_entry *fail = NULL, *warn = NULL;
    size_t shown = 0, skipped = 0;
    bool key_skipped = false;
    for (size_t i = 0; i < run->n; i++) {
        const pt_dr_entry *e = &run->entries[i];
        if (!e->shown) continue;
        shown++;
        if (e->res.status == PT_DR_FAIL && (!fail || e->res.score > fail->res.score)) fail = e;
        if (e->res.status == PT_DR_WARN && (!warn || e->res.score > warn->res.score)) warn = e;
        if (e->res.status == PT_DR_SKIP) {
            skipped++;
            if (key_check(e->check, run->target.mode)) key_skipped = true;
        }
    }
    run->root = fail ? fail : warn;
    if (fail) {
        run->verdict = "failure", run->exit_code = PT_DR_EXIT_FAIL;
    } else if (warn) {
        run->verdict = "warning", run->exit_code = PT_DR_EXIT_WARN;
    } else if (shown == 0 || skipped == shown || key_skipped) {
        run->verdict = "unknown", run->exit_code = PT_DR_EXIT_UNKNOWN;
    } else {
        run->verdict = "healthy", run->exit_code = PT_DR_EXIT_HEALTHY;
    }
}

static bool in_list(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, id, n) == 0) return true;
        p += len;
        if (*p == ',') p++;
    }
    return false;
}

static bool applies(const pt_dr_check *c, pt_dr_mode mode) { return (c->modes & mode) != 0; }

/* Marks the checks that must run: the shown ones and, transitively, what they read. */
static void mark_needed(pt_dr_mode mode, bool want[NCHECKS])
{
    for (int pass = 0; pass < (int)NCHECKS; pass++) {
        bool changed = false;
        for (size_t i = 0; i < NCHECKS; i++) {
            if (!want[i]) continue;
            for (size_t k = 0; k < sizeof check_needs / sizeof check_needs[0]; k++) {
                if (strcmp(check_needs[k].id, check_table[i]->id) != 0) continue;
                for (int j = 0; j < 4 && check_needs[k].needs[j]; j++) {
                    for (size_t m = 0; m < NCHECKS; m++) {
                        if (!want[m] && strcmp(check_table[m]->id, check_needs[k].needs[j]) == 0 &&
                            applies(check_table[m], mode)) {
                            want[m] = true;
                            changed = true;
                        }
                    }
                }
            }
        }
        if (!changed) break;
    }
}

static void run_checks(pt_dr_run *run, const char *only, const char *skip)
{
    bool shown[NCHECKS] = { 0 }, want[NCHECKS] = { 0 };
    for (size_t i = 0; i < NCHECKS; i++) {
        const pt_dr_check *c = check_table[i];
        shown[i] = applies(c, run->target.mode) && (!only || in_list(only, c->id)) && !in_list(skip, c->id);
        want[i] = shown[i];
    }
    mark_needed(run->target.mode, want);

    run->entries = calloc(NCHECKS, sizeof *run->entries);
    if (!run->entries) return;
    pt_dr_ctx ctx = { .target = &run->target, .opts = &run->opts, .facts = run->facts };
    for (size_t i = 0; i < NCHECKS; i++) {
        if (!want[i]) continue;
        pt_dr_entry *e = &run->entries[run->n++];
        e->check = check_table[i];
        e->shown = shown[i];
        e->res.evidence = json_object();
        uint64_t t0 = pt_now_us();
        e->check->run(&ctx, &e->res);
        e->ms = pt_dr_ms_since(t0);
        if (!e->res.evidence) e->res.evidence = json_object();
        if (e->res.status != PT_DR_SKIP && !e->res.summary) e->res.summary = strdup("(the check reported nothing)");
        if (e->res.status == PT_DR_SKIP && !e->res.skip_reason) e->res.skip_reason = strdup("no reason given");
    }
}

/* ---- command line --------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: portico doctor [options] TARGET\n"
            "       portico doctor [options] --listen [ADDR:]PORT\n"
            "       portico doctor [options] --mcp-stdio -- COMMAND [ARGS...]\n"
            "\n"
            "Finds why a connection fails and says how to fix it, with the real PID, port and address.\n"
            "TARGET is host:port, :port, port, or a URL: http://, https://, mcp+http://, mcp+https://.\n"
            "\n"
            "options:\n"
            "  --json            one JSON document (stable check and root-cause ids)\n"
            "  --only IDS        run only these checks (comma-separated; see --list-checks)\n"
            "  --skip IDS        leave these checks out\n"
            "  --list-checks     list the checks and the modes they run in\n"
            "  --timeout MS      deadline of each probe (default %u)\n"
            "  -q, --quiet       print only the verdict line\n"
            "  --no-color        no colour (colour is used only on a terminal, never with NO_COLOR)\n"
            "\n"
            "Read-only: the doctor never kills a process, edits a file or changes a firewall;\n"
            "it prints the commands to run.\n"
            "exit status: 0 healthy, 1 warnings only, 2 a failure was found, 3 could not determine,\n"
            "64 usage error.\n",
            PT_DR_TIMEOUT_DEFAULT);
}

static void list_checks(FILE *f)
{
    static const struct {
        unsigned bit;
        const char *name;
    } modes[] = {
        { PT_DR_MODE_CONNECT, "connect" }, { PT_DR_MODE_HTTP, "http" },   { PT_DR_MODE_MCP, "mcp" },
        { PT_DR_MODE_LISTEN, "listen" },   { PT_DR_MODE_STDIO, "stdio" },
    };
    fprintf(f, "%-13s %-32s %s\n", "ID", "MODES", "TITLE");
    for (size_t i = 0; i < NCHECKS; i++) {
        char m[64] = "";
        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
            if (!(check_table[i]->modes & modes[k].bit)) continue;
            if (*m) strcat(m, ",");
            strcat(m, modes[k].name);
        }
        fprintf(f, "%-13s %-32s %s\n", check_table[i]->id, m, check_table[i]->title);
    }
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "portico doctor: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return PT_DR_EXIT_USAGE;
}

/* Every id in list must name a check. */
static int validate_ids(const char *opt, const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len && !find_check(p, len)) {
            char id[64];
            snprintf(id, sizeof id, "%.*s", (int)(len < 40 ? len : 40), p);
            fprintf(stderr, "portico doctor: %s: unknown check '%s' (see --list-checks)\n", opt, id);
            return -1;
        }
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

/* "--opt VALUE" or "--opt=VALUE"; advances *i past a separate value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=') return a + n + 1;
    if (strcmp(a, name) != 0) return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

static bool color_wanted(void)
{
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    if (nc && *nc) return false;
    if (term && strcmp(term, "dumb") == 0) return false;
    return isatty(STDOUT_FILENO) == 1;
}

typedef struct cli {
    const char *only, *skip, *target, *listen;
    bool stdio, list, no_color;
    int cmd_start; /* index of the --mcp-stdio COMMAND in argv, or -1 */
} cli;

static int parse_cli(int argc, char **argv, cli *c, pt_dr_options *o)
{
    const char *v;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc) c->cmd_start = i + 1;
            break;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (strcmp(a, "--list-checks") == 0) {
            c->list = true;
        } else if (strcmp(a, "--no-color") == 0) {
            c->no_color = true;
        } else if (strcmp(a, "--mcp-stdio") == 0) {
            c->stdio = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if ((v = opt_value(argc, argv, &i, "--only"))) {
            if (!*v) return bad_usage("%s needs a comma-separated list of check ids", "--only");
            if (validate_ids("--only", v) < 0) return PT_DR_EXIT_USAGE;
            c->only = v;
        } else if ((v = opt_value(argc, argv, &i, "--skip"))) {
            if (!*v) return bad_usage("%s needs a comma-separated list of check ids", "--skip");
            if (validate_ids("--skip", v) < 0) return PT_DR_EXIT_USAGE;
            c->skip = v;
        } else if ((v = opt_value(argc, argv, &i, "--timeout"))) {
            char *end;
            errno = 0;
            long ms = strtol(v, &end, 10);
            if (!*v || *end || errno || ms < 1 || ms > (long)PT_DR_TIMEOUT_MAX)
                return bad_usage("--timeout takes milliseconds between 1 and 60000, not '%s'", v);
            o->timeout_ms = (unsigned)ms;
        } else if ((v = opt_value(argc, argv, &i, "--listen"))) {
            if (!*v) return bad_usage("%s needs [ADDR:]PORT", "--listen");
            c->listen = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return bad_usage("unknown option '%s'", a);
        } else if (c->stdio) {
            c->cmd_start = i; /* "--mcp-stdio cmd args": the rest is the command */
            break;
        } else if (c->target) {
            return bad_usage("more than one target ('%s')", a);
        } else {
            c->target = a;
        }
    }
    return 0;
}

static int build_target(int argc, char **argv, const cli *c, pt_dr_target *t)
{
    char err[160] = "";
    int modes = (c->target != NULL) + (c->listen != NULL) + (c->stdio ? 1 : 0);
    if (modes == 0) return bad_usage("%s", "which target? give TARGET, --listen [ADDR:]PORT or --mcp-stdio -- COMMAND");
    if (modes > 1) return bad_usage("%s", "give one of TARGET, --listen or --mcp-stdio");
    if (c->stdio) {
        if (c->cmd_start < 0) return bad_usage("%s", "--mcp-stdio needs a command: --mcp-stdio -- COMMAND [ARGS...]");
        memset(t, 0, sizeof *t);
        t->port = -1;
        t->mode = PT_DR_MODE_STDIO;
        size_t n = (size_t)(argc - c->cmd_start);
        t->argv = calloc(n + 1, sizeof *t->argv);
        t->input = strdup(argv[c->cmd_start]);
        if (!t->argv || !t->input) return PT_DR_EXIT_USAGE;
        for (size_t k = 0; k < n; k++) t->argv[k] = strdup(argv[c->cmd_start + (int)k]);
        return 0;
    }
    if (c->cmd_start >= 0) return bad_usage("%s", "a command after '--' needs --mcp-stdio");
    const char *text = c->listen ? c->listen : c->target;
    if (pt_dr_target_parse(text, c->listen != NULL, t, err, sizeof err) < 0) {
        fprintf(stderr, "portico doctor: %s: %s\n\n", text, err);
        usage(stderr);
        return PT_DR_EXIT_USAGE;
    }
    return 0;
}

static void run_release(pt_dr_run *run)
{
    for (size_t i = 0; i < run->n; i++) pt_dr_result_release(&run->entries[i].res);
    free(run->entries);
    json_decref(run->facts);
    pt_dr_target_release(&run->target);
}

json_t *pt_doctor_json(const char *target, bool listen, unsigned timeout_ms, char *err, size_t errlen)
{
    pt_dr_run run = { 0 };
    run.opts.timeout_ms = timeout_ms ? timeout_ms : PT_DR_TIMEOUT_DEFAULT;
    run.opts.json = true;
    if (pt_dr_target_parse(target, listen, &run.target, err, errlen) != 0) return NULL;
    uint64_t start = pt_now_us();
    run.facts = json_object();
    run_checks(&run, NULL, "");
    pt_dr_rank(&run);
    run.duration_ms = pt_dr_ms_since(start);
    json_t *doc = pt_dr_report_json(&run);
    if (!doc) snprintf(err, errlen, "out of memory");
    run_release(&run);
    return doc;
}

int pt_doctor_main(int argc, char **argv)
{
    pt_dr_run run = { 0 };
    cli c = { .cmd_start = -1 };
    run.opts.timeout_ms = PT_DR_TIMEOUT_DEFAULT;
    int rc = parse_cli(argc, argv, &c, &run.opts);
    if (rc == 1) return 0; /* --help */
    if (rc) return rc;
    if (c.list) {
        list_checks(stdout);
        return 0;
    }
    rc = build_target(argc, argv, &c, &run.target);
    if (rc) return rc;
    run.opts.color = !c.no_color && !run.opts.json && color_wanted();

    uint64_t start = pt_now_us();
    run.facts = json_object();
    run_checks(&run, c.only, c.skip ? c.skip : "");
    pt_dr_rank(&run);
    run.duration_ms = pt_dr_ms_since(start);

    if (run.opts.json) {
        json_t *doc = pt_dr_report_json(&run);
        if (doc) {
            json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(doc);
        }
    } else if (run.opts.quiet) {
        pt_dr_report_quiet(&run, stdout);
    } else {
        pt_dr_report_text(&run, stdout);
    }
    fflush(stdout);
    rc = run.exit_code;
    run_release(&run);
    return rc;
}
