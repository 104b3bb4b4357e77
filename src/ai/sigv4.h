/* sigv4.h: AWS Signature Version 4 (HMAC-SHA256 with OpenSSL), for the Bedrock adapter and
 * for tests that check a signature. The caller builds the canonical pieces it knows (the
 * URI already encoded as the service wants it, the query, the headers to sign); this
 * file hashes, derives the signing key and writes the Authorization header value:
 *   AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=hex */
#ifndef PT_AI_SIGV4_H
#define PT_AI_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

#define PT_SIGV4_MAX_HEADERS 16

typedef struct pt_sigv4_header {
    const char *name;  /* lowercase */
    pt_slice value;    /* trimmed; inner runs of spaces are folded while signing */
} pt_sigv4_header;

typedef struct pt_sigv4 {
    const char *method;
    pt_slice canonical_uri;    /* as it goes into the canonical request */
    pt_slice canonical_query;  /* sorted and encoded, empty for none */
    pt_sigv4_header headers[PT_SIGV4_MAX_HEADERS]; /* any order: sorted while signing */
    size_t nheaders;
    const char *payload_hash;  /* lowercase hex SHA-256 of the body */
    const char *amz_date;      /* "YYYYMMDDTHHMMSSZ" (its first 8 characters are the scope's date) */
    const char *region, *service;
    const char *access_key_id, *secret_access_key;
} pt_sigv4;

/* Appends the Authorization value to out. When creq is not NULL the canonical request
 * is copied there too (tests compare it with published examples). Returns 0 or
 * PT_ENOMEM / PT_EINVAL (a missing piece, too many headers). */
int pt_sigv4_authorization(const pt_sigv4 *s, pt_buf *out, pt_buf *creq);
/* Lowercase hex SHA-256 of p[0..n). */
void pt_sha256_hex(const void *p, size_t n, char out[65]);
/* RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ kept, '/' kept when
 * keep_slash, every other byte as %XX (uppercase). */
int pt_sigv4_uri_encode(pt_buf *out, pt_slice in, bool keep_slash);
/* unix seconds -> "YYYYMMDDTHHMMSSZ". */
void pt_sigv4_date(int64_t unix_s, char out[17]);

#endif
