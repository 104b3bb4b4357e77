/* timerq.h: many deadlines on one libuv timer (a server's client connections).
 *
 * A uv_timer_t per connection costs 152 bytes on each of them, idle ones included, which
 * are most of those a gateway holds (bench/idle.sh). A queue instead keeps its nodes in a
 * binary min-heap of pointers and arms one timer for the earliest; a node is 24 bytes in
 * its owner and 8 in the heap.
 *
 * Deadlines move several times per request (head, body, send, idle...). As pt_deadline
 * does, setting a later deadline only records it: the node keeps its place, and when that
 * place comes up the node is put back for the deadline it has by then. Setting an earlier
 * one moves the node up. The fire callback therefore sees only deadlines that have passed.
 *
 * The timer handle exists only while the queue holds nodes or has been used since
 * pt_timerq_release, so a loop without connections has no handle of the queue's open. */
#ifndef PT_HTTP_TIMERQ_H
#define PT_HTTP_TIMERQ_H

#include <stdint.h>
#include <uv.h>

typedef struct pt_timerq_node {
    uint64_t due;  /* uv_now() ms when due; 0: none */
    uint64_t key;  /* where the node sits in the heap (<= due while due is set) */
    uint32_t pos;  /* heap index + 1; 0: not in the heap */
} pt_timerq_node;

typedef struct pt_timerq pt_timerq;
typedef void (*pt_timerq_fire_fn)(pt_timerq *q, pt_timerq_node *n);

struct pt_timerq {
    uv_loop_t *loop;
    pt_timerq_fire_fn fire;
    void *data;
    uv_timer_t *timer;     /* NULL until needed */
    pt_timerq_node **heap;
    uint32_t n, cap;
    uint64_t armed;        /* when the timer fires, if it is active */
};

void pt_timerq_init(pt_timerq *q, uv_loop_t *loop, pt_timerq_fire_fn fire, void *data);
/* Makes room for `nodes` nodes (and the timer): 0 or PT_ENOMEM. An owner reserves a place
 * for each node before it first sets it, so that setting never fails. */
int pt_timerq_reserve(pt_timerq *q, uint32_t nodes);
/* Due ms from now; 0 clears it. */
void pt_timerq_set(pt_timerq *q, pt_timerq_node *n, uint64_t ms);
/* Takes the node out (its owner is going away). */
void pt_timerq_remove(pt_timerq *q, pt_timerq_node *n);
/* Closes the timer and frees the heap; the queue must hold no node. It can be used again. */
void pt_timerq_release(pt_timerq *q);

#endif
