/* request.h: one parsed request head as the server hands it to routing and handlers.
 * Every slice points into the connection's head buffer and lives until the response
 * to this request is complete. */
#ifndef PT_HTTP_REQUEST_H
#define PT_HTTP_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/slice.h"

typedef struct pt_header {
    pt_slice name;
    pt_slice value;
} pt_header;

typedef struct pt_request {
    int method;              /* llhttp_method_t */
    pt_slice method_name;    /* "GET" */
    pt_slice target;         /* request-target as sent: "/v1/x?y=1" */
    pt_slice path;           /* target up to '?' */
    pt_slice query;          /* after '?', without it; empty if none */
    pt_slice host;           /* the absolute-form authority's host, else Host's; checked by
                              * pt_authority_parse, lowercased, without port, brackets or a
                              * trailing dot; empty when none */
    pt_header *headers;
    unsigned nheaders;
    int http_major, http_minor;
    bool keep_alive;
    bool chunked;            /* Transfer-Encoding: chunked */
    int64_t content_length;  /* -1 when absent */
    bool expect_continue;
    char request_id[40];     /* X-Request-Id as received (sanitised) or generated */
} pt_request;

/* Finds a header by case-insensitive name; NULL if absent (first match). */
const pt_header *pt_request_header(const pt_request *req, const char *name);

/* The authority a request names: a Host header's value or an absolute-form target's
 * host[:port] (RFC 9112 §3.2). Checked as RFC 3986 §3.2 writes uri-host [":" port], and
 * stricter where a gateway must be: a reg-name is letters, digits, '-', '.', '_' and '~'
 * only (RFC 3986 would also allow sub-delims such as ',' and ';' and percent-encoding,
 * which no DNS name contains and which would split or smuggle values in
 * X-Forwarded-Host), labels are not empty, an IP literal is an IPv6 address in brackets
 * (no IPvFuture, no zone), and a port is 1..65535. */
typedef enum pt_authority_err {
    PT_AUTH_OK = 0,
    PT_AUTH_EMPTY_HOST,     /* a port without a host (":80") */
    PT_AUTH_USERINFO,       /* "user:pw@host" (RFC 9110 §4.2.4) */
    PT_AUTH_BAD_CHAR,       /* a byte a host name may not hold; pt_authority.bad says which */
    PT_AUTH_EMPTY_LABEL,    /* ".a", "a..b" */
    PT_AUTH_BAD_IP_LITERAL, /* "[...]" that is not an IPv6 address, or no closing ']' */
    PT_AUTH_BAD_PORT,       /* not digits, or outside 1..65535 */
    PT_AUTH_TOO_LONG,       /* a host over PT_AUTHORITY_HOST_MAX bytes */
} pt_authority_err;

#define PT_AUTHORITY_HOST_MAX 255

typedef struct pt_authority {
    pt_slice host;  /* points into the input: without brackets for an IPv6 literal, without
                     * one trailing dot; empty when the input is empty */
    int port;       /* -1 when absent (or empty, as "host:" may be) */
    bool ipv6;
    unsigned char bad; /* the refused byte, for PT_AUTH_BAD_CHAR */
} pt_authority;

/* Parses in (already trimmed of OWS). An empty input is valid and names no host: the
 * caller decides whether a host is required. */
pt_authority_err pt_authority_parse(pt_slice in, pt_authority *out);
/* A short English description of e, naming the rule it breaks. */
const char *pt_authority_strerror(pt_authority_err e);

#endif
