/* listen.h: the gateway's listening sockets as a set keyed by address. One socket per
 * configured address, without SO_REUSEPORT, so a second gateway on the same address fails
 * to bind and is told who holds it; every worker thread accepts on its own dup of it.
 * The supervisor holds one set across restarts of the gateway process; the gateway builds
 * each new set from the previous one, so an address kept across a reload or a restart
 * keeps its socket and never refuses a connection. */
#ifndef PT_GATEWAY_LISTEN_H
#define PT_GATEWAY_LISTEN_H

#include <stddef.h>

#include "core/buf.h"
#include "gateway/config.h"

#define PT_LISTEN_KEY_MAX 72
#define PT_LISTEN_MAX 200 /* below SCM_MAX_FD, so a whole set fits in one message */

typedef struct pt_listen_fd {
    char key[PT_LISTEN_KEY_MAX]; /* "host port", the identity of an address */
    int fd;
} pt_listen_fd;

typedef struct pt_listen_set {
    pt_listen_fd *v;
    size_t n;
} pt_listen_set;

/* The key of a configured listener. */
void pt_listen_key(const pt_listener_cfg *l, char out[PT_LISTEN_KEY_MAX]);
/* Opens one socket per listener of cfg, in cfg's order: a dup of prev's socket for an
 * address prev already has (prev may be NULL), a new bind otherwise. prev is not changed.
 * On failure nothing stays open and err says why, e.g. "cannot listen on 127.0.0.1:8080:
 * address in use by pid 42 (portico serve -c a.yaml)". Returns 0 or -1. */
int pt_listen_set_open(const pt_config *cfg, const pt_listen_set *prev, pt_listen_set *out, pt_buf *err);
/* Closes every socket and frees the set; the set is empty afterwards. */
void pt_listen_set_release(pt_listen_set *s);
/* Does a hold the same addresses as b, in any order? */
int pt_listen_set_same(const pt_listen_set *a, const pt_listen_set *b);

/* Sends a copy of the set over a SOCK_SEQPACKET unix socket (keys as text, sockets as
 * SCM_RIGHTS) in one message. Returns 0 or -1. */
int pt_listen_set_send(int sock, const pt_listen_set *s);
/* Receives one message written by pt_listen_set_send into out (empty on entry).
 * Returns 1 when a set arrived, 0 at end of stream, -1 on error. */
int pt_listen_set_recv(int sock, pt_listen_set *out);

/* Hands a set to a new program across exec (a binary upgrade): clears close-on-exec on
 * every socket and writes "FD:KEY;FD:KEY" into out. Returns 0, or -1 when out is too small. */
int pt_listen_set_export(pt_listen_set *s, char *out, size_t cap);
/* Parses what pt_listen_set_export wrote, in the new program, into out (empty on entry),
 * setting close-on-exec again. Returns 0, or -1 (nothing kept) on malformed text. */
int pt_listen_set_import(const char *text, pt_listen_set *out);

#endif
