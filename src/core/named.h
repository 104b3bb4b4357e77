/* named.h: process-lifetime lists of entries found by name, such as metric series that
 * outlive configuration reloads: found without a lock, added under one, never freed. */
#ifndef PT_CORE_NAMED_H
#define PT_CORE_NAMED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* The first member of every entry. */
typedef struct pt_named {
    struct pt_named *next;
    char *name;
} pt_named;

typedef struct pt_named_list {
    pt_named *_Atomic head;   /* newest first */
    pthread_mutex_t lock;     /* taken to add */
} pt_named_list;

#define PT_NAMED_LIST_INIT { NULL, PTHREAD_MUTEX_INITIALIZER }

/* The entry called name, added zeroed (size bytes, a struct that begins with a pt_named)
 * when there is none yet. NULL when out of memory. Thread-safe. */
void *pt_named_get(pt_named_list *l, const char *name, size_t size);

/* The newest entry, to walk with ->next; NULL when the list is empty. */
static inline void *pt_named_first(pt_named_list *l) { return atomic_load_explicit(&l->head, memory_order_acquire); }

#endif
