/* doctor.h: `portico doctor`, which finds why a connection fails and says how to fix it.
 *
 * Flow: pt_doctor_main parses the command line into a target and options, runs the check
 * table (doctor.c) in order, ranks the results and prints a report (report.c).
 *
 * Facts that checks share through ctx->facts (each key written by one check, read by later ones):
 *   "port_valid"        bool                                                   (port)
 *   "addresses"         [{"family":"ipv4"|"ipv6","address","source":"hosts"|"dns"|"literal"|
 *                         "builtin"}]  every address some client will try, the glibc order first;
 *                         "builtin" marks the ones only clients with a hard-coded localhost use (resolve)
 *   "clients"           [{"name","addresses":[..],"tries_all":bool}]  per client family (resolve)
 *   "proxy"             {"http","https" (masked or null),"bypassed":bool}     (proxy_env)
 *   "listeners"         [{"family","address","port","v6only","device","accept_queue","backlog",
 *                         "inode","pid","command","user","netns","netns_pid"}]  (listeners)
 *   "connect"           [{"address","family","result","errno","ms"}]           (connect)
 *   "reachable_address" first address that connected                            (connect)
 *   "protocol", "banner", "tls"                                                 (protocol, tls)
 */
#ifndef PT_DOCTOR_DOCTOR_H
#define PT_DOCTOR_DOCTOR_H

#include <stddef.h>
#include <stdio.h>

#include "doctor/check.h"

/* Exit statuses (also in the JSON report as "exit_code"). */
enum {
    PT_DR_EXIT_HEALTHY = 0,
    PT_DR_EXIT_WARN = 1,
    PT_DR_EXIT_FAIL = 2,
    PT_DR_EXIT_UNKNOWN = 3,
    PT_DR_EXIT_USAGE = 64,
};

/* `portico doctor ARGS...` (argv excludes "portico doctor"). Returns the exit status. */
int pt_doctor_main(int argc, char **argv);

/* The doctor as a library: one diagnosis of target (a TARGET as the command line takes it:
 * host:port, a URL, mcp+http(s)://...; listen: as --listen) with a per-probe timeout (0: the
 * default), as the JSON report `--json` prints. NULL with a one-line reason in err when the
 * target does not parse. It blocks for as long as the checks take (seconds at most) and
 * starts no command but read-only system tools: an MCP stdio server is not a target here. */
json_t *pt_doctor_json(const char *target, bool listen, unsigned timeout_ms, char *err, size_t errlen);

/* Parses a TARGET for mode (CONNECT/HTTP/MCP decided from the text, or LISTEN) into t.
 * Returns 0, or -1 with a one-line reason in err. t is released with pt_dr_target_release. */
int pt_dr_target_parse(const char *text, bool listen, pt_dr_target *t, char *err, size_t errlen);
void pt_dr_target_release(pt_dr_target *t);

/* One run: the checks that ran, in table order, with their results. */
typedef struct pt_dr_entry {
    const pt_dr_check *check;
    pt_dr_result res;
    bool shown;          /* false for checks run only to gather facts another check needs */
    double ms;           /* how long the check took */
} pt_dr_entry;

typedef struct pt_dr_run {
    pt_dr_target target;
    pt_dr_options opts;
    json_t *facts;
    pt_dr_entry *entries;
    size_t n;
    const pt_dr_entry *root;   /* most likely cause, or NULL */
    int exit_code;
    const char *verdict;       /* "healthy" | "warning" | "failure" | "unknown" */
    double duration_ms;
} pt_dr_run;

/* Picks the most likely cause (highest-scoring shown FAIL, else WARN; earlier check on ties)
 * and the verdict. Exposed for tests. */
void pt_dr_rank(pt_dr_run *run);
void pt_dr_result_release(pt_dr_result *res);

/* Reports (report.c). Text goes to out; colour only when opts.color. */
void pt_dr_report_text(const pt_dr_run *run, FILE *out);
void pt_dr_report_quiet(const pt_dr_run *run, FILE *out);
/* Returns a new JSON document (caller frees with json_decref). */
json_t *pt_dr_report_json(const pt_dr_run *run);
const char *pt_dr_status_name(pt_dr_status st);
const char *pt_dr_mode_name(pt_dr_mode m);

#endif
