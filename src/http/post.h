/* post.h: one HTTP/1.1 POST (or GET) from a thread that may block (a writer, notifier or
 * refresher thread, never an event loop): the budget webhook, the OTLP exporter, the
 * token exchanges of cloud providers and the admin API's questions to the other nodes of a
 * cluster.
 *
 * http:// or https://. Over TLS the server's certificate is verified against the system's
 * trust store (OpenSSL's default paths, so SSL_CERT_FILE / SSL_CERT_DIR point it elsewhere)
 * and must name the URL's host. The whole exchange, from resolving the name to the answer's
 * status line, has one deadline; the connection is closed after it (Connection: close). */
#ifndef PT_HTTP_POST_H
#define PT_HTTP_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct pt_post_url {
    bool tls;
    char host[256];    /* as written, without brackets */
    uint16_t port;     /* 80 / 443 by scheme when not written */
    char path[1024];   /* "/" when not written; the query stays in it, a fragment does not */
} pt_post_url;

/* "http[s]://host[:port][/path]" into *u; -1 when it is not one of those. */
int pt_post_url_parse(const char *url, pt_post_url *u);

/* POSTs body (len bytes of ctype) to u with the extra header lines in headers ("Name: value\r\n"
 * each, or NULL). Returns the answer's status, or -1 with why saying what failed (the name
 * did not resolve, the connection or the TLS handshake failed, the deadline passed). */
int pt_http_post(const pt_post_url *u, const char *headers, const char *ctype, const char *body, size_t len,
                 uint64_t timeout_ms, char *why, size_t whycap);

/* The same, reading the whole answer: its body (de-chunked) lands in *answer, whose cap
 * bounds it (a larger answer fails). For a token exchange and such small answers. */
int pt_http_post_read(const pt_post_url *u, const char *headers, const char *ctype, const char *body, size_t len,
                      uint64_t timeout_ms, pt_buf *answer, char *why, size_t whycap);

/* The same as a GET with no body: a cloud metadata server's token, another node's share of
 * a cluster answer. */
int pt_http_get_read(const pt_post_url *u, const char *headers, uint64_t timeout_ms, pt_buf *answer, char *why,
                     size_t whycap);

#endif
