/* probe_net.h: socket probing for the doctor's protocol-level checks: a non-blocking connect,
 * sends and reads that all end at a deadline, a connection that may be wrapped in TLS, and
 * the choice of which address of the target to probe (from the facts earlier checks left). */
#ifndef PT_DOCTOR_PROBE_NET_H
#define PT_DOCTOR_PROBE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/slice.h"
#include "doctor/check.h"

/* Makes writes to a peer that went away fail with EPIPE instead of killing the process: OpenSSL
 * and pipes to a child write without MSG_NOSIGNAL. The doctor is a short-lived command whose
 * probes meet closed peers on purpose, so SIGPIPE is ignored for the rest of its run. */
void pt__dr_ignore_sigpipe(void);

/* Absolute deadline (pt_now_ms clock) ms from now. */
uint64_t pt__dr_deadline(unsigned ms);

/* Waits until fd is ready for ev (POLLIN/POLLOUT) or the deadline: 1 ready, 0 deadline, -errno. */
int pt__dr_wait_fd(int fd, short ev, uint64_t deadline_ms);

/* Connects to a numeric address within the deadline. Returns a non-blocking fd, or a negative
 * errno (-ETIMEDOUT when the deadline passed). */
int pt__dr_tcp_connect(const char *addr, long port, uint64_t deadline_ms);

/* A probe connection: plain, or TLS on top (http/mcp checks do not verify certificates: the
 * tls check reports on them). Invariant: fd < 0 when closed. */
typedef struct pt_dr_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    double connect_ms, tls_ms;  /* phase timings, 0 when the phase did not happen */
} pt_dr_conn;

/* Opens a connection (and TLS when tls; sni may be NULL). Returns 0, or a PT_E* code with a
 * person-readable reason in err. On failure the connection is left closed. */
int pt__dr_conn_open(pt_dr_conn *c, const char *addr, long port, bool tls, const char *sni, uint64_t deadline_ms,
                     char *err, size_t errsz);
/* Writes everything or fails: 0, PT_ETIMEDOUT, PT_ECONNRESET, PT_EIO. */
int pt__dr_conn_write(pt_dr_conn *c, pt_slice data, uint64_t deadline_ms);
/* Reads what is available, waiting until the deadline for the first byte.
 * Returns bytes read (> 0), 0 at EOF, PT_ETIMEDOUT, PT_ECONNRESET or PT_EIO. */
ssize_t pt__dr_conn_read(pt_dr_conn *c, void *p, size_t n, uint64_t deadline_ms);
void pt__dr_conn_close(pt_dr_conn *c);

/* Outcome of reading a first reply for fingerprinting. */
typedef enum {
    PT_DR_RD_DATA,     /* bytes arrived (the connection may still be open) */
    PT_DR_RD_EOF,      /* closed with no byte */
    PT_DR_RD_RESET,    /* reset with no byte */
    PT_DR_RD_SILENT,   /* open, no byte before the deadline */
    PT_DR_RD_ERROR,
} pt_dr_read_outcome;

/* Reads a first reply into b (bounded by b's cap and max): waits until deadline_ms for the
 * first byte, then at most idle_ms for each further chunk. */
pt_dr_read_outcome pt__dr_read_reply(pt_dr_conn *c, pt_buf *b, size_t max, uint64_t deadline_ms, unsigned idle_ms);
const char *pt__dr_read_outcome_name(pt_dr_read_outcome o);

/* Which address to probe: facts.reachable_address when an earlier check connected; otherwise,
 * when no connect facts exist, the first address the target resolves to. Returns 1 with out
 * filled; 0 when earlier checks found no address that accepts (why says so); -1 when the
 * target cannot be resolved or has no valid port. */
int pt__dr_probe_address(pt_dr_ctx *ctx, char *out, size_t outsz, char *why, size_t whysz);

/* "host:port" as a client would write it in a URL authority ([::1]:8443 for IPv6). */
void pt__dr_authority(const char *host, long port, char *out, size_t outsz);

/* The result's evidence object, created on first use. */
json_t *pt__dr_evidence(pt_dr_result *res);

#endif
