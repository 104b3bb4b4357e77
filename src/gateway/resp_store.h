/* resp_store.h: the Responses API's kept responses from the workers' side. One thread
 * owns a handle on the control-plane store (SQLite or PostgreSQL, pt_store_response_*)
 * and runs every operation in the order the workers asked, so a response queued when its
 * answer ended is found by any later lookup, whichever worker makes it. Workers never
 * touch the disk: a write is copied into the thread's queue (bounded; over the bound it
 * is dropped and counted), and a read or a delete answers on the asking worker's loop
 * through an async handle. The thread also deletes expired responses every
 * responses.prune_every. */
#ifndef PT_GATEWAY_RESP_STORE_H
#define PT_GATEWAY_RESP_STORE_H

#include <stdbool.h>
#include <uv.h>

#include "core/slice.h"
#include "gateway/config.h"
#include "store/store.h"

/* Opens the store for kept responses when cfg has `responses:` and registers the metrics.
 * A store that cannot be opened is logged: lookups then answer 503. Once, at start. */
void pt_resp_store_start(const pt_config *cfg);
/* Runs what is queued, stops the thread, closes the store. */
void pt_resp_store_stop(void);

/* Whether `responses:` is on (even when its store failed to open). */
bool pt_resp_store_enabled(void);
/* responses.default_store, responses.max_size. */
bool pt_resp_store_default(void);
size_t pt_resp_store_max_bytes(void);

/* Queues one response to keep (copied): 0, or -1 when it is not kept (off, larger than
 * max_size, the queue full, out of memory), counted and logged. */
int pt_resp_store_put(const char *id, const char *consumer, const char *model, pt_slice input, pt_slice response);

typedef struct pt_resp_job pt_resp_job;
/* rc: 0 or a PT_STORE_E* code (PT_STORE_EUNAVAIL when there is no store). row: the found
 * response for a get (borrowed for the call), NULL otherwise. */
typedef void (*pt_resp_done_fn)(void *arg, int rc, const pt_store_response *row);
/* Looks id up / deletes consumer's id, answering fn on loop (the caller's). NULL when
 * out of memory (fn is not called). */
pt_resp_job *pt_resp_store_get(uv_loop_t *loop, const char *id, pt_resp_done_fn fn, void *arg);
pt_resp_job *pt_resp_store_delete(uv_loop_t *loop, const char *id, const char *consumer, pt_resp_done_fn fn,
                                  void *arg);
/* On loop: fn will not be called (the asker went away); the job ends by itself. */
void pt_resp_store_cancel(pt_resp_job *j);

#endif
