/* report.c: the doctor's reports. Text for a person: the most likely cause first, with its
 * evidence and fix, then one line per check, then a one-line verdict. JSON for programs:
 * stable ids, statuses, evidence and remedies. */
#include <stdio.h>
#include <string.h>

#include "doctor/doctor.h"

#define C_RED "\033[31;1m"
#define C_YEL "\033[33;1m"
#define C_GRN "\033[32m"
#define C_DIM "\033[2m"
#define C_BLD "\033[1m"
#define C_OFF "\033[0m"

const char *pt_dr_status_name(pt_dr_status st)
{
    switch (st) {
    case PT_DR_PASS: return "pass";
    case PT_DR_INFO: return "info";
    case PT_DR_WARN: return "warn";
    case PT_DR_FAIL: return "fail";
    case PT_DR_SKIP: return "skip";
    }
    return "skip";
}

const char *pt_dr_mode_name(pt_dr_mode m)
{
    switch (m) {
    case PT_DR_MODE_CONNECT: return "connect";
    case PT_DR_MODE_HTTP: return "http";
    case PT_DR_MODE_MCP: return "mcp";
    case PT_DR_MODE_LISTEN: return "listen";
    case PT_DR_MODE_STDIO: return "mcp-stdio";
    }
    return "connect";
}

static const char *color_of(pt_dr_status st)
{
    switch (st) {
    case PT_DR_PASS: return C_GRN;
    case PT_DR_WARN: return C_YEL;
    case PT_DR_FAIL: return C_RED;
    default: return C_DIM;
    }
}

/* Prints each line of text with a prefix; the first line may take a different prefix. */
static void print_lines(FILE *out, const char *text, const char *first, const char *rest)
{
    const char *p = text;
    for (int i = 0; p && *p; i++) {
        size_t n = strcspn(p, "\n");
        fprintf(out, "%s%.*s\n", i == 0 ? first : rest, (int)n, p);
        p += n;
        if (*p == '\n') p++;
    }
}

static const char *what(const pt_dr_target *t)
{
    switch (t->mode) {
    case PT_DR_MODE_LISTEN: return "can a server listen on";
    case PT_DR_MODE_STDIO: return "MCP stdio server";
    default: return "connecting to";
    }
}

static void print_target(const pt_dr_run *run, FILE *out)
{
    const pt_dr_target *t = &run->target;
    fprintf(out, "portico doctor: %s ", what(t));
    if (t->mode == PT_DR_MODE_STDIO && t->argv) {
        for (char **a = t->argv; *a; a++) fprintf(out, "%s%s", *a, a[1] ? " " : "");
    } else if (t->mode == PT_DR_MODE_LISTEN) {
        if (!t->host) fprintf(out, "port %s (every address)", t->port_text ? t->port_text : "?");
        else if (strchr(t->host, ':')) fprintf(out, "[%s]:%s", t->host, t->port_text ? t->port_text : "?");
        else fprintf(out, "%s:%s", t->host, t->port_text ? t->port_text : "?");
    } else if (t->mode == PT_DR_MODE_CONNECT && t->host) {
        char hp[300];
        if (strchr(t->host, ':')) snprintf(hp, sizeof hp, "[%s]:%s", t->host, t->port_text ? t->port_text : "?");
        else snprintf(hp, sizeof hp, "%s:%s", t->host, t->port_text ? t->port_text : "?");
        fprintf(out, "%s", hp);
    } else {
        fprintf(out, "%s", t->input);
    }
    fprintf(out, "%s\n\n", t->mode == PT_DR_MODE_LISTEN ? "?" : "");
}

static void print_root(const pt_dr_run *run, FILE *out)
{
    bool c = run->opts.color;
    const pt_dr_entry *r = run->root;
    if (!r) {
        fprintf(out, "%sMost likely cause:%s none", c ? C_BLD : "", c ? C_OFF : "");
        fprintf(out, "%s\n\n", run->exit_code == PT_DR_EXIT_UNKNOWN
                                   ? "; but the checks that decide could not run (see below)"
                                   : "; no check found a problem");
        return;
    }
    const char *col = c ? color_of(r->res.status) : "";
    fprintf(out, "%sMost likely cause:%s %s%s%s\n", c ? C_BLD : "", c ? C_OFF : "", col,
            r->res.summary ? r->res.summary : r->check->title, c ? C_OFF : "");
    fprintf(out, "  (%s, found by the %s check)\n", r->res.cause ? r->res.cause : "unnamed", r->check->id);
    /* The connect result is the symptom the person saw; show it beside the explanation. */
    const pt_dr_entry *conn = NULL;
    for (size_t i = 0; i < run->n; i++)
        if (strcmp(run->entries[i].check->id, "connect") == 0 && &run->entries[i] != r &&
            run->entries[i].res.status != PT_DR_SKIP)
            conn = &run->entries[i];
    if (r->res.details || conn) {
        fprintf(out, "  Evidence:\n");
        print_lines(out, r->res.details, "    - ", "    - ");
        if (conn && conn->res.summary) fprintf(out, "    - connect: %s\n", conn->res.summary);
    }
    if (r->res.remedy) {
        fprintf(out, "  Fix:\n");
        print_lines(out, r->res.remedy, "    - ", "    - ");
    }
    fputc('\n', out);
}

/* Other failures and warnings carry their own fixes; the person should not have to open the
 * JSON to find them. One entry each, below the root cause. */
static void print_others(const pt_dr_run *run, FILE *out)
{
    int n = 0;
    for (size_t i = 0; i < run->n; i++) {
        const pt_dr_entry *e = &run->entries[i];
        /* The connect result is a symptom, already shown as evidence of the root cause. */
        if (!e->shown || e == run->root || !e->res.remedy || (run->root && strcmp(e->check->id, "connect") == 0))
            continue;
        if (e->res.status != PT_DR_FAIL && e->res.status != PT_DR_WARN) continue;
        if (run->root && e->res.cause && run->root->res.cause && strcmp(e->res.cause, run->root->res.cause) == 0)
            continue;
        if (n++ == 0) fprintf(out, "Also found:\n");
        fprintf(out, "  %s: %s\n", e->check->id, e->res.summary ? e->res.summary : "");
        print_lines(out, e->res.remedy, "    fix: ", "         ");
    }
    if (n) fputc('\n', out);
}

static void print_checks(const pt_dr_run *run, FILE *out)
{
    bool c = run->opts.color;
    fprintf(out, "Checks:\n");
    size_t shown = 0;
    for (size_t i = 0; i < run->n; i++) shown += run->entries[i].shown;
    if (!shown) fprintf(out, "  (none of the selected checks applies to this kind of target; see --list-checks)\n");
    for (size_t i = 0; i < run->n; i++) {
        const pt_dr_entry *e = &run->entries[i];
        if (!e->shown) continue;
        const char *word = pt_dr_status_name(e->res.status);
        char upper[8];
        snprintf(upper, sizeof upper, "%s", word);
        if (e->res.status == PT_DR_FAIL) memcpy(upper, "FAIL", 4);
        const char *text = e->res.status == PT_DR_SKIP ? e->res.skip_reason : e->res.summary;
        fprintf(out, "  %s%-4s%s  %-13s %s\n", c ? color_of(e->res.status) : "", upper, c ? C_OFF : "",
                e->check->id, text ? text : "");
    }
    fputc('\n', out);
}

static void count(const pt_dr_run *run, int n[5])
{
    memset(n, 0, 5 * sizeof n[0]);
    for (size_t i = 0; i < run->n; i++)
        if (run->entries[i].shown) n[run->entries[i].res.status]++;
}

static void print_verdict(const pt_dr_run *run, FILE *out, bool counts)
{
    int n[5];
    count(run, n);
    bool c = run->opts.color;
    const char *col = !c ? "" : run->exit_code == PT_DR_EXIT_FAIL ? C_RED
                              : run->exit_code == PT_DR_EXIT_WARN ? C_YEL
                              : run->exit_code == PT_DR_EXIT_HEALTHY ? C_GRN : C_DIM;
    fprintf(out, "%s%s%s", col, run->verdict, c ? C_OFF : "");
    if (run->root) fprintf(out, " (%s)", run->root->res.cause ? run->root->res.cause : "unnamed");
    if (counts)
        fprintf(out, "; %d failed, %d warning%s, %d passed, %d info, %d skipped", n[PT_DR_FAIL], n[PT_DR_WARN],
                n[PT_DR_WARN] == 1 ? "" : "s", n[PT_DR_PASS], n[PT_DR_INFO], n[PT_DR_SKIP]);
    fprintf(out, "; %.0f ms; exit %d\n", run->duration_ms, run->exit_code);
}

void pt_dr_report_quiet(const pt_dr_run *run, FILE *out) { print_verdict(run, out, false); }

void pt_dr_report_text(const pt_dr_run *run, FILE *out)
{
    print_target(run, out);
    print_root(run, out);
    print_others(run, out);
    print_checks(run, out);
    fprintf(out, "Verdict: ");
    print_verdict(run, out, true);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *lines_array(const char *text)
{
    json_t *a = json_array();
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, "\n");
        json_array_append_new(a, json_stringn(p, n));
        p += n;
        if (*p == '\n') p++;
    }
    return a;
}

static json_t *target_json(const pt_dr_target *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "input", str_or_null(t->input));
    json_object_set_new(o, "scheme", str_or_null(t->scheme));
    json_object_set_new(o, "host", str_or_null(t->host));
    json_object_set_new(o, "port", t->port >= 0 ? json_integer(t->port) : json_null());
    json_object_set_new(o, "path", str_or_null(t->path));
    json_object_set_new(o, "tls", json_boolean(t->tls));
    if (t->argv) {
        json_t *a = json_array();
        for (char **p = t->argv; *p; p++) json_array_append_new(a, json_string(*p));
        json_object_set_new(o, "command", a);
    }
    return o;
}

json_t *pt_dr_report_json(const pt_dr_run *run)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "target", str_or_null(run->target.input));
    json_object_set_new(doc, "target_parsed", target_json(&run->target));
    json_object_set_new(doc, "mode", json_string(pt_dr_mode_name(run->target.mode)));
    json_object_set_new(doc, "verdict", json_string(run->verdict));
    json_object_set_new(doc, "exit_code", json_integer(run->exit_code));
    if (run->root) {
        json_t *rc = json_object();
        json_object_set_new(rc, "id", str_or_null(run->root->res.cause));
        json_object_set_new(rc, "check", json_string(run->root->check->id));
        json_object_set_new(rc, "summary", str_or_null(run->root->res.summary));
        json_object_set_new(rc, "remedy", str_or_null(run->root->res.remedy));
        json_object_set_new(doc, "root_cause", rc);
    } else {
        json_object_set_new(doc, "root_cause", json_null());
    }
    json_object_set_new(doc, "duration_ms", json_real(run->duration_ms));
    json_t *checks = json_array();
    for (size_t i = 0; i < run->n; i++) {
        const pt_dr_entry *e = &run->entries[i];
        if (!e->shown) continue;
        json_t *c = json_object();
        json_object_set_new(c, "id", json_string(e->check->id));
        json_object_set_new(c, "title", json_string(e->check->title));
        json_object_set_new(c, "status", json_string(pt_dr_status_name(e->res.status)));
        json_object_set_new(c, "summary", str_or_null(e->res.summary));
        json_object_set_new(c, "evidence", e->res.evidence ? json_incref(e->res.evidence) : json_object());
        json_object_set_new(c, "details", lines_array(e->res.details));
        json_object_set_new(c, "remedy", str_or_null(e->res.remedy));
        json_object_set_new(c, "cause", str_or_null(e->res.cause));
        json_object_set_new(c, "score", json_integer(e->res.score));
        json_object_set_new(c, "skip_reason", str_or_null(e->res.skip_reason));
        json_object_set_new(c, "ms", json_real(e->ms));
        json_array_append_new(checks, c);
    }
    json_object_set_new(doc, "checks", checks);
    json_object_set(doc, "facts", run->facts);
    return doc;
}
