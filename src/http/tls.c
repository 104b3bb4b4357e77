/* tls.c: OpenSSL over memory BIOs (see tls.h). */
#include "http/tls.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const unsigned char alpn_http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
/* A listener with HTTP/2 prefers it: the server's order decides. */
static const unsigned char alpn_h2_http11[] = { 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

static void openssl_errors(pt_buf *err, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "unknown error";
    if (e) ERR_error_string_n(e, msg, sizeof msg);
    ERR_clear_error();
    pt_buf_printf(err, "%s%s%s: %s", what, file ? " " : "", file ? file : "", msg);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned char *o;
    bool h2 = arg != NULL;
    const unsigned char *ours = h2 ? alpn_h2_http11 : alpn_http11;
    unsigned ours_len = h2 ? sizeof alpn_h2_http11 : sizeof alpn_http11;
    if (SSL_select_next_proto(&o, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* SSL_CTX ex_data: the listener's subject header, and its OCSP response. Each index is
 * taken once by the thread that builds listeners and read by every worker; the data is
 * one malloc'd block, freed with the context. */
static atomic_int subject_index = -1, ocsp_index = -1;

static void free_slot(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

/* Hands data (freed here on failure) to ctx's slot; -1 when out of memory. */
static int slot_set(SSL_CTX *ctx, atomic_int *slot, void *data)
{
    int idx = atomic_load(slot);
    if (idx < 0) atomic_store(slot, idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_slot));
    if (data && idx >= 0 && SSL_CTX_set_ex_data(ctx, idx, data) == 1) return 0;
    free(data);
    return -1;
}

/* ---- OCSP stapling: a response file the operator refreshes, read with the certificate ---- */

typedef struct ocsp_der {
    size_t len;
    unsigned char der[];
} ocsp_der;

static int staple(SSL *ssl, void *arg)
{
    const ocsp_der *d = arg;
    unsigned char *copy = OPENSSL_malloc(d->len); /* OpenSSL frees it with the handshake */
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    memcpy(copy, d->der, d->len);
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)d->len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* The issuer of ctx's certificate among the chain it was loaded with, or NULL. */
static X509 *leaf_issuer(SSL_CTX *ctx, X509 *leaf)
{
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK) return sk_X509_value(chain, i);
    return NULL;
}

/* Checks that the response in der says "good" for ctx's certificate now; why on failure. */
static bool ocsp_good(SSL_CTX *ctx, const unsigned char *der, long len, char *why, size_t cap)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, len);
    OCSP_BASICRESP *basic = resp && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL
                                ? OCSP_response_get1_basic(resp) : NULL;
    X509 *leaf = SSL_CTX_get0_certificate(ctx), *issuer = leaf ? leaf_issuer(ctx, leaf) : NULL;
    OCSP_CERTID *id = issuer ? OCSP_cert_to_id(EVP_sha1(), leaf, issuer) : NULL;
    int status = -1, reason;
    ASN1_GENERALIZEDTIME *rev, *this_upd, *next_upd;
    bool found = id && basic && OCSP_resp_find_status(basic, id, &status, &reason, &rev, &this_upd, &next_upd) == 1;
    bool ok = false;
    if (!resp) snprintf(why, cap, "not a DER OCSP response");
    else if (!basic) snprintf(why, cap, "the responder did not answer successfully");
    else if (!issuer) snprintf(why, cap, "the certificate file must hold the issuer's certificate after the certificate "
                                         "(its chain) to match the response");
    else if (!found) snprintf(why, cap, "the response is about another certificate");
    else if (status != V_OCSP_CERTSTATUS_GOOD)
        snprintf(why, cap, "the responder says the certificate is %s", OCSP_cert_status_str(status));
    else if (OCSP_check_validity(this_upd, next_upd, 300, -1) != 1)
        snprintf(why, cap, "the response is outside its validity (fetch a new one)");
    else ok = true;
    ERR_clear_error();
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    return ok;
}

static int set_ocsp(SSL_CTX *ctx, const char *path, pt_buf *err)
{
    enum { MAX = 64 * 1024 };
    FILE *f = fopen(path, "rb");
    ocsp_der *d = f ? malloc(sizeof *d + MAX) : NULL;
    size_t n = d ? fread(d->der, 1, MAX, f) : 0;
    bool whole = f && feof(f);
    if (f) fclose(f);
    char why[200];
    if (!d || !whole || !n) {
        pt_buf_printf(err, "cannot read OCSP response %s%s", path, d && !whole ? ": larger than 64 KiB" : "");
    } else if (!ocsp_good(ctx, d->der, (long)n, why, sizeof why)) {
        pt_buf_printf(err, "OCSP response %s: %s", path, why);
    } else {
        d->len = n;
        if (slot_set(ctx, &ocsp_index, d) != 0) {
            pt_buf_printf(err, "out of memory");
            return -1;
        }
        SSL_CTX_set_tlsext_status_cb(ctx, staple);
        SSL_CTX_set_tlsext_status_arg(ctx, d);
        return 0;
    }
    free(d);
    return -1;
}

static int set_client_verify(SSL_CTX *ctx, const pt_tls_server_opts *o, pt_buf *err)
{
    if (!o->client_ca) return 0;
    if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1) {
        openssl_errors(err, "cannot load client CA", o->client_ca);
        return -1;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca);
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
    int mode = SSL_VERIFY_PEER | (o->client_cert_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    SSL_CTX_set_verify(ctx, mode, NULL);
    static const unsigned char sid[] = "portico";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    return 0;
}

SSL_CTX *pt_tls_server_ctx_new(const pt_tls_server_opts *o, pt_buf *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        openssl_errors(err, "cannot create TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, o->min_version ? o->min_version : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        openssl_errors(err, "cannot load certificate", o->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
        openssl_errors(err, "cannot load private key", o->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        openssl_errors(err, "private key does not match certificate", o->key_file);
        goto fail;
    }
    if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
        openssl_errors(err, "no usable cipher in", o->ciphers);
        goto fail;
    }
    if (o->ciphersuites && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1) {
        openssl_errors(err, "no usable TLS 1.3 suite in", o->ciphersuites);
        goto fail;
    }
    if (set_client_verify(ctx, o, err) != 0) goto fail;
    if (o->subject_header && slot_set(ctx, &subject_index, strdup(o->subject_header)) != 0) {
        pt_buf_printf(err, "out of memory");
        goto fail;
    }
    if (o->ocsp_response && set_ocsp(ctx, o->ocsp_response, err) != 0) goto fail;
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, o->http2 ? (void *)alpn_h2_http11 : NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

bool pt_tls_ciphers_ok(const char *list, bool tls13, pt_buf *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return true; /* cannot tell now; the listener's setup will say */
    bool ok = tls13 ? SSL_CTX_set_ciphersuites(ctx, list) == 1 : SSL_CTX_set_cipher_list(ctx, list) == 1;
    if (!ok) openssl_errors(err, tls13 ? "no usable TLS 1.3 suite" : "no usable cipher", NULL);
    SSL_CTX_free(ctx);
    return ok;
}

bool pt_tls_peer_subject(const pt_tls *t, char *out, size_t cap)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK) return false;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return false;
    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    int n = BIO_read(b, out, cap > 1 ? (int)cap - 1 : 0);
    BIO_free(b);
    if (n <= 0) return false;
    out[n] = '\0';
    for (int i = 0; i < n; i++) /* a header value: no controls */
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) out[i] = '?';
    return true;
}

const char *pt_tls_subject_header(const pt_tls *t)
{
    int idx = atomic_load_explicit(&subject_index, memory_order_relaxed);
    return idx < 0 ? NULL : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(t->ssl), idx);
}

SSL_CTX *pt_tls_client_ctx_new(const char *ca_file, bool insecure, pt_buf *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        openssl_errors(err, "cannot create TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) ERR_clear_error();
    if (ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        openssl_errors(err, "cannot load CA file", ca_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof alpn_http11);
    return ctx;
}

void pt_tls_client_alpn_h2(SSL_CTX *ctx)
{
    static const unsigned char h2[] = { 2, 'h', '2' };
    SSL_CTX_set_alpn_protos(ctx, h2, sizeof h2);
}

static int tls_init(pt_tls *t, SSL_CTX *ctx)
{
    memset(t, 0, sizeof *t);
    t->ssl = SSL_new(ctx);
    if (!t->ssl) return PT_ETLS;
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        t->ssl = NULL;
        return PT_ETLS;
    }
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    return 0;
}

int pt_tls_init_server(pt_tls *t, SSL_CTX *ctx)
{
    int rc = tls_init(t, ctx);
    if (rc) return rc;
    SSL_set_accept_state(t->ssl);
    return 0;
}

void pt__tls_name_peer(SSL *ssl, const char *name, bool verify)
{
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl, name);
    if (verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_ip)
            X509_VERIFY_PARAM_set1_ip_asc(param, name);
        else
            X509_VERIFY_PARAM_set1_host(param, name, 0);
    }
}

int pt_tls_init_client(pt_tls *t, SSL_CTX *ctx, const char *name, bool verify)
{
    int rc = tls_init(t, ctx);
    if (rc) return rc;
    SSL_set_connect_state(t->ssl);
    pt__tls_name_peer(t->ssl, name, verify);
    return 0;
}

void pt_tls_release(pt_tls *t)
{
    if (t->ssl) SSL_free(t->ssl); /* frees both BIOs */
    t->ssl = NULL;
}

int pt_tls_feed(pt_tls *t, const char *data, size_t n)
{
    while (n) {
        int w = BIO_write(t->rbio, data, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0) return PT_ETLS;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

int pt_tls_handshake(pt_tls *t)
{
    if (t->handshake_done) return 1;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->handshake_done = true;
        return 1;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    return PT_ETLS;
}

int pt_tls_read(pt_tls *t, char *out, size_t cap)
{
    int r = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (r > 0) return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) return PT_ECLOSED;
    return PT_ETLS;
}

int pt_tls_write(pt_tls *t, const char *data, size_t n)
{
    while (n) {
        int r = SSL_write(t->ssl, data, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r <= 0) return PT_ETLS;
        data += r;
        n -= (size_t)r;
    }
    return 0;
}

size_t pt_tls_pending_out(pt_tls *t) { return (size_t)BIO_ctrl_pending(t->wbio); }

size_t pt_tls_take_out(pt_tls *t, char *out, size_t cap)
{
    int r = BIO_read(t->wbio, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    return r > 0 ? (size_t)r : 0;
}

void pt_tls_describe_error(pt_tls *t, char *out, size_t cap)
{
    long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    char msg[200] = "";
    if (e) ERR_error_string_n(e, msg, sizeof msg);
    ERR_clear_error();
    if (v != X509_V_OK)
        snprintf(out, cap, "certificate verification failed: %s", X509_verify_cert_error_string(v));
    else if (msg[0])
        snprintf(out, cap, "TLS handshake failed: %s", msg);
    else
        snprintf(out, cap, "TLS handshake failed");
}

void pt_tls_alpn(pt_tls *t, char *out, size_t cap)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    snprintf(out, cap, "%.*s", (int)n, p ? (const char *)p : "");
}
