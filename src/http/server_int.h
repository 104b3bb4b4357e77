/* server_int.h: the client connection's insides, shared by server.c (HTTP/1.1), h2.c (HTTP/2
 * sessions and their streams) and conn_live.c (the live part's memory) and by nothing else.
 *
 * A pt_conn is either a socket's connection (HTTP/1.1, or an HTTP/2 session when h2 is
 * set) or one HTTP/2 stream (h2s set, parent the session's connection): handlers get
 * either through the same pt_conn_* calls, which send a stream's to h2.c. */
#ifndef PT_HTTP_SERVER_INT_H
#define PT_HTTP_SERVER_INT_H

#include <llhttp.h>

#include "core/hdrcap.h"
#include "http/server.h"
#include "http/timerq.h"

#define HEAD_SLACK 256          /* bytes of request line overhead allowed above the header cap */
#define PENDING_CAP (256 * 1024)/* pipelined bytes buffered before we stop reading */
#define LINGER_MS 2000          /* read-and-discard time after an error response */

typedef enum { CS_HEAD, CS_BODY, CS_TUNNEL, CS_CLOSING } conn_state;

struct pt_h2;
struct pt_h2_stream;

/* What a connection holds only while it reads or answers requests: the parser, the head,
 * the request, the response staging. A keep-alive connection keeps it while requests follow
 * each other and gives it back after IDLE_TRIM_MS of idle time (server.c: idle_wait), so an
 * idle connection is the pt_conn below and nothing more (bench/idle.sh). Reading the next
 * bytes takes a new one. A stream's pt_conn has one for its life. */
typedef struct pt_conn_live {
    llhttp_t parser;
    pt_buf head;            /* copies of the request line and header bytes */
    pt_hdrcap hdrs;         /* where each header sits in head */
    uint32_t url_off, url_len;
    size_t head_bytes;
    pt_header *headers;
    pt_request req;
    pt_buf pending;         /* unparsed pipelined bytes */
    pt_buf out;             /* response bytes staged for one write (see stage()) */
    const char *feed_base;
    char last_byte;         /* last byte fed to the parser, for the obs-fold check */
    unsigned char preface_len; /* bytes of a possible HTTP/2 preface held in preface[] */
    char preface[24];
    int status;
    pt_outcome error_outcome; /* set by callbacks that reject the request */
    uint64_t tunnel_idle_ms;
    uint64_t body_bytes, bytes_out, start_us;
    pt_body_sink sink;
    pt_req_info info;
    char peer[64];
    char error_msg[160];
    pt_conn *parent;        /* a stream's session connection */
    char host_lc[256];
} pt_conn_live;

struct pt_conn {
    pt_sock sock;           /* unused (never initialised) on a stream */
    pt_server *srv;
    pt_conn *prev, *next;
    pt_conn_live *x;        /* NULL while idle; a stream and an HTTP/2 session keep theirs */
    struct pt_h2 *h2;       /* the session, on a connection that speaks HTTP/2 */
    struct pt_h2_stream *h2s; /* set on a stream's pt_conn */
    pt_timerq_node timer;   /* the connection's one deadline, on the server's queue */
    unsigned char state;    /* conn_state */
    /* flags as bits: an idle connection's size is what bench/idle.sh measures */
    bool in_request : 1, req_done : 1, resp_started : 1, resp_done : 1, resp_chunked : 1;
    bool resp_head_only : 1, close_after : 1, processing : 1, body_paused : 1;
    bool continue_sent : 1, discard_body : 1, has_sink : 1, pending_full : 1;
    bool head_timed : 1;    /* the header deadline for the head being read is running */
    bool trim_due : 1;      /* the deadline running is IDLE_TRIM_MS into idle time (idle_wait) */
    bool tunnel_eof : 1;    /* TUNNEL: the client ended its side (the sink was told) */
    bool trailers_sent : 1; /* HTTP/1.1: the last chunk and the trailers are staged */
    bool h2c_ok : 1;        /* plain listener: a client preface switches to h2c (HTTP/2) */
    bool proto_known : 1;   /* the first bytes decided HTTP/1.1 or HTTP/2 */
};

/* server.c's pieces h2.c and conn_live.c use. */
void pt__conn_request_finish(pt_conn *c, bool log);
void pt__conn_sink_abort(pt_conn *c);
void pt__conn_close(pt_conn *c);
void pt__conn_linger_close(pt_conn *c);
void pt__conn_timer(pt_conn *c, uint64_t ms);
void pt__gen_request_id(char *out);
bool pt__request_id_ok(pt_slice v);
bool pt__has_dot_segment(pt_slice path);
bool pt__hop_by_hop(pt_slice name);
const llhttp_settings_t *pt__conn_parser_settings(void); /* set by pt_server_init */

/* conn_live.c: the live part, taken when bytes arrive and given back when idle. */
pt_conn_live *pt__conn_live_new(pt_conn *c); /* c->x, new; NULL when out of memory */
void pt__conn_live_free(pt_conn_live *x);
/* A connection's live part: the one it has, or a new one for bytes that arrived on an
 * idle (or new) connection. NULL when out of memory. */
static inline pt_conn_live *pt__conn_live(pt_conn *c) { return c->x ? c->x : pt__conn_live_new(c); }
/* Gives back c's live part unless a request or bytes still need it. */
void pt__conn_idle_trim(pt_conn *c);
/* srv->heap_trim's deadline, set when live parts were given back: free heap pages to the system. */
void pt__server_heap_trim(pt_server *srv);
/* A stream's pt_conn on session connection parent, its request begun; freed with
 * pt__conn_stream_free once its request has ended. */
pt_conn *pt__conn_stream_new(pt_conn *parent);
void pt__conn_stream_free(pt_conn *c);

#endif
