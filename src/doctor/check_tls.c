/* check_tls.c: the doctor's "tls" check: handshake (SNI for names), protocol version, ALPN, and
 * every certificate problem at once (self-signed, expired, not yet valid, name or IP mismatch,
 * a chain that leads to no trusted CA), where curl and openssl s_client show only the first.
 * Runs when the URL asks for TLS or the protocol check found TLS. Fact written: "tls". */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/check.h"
#include "doctor/probe_fp.h"
#include "doctor/probe_net.h"
#include "doctor/probe_tls.h"

#define EXPIRY_WARN_DAYS 14

/* One certificate problem, most serious first in the order of this enum: a problem no trust
 * setting can fix (expiry, name) outranks one the client can fix by trusting a certificate. */
typedef enum {
    PB_EXPIRED,
    PB_NOT_YET_VALID,
    PB_NAME_MISMATCH,
    PB_SELF_SIGNED,
    PB_UNTRUSTED_CA,
    PB_INCOMPLETE_CHAIN,
    PB_OTHER,
    PB_EXPIRES_SOON,
    PB_COUNT
} problem_kind;

static const struct {
    const char *id;     /* problems[].id in the evidence */
    const char *cause;  /* root-cause id */
    int score;
} problem_info[PB_COUNT] = {
    [PB_EXPIRED] = { "expired", "tls_expired", 88 },
    [PB_NOT_YET_VALID] = { "not_yet_valid", "tls_not_yet_valid", 86 },
    [PB_NAME_MISMATCH] = { "name_mismatch", "tls_name_mismatch", 85 },
    [PB_SELF_SIGNED] = { "self_signed", "tls_self_signed", 80 },
    [PB_UNTRUSTED_CA] = { "untrusted_ca", "tls_untrusted_ca", 80 },
    [PB_INCOMPLETE_CHAIN] = { "incomplete_chain", "tls_incomplete_chain", 78 },
    [PB_OTHER] = { "verify_error", "tls_verify_error", 70 },
    [PB_EXPIRES_SOON] = { "expires_soon", "tls_expires_soon", 30 },
};

typedef struct tls_state {
    pt_dr_ctx *ctx;
    pt_dr_result *res;
    json_t *problems;
    bool has[PB_COUNT];
    char host[256];        /* the host the client uses (name or IP literal) */
    char auth[300];        /* host:port for commands */
    char ca[300];          /* the untrusted CA a sent chain ends at (PB_UNTRUSTED_CA) */
} tls_state;

static void add_problem(tls_state *st, problem_kind k, json_t *obj, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_problem(tls_state *st, problem_kind k, json_t *obj, const char *fmt, ...)
{
    if (st->has[k]) {
        json_decref(obj);
        return;
    }
    st->has[k] = true;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!obj) obj = json_object();
    json_object_set_new(obj, "id", json_string(problem_info[k].id));
    json_object_set_new(obj, "text", json_string(text));
    json_array_append_new(st->problems, obj);
    pt_dr_detail(st->res, "%s", text);
}

static void asn1_iso(const ASN1_TIME *t, char *out, size_t outsz)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        snprintf(out, outsz, "?");
        return;
    }
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Whole days from now to t (negative when t is in the past). */
static int days_from_now(const ASN1_TIME *t)
{
    int day = 0, sec = 0;
    if (!t || !ASN1_TIME_diff(&day, &sec, NULL, t)) return 0;
    return day;
}

static void name_str(X509_NAME *n, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!n) return;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    int len = BIO_read(b, out, (int)outsz - 1);
    out[len > 0 ? len : 0] = '\0';
    BIO_free(b);
}

/* The names a certificate is valid for: SAN DNS and IP entries, or the CN when there is no SAN. */
static json_t *cert_names(X509 *x)
{
    json_t *arr = json_array();
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char buf[300];
        if (g->type == GEN_DNS) {
            const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
            snprintf(buf, sizeof buf, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName), (const char *)d);
            json_array_append_new(arr, json_string(buf));
        } else if (g->type == GEN_IPADD) {
            char *ip = (char *)ASN1_STRING_get0_data(g->d.iPAddress);
            int len = ASN1_STRING_length(g->d.iPAddress);
            char txt[64] = "?";
            if (len == 4) inet_ntop(AF_INET, ip, txt, sizeof txt);
            else if (len == 16) inet_ntop(AF_INET6, ip, txt, sizeof txt);
            snprintf(buf, sizeof buf, "IP:%s", txt);
            json_array_append_new(arr, json_string(buf));
        }
    }
    GENERAL_NAMES_free(gens);
    if (json_array_size(arr) == 0) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0) {
            char buf[300];
            snprintf(buf, sizeof buf, "CN:%s", cn);
            json_array_append_new(arr, json_string(buf));
        }
    }
    return arr;
}

static void join_names(json_t *names, char *out, size_t outsz)
{
    size_t i, o = 0;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(names, i, v) {
        int n = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", json_string_value(v));
        if (n < 0 || (size_t)n >= outsz - o) break;
        o += (size_t)n;
    }
    if (!out[0]) snprintf(out, outsz, "(none)");
}

/* The problems of the server's own certificate, checked directly (not only through verify
 * errors) so none hides another. */
static void leaf_problems(tls_state *st, X509 *leaf, json_t *cert)
{
    char nb[40], na[40];
    asn1_iso(X509_get0_notBefore(leaf), nb, sizeof nb);
    asn1_iso(X509_get0_notAfter(leaf), na, sizeof na);
    int left = days_from_now(X509_get0_notAfter(leaf));
    int until = days_from_now(X509_get0_notBefore(leaf));
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        json_t *o = json_pack("{s:s,s:i}", "not_after", na, "days_ago", -left);
        add_problem(st, PB_EXPIRED, o, "certificate expired on %s (%d day%s ago)", na, -left, -left == 1 ? "" : "s");
    } else if (left < EXPIRY_WARN_DAYS) {
        json_t *o = json_pack("{s:s,s:i}", "not_after", na, "days_left", left);
        add_problem(st, PB_EXPIRES_SOON, o, "certificate expires on %s (in %d day%s)", na, left, left == 1 ? "" : "s");
    }
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        json_t *o = json_pack("{s:s,s:i}", "not_before", nb, "days_until", until);
        add_problem(st, PB_NOT_YET_VALID, o, "certificate is not valid before %s (check this machine's clock, "
                    "or the server's)", nb);
    }
    bool ip = pt__dr_is_ip_literal(st->host);
    int ok = ip ? X509_check_ip_asc(leaf, st->host, 0) : X509_check_host(leaf, st->host, 0, 0, NULL);
    json_object_set_new(cert, "matches_host", json_boolean(ok == 1));
    if (ok != 1) {
        char names[512];
        join_names(json_object_get(cert, "names"), names, sizeof names);
        json_t *o = json_pack("{s:s,s:O}", "host", st->host, "names", json_object_get(cert, "names"));
        add_problem(st, PB_NAME_MISMATCH, o, "certificate is for %s, not for the %s %s", names,
                    ip ? "IP address" : "name", st->host);
    }
    if (X509_check_issued(leaf, leaf) == X509_V_OK)
        add_problem(st, PB_SELF_SIGNED, NULL, "certificate is self-signed (issuer = subject), so no client trusts "
                    "it unless told to");
}

/* Problems OpenSSL's chain verification reported, mapped onto the same kinds. */
/* The issuer's name of the certificate at depth in the chain the server sent, or "". */
static void issuer_at(STACK_OF(X509) *chain, int depth, char *out, size_t outsz)
{
    out[0] = '\0';
    X509 *c = chain && depth < sk_X509_num(chain) ? sk_X509_value(chain, depth) : NULL;
    if (c) name_str(X509_get_issuer_name(c), out, outsz);
}

static void verify_problems(tls_state *st, const pt_dr_tls_verify *vr, json_t *errs, const char *issuer,
                            STACK_OF(X509) *chain)
{
    for (int i = 0; i < vr->n; i++) {
        int code = vr->errs[i].code, depth = vr->errs[i].depth;
        json_array_append_new(errs, json_pack("{s:i,s:i,s:s}", "code", code, "depth", depth, "text",
                                              X509_verify_cert_error_string(code)));
        switch (code) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            add_problem(st, PB_SELF_SIGNED, NULL, "certificate is self-signed (issuer = subject), so no client "
                        "trusts it unless told to");
            break;
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            add_problem(st, PB_SELF_SIGNED, NULL, "the chain ends in a self-signed CA this machine does not trust");
            break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            if (depth > 0) { /* the server sent its chain; the CA it ends at is not trusted here */
                char top_issuer[300];
                issuer_at(chain, depth, top_issuer, sizeof top_issuer);
                snprintf(st->ca, sizeof st->ca, "%s", top_issuer[0] ? top_issuer : issuer);
                add_problem(st, PB_UNTRUSTED_CA, json_pack("{s:i,s:s}", "depth", depth, "issuer", st->ca),
                            "the chain the server sent (%d certificate%s) ends at a certificate issued by %s, a CA "
                            "this machine does not trust (a private CA)", chain ? sk_X509_num(chain) : depth + 1,
                            chain && sk_X509_num(chain) == 1 ? "" : "s", st->ca);
                break;
            }
            add_problem(st, PB_INCOMPLETE_CHAIN, json_pack("{s:i,s:s}", "depth", depth, "issuer", issuer),
                        depth == 0 ? "the certificate's issuer (%s) is not a CA this machine trusts, and the server "
                                     "sent no chain leading to one"
                                   : "the chain does not lead to a CA this machine trusts (%s)",
                        depth == 0 ? issuer : X509_verify_cert_error_string(code));
            break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
            if (depth > 0)
                add_problem(st, PB_EXPIRED, json_pack("{s:i}", "depth", depth),
                            "a CA certificate in the chain (depth %d) has expired", depth);
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            if (depth > 0)
                add_problem(st, PB_NOT_YET_VALID, json_pack("{s:i}", "depth", depth),
                            "a CA certificate in the chain (depth %d) is not yet valid", depth);
            break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            break; /* checked directly on the leaf */
        default:
            add_problem(st, PB_OTHER, json_pack("{s:i,s:i}", "code", code, "depth", depth),
                        "certificate verification: %s (depth %d)", X509_verify_cert_error_string(code), depth);
        }
    }
}

static void remedies(tls_state *st, problem_kind top)
{
    const char *h = st->host;
    bool ip = pt__dr_is_ip_literal(h);
    char san[300];
    if (ip) snprintf(san, sizeof san, "DNS:localhost,IP:%s%s", h, strcmp(h, "::1") ? ",IP:::1" : "");
    else snprintf(san, sizeof san, "DNS:%s%s", h, strcmp(h, "localhost") ? "" : ",IP:127.0.0.1,IP:::1");
    if (top == PB_EXPIRED || top == PB_NOT_YET_VALID || top == PB_NAME_MISMATCH) {
        pt_dr_remedy(st->res, "Issue a new certificate for the name clients use, e.g. for local use: "
                     "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 "
                     "-subj /CN=%s -addext \"subjectAltName=%s\" (or: mkcert localhost 127.0.0.1 ::1%s%s), "
                     "then restart the server with it.", ip ? "localhost" : h, san,
                     ip || !strcmp(h, "localhost") ? "" : " ", ip || !strcmp(h, "localhost") ? "" : h);
        if (top == PB_NAME_MISMATCH)
            pt_dr_remedy(st->res, "Or connect with a name the certificate lists (see the names above).");
        if (top == PB_NOT_YET_VALID)
            pt_dr_remedy(st->res, "If the dates look right, this machine's clock is wrong: timedatectl status.");
    }
    if (top == PB_UNTRUSTED_CA) { /* a root is never sent, so it cannot be saved from the server */
        pt_dr_remedy(st->res, "Trust the CA %s: get its certificate (ca.pem) from whoever runs it, then: curl "
                     "--cacert ca.pem https://%s/ ; Node: NODE_EXTRA_CA_CERTS=ca.pem ; Python requests: "
                     "REQUESTS_CA_BUNDLE=ca.pem ; system-wide: copy it to /usr/local/share/ca-certificates/ca.crt "
                     "and run update-ca-certificates.", st->ca, st->auth);
        return;
    }
    if (st->has[PB_SELF_SIGNED] || st->has[PB_INCOMPLETE_CHAIN]) {
        pt_dr_remedy(st->res, "To trust it for a client, save the %s: openssl s_client -connect %s%s%s -showcerts "
                     "</dev/null | openssl x509 > server.pem (or use the CA file the certificate was made with), "
                     "then: curl --cacert server.pem https://%s/ ; Node: NODE_EXTRA_CA_CERTS=server.pem ; "
                     "Python requests: REQUESTS_CA_BUNDLE=server.pem ; OpenSSL-based tools: SSL_CERT_FILE=server.pem.",
                     st->has[PB_SELF_SIGNED] ? "certificate" : "issuing CA's certificate", st->auth,
                     ip ? "" : " -servername ", ip ? "" : h, st->auth);
        if (st->has[PB_INCOMPLETE_CHAIN] && !st->has[PB_SELF_SIGNED])
            pt_dr_remedy(st->res, "If the certificate comes from a public CA, the server is not sending its "
                         "intermediate certificates: configure it with the full chain (fullchain.pem).");
    }
}

static void alpn_json(SSL *ssl, json_t *tls)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    json_object_set_new(tls, "alpn", n ? json_stringn((const char *)p, n) : json_null());
}

/* The server wants a client certificate (mTLS) and refused the session without one. */
static void client_cert_required(tls_state *st, int alert, json_t *tls)
{
    json_object_set_new(tls, "client_certificate", json_string("required"));
    if (alert >= 0) json_object_set_new(tls, "alert", json_integer(alert));
    pt_dr_set(st->res, PT_DR_FAIL, "tls_client_cert_required", 90,
              "%s asks for a client certificate and refuses the session without one%s%s%s", st->auth,
              alert >= 0 ? " (alert " : "", alert >= 0 ? pt__dr_tls_alert_name(alert) : "", alert >= 0 ? ")" : "");
    pt_dr_remedy(st->res, "Give the client a certificate (and key) the server trusts: curl --cert client.pem --key "
                 "client.key https://%s/ ; Node: https.request({cert, key}) ; Python requests: "
                 "cert=(\"client.pem\", \"client.key\") ; or turn client certificate verification off on the "
                 "server for this listener.", st->auth);
}

/* One more handshake with ctx (taken), for a question the first one raised. Returns the
 * connection (ssl non-NULL on success) for the caller to read, then to end with
 * another_end(). */
typedef struct another {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    pt_dr_tls_verify vr;
} another;

static bool another_handshake(tls_state *st, const char *addr, SSL_CTX *ctx, another *a)
{
    const pt_dr_target *t = st->ctx->target;
    *a = (another){ .ctx = ctx, .fd = -1 };
    if (!ctx) return false;
    uint64_t dl = pt__dr_deadline(st->ctx->opts->timeout_ms);
    char err[200];
    a->fd = pt__dr_tcp_connect(addr, t->port, dl);
    return a->fd >= 0 && pt__dr_tls_handshake(ctx, a->fd, st->host, dl, &a->vr, &a->ssl, err, sizeof err) == 0;
}

static void another_end(another *a)
{
    if (a->ssl) SSL_free(a->ssl);
    if (a->fd >= 0) close(a->fd);
    SSL_CTX_free(a->ctx);
    ERR_clear_error();
}

/* After a failed handshake: does the server speak only TLS 1.0 or 1.1, which current
 * clients refuse (OpenSSL 3 at its default security level, Node 18+, browsers)? A second
 * handshake offering only those, with legacy algorithms allowed, tells. */
static bool legacy_only(tls_state *st, const char *addr, json_t *tls)
{
    SSL_CTX *lctx = pt__dr_tls_ctx_new(false, NULL, 0);
    if (lctx) {
        SSL_CTX_set_security_level(lctx, 0);
        SSL_CTX_set_min_proto_version(lctx, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(lctx, TLS1_1_VERSION);
        SSL_CTX_set_cipher_list(lctx, "DEFAULT:@SECLEVEL=0");
    }
    another a;
    bool legacy = another_handshake(st, addr, lctx, &a);
    if (legacy) {
        const char *ver = SSL_get_version(a.ssl);
        json_object_set_new(tls, "legacy_version", json_string(ver));
        pt_dr_set(st->res, PT_DR_FAIL, "tls_legacy_version", 88,
                  "%s speaks only %s, which current clients refuse: OpenSSL 3 (curl, Python), Go 1.18+, "
                  "Node 18+ and browsers require TLS 1.2 or newer", st->auth, ver);
        pt_dr_remedy(st->res, "Enable TLS 1.2 and 1.3 on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3; Java: "
                     "jdk.tls.disabledAlgorithms; IIS/Windows: enable TLS 1.2). To reach it meanwhile from a "
                     "test client only: curl --tlsv1.0 --ciphers DEFAULT@SECLEVEL=0 https://%s/", st->auth);
    }
    another_end(&a);
    return legacy;
}

/* After a handshake that chose h2 by ALPN: does the server take HTTP/1.1 clients at all?
 * A second handshake offering only http/1.1 tells (an h2-only server refuses it with
 * no_application_protocol), so the HTTP/1.1 failure that follows is explained here. */
static bool h2_only(tls_state *st, const char *addr, json_t *tls)
{
    static const unsigned char h1[] = "\x08http/1.1";
    another a;
    bool refused = !another_handshake(st, addr, pt__dr_tls_ctx_new(false, h1, sizeof h1 - 1), &a) && a.fd >= 0 &&
                   a.vr.alert_received == 120; /* no_application_protocol */
    if (refused) {
        json_object_set_new(tls, "http1_refused", json_true());
        pt_dr_set(st->res, PT_DR_FAIL, "tls_h2_only", 85,
                  "%s speaks only HTTP/2 over TLS: it chose h2 by ALPN, and refused a client offering only "
                  "http/1.1 (alert no_application_protocol)", st->auth);
        pt_dr_remedy(st->res, "HTTP/1.1 clients (curl --http1.1, Python requests, Node's https module, many proxies) "
                     "cannot talk to it: accept HTTP/1.1 too (Node: http2.createSecureServer({allowHTTP1: true}); "
                     "Go: keep http/1.1 in TLSConfig.NextProtos), or use an HTTP/2 client (curl --http2 "
                     "https://%s/).", st->auth);
    }
    another_end(&a);
    return refused;
}

static void handshake_failed(tls_state *st, const char *addr, const char *why, const pt_dr_tls_verify *vr,
                             json_t *tls)
{
    const pt_dr_target *t = st->ctx->target;
    const char *proto = json_string_value(json_object_get(st->ctx->facts, "protocol"));
    json_object_set_new(tls, "error", json_string(why));
    if (vr->alert_received >= 0) json_object_set_new(tls, "alert", json_integer(vr->alert_received));
    bool plain = strstr(why, "wrong version number") || (proto && strcmp(proto, "tls") != 0 &&
                                                         strcmp(proto, "silent") != 0);
    if (plain) {
        char auth[300];
        pt__dr_authority(t->host, t->port, auth, sizeof auth);
        /* The protocol check names this too, with more evidence: rank below it. */
        pt_dr_set(st->res, PT_DR_FAIL, "tls_on_plain_port", 70,
                  "TLS handshake with %s port %ld failed: %s; the port speaks %s, not TLS", addr, t->port, why,
                  proto ? pt__dr_fp_label(pt__dr_fp_kind_of(proto)) : "something else");
        pt_dr_remedy(st->res, "Use http://%s%s, or enable TLS on the server.", auth, t->path ? t->path : "/");
        return;
    }
    pt_dr_set(st->res, PT_DR_FAIL, "tls_handshake_failed", 75, "TLS handshake with %s port %ld failed: %s%s%s",
              addr, t->port, why, vr->alert_received >= 0 ? "; the server sent alert " : "",
              vr->alert_received >= 0 ? SSL_alert_desc_string_long(vr->alert_received) : "");
    pt_dr_remedy(st->res, "See the server's log for the reason it refused the handshake; compare with: "
                 "openssl s_client -connect %s%s%s </dev/null", st->auth,
                 pt__dr_is_ip_literal(st->host) ? "" : " -servername ",
                 pt__dr_is_ip_literal(st->host) ? "" : st->host);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    const char *proto = json_string_value(json_object_get(ctx->facts, "protocol"));
    bool spoken = proto && strcmp(proto, "tls") == 0;
    if (!t->tls && !spoken) {
        pt_dr_skip(res, proto ? "the port does not speak TLS (it speaks %s) and the target does not ask for it"
                              : "the target does not ask for TLS%s",
                   proto ? pt__dr_fp_label(pt__dr_fp_kind_of(proto)) : "");
        return;
    }
    char addr[64], why[256];
    if (pt__dr_probe_address(ctx, addr, sizeof addr, why, sizeof why) <= 0) {
        pt_dr_skip(res, "%s", why);
        return;
    }
    tls_state st = { .ctx = ctx, .res = res, .problems = json_array() };
    snprintf(st.host, sizeof st.host, "%s", t->host ? t->host : addr);
    pt__dr_authority(st.host, t->port, st.auth, sizeof st.auth);
    json_t *ev = pt__dr_evidence(res), *tls = json_object();
    json_object_set_new(ev, "address", json_string(addr));
    json_object_set_new(ev, "sni", pt__dr_is_ip_literal(st.host) ? json_null() : json_string(st.host));

    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_CTX *sctx = pt__dr_tls_ctx_new(true, alpn, sizeof alpn - 1);
    SSL *ssl = NULL;
    pt_dr_tls_verify vr;
    uint64_t dl = pt__dr_deadline(ctx->opts->timeout_ms);
    uint64_t t0 = pt_now_us();
    int fd = sctx ? pt__dr_tcp_connect(addr, t->port, dl) : -ENOMEM;
    if (fd < 0) {
        pt_dr_skip(res, "could not connect to %s port %ld: %s", addr, t->port, pt_dr_errno_name(-fd));
        goto out;
    }
    char err[200];
    int rc = pt__dr_tls_handshake(sctx, fd, st.host, dl, &vr, &ssl, err, sizeof err);
    json_object_set_new(tls, "handshake", json_boolean(rc == 0));
    json_object_set_new(ev, "handshake_ms", json_real(pt_dr_ms_since(t0)));
    if (rc != 0) {
        /* TLS 1.2: a server that requires a certificate fails the handshake itself */
        if (vr.cert_requested) client_cert_required(&st, vr.alert_received, tls);
        else if (!legacy_only(&st, addr, tls)) handshake_failed(&st, addr, err, &vr, tls);
        goto out;
    }
    if (vr.cert_requested) { /* TLS 1.3: it says so right after the handshake, or accepts */
        int alert = pt__dr_tls_peek_alert(ssl, fd, 300);
        if (alert >= 0) {
            client_cert_required(&st, alert, tls);
            goto out;
        }
        json_object_set_new(tls, "client_certificate", json_string("optional"));
        pt_dr_detail(res, "%s asks for a client certificate but accepts a session without one", st.auth);
    }
    json_object_set_new(tls, "version", json_string(SSL_get_version(ssl)));
    json_object_set_new(tls, "cipher", json_string(SSL_get_cipher_name(ssl)));
    alpn_json(ssl, tls);
    const char *chosen = json_string_value(json_object_get(tls, "alpn"));
    if (chosen && strcmp(chosen, "h2") == 0 && h2_only(&st, addr, tls)) goto out;

    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) {
        pt_dr_set(res, PT_DR_WARN, "tls_verify_error", 50, "the server sent no certificate");
        goto out;
    }
    json_t *cert = json_object(), *verrs = json_array();
    char sub[300], iss[300], nb[40], na[40];
    name_str(X509_get_subject_name(leaf), sub, sizeof sub);
    name_str(X509_get_issuer_name(leaf), iss, sizeof iss);
    asn1_iso(X509_get0_notBefore(leaf), nb, sizeof nb);
    asn1_iso(X509_get0_notAfter(leaf), na, sizeof na);
    json_object_set_new(cert, "subject", json_string(sub));
    json_object_set_new(cert, "issuer", json_string(iss));
    json_object_set_new(cert, "not_before", json_string(nb));
    json_object_set_new(cert, "not_after", json_string(na));
    json_object_set_new(cert, "names", cert_names(leaf));
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    json_object_set_new(cert, "chain_length", json_integer(chain ? sk_X509_num(chain) : 1));
    json_object_set_new(ev, "certificate", cert);
    leaf_problems(&st, leaf, cert);
    verify_problems(&st, &vr, verrs, iss, chain);
    json_object_set_new(ev, "verify_errors", verrs);

    problem_kind top = PB_COUNT;
    for (int k = 0; k < PB_COUNT; k++)
        if (st.has[k]) { top = (problem_kind)k; break; }
    const char *ver = SSL_get_version(ssl);
    const char *al = json_string_value(json_object_get(tls, "alpn"));
    if (top == PB_COUNT) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s, ALPN %s, certificate for %s valid until %s and trusted", ver,
                  al ? al : "none", sub, na);
    } else {
        size_t n = json_array_size(st.problems), i;
        bool warn_only = top == PB_EXPIRES_SOON;
        char all[1500] = "";
        json_t *p;
        json_array_foreach(st.problems, i, p) {
            size_t used = strlen(all);
            snprintf(all + used, sizeof all - used, "%s%s", i ? "; " : "", json_string_value(json_object_get(p, "text")));
        }
        pt_dr_set(res, warn_only ? PT_DR_WARN : PT_DR_FAIL, problem_info[top].cause, problem_info[top].score,
                  "%s handshake works, but the certificate has %zu problem%s: %s", ver, n, n == 1 ? "" : "s", all);
        remedies(&st, top);
    }
out:
    json_object_set(tls, "problems", st.problems);
    json_object_set_new(ev, "problems", st.problems);
    if (json_object_get(tls, "handshake")) { /* only a handshake that was tried is a fact */
        json_object_set_new(ev, "tls", json_deep_copy(tls));
        json_object_set_new(ctx->facts, "tls", tls);
    } else {
        json_decref(tls);
    }
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
    SSL_CTX_free(sctx);
    ERR_clear_error();
}

const pt_dr_check pt_dr_check_tls = {
    .id = "tls",
    .title = "TLS handshake and certificate",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
