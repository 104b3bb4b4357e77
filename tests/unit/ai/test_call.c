/* Unit tests for ai/ai.c: endpoint matching, request validation before routing, the
 * passthrough body, fallbacks across provider types with one request, key state after
 * 429/401, what is (not) emitted on failures, and the error bodies the engine sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "ai/ai.h"
#include "core/log.h"
#include "core/str.h"

static const char *CFG =
    "{\"providers\":["
    "{\"name\":\"oa\",\"type\":\"openai\",\"base_url\":\"http://127.0.0.1:1/v1\",\"api_keys\":[\"sk-aaaaaaaaaaaa\",\"sk-bbbbbbbbbbbb\"]},"
    "{\"name\":\"ant\",\"type\":\"anthropic\",\"base_url\":\"http://127.0.0.1:1\",\"api_key\":\"ak-cccccccccccc\"},"
    "{\"name\":\"loc\",\"type\":\"openai_compatible\",\"base_url\":\"http://127.0.0.1:1/v1\",\"stream_usage\":false}],"
    "\"models\":["
    "{\"name\":\"gpt\",\"targets\":[{\"provider\":\"oa\",\"model\":\"gpt-4o-mini\"}],\"fallbacks\":[\"claude\"]},"
    "{\"name\":\"claude\",\"targets\":[{\"provider\":\"ant\",\"model\":\"claude-haiku-4-5\"}]},"
    "{\"name\":\"local\",\"targets\":[{\"provider\":\"loc\",\"model\":\"llama\"}]}]}";

/* An Anthropic stream answering "yo": 9 tokens in, 3 out. */
static const char *const ANT_EVENTS =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"model\":\"claude-haiku-4-5\","
    "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"yo\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static pt_ai_config *config(void)
{
    pt_buf err = PT_BUF_INIT;
    pt_ai_config *cfg = pt_ai_config_load_string("cfg.json", CFG, strlen(CFG), &err);
    if (!cfg) fail_msg("config: %s", err.data);
    pt_buf_release(&err);
    return cfg;
}

typedef struct sink {
    pt_buf all;
    int n;
    int refuse; /* return nonzero from the n-th emit */
} sink;

static int on_emit(void *arg, const char *p, size_t n)
{
    sink *s = arg;
    s->n++;
    pt_buf_append(&s->all, p, n);
    return s->refuse && s->n >= s->refuse ? 1 : 0;
}

static pt_ai_request *request(pt_ai_format f, pt_ai_endpoint ep, const char *body)
{
    pt_ai_request *r;
    pt_ai_error e;
    if (pt_ai_request_new(f, ep, body, strlen(body), &r, &e)) fail_msg("request refused: %s", e.message);
    return r;
}

static void refused(pt_ai_format f, pt_ai_endpoint ep, const char *body, const char *param, const char *msg)
{
    pt_ai_request *r = NULL;
    pt_ai_error e;
    assert_int_equal(pt_ai_request_new(f, ep, body, strlen(body), &r, &e), -1);
    assert_null(r);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (strncmp(e.message, msg, strlen(msg)) != 0) fail_msg("[%s] does not start with [%s]", e.message, msg);
}

static pt_ai_attempt attempt(pt_ai_config *cfg, const char *model, size_t target_provider)
{
    pt_ai_attempt a = { 0 };
    const pt_ai_model *m = pt_ai_config_model(cfg, pt_slice_cstr(model));
    a.model = m;
    a.provider = m->targets[target_provider].provider;
    a.upstream_model = m->targets[target_provider].model;
    a.key_index = a.provider->nkeys ? 0 : SIZE_MAX;
    return a;
}

static void endpoints_match_by_path_and_method(void **state)
{
    pt_ai_format f;
    pt_ai_endpoint ep;
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/chat/completions"), false, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_OPENAI);
    assert_int_equal(ep, PT_AI_EP_CHAT);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/messages/"), false, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_ANTHROPIC);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/messages/count_tokens"), false, &f, &ep), 0);
    assert_int_equal(ep, PT_AI_EP_COUNT_TOKENS);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/models"), true, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_ANTHROPIC);
    f = PT_AI_FMT_OPENAI;
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/messages"), false, &f, &ep), 405);
    assert_int_equal(f, PT_AI_FMT_ANTHROPIC); /* the 405 is rendered in the endpoint's format */
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/completions"), false, &f, &ep), 404);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v2/chat/completions"), false, &f, &ep), 404);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/models/a%2Fb"), false, &f, &ep), 0);
    assert_int_equal(ep, PT_AI_EP_MODEL);
    assert_int_equal(f, PT_AI_FMT_OPENAI);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("HEAD"), PT_SLICE_LIT("/v1/models/x"), true, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_ANTHROPIC);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("DELETE"), PT_SLICE_LIT("/v1/models/x"), false, &f, &ep), 404);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/models/"), false, &f, &ep), 0);
    assert_int_equal(ep, PT_AI_EP_MODELS); /* a trailing slash is the list */
}

static void responses_endpoints_match(void **state)
{
    pt_ai_format f;
    pt_ai_endpoint ep;
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/responses"), false, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_RESPONSES);
    assert_int_equal(ep, PT_AI_EP_CHAT);
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/responses"), true, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_RESPONSES);
    /* the token counter is not a stored response */
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/responses/input_tokens"), false, &f, &ep), 0);
    assert_int_equal(f, PT_AI_FMT_RESPONSES);
    assert_int_equal(ep, PT_AI_EP_COUNT_TOKENS);
    f = PT_AI_FMT_OPENAI;
    assert_int_equal(pt_ai_match(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/responses"), false, &f, &ep), 405);
    assert_int_equal(f, PT_AI_FMT_RESPONSES);
    /* stored responses: every method, and the paths under them, reach ai/stored.h */
    static const char *const stored[][2] = { { "GET", "/v1/responses/resp_1" }, { "DELETE", "/v1/responses/resp_1" },
                                             { "POST", "/v1/responses/resp_1/cancel" },
                                             { "GET", "/responses/resp_1/input_items" } };
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        ep = PT_AI_EP_CHAT;
        assert_int_equal(pt_ai_match(pt_slice_cstr(stored[i][0]), pt_slice_cstr(stored[i][1]), false, &f, &ep), 0);
        assert_int_equal(ep, PT_AI_EP_RESPONSE);
        assert_int_equal(f, PT_AI_FMT_RESPONSES);
    }
}

static void one_model_is_rendered_or_404(void **state)
{
    pt_ai_config *cfg = config();
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_ai_render_model(cfg, NULL, PT_AI_FMT_OPENAI, PT_SLICE_LIT("/v1/models/gpt"), &b), 200);
    assert_string_equal(b.data, "{\"id\":\"gpt\",\"object\":\"model\",\"created\":0,\"owned_by\":\"oa\",\"priced\":true}");
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_render_model(cfg, NULL, PT_AI_FMT_ANTHROPIC, PT_SLICE_LIT("/v1/models/cl%61ude/"), &b), 200);
    assert_non_null(strstr(b.data, "\"display_name\":\"claude\""));
    const char *bad[] = { "/v1/models/nope", "/v1/models/gpt%", "/v1/models/gpt%2", "/v1/models/gp%zz",
                          "/v1/models/gpt%00" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_buf_reset(&b);
        assert_int_equal(pt_ai_render_model(cfg, NULL, PT_AI_FMT_OPENAI, pt_slice_cstr(bad[i]), &b), 404);
        assert_non_null(strstr(b.data, "\"code\":\"model_not_found\""));
    }
    pt_buf_release(&b);
    pt_ai_config_free(cfg);
}

static void requests_are_validated_before_routing(void **state)
{
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"a\",\"mod\\u0065l\":\"b\",\"messages\":[]}", "model",
            "model: duplicate key");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"\",\"messages\":[]}", "model", "model: must not be empty");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":[],\"stream\":1}", "stream",
            "stream: expected a boolean");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":[],\"stream_options\":{\"include_usage\":\"y\"}}",
            "stream_options", "stream_options.include_usage: expected a boolean");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":\"hi\"}", "messages", "messages: expected an array");
    refused(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":[],\"max_tokens\":-1}", "max_tokens",
            "max_tokens: expected a positive integer");
    refused(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":[],\"max_tokens\":0}", "max_tokens",
            "max_tokens: must be at least 1");
    refused(PT_AI_FMT_ANTHROPIC, PT_AI_EP_COUNT_TOKENS, "{\"model\":\"a\"}", "messages", "messages: field required");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"a\"}", "input", "input: field required");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"a\",\"input\":5}", "input", "input: expected a string or an array");
    refused(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"a\",\"messages\":[]} x", "", "invalid JSON body: syntax error at byte 28");
}

static void escaped_model_name_is_decoded(void **state)
{
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"g\\u0070t\",\"messages\":[]}");
    assert_true(pt_slice_eq_cstr(pt_ai_request_model(r), "gpt"));
    pt_ai_request_free(r);
}

/* The upstream body for a passthrough OpenAI stream, parsed back. */
static json_t *pass_body(pt_ai_config *cfg, const char *model, const char *body)
{
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, body);
    pt_ai_attempt a = attempt(cfg, model, 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    assert_non_null(c);
    const pt_ai_upstream *up = pt_ai_call_upstream(c);
    json_error_t je;
    json_t *j = json_loadb(up->body, up->body_len, 0, &je);
    if (!j) fail_msg("upstream body is not JSON (%s): %.*s", je.text, (int)up->body_len, up->body);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    return j;
}

static void passthrough_asks_for_stream_usage_in_every_shape(void **state)
{
    pt_ai_config *cfg = config();
    const char *bodies[] = {
        "{\"model\":\"gpt\",\"messages\":[],\"stream\":true}",
        "{\"model\":\"gpt\",\"messages\":[],\"stream\":true,\"stream_options\":null}",
        "{\"model\":\"gpt\",\"messages\":[],\"stream\":true,\"stream_options\":{}}",
        "{\"model\":\"gpt\",\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":false}}",
        "{\"stream_options\":{\"x\":1},\"model\":\"gpt\",\"messages\":[],\"stream\":true}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *j = pass_body(cfg, "gpt", bodies[i]);
        assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4o-mini");
        assert_true(json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
        json_decref(j);
    }
    /* the rest of the body is untouched */
    json_t *j = pass_body(cfg, "gpt", "{\"stream_options\":{\"x\":1},\"model\":\"gpt\",\"messages\":[],\"stream\":true}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stream_options"), "x")), 1);
    json_decref(j);
    /* not a stream: nothing added */
    j = pass_body(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}");
    assert_null(json_object_get(j, "stream_options"));
    json_decref(j);
    /* a provider configured without stream usage gets the body as sent */
    j = pass_body(cfg, "local", "{\"model\":\"local\",\"messages\":[],\"stream\":true}");
    assert_null(json_object_get(j, "stream_options"));
    assert_string_equal(json_string_value(json_object_get(j, "model")), "llama");
    json_decref(j);
    pt_ai_config_free(cfg);
}

static void keyless_provider_sends_no_authorization(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"local\",\"messages\":[]}");
    pt_ai_attempt a = attempt(cfg, "local", 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    const pt_ai_upstream *up = pt_ai_call_upstream(c);
    for (size_t i = 0; i < up->nheaders; i++) assert_false(pt_slice_eq_cstr(up->headers[i].name, "authorization"));
    assert_string_equal(up->path, "/v1/chat/completions");
    assert_string_equal(up->provider->host, "127.0.0.1");
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    pt_ai_config_free(cfg);
}

static void anthropic_beta_goes_only_to_anthropic(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT,
                               "{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    pt_ai_call_opts o = { .anthropic_beta = PT_SLICE_LIT("interleaved-thinking-2025-05-14") };
    pt_ai_error e;
    pt_ai_attempt a = attempt(cfg, "claude", 0);
    pt_ai_call *c = pt_ai_call_new(r, &a, &o, &e);
    const pt_ai_upstream *up = pt_ai_call_upstream(c);
    bool found = false;
    for (size_t i = 0; i < up->nheaders; i++)
        if (pt_slice_eq_cstr(up->headers[i].name, "anthropic-beta")) found = pt_slice_eq(up->headers[i].value, o.anthropic_beta);
    assert_true(found);
    pt_ai_call_free(c);
    a = attempt(cfg, "gpt", 0);
    c = pt_ai_call_new(r, &a, &o, &e);
    up = pt_ai_call_upstream(c);
    for (size_t i = 0; i < up->nheaders; i++) assert_false(pt_slice_eq_cstr(up->headers[i].name, "anthropic-beta"));
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    pt_ai_config_free(cfg);
}

static void fallback_renders_the_same_request_for_another_provider_type(void **state)
{
    pt_log_set_level(PT_LOG_ERROR);
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT,
                               "{\"model\":\"gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, cfg, pt_ai_config_model(cfg, pt_ai_request_model(r)), 3);
    pt_ai_attempt a;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 0, &a));
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_ai_call_on_response_head(c, 503, NULL, 0);
    pt_ai_call_on_response_body(c, "{\"error\":{\"message\":\"busy\"}}", 28, on_emit, &s);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
    assert_int_equal(res.kind, PT_AI_ERR_UPSTREAM);
    assert_true(res.retryable);
    assert_false(res.emitted);
    assert_int_equal(s.n, 0);
    pt_ai_call_free(c);

    /* the next attempt is the fallback model on Anthropic: the same request, rendered anew */
    assert_true(pt_ai_plan_next(&plan, res.kind, 0, &a));
    assert_string_equal(a.provider->name, "ant");
    c = pt_ai_call_new(r, &a, NULL, &e);
    assert_non_null(c);
    const pt_ai_upstream *up = pt_ai_call_upstream(c);
    assert_string_equal(up->path, "/v1/messages");
    json_t *j = json_loadb(up->body, up->body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "claude-haiku-4-5");
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 4096);
    assert_true(json_is_true(json_object_get(j, "stream")));
    json_decref(j);
    const char *ev = ANT_EVENTS;
    pt_ai_header ct = { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("text/event-stream") };
    pt_ai_call_on_response_head(c, 200, &ct, 1);
    assert_int_equal(pt_ai_call_on_response_body(c, ev, strlen(ev), on_emit, &s), 0);
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
    assert_int_equal(res.kind, PT_AI_OK);
    assert_false(res.passthrough);
    assert_int_equal(res.usage.input, 9);
    assert_int_equal(res.usage.output, 3);
    assert_true(res.cost_known);
    /* claude-haiku-4-5: 9 x $1 + 3 x $5 per million = 9000000 + 15000000 pico-dollars */
    assert_int_equal(res.cost_pico_usd, 24000000);
    assert_int_equal(res.cost_micro_usd, 24);
    assert_true(res.ttft_us <= res.duration_us);
    assert_non_null(strstr(s.all.data, "\"content\":\"yo\""));
    assert_non_null(strstr(s.all.data, "data: [DONE]\n\n"));
    assert_string_equal(pt_ai_call_content_type(c), "text/event-stream");
    pt_ai_call_free(c);
    pt_buf_release(&s.all);
    pt_ai_request_free(r);
    pt_ai_config_free(cfg);
}

/* A history carrying Gemini's signed tool call ids is translated for OpenAI, which strips
 * them; the same history without them is passed through as it came (spaces kept). */
static void signed_tool_ids_are_translated_and_plain_ones_passed_through(void **state)
{
    pt_ai_config *cfg = config();
    static const char *const ids[] = { "call_1__sig__c2ln", "call_1" };
    for (int k = 0; k < 2; k++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"gpt\", \"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
                 "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"%s\",\"type\":\"function\","
                 "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                 "{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"ok\"}]}",
                 ids[k], ids[k]);
        pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, body);
        pt_ai_attempt a = attempt(cfg, "gpt", 0);
        pt_ai_error e;
        pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
        assert_non_null(c);
        const pt_ai_upstream *up = pt_ai_call_upstream(c);
        const char *kept = "\"gpt-4o-mini\", \"messages\"";
        assert_null(pt_mem_find(up->body, up->body_len, "__sig__", 7));
        assert_int_equal(pt_mem_find(up->body, up->body_len, kept, strlen(kept)) != NULL, k == 1);
        pt_ai_call_free(c);
        pt_ai_request_free(r);
    }
    pt_ai_config_free(cfg);
}

/* Runs one whole exchange with a canned answer and returns the result. */
static pt_ai_result exchange(pt_ai_config *cfg, const char *model, const char *body, int status, const pt_ai_header *h,
                             size_t nh, const char *answer, sink *s, pt_buf *errbody)
{
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, body);
    pt_ai_attempt a = attempt(cfg, model, 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    assert_non_null(c);
    pt_ai_call_on_response_head(c, status, h, nh);
    pt_ai_call_on_response_body(c, answer, strlen(answer), on_emit, s);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, s, &res);
    if (errbody && res.kind != PT_AI_OK) pt_ai_call_error_body(c, &res, errbody);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    return res;
}

/* A Responses client's answer to be kept: the response object says "store": true and the
 * response it continues, and is the same object the client got, whole or streamed. */
static void a_kept_response_object_is_what_the_client_got(void **state)
{
    pt_ai_config *cfg = config();
    static const char *const WHOLE = "{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\","
                                     "\"content\":[{\"type\":\"text\",\"text\":\"yo\"}],\"stop_reason\":\"end_turn\","
                                     "\"usage\":{\"input_tokens\":9,\"output_tokens\":3}}";
    for (int stream = 0; stream < 2; stream++) {
        pt_ai_request *r = request(PT_AI_FMT_RESPONSES, PT_AI_EP_CHAT,
                                   stream ? "{\"model\":\"claude\",\"input\":\"hi\",\"stream\":true}"
                                          : "{\"model\":\"claude\",\"input\":\"hi\"}");
        pt_ai_attempt a = attempt(cfg, "claude", 0);
        pt_ai_call_opts o = { .request_id = "abc", .store = true, .previous_response_id = "resp_prev" };
        pt_ai_error e;
        pt_ai_call *c = pt_ai_call_new(r, &a, &o, &e);
        assert_non_null(c);
        sink s = { PT_BUF_INIT, 0, 0 };
        pt_ai_header ct = { PT_SLICE_LIT("content-type"), pt_slice_cstr(stream ? "text/event-stream" : "application/json") };
        pt_ai_call_on_response_head(c, 200, &ct, 1);
        const char *body = stream ? ANT_EVENTS : WHOLE;
        pt_ai_call_on_response_body(c, body, strlen(body), on_emit, &s);
        assert_int_equal(pt_ai_call_response_object(c).len, 0); /* not before the call ended */
        pt_ai_result res;
        pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
        assert_int_equal(res.kind, PT_AI_OK);
        pt_slice obj = pt_ai_call_response_object(c);
        json_t *j = json_loadb(obj.ptr, obj.len, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "id")), "resp_abc");
        assert_true(json_is_true(json_object_get(j, "store")));
        assert_string_equal(json_string_value(json_object_get(j, "previous_response_id")), "resp_prev");
        assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
        if (!stream) {
            assert_int_equal(s.all.len, obj.len);
            assert_memory_equal(s.all.data, obj.ptr, obj.len);
        } else { /* the object response.completed carried */
            const char *done = strstr(s.all.data, "event: response.completed\ndata: ");
            assert_non_null(done);
            json_t *ev = json_loads(done + strlen("event: response.completed\ndata: "), JSON_DISABLE_EOF_CHECK, NULL);
            assert_true(json_equal(json_object_get(ev, "response"), j));
            json_decref(ev);
        }
        json_decref(j);
        pt_ai_call_free(c);
        pt_buf_release(&s.all);
        pt_ai_request_free(r);
    }
    pt_ai_config_free(cfg);
}

/* Bedrock embeddings through InvokeModel: Titan's one-text body and Cohere's batch with an
 * input_type (from a Gemini client's taskType), each answer as OpenAI's list (a Gemini
 * client's in Gemini's shape), Titan's token count as usage. */
static pt_ai_result embed_call(pt_ai_config *cfg, pt_ai_request *r, const char *model, const char *answer, sink *s,
                               json_t **sent)
{
    pt_ai_attempt a = attempt(cfg, model, 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    if (!c) fail_msg("refused: %s", e.message);
    const pt_ai_upstream *up = pt_ai_call_upstream(c);
    *sent = json_pack("{s:s, s:o}", "path", up->path, "body", json_loadb(up->body, up->body_len, 0, NULL));
    pt_ai_header ct = { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("application/json") };
    pt_ai_call_on_response_head(c, 200, &ct, 1);
    pt_ai_call_on_response_body(c, answer, strlen(answer), on_emit, s);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, s, &res);
    pt_ai_call_free(c);
    return res;
}

static void bedrock_embeddings_use_invoke_model(void **state)
{
    static const char *BCFG =
        "{\"providers\":[{\"name\":\"b\",\"type\":\"bedrock\",\"region\":\"eu-west-3\",\"access_key_id\":\"AKID\","
        "\"secret_access_key\":\"s3cr3t\"}],\"models\":["
        "{\"name\":\"titan\",\"targets\":[{\"provider\":\"b\",\"model\":\"amazon.titan-embed-text-v2:0\"}]},"
        "{\"name\":\"cohere\",\"targets\":[{\"provider\":\"b\",\"model\":\"cohere.embed-english-v3\"}]},"
        "{\"name\":\"chat\",\"targets\":[{\"provider\":\"b\",\"model\":\"anthropic.claude-3-5-haiku\"}]}]}";
    pt_buf err = PT_BUF_INIT;
    pt_ai_config *cfg = pt_ai_config_load_string("b.json", BCFG, strlen(BCFG), &err);
    assert_non_null(cfg);
    sink s = { PT_BUF_INIT, 0, 0 };
    json_t *sent;
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"titan\",\"input\":\"hi\",\"dimensions\":256}");
    pt_ai_result res = embed_call(cfg, r, "titan", "{\"embedding\":[0.5,-1],\"inputTextTokenCount\":4}", &s, &sent);
    assert_int_equal(res.kind, PT_AI_OK);
    assert_int_equal(res.usage.input, 4);
    assert_string_equal(json_string_value(json_object_get(sent, "path")), "/model/amazon.titan-embed-text-v2%3A0/invoke");
    char *body = json_dumps(json_object_get(sent, "body"), JSON_COMPACT);
    assert_string_equal(body, "{\"inputText\":\"hi\",\"dimensions\":256}");
    free(body);
    json_t *list = json_loadb(s.all.data, s.all.len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(list, "usage"), "prompt_tokens")), 4);
    char *v = json_dumps(json_object_get(json_array_get(json_object_get(list, "data"), 0), "embedding"), JSON_COMPACT);
    assert_string_equal(v, "[0.5,-1]");
    free(v);
    json_decref(list);
    json_decref(sent);
    pt_ai_request_free(r);

    pt_ai_error e;
    r = request(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"titan\",\"input\":[\"a\",\"b\"]}");
    pt_ai_attempt a = attempt(cfg, "titan", 0);
    assert_null(pt_ai_call_new(r, &a, NULL, &e));
    assert_string_equal(e.param, "input"); /* Titan: one text per call */
    pt_ai_request_free(r);
    r = request(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"chat\",\"input\":\"x\"}");
    a = attempt(cfg, "chat", 0);
    assert_null(pt_ai_call_new(r, &a, NULL, &e));
    assert_int_equal(e.kind, PT_AI_ERR_UNSUPPORTED);
    pt_ai_request_free(r);

    const char *gem = "{\"requests\":[{\"content\":{\"parts\":[{\"text\":\"q1\"}]},\"taskType\":\"CLUSTERING\"},"
                      "{\"content\":{\"parts\":[{\"text\":\"q2\"}]}}]}";
    if (pt_ai_request_new_path(PT_AI_FMT_GEMINI, PT_AI_EP_EMBEDDINGS, PT_SLICE_LIT("/v1beta/models/cohere:batchEmbedContents"),
                               PT_SLICE_NULL, gem, strlen(gem), &r, &e))
        fail_msg("%s", e.message);
    pt_buf_reset(&s.all);
    res = embed_call(cfg, r, "cohere", "{\"id\":\"x\",\"embeddings\":[[1],[2]],\"response_type\":\"embeddings_floats\"}", &s, &sent);
    assert_int_equal(res.kind, PT_AI_OK);
    body = json_dumps(json_object_get(sent, "body"), JSON_COMPACT);
    assert_string_equal(body, "{\"texts\":[\"q1\",\"q2\"],\"input_type\":\"clustering\"}");
    free(body);
    assert_string_equal(s.all.data, "{\"embeddings\":[{\"values\":[1]},{\"values\":[2]}]}");
    json_decref(sent);
    pt_ai_request_free(r);
    pt_buf_release(&s.all);
    pt_buf_release(&err);
    pt_ai_config_free(cfg);
}

static void rate_limit_cools_the_key_and_auth_failure_disables_it(void **state)
{
    pt_log_set_level(PT_LOG_ERROR);
    pt_ai_config *cfg = config();
    pt_ai_provider *oa = (pt_ai_provider *)pt_ai_config_provider(cfg, "oa");
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_ai_header ra = { PT_SLICE_LIT("Retry-After"), PT_SLICE_LIT("30") };
    pt_ai_result res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}", 429, &ra, 1, "{}", &s, NULL);
    assert_int_equal(res.kind, PT_AI_ERR_RATE_LIMIT);
    assert_int_equal(res.error.retry_after_ms, 30000);
    uint64_t until = atomic_load(&oa->keys[0].cooldown_until_ms);
    assert_true(until >= pt_now_ms() + 29000 && until <= pt_now_ms() + 30000);
    assert_false(atomic_load(&oa->keys[0].disabled));
    res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}", 401, NULL, 0, "{}", &s, NULL);
    assert_int_equal(res.kind, PT_AI_ERR_AUTH);
    assert_int_equal(res.error.status, 502);
    assert_true(atomic_load(&oa->keys[0].disabled));
    assert_int_equal(s.n, 0);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void provider_4xx_body_reaches_a_same_format_client_unchanged(void **state)
{
    pt_ai_config *cfg = config();
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_buf eb = PT_BUF_INIT;
    const char *body = "{\"error\":{\"message\":\"context too long\",\"type\":\"invalid_request_error\",\"param\":\"messages\","
                       "\"code\":\"context_length_exceeded\"}}";
    pt_ai_result res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}", 400, NULL, 0, body, &s, &eb);
    assert_int_equal(res.kind, PT_AI_ERR_CLIENT);
    assert_false(res.retryable);
    assert_string_equal(eb.data, body);
    pt_buf_release(&eb);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void the_key_never_reaches_the_client(void **state)
{
    pt_ai_config *cfg = config();
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_buf eb = PT_BUF_INIT;
    const char *body = "{\"error\":{\"message\":\"key sk-aaaaaaaaaaaa cannot use this model\",\"type\":\"invalid_request_error\"}}";
    pt_ai_result res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}", 400, NULL, 0, body, &s, &eb);
    assert_int_equal(res.kind, PT_AI_ERR_CLIENT);
    assert_null(strstr(eb.data, "sk-aaaaaaaaaaaa"));
    assert_non_null(strstr(eb.data, "key *** cannot use this model"));
    pt_buf_release(&eb);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void unexpected_status_is_a_retryable_upstream_error(void **state)
{
    pt_ai_config *cfg = config();
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_ai_result res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[]}", 404, NULL, 0, "not here", &s, NULL);
    assert_int_equal(res.kind, PT_AI_ERR_UPSTREAM);
    assert_int_equal(res.error.status, 502);
    assert_true(res.retryable);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void openai_error_chunk_before_any_byte_is_retryable(void **state)
{
    pt_ai_config *cfg = config();
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_ai_header ct = { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("text/event-stream") };
    pt_ai_result res = exchange(cfg, "gpt", "{\"model\":\"gpt\",\"messages\":[],\"stream\":true}", 200, &ct, 1,
                                "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", &s, NULL);
    assert_int_equal(res.kind, PT_AI_ERR_UPSTREAM);
    assert_true(res.retryable);
    assert_false(res.emitted);
    assert_int_equal(s.n, 0);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void client_gone_stops_emitting(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"gpt\",\"messages\":[],\"stream\":true}");
    pt_ai_attempt a = attempt(cfg, "gpt", 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    sink s = { PT_BUF_INIT, 0, 1 };
    pt_ai_header ct = { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("text/event-stream") };
    pt_ai_call_on_response_head(c, 200, &ct, 1);
    const char *two = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                      "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n";
    assert_int_equal(pt_ai_call_on_response_body(c, two, strlen(two), on_emit, &s), 1);
    assert_int_equal(s.n, 1);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_ABORTED, on_emit, &s, &res);
    assert_int_equal(s.n, 1);
    assert_true(res.emitted);
    assert_false(res.retryable);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void oversized_whole_answer_is_a_protocol_error(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT,
                               "{\"model\":\"gpt\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    pt_ai_attempt a = attempt(cfg, "gpt", 0);
    pt_ai_call_opts o = { .max_response = 16 };
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, &o, &e);
    sink s = { PT_BUF_INIT, 0, 0 };
    pt_ai_call_on_response_head(c, 200, NULL, 0);
    pt_ai_call_on_response_body(c, "{\"choices\":[{\"message\":{\"content\":\"a long answer\"}}]}", 52, on_emit, &s);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
    assert_int_equal(res.kind, PT_AI_ERR_PROTOCOL);
    assert_int_equal(s.n, 0);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void unsupported_endpoint_for_provider_is_refused_before_sending(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, "{\"model\":\"claude\",\"input\":\"x\"}");
    pt_ai_attempt a = attempt(cfg, "claude", 0);
    pt_ai_error e;
    assert_null(pt_ai_call_new(r, &a, NULL, &e));
    assert_int_equal(e.kind, PT_AI_ERR_UNSUPPORTED);
    assert_int_equal(e.status, 400);
    pt_ai_request_free(r);
    pt_ai_config_free(cfg);
}

/* A model without a price has an unknown cost, not a zero one; counting tokens is free. */
static void unpriced_calls_have_no_cost_and_counting_is_free(void **state)
{
    pt_ai_config *cfg = config();
    pt_ai_request *r = request(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, "{\"model\":\"local\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    pt_ai_attempt a = attempt(cfg, "local", 0);
    pt_ai_error e;
    pt_ai_call *c = pt_ai_call_new(r, &a, NULL, &e);
    assert_non_null(c);
    const char *body = "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"yo\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}";
    pt_ai_header ct = { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("application/json") };
    pt_ai_call_on_response_head(c, 200, &ct, 1);
    sink s = { 0 };
    pt_ai_call_on_response_body(c, body, strlen(body), on_emit, &s);
    pt_ai_result res;
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
    assert_int_equal(res.kind, PT_AI_OK);
    assert_int_equal(res.usage.input, 5);
    assert_false(res.cost_known);
    assert_int_equal(res.cost_micro_usd, 0);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    r = request(PT_AI_FMT_ANTHROPIC, PT_AI_EP_COUNT_TOKENS, "{\"model\":\"local\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    c = pt_ai_call_new(r, &a, NULL, &e);
    assert_non_null(c);
    assert_null(pt_ai_call_upstream(c)); /* answered by the local estimate */
    pt_ai_call_finish(c, PT_AI_END_OK, on_emit, &s, &res);
    assert_int_equal(res.kind, PT_AI_OK);
    assert_true(res.cost_known);
    assert_int_equal(res.cost_micro_usd, 0);
    pt_ai_call_free(c);
    pt_ai_request_free(r);
    pt_buf_release(&s.all);
    pt_ai_config_free(cfg);
}

static void models_are_listed_in_each_format(void **state)
{
    pt_ai_config *cfg = config();
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_ai_render_models(cfg, NULL, PT_AI_FMT_OPENAI, &b), 0);
    assert_string_equal(b.data, "{\"object\":\"list\",\"data\":["
                                "{\"id\":\"gpt\",\"object\":\"model\",\"created\":0,\"owned_by\":\"oa\",\"priced\":true},"
                                "{\"id\":\"claude\",\"object\":\"model\",\"created\":0,\"owned_by\":\"ant\",\"priced\":true},"
                                "{\"id\":\"local\",\"object\":\"model\",\"created\":0,\"owned_by\":\"loc\",\"priced\":false}]}");
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_render_models(cfg, NULL, PT_AI_FMT_ANTHROPIC, &b), 0);
    assert_string_equal(b.data, "{\"data\":["
                                "{\"type\":\"model\",\"id\":\"gpt\",\"display_name\":\"gpt\",\"created_at\":\"1970-01-01T00:00:00Z\",\"priced\":true},"
                                "{\"type\":\"model\",\"id\":\"claude\",\"display_name\":\"claude\",\"created_at\":\"1970-01-01T00:00:00Z\",\"priced\":true},"
                                "{\"type\":\"model\",\"id\":\"local\",\"display_name\":\"local\",\"created_at\":\"1970-01-01T00:00:00Z\",\"priced\":false}],"
                                "\"has_more\":false,\"first_id\":\"gpt\",\"last_id\":\"local\"}");
    pt_buf_release(&b);
    pt_ai_config_free(cfg);
}

static void a_route_lists_and_serves_only_its_models(void **state)
{
    pt_ai_config *cfg = config();
    char *names[] = { "local", "claude" };
    pt_ai_model_filter only = { names, 2 };
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_ai_render_models(cfg, &only, PT_AI_FMT_ANTHROPIC, &b), 0);
    assert_null(strstr(b.data, "\"gpt\""));
    assert_non_null(strstr(b.data, "\"first_id\":\"claude\",\"last_id\":\"local\""));
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_render_model(cfg, &only, PT_AI_FMT_OPENAI, PT_SLICE_LIT("/v1/models/gpt"), &b), 404);
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_render_model(cfg, &only, PT_AI_FMT_OPENAI, PT_SLICE_LIT("/v1/models/local"), &b), 200);
    pt_buf_release(&b);
    pt_ai_config_free(cfg);
}

static void unknown_model_error_is_404_in_client_format(void **state)
{
    pt_ai_error e;
    memset(&e, 0xA5, sizeof e); /* callers may pass an uninitialised error: nothing of it survives */
    pt_ai_error_set(&e, PT_AI_ERR_NOT_FOUND, 0, "model", "model 'nope' is not configured");
    pt_buf b = PT_BUF_INIT;
    pt_ai_render_error(PT_AI_FMT_ANTHROPIC, &e, &b);
    assert_int_equal(e.status, 404);
    assert_int_equal(e.retry_after_ms, 0);
    assert_int_equal(e.upstream_status, 0);
    assert_string_equal(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model 'nope' is not configured\"}}");
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endpoints_match_by_path_and_method),
        cmocka_unit_test(responses_endpoints_match),
        cmocka_unit_test(one_model_is_rendered_or_404),
        cmocka_unit_test(requests_are_validated_before_routing),
        cmocka_unit_test(escaped_model_name_is_decoded),
        cmocka_unit_test(passthrough_asks_for_stream_usage_in_every_shape),
        cmocka_unit_test(signed_tool_ids_are_translated_and_plain_ones_passed_through),
        cmocka_unit_test(keyless_provider_sends_no_authorization),
        cmocka_unit_test(anthropic_beta_goes_only_to_anthropic),
        cmocka_unit_test(fallback_renders_the_same_request_for_another_provider_type),
        cmocka_unit_test(a_kept_response_object_is_what_the_client_got),
        cmocka_unit_test(bedrock_embeddings_use_invoke_model),
        cmocka_unit_test(rate_limit_cools_the_key_and_auth_failure_disables_it),
        cmocka_unit_test(provider_4xx_body_reaches_a_same_format_client_unchanged),
        cmocka_unit_test(the_key_never_reaches_the_client),
        cmocka_unit_test(unexpected_status_is_a_retryable_upstream_error),
        cmocka_unit_test(openai_error_chunk_before_any_byte_is_retryable),
        cmocka_unit_test(client_gone_stops_emitting),
        cmocka_unit_test(oversized_whole_answer_is_a_protocol_error),
        cmocka_unit_test(unsupported_endpoint_for_provider_is_refused_before_sending),
        cmocka_unit_test(unpriced_calls_have_no_cost_and_counting_is_free),
        cmocka_unit_test(models_are_listed_in_each_format),
        cmocka_unit_test(a_route_lists_and_serves_only_its_models),
        cmocka_unit_test(unknown_model_error_is_404_in_client_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
