/* resp_store.c: the kept responses' thread and its queue (see resp_store.h). */
#include "gateway/resp_store.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/prom.h"
#include "gateway/metrics.h"

#define QUEUE_MAX_BYTES (64u << 20) /* writes waiting for the thread, at most */

typedef enum op { OP_PUT, OP_GET, OP_DELETE } op;

struct pt_resp_job {
    op op;
    pt_store_response row;     /* put: what to keep (owned); get: what was found (owned) */
    char *id, *consumer;       /* get, delete */
    size_t bytes;              /* put: counted against the queue's bound */
    int rc;
    pt_resp_done_fn fn;
    void *arg;
    bool cancelled;            /* read and written on the asker's loop only */
    uv_async_t async;          /* get, delete: the answer's way back */
    struct pt_resp_job *next;
};

static struct {
    bool enabled, default_store;
    size_t max_bytes;
    int64_t retention_s;
    uint64_t prune_every_ms;
    pt_store *st;              /* the thread's alone once it runs */
    uv_mutex_t lock;
    uv_cond_t cond;
    pt_resp_job *head, *tail;  /* guarded by lock */
    size_t queued_bytes;       /* guarded by lock */
    bool stop;                 /* guarded by lock */
    bool running;
    uv_thread_t thread;
    _Atomic uint64_t stored, dropped, pruned, errors;
} rs;

/* A response not kept: counted, and said in the log at most every 10 s (a full queue can
 * refuse many in a row). */
static void dropped(const char *id, const char *why)
{
    static _Atomic uint64_t last_ms;
    atomic_fetch_add(&rs.dropped, 1);
    uint64_t now = uv_hrtime() / 1000000, last = atomic_load(&last_ms);
    if (now - last >= 10000 && atomic_compare_exchange_strong(&last_ms, &last, now))
        pt_log_warn("responses: %s is not kept: %s (portico_responses_dropped_total counts them)", id, why);
}

static void job_free(pt_resp_job *j)
{
    pt_store_response_release(&j->row);
    free(j->id);
    free(j->consumer);
    free(j);
}

static void on_async_closed(uv_handle_t *h) { job_free(h->data); }

/* On the asker's loop: the answer, unless the asker went away. */
static void on_answer(uv_async_t *a)
{
    pt_resp_job *j = a->data;
    if (!j->cancelled) j->fn(j->arg, j->rc, j->op == OP_GET && j->rc == 0 ? &j->row : NULL);
    uv_close((uv_handle_t *)&j->async, on_async_closed);
}

static void run_put(pt_resp_job *j)
{
    int rc = pt_store_response_put(rs.st, &j->row);
    if (rc == 0) {
        atomic_fetch_add(&rs.stored, 1);
        return;
    }
    atomic_fetch_add(&rs.errors, 1);
    pt_log_warn("responses: %s was not kept: %s", j->row.id, pt_store_last_error(rs.st)->message);
}

static void run_job(pt_resp_job *j)
{
    if (j->op == OP_PUT) {
        if (rs.st) run_put(j);
        else dropped(j->row.id, "the store could not be opened");
        job_free(j);
        return;
    }
    if (!rs.st) j->rc = PT_STORE_EUNAVAIL;
    else if (j->op == OP_GET) j->rc = pt_store_response_get(rs.st, j->id, (int64_t)time(NULL), &j->row);
    else j->rc = pt_store_response_delete(rs.st, j->id, j->consumer);
    if (j->rc && j->rc != PT_STORE_ENOTFOUND && rs.st) {
        atomic_fetch_add(&rs.errors, 1);
        pt_log_warn("responses: %s: %s", j->id, pt_store_last_error(rs.st)->message);
    }
    uv_async_send(&j->async);
}

static void prune(void)
{
    if (!rs.st) return;
    int64_t n = 0;
    if (pt_store_response_prune(rs.st, (int64_t)time(NULL), &n) != 0) {
        atomic_fetch_add(&rs.errors, 1);
        pt_log_warn("responses: pruning failed: %s", pt_store_last_error(rs.st)->message);
        return;
    }
    atomic_fetch_add(&rs.pruned, (uint64_t)n);
}

/* Jobs in the order they were queued; expired responses pruned whenever prune_every has
 * passed (between jobs, so a steady stream of them does not hold it off). */
static void thread_main(void *arg)
{
    (void)arg;
    pt_log_set_thread_name("responses");
    uint64_t next_prune = uv_hrtime() / 1000000 + rs.prune_every_ms;
    for (;;) {
        uv_mutex_lock(&rs.lock);
        while (!rs.head && !rs.stop) {
            uint64_t now = uv_hrtime() / 1000000;
            if (now >= next_prune) break;
            uv_cond_timedwait(&rs.cond, &rs.lock, (next_prune - now) * 1000000);
        }
        pt_resp_job *j = rs.head;
        if (j) {
            rs.head = j->next;
            if (!rs.head) rs.tail = NULL;
            rs.queued_bytes -= j->bytes;
        }
        bool stop = rs.stop && !j;
        uv_mutex_unlock(&rs.lock);
        if (stop) break;
        if (j) run_job(j);
        uint64_t now = uv_hrtime() / 1000000;
        if (now >= next_prune) {
            prune();
            next_prune = now + rs.prune_every_ms;
        }
    }
}

/* Queues j; false when a write would go over the queue's bound. */
static bool enqueue(pt_resp_job *j)
{
    uv_mutex_lock(&rs.lock);
    bool ok = rs.running && !rs.stop && (!j->bytes || rs.queued_bytes + j->bytes <= QUEUE_MAX_BYTES);
    if (ok) {
        rs.queued_bytes += j->bytes;
        if (rs.tail) rs.tail->next = j;
        else rs.head = j;
        rs.tail = j;
        uv_cond_signal(&rs.cond);
    }
    uv_mutex_unlock(&rs.lock);
    return ok;
}

static void render(pt_prom *p, void *arg)
{
    (void)arg;
    if (!rs.enabled) return;
    pt_prom_single(p, "portico_responses_stored_total", "counter", "Responses API answers kept in the store.",
                   atomic_load(&rs.stored));
    pt_prom_single(p, "portico_responses_dropped_total", "counter",
                   "Responses API answers asked to be kept but not kept (too large, queue full, no store).",
                   atomic_load(&rs.dropped));
    pt_prom_single(p, "portico_responses_pruned_total", "counter", "Kept responses deleted at the end of their retention.",
                   atomic_load(&rs.pruned));
    pt_prom_single(p, "portico_responses_store_errors_total", "counter",
                   "Kept-response operations the store failed (writes, reads, deletes, pruning).", atomic_load(&rs.errors));
}

void pt_resp_store_start(const pt_config *cfg)
{
    const pt_responses_cfg *c = &cfg->responses;
    if (!c->enabled) return;
    rs.enabled = true;
    rs.stop = false;
    rs.default_store = c->default_store;
    rs.max_bytes = c->max_bytes;
    rs.retention_s = (int64_t)(c->retention_ms / 1000);
    rs.prune_every_ms = c->prune_every_ms;
    pt_metrics_add_renderer(render, NULL);
    pt_store_error err;
    rs.st = pt_store_open(cfg->data_dir, cfg->store.postgres, &err);
    if (!rs.st) pt_log_error("responses: the store cannot be opened (%s); kept responses answer 503", err.message);
    uv_mutex_init(&rs.lock);
    uv_cond_init(&rs.cond);
    rs.running = uv_thread_create(&rs.thread, thread_main, NULL) == 0;
    if (!rs.running) pt_log_error("responses: the store thread could not start; responses are not kept");
}

void pt_resp_store_stop(void)
{
    if (!rs.enabled) return;
    if (rs.running) {
        uv_mutex_lock(&rs.lock);
        rs.stop = true;
        uv_cond_signal(&rs.cond);
        uv_mutex_unlock(&rs.lock);
        uv_thread_join(&rs.thread);
        rs.running = false;
    }
    pt_store_close(rs.st);
    rs.st = NULL;
    uv_cond_destroy(&rs.cond);
    uv_mutex_destroy(&rs.lock);
    rs.enabled = false;
}

bool pt_resp_store_enabled(void) { return rs.enabled; }
bool pt_resp_store_default(void) { return rs.default_store; }
size_t pt_resp_store_max_bytes(void) { return rs.max_bytes; }

static char *dup_slice(pt_slice s)
{
    char *d = malloc(s.len + 1);
    if (d) {
        if (s.len) memcpy(d, s.ptr, s.len);
        d[s.len] = '\0';
    }
    return d;
}

int pt_resp_store_put(const char *id, const char *consumer, const char *model, pt_slice input, pt_slice response)
{
    if (!rs.enabled) return -1;
    size_t bytes = input.len + response.len;
    if (bytes > rs.max_bytes) {
        dropped(id, "it is larger than responses.max_size");
        return -1;
    }
    pt_resp_job *j = calloc(1, sizeof *j);
    int64_t now = (int64_t)time(NULL);
    if (j) {
        j->op = OP_PUT;
        j->bytes = bytes;
        j->row = (pt_store_response){ .id = strdup(id), .consumer = strdup(consumer), .model = strdup(model),
                                      .created_at = now, .expires_at = now + rs.retention_s,
                                      .input = dup_slice(input), .response = dup_slice(response) };
    }
    if (!j || !j->row.id || !j->row.consumer || !j->row.model || !j->row.input || !j->row.response || !enqueue(j)) {
        if (j) job_free(j);
        dropped(id, "the store's queue is full");
        return -1;
    }
    return 0;
}

static pt_resp_job *ask(uv_loop_t *loop, op o, const char *id, const char *consumer, pt_resp_done_fn fn, void *arg)
{
    pt_resp_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->op = o;
    j->fn = fn;
    j->arg = arg;
    j->id = strdup(id);
    j->consumer = consumer ? strdup(consumer) : NULL;
    if (!j->id || (consumer && !j->consumer) || uv_async_init(loop, &j->async, on_answer) != 0) {
        job_free(j);
        return NULL;
    }
    j->async.data = j;
    if (!enqueue(j)) { /* no thread: answered "no store" on the next turn of the loop */
        j->rc = PT_STORE_EUNAVAIL;
        uv_async_send(&j->async);
    }
    return j;
}

pt_resp_job *pt_resp_store_get(uv_loop_t *loop, const char *id, pt_resp_done_fn fn, void *arg)
{
    return ask(loop, OP_GET, id, NULL, fn, arg);
}

pt_resp_job *pt_resp_store_delete(uv_loop_t *loop, const char *id, const char *consumer, pt_resp_done_fn fn, void *arg)
{
    return ask(loop, OP_DELETE, id, consumer, fn, arg);
}

void pt_resp_store_cancel(pt_resp_job *j)
{
    if (j) j->cancelled = true;
}
