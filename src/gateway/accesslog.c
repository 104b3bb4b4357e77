/* accesslog.c: JSON-lines access log with a bounded queue and one writer thread.
 *
 * Two buffers, each allocated at the queue cap when the log opens: workers append lines
 * to `pending` under `lock` (a memcpy, no allocation), the writer swaps `pending` with
 * its empty `back` buffer under the same lock and writes `back` with the lock released.
 * So a worker waits at most for another worker's memcpy or a pointer swap, never for
 * the disk, and the writer issues one write(2) per wake-up however many lines came in. */
#include "gateway/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "gateway/metrics.h"

#define DEFAULT_QUEUE_CAP ((size_t)4 << 20)

#define FLUSH_BYTES (64 * 1024) /* a batch this large is written at once */
#define FLUSH_MS 100            /* otherwise lines wait at most this long */
/* A longer line (a path near the header cap, escaped six-fold) is dropped, not truncated. */
#define MAX_LINE ((size_t)256 << 10)
/* The per-thread format buffer is given back when a rare huge line made it grow past this. */
#define LINE_BUF_KEEP ((size_t)16 << 10)
/* A non-blocking stdout that stays full this long loses the batch instead of hanging close. */
#define WRITE_STALL_MS 5000

/* Shared with the writer thread; every field is guarded by `lock` except `fd`, `path`
 * and `to_stdout`, which only the writer touches while it runs (and open/close when
 * it does not). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pt_buf pending = PT_BUF_INIT;
static pt_buf back = PT_BUF_INIT;
static bool accepting; /* workers may queue lines */
static bool stop_req, reopen_req;
static size_t reopen_mark; /* bytes of `pending` queued before the reopen request */
static bool running;   /* the writer thread exists */
static pthread_t writer;
static size_t queue_cap = DEFAULT_QUEUE_CAP;
/* Unlocked first check in pt_accesslog_write so a disabled log costs one load. */
static _Atomic bool enabled;

static int fd = -1;
static bool to_stdout;
static char *path;

static void count_dropped(uint64_t n)
{
    atomic_fetch_add_explicit(&pt_metrics_global.accesslog_dropped, n, memory_order_relaxed);
}

/* ---- formatting (caller's thread) ----------------------------------------------------- */

static pthread_once_t line_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t line_key;

static void line_buf_free(void *p)
{
    pt_buf_release(p);
    free(p);
}

static void line_key_create(void) { pthread_key_create(&line_key, line_buf_free); }

/* Each thread formats into its own reusable buffer, freed when the thread exits. */
static pt_buf *line_buf(void)
{
    pthread_once(&line_key_once, line_key_create);
    pt_buf *b = pthread_getspecific(line_key);
    if (!b) {
        b = malloc(sizeof *b);
        if (!b) return NULL;
        pt_buf_init(b, MAX_LINE);
        if (pthread_setspecific(line_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    return b;
}

/* ,"key": (keys are our own literals: no escaping needed) */
static int put_key(pt_buf *b, const char *key)
{
    int rc = pt_buf_append(b, ",\"", 2);
    if (rc == 0) rc = pt_buf_append_str(b, key);
    if (rc == 0) rc = pt_buf_append(b, "\":", 2);
    return rc;
}

static void put_u64(pt_buf *b, int *rc, const char *key, uint64_t v)
{
    if (*rc == 0) *rc = put_key(b, key);
    if (*rc == 0) *rc = pt_buf_append_u64(b, v);
}

/* Appends a JSON string member value, or null when s is NULL. Sticky error in *rc. */
static void put_str(pt_buf *b, int *rc, const char *key, const char *s, size_t n)
{
    if (*rc) return;
    *rc = put_key(b, key);
    if (*rc) return;
    if (!s) {
        *rc = pt_buf_append(b, "null", 4);
        return;
    }
    *rc = pt_buf_append(b, "\"", 1);
    if (*rc == 0) *rc = pt_buf_append_json_escaped(b, s, n);
    if (*rc == 0) *rc = pt_buf_append(b, "\"", 1);
}

static void put_cstr(pt_buf *b, int *rc, const char *key, const char *s)
{
    put_str(b, rc, key, s, s ? strlen(s) : 0);
}

static void put_slice(pt_buf *b, int *rc, const char *key, pt_slice s)
{
    put_str(b, rc, key, s.ptr, s.len);
}

/* Microseconds as milliseconds with exactly three decimals, from integers (no rounding). */
static void put_ms(pt_buf *b, int *rc, const char *key, uint64_t us)
{
    put_u64(b, rc, key, us / 1000u);
    char frac[4] = { '.', (char)('0' + us % 1000u / 100u), (char)('0' + us % 100u / 10u), (char)('0' + us % 10u) };
    if (*rc == 0) *rc = pt_buf_append(b, frac, 4);
}

static int format_record(pt_buf *b, const pt_access_record *r)
{
    char ts[40];
    pt_wall_iso8601(ts, sizeof ts);
    int rc = pt_buf_append(b, "{\"time\":\"", 9);
    if (rc == 0) rc = pt_buf_append_str(b, ts);
    if (rc == 0) rc = pt_buf_append(b, "\"", 1);
    put_cstr(b, &rc, "request_id", r->request_id);
    put_slice(b, &rc, "client", r->client);
    put_slice(b, &rc, "method", r->method);
    put_slice(b, &rc, "path", r->path);
    put_cstr(b, &rc, "route", r->route);
    put_cstr(b, &rc, "service", r->service);
    put_cstr(b, &rc, "target", r->target);
    if (r->consumer) put_cstr(b, &rc, "consumer", r->consumer);
    if (r->team) put_cstr(b, &rc, "team", r->team);
    if (r->key_prefix) put_cstr(b, &rc, "key_prefix", r->key_prefix);
    if (rc == 0) rc = put_key(b, "status");
    if (rc == 0 && r->status < 0) rc = pt_buf_append(b, "-", 1);
    if (rc == 0) rc = pt_buf_append_u64(b, (uint64_t)(r->status < 0 ? -(int64_t)r->status : r->status));
    put_u64(b, &rc, "bytes_in", r->bytes_in);
    put_u64(b, &rc, "bytes_out", r->bytes_out);
    if (r->upstream_us)
        put_ms(b, &rc, "upstream_ms", r->upstream_us);
    else if (rc == 0)
        rc = pt_buf_append_str(b, ",\"upstream_ms\":null");
    put_ms(b, &rc, "total_ms", r->total_us);
    put_cstr(b, &rc, "error", r->outcome == PT_OUT_OK ? NULL : pt_outcome_log_name(r->outcome));
    if (rc == 0 && r->extra_json && r->extra_json[0]) {
        rc = pt_buf_append(b, ",", 1);
        if (rc == 0) rc = pt_buf_append_str(b, r->extra_json);
    }
    if (rc == 0) rc = pt_buf_append(b, "}\n", 2);
    return rc;
}

void pt_accesslog_write(const pt_access_record *r)
{
    if (!atomic_load_explicit(&enabled, memory_order_acquire)) return;
    pt_buf *b = line_buf();
    if (!b) {
        count_dropped(1);
        return;
    }
    pt_buf_reset(b);
    int rc = format_record(b, r);

    /* Never block the event loop: when the queue is full the line is dropped and
     * counted, rather than waiting for the writer to catch up with the disk. */
    if (rc == 0) {
        pthread_mutex_lock(&lock);
        if (accepting) {
            /* The writer wakes by itself every FLUSH_MS; it is signalled only when a batch
             * is worth a write, so a busy worker does not pay a futex wake per line. */
            size_t before = pending.len;
            rc = pt_buf_append(&pending, b->data, b->len); /* fits in the preallocated cap, or PT_ETOOBIG */
            if (rc == 0 && before < FLUSH_BYTES && pending.len >= FLUSH_BYTES) pthread_cond_signal(&wake);
        }
        pthread_mutex_unlock(&lock);
    }
    if (rc) count_dropped(1);
    if (b->alloc > LINE_BUF_KEEP) pt_buf_release(b);
}

/* ---- the writer thread ---------------------------------------------------------------- */

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    const char *end = p + n, *nl;
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
        lines++;
        p = nl + 1;
    }
    return lines;
}

/* Writes all n bytes, retrying partial writes and EINTR, and waiting (bounded) on a
 * non-blocking descriptor. Returns how many bytes were written. */
static size_t write_all(int wfd, const char *p, size_t n, int *err)
{
    size_t off = 0;
    int stalled_ms = 0;
    *err = 0;
    while (off < n) {
        ssize_t w = write(wfd, p + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            stalled_ms = 0;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalled_ms < WRITE_STALL_MS) {
            struct pollfd pfd = { .fd = wfd, .events = POLLOUT };
            poll(&pfd, 1, 100);
            stalled_ms += 100;
            continue;
        }
        *err = w < 0 ? errno : EIO;
        break;
    }
    return off;
}

static void write_batch(const char *p, size_t n)
{
    static bool failing; /* log a failure once, not once per batch */
    int err;
    if (n == 0) return;
    size_t done = write_all(fd, p, n, &err);
    if (done < n) {
        count_dropped(count_lines(p + done, n - done));
        if (!failing) pt_log_error("access log: write failed: %s; dropping lines", strerror(err));
        failing = true;
    } else if (failing) {
        pt_log_info("access log: writing again");
        failing = false;
    }
}

static int open_path(const char *p)
{
    return open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* Rotation: the old name was moved away; start a new file under the configured name.
 * If that fails the old descriptor keeps receiving lines. */
static void reopen_file(void)
{
    if (to_stdout) return;
    int nfd = open_path(path);
    if (nfd < 0) {
        pt_log_error("access log: cannot reopen %s: %s; still writing to the old file", path, strerror(errno));
        return;
    }
    close(fd);
    fd = nfd;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pt_log_set_thread_name("accesslog");
    for (;;) {
        pthread_mutex_lock(&lock);
        while (pending.len < FLUSH_BYTES && !stop_req && !reopen_req) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&wake, &lock, &until) == ETIMEDOUT && pending.len) break;
        }
        pt_buf tmp = pending; /* back is empty here, so this hands the queue to the writer */
        pending = back;
        back = tmp;
        bool do_reopen = reopen_req, do_stop = stop_req;
        size_t mark = do_reopen ? reopen_mark : back.len;
        reopen_req = false;
        pthread_mutex_unlock(&lock);

        /* Lines queued before pt_accesslog_reopen() belong to the old file. */
        write_batch(back.data, mark);
        if (do_reopen) reopen_file();
        write_batch(back.data + mark, back.len - mark);
        pt_buf_reset(&back);
        if (do_stop) break;
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void release_files(void)
{
    if (fd >= 0 && !to_stdout) close(fd);
    fd = -1;
    to_stdout = false;
    free(path);
    path = NULL;
    pt_buf_release(&pending);
    pt_buf_release(&back);
}

/* A queue buffer is allocated at its cap up front (pt_buf_reserve would round up to a
 * power of two), so queuing a line never allocates under the lock; pages the queue
 * never reaches are never touched. */
static int queue_buf_init(pt_buf *b, size_t cap)
{
    pt_buf_init(b, cap);
    b->data = malloc(cap + 1);
    if (!b->data) return PT_ENOMEM;
    b->alloc = cap + 1;
    b->data[0] = '\0';
    return 0;
}

/* The writer blocks every signal so signals reach the event-loop threads. */
static int start_writer(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&writer, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int pt_accesslog_open(const char *dest, pt_buf *err)
{
    pt_accesslog_close();
    if (!dest || strcmp(dest, "off") == 0) return 0;

    int rc = PT_ENOMEM;
    if (strcmp(dest, "-") == 0) {
        fd = STDOUT_FILENO;
        to_stdout = true;
    } else {
        path = strdup(dest);
        if (!path) goto fail;
        fd = open_path(dest);
        if (fd < 0) {
            if (err) pt_buf_printf(err, "access_log: cannot open %s: %s", dest, strerror(errno));
            rc = PT_EIO;
            goto fail;
        }
    }
    pthread_mutex_lock(&lock);
    bool ok = queue_buf_init(&pending, queue_cap) == 0 && queue_buf_init(&back, queue_cap) == 0;
    stop_req = reopen_req = false;
    pthread_mutex_unlock(&lock);
    if (!ok) goto fail;
    if (start_writer() != 0) goto fail;

    pthread_mutex_lock(&lock);
    running = accepting = true;
    pthread_mutex_unlock(&lock);
    atomic_store_explicit(&enabled, true, memory_order_release);
    return 0;

fail:
    if (rc == PT_ENOMEM && err) pt_buf_printf(err, "access_log: out of memory or threads starting the writer for %s", dest);
    release_files();
    return rc;
}

void pt_accesslog_reopen(void)
{
    pthread_mutex_lock(&lock);
    if (running) {
        reopen_req = true;
        reopen_mark = pending.len;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
}

void pt_accesslog_close(void)
{
    atomic_store_explicit(&enabled, false, memory_order_release);
    pthread_mutex_lock(&lock);
    bool was_running = running;
    accepting = false;
    stop_req = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (!was_running) return;

    pthread_join(writer, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    release_files();
    pthread_mutex_unlock(&lock);
}

void pt__accesslog_set_queue_cap(size_t bytes)
{
    pthread_mutex_lock(&lock);
    queue_cap = bytes;
    pthread_mutex_unlock(&lock);
}
