/* conn_live.c: the live part of a client connection (pt_conn_live, server_int.h): taken when
 * bytes arrive on a new or idle connection, given back after a while of idle time, and
 * the heap trimmed once many were given back; a stream's pt_conn, which has one for its life.
 * When a connection reads, answers, idles and closes is server.c's (and h2.c's) to decide. */
#include "http/server_int.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static void live_release(pt_conn_live *x)
{
    pt__req_end(&x->req);
    pt_buf_release(&x->head);
    pt_buf_release(&x->pending);
    pt_buf_release(&x->out);
    pt_hdrcap_release(&x->hdrs);
    free(x->headers);
}

void pt__conn_live_free(pt_conn_live *x)
{
    live_release(x);
    free(x);
}

/* Live parts are allocated while requests are read and freed once their connections idle,
 * so after a burst the heap holds their room between the connections that stay: freed,
 * but still resident. HEAP_TRIM_MS after a live part is freed (one deadline on the
 * server's queue, so at most once in that time), when HEAP_TRIM_MIN or more were, glibc is
 * asked to give whole free pages back (malloc_trim, which walks every arena). Other C
 * libraries keep the memory for later requests. */
#define HEAP_TRIM_MS 100
#define HEAP_TRIM_MIN 16

static void heap_trim_soon(pt_server *srv)
{
    srv->lives_freed++;
    if (!srv->heap_trim.pos) pt_timerq_set(&srv->timers, &srv->heap_trim, HEAP_TRIM_MS);
}

void pt__server_heap_trim(pt_server *srv)
{
    if (srv->lives_freed < HEAP_TRIM_MIN) return;
    srv->lives_freed = 0;
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

/* An idle keep-alive connection keeps nothing of its requests: idle connections are most
 * of those a gateway holds. The parser is at a message's start, so the next one begun
 * anew (pt__conn_live) reads the next request alike. Kept when staged or unparsed bytes wait. */
void pt__conn_idle_trim(pt_conn *c)
{
    if (!c->x || c->x->out.len || c->x->pending.len || c->in_request) return;
    pt__conn_live_free(c->x);
    c->x = NULL;
    heap_trim_soon(c->srv);
}

pt_conn_live *pt__conn_live_new(pt_conn *c)
{
    pt_conn_live *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    pt_buf_init(&x->head, c->srv->limits.max_header_bytes + HEAD_SLACK);
    llhttp_init(&x->parser, HTTP_REQUEST, pt__conn_parser_settings());
    x->parser.data = c;
    if (c->sock.capture) snprintf(x->peer, sizeof x->peer, "127.0.0.1:1");
    else pt_sock_peer(&c->sock, x->peer, sizeof x->peer);
    c->x = x;
    return x;
}

/* A stream is a request from its first frame to its end: its live part comes with it. */
typedef struct stream_conn {
    pt_conn c;
    pt_conn_live x;
} stream_conn;

pt_conn *pt__conn_stream_new(pt_conn *parent)
{
    stream_conn *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    pt_conn *c = &sc->c;
    c->x = &sc->x;
    c->srv = parent->srv;
    c->x->parent = parent;
    memcpy(c->x->peer, parent->x->peer, sizeof c->x->peer);
    pt_buf_init(&c->x->head, c->srv->limits.max_header_bytes + HEAD_SLACK);
    pt__req_begin(&c->x->req);
    c->in_request = true;
    c->state = CS_HEAD;
    c->x->start_us = pt_now_us();
    return c;
}

void pt__conn_stream_free(pt_conn *c)
{
    live_release(c->x);
    free((stream_conn *)c);
}
