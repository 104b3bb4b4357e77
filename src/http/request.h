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
    pt_slice host;           /* Host header, lowercased copy, port removed */
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

#endif
