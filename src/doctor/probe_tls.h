/* probe_tls.h: the doctor's TLS client pieces (OpenSSL). A handshake that records every
 * certificate verification error instead of stopping at the first, and a ClientHello made
 * through memory BIOs so the protocol check can send it raw and read what comes back. */
#ifndef PT_DOCTOR_PROBE_TLS_H
#define PT_DOCTOR_PROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/buf.h"

#define PT_DR_TLS_MAX_ERRS 16

/* Verification errors seen during one handshake, in the order OpenSSL reported them. */
typedef struct pt_dr_tls_verify {
    int n;
    struct {
        int depth;      /* 0 = the server's own certificate */
        int code;       /* X509_V_ERR_* */
    } errs[PT_DR_TLS_MAX_ERRS];
    int alert_received; /* TLS alert description the server sent, -1 if none */
    bool cert_requested; /* the server asked for a client certificate (none is sent) */
} pt_dr_tls_verify;

/* After a handshake: waits up to ms for the server to refuse the session with an alert (a
 * TLS 1.3 server that requires a client certificate says so only after the handshake, with
 * certificate_required). Returns the alert's description, or -1 when none came (data, a
 * close or the deadline). Reads nothing the caller needs: only peeks. */
int pt__dr_tls_peek_alert(SSL *ssl, int fd, unsigned ms);

/* A client context. verify: check against the system store, recording every error through
 * pt_dr_tls_verify while letting the handshake continue. alpn: wire-format list or NULL.
 * Returns NULL on failure. Free with SSL_CTX_free. */
SSL_CTX *pt__dr_tls_ctx_new(bool verify, const unsigned char *alpn, size_t alpn_len);

/* Runs a client handshake on a connected non-blocking fd until deadline_ms (pt_now_ms).
 * sni: the name to send (NULL for IP literals). vr (may be NULL) collects verify errors.
 * Returns 0 and *out (free with SSL_free), or PT_ETIMEDOUT / PT_ETLS with a short reason
 * in err ("wrong version number", "the server closed the connection"). */
int pt__dr_tls_handshake(SSL_CTX *ctx, int fd, const char *sni, uint64_t deadline_ms, pt_dr_tls_verify *vr,
                         SSL **out, char *err, size_t errsz);

/* The bytes of a ClientHello for sni (NULL: none), offering h2 and http/1.1, appended to out.
 * Returns 0 or PT_ETLS. */
int pt__dr_tls_client_hello(const char *sni, pt_buf *out);

/* True when host is an IPv4 or IPv6 literal (no SNI may be sent for those). */
bool pt__dr_is_ip_literal(const char *host);

#endif
