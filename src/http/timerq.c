/* timerq.c: a binary min-heap of deadlines on one libuv timer (see timerq.h). */
#include "http/timerq.h"

#include <stdlib.h>

#include "core/err.h"

void pt_timerq_init(pt_timerq *q, uv_loop_t *loop, pt_timerq_fire_fn fire, void *data)
{
    *q = (pt_timerq){ .loop = loop, .fire = fire, .data = data };
}

static void put(pt_timerq *q, uint32_t i, pt_timerq_node *n)
{
    q->heap[i] = n;
    n->pos = i + 1;
}

static void sift_up(pt_timerq *q, uint32_t i)
{
    pt_timerq_node *n = q->heap[i];
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (q->heap[up]->key <= n->key) break;
        put(q, i, q->heap[up]);
        i = up;
    }
    put(q, i, n);
}

static void sift_down(pt_timerq *q, uint32_t i)
{
    pt_timerq_node *n = q->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = l;
        if (l >= q->n) break;
        if (l + 1 < q->n && q->heap[l + 1]->key < q->heap[l]->key) m = l + 1;
        if (q->heap[m]->key >= n->key) break;
        put(q, i, q->heap[m]);
        i = m;
    }
    put(q, i, n);
}

static void take_out(pt_timerq *q, pt_timerq_node *n)
{
    uint32_t i = n->pos - 1;
    n->pos = 0;
    pt_timerq_node *last = q->heap[--q->n];
    if (last == n) return;
    put(q, i, last);
    if (i > 0 && q->heap[(i - 1) / 2]->key > last->key) sift_up(q, i);
    else sift_down(q, i);
}

static void on_timer(uv_timer_t *t);

/* Arms the timer for the heap's earliest key, unless it fires by then already. */
static void arm(pt_timerq *q)
{
    if (!q->n) return;
    uint64_t key = q->heap[0]->key, now = uv_now(q->loop);
    if (uv_is_active((uv_handle_t *)q->timer) && q->armed <= key) return;
    q->armed = key;
    uv_timer_start(q->timer, on_timer, key > now ? key - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    pt_timerq *q = t->data;
    uint64_t now = uv_now(q->loop);
    while (q->n && q->heap[0]->key <= now) {
        pt_timerq_node *n = q->heap[0];
        if (n->due > now) { /* moved later since it was placed: back in for then */
            n->key = n->due;
            sift_down(q, 0);
            continue;
        }
        take_out(q, n);
        if (!n->due) continue; /* cleared */
        n->due = 0;
        q->fire(q, n); /* may set deadlines, or remove nodes, this one included */
    }
    arm(q);
}

int pt_timerq_reserve(pt_timerq *q, uint32_t nodes)
{
    if (!q->timer) {
        q->timer = malloc(sizeof *q->timer);
        if (!q->timer) return PT_ENOMEM;
        uv_timer_init(q->loop, q->timer);
        q->timer->data = q;
    }
    if (nodes <= q->cap) return 0;
    uint32_t cap = q->cap ? q->cap : 64;
    while (cap < nodes) cap *= 2;
    pt_timerq_node **h = realloc(q->heap, cap * sizeof *h);
    if (!h) return PT_ENOMEM;
    q->heap = h;
    q->cap = cap;
    return 0;
}

void pt_timerq_set(pt_timerq *q, pt_timerq_node *n, uint64_t ms)
{
    if (!ms) {
        n->due = 0; /* a node in the heap comes up, finds nothing due and leaves */
        return;
    }
    n->due = uv_now(q->loop) + ms;
    if (n->pos && n->key <= n->due) return;
    n->key = n->due;
    if (n->pos) {
        sift_up(q, n->pos - 1);
    } else {
        q->n++;
        put(q, q->n - 1, n);
        sift_up(q, q->n - 1);
    }
    if (q->heap[0] == n) arm(q);
}

void pt_timerq_remove(pt_timerq *q, pt_timerq_node *n)
{
    n->due = 0;
    if (n->pos) take_out(q, n);
}

static void on_closed(uv_handle_t *h) { free(h); }

void pt_timerq_release(pt_timerq *q)
{
    if (q->timer) uv_close((uv_handle_t *)q->timer, on_closed);
    q->timer = NULL;
    free(q->heap);
    q->heap = NULL;
    q->n = q->cap = 0;
}
