/* accesslog.c: JSON-lines access log with a bounded queue and one writer thread.
 *
 * Workers format a line into a per-thread buffer and push it into a core/spool.c queue (a
 * memcpy under the spool's lock, no allocation); the spool's writer thread hands over
 * everything queued at once and this file writes it with one write(2). So a worker never
 * waits for the disk. A reopen request travels in the queue as a NUL byte (JSON lines
 * never hold one), so lines queued before it go to the old file and later ones to the new. */
#include "gateway/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/spool.h"
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

/* Workers push under the read side of `life` (a line never meets a freed queue); open and
 * close swap the queue under its write side. fd, path and to_stdout belong to the writer
 * thread while it runs, to open/close when it does not. */
static pthread_rwlock_t life = PTHREAD_RWLOCK_INITIALIZER;
static pt_spool *spool;
static size_t queue_cap = DEFAULT_QUEUE_CAP;
/* Unlocked first check in pt_accesslog_write so a disabled log costs one load. */
static _Atomic bool enabled;
/* A reopen that found the queue full: done before the writer's next batch instead. */
static _Atomic bool reopen_late;

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

/* Each thread formats into its own reusable buffer, freed when the thread exits (the key's
 * destructor); a thread-local pointer finds it without a call into the thread library. */
static _Thread_local pt_buf *thread_line_buf;

static void line_buf_free(void *p)
{
    pt_buf_release(p);
    free(p);
    thread_line_buf = NULL; /* the destructor runs on the exiting thread itself */
}

static void line_key_create(void) { pthread_key_create(&line_key, line_buf_free); }

static pt_buf *line_buf(void)
{
    pt_buf *b = thread_line_buf;
    if (b) return b;
    pthread_once(&line_key_once, line_key_create);
    b = malloc(sizeof *b);
    if (!b) return NULL;
    pt_buf_init(b, 0); /* format_record enforces MAX_LINE */
    if (pthread_setspecific(line_key, b) != 0) {
        free(b);
        return NULL;
    }
    return thread_line_buf = b;
}

/* A line is written straight into room reserved for the longest line its record can make
 * (every value escaped six-fold), so no piece checks for room or fails on its own. */
static char *lit(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}
#define LIT(w, s) lit((w), (s), sizeof(s) - 1)
/* The keys are our own literals, written with their separators: ,"key": */
#define KEY(w, key) LIT((w), ",\"" key "\":")

typedef struct text {
    const char *s; /* NULL: written as null */
    size_t n;
} text;

static text cstr(const char *s) { return (text){ s, s ? strlen(s) : 0 }; }
static text slice(pt_slice s) { return (text){ s.ptr, s.ptr ? s.len : 0 }; }

/* The value of a string member: "escaped" or null. */
static char *str_value(char *w, text t)
{
    if (!t.s) return LIT(w, "null");
    *w++ = '"';
    w = pt_json_escape_to(w, t.s, t.n);
    *w++ = '"';
    return w;
}

/* A value written as it is, for text the gateway formats itself from numbers. */
static char *raw_value(char *w, text t)
{
    if (!t.s) return LIT(w, "null");
    *w++ = '"';
    w = lit(w, t.s, t.n);
    *w++ = '"';
    return w;
}

/* Microseconds as milliseconds with exactly three decimals, from integers (no rounding). */
static char *ms_value(char *w, uint64_t us)
{
    uint64_t whole = us / 1000u;
    w = pt_u64_to(w, whole);
    *w++ = '.';
    return pt_digits3_to(w, (unsigned)(us - whole * 1000u));
}

/* An HTTP status has three digits; anything else (0: no answer) goes the general way. */
static char *status_value(char *w, int status)
{
    if (status >= 100 && status <= 999) return pt_digits3_to(w, (unsigned)status);
    if (status < 0) *w++ = '-';
    return pt_u64_to(w, (uint64_t)(status < 0 ? -(int64_t)status : status));
}

/* Room for everything in a line but the string values: keys, separators, numbers, the time. */
#define LINE_FIXED_ROOM 1024

static int format_record(pt_buf *b, const pt_access_record *r)
{
    text id = cstr(r->request_id), client = slice(r->client), method = slice(r->method), path_ = slice(r->path),
         route = cstr(r->route), service = cstr(r->service), target = cstr(r->target), consumer = cstr(r->consumer),
         team = cstr(r->team), key_prefix = cstr(r->key_prefix), trace = cstr(r->trace_id), span = cstr(r->span_id),
         error = cstr(r->outcome == PT_OUT_OK ? NULL : pt_outcome_log_name(r->outcome)), extra = cstr(r->extra_json),
         protocol = cstr(r->protocol);
    size_t escaped = id.n + client.n + method.n + path_.n + route.n + service.n + target.n + consumer.n + team.n +
                     key_prefix.n + trace.n + span.n + error.n + protocol.n;
    int rc = pt_buf_reserve(b, LINE_FIXED_ROOM + 6 * escaped + extra.n);
    if (rc) return rc;

    char *w = b->data + b->len;
    w = LIT(w, "{\"time\":\"");
    w += pt_wall_iso8601(w, 40); /* LINE_FIXED_ROOM has room for it */
    *w++ = '"';
    w = str_value(KEY(w, "request_id"), id);
    w = raw_value(KEY(w, "client"), client);
    w = str_value(KEY(w, "method"), method);
    w = str_value(KEY(w, "path"), path_);
    if (protocol.s) w = str_value(KEY(w, "protocol"), protocol);
    w = str_value(KEY(w, "route"), route);
    w = str_value(KEY(w, "service"), service);
    w = str_value(KEY(w, "target"), target);
    if (consumer.s) w = str_value(KEY(w, "consumer"), consumer);
    if (team.s) w = str_value(KEY(w, "team"), team);
    if (key_prefix.s) w = str_value(KEY(w, "key_prefix"), key_prefix);
    if (trace.s) w = str_value(KEY(w, "trace_id"), trace);
    if (span.s) w = str_value(KEY(w, "span_id"), span);
    w = status_value(KEY(w, "status"), r->status);
    if (r->grpc) w = pt_u64_to(KEY(w, "grpc_status"), (uint64_t)r->grpc_status);
    w = pt_u64_to(KEY(w, "bytes_in"), r->bytes_in);
    w = pt_u64_to(KEY(w, "bytes_out"), r->bytes_out);
    w = KEY(w, "upstream_ms");
    w = r->upstream_us ? ms_value(w, r->upstream_us) : LIT(w, "null");
    w = ms_value(KEY(w, "total_ms"), r->total_us);
    w = str_value(KEY(w, "error"), error);
    if (extra.n) {
        *w++ = ',';
        w = lit(w, extra.s, extra.n);
    }
    w = LIT(w, "}\n");
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return b->len > MAX_LINE ? PT_ETOOBIG : 0;
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
        pthread_rwlock_rdlock(&life);
        rc = spool ? pt_spool_push(spool, b->data, b->len) : PT_ECANCELED;
        pthread_rwlock_unlock(&life);
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

/* The spool's writer thread: n bytes of whole lines, with a NUL where a reopen was asked. */
static void on_batch(void *arg, const char *p, size_t n)
{
    (void)arg;
    if (atomic_exchange(&reopen_late, false)) reopen_file();
    const char *end = p + n, *mark;
    while (p < end && (mark = memchr(p, '\0', (size_t)(end - p)))) {
        write_batch(p, (size_t)(mark - p)); /* lines queued before the reopen: the old file */
        reopen_file();
        p = mark + 1;
    }
    write_batch(p, (size_t)(end - p));
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void release_files(void)
{
    if (fd >= 0 && !to_stdout) close(fd);
    fd = -1;
    to_stdout = false;
    free(path);
    path = NULL;
}

int pt_accesslog_open(const char *dest, pt_buf *err)
{
    pt_accesslog_close();
    if (!dest || strcmp(dest, "off") == 0) return 0;

    if (strcmp(dest, "-") == 0) {
        fd = STDOUT_FILENO;
        to_stdout = true;
    } else {
        path = strdup(dest);
        if (!path) goto oom;
        fd = open_path(dest);
        if (fd < 0) {
            if (err) pt_buf_printf(err, "access_log: cannot open %s: %s", dest, strerror(errno));
            release_files();
            return PT_EIO;
        }
    }
    pthread_rwlock_wrlock(&life);
    pt_spool_opts o = { .cap = queue_cap, .flush_bytes = FLUSH_BYTES, .flush_ms = FLUSH_MS, .name = "accesslog",
                        .fn = on_batch };
    spool = pt_spool_new(&o);
    pthread_rwlock_unlock(&life);
    if (!spool) goto oom;
    atomic_store_explicit(&enabled, true, memory_order_release);
    return 0;

oom:
    if (err) pt_buf_printf(err, "access_log: out of memory or threads starting the writer for %s", dest);
    release_files();
    return PT_ENOMEM;
}

void pt_accesslog_reopen(void)
{
    pthread_rwlock_rdlock(&life);
    if (spool && pt_spool_push(spool, "", 1) != 0) atomic_store(&reopen_late, true);
    pthread_rwlock_unlock(&life);
}

void pt_accesslog_close(void)
{
    atomic_store_explicit(&enabled, false, memory_order_release);
    pthread_rwlock_wrlock(&life);
    pt_spool *s = spool;
    spool = NULL;
    pthread_rwlock_unlock(&life);
    if (!s) return;
    pt_spool_free(s); /* writes every line queued before, then joins the writer */
    atomic_store(&reopen_late, false);
    release_files();
}

void pt__accesslog_set_queue_cap(size_t bytes) { queue_cap = bytes; }
