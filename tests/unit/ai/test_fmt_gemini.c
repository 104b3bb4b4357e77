/* Unit tests for the Gemini client format (ai/fmt_gemini.c) and its endpoints (ai/ai.c):
 * what a generateContent body becomes in the pivot, the answers and stream chunks rendered
 * back (both stream framings), embeddings both ways, Google's error shape, and the paths
 * that name the model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>

#include "ai/fmt.h"

#define GEM (&pt__fmt_gemini)

typedef struct parsed {
    pt_pivot_req r;
    pt_ai_error err;
    int rc;
} parsed;

static parsed *parse(const char *body, bool for_count)
{
    parsed *p = calloc(1, sizeof *p);
    pt_pivot_req_init(&p->r);
    p->rc = GEM->parse_chat(body, strlen(body), for_count, &p->r, &p->err);
    return p;
}

static void done(parsed *p)
{
    pt_pivot_req_release(&p->r);
    free(p);
}

static void refused(const char *body, pt_ai_err_kind kind, const char *want)
{
    parsed *p = parse(body, false);
    assert_int_equal(p->rc, -1);
    assert_int_equal(p->err.kind, kind);
    assert_int_equal(p->err.status, 400);
    if (strncmp(p->err.message, want, strlen(want)) != 0) fail_msg("message [%s] does not start with [%s]", p->err.message, want);
    done(p);
}

static bool eq(pt_slice s, const char *want) { return pt_slice_eq_cstr(s, want); }

static void contents_become_turns(void **state)
{
    parsed *p = parse("{\"contents\":["
                      "{\"role\":\"user\",\"parts\":[{\"text\":\"Look\"},{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AAAA\"}},"
                      "{\"fileData\":{\"mimeType\":\"application/pdf\",\"fileUri\":\"https://x/d.pdf\"}}]},"
                      "{\"role\":\"model\",\"parts\":[{\"text\":\"hmm\",\"thought\":true},{\"text\":\"Calling\"},"
                      "{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}},\"thoughtSignature\":\"c2ln\"},"
                      "{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":2}}},{\"functionCall\":{\"id\":\"own\",\"name\":\"g\"}}]},"
                      "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"f\",\"response\":{\"r\":1}}},"
                      "{\"functionResponse\":{\"name\":\"f\",\"response\":{\"error\":\"boom\"}}},"
                      "{\"functionResponse\":{\"id\":\"own\",\"name\":\"g\",\"response\":{}}}]}],"
                      "\"systemInstruction\":{\"role\":\"system\",\"parts\":[{\"text\":\"Be brief.\"},{\"text\":\"Really.\"}]}}",
                      false);
    assert_int_equal(p->rc, 0);
    pt_pivot_req *r = &p->r;
    assert_int_equal(r->nsystem, 2);
    assert_true(eq(r->system[1].text, "Really."));
    assert_int_equal(r->nmsgs, 3);
    assert_int_equal(r->msgs[0].nparts, 3);
    assert_int_equal(r->msgs[0].parts[1].type, PT_PART_IMAGE);
    assert_true(eq(r->msgs[0].parts[1].media_type, "image/png") && eq(r->msgs[0].parts[1].data, "AAAA"));
    assert_int_equal(r->msgs[0].parts[2].type, PT_PART_FILE);
    assert_true(eq(r->msgs[0].parts[2].url, "https://x/d.pdf"));
    /* the thought is not sent back; calls get ids that stay the same every turn */
    const pt_msg *m = &r->msgs[1];
    assert_int_equal(m->role, PT_ROLE_ASSISTANT);
    assert_int_equal(m->nparts, 4);
    assert_true(eq(m->parts[0].text, "Calling"));
    assert_true(eq(m->parts[1].id, "call_1_2") && eq(m->parts[1].signature, "c2ln") && eq(m->parts[1].arguments, "{\"a\":1}"));
    assert_true(eq(m->parts[2].id, "call_1_3") && eq(m->parts[2].signature, ""));
    assert_true(eq(m->parts[3].id, "own") && eq(m->parts[3].arguments, "{}"));
    /* responses pair with the calls by name, in order, or by id */
    m = &r->msgs[2];
    assert_true(eq(m->parts[0].tool_use_id, "call_1_2") && !m->parts[0].is_error);
    assert_true(eq(m->parts[0].content[0].text, "{\"r\":1}"));
    assert_true(eq(m->parts[1].tool_use_id, "call_1_3") && m->parts[1].is_error);
    assert_true(eq(m->parts[2].tool_use_id, "own"));
    done(p);
}

static void generation_config_tools_and_tool_config(void **state)
{
    parsed *p = parse("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"generationConfig\":{\"temperature\":0.3,"
                      "\"topP\":0.8,\"topK\":40.0,\"maxOutputTokens\":99,\"stopSequences\":[\"X\"],\"candidateCount\":1,"
                      "\"seed\":7,\"responseMimeType\":\"application/json\",\"responseSchema\":{\"type\":\"OBJECT\","
                      "\"properties\":{\"n\":{\"type\":\"INTEGER\",\"description\":\"Type A\"}}},"
                      "\"thinkingConfig\":{\"thinkingBudget\":512,\"thinkingLevel\":\"HIGH\"}},"
                      "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\",\"description\":\"d\",\"parameters\":{\"type\":\"OBJECT\"}},"
                      "{\"name\":\"g\",\"parametersJsonSchema\":{\"type\":\"object\",\"x-keep\":true}}]}],"
                      "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"g\"]}}}",
                      false);
    assert_int_equal(p->rc, 0);
    pt_pivot_req *r = &p->r;
    assert_true(r->temperature == 0.3 && r->top_p == 0.8);
    assert_int_equal(r->top_k, 40);
    assert_int_equal(r->max_tokens, 99);
    assert_int_equal(r->seed, 7);
    assert_int_equal(r->nstop, 1);
    assert_int_equal(r->response_format, PT_RESP_FORMAT_JSON_SCHEMA);
    /* OpenAPI's upper-case types become JSON Schema's; other strings are kept */
    assert_true(eq(r->response_schema, "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"description\":\"Type A\"}}}"));
    assert_int_equal(r->reasoning_budget, 512);
    assert_true(eq(r->reasoning_effort, "high"));
    assert_int_equal(r->ntools, 2);
    assert_true(eq(r->tools[0].schema, "{\"type\":\"object\"}"));
    assert_true(eq(r->tools[1].schema, "{\"type\":\"object\",\"x-keep\":true}"));
    assert_int_equal(r->tool_choice, PT_TOOL_CHOICE_TOOL);
    assert_true(eq(r->tool_choice_name, "g"));
    done(p);

    p = parse("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"generationConfig\":{\"responseMimeType\":\"application/json\"},"
              "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"f\",\"g\"]}}}",
              false);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->r.response_format, PT_RESP_FORMAT_JSON_OBJECT);
    assert_int_equal(p->r.tool_choice, PT_TOOL_CHOICE_ANY);
    assert_true(isnan(p->r.temperature));
    assert_int_equal(p->r.max_tokens, -1);
    done(p);
}

static void count_tokens_takes_both_forms(void **state)
{
    parsed *p = parse("{\"contents\":[]}", true);
    assert_int_equal(p->rc, 0);
    done(p);
    p = parse("{\"generateContentRequest\":{\"model\":\"models/x\",\"contents\":[{\"parts\":[{\"text\":\"a b\"}]}],"
              "\"systemInstruction\":\"sys\"}}",
              true);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->r.nmsgs, 1);
    assert_true(eq(p->r.system[0].text, "sys"));
    done(p);
}

static void faults_name_the_field(void **state)
{
    refused("[1]", PT_AI_ERR_INVALID, "body: expected a JSON object");
    refused("{}", PT_AI_ERR_INVALID, "contents: field required");
    refused("{\"contents\":[{\"parts\":{}}]}", PT_AI_ERR_INVALID, "contents[0].parts: expected an array");
    refused("{\"contents\":[{\"role\":\"system\",\"parts\":[]}]}", PT_AI_ERR_INVALID, "contents[0].role: expected user or model");
    refused("{\"contents\":[{\"parts\":[{\"text\":1}]}]}", PT_AI_ERR_INVALID, "contents[0].parts[0].text: expected a string");
    refused("{\"contents\":[{\"parts\":[{\"inlineData\":{\"data\":\"AA\"}}]}]}", PT_AI_ERR_INVALID,
            "contents[0].parts[0].inlineData: mimeType required");
    refused("{\"contents\":[{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"args\":{}}}]}]}", PT_AI_ERR_INVALID,
            "contents[0].parts[0].functionCall.name: field required");
    refused("{\"contents\":[{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]}}]}]}",
            PT_AI_ERR_INVALID, "contents[0].parts[0].functionCall.args: expected an object");
    refused("{\"contents\":[{\"role\":\"model\",\"parts\":[{\"functionResponse\":{\"name\":\"f\",\"response\":{}}}]}]}",
            PT_AI_ERR_INVALID, "contents[0].parts[0].functionResponse: belongs in a user turn");
    refused("{\"contents\":[{\"parts\":[{\"executableCode\":{}}]}]}", PT_AI_ERR_UNSUPPORTED,
            "contents[0].parts[0].executableCode: runs on Google's servers");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"generationConfig\":{\"candidateCount\":3}}", PT_AI_ERR_UNSUPPORTED,
            "generationConfig.candidateCount: only 1 candidate");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"generationConfig\":{\"topK\":1.5}}", PT_AI_ERR_INVALID,
            "generationConfig.topK: expected an integer");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"generationConfig\":{\"responseSchema\":{}}}", PT_AI_ERR_INVALID,
            "generationConfig.responseMimeType: a response schema needs");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"tools\":[{\"codeExecution\":{}}]}", PT_AI_ERR_UNSUPPORTED,
            "tools[0].codeExecution: runs on Google's servers");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"SOME\"}}}",
            PT_AI_ERR_INVALID, "toolConfig.functionCallingConfig.mode: expected AUTO");
    refused("{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"cachedContent\":\"cachedContents/1\"}", PT_AI_ERR_UNSUPPORTED,
            "cachedContent: content cached at Google");
}

/* ---- answers ------------------------------------------------------------------------- */

static void answers_carry_signatures_and_usage(void **state)
{
    pt_pivot_resp r;
    pt_pivot_resp_init(&r);
    pt_part parts[4] = {
        { .type = PT_PART_THINKING, .text = PT_SLICE_LIT("think"), .signature = PT_SLICE_LIT("gemini:R2Vt") },
        { .type = PT_PART_THINKING, .text = PT_SLICE_LIT("more"), .signature = PT_SLICE_LIT("anthropic-sig") },
        { .type = PT_PART_TOOL_USE, .id = PT_SLICE_LIT("call_1__sig__c2ln"), .name = PT_SLICE_LIT("f"),
          .arguments = PT_SLICE_LIT("{\"a\":1}") },
        { .type = PT_PART_TOOL_USE, .id = PT_SLICE_LIT("call_2"), .name = PT_SLICE_LIT("g"),
          .arguments = PT_SLICE_LIT("not json") },
    };
    r.parts = parts;
    r.nparts = 4;
    r.stop = PT_STOP_MAX_TOKENS;
    r.usage = (pt_usage){ .input = 10, .output = 30, .cache_read = 5, .cache_write = 0, .reasoning = 8 };
    pt__render_ctx ctx = { .model = PT_SLICE_LIT("m"), .request_id = "req-9" };
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(GEM->render_resp(&r, &ctx, &b), 0);
    assert_string_equal(b.data,
                        "{\"candidates\":[{\"content\":{\"parts\":["
                        "{\"text\":\"think\",\"thought\":true,\"thoughtSignature\":\"R2Vt\"},"
                        "{\"text\":\"more\",\"thought\":true},"
                        "{\"functionCall\":{\"id\":\"call_1\",\"name\":\"f\",\"args\":{\"a\":1}},\"thoughtSignature\":\"c2ln\"},"
                        "{\"functionCall\":{\"id\":\"call_2\",\"name\":\"g\",\"args\":{\"arguments\":\"not json\"}}}"
                        "],\"role\":\"model\"},\"finishReason\":\"MAX_TOKENS\",\"index\":0}],"
                        "\"usageMetadata\":{\"promptTokenCount\":15,\"candidatesTokenCount\":22,\"cachedContentTokenCount\":5,"
                        "\"thoughtsTokenCount\":8,\"totalTokenCount\":45},\"modelVersion\":\"m\",\"responseId\":\"req-9\"}");
    pt_buf_release(&b);
}

/* Feeds events and returns the client bytes. */
static void feed(pt__fmt_stream *st, const pt_ev *evs, size_t n, pt_buf *out)
{
    for (size_t i = 0; i < n; i++) assert_int_equal(GEM->stream_event(st, &evs[i], out), 0);
}

static void streams_frame_as_events_or_one_array(void **state)
{
    pt_ev evs[] = {
        { .type = PT_EV_MESSAGE_START, .id = PT_SLICE_LIT("id1"), .model = PT_SLICE_LIT("m1") },
        { .type = PT_EV_BLOCK_START, .index = 0, .block = PT_PART_TEXT },
        { .type = PT_EV_TEXT_DELTA, .index = 0, .text = PT_SLICE_LIT("Hi") },
        { .type = PT_EV_BLOCK_STOP, .index = 0 },
        { .type = PT_EV_BLOCK_START, .index = 1, .block = PT_PART_TOOL_USE, .id = PT_SLICE_LIT("c1"),
          .name = PT_SLICE_LIT("f"), .text = PT_SLICE_LIT("sig") },
        { .type = PT_EV_TOOL_ARGS_DELTA, .index = 1, .text = PT_SLICE_LIT("{\"a\":") },
        { .type = PT_EV_TOOL_ARGS_DELTA, .index = 1, .text = PT_SLICE_LIT("1}") },
        { .type = PT_EV_BLOCK_STOP, .index = 1 },
        { .type = PT_EV_MESSAGE_DELTA, .stop = PT_STOP_TOOL_USE,
          .usage = { .input = 3, .output = 4, .cache_read = 0, .cache_write = 0, .reasoning = 0 } },
        { .type = PT_EV_MESSAGE_STOP },
    };
    static const char *text_chunk =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"index\":0}],"
        "\"modelVersion\":\"m1\",\"responseId\":\"id1\"}";
    static const char *last_chunk =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"id\":\"c1\",\"name\":\"f\",\"args\":{\"a\":1}},"
        "\"thoughtSignature\":\"sig\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4,\"totalTokenCount\":7},"
        "\"modelVersion\":\"m1\",\"responseId\":\"id1\"}";
    char want[2048];
    pt__fmt_stream st;
    pt_buf b = PT_BUF_INIT;
    pt__render_ctx ctx = { .model = PT_SLICE_LIT("m") };
    GEM->stream_init(&st, &ctx);
    feed(&st, evs, sizeof evs / sizeof evs[0], &b);
    GEM->stream_release(&st);
    snprintf(want, sizeof want, "data: %s\r\n\r\ndata: %s\r\n\r\n", text_chunk, last_chunk);
    assert_string_equal(b.data, want);

    pt_buf_reset(&b);
    ctx.json_array = true;
    GEM->stream_init(&st, &ctx);
    feed(&st, evs, sizeof evs / sizeof evs[0], &b);
    GEM->stream_release(&st);
    snprintf(want, sizeof want, "[%s,\r\n%s]", text_chunk, last_chunk);
    assert_string_equal(b.data, want);

    /* an error after the first chunk closes the array with the error object */
    pt_buf_reset(&b);
    GEM->stream_init(&st, &ctx);
    feed(&st, evs, 3, &b);
    pt_ai_error e;
    pt_ai_error_set(&e, PT_AI_ERR_PROTOCOL, 502, NULL, "cut");
    pt_ev err = { .type = PT_EV_ERROR, .error = &e };
    feed(&st, &err, 1, &b);
    GEM->stream_release(&st);
    snprintf(want, sizeof want, "[%s,\r\n{\"error\":{\"code\":502,\"message\":\"cut\",\"status\":\"UNAVAILABLE\"}}]",
             text_chunk);
    assert_string_equal(b.data, want);
    pt_buf_release(&b);
}

static void errors_use_google_status_names(void **state)
{
    static const struct {
        int status;
        const char *name;
    } cases[] = { { 400, "INVALID_ARGUMENT" }, { 401, "UNAUTHENTICATED" }, { 403, "PERMISSION_DENIED" },
                  { 404, "NOT_FOUND" },        { 413, "INVALID_ARGUMENT" }, { 429, "RESOURCE_EXHAUSTED" },
                  { 500, "INTERNAL" },         { 502, "UNAVAILABLE" },      { 503, "UNAVAILABLE" },
                  { 504, "DEADLINE_EXCEEDED" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pt_ai_error e;
        pt_ai_error_set(&e, PT_AI_ERR_UPSTREAM, cases[i].status, "x", "m \"q\"");
        pt_buf b = PT_BUF_INIT;
        assert_int_equal(pt_ai_render_error(PT_AI_FMT_GEMINI, &e, &b), 0);
        char want[160];
        snprintf(want, sizeof want, "{\"error\":{\"code\":%d,\"message\":\"m \\\"q\\\"\",\"status\":\"%s\"}}",
                 cases[i].status, cases[i].name);
        assert_string_equal(b.data, want);
        pt_buf_release(&b);
    }
}

/* ---- embeddings ------------------------------------------------------------------------ */

static void embeddings_become_openai_bodies_and_back(void **state)
{
    pt_pool a;
    pt_pool_init(&a, 0, 0);
    pt_buf b = PT_BUF_INIT;
    pt_ai_error err;
    const pt_jv *src = NULL;
    const char *batch = "{\"requests\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]},\"outputDimensionality\":8},"
                        "{\"content\":{\"parts\":[{\"text\":\"c\"}]},\"outputDimensionality\":8}]}";
    assert_int_equal(pt__gem_embed_request(batch, strlen(batch), PT_SLICE_LIT("m"), &a, &b, &src, &err), 0);
    assert_string_equal(b.data, "{\"model\":\"m\",\"input\":[\"a\\nb\",\"c\"],\"dimensions\":8}");
    assert_int_equal(pt_jv_len(pt_jv_get(src, "requests")), 2); /* the body as written, for taskType and title */
    pt_buf_reset(&b);
    const char *task = "{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"title\":[1]}";
    assert_int_equal(pt__gem_embed_request(task, strlen(task), PT_SLICE_LIT("m"), &a, &b, &src, &err), -1);
    assert_string_equal(err.message, "body.title: expected a string");
    pt_buf_reset(&b);
    const char *one = "{\"content\":{\"parts\":[{\"text\":\"x\"}]}}";
    assert_int_equal(pt__gem_embed_request(one, strlen(one), PT_SLICE_LIT("m"), &a, &b, &src, &err), 0);
    assert_string_equal(b.data, "{\"model\":\"m\",\"input\":[\"x\"]}");
    pt_buf_reset(&b);
    const char *mixed = "{\"requests\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"outputDimensionality\":8},"
                        "{\"content\":{\"parts\":[{\"text\":\"c\"}]},\"outputDimensionality\":4}]}";
    assert_int_equal(pt__gem_embed_request(mixed, strlen(mixed), PT_SLICE_LIT("m"), &a, &b, &src, &err), -1);
    assert_string_equal(err.message, "requests[1].outputDimensionality: must be the same for every request of a batch");
    pt_buf_reset(&b);
    const char *image = "{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AA\"}}]}}";
    assert_int_equal(pt__gem_embed_request(image, strlen(image), PT_SLICE_LIT("m"), &a, &b, &src, &err), -1);
    assert_int_equal(err.kind, PT_AI_ERR_UNSUPPORTED);
    pt_buf_reset(&b);

    const char *list = "{\"object\":\"list\",\"data\":[{\"embedding\":[1,2]},{\"embedding\":[3.5]}]}";
    assert_int_equal(pt__gem_embed_answer(list, strlen(list), false, &b), 0);
    assert_string_equal(b.data, "{\"embeddings\":[{\"values\":[1,2]},{\"values\":[3.5]}]}");
    pt_buf_reset(&b);
    assert_int_not_equal(pt__gem_embed_answer(list, strlen(list), true, &b), 0); /* two for embedContent */
    pt_buf_reset(&b);
    const char *b64 = "{\"data\":[{\"embedding\":\"AAAA\"}]}";
    assert_int_not_equal(pt__gem_embed_answer(b64, strlen(b64), true, &b), 0);
    pt_buf_release(&b);
    pt_pool_release(&a);
}

/* ---- paths ----------------------------------------------------------------------------- */

static int match(const char *method, const char *path, pt_ai_format *fmt, pt_ai_endpoint *ep)
{
    *fmt = PT_AI_FMT_OPENAI;
    return pt_ai_match(pt_slice_cstr(method), pt_slice_cstr(path), false, fmt, ep);
}

static void gemini_paths_are_matched(void **state)
{
    pt_ai_format f;
    pt_ai_endpoint ep;
    assert_int_equal(match("POST", "/v1beta/models/gemini-2.5-flash:generateContent", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_CHAT);
    assert_int_equal(match("POST", "/v1beta/models/x:streamGenerateContent", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_CHAT);
    assert_int_equal(match("POST", "/v1/models/x:countTokens", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_COUNT_TOKENS);
    assert_int_equal(match("POST", "/v1beta/models/ft:gpt-4o:acme:countTokens", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_COUNT_TOKENS);
    assert_int_equal(match("POST", "/v1beta/models/x:batchEmbedContents", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_EMBEDDINGS);
    assert_int_equal(match("POST", "/v1beta/models/x:embedContent", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_EMBEDDINGS);
    assert_int_equal(match("GET", "/v1beta/models", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_MODELS);
    assert_int_equal(match("GET", "/v1beta/models/x", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_MODEL);
    assert_int_equal(match("GET", "/v1beta/models/ft:gpt-4o:acme", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_GEMINI && ep == PT_AI_EP_MODEL);
    assert_int_equal(match("GET", "/v1beta/models/x:generateContent", &f, &ep), 405);
    assert_int_equal(f, PT_AI_FMT_GEMINI);
    assert_int_equal(match("POST", "/v1beta/models/x:embedThings", &f, &ep), 404);
    assert_int_equal(f, PT_AI_FMT_GEMINI);
    assert_int_equal(match("POST", "/v1beta/files", &f, &ep), 404);
    assert_int_equal(f, PT_AI_FMT_GEMINI); /* so that the 404 is in Google's shape */
    /* OpenAI's own paths are unchanged */
    assert_int_equal(match("GET", "/v1/models/x", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_OPENAI && ep == PT_AI_EP_MODEL);
    assert_int_equal(match("GET", "/v1/models", &f, &ep), 0);
    assert_true(f == PT_AI_FMT_OPENAI && ep == PT_AI_EP_MODELS);
}

static void the_path_names_model_stream_and_framing(void **state)
{
    static const char *body = "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}";
    pt_ai_request *r;
    pt_ai_error err;
    assert_int_equal(pt_ai_request_new_path(PT_AI_FMT_GEMINI, PT_AI_EP_CHAT,
                                            PT_SLICE_LIT("/v1beta/models/team/fast:streamGenerateContent"),
                                            PT_SLICE_LIT("x=1&alt=sse"), body, strlen(body), &r, &err),
                     0);
    assert_true(eq(pt_ai_request_model(r), "team/fast"));
    assert_true(pt_ai_request_stream(r));
    const pt_pivot_req *pv = pt_ai_request_pivot(r, &err);
    assert_true(pv && pv->stream && eq(pv->model, "team/fast"));
    pt_ai_request_free(r);
    assert_int_equal(pt_ai_request_new_path(PT_AI_FMT_GEMINI, PT_AI_EP_CHAT,
                                            PT_SLICE_LIT("/v1beta/models/ft:gpt-4o:acme:generateContent"), PT_SLICE_NULL,
                                            body, strlen(body), &r, &err),
                     0);
    assert_true(eq(pt_ai_request_model(r), "ft:gpt-4o:acme")); /* the verb follows the last ':' */
    pt_ai_request_free(r);
    assert_int_equal(pt_ai_request_new_path(PT_AI_FMT_GEMINI, PT_AI_EP_CHAT, PT_SLICE_LIT("/v1beta/models/m:generateContent"),
                                            PT_SLICE_LIT("alt=ssex"), body, strlen(body), &r, &err),
                     0);
    assert_false(pt_ai_request_stream(r));
    pt_ai_request_free(r);
    assert_int_equal(pt_ai_request_new_path(PT_AI_FMT_GEMINI, PT_AI_EP_CHAT, PT_SLICE_LIT("/v1beta/models/:generateContent"),
                                            PT_SLICE_NULL, body, strlen(body), &r, &err),
                     -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.message, "model: the path names no model");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contents_become_turns),
        cmocka_unit_test(generation_config_tools_and_tool_config),
        cmocka_unit_test(count_tokens_takes_both_forms),
        cmocka_unit_test(faults_name_the_field),
        cmocka_unit_test(answers_carry_signatures_and_usage),
        cmocka_unit_test(streams_frame_as_events_or_one_array),
        cmocka_unit_test(errors_use_google_status_names),
        cmocka_unit_test(embeddings_become_openai_bodies_and_back),
        cmocka_unit_test(gemini_paths_are_matched),
        cmocka_unit_test(the_path_names_model_stream_and_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
