/* check.h: the doctor's check interface. Every check has a stable id, runs within a
 * deadline, records what it saw as evidence, and may name a root cause with a score
 * so the report can rank "Most likely cause" first. Checks share what they learn
 * (resolved addresses, listeners, detected protocol) through ctx->facts so no probe
 * is repeated. Checks are read-only: they never kill, edit or change anything. */
#ifndef PT_DOCTOR_CHECK_H
#define PT_DOCTOR_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PT_DR_PASS,
    PT_DR_INFO,   /* nothing wrong, something worth knowing */
    PT_DR_WARN,
    PT_DR_FAIL,
    PT_DR_SKIP,   /* did not run; reason says why */
} pt_dr_status;

typedef enum {
    PT_DR_MODE_CONNECT = 1u << 0, /* TARGET is host:port, :port, port */
    PT_DR_MODE_HTTP    = 1u << 1, /* TARGET is http:// or https:// */
    PT_DR_MODE_MCP     = 1u << 2, /* TARGET is mcp+http(s):// */
    PT_DR_MODE_LISTEN  = 1u << 3, /* --listen */
    PT_DR_MODE_STDIO   = 1u << 4, /* --mcp-stdio -- CMD ... */
} pt_dr_mode;
#define PT_DR_MODE_NET (PT_DR_MODE_CONNECT | PT_DR_MODE_HTTP | PT_DR_MODE_MCP)

typedef struct pt_dr_target {
    pt_dr_mode mode;
    char *input;        /* as typed */
    char *scheme;       /* "http", "https", "mcp+http", "mcp+https", or NULL */
    char *host;         /* "localhost" when omitted; brackets removed for IPv6; in LISTEN mode
                         * NULL when no address was given (every address) */
    long port;          /* as typed, may be out of range (619009); -1 when unknown */
    bool port_explicit;
    char *path;         /* URL path, "/" default for URLs; NULL otherwise */
    bool tls;           /* scheme asks for TLS */
    char **argv;        /* --mcp-stdio command, NULL-terminated */
    char *port_text;    /* the port's digits as typed ("619009"), for typo suggestions; NULL if implicit */
} pt_dr_target;

typedef struct pt_dr_options {
    unsigned timeout_ms;  /* per-probe deadline, default 1000 */
    bool json, quiet, color;
} pt_dr_options;

typedef struct pt_dr_ctx {
    const pt_dr_target *target;
    const pt_dr_options *opts;
    json_t *facts;        /* shared evidence, keys documented in doctor.h */
} pt_dr_ctx;

typedef struct pt_dr_result {
    pt_dr_status status;
    char *summary;        /* one line for the person: what was found, with real values */
    json_t *evidence;     /* object: raw observations (addresses, pids, errno names, timings);
                           * the runner hands run() an empty object: add to it, don't replace it */
    char *remedy;         /* what to do, with real values and commands; NULL if nothing */
    const char *cause;    /* stable root-cause id when status is FAIL/WARN, e.g. "nothing_listening" */
    int score;            /* how likely this is THE root cause, 0..100 */
    char *skip_reason;
    char *details;        /* human-readable evidence, one observation per line ('\n'-separated);
                           * the report prints it under "Most likely cause"; NULL if none */
} pt_dr_result;

typedef struct pt_dr_check {
    const char *id;       /* stable: "port", "resolve", "listeners", ... */
    const char *title;
    unsigned modes;       /* pt_dr_mode bits this check applies to */
    void (*run)(pt_dr_ctx *ctx, pt_dr_result *res);
} pt_dr_check;

/* Helpers for checks (doctor/check.c). Formatting helpers take ownership of nothing. */
void pt_dr_set(pt_dr_result *res, pt_dr_status st, const char *cause, int score, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void pt_dr_remedy(pt_dr_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pt_dr_skip(pt_dr_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pt_dr_remedy appends: each call adds one line to the remedy. pt_dr_detail appends one line
 * of human-readable evidence to res->details. */
void pt_dr_detail(pt_dr_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "ECONNREFUSED" for ECONNREFUSED; "E<number>" for codes without a name. Static storage. */
const char *pt_dr_errno_name(int err);
/* True when the target has a port that can be used (the "port" check found it valid, or it is
 * in range when that check did not run); otherwise marks res skipped with the reason. */
bool pt_dr_need_port(const pt_dr_ctx *ctx, pt_dr_result *res);
/* "host:port", with brackets around an IPv6 address ("[::1]:8080"). */
void pt_dr_hostport(const char *host, long port, char *out, size_t n);
/* Do the first bits bits of two addresses of family (AF_INET: 4 bytes, AF_INET6: 16) agree?
 * False when bits is out of range for the family. */
bool pt_dr_prefix_match(int family, const unsigned char *net, const unsigned char *addr, long bits);
/* Is the address (4 or 16 bytes, network order) one of this machine's: loopback (127/8, ::1)
 * or configured on an interface? */
bool pt_dr_addr_is_local(int family, const unsigned char *addr);
/* The interface the address is configured on (getifaddrs), copied to ifname when not NULL. */
bool pt_dr_addr_ifname(int family, const unsigned char *addr, char *ifname, size_t n);
/* Milliseconds elapsed since start_us (a pt_now_us() reading), rounded to 0.01 ms. */
double pt_dr_ms_since(uint64_t start_us);

#endif
