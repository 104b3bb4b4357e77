/* Unit tests for gateway/accesslog.c: the exact line format, JSON escaping, every line
 * from concurrent writers arriving once, the bounded queue dropping and counting,
 * rotation by reopen, and the disabled and failing opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "gateway/accesslog.h"
#include "gateway/metrics.h"

/* ---- helpers ----------------------------------------------------------------------- */

static char tmpdir[256];

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/portico-accesslog-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) return -1;
    atomic_store(&pt_metrics_global.accesslog_dropped, 0);
    pt__accesslog_set_queue_cap((size_t)4 << 20);
    return 0;
}

static int teardown(void **state)
{
    pt_accesslog_close();
    static const char *names[] = { "access.log", "access.log.1", "fifo" };
    char p[320];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    pt_buf b = PT_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) assert_int_equal(pt_buf_append(&b, chunk, n), 0);
    fclose(f);
    return pt_buf_detach(&b, len);
}

/* Splits text into lines (in place); every line must end with '\n'. Returns the count. */
static size_t split_lines(char *text, size_t len, char ***lines)
{
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    assert_non_null(v);
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) fail_msg("last line has no newline: %s", p);
        *nl = '\0';
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        v[n++] = p;
        p = nl + 1;
    }
    *lines = v;
    return n;
}

static json_t *parse(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!j) fail_msg("not JSON (%s): %s", e.text, line);
    assert_true(json_is_object(j));
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static pt_access_record sample_record(void)
{
    pt_access_record r;
    memset(&r, 0, sizeof r);
    r.request_id = "r1";
    r.method = PT_SLICE_LIT("GET");
    r.path = PT_SLICE_LIT("/v1/x");
    r.route = "api";
    r.service = "echo";
    r.target = "http://127.0.0.1:9001";
    r.status = 200;
    r.bytes_in = 12;
    r.bytes_out = 512;
    r.upstream_us = 1234;
    r.total_us = 2005;
    r.client = PT_SLICE_LIT("127.0.0.1:5555");
    return r;
}

static void open_file(const char *name)
{
    char p[320];
    path_of(p, sizeof p, name);
    pt_buf err = PT_BUF_INIT;
    int rc = pt_accesslog_open(p, &err);
    if (rc) fail_msg("open: %s", err.data ? err.data : "?");
    pt_buf_release(&err);
}

/* Reads name into lines; caller frees *text and *lines. */
static size_t read_lines(const char *name, char **text, char ***lines)
{
    char p[320];
    path_of(p, sizeof p, name);
    size_t len;
    *text = slurp(p, &len);
    return split_lines(*text, len, lines);
}

/* The file holds exactly n lines, with these request ids in this order. */
static void assert_request_ids(const char *name, const char *const *ids, size_t n)
{
    char *text, **lines;
    assert_int_equal(read_lines(name, &text, &lines), n);
    for (size_t i = 0; i < n; i++) {
        json_t *j = parse(lines[i]);
        assert_string_equal(jstr(j, "request_id"), ids[i]);
        json_decref(j);
    }
    free(lines);
    free(text);
}

/* ---- tests --------------------------------------------------------------------------- */

static void line_has_exact_members_in_order(void **state)
{
    open_file("access.log");
    pt_access_record r = sample_record();
    pt_accesslog_write(&r);
    pt_accesslog_close();

    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 1);
    const char *l = lines[0];
    /* {"time":"2026-11-27T17:25:10.123Z", then everything else is fixed. */
    assert_memory_equal(l, "{\"time\":\"", 9);
    assert_int_equal(strlen(l) > 9 + 24, 1);
    const char *ts = l + 9;
    for (int i = 0; i < 24; i++) {
        char c = ts[i];
        int ok = (i == 4 || i == 7) ? c == '-' : i == 10 ? c == 'T' : (i == 13 || i == 16) ? c == ':'
                 : i == 19 ? c == '.' : i == 23 ? c == 'Z' : (c >= '0' && c <= '9');
        if (!ok) fail_msg("bad time at %d: %.24s", i, ts);
    }
    assert_string_equal(ts + 24,
                        "\",\"request_id\":\"r1\",\"client\":\"127.0.0.1:5555\",\"method\":\"GET\","
                        "\"path\":\"/v1/x\",\"route\":\"api\",\"service\":\"echo\","
                        "\"target\":\"http://127.0.0.1:9001\",\"status\":200,\"bytes_in\":12,"
                        "\"bytes_out\":512,\"upstream_ms\":1.234,\"total_ms\":2.005,\"error\":null}");
    json_decref(parse(l));
    free(lines);
    free(text);
}

static void missing_values_are_null_and_extra_members_verbatim(void **state)
{
    open_file("access.log");
    pt_access_record r;
    memset(&r, 0, sizeof r);
    r.method = PT_SLICE_LIT("POST");
    r.path = PT_SLICE_LIT("/nowhere");
    r.status = 404;
    r.total_us = 7;
    r.outcome = PT_OUT_ROUTE_NOT_FOUND;
    r.extra_json = "\"usage\":{\"input_tokens\":3,\"output_tokens\":5}";
    pt_accesslog_write(&r);
    pt_accesslog_close();

    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 1);
    json_t *j = parse(lines[0]);
    const char *nulls[] = { "request_id", "client", "route", "service", "target", "upstream_ms" };
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (!json_is_null(json_object_get(j, nulls[i]))) fail_msg("%s is not null", nulls[i]);
    assert_string_equal(jstr(j, "error"), "route_not_found");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_non_null(strstr(lines[0], "\"total_ms\":0.007,"));
    json_t *usage = json_object_get(j, "usage");
    assert_true(json_is_object(usage));
    assert_int_equal(json_integer_value(json_object_get(usage, "output_tokens")), 5);
    json_decref(j);
    free(lines);
    free(text);
}

static void a_traced_request_has_its_trace_and_span_ids(void **state)
{
    open_file("access.log");
    pt_access_record r = sample_record();
    r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    r.span_id = "00f067aa0ba902b7";
    pt_accesslog_write(&r);
    pt_accesslog_close();
    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 1);
    assert_non_null(strstr(lines[0], "\"target\":\"http://127.0.0.1:9001\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                                     "\"span_id\":\"00f067aa0ba902b7\",\"status\":200"));
    json_decref(parse(lines[0]));
    free(lines);
    free(text);
}

static void a_grpc_call_has_its_grpc_status_after_the_status(void **state)
{
    open_file("access.log");
    pt_access_record r = sample_record();
    r.grpc = true;
    r.grpc_status = 14;
    pt_accesslog_write(&r);
    r.grpc_status = 0; /* OK is written too: grpc says whether a status came */
    pt_accesslog_write(&r);
    r.grpc = false;
    pt_accesslog_write(&r);
    pt_accesslog_close();
    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 3);
    assert_non_null(strstr(lines[0], "\"status\":200,\"grpc_status\":14,\"bytes_in\":12"));
    assert_non_null(strstr(lines[1], "\"status\":200,\"grpc_status\":0,\"bytes_in\":12"));
    assert_null(strstr(lines[2], "grpc_status"));
    free(lines);
    free(text);
}

static void odd_request_ids_and_paths_are_escaped(void **state)
{
    static const char *ids[] = {
        "quote\"back\\slash", "new\nline\ttab\rcr", "ctl\x01\x1f end", "utf8 caf\xc3\xa9 \xe2\x9c\x93", "}{\"x\":1",
    };
    static const char path_bytes[] = "/a b/\"q\"/\\/\x7f/\x02";
    open_file("access.log");
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        pt_access_record r = sample_record();
        r.request_id = ids[i];
        r.path = pt_slice_from(path_bytes, sizeof path_bytes - 1);
        pt_accesslog_write(&r);
    }
    pt_accesslog_close();

    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), sizeof ids / sizeof ids[0]);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_t *j = parse(lines[i]);
        assert_string_equal(jstr(j, "request_id"), ids[i]);
        json_t *p = json_object_get(j, "path");
        assert_int_equal(json_string_length(p), sizeof path_bytes - 1);
        assert_memory_equal(json_string_value(p), path_bytes, sizeof path_bytes - 1);
        json_decref(j);
    }
    free(lines);
    free(text);
}

/* Every string member that can carry text from a request or the configuration is escaped:
 * a value full of quotes, backslashes and control bytes comes back intact from the JSON. */
static void every_string_member_is_escaped(void **state)
{
    static const char evil[] = "e\"v\\i\x01l\n}{\"x\":\x1f";
    static const char *keys[] = { "request_id", "method", "path",     "protocol", "route",   "service",
                                  "target",     "consumer", "team", "key_prefix", "trace_id", "span_id" };
    open_file("access.log");
    pt_access_record r = sample_record();
    r.request_id = r.route = r.service = r.target = r.consumer = r.team = r.key_prefix = r.trace_id = r.span_id =
        r.protocol = evil;
    r.method = r.path = pt_slice_from(evil, sizeof evil - 1);
    pt_accesslog_write(&r);
    pt_accesslog_close();
    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 1);
    json_t *j = parse(lines[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(jstr(j, keys[i]), evil) != 0) fail_msg("%s did not come back intact", keys[i]);
    assert_string_equal(jstr(j, "client"), "127.0.0.1:5555");
    json_decref(j);
    free(lines);
    free(text);
}

/* Microseconds become milliseconds with exactly three decimals, at every digit's edge. */
static void durations_have_three_decimals(void **state)
{
    static const struct {
        uint64_t us;
        const char *ms;
    } cases[] = { { 0, "0.000" },          { 1, "0.001" },           { 10, "0.010" },
                  { 999, "0.999" },        { 1000, "1.000" },        { 1001, "1.001" },
                  { 109090, "109.090" },   { 123456789012, "123456789.012" },
                  { UINT64_MAX, "18446744073709551.615" } };
    open_file("access.log");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pt_access_record r = sample_record();
        r.total_us = cases[i].us;
        pt_accesslog_write(&r);
    }
    pt_accesslog_close();
    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"total_ms\":%s,", cases[i].ms);
        if (!strstr(lines[i], want)) fail_msg("%s not in %s", want, lines[i]);
    }
    free(lines);
    free(text);
}

/* Three-digit statuses take a short path; the rest (0: no answer) the general one. */
static void statuses_are_written_exactly(void **state)
{
    static const int statuses[] = { 0, 7, 99, 100, 101, 200, 404, 599, 999, 1000, 65535, -1, -250 };
    const size_t n = sizeof statuses / sizeof statuses[0];
    open_file("access.log");
    for (size_t i = 0; i < n; i++) {
        pt_access_record r = sample_record();
        r.status = statuses[i];
        pt_accesslog_write(&r);
    }
    pt_accesslog_close();
    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), n);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"status\":%d,\"bytes_in\":", statuses[i]);
        if (!strstr(lines[i], want)) fail_msg("%s not in %s", want, lines[i]);
    }
    free(lines);
    free(text);
}

#define W_THREADS 4
#define W_EACH 5000

static void *writer_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char id[32], path[48];
    for (int i = 0; i < W_EACH; i++) {
        pt_access_record r = sample_record();
        snprintf(id, sizeof id, "t%d-%d", t, i);
        snprintf(path, sizeof path, "/v1/thread/%d/%d", t, i);
        r.request_id = id;
        r.path = pt_slice_cstr(path);
        r.status = 200 + t;
        r.bytes_in = (uint64_t)i;
        r.bytes_out = (uint64_t)i * 2;
        r.upstream_us = (uint64_t)i + 1;
        r.total_us = (uint64_t)i * 1000 + 999;
        pt_accesslog_write(&r);
    }
    return NULL;
}

static void every_line_from_concurrent_writers_arrives_once(void **state)
{
    /* A queue that holds every line of the test: what is checked here is that none is lost,
     * doubled or reordered on its way; dropping when the writer lags behind a full queue is
     * by design and has its own test (a 4 MiB queue overflowed when the machine was busy). */
    pt__accesslog_set_queue_cap((size_t)64 << 20);
    open_file("access.log");
    pthread_t th[W_THREADS];
    for (int t = 0; t < W_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, writer_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < W_THREADS; t++) pthread_join(th[t], NULL);
    pt_accesslog_close();
    assert_int_equal(atomic_load(&pt_metrics_global.accesslog_dropped), 0);

    char *text, **lines;
    size_t n = read_lines("access.log", &text, &lines);
    assert_int_equal(n, W_THREADS * W_EACH);
    int next[W_THREADS] = { 0 }; /* lines of one thread keep that thread's order */
    for (size_t k = 0; k < n; k++) {
        json_t *j = parse(lines[k]);
        int t, i;
        if (sscanf(jstr(j, "request_id"), "t%d-%d", &t, &i) != 2 || t < 0 || t >= W_THREADS)
            fail_msg("unexpected request_id in: %s", lines[k]);
        assert_int_equal(i, next[t]);
        next[t]++;
        char path[48];
        snprintf(path, sizeof path, "/v1/thread/%d/%d", t, i);
        assert_string_equal(jstr(j, "path"), path);
        assert_string_equal(jstr(j, "method"), "GET");
        assert_string_equal(jstr(j, "route"), "api");
        assert_string_equal(jstr(j, "service"), "echo");
        assert_string_equal(jstr(j, "target"), "http://127.0.0.1:9001");
        assert_string_equal(jstr(j, "client"), "127.0.0.1:5555");
        assert_int_equal(json_integer_value(json_object_get(j, "status")), 200 + t);
        assert_int_equal(json_integer_value(json_object_get(j, "bytes_in")), i);
        assert_int_equal(json_integer_value(json_object_get(j, "bytes_out")), 2 * i);
        assert_true(json_is_null(json_object_get(j, "error")));
        char want[64];
        snprintf(want, sizeof want, "\"upstream_ms\":%d.%03d,\"total_ms\":%d.999,", (i + 1) / 1000, (i + 1) % 1000, i);
        if (!strstr(lines[k], want)) fail_msg("want %s in: %s", want, lines[k]);
        json_decref(j);
    }
    for (int t = 0; t < W_THREADS; t++) assert_int_equal(next[t], W_EACH);
    free(lines);
    free(text);
}

static void queue_smaller_than_a_line_drops_and_counts_every_line(void **state)
{
    pt__accesslog_set_queue_cap(16);
    open_file("access.log");
    pt_access_record r = sample_record();
    for (int i = 0; i < 25; i++) pt_accesslog_write(&r);
    pt_accesslog_close();
    assert_int_equal(atomic_load(&pt_metrics_global.accesslog_dropped), 25);
    char p[320];
    path_of(p, sizeof p, "access.log");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
}

/* Drains a FIFO until the writer closes it; at most 30 s without data. */
typedef struct fifo_reader {
    int fd;
    pt_buf got;
    int timed_out;
} fifo_reader;

static void *fifo_drain(void *arg)
{
    fifo_reader *fr = arg;
    char chunk[8192];
    for (;;) {
        struct pollfd p = { .fd = fr->fd, .events = POLLIN };
        int pr = poll(&p, 1, 30000);
        if (pr == 0) { fr->timed_out = 1; break; }
        if (pr < 0 && errno == EINTR) continue;
        ssize_t n = read(fr->fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        if (pt_buf_append(&fr->got, chunk, (size_t)n) != 0) break;
    }
    return NULL;
}

/* The writer is stuck on a reader that does not read: workers must not wait, lines
 * beyond the queue are dropped and counted, and written + dropped is exactly what was
 * sent. */
static void stalled_disk_drops_instead_of_blocking_writers(void **state)
{
    char p[320];
    path_of(p, sizeof p, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    fifo_reader fr = { .fd = open(p, O_RDONLY | O_NONBLOCK) };
    assert_true(fr.fd >= 0);
    pt_buf_init(&fr.got, 0);
    pt__accesslog_set_queue_cap(4096);
    open_file("fifo");

    enum { SENT = 3000 }; /* ~700 KB of lines: far beyond a pipe (64 KiB) plus two 4 KiB queues */
    pt_access_record r = sample_record();
    for (int i = 0; i < SENT; i++) pt_accesslog_write(&r);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fifo_drain, &fr), 0);
    pt_accesslog_close();
    pthread_join(th, NULL);
    close(fr.fd);
    assert_false(fr.timed_out);

    size_t written = 0;
    for (size_t i = 0; i < fr.got.len; i++) written += fr.got.data[i] == '\n';
    uint64_t dropped = atomic_load(&pt_metrics_global.accesslog_dropped);
    assert_true(dropped > 0);
    assert_int_equal(written + dropped, SENT);
    pt_buf_release(&fr.got);
}

static void reopen_after_rename_starts_a_new_file(void **state)
{
    mode_t old_mask = umask(022);
    open_file("access.log");
    pt_access_record r = sample_record();
    const char *before[] = { "a1", "a2", "a3" }, *after[] = { "b1", "b2" };
    for (int i = 0; i < 3; i++) {
        r.request_id = before[i];
        pt_accesslog_write(&r);
    }
    char cur[320], old[320];
    path_of(cur, sizeof cur, "access.log");
    path_of(old, sizeof old, "access.log.1");
    assert_int_equal(rename(cur, old), 0);
    pt_accesslog_reopen();
    for (int i = 0; i < 2; i++) {
        r.request_id = after[i];
        pt_accesslog_write(&r);
    }
    pt_accesslog_close();

    assert_request_ids("access.log.1", before, 3);
    assert_request_ids("access.log", after, 2);
    struct stat st;
    assert_int_equal(stat(cur, &st), 0);
    umask(old_mask);
    assert_int_equal(st.st_mode & 0777, 0640);
}

static void stdout_destination_writes_to_fd_1(void **state)
{
    char p[320];
    path_of(p, sizeof p, "access.log");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && f >= 0);
    dup2(f, STDOUT_FILENO);
    close(f);
    pt_buf err = PT_BUF_INIT;
    int rc = pt_accesslog_open("-", &err);
    pt_access_record r = sample_record();
    r.request_id = "to-stdout";
    if (rc == 0) pt_accesslog_write(&r);
    pt_accesslog_close();
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(rc, 0);
    pt_buf_release(&err);

    char *text, **lines;
    assert_int_equal(read_lines("access.log", &text, &lines), 1);
    json_t *j = parse(lines[0]);
    assert_string_equal(jstr(j, "request_id"), "to-stdout");
    json_decref(j);
    free(lines);
    free(text);
}

static void off_and_null_disable_the_log(void **state)
{
    assert_int_equal(pt_accesslog_open("off", NULL), 0);
    pt_access_record r = sample_record();
    pt_accesslog_write(&r);
    assert_int_equal(pt_accesslog_open(NULL, NULL), 0);
    pt_accesslog_write(&r);
    pt_accesslog_reopen();
    pt_accesslog_close();
    assert_int_equal(atomic_load(&pt_metrics_global.accesslog_dropped), 0);
}

static void unwritable_path_is_a_clear_error(void **state)
{
    char p[320];
    path_of(p, sizeof p, "no-such-dir/access.log");
    pt_buf err = PT_BUF_INIT;
    assert_int_equal(pt_accesslog_open(p, &err), PT_EIO);
    assert_non_null(err.data);
    assert_non_null(strstr(err.data, "access_log: cannot open "));
    assert_non_null(strstr(err.data, "no-such-dir/access.log"));
    pt_buf_release(&err);
    /* Still disabled: writing is a no-op, not a crash. */
    pt_access_record r = sample_record();
    pt_accesslog_write(&r);
    pt_accesslog_close();
}

static void open_twice_flushes_the_first_file(void **state)
{
    open_file("access.log");
    pt_access_record r = sample_record();
    r.request_id = "first";
    pt_accesslog_write(&r);
    open_file("access.log.1");
    r.request_id = "second";
    pt_accesslog_write(&r);
    pt_accesslog_close();

    assert_request_ids("access.log", (const char *[]){ "first" }, 1);
    assert_request_ids("access.log.1", (const char *[]){ "second" }, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(line_has_exact_members_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_values_are_null_and_extra_members_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(a_traced_request_has_its_trace_and_span_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(a_grpc_call_has_its_grpc_status_after_the_status, setup, teardown),
        cmocka_unit_test_setup_teardown(odd_request_ids_and_paths_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(every_string_member_is_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(durations_have_three_decimals, setup, teardown),
        cmocka_unit_test_setup_teardown(statuses_are_written_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(every_line_from_concurrent_writers_arrives_once, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_smaller_than_a_line_drops_and_counts_every_line, setup, teardown),
        cmocka_unit_test_setup_teardown(stalled_disk_drops_instead_of_blocking_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_after_rename_starts_a_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(stdout_destination_writes_to_fd_1, setup, teardown),
        cmocka_unit_test_setup_teardown(off_and_null_disable_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_path_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(open_twice_flushes_the_first_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
