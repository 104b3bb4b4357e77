/* tls.h: TLS as a filter over memory buffers. OpenSSL reads ciphertext we hand it and
 * writes ciphertext into a memory BIO we drain; the socket code never sees a socket
 * inside OpenSSL. Server and client contexts are created once and shared by workers. */
#ifndef PT_HTTP_TLS_H
#define PT_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "core/buf.h"

typedef struct pt_tls {
    SSL *ssl;
    BIO *rbio; /* ciphertext in (owned by ssl) */
    BIO *wbio; /* ciphertext out (owned by ssl) */
    bool handshake_done;
} pt_tls;

/* A listener's TLS: its certificate, which versions and ciphers it speaks, and whether it
 * asks clients for certificates (mTLS). NULL members keep OpenSSL's defaults. */
typedef struct pt_tls_server_opts {
    const char *cert_file, *key_file;
    int min_version;            /* TLS1_2_VERSION (the default when 0) or TLS1_3_VERSION */
    const char *ciphers;        /* TLS 1.2 and below, OpenSSL's cipher-list syntax */
    const char *ciphersuites;   /* TLS 1.3 */
    const char *client_ca;      /* PEM bundle client certificates must chain to, or NULL */
    bool client_cert_optional;  /* with client_ca: verify a certificate when one is sent */
    const char *subject_header; /* the request header that carries the verified subject */
    const char *ocsp_response;  /* a DER OCSP response stapled to handshakes that ask, or NULL;
                                 * refused unless it says "good" for the certificate now */
    bool http2;                 /* ALPN offers h2 before http/1.1 */
} pt_tls_server_opts;

/* Server context; ALPN offers http/1.1, and h2 first with opts.http2. The opts' strings are copied where they outlive
 * the call (subject_header). NULL + message in err on failure. */
SSL_CTX *pt_tls_server_ctx_new(const pt_tls_server_opts *o, pt_buf *err);
/* Whether OpenSSL takes a cipher list (tls13: a TLS 1.3 suite list); the reason in err. */
bool pt_tls_ciphers_ok(const char *list, bool tls13, pt_buf *err);
/* The verified client certificate's subject (RFC 2253), or false when there is none. */
bool pt_tls_peer_subject(const pt_tls *t, char *out, size_t cap);
/* The subject_header of the session's listener, or NULL. */
const char *pt_tls_subject_header(const pt_tls *t);
/* Client context: system CA store (+ ca_file when given), verification on unless insecure. */
SSL_CTX *pt_tls_client_ctx_new(const char *ca_file, bool insecure, pt_buf *err);
/* Makes a client context offer only h2 by ALPN (an upstream spoken to in HTTP/2). */
void pt_tls_client_alpn_h2(SSL_CTX *ctx);
/* A client connection's server name (SNI unless name is an IP literal) and, with verify,
 * the name or address its certificate must carry. */
void pt__tls_name_peer(SSL *ssl, const char *name, bool verify);

/* Starts a session. For clients, name is used for SNI (when not an IP literal) and for
 * host/IP verification. Returns 0 or PT_ETLS. */
int pt_tls_init_server(pt_tls *t, SSL_CTX *ctx);
int pt_tls_init_client(pt_tls *t, SSL_CTX *ctx, const char *name, bool verify);
void pt_tls_release(pt_tls *t);

/* Feeds ciphertext received from the peer. */
int pt_tls_feed(pt_tls *t, const char *data, size_t n);
/* Advances the handshake: 1 done, 0 needs more input, PT_ETLS on failure. */
int pt_tls_handshake(pt_tls *t);
/* Reads decrypted bytes: >0 count, 0 needs more input, PT_ECLOSED on close_notify,
 * PT_ETLS on error. */
int pt_tls_read(pt_tls *t, char *out, size_t cap);
/* Encrypts plaintext into the outgoing BIO. Returns 0 or PT_ETLS. */
int pt_tls_write(pt_tls *t, const char *data, size_t n);
/* Bytes of ciphertext waiting to be sent; pt_tls_take_out moves up to cap of them. */
size_t pt_tls_pending_out(pt_tls *t);
size_t pt_tls_take_out(pt_tls *t, char *out, size_t cap);
/* Describes the last failure (verification result, OpenSSL error queue) for logs. */
void pt_tls_describe_error(pt_tls *t, char *out, size_t cap);
/* Negotiated ALPN protocol or "" */
void pt_tls_alpn(pt_tls *t, char *out, size_t cap);

#endif
