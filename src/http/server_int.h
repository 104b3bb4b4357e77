/* server_int.h: the client connection's insides, shared by server.c (HTTP/1.1) and h2.c
 * (HTTP/2 sessions and their streams) and by nothing else.
 *
 * A pt_conn is either a socket's connection (HTTP/1.1, or an HTTP/2 session when h2 is
 * set) or one HTTP/2 stream (h2s set, parent the session's connection): handlers get
 * either through the same pt_conn_* calls, which send a stream's to h2.c. */
#ifndef PT_HTTP_SERVER_INT_H
#define PT_HTTP_SERVER_INT_H

#include <llhttp.h>

#include "core/hdrcap.h"
#include "http/deadline.h"
#include "http/server.h"

#define HEAD_SLACK 256          /* bytes of request line overhead allowed above the header cap */
#define PENDING_CAP (256 * 1024)/* pipelined bytes buffered before we stop reading */
#define LINGER_MS 2000          /* read-and-discard time after an error response */

typedef enum { CS_HEAD, CS_BODY, CS_TUNNEL, CS_CLOSING } conn_state;

struct pt_h2;
struct pt_h2_stream;

struct pt_conn {
    pt_sock sock;           /* unused (never initialised) on a stream */
    pt_server *srv;
    pt_conn *prev, *next;
    llhttp_t parser;
    pt_deadline timer;
    conn_state state;
    pt_buf head;            /* copies of the request line and header bytes */
    pt_hdrcap hdrs;         /* where each header sits in head */
    uint32_t url_off, url_len;
    size_t head_bytes;
    pt_header *headers;
    pt_request req;
    char host_lc[256];
    pt_buf pending;         /* unparsed pipelined bytes */
    pt_buf out;             /* response bytes staged for one write (see stage()) */
    char last_byte;         /* last byte fed to the parser, for the obs-fold check */
    const char *feed_base;
    bool in_request, req_done, resp_started, resp_done, resp_chunked, resp_head_only;
    bool close_after, processing, body_paused, continue_sent, discard_body;
    bool pending_full, timer_closing;
    bool head_timed;        /* the header deadline for the head being read is running */
    bool trim_due;          /* the deadline running is IDLE_TRIM_MS into idle time (idle_wait) */
    bool tunnel_eof;        /* TUNNEL: the client ended its side (the sink was told) */
    uint64_t tunnel_idle_ms;
    int status;
    pt_outcome error_outcome; /* set by callbacks that reject the request */
    char error_msg[160];
    uint64_t body_bytes, bytes_out, start_us;
    pt_body_sink sink;
    bool has_sink;
    pt_req_info info;
    char peer[64];
    /* HTTP/2 */
    bool h2c_ok;               /* plain listener: a client preface switches to h2c */
    bool proto_known;          /* the first bytes decided HTTP/1.1 or HTTP/2 */
    unsigned char preface_len; /* bytes of a possible preface held in preface[] */
    char preface[24];
    struct pt_h2 *h2;          /* the session, on a connection that speaks HTTP/2 */
    struct pt_h2_stream *h2s;  /* set on a stream's pt_conn */
    pt_conn *parent;           /* a stream's session connection */
};

/* server.c's pieces h2.c uses. */
void pt__conn_request_finish(pt_conn *c, bool log);
void pt__conn_sink_abort(pt_conn *c);
void pt__conn_close(pt_conn *c);
void pt__conn_linger_close(pt_conn *c);
void pt__conn_timer(pt_conn *c, uint64_t ms);
void pt__gen_request_id(char *out);
bool pt__request_id_ok(pt_slice v);
bool pt__has_dot_segment(pt_slice path);
bool pt__hop_by_hop(pt_slice name);
/* A stream's pt_conn on session connection parent, its request begun; freed with
 * pt__conn_stream_free once its request has ended. */
pt_conn *pt__conn_stream_new(pt_conn *parent);
void pt__conn_stream_free(pt_conn *c);

#endif
