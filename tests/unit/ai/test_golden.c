/* Golden tests for the AI layer: every directory under tests/fixtures/ai/ is one exchange.
 *
 *   case.json          client format, endpoint, provider config, upstream status/headers,
 *                      how the upstream ends, and the expected outcome (usage, cost, stop
 *                      reason, error kind, whether bytes were emitted); Gemini clients add
 *                      the request's "path" and "query", which name the model and stream
 *   request.json       the client's body
 *   upstream_request   the request Portico must send: "METHOD PATH", headers, blank line, body
 *   upstream_response  the provider's answer body (JSON or an event stream)
 *   expected_client    the bytes the client must receive (for failures: the error body)
 *
 * Each case runs with the upstream body fed whole and in pieces of 1, 2, 3, 5, 7, 13 and
 * 64 bytes: the client bytes, and how they are cut into emits, must be the same every
 * time (one emit per upstream event: nothing is held back, nothing batched). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "ai/ai.h"
#include "ai/ai_config.h"
#include "core/buf.h"
#include "core/log.h"

static char *root_dir(void)
{
    static char path[4096];
    const char *r = getenv("PORTICO_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/ai", r && *r ? r : ".");
    return path;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    pt_buf b = PT_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) pt_buf_append(&b, tmp, n);
    fclose(f);
    if (!b.data) pt_buf_append(&b, "", 0);
    if (len) *len = b.len;
    return pt_buf_detach(&b, NULL);
}

typedef struct emits {
    pt_buf all;
    pt_buf cuts; /* emit lengths as text, "12,40,..." */
    int n;
} emits;

static int on_emit(void *arg, const char *p, size_t n)
{
    emits *e = arg;
    pt_buf_append(&e->all, p, n);
    pt_buf_printf(&e->cuts, "%zu,", n);
    e->n++;
    return 0;
}

typedef struct outcome {
    emits em;
    pt_buf upstream;
    pt_buf errbody;
    pt_ai_result res;
    int new_rc;
    pt_ai_error new_err;
} outcome;

static pt_ai_end end_of(const char *s)
{
    if (!s || !strcmp(s, "ok")) return PT_AI_END_OK;
    if (!strcmp(s, "cut")) return PT_AI_END_CUT;
    if (!strcmp(s, "timeout")) return PT_AI_END_TIMEOUT;
    if (!strcmp(s, "connect")) return PT_AI_END_CONNECT;
    return PT_AI_END_OK;
}

static pt_ai_endpoint ep_of(const char *s)
{
    if (s && !strcmp(s, "embeddings")) return PT_AI_EP_EMBEDDINGS;
    if (s && !strcmp(s, "count_tokens")) return PT_AI_EP_COUNT_TOKENS;
    return PT_AI_EP_CHAT;
}

/* Runs one case with the upstream body cut into pieces of `split` bytes (0 = whole). */
static void run(const char *dir, json_t *cs, size_t split, outcome *o)
{
    memset(o, 0, sizeof *o);
    size_t reqlen = 0, uplen = 0;
    char *reqbody = slurp(dir, "request.json", &reqlen);
    char *upbody = slurp(dir, "upstream_response", &uplen);
    assert_non_null(reqbody);

    json_t *prov = json_object_get(cs, "provider");
    const char *public_model = json_string_value(json_object_get(cs, "public_model"));
    json_t *providers = json_pack("[O]", prov);
    json_t *models = json_pack("[{s:s, s:[{s:s, s:s}]}]", "name", public_model ? public_model : "public", "targets",
                               "provider", json_string_value(json_object_get(prov, "name")), "model",
                               json_string_value(json_object_get(cs, "model")));
    pt_buf cerr = PT_BUF_INIT;
    json_t *doc = json_pack("{s:o, s:o}", "providers", providers, "models", models);
    char *text = json_dumps(doc, JSON_COMPACT);
    pt_ai_config *cfg = pt_ai_config_load_string("case.json", text, strlen(text), &cerr);
    if (!cfg) fail_msg("%s: config: %s", dir, cerr.data);
    free(text);
    json_decref(doc);

    const char *client = json_string_value(json_object_get(cs, "client"));
    pt_ai_format fmt = strcmp(client, "anthropic") == 0   ? PT_AI_FMT_ANTHROPIC
                       : strcmp(client, "responses") == 0 ? PT_AI_FMT_RESPONSES
                       : strcmp(client, "gemini") == 0    ? PT_AI_FMT_GEMINI
                                                          : PT_AI_FMT_OPENAI;
    pt_ai_request *req = NULL;
    pt_ai_error err;
    /* Gemini clients name the model and the stream in the path ("path", "query") */
    const char *cpath = json_string_value(json_object_get(cs, "path"));
    const char *cquery = json_string_value(json_object_get(cs, "query"));
    int rc = pt_ai_request_new_path(fmt, ep_of(json_string_value(json_object_get(cs, "endpoint"))),
                                    pt_slice_cstr(cpath ? cpath : ""), pt_slice_cstr(cquery ? cquery : ""), reqbody,
                                    reqlen, &req, &err);
    if (rc) {
        o->new_rc = rc;
        o->new_err = err;
        pt_ai_render_error(fmt, &err, &o->errbody);
        goto done;
    }
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, cfg, &cfg->models[0], 1);
    pt_ai_attempt at;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 0, &at));
    pt_ai_call_opts opts = { .request_id = json_string_value(json_object_get(cs, "request_id")),
                             .now_unix = json_integer_value(json_object_get(cs, "now")) };
    pt_ai_call *call = pt_ai_call_new(req, &at, &opts, &err);
    if (!call) {
        o->new_rc = -1;
        o->new_err = err;
        pt_ai_render_error(fmt, &err, &o->errbody);
        pt_ai_request_free(req);
        goto done;
    }
    const pt_ai_upstream *up = pt_ai_call_upstream(call);
    if (up) {
        pt_buf_printf(&o->upstream, "%s %s\n", up->method, up->path);
        for (size_t i = 0; i < up->nheaders; i++)
            pt_buf_printf(&o->upstream, PT_SLICE_FMT ": " PT_SLICE_FMT "\n", PT_SLICE_ARG(up->headers[i].name),
                          PT_SLICE_ARG(up->headers[i].value));
        pt_buf_append_str(&o->upstream, "\n");
        pt_buf_append(&o->upstream, up->body, up->body_len);
        pt_ai_end how = end_of(json_string_value(json_object_get(cs, "end")));
        if (how != PT_AI_END_CONNECT && !(how == PT_AI_END_TIMEOUT && !upbody)) {
            pt_ai_header hs[16];
            size_t nh = 0;
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(cs, "headers"), k, v) {
                if (nh < 16) hs[nh++] = (pt_ai_header){ pt_slice_cstr(k), pt_slice_cstr(json_string_value(v)) };
            }
            int status = json_is_integer(json_object_get(cs, "status")) ? (int)json_integer_value(json_object_get(cs, "status")) : 200;
            pt_ai_call_on_response_head(call, status, hs, nh);
            size_t step = split ? split : (uplen ? uplen : 1);
            for (size_t off = 0; upbody && off < uplen; off += step) {
                size_t n = uplen - off < step ? uplen - off : step;
                pt_ai_call_on_response_body(call, upbody + off, n, on_emit, &o->em);
            }
        }
        pt_ai_call_finish(call, how, on_emit, &o->em, &o->res);
    } else {
        pt_ai_call_finish(call, PT_AI_END_OK, on_emit, &o->em, &o->res);
    }
    if (o->res.kind != PT_AI_OK && !o->res.emitted) pt_ai_call_error_body(call, &o->res, &o->errbody);
    pt_ai_call_free(call);
    pt_ai_request_free(req);
done:
    pt_ai_config_free(cfg);
    pt_buf_release(&cerr);
    free(reqbody);
    free(upbody);
}

static void release(outcome *o)
{
    pt_buf_release(&o->em.all);
    pt_buf_release(&o->em.cuts);
    pt_buf_release(&o->upstream);
    pt_buf_release(&o->errbody);
}

/* Compares got with the file, or writes the file when GOLDEN_WRITE=1 and it is missing. */
static void check_file(const char *dir, const char *name, pt_slice got)
{
    size_t n;
    char *want = slurp(dir, name, &n);
    if (!want && getenv("GOLDEN_WRITE")) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(got.ptr ? got.ptr : "", 1, got.len, f);
        fclose(f);
        print_message("# wrote %s\n", path);
        return;
    }
    if (!want) fail_msg("%s/%s missing", dir, name);
    if (n != got.len || (n && memcmp(want, got.ptr, n) != 0)) {
        print_error("%s/%s differs\n--- want (%zu bytes)\n%s\n--- got (%zu bytes)\n%.*s\n", dir, name, n, want, got.len,
                    (int)got.len, got.ptr ? got.ptr : "");
        free(want);
        fail();
    }
    free(want);
}

static int64_t want_int(json_t *exp, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(exp, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static const char *stop_names[] = { "none", "end_turn", "max_tokens", "stop_sequence", "tool_use", "content_filter", "error" };

static void check_case(const char *dir)
{
    json_error_t je;
    char path[4300];
    snprintf(path, sizeof path, "%s/case.json", dir);
    json_t *cs = json_load_file(path, 0, &je);
    if (!cs) fail_msg("%s: %s", path, je.text);
    json_t *exp = json_object_get(cs, "expect");

    outcome whole;
    run(dir, cs, 0, &whole);
    if (whole.new_rc) {
        /* a request refused before any upstream exchange */
        assert_string_equal(pt_ai_err_kind_name(whole.new_err.kind), json_string_value(json_object_get(exp, "kind")));
        assert_int_equal(whole.new_err.status, want_int(exp, "status", -1));
        check_file(dir, "expected_client", pt_buf_slice(&whole.errbody));
        release(&whole);
        json_decref(cs);
        return;
    }
    check_file(dir, "upstream_request", pt_buf_slice(&whole.upstream));
    pt_slice client = whole.res.kind == PT_AI_OK || whole.res.emitted ? pt_buf_slice(&whole.em.all)
                                                                       : pt_buf_slice(&whole.errbody);
    check_file(dir, "expected_client", client);

    const pt_ai_result *r = &whole.res;
    const char *kind = json_string_value(json_object_get(exp, "kind"));
    assert_string_equal(pt_ai_err_kind_name(r->kind), kind ? kind : "ok");
    if (r->kind != PT_AI_OK) {
        assert_int_equal(r->error.status, want_int(exp, "status", -1));
        assert_int_equal(r->retryable, json_is_true(json_object_get(exp, "retryable")));
        if (json_object_get(exp, "retry_after_ms"))
            assert_int_equal(r->error.retry_after_ms, want_int(exp, "retry_after_ms", -1));
    }
    assert_int_equal(r->emitted, json_is_true(json_object_get(exp, "emitted")));
    assert_int_equal(r->passthrough, json_is_true(json_object_get(exp, "passthrough")));
    assert_int_equal(r->usage.input, want_int(exp, "input", 0));
    assert_int_equal(r->usage.output, want_int(exp, "output", 0));
    assert_int_equal(r->usage.cache_read, want_int(exp, "cache_read", 0));
    assert_int_equal(r->usage.cache_write, want_int(exp, "cache_write", 0));
    assert_int_equal(r->usage.reasoning, want_int(exp, "reasoning", 0));
    if (json_object_get(exp, "cost_pico_usd")) {
        assert_true(r->cost_known);
        assert_int_equal(r->cost_pico_usd, want_int(exp, "cost_pico_usd", -1));
        assert_int_equal(r->cost_micro_usd, want_int(exp, "cost_micro_usd", -1));
    }
    if (json_object_get(exp, "stop")) assert_string_equal(stop_names[r->stop], json_string_value(json_object_get(exp, "stop")));

    /* the same bytes, cut the same way, whatever pieces the upstream body came in */
    static const size_t splits[] = { 1, 2, 3, 5, 7, 13, 64 };
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
        outcome o;
        run(dir, cs, splits[i], &o);
        pt_slice got = o.res.kind == PT_AI_OK || o.res.emitted ? pt_buf_slice(&o.em.all) : pt_buf_slice(&o.errbody);
        if (!pt_slice_eq(got, client)) fail_msg("%s: client bytes differ when fed %zu bytes at a time", dir, splits[i]);
        if (!pt_slice_eq(pt_buf_slice(&o.em.cuts), pt_buf_slice(&whole.em.cuts)))
            fail_msg("%s: emits cut differently when fed %zu bytes at a time (%s vs %s)", dir, splits[i],
                     o.em.cuts.data ? o.em.cuts.data : "", whole.em.cuts.data ? whole.em.cuts.data : "");
        assert_int_equal(o.res.kind, r->kind);
        assert_memory_equal(&o.res.usage, &r->usage, sizeof r->usage);
        assert_int_equal(o.res.cost_pico_usd, r->cost_pico_usd);
        release(&o);
    }
    release(&whole);
    json_decref(cs);
}

static char **cases;
static size_t ncases;

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void golden_case(void **state)
{
    const char *name = *state;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root_dir(), name);
    check_case(dir);
}

int main(void)
{
    pt_log_set_level(PT_LOG_ERROR); /* keys refused by the fixtures' providers are logged as warnings */
    DIR *d = opendir(root_dir());
    if (!d) {
        fprintf(stderr, "no fixtures at %s\n", root_dir());
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        cases = realloc(cases, (ncases + 1) * sizeof *cases);
        cases[ncases++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(cases, ncases, sizeof *cases, cmp);
    struct CMUnitTest *tests = calloc(ncases, sizeof *tests);
    for (size_t i = 0; i < ncases; i++) {
        tests[i].name = cases[i];
        tests[i].test_func = golden_case;
        tests[i].initial_state = cases[i];
    }
    int rc = _cmocka_run_group_tests("ai_golden", tests, ncases, NULL, NULL);
    for (size_t i = 0; i < ncases; i++) free(cases[i]);
    free(cases);
    free(tests);
    return rc;
}
