/* probe_http.h: the doctor's HTTP/1.1 client: one request per connection (Connection: close),
 * the response parsed with llhttp, an event-stream body parsed into events as it arrives, the
 * body kept up to a cap, and curl-style timing phases. The response parser takes bytes from
 * anywhere, so it is unit-tested on buffers. */
#ifndef PT_DOCTOR_PROBE_HTTP_H
#define PT_DOCTOR_PROBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <llhttp.h>

#include "core/buf.h"
#include "core/hdrcap.h"
#include "core/slice.h"
#include "doctor/probe_net.h"
#include "doctor/probe_sse.h"

#define PT_DR_HTTP_MAX_HEADERS 48

typedef struct pt_dr_http_resp {
    int status;                 /* 0 until the status line was parsed */
    char reason[80];
    int nheaders;
    struct {
        char *name, *value;
    } headers[PT_DR_HTTP_MAX_HEADERS];
    pt_buf body;                /* decoded body, up to the cap given at init */
    bool head_done;             /* status line and headers complete */
    bool complete;              /* the whole message arrived */
    bool truncated;             /* the body went past its cap (the rest was dropped) */
    bool is_sse;                /* Content-Type: text/event-stream; events go to sse */
    pt_dr_sse sse;
    pt_buf raw;                 /* the first bytes received, for when they are not HTTP */
    const char *error;          /* parser error reason, NULL when fine */
    /* parser state */
    llhttp_t parser;
    llhttp_settings_t settings;
    pt_buf head;                /* header bytes as they arrive, capped */
    pt_hdrcap hdrs;
} pt_dr_http_resp;

void pt__dr_http_resp_init(pt_dr_http_resp *r, size_t body_cap);
void pt__dr_http_resp_release(pt_dr_http_resp *r);
/* Feeds received bytes. Returns 0, or PT_EPARSE (r->error says why). Bytes after a complete
 * message are ignored. */
int pt__dr_http_resp_feed(pt_dr_http_resp *r, const char *p, size_t n);
/* The peer closed: completes a body delimited by the end of the connection. */
void pt__dr_http_resp_eof(pt_dr_http_resp *r);
/* The value of the first header called name (case-insensitive), or NULL. */
const char *pt__dr_http_header(const pt_dr_http_resp *r, const char *name);

typedef struct pt_dr_http_req {
    const char *method;         /* "GET", "POST" */
    const char *path;
    const char *host;           /* Host header value */
    const char *headers;        /* extra header lines, each ending in "\r\n", or NULL */
    pt_slice body;              /* sent with Content-Length when body.ptr != NULL */
    size_t body_cap;            /* how much response body to keep (0: 64 KiB) */
    /* Optional: return true to stop reading before the message is complete (for streams). */
    bool (*enough)(const pt_dr_http_resp *r, void *arg);
    void *arg;
} pt_dr_http_req;

typedef struct pt_dr_http_timing {
    double connect_ms, tls_ms, first_byte_ms, total_ms;  /* from the start of each phase's request */
} pt_dr_http_timing;

/* Sends req on a fresh connection to addr:port (TLS when tls, sni for it) and reads the response
 * until it is complete, enough() says stop, the peer closes, or the deadline. resp is
 * initialised here (with req->body_cap) and always released by the caller. Returns 0 once a
 * response head arrived;
 * otherwise PT_ECONNREFUSED/PT_ETIMEDOUT/PT_ETLS/PT_EIO from connecting, PT_ETIMEDOUT when no
 * answer came in time, PT_ECLOSED when the server closed without answering, PT_EPARSE when
 * the bytes were not HTTP/1.x. err gets a person-readable reason for every failure. */
int pt__dr_http_do(const char *addr, long port, bool tls, const char *sni, const pt_dr_http_req *req,
                   uint64_t deadline_ms, pt_dr_http_resp *resp, pt_dr_http_timing *t, char *err, size_t errsz);

/* Gets a check ready to send HTTP to its target: the address to use (pt__dr_probe_address) and
 * the authority for Host and URLs. Returns false with res marked skipped when there is no address
 * or when the protocol check found that the port does not speak what the URL asks for. */
bool pt__dr_http_prepare(pt_dr_ctx *ctx, pt_dr_result *res, char *addr, size_t addrsz, char *auth, size_t authsz);

#endif
