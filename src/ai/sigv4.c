/* sigv4.c: AWS Signature Version 4: canonical request, string to sign, signing key,
 * signature (see sigv4.h). */
#include "ai/sigv4.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void pt_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256(p, n, h);
    hex(h, sizeof h, out);
}

void pt_sigv4_date(int64_t unix_s, char out[17])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int pt_sigv4_uri_encode(pt_buf *out, pt_slice in, bool keep_slash)
{
    static const char d[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < in.len && !rc; i++) {
        unsigned char ch = (unsigned char)in.ptr[i];
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                     ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/');
        if (plain) {
            rc = pt_buf_append(out, (const char *)&ch, 1);
        } else {
            char e[3] = { '%', d[ch >> 4], d[ch & 15] };
            rc = pt_buf_append(out, e, 3);
        }
    }
    return rc;
}

/* A header value as signed: trimmed, runs of spaces folded into one. */
static int header_value(pt_buf *b, pt_slice v)
{
    pt_slice t = pt_slice_trim(v);
    int rc = 0;
    for (size_t i = 0; i < t.len && !rc; i++) {
        if (t.ptr[i] == ' ' && i > 0 && t.ptr[i - 1] == ' ') continue;
        rc = pt_buf_append(b, t.ptr + i, 1);
    }
    return rc;
}

static int canonical_request(const pt_sigv4 *s, const pt_sigv4_header **sorted, pt_buf *cr, pt_buf *signed_names)
{
    int rc = pt_buf_append_str(cr, s->method);
    rc |= pt_buf_append(cr, "\n", 1);
    rc |= pt_buf_append_slice(cr, s->canonical_uri.len ? s->canonical_uri : PT_SLICE_LIT("/"));
    rc |= pt_buf_append(cr, "\n", 1);
    rc |= pt_buf_append_slice(cr, s->canonical_query);
    rc |= pt_buf_append(cr, "\n", 1);
    for (size_t i = 0; i < s->nheaders; i++) {
        rc |= pt_buf_append_str(cr, sorted[i]->name);
        rc |= pt_buf_append(cr, ":", 1);
        rc |= header_value(cr, sorted[i]->value);
        rc |= pt_buf_append(cr, "\n", 1);
        if (i) rc |= pt_buf_append(signed_names, ";", 1);
        rc |= pt_buf_append_str(signed_names, sorted[i]->name);
    }
    rc |= pt_buf_append(cr, "\n", 1);
    rc |= pt_buf_append_slice(cr, pt_buf_slice(signed_names));
    rc |= pt_buf_append(cr, "\n", 1);
    rc |= pt_buf_append_str(cr, s->payload_hash);
    return rc ? PT_ENOMEM : 0;
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &n);
}

int pt_sigv4_authorization(const pt_sigv4 *s, pt_buf *out, pt_buf *creq)
{
    if (!s->method || !s->payload_hash || !s->amz_date || strlen(s->amz_date) != 16 || !s->region || !s->service ||
        !s->access_key_id || !s->secret_access_key || s->nheaders > PT_SIGV4_MAX_HEADERS)
        return PT_EINVAL;
    const pt_sigv4_header *sorted[PT_SIGV4_MAX_HEADERS];
    for (size_t i = 0; i < s->nheaders; i++) {
        size_t k = i;
        for (; k > 0 && strcmp(sorted[k - 1]->name, s->headers[i].name) > 0; k--) sorted[k] = sorted[k - 1];
        sorted[k] = &s->headers[i];
    }
    pt_buf cr = PT_BUF_INIT, names = PT_BUF_INIT;
    int rc = canonical_request(s, sorted, &cr, &names);
    char date[9], scope[256], crhash[65], sig[65];
    memcpy(date, s->amz_date, 8);
    date[8] = '\0';
    int n = snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, s->region, s->service);
    if (n < 0 || (size_t)n >= sizeof scope) rc = PT_EINVAL;
    if (!rc) {
        pt_sha256_hex(cr.data, cr.len, crhash);
        char sts[512];
        n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", s->amz_date, scope, crhash);
        /* kDate = HMAC("AWS4" + secret, date), then region, service, "aws4_request" */
        pt_buf k0 = PT_BUF_INIT;
        rc = pt_buf_append_str(&k0, "AWS4") | pt_buf_append_str(&k0, s->secret_access_key);
        unsigned char k[32];
        if (!rc) {
            hmac(k0.data, k0.len, date, 8, k);
            hmac(k, 32, s->region, strlen(s->region), k);
            hmac(k, 32, s->service, strlen(s->service), k);
            hmac(k, 32, "aws4_request", 12, k);
            hmac(k, 32, sts, (size_t)n, k);
            hex(k, 32, sig);
        }
        OPENSSL_cleanse(k0.data, k0.len);
        OPENSSL_cleanse(k, sizeof k);
        pt_buf_release(&k0);
    }
    if (!rc) {
        rc = pt_buf_append_str(out, "AWS4-HMAC-SHA256 Credential=") | pt_buf_append_str(out, s->access_key_id) |
             pt_buf_append(out, "/", 1) | pt_buf_append_str(out, scope) |
             pt_buf_append_str(out, ", SignedHeaders=") | pt_buf_append_slice(out, pt_buf_slice(&names)) |
             pt_buf_append_str(out, ", Signature=") | pt_buf_append_str(out, sig);
        if (creq) rc |= pt_buf_append_slice(creq, pt_buf_slice(&cr));
        if (rc) rc = PT_ENOMEM;
    }
    pt_buf_release(&cr);
    pt_buf_release(&names);
    return rc;
}
