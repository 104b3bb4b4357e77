/* probe_tls.c: the doctor's OpenSSL client: a handshake that collects every verification
 * error, and a raw ClientHello for fingerprinting. The doctor probes synchronously, one
 * connection at a time with a deadline, so OpenSSL drives the socket directly here (the
 * gateway's TLS filter over memory BIOs is for the event loop, which the doctor does not run). */
#include "doctor/probe_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/probe_net.h"

static int verify_idx = -1;

bool pt__dr_is_ip_literal(const char *host)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return host && (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1);
}

/* Records the error and lets the handshake continue: the doctor wants all of them. */
static int verify_cb(int ok, X509_STORE_CTX *sctx)
{
    if (ok) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    pt_dr_tls_verify *vr = ssl && verify_idx >= 0 ? SSL_get_ex_data(ssl, verify_idx) : NULL;
    if (vr) {
        int code = X509_STORE_CTX_get_error(sctx), depth = X509_STORE_CTX_get_error_depth(sctx);
        bool seen = false;
        for (int i = 0; i < vr->n; i++)
            if (vr->errs[i].code == code && vr->errs[i].depth == depth) seen = true;
        if (!seen && vr->n < PT_DR_TLS_MAX_ERRS) {
            vr->errs[vr->n].code = code;
            vr->errs[vr->n].depth = depth;
            vr->n++;
        }
    }
    return 1;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_READ_ALERT) || verify_idx < 0) return;
    pt_dr_tls_verify *vr = SSL_get_ex_data(ssl, verify_idx);
    if (vr && vr->alert_received < 0) vr->alert_received = ret & 0xff;
}

/* The server asked for a client certificate: note it, send none. */
static int client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
    (void)x509;
    (void)pkey;
    pt_dr_tls_verify *vr = verify_idx >= 0 ? SSL_get_ex_data(ssl, verify_idx) : NULL;
    if (vr) vr->cert_requested = true;
    return 0;
}

int pt__dr_tls_peek_alert(SSL *ssl, int fd, unsigned ms)
{
    pt_dr_tls_verify vr = { .alert_received = -1 };
    if (verify_idx >= 0) SSL_set_ex_data(ssl, verify_idx, &vr);
    uint64_t deadline = pt__dr_deadline(ms);
    char c;
    for (;;) {
        int r = SSL_peek(ssl, &c, 1);
        int se = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
        if (se != SSL_ERROR_WANT_READ || pt__dr_wait_fd(fd, POLLIN, deadline) <= 0) break;
    }
    if (verify_idx >= 0) SSL_set_ex_data(ssl, verify_idx, NULL);
    ERR_clear_error();
    return vr.alert_received;
}

SSL_CTX *pt__dr_tls_ctx_new(bool verify, const unsigned char *alpn, size_t alpn_len)
{
    if (verify_idx < 0) verify_idx = SSL_get_ex_new_index(0, "pt_dr_tls_verify", NULL, NULL, NULL);
    pt__dr_ignore_sigpipe();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    if (verify) {
        SSL_CTX_set_default_verify_paths(ctx);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    SSL_CTX_set_info_callback(ctx, info_cb);
    SSL_CTX_set_client_cert_cb(ctx, client_cert_cb);
    if (alpn && alpn_len) SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)alpn_len);
    return ctx;
}

/* A short reason for a failed handshake, from the OpenSSL error queue or errno. */
static void handshake_reason(int sslerr, int ret, char *err, size_t errsz)
{
    unsigned long e = ERR_peek_last_error();
    if (e) {
        const char *r = ERR_reason_error_string(e);
        snprintf(err, errsz, "%s", r ? r : "TLS error");
    } else if (sslerr == SSL_ERROR_SYSCALL && ret == 0) {
        snprintf(err, errsz, "the server closed the connection during the handshake");
    } else if (sslerr == SSL_ERROR_SYSCALL) {
        snprintf(err, errsz, "%s", errno ? strerror(errno) : "connection reset during the handshake");
    } else if (sslerr == SSL_ERROR_ZERO_RETURN) {
        snprintf(err, errsz, "the server closed the TLS session during the handshake");
    } else {
        snprintf(err, errsz, "TLS handshake failed (SSL error %d)", sslerr);
    }
    ERR_clear_error();
}

int pt__dr_tls_handshake(SSL_CTX *ctx, int fd, const char *sni, uint64_t deadline_ms, pt_dr_tls_verify *vr,
                         SSL **out, char *err, size_t errsz)
{
    *out = NULL;
    if (vr) {
        memset(vr, 0, sizeof *vr);
        vr->alert_received = -1;
    }
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        snprintf(err, errsz, "out of memory");
        return PT_ENOMEM;
    }
    SSL_set_fd(ssl, fd);
    if (sni && *sni && !pt__dr_is_ip_literal(sni)) SSL_set_tlsext_host_name(ssl, sni);
    if (vr && verify_idx >= 0) SSL_set_ex_data(ssl, verify_idx, vr);
    ERR_clear_error();
    for (;;) {
        int r = SSL_connect(ssl);
        if (r == 1) break;
        int se = SSL_get_error(ssl, r);
        short ev = se == SSL_ERROR_WANT_READ ? POLLIN : se == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            handshake_reason(se, r, err, errsz);
            SSL_free(ssl);
            return PT_ETLS;
        }
        int w = pt__dr_wait_fd(fd, ev, deadline_ms);
        if (w <= 0) {
            snprintf(err, errsz, w == 0 ? "no TLS answer within the deadline" : "%s", strerror(-w));
            SSL_free(ssl);
            return w == 0 ? PT_ETIMEDOUT : PT_EIO;
        }
    }
    /* The verify data lives on the caller's stack: detach it before handing the SSL out. */
    if (verify_idx >= 0) SSL_set_ex_data(ssl, verify_idx, NULL);
    *out = ssl;
    return 0;
}

int pt__dr_tls_client_hello(const char *sni, pt_buf *out)
{
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    int rc = PT_ETLS;
    SSL_CTX *ctx = pt__dr_tls_ctx_new(false, alpn, sizeof alpn - 1);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    if (!ssl || !rb || !wb) goto done;
    SSL_set_bio(ssl, rb, wb); /* the SSL owns both BIOs from here */
    rb = wb = NULL;
    if (sni && *sni && !pt__dr_is_ip_literal(sni)) SSL_set_tlsext_host_name(ssl, sni);
    (void)SSL_connect(ssl); /* writes the ClientHello, then wants to read */
    char *p;
    long n = BIO_get_mem_data(SSL_get_wbio(ssl), &p);
    if (n > 0 && pt_buf_append(out, p, (size_t)n) == 0) rc = 0;
done:
    BIO_free(rb);
    BIO_free(wb);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}
