/* check_protocol.c: the doctor's "protocol" check: what really answers on the port. A passive
 * read first (servers that speak first: SSH, SMTP, MySQL, an h2c SETTINGS frame), then active
 * probes on fresh connections (HTTP/1.1, TLS ClientHello, h2c preface, Redis PING, PostgreSQL
 * SSLRequest) until one is recognised. Names a plain-HTTP URL on a TLS port, a TLS URL on a
 * plain port, an h2c-only server and a port that does not speak HTTP at all.
 * An HTTP request left unanswered keeps its connection open while the other probes run and is
 * then waited on a little longer, so a slow handler is not called hung; whether the server read
 * what each silent probe sent (its receive queue) tells a stuck process from one waiting for more.
 * Facts written: "protocol", "banner", "silent_ms" (how long an HTTP request went unanswered on
 * an open connection) when nothing answered, and "http_request" (doctor.h) when the HTTP
 * request was not answered within the timeout. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "doctor/check.h"
#include "doctor/listeners.h"
#include "doctor/probe_fp.h"
#include "doctor/probe_net.h"
#include "doctor/probe_tls.h"

#define PASSIVE_MS 300u   /* servers that speak first do so at once */
#define SHORT_MS 300u     /* wait per probe once the service has proven silent */
#define IDLE_MS 40u       /* after the first bytes, how long to wait for more */
#define REPLY_MAX 4096
/* A silent HTTP request's connection stays open while the other probes run, and is waited on
 * until LATE_PCT percent of the timeout after this check started (the request goes out after the
 * passive wait): a slow handler (2 s with the default 1 s) is told apart from a hung one, and the
 * whole run stays within 3 s. */
#define LATE_PCT 240u

typedef struct probe_run {
    pt_dr_ctx *ctx;
    const char *addr;
    long port;
    json_t *steps;
    pt_dr_fp fp;           /* the recognised answer, kind NONE until one is found */
    pt_dr_probe_kind by;   /* which probe got it */
    char unknown[160];     /* bytes that matched nothing, kept for the report */
    int silent, closed, reset, answered;
    int active_silent;       /* silent probes that sent something (a passive wait is normal for HTTP) */
    double silent_ms;
    bool http_tried;                 /* the HTTP/1.1 probe ran ... */
    pt_dr_read_outcome http_outcome; /* ... with this outcome */
    pt_dr_conn parked;               /* the HTTP probe's connection while its answer is late; fd < 0: none */
    uint64_t parked_at_ms;           /* when its request was sent */
    uint64_t started_ms;             /* when this check started */
    long http_sent, http_unread;     /* the request's bytes, and those the server left unread (-1: unknown) */
    long unread_max;                 /* the most any silent active probe left unread (-1: unknown) */
    double http_answer_ms;           /* when the late answer came after the request; 0: none */
} probe_run;

static const char *probe_name(pt_dr_probe_kind k)
{
    switch (k) {
    case PT_DR_PROBE_PASSIVE: return "passive";
    case PT_DR_PROBE_HTTP: return "http1_request";
    case PT_DR_PROBE_TLS: return "tls_client_hello";
    case PT_DR_PROBE_H2C: return "h2c_preface";
    case PT_DR_PROBE_REDIS: return "redis_ping";
    case PT_DR_PROBE_PG: return "postgres_sslrequest";
    }
    return "?";
}

/* Builds the bytes a probe sends. */
static int payload(probe_run *pr, pt_dr_probe_kind k, pt_buf *out)
{
    const pt_dr_target *t = pr->ctx->target;
    char auth[300];
    switch (k) {
    case PT_DR_PROBE_PASSIVE: return 0;
    case PT_DR_PROBE_HTTP:
        pt__dr_authority(t->host, pr->port, auth, sizeof auth);
        return pt_buf_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: portico-doctor\r\nAccept: */*\r\n"
                             "Connection: close\r\n\r\n", t->path && *t->path ? t->path : "/", auth);
    case PT_DR_PROBE_TLS: return pt__dr_tls_client_hello(t->host, out);
    case PT_DR_PROBE_H2C: return pt_buf_append_slice(out, pt__dr_h2c_preface);
    case PT_DR_PROBE_REDIS: return pt_buf_append_str(out, "PING\r\n");
    case PT_DR_PROBE_PG: return pt_buf_append_slice(out, pt__dr_pg_sslrequest);
    }
    return PT_EINVAL;
}

/* Runs one probe on a fresh connection; records it in pr->steps. Returns the outcome. */
static pt_dr_read_outcome run_probe(probe_run *pr, pt_dr_probe_kind k, unsigned wait_ms, pt_dr_fp *fp)
{
    pt_dr_conn c;
    pt_buf send = PT_BUF_INIT, reply;
    pt_buf_init(&reply, REPLY_MAX);
    char err[200] = "";
    json_t *step = json_object();
    pt_dr_read_outcome o = PT_DR_RD_ERROR;
    memset(fp, 0, sizeof *fp);
    json_object_set_new(step, "probe", json_string(probe_name(k)));
    uint64_t dl = pt__dr_deadline(pr->ctx->opts->timeout_ms);
    if (pt__dr_conn_open(&c, pr->addr, pr->port, false, NULL, dl, err, sizeof err) != 0) {
        json_object_set_new(step, "error", json_string(err));
        goto done;
    }
    if (payload(pr, k, &send) != 0 ||
        (send.len && pt__dr_conn_write(&c, pt_buf_slice(&send), dl) != 0)) {
        json_object_set_new(step, "error", json_string("sending the probe failed"));
        pt__dr_conn_close(&c);
        goto done;
    }
    uint64_t t0 = pt_now_us();
    o = pt__dr_read_reply(&c, &reply, REPLY_MAX, pt__dr_deadline(wait_ms), IDLE_MS);
    double ms = pt_dr_ms_since(t0);
    if (o == PT_DR_RD_SILENT && k != PT_DR_PROBE_PASSIVE) {
        /* Did the server read what was sent? A server waiting for more of its own protocol did;
         * one whose thread or event loop is stuck did not. */
        long unread = pt_dr_peer_unread(c.fd);
        json_object_set_new(step, "unread_bytes", unread < 0 ? json_null() : json_integer(unread));
        if (unread < 0 || pr->unread_max < 0) pr->unread_max = -1;
        else if (unread > pr->unread_max) pr->unread_max = unread;
        if (k == PT_DR_PROBE_HTTP) {
            pr->http_sent = (long)send.len;
            pr->http_unread = unread;
        }
    }
    if (o == PT_DR_RD_SILENT && k == PT_DR_PROBE_HTTP && pr->parked.fd < 0) {
        pr->parked = c;
        pr->parked_at_ms = t0 / 1000;
    } else {
        pt__dr_conn_close(&c);
    }
    pt__dr_fp_classify(pt_buf_slice(&reply), k, fp);
    json_object_set_new(step, "outcome", json_string(pt__dr_read_outcome_name(o)));
    json_object_set_new(step, "ms", json_real(ms));
    if (reply.len) {
        char ex[200];
        pt__dr_fp_printable(pt_slice_from(reply.data, reply.len > 64 ? 64 : reply.len), ex, sizeof ex);
        json_object_set_new(step, "bytes", json_string(ex));
        json_object_set_new(step, "byte_count", json_integer((json_int_t)reply.len));
        json_object_set_new(step, "match", json_string(pt__dr_fp_name(fp->kind)));
        json_object_set_new(step, "detail", json_string(fp->detail));
    }
    if (k == PT_DR_PROBE_HTTP) {
        pr->http_tried = true;
        pr->http_outcome = o;
    }
    if (o == PT_DR_RD_SILENT) {
        pr->silent++;
        if (k != PT_DR_PROBE_PASSIVE) pr->active_silent++;
        if (k == PT_DR_PROBE_HTTP) pr->silent_ms = ms;
    } else if (o == PT_DR_RD_EOF) {
        pr->closed++;
    } else if (o == PT_DR_RD_RESET) {
        pr->reset++;
    } else if (o == PT_DR_RD_DATA) {
        pr->answered++;
    }
done:
    json_array_append_new(pr->steps, step);
    pt_buf_release(&send);
    pt_buf_release(&reply);
    return o;
}

/* Notes a reply: a recognised one ends the search (returns true). An HTTP answer that says
 * "plain HTTP was sent to an HTTPS port" counts as TLS. */
static bool take(probe_run *pr, pt_dr_probe_kind k, const pt_dr_fp *fp)
{
    if (fp->kind == PT_DR_FP_NONE) return false;
    if (fp->kind == PT_DR_FP_UNKNOWN) {
        if (!pr->unknown[0]) snprintf(pr->unknown, sizeof pr->unknown, "%s", fp->detail);
        return false;
    }
    pr->fp = *fp;
    pr->by = k;
    if (fp->kind == PT_DR_FP_HTTP1 && fp->https_hint) {
        pr->fp.kind = PT_DR_FP_TLS;
        snprintf(pr->fp.detail, sizeof pr->fp.detail, "%.100s (the server says this port expects TLS)",
                 fp->detail);
    }
    return true;
}

static void identify(probe_run *pr)
{
    const pt_dr_target *t = pr->ctx->target;
    unsigned timeout = pr->ctx->opts->timeout_ms;
    pt_dr_fp fp;
    pt_dr_read_outcome o = run_probe(pr, PT_DR_PROBE_PASSIVE, timeout < PASSIVE_MS ? timeout : PASSIVE_MS, &fp);
    if (o == PT_DR_RD_ERROR) return;
    if (take(pr, PT_DR_PROBE_PASSIVE, &fp)) return;
    /* Printers print whatever reaches 9100-9107: no active probes there (as nmap does). */
    if (pr->port >= 9100 && pr->port <= 9107) return;

    pt_dr_probe_kind order[5] = { PT_DR_PROBE_HTTP, PT_DR_PROBE_TLS, PT_DR_PROBE_H2C, PT_DR_PROBE_REDIS,
                                  PT_DR_PROBE_PG };
    if (t->tls) {
        order[0] = PT_DR_PROBE_TLS;
        order[1] = PT_DR_PROBE_HTTP;
    }
    int silent_active = 0;
    for (int i = 0; i < 5; i++) {
        /* A service that left one request unanswered gets short waits; after two silent
         * requests it is called silent (the unresponsive check explains why). */
        unsigned wait = silent_active ? (timeout < SHORT_MS ? timeout : SHORT_MS) : timeout;
        o = run_probe(pr, order[i], wait, &fp);
        if (o == PT_DR_RD_ERROR) return;
        if (take(pr, order[i], &fp)) return;
        if (o == PT_DR_RD_SILENT && ++silent_active >= 2) return;
    }
}

/* Waits on the HTTP probe's parked connection for a late answer. */
static void wait_late(probe_run *pr)
{
    if (pr->parked.fd < 0) return;
    pt_buf reply;
    pt_buf_init(&reply, REPLY_MAX);
    uint64_t end = pr->started_ms + (uint64_t)pr->ctx->opts->timeout_ms * LATE_PCT / 100;
    pt_dr_read_outcome o = pt__dr_read_reply(&pr->parked, &reply, REPLY_MAX, end, IDLE_MS);
    double ms = (double)(pt_now_us() / 1000 - pr->parked_at_ms);
    pt__dr_conn_close(&pr->parked);
    json_t *step = json_pack("{s:s,s:s,s:f}", "probe", "http1_request_late", "outcome", pt__dr_read_outcome_name(o),
                             "ms_after_request", ms);
    if (o == PT_DR_RD_DATA) {
        pt_dr_fp fp;
        pt__dr_fp_classify(pt_buf_slice(&reply), PT_DR_PROBE_HTTP, &fp);
        json_object_set_new(step, "match", json_string(pt__dr_fp_name(fp.kind)));
        json_object_set_new(step, "detail", json_string(fp.detail));
        pr->http_answer_ms = ms;
        pr->http_outcome = o;
        if (pr->fp.kind == PT_DR_FP_NONE) take(pr, PT_DR_PROBE_HTTP, &fp);
    } else {
        pr->silent_ms = ms;
    }
    json_array_append_new(pr->steps, step);
    pt_buf_release(&reply);
}

/* "http_request" fact, when the HTTP probe's request went unanswered within the timeout. */
static void write_http_request_fact(probe_run *pr, const char *how)
{
    if (!pr->http_sent) return;
    json_t *o = json_pack("{s:I,s:o,s:o,s:I}", "sent_bytes", (json_int_t)pr->http_sent, "unread_bytes",
                          pr->http_unread < 0 ? json_null() : json_integer(pr->http_unread), "answer_ms",
                          pr->http_answer_ms > 0 ? json_integer((json_int_t)pr->http_answer_ms) : json_null(),
                          "waited_ms", (json_int_t)(pr->http_answer_ms > 0 ? pr->http_answer_ms : pr->silent_ms));
    json_object_set_new(o, "every_probe_read", json_boolean(pr->unread_max == 0));
    if (pr->fp.kind != PT_DR_FP_NONE && pr->by != PT_DR_PROBE_HTTP) json_object_set_new(o, "other_answer", json_string(how));
    json_object_set_new(pr->ctx->facts, "http_request", o);
}

static void write_facts(probe_run *pr, const char *proto, const char *banner)
{
    json_object_set_new(pr->ctx->facts, "protocol", json_string(proto));
    if (banner && *banner) json_object_set_new(pr->ctx->facts, "banner", json_string(banner));
    if (pr->silent_ms > 0 && strcmp(proto, "silent") == 0)
        json_object_set_new(pr->ctx->facts, "silent_ms", json_integer((json_int_t)pr->silent_ms));
}

/* "https://localhost:8443/path" with the scheme swapped to what the port speaks. */
static void url_with_scheme(const pt_dr_target *t, long port, bool tls, char *out, size_t outsz)
{
    char auth[300];
    pt__dr_authority(t->host, port, auth, sizeof auth);
    bool mcp = t->scheme && strncmp(t->scheme, "mcp+", 4) == 0;
    snprintf(out, outsz, "%s%s://%s%s", mcp ? "mcp+" : "", tls ? "https" : "http", auth,
             t->path ? t->path : "/");
}

/* Who owns the port, from the listeners facts: "PID 123 (node server.js)", or "". */
static void owner_of(pt_dr_ctx *ctx, long port, char *out, size_t outsz)
{
    out[0] = '\0';
    json_t *l;
    size_t i;
    json_array_foreach(json_object_get(ctx->facts, "listeners"), i, l) {
        if (json_integer_value(json_object_get(l, "port")) != port) continue;
        json_t *pid = json_object_get(l, "pid");
        const char *cmd = json_string_value(json_object_get(l, "command"));
        if (json_is_integer(pid)) {
            snprintf(out, outsz, "PID %lld (%s)", (long long)json_integer_value(pid), cmd ? cmd : "?");
            return;
        }
    }
}

/* What the identifying probe saw, for the summary: "a TLS ClientHello got a ServerHello". */
static void how_found(const probe_run *pr, char *out, size_t outsz)
{
    static const char *sent[] = {
        [PT_DR_PROBE_PASSIVE] = "on connect the server sent", [PT_DR_PROBE_HTTP] = "an HTTP/1.1 request got",
        [PT_DR_PROBE_TLS] = "a TLS ClientHello got", [PT_DR_PROBE_H2C] = "the HTTP/2 preface got",
        [PT_DR_PROBE_REDIS] = "a Redis PING got", [PT_DR_PROBE_PG] = "a PostgreSQL SSLRequest got",
    };
    /* TLS and h2c details describe frames; the others are the server's own words, so quoted. */
    bool words = pr->fp.kind != PT_DR_FP_TLS && pr->fp.kind != PT_DR_FP_H2C;
    size_t n = (size_t)snprintf(out, outsz, words ? "%s \"%s\"" : "%s %s", sent[pr->by], pr->fp.detail);
    if (pr->by != PT_DR_PROBE_HTTP && pr->http_tried && n < outsz)
        snprintf(out + n, outsz - n, "; an HTTP/1.1 request got %s",
                 pr->http_answer_ms > 0               ? "an answer only late"
                 : pr->http_outcome == PT_DR_RD_EOF   ? "the connection closed without a byte"
                 : pr->http_outcome == PT_DR_RD_RESET ? "a reset"
                 : pr->http_outcome == PT_DR_RD_SILENT ? "no answer"
                                                       : "something unrecognised");
}

static void verdict(probe_run *pr, pt_dr_result *res)
{
    const pt_dr_target *t = pr->ctx->target;
    bool web = (t->mode & (PT_DR_MODE_HTTP | PT_DR_MODE_MCP)) != 0;
    pt_dr_fp_kind k = pr->fp.kind;
    char url[600], owner[300], how[400], ep[96];
    owner_of(pr->ctx, pr->port, owner, sizeof owner);
    pt__dr_authority(pr->addr, pr->port, ep, sizeof ep);
    how_found(pr, how, sizeof how);
    json_t *ev = pt__dr_evidence(res);

    if (k == PT_DR_FP_NONE) {
        bool aborts = pr->reset && !pr->closed && !pr->active_silent;
        const char *proto = pr->answered ? "unknown" : aborts ? "reset" : pr->silent ? "silent" : "closed";
        write_facts(pr, proto, pr->unknown);
        json_object_set_new(ev, "protocol", json_string(proto));
        if (pr->answered) {
            if (web) {
                pt_dr_set(res, PT_DR_FAIL, "protocol_not_http", 75,
                          "%s answers with bytes that are not HTTP: \"%s\"", ep, pr->unknown);
                pt_dr_remedy(res, "Another service owns this port%s%s; point the client at the port the HTTP "
                             "server listens on (ss -ltnp shows them).", owner[0] ? ": " : "", owner);
            } else {
                pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s answers with an unrecognised protocol: \"%s\"", ep,
                          pr->unknown);
            }
        } else if (aborts) {
            /* every request aborted: a reset, not a close (clients: "Connection reset by peer") */
            pt_dr_set(res, web ? PT_DR_FAIL : PT_DR_WARN, "reset_without_reply", web ? 80 : 45,
                      "%s accepts connections, then resets them (TCP RST) without a byte when a request "
                      "arrives, whatever is sent", ep);
            pt_dr_remedy(res, "Something accepts on the port and aborts every request: a server that crashes or "
                         "rejects each request as it arrives (its log says why), a proxy or load balancer with no "
                         "healthy backend, or a firewall rule rejecting with tcp-reset%s%s.",
                         owner[0] ? "; the listener is " : "", owner);
        } else if (pr->silent) {
            pt_dr_set(res, PT_DR_INFO, NULL, 0,
                      "%s accepts connections but answered none of %d probes (see unresponsive)", ep,
                      pr->silent + pr->closed + pr->reset);
        } else {
            /* a web client gets nothing it can use: curl "(52) Empty reply from server" */
            pt_dr_set(res, web ? PT_DR_FAIL : PT_DR_WARN, "closed_without_reply", web ? 80 : 45,
                      "%s accepts connections, then closes them without a byte, whatever is sent", ep);
            pt_dr_remedy(res, "Something accepts on the port but has nothing behind it: typically a port "
                         "forwarder (docker-proxy, kubectl port-forward, ssh -L) whose target is down or bound "
                         "to 127.0.0.1 inside its container, or a server that rejects this client address%s%s.",
                         owner[0] ? "; the listener is " : "", owner);
        }
        return;
    }

    write_facts(pr, pt__dr_fp_name(k), pr->fp.detail);
    json_object_set_new(ev, "protocol", json_string(pt__dr_fp_name(k)));
    json_object_set_new(ev, "detail", json_string(pr->fp.detail));
    json_object_set_new(ev, "identified_by", json_string(probe_name(pr->by)));

    if (!web) {
        pt_dr_set(res, k == PT_DR_FP_HTTP1 || k == PT_DR_FP_TLS ? PT_DR_PASS : PT_DR_INFO, NULL, 0,
                  "%s speaks %s: %s", ep, pt__dr_fp_label(k), how);
        return;
    }
    if (!t->tls && k == PT_DR_FP_TLS) {
        url_with_scheme(t, pr->port, true, url, sizeof url);
        pt_dr_set(res, PT_DR_FAIL, "plain_http_on_tls_port", 90,
                  "port %ld speaks TLS, but the URL asks for plain HTTP: %s", pr->port, how);
        pt_dr_remedy(res, "This port speaks TLS: use %s (for example: curl %s). Plain HTTP clients see an "
                     "empty reply (curl: \"(52) Empty reply from server\").", url, url);
        return;
    }
    if (t->tls && k != PT_DR_FP_TLS && (k == PT_DR_FP_HTTP1 || k == PT_DR_FP_H2C)) {
        url_with_scheme(t, pr->port, false, url, sizeof url);
        pt_dr_set(res, PT_DR_FAIL, "tls_on_plain_port", 90,
                  "port %ld speaks %s, not TLS, but the URL asks for TLS: %s", pr->port, pt__dr_fp_label(k), how);
        pt_dr_remedy(res, "This port speaks plain HTTP: use %s, or enable TLS on the server. TLS clients fail "
                     "with \"wrong version number\" (curl exit 35).", url);
        return;
    }
    if (k == PT_DR_FP_HTTP1 || k == PT_DR_FP_TLS) {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s speaks %s: %s", ep, pt__dr_fp_label(k), how);
        return;
    }
    if (k == PT_DR_FP_H2C) {
        url_with_scheme(t, pr->port, false, url, sizeof url);
        pt_dr_set(res, PT_DR_FAIL, "h2c_only", 85,
                  "port %ld speaks only HTTP/2 without TLS (prior knowledge), so HTTP/1.1 clients get no valid "
                  "answer: %s", pr->port, how);
        pt_dr_remedy(res, "Use an HTTP/2 prior-knowledge client (curl --http2-prior-knowledge %s), or make the "
                     "server accept HTTP/1.1 too (Node: http.createServer next to http2, or "
                     "http2.createSecureServer({allowHTTP1: true}) with TLS). curl without the flag reports "
                     "\"Received HTTP/0.9 when not allowed\".", url);
        return;
    }
    pt_dr_set(res, PT_DR_FAIL, "protocol_not_http", 85, "port %ld answers %s, not HTTP: %s", pr->port,
              pt__dr_fp_label(k), how);
    pt_dr_remedy(res, "Port %ld belongs to %s%s%s; the HTTP server is probably on another port (ss -ltnp lists "
                 "the listening ports and their owners).", pr->port, pt__dr_fp_label(k),
                 owner[0] ? ", owned by " : "", owner);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    char addr[64], why[256];
    int a = pt__dr_probe_address(ctx, addr, sizeof addr, why, sizeof why);
    if (a <= 0) {
        pt_dr_skip(res, "%s", why);
        return;
    }
    probe_run pr = { .ctx = ctx, .addr = addr, .port = ctx->target->port, .steps = json_array(),
                     .parked = { .fd = -1 }, .http_unread = -1 };
    uint64_t t0 = pt_now_us();
    pr.started_ms = t0 / 1000;
    identify(&pr);
    wait_late(&pr);
    json_t *ev = pt__dr_evidence(res);
    json_object_set_new(ev, "address", json_string(addr));
    json_object_set_new(ev, "port", json_integer(pr.port));
    json_object_set_new(ev, "probes", pr.steps);
    json_object_set_new(ev, "ms", json_integer((json_int_t)pt_dr_ms_since(t0)));
    if (pr.answered + pr.silent + pr.closed + pr.reset == 0) {
        pt_dr_skip(res, "could not connect to %s port %ld to probe it", addr, pr.port);
        return;
    }
    verdict(&pr, res);
    char how[400];
    how_found(&pr, how, sizeof how);
    write_http_request_fact(&pr, how);
}

const pt_dr_check pt_dr_check_protocol = {
    .id = "protocol",
    .title = "What answers on the port",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
