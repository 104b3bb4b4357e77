/* request.h: one request as the server hands it to routing and handlers: the parsed
 * head, and the request's lifetime (a memory pool and cleanup hooks).
 *
 * Every slice points into the connection's head buffer and lives until the response
 * to this request is complete. When the request ends (completed, aborted by the client,
 * or its connection closed), the server runs the done callback (metrics and the access
 * log line) and then, exactly once, the cleanup hooks, newest first, and frees the pool:
 * handler state allocated from the pool, and whatever a hook releases (a configuration
 * snapshot, recycled objects), is therefore still valid while the request is logged. */
#ifndef PT_HTTP_REQUEST_H
#define PT_HTTP_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/slice.h"

/* Request pools take 4 KiB blocks (recycled per worker) and hand out at most 1 MiB:
 * handler state is small and fixed; bodies and messages live in their own buffers. */
#define PT_REQ_POOL_BLOCK 4096
#define PT_REQ_POOL_LIMIT (1024 * 1024)

typedef struct pt_header {
    pt_slice name;
    pt_slice value;
} pt_header;

typedef void (*pt_req_cleanup_fn)(void *data);

typedef struct pt_req_cleanup {
    pt_req_cleanup_fn fn;
    void *data;
    struct pt_req_cleanup *next;
} pt_req_cleanup;

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
    bool upgrade;            /* an HTTP/1.1 request with Connection: upgrade whose Upgrade names a
                              * protocol other than h2c (pt_upgrade_tunnels): the handler either
                              * tunnels it (pt_conn_tunnel) or refuses it; the connection closes
                              * after any answer but a 101, since the client may already speak
                              * the new protocol behind the head */
    char request_id[40];     /* X-Request-Id as received (sanitised) or generated */
    pt_pool pool;            /* request-lifetime memory (pt_req_alloc) */
    pt_req_cleanup *cleanups;/* newest first; nodes live in the pool */
} pt_request;

/* The llhttp_method_t a method name stands for (ASCII case ignored), -1 for none. */
int pt_http_method_parse(pt_slice name);
/* The method names pt_http_method_parse knows, for suggestions; fills up to cap. */
size_t pt_http_method_names(const char **out, size_t cap);

/* Whether a comma-separated field value (RFC 9110 §5.6.1: Connection, Upgrade) lists
 * token, ASCII case ignored. */
bool pt_list_has(pt_slice list, pt_slice token);
/* Whether an Upgrade field's value asks for a protocol the gateway tunnels: any but "h2c",
 * which is not a tunnel (HTTP/2 is not reached through an HTTP/1.1 upgrade here, and RFC
 * 9113 §3.2 lets a server ignore the offer). */
bool pt_upgrade_tunnels(pt_slice value);
/* Whether a 101's Upgrade value (chosen) switches only to protocols the request's Upgrade
 * (offer) listed, as RFC 9110 §7.8 requires, never to h2c: names compare ASCII case
 * ignored, and "name/version" matches an offer of the same name with that version or none.
 * An empty chosen list is false. */
bool pt_upgrade_chosen(pt_slice offer, pt_slice chosen);

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

/* Zeroed memory that lives until the request's cleanup hooks have run; NULL when out of
 * memory or past PT_REQ_POOL_LIMIT. */
void *pt_req_alloc(pt_request *req, size_t n);
/* The same, not zeroed (pt_pool_alloc_raw). */
void *pt_req_alloc_raw(pt_request *req, size_t n);
/* Registers fn(data) to run once when the request ends, after its access-log line and
 * after every hook registered later. Returns 0, or PT_ENOMEM (fn is then not registered:
 * the caller releases what it would have). */
int pt_req_cleanup_add(pt_request *req, pt_req_cleanup_fn fn, void *data);
/* The same with a node the caller keeps (in the request's pool, or anything that lives as
 * long): nothing to allocate, so it cannot fail. */
static inline void pt_req_cleanup_link(pt_request *req, pt_req_cleanup *h, pt_req_cleanup_fn fn, void *data)
{
    *h = (pt_req_cleanup){ .fn = fn, .data = data, .next = req->cleanups };
    req->cleanups = h;
}

/* Server only. _begin readies a zeroed request's pool; _end runs the hooks (newest
 * first) and frees the pool, once: a second call finds nothing to do. */
void pt__req_begin(pt_request *req);
void pt__req_end(pt_request *req);

#endif
