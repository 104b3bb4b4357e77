/* recycle.c: per-thread free lists (see recycle.h). */
#include "core/recycle.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

void *pt_recycle_get_raw(pt_recycler *r, size_t size)
{
#ifndef PT_NO_ARENA
    if (r->head) {
        void *p = r->head;
        memcpy(&r->head, p, sizeof r->head);
        r->n--;
        return p;
    }
#else
    (void)r;
#endif
    return malloc(size < sizeof(void *) ? sizeof(void *) : size);
}

void *pt_recycle_get(pt_recycler *r, size_t size)
{
    void *p = pt_recycle_get_raw(r, size);
    if (p) memset(p, 0, size);
    return p;
}

/* The calling thread's lists that have been given objects. */
static _Thread_local pt_recycler *thread_lists;

void pt_recycle_put(pt_recycler *r, void *p, unsigned max)
{
    if (!p) return;
#ifndef PT_NO_ARENA
    if (r->n < max) {
        if (!r->listed) {
            r->listed = 1;
            r->next_list = thread_lists;
            thread_lists = r;
        }
        memcpy(p, &r->head, sizeof r->head);
        r->head = p;
        r->n++;
        return;
    }
#else
    (void)r;
    (void)max;
#endif
    free(p);
}

#define BLOCKS_KEPT 32

static PT_RECYCLER(blocks);

int pt_buf_start_block(pt_buf *b)
{
    if (b->data) return 0;
    char *block = pt_recycle_get_raw(&blocks, PT_BLOCK);
    if (!block) return PT_ENOMEM;
    block[0] = '\0';
    b->data = block;
    b->len = 0;
    b->alloc = PT_BLOCK;
    return 0;
}

/* Any buffer of exactly one block's size is a malloc'd block, wherever it came from. */
void pt_buf_release_block(pt_buf *b)
{
    if (b->alloc == PT_BLOCK) pt_recycle_put(&blocks, b->data, BLOCKS_KEPT);
    else free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void pt_recycle_thread_release(void)
{
    for (pt_recycler *r = thread_lists; r; r = r->next_list) {
        while (r->head) {
            void *p = r->head;
            memcpy(&r->head, p, sizeof r->head);
            free(p);
        }
        r->n = 0;
        r->listed = 0;
    }
    thread_lists = NULL;
}
