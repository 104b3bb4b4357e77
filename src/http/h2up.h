/* h2up.h: HTTP/2 towards upstreams (nghttp2 client sessions), for client.c only.
 *
 * client.c's exchange API is the one callers see; an exchange on an endpoint with h2 set
 * is carried by a pt__h2x here. Each worker keeps a few multiplexed connections per
 * endpoint (a new one only when the others are at the peer's stream limit), each stream
 * one exchange. The HTTP/1.1 head the caller built is turned into HTTP/2 fields (request
 * line into pseudo-headers, Host into :authority, hop-by-hop fields left out, TE kept only
 * as "trailers"); the body goes as DATA as the peer's windows allow. Callbacks follow
 * client.h, with on_trailers before on_done; pt__h2x_go may call back at once (client.c
 * holds such notices back for the loop's next turn). */
#ifndef PT_HTTP_H2UP_H
#define PT_HTTP_H2UP_H

#include "http/client.h"

typedef struct pt__h2up pt__h2up;
typedef struct pt__h2x pt__h2x;

pt__h2up *pt__h2up_new(uv_loop_t *loop, pt_h2up_stats *stats);
/* Every exchange ends with on_error(PT_ECANCELED) and every connection closes; the loop
 * then runs until they are closed. */
void pt__h2up_free(pt__h2up *up);

/* Allocates an exchange (no I/O, no callback); NULL when out of memory. */
pt__h2x *pt__h2x_new(pt__h2up *up, const pt_endpoint *ep, const pt_exchange_opts *o, const char *head,
                     size_t head_len, const pt_exchange_cb *cb, void *u);
/* Sends it: on a ready connection, or once one is. */
void pt__h2x_go(pt__h2x *x);
/* As client.h's pt_exchange_* calls. After on_done, on_error or cancel, x is gone. */
size_t pt__h2x_body(pt__h2x *x, const char *data, size_t n);
void pt__h2x_body_end(pt__h2x *x);
void pt__h2x_pause(pt__h2x *x);
void pt__h2x_resume(pt__h2x *x);
void pt__h2x_cancel(pt__h2x *x);
const char *pt__h2x_peer(const pt__h2x *x);

#endif
