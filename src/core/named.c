/* named.c: process-lifetime lists of named entries (see named.h). */
#include "core/named.h"

#include <stdlib.h>
#include <string.h>

static pt_named *find(pt_named_list *l, const char *name)
{
    for (pt_named *e = pt_named_first(l); e; e = e->next)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

void *pt_named_get(pt_named_list *l, const char *name, size_t size)
{
    pt_named *e = find(l, name);
    if (e) return e;
    pthread_mutex_lock(&l->lock);
    if (!(e = find(l, name)) && (e = calloc(1, size))) {
        if ((e->name = strdup(name))) {
            e->next = atomic_load_explicit(&l->head, memory_order_relaxed);
            atomic_store_explicit(&l->head, e, memory_order_release);
        } else {
            free(e);
            e = NULL;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return e;
}
