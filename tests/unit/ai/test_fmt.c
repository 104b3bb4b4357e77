/* Unit tests for the client formats (ai/fmt_openai.c, ai/fmt_anthropic.c): what a client
 * body becomes in the pivot, the 400 errors that name the field at fault, error bodies in
 * each format, and the local token estimate. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "ai/fmt.h"
#include "ai/jdom.h"
#include "ai/prov.h"

typedef struct parsed {
    pt_pivot_req r;
    pt_ai_error err;
    int rc;
} parsed;

static parsed *parse(const pt__fmt *f, const char *body, bool for_count)
{
    parsed *p = calloc(1, sizeof *p);
    pt_pivot_req_init(&p->r);
    p->rc = f->parse_chat(body, strlen(body), for_count, &p->r, &p->err);
    return p;
}

static void done(parsed *p)
{
    pt_pivot_req_release(&p->r);
    free(p);
}

/* Parses and expects a 400 whose message starts with want. */
static void refused(const pt__fmt *f, const char *body, pt_ai_err_kind kind, const char *want)
{
    parsed *p = parse(f, body, false);
    assert_int_equal(p->rc, -1);
    assert_int_equal(p->err.kind, kind);
    assert_int_equal(p->err.status, 400);
    if (strncmp(p->err.message, want, strlen(want)) != 0) fail_msg("message [%s] does not start with [%s]", p->err.message, want);
    done(p);
}

#define OAI (&pt__fmt_openai)
#define ANT (&pt__fmt_anthropic)

static void openai_invalid_json_is_400_with_position(void **state)
{
    refused(OAI, "{\"model\":\"m\",", PT_AI_ERR_INVALID, "invalid JSON body:");
    parsed *p = parse(OAI, "{\"model\":\"m\",\"messages\":[}", false);
    assert_non_null(strstr(p->err.message, "syntax error at byte 25"));
    done(p);
}

static void openai_tool_schemas_are_kept_as_written(void **state)
{
    /* forwarded verbatim: numbers and layout are not re-serialised */
    parsed *p = parse(OAI,
                      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
                      "\"function\",\"function\":{\"name\":\"f\",\"parameters\":{ \"type\": \"object\", \"minimum\": 0.10 }}}]}",
                      false);
    assert_int_equal(p->rc, 0);
    assert_true(pt_slice_eq_cstr(p->r.tools[0].schema, "{ \"type\": \"object\", \"minimum\": 0.10 }"));
    done(p);
}

static void openai_required_fields_are_named(void **state)
{
    refused(OAI, "{\"messages\":[]}", PT_AI_ERR_INVALID, "model: field required");
    refused(OAI, "{\"model\":1,\"messages\":[]}", PT_AI_ERR_INVALID, "model: expected a string");
    refused(OAI, "{\"model\":\"m\"}", PT_AI_ERR_INVALID, "messages: field required");
    refused(OAI, "{\"model\":\"m\",\"messages\":{}}", PT_AI_ERR_INVALID, "messages: expected an array");
    refused(OAI, "{\"model\":\"m\",\"messages\":[]}", PT_AI_ERR_INVALID, "messages: must not be empty");
    refused(OAI, "[1]", PT_AI_ERR_INVALID, "request body must be a JSON object");
}

static void openai_wrong_types_name_the_field(void **state)
{
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
            PT_AI_ERR_INVALID, "temperature: expected a number");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
            PT_AI_ERR_INVALID, "max_tokens: must be at least 1");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}",
            PT_AI_ERR_INVALID, "stream: expected a boolean");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\",\"content\":7}]}",
            PT_AI_ERR_INVALID, "messages[1].content: expected a string or an array of content parts");
    refused(OAI,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\","
            "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
            PT_AI_ERR_INVALID, "messages[0].tool_calls[0].id: expected a string");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}", PT_AI_ERR_INVALID,
            "messages[0].tool_call_id: expected a string");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}",
            PT_AI_ERR_INVALID, "stop[0]: expected a string");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"sometimes\"}",
            PT_AI_ERR_INVALID, "tool_choice: expected none, auto, required or a function");
}

static void openai_untranslatable_requests_are_unsupported(void **state)
{
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", PT_AI_ERR_UNSUPPORTED,
            "n: only n=1");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"refusal\"}]}]}",
            PT_AI_ERR_UNSUPPORTED, "messages[0].content[0].type: content parts of type 'refusal'");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":\"f1\"}}]}]}",
            PT_AI_ERR_UNSUPPORTED, "messages[0].content[0].file.file_id: an uploaded file belongs");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":"
                 "{\"data\":\"\",\"format\":\"wav\"}}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0].input_audio.data: empty");
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"web_search\"}]}",
            PT_AI_ERR_UNSUPPORTED, "tools[0].type: tools of type 'web_search'");
}

static void openai_messages_become_turns_and_tool_results(void **state)
{
    parsed *p = parse(OAI,
                      "{\"model\":\"m\",\"messages\":["
                      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"be brief\"}]},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,AAA=\"}},"
                      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]},"
                      "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                      "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
                      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"ok\"},"
                      "{\"role\":\"system\",\"content\":\"late system\"}],"
                      "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"seed\":3,\"stop\":\"END\","
                      "\"reasoning_effort\":\"high\",\"parallel_tool_calls\":false}",
                      false);
    assert_int_equal(p->rc, 0);
    pt_pivot_req *r = &p->r;
    assert_int_equal(r->nsystem, 2);
    assert_true(pt_slice_eq_cstr(r->system[1].text, "late system"));
    assert_int_equal(r->nmsgs, 3);
    assert_int_equal(r->msgs[0].parts[0].type, PT_PART_IMAGE);
    assert_true(pt_slice_eq_cstr(r->msgs[0].parts[0].media_type, "image/jpeg"));
    assert_true(pt_slice_eq_cstr(r->msgs[0].parts[0].data, "AAA="));
    assert_true(pt_slice_eq_cstr(r->msgs[0].parts[1].url, "https://x/y.png"));
    /* an empty assistant content adds no text part */
    assert_int_equal(r->msgs[1].nparts, 1);
    assert_int_equal(r->msgs[1].parts[0].type, PT_PART_TOOL_USE);
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[0].arguments, "{\"a\":1}"));
    assert_int_equal(r->msgs[2].role, PT_ROLE_USER);
    assert_int_equal(r->msgs[2].parts[0].type, PT_PART_TOOL_RESULT);
    assert_true(pt_slice_eq_cstr(r->msgs[2].parts[0].tool_use_id, "c1"));
    assert_true(pt_slice_eq_cstr(r->msgs[2].parts[0].content[0].text, "ok"));
    assert_true(r->stream);
    assert_true(r->include_usage);
    assert_int_equal(r->seed, 3);
    assert_int_equal(r->nstop, 1);
    assert_int_equal(r->reasoning_budget, 24576);
    assert_int_equal(r->parallel_tool_calls, 0);
    done(p);
}

static void openai_only_base64_data_urls(void **state)
{
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                 "\"image_url\":{\"url\":\"data:image/png,raw\"}}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0].image_url.url: only base64 data URLs");
}

static void openai_response_format_json_schema(void **state)
{
    parsed *p = parse(OAI,
                      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":"
                      "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\",\"strict\":true,\"schema\":{\"type\":\"object\"}}}}",
                      false);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->r.response_format, PT_RESP_FORMAT_JSON_SCHEMA);
    assert_true(pt_slice_eq_cstr(p->r.response_schema_name, "r"));
    assert_int_equal(p->r.response_schema_strict, 1);
    assert_true(pt_slice_eq_cstr(p->r.response_schema, "{\"type\":\"object\"}"));
    done(p);
    refused(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}",
            PT_AI_ERR_INVALID, "response_format.type: expected text, json_object or json_schema");
}

static void openai_unset_numbers_stay_unset(void **state)
{
    parsed *p = parse(OAI, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", false);
    assert_int_equal(p->rc, 0);
    assert_true(isnan(p->r.temperature));
    assert_int_equal(p->r.max_tokens, -1);
    assert_int_equal(p->r.seed, -1);
    assert_int_equal(p->r.reasoning_budget, -1);
    assert_int_equal(p->r.tool_choice, PT_TOOL_CHOICE_UNSET);
    done(p);
}

static void anthropic_required_fields_are_named(void **state)
{
    refused(ANT, "{\"model\":\"m\",\"messages\":[]}", PT_AI_ERR_INVALID, "max_tokens: field required");
    refused(ANT, "{\"model\":\"m\",\"max_tokens\":\"9\",\"messages\":[]}", PT_AI_ERR_INVALID, "max_tokens: expected an integer");
    refused(ANT, "{\"max_tokens\":9,\"messages\":[]}", PT_AI_ERR_INVALID, "model: field required");
    refused(ANT, "{\"model\":\"m\",\"max_tokens\":9}", PT_AI_ERR_INVALID, "messages: field required");
    refused(ANT, "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
            PT_AI_ERR_INVALID, "messages[0].role: expected user or assistant");
    refused(ANT, "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\"}]}", PT_AI_ERR_INVALID,
            "messages[0].content: field required");
}

static void anthropic_count_tokens_needs_no_max_tokens(void **state)
{
    parsed *p = parse(ANT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", true);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->r.max_tokens, -1);
    done(p);
}

static void anthropic_blocks_in_the_wrong_turn_are_refused(void **state)
{
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\","
            "\"id\":\"t\",\"name\":\"f\",\"input\":{}}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0]: tool_use blocks belong in assistant turns");
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_result\","
            "\"tool_use_id\":\"t\"}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0]: tool_result blocks belong in user turns");
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
            "\"id\":\"t\",\"name\":\"f\",\"input\":[1]}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0].input: expected an object");
}

static void anthropic_server_tools_and_content_documents_are_unsupported(void **state)
{
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
            "\"web_search_20250305\",\"name\":\"web_search\"}]}",
            PT_AI_ERR_UNSUPPORTED, "tools[0].type: server tools");
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
            "\"source\":{\"type\":\"content\",\"content\":[]}}]}]}",
            PT_AI_ERR_UNSUPPORTED, "messages[0].content[0].source.type: document sources of type 'content'");
    refused(ANT,
            "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\"}]}]}",
            PT_AI_ERR_INVALID, "messages[0].content[0].source.type: field required");
}

static void anthropic_blocks_become_parts(void **state)
{
    parsed *p = parse(ANT,
                      "{\"model\":\"m\",\"max_tokens\":2000,\"system\":[{\"type\":\"text\",\"text\":\"s1\"},{\"type\":\"text\",\"text\":\"s2\"}],"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":["
                      "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"sig\"},{\"type\":\"redacted_thinking\",\"data\":\"zz\"},"
                      "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"a\":[1,2]}}]},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"is_error\":true,\"content\":["
                      "{\"type\":\"text\",\"text\":\"boom\"},{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://i\"}}]}]}],"
                      "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1500},\"tool_choice\":{\"type\":\"any\","
                      "\"disable_parallel_tool_use\":true},\"top_k\":5,\"metadata\":{\"user_id\":\"u1\"}}",
                      false);
    assert_int_equal(p->rc, 0);
    pt_pivot_req *r = &p->r;
    assert_int_equal(r->nsystem, 2);
    assert_int_equal(r->msgs[1].parts[0].type, PT_PART_THINKING);
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[0].signature, "sig"));
    assert_int_equal(r->msgs[1].parts[1].type, PT_PART_REDACTED_THINKING);
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[2].arguments, "{\"a\":[1,2]}"));
    const pt_part *res = &r->msgs[2].parts[0];
    assert_true(res->is_error);
    assert_int_equal(res->ncontent, 2);
    assert_int_equal(res->content[1].type, PT_PART_IMAGE);
    assert_int_equal(r->reasoning_budget, 1500);
    assert_int_equal(r->tool_choice, PT_TOOL_CHOICE_ANY);
    assert_int_equal(r->parallel_tool_calls, 0);
    assert_int_equal(r->top_k, 5);
    assert_true(pt_slice_eq_cstr(r->user, "u1"));
    assert_true(r->include_usage);
    done(p);
}

static void openai_error_body_shape(void **state)
{
    pt_ai_error e = { 0 };
    pt_ai_error_set(&e, PT_AI_ERR_NOT_FOUND, 0, "model", "model 'x' does not exist");
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt__fmt_render_error(&pt__fmt_openai, &e, false, &b), 0);
    assert_string_equal(b.data, "{\"error\":{\"message\":\"model 'x' does not exist\",\"type\":\"invalid_request_error\","
                                "\"param\":\"model\",\"code\":\"model_not_found\"}}");
    assert_int_equal(e.status, 404);
    pt_buf_release(&b);
}

static void anthropic_error_types_follow_the_status(void **state)
{
    static const struct {
        int status;
        const char *type;
    } cases[] = { { 400, "invalid_request_error" }, { 401, "authentication_error" }, { 403, "permission_error" },
                  { 404, "not_found_error" }, { 413, "request_too_large" }, { 429, "rate_limit_error" },
                  { 500, "api_error" }, { 502, "api_error" }, { 503, "overloaded_error" }, { 529, "overloaded_error" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pt_ai_error e = { 0 };
        pt_ai_error_set(&e, PT_AI_ERR_UPSTREAM, cases[i].status, NULL, "m");
        pt_buf b = PT_BUF_INIT;
        pt__fmt_render_error(&pt__fmt_anthropic, &e, false, &b);
        char want[160];
        snprintf(want, sizeof want, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"m\"}}", cases[i].type);
        assert_string_equal(b.data, want);
        pt_buf_release(&b);
    }
}

static void stream_errors_are_framed_per_format(void **state)
{
    pt_ai_error e = { 0 };
    pt_ai_error_set(&e, PT_AI_ERR_TIMEOUT, 0, NULL, "late");
    pt__fmt_stream st;
    pt__render_ctx ctx = { .model = PT_SLICE_LIT("m") };
    pt_buf b = PT_BUF_INIT;
    pt__fmt_openai.stream_init(&st, &ctx);
    pt__fmt_render_error(&pt__fmt_openai, &e, true, &b);
    assert_string_equal(b.data, "data: {\"error\":{\"message\":\"late\",\"type\":\"api_error\",\"param\":null,"
                                "\"code\":\"upstream_timeout\"}}\n\n");
    pt_buf_reset(&b);
    pt__fmt_anthropic.stream_init(&st, &ctx);
    pt__fmt_render_error(&pt__fmt_anthropic, &e, true, &b);
    assert_string_equal(b.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"late\"}}\n\n");
    pt_buf_release(&b);
}

static void estimate_counts_text_messages_tools_and_images(void **state)
{
    /* 40 bytes of text -> 10 tokens; primer 3; 2 messages x 4; one image 1600 */
    parsed *p = parse(OAI,
                      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"0123456789012345678901234567890123456789\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://i\"}}]}]}",
                      false);
    assert_int_equal(p->rc, 0);
    assert_int_equal(pt_pivot_estimate_input_tokens(&p->r), 10 + 3 + 8 + 1600);
    done(p);
    assert_int_equal(pt_pivot_estimate_text_tokens(0), 0);
    assert_int_equal(pt_pivot_estimate_text_tokens(1), 1);
    assert_int_equal(pt_pivot_estimate_text_tokens(4), 1);
    assert_int_equal(pt_pivot_estimate_text_tokens(5), 2);
}

static void data_urls_split_into_type_and_data(void **state)
{
    pt_slice mt, d;
    assert_true(pt__parse_data_url(PT_SLICE_LIT("data:image/webp;base64,UklGR"), &mt, &d));
    assert_true(pt_slice_eq_cstr(mt, "image/webp"));
    assert_true(pt_slice_eq_cstr(d, "UklGR"));
    assert_false(pt__parse_data_url(PT_SLICE_LIT("data:;base64,AAA"), &mt, &d));
    assert_false(pt__parse_data_url(PT_SLICE_LIT("https://x"), &mt, &d));
    assert_false(pt__parse_data_url(PT_SLICE_LIT("data:image/png;base64"), &mt, &d));
}

/* Signatures ride in tool call ids (pivot.c): a round trip, the last separator wins, and
 * a tail that is not base64url leaves the id alone. */
static void tool_ids_carry_signatures(void **state)
{
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_tool_id_sign(&b, PT_SLICE_LIT("call_a__sig__b_0"), PT_SLICE_LIT("Ab+/Cd==")), 0);
    assert_string_equal(b.data, "call_a__sig__b_0__sig__Ab-_Cd");
    pt_slice bare, sig;
    pt_tool_id_split(pt_buf_slice(&b), &bare, &sig);
    assert_true(pt_slice_eq_cstr(bare, "call_a__sig__b_0"));
    assert_true(pt_slice_eq_cstr(sig, "Ab-_Cd"));
    pt_buf_reset(&b);
    assert_int_equal(pt_tool_id_sign(&b, PT_SLICE_LIT("toolu_1"), PT_SLICE_NULL), 0);
    assert_string_equal(b.data, "toolu_1");
    const char *plain[] = { "toolu_1", "x__sig__", "x__sig__a b", "__sig__" };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        pt_tool_id_split(pt_slice_cstr(plain[i]), &bare, &sig);
        assert_true(pt_slice_eq_cstr(bare, plain[i]));
        assert_int_equal(sig.len, 0);
    }
    pt_buf_release(&b);
}


/* ---- Responses ---------------------------------------------------------------------- */

#define RSP (&pt__fmt_responses)

/* Parses and expects a 400 naming param, with a message starting with want. */
static void refused_param(const char *body, pt_ai_err_kind kind, const char *param, const char *want)
{
    parsed *p = parse(RSP, body, false);
    assert_int_equal(p->rc, -1);
    assert_int_equal(p->err.kind, kind);
    assert_int_equal(p->err.status, 400);
    assert_string_equal(p->err.param, param);
    if (strncmp(p->err.message, want, strlen(want)) != 0) fail_msg("message [%s] does not start with [%s]", p->err.message, want);
    done(p);
}

static void responses_bad_input_names_the_field(void **state)
{
    refused_param("{\"input\":\"hi\"}", PT_AI_ERR_INVALID, "model", "model: field required");
    refused_param("{\"model\":7,\"input\":\"hi\"}", PT_AI_ERR_INVALID, "model", "model: expected a string");
    refused_param("{\"model\":\"m\"}", PT_AI_ERR_INVALID, "input", "input: field required");
    refused_param("{\"model\":\"m\",\"input\":{}}", PT_AI_ERR_INVALID, "input", "input: expected a string or an array");
    refused_param("{\"model\":\"m\",\"input\":[]}", PT_AI_ERR_INVALID, "input", "input: must not be empty");
    refused_param("{\"model\":\"m\",\"input\":[3]}", PT_AI_ERR_INVALID, "input[0]", "input[0]: expected an object");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":1}]}", PT_AI_ERR_INVALID, "input[0].type", "input[0].type:");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":\"mystery\"}]}", PT_AI_ERR_UNSUPPORTED, "input[0].type",
                  "input[0].type: input items of type 'mystery'");
    refused_param("{\"model\":\"m\",\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}", PT_AI_ERR_INVALID,
                  "input[0].role", "input[0].role: unknown role 'robot'");
    refused_param("{\"model\":\"m\",\"input\":[{\"role\":\"user\"}]}", PT_AI_ERR_INVALID, "input[0].content",
                  "input[0].content: field required");
    refused_param("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"output_text\",\"text\":1}]}]}",
                  PT_AI_ERR_INVALID, "input[0].content[0].text", "input[0].content[0].text: expected a string");
    refused_param("{\"model\":\"m\",\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"x\"}]}]}",
                  PT_AI_ERR_INVALID, "input[0].content[0].type", "input[0].content[0].type: unknown content type");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\"}]}",
                  PT_AI_ERR_INVALID, "input[0].output", "input[0].output: field required");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":{}}]}",
                  PT_AI_ERR_INVALID, "input[0].arguments", "input[0].arguments: expected a string");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"summary\":[{\"text\":2}]}]}",
                  PT_AI_ERR_INVALID, "input[0].summary[0].text", "input[0].summary[0].text: expected a string");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", PT_AI_ERR_INVALID,
                  "tools[0]", "tools[0].name: field required");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"file_search\"}]}", PT_AI_ERR_UNSUPPORTED,
                  "tools[0]", "tools[0].type: tools of type 'file_search'");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":{\"type\":\"web_search\"}}", PT_AI_ERR_INVALID,
                  "tool_choice", "tool_choice.name: expected a string");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"schema\":[]}}}",
                  PT_AI_ERR_INVALID, "text.format", "text.format.schema: expected an object");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}", PT_AI_ERR_INVALID, "max_output_tokens",
                  "max_output_tokens: must be at least 1");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"store\":\"yes\"}", PT_AI_ERR_INVALID, "store", "store: expected a boolean");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":3}}", PT_AI_ERR_INVALID, "reasoning.effort",
                  "reasoning.effort: expected a string");
    refused_param("{\"model\":\"m\",\"instructions\":\"x\",\"input\":[{\"role\":\"system\",\"content\":\"y\"}]}",
                  PT_AI_ERR_INVALID, "input", "input: no user or assistant content");
}

/* State only OpenAI keeps cannot be translated: unsupported, so that an OpenAI provider
 * gets such a request as it is (ai.c) and other targets are skipped. */
static void responses_state_is_not_kept(void **state)
{
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", PT_AI_ERR_UNSUPPORTED,
                  "previous_response_id", "previous_response_id: the conversation state is kept by OpenAI");
    refused_param("{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"conv_1\"}", PT_AI_ERR_UNSUPPORTED,
                  "conversation", "conversation: conversations are kept by OpenAI");
    refused_param("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_1\"}]}",
                  PT_AI_ERR_UNSUPPORTED, "input[0]", "input[0]: item references need the responses OpenAI stores");
    /* store (the SDK's default) and a null previous_response_id are accepted */
    parsed *p = parse(RSP, "{\"model\":\"m\",\"input\":\"x\",\"store\":true,\"previous_response_id\":null,"
                           "\"metadata\":{\"k\":\"v\"}}", false);
    assert_int_equal(p->rc, 0);
    done(p);
}

static void responses_items_become_turns(void **state)
{
    parsed *p = parse(RSP,
                      "{\"model\":\"m\",\"instructions\":\"Be brief.\",\"input\":["
                      "{\"role\":\"developer\",\"content\":\"No emoji.\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Weather?\"},"
                      "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"}]},"
                      "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Two calls.\"}],"
                      "\"encrypted_content\":\"SIG\"},"
                      "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"w\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
                      "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"w\",\"arguments\":\"\"},"
                      "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"12C\"},"
                      "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":[{\"type\":\"input_text\",\"text\":\"9C\"}]},"
                      "{\"role\":\"user\",\"content\":\"Thanks\"}],"
                      "\"tools\":[{\"type\":\"function\",\"name\":\"w\",\"parameters\":{\"type\":\"object\"},\"strict\":true}],"
                      "\"tool_choice\":{\"type\":\"function\",\"name\":\"w\"},\"max_output_tokens\":50,"
                      "\"reasoning\":{\"effort\":\"high\"},\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"s\","
                      "\"schema\":{\"type\":\"object\"},\"strict\":true}},\"user\":\"u1\",\"parallel_tool_calls\":false}",
                      false);
    assert_int_equal(p->rc, 0);
    pt_pivot_req *r = &p->r;
    assert_int_equal(r->nsystem, 2); /* instructions first, then the developer message */
    assert_true(pt_slice_eq_cstr(r->system[0].text, "Be brief."));
    assert_true(pt_slice_eq_cstr(r->system[1].text, "No emoji."));
    assert_int_equal(r->nmsgs, 3);
    assert_int_equal(r->msgs[0].role, PT_ROLE_USER);
    assert_int_equal(r->msgs[0].nparts, 2);
    assert_int_equal(r->msgs[0].parts[1].type, PT_PART_IMAGE);
    assert_true(pt_slice_eq_cstr(r->msgs[0].parts[1].media_type, "image/png"));
    /* the reasoning and both calls make one assistant turn */
    assert_int_equal(r->msgs[1].role, PT_ROLE_ASSISTANT);
    assert_int_equal(r->msgs[1].nparts, 3);
    assert_int_equal(r->msgs[1].parts[0].type, PT_PART_THINKING);
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[0].text, "Two calls."));
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[0].signature, "SIG"));
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[1].arguments, "{\"city\":\"Paris\"}"));
    assert_true(pt_slice_eq_cstr(r->msgs[1].parts[2].arguments, "{}"));
    /* both results make one user turn, the text after them joins it (results first) */
    assert_int_equal(r->msgs[2].role, PT_ROLE_USER);
    assert_int_equal(r->msgs[2].nparts, 3);
    assert_int_equal(r->msgs[2].parts[2].type, PT_PART_TEXT);
    assert_true(pt_slice_eq_cstr(r->msgs[2].parts[1].tool_use_id, "c2"));
    assert_true(pt_slice_eq_cstr(r->msgs[2].parts[1].content[0].text, "9C"));
    assert_int_equal(r->ntools, 1);
    assert_true(pt_slice_eq_cstr(r->tools[0].schema, "{\"type\":\"object\"}"));
    assert_int_equal(r->tool_choice, PT_TOOL_CHOICE_TOOL);
    assert_int_equal(r->max_tokens, 50);
    assert_true(pt_slice_eq_cstr(r->reasoning_effort, "high"));
    assert_int_equal(r->response_format, PT_RESP_FORMAT_JSON_SCHEMA);
    assert_int_equal(r->response_schema_strict, 1);
    assert_int_equal(r->parallel_tool_calls, 0);
    assert_true(pt_slice_eq_cstr(r->user, "u1"));
    done(p);
}

/* Many calls in one turn grow one array: nothing is lost past the first doubling. */
static void responses_many_calls_in_one_turn(void **state)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_str(&b, "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"go\"}");
    for (int i = 0; i < 40; i++) pt_buf_printf(&b, ",{\"type\":\"function_call\",\"call_id\":\"c%d\",\"name\":\"f\",\"arguments\":\"{}\"}", i);
    for (int i = 0; i < 40; i++) pt_buf_printf(&b, ",{\"type\":\"function_call_output\",\"call_id\":\"c%d\",\"output\":\"r%d\"}", i, i);
    pt_buf_append_str(&b, "]}");
    parsed *p = parse(RSP, b.data, false);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->r.nmsgs, 3);
    assert_int_equal(p->r.msgs[1].nparts, 40);
    assert_int_equal(p->r.msgs[2].nparts, 40);
    for (int i = 0; i < 40; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", i);
        assert_true(pt_slice_eq_cstr(p->r.msgs[1].parts[i].id, id));
        assert_true(pt_slice_eq_cstr(p->r.msgs[2].parts[i].tool_use_id, id));
    }
    done(p);
    pt_buf_release(&b);
}

/* A passed-through answer's usage is read from its text without a tree: the same figures
 * as the tree's reader, whatever the object holds. */
static void openai_usage_read_from_text_as_from_the_tree(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"prompt_tokens\":9,\"completion_tokens\":7,\"total_tokens\":16}",
        "{\"prompt_tokens\":120,\"completion_tokens\":45,\"prompt_tokens_details\":{\"cached_tokens\":64},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":12}}",
        "{\"prompt_tokens\":10,\"prompt_tokens_details\":{\"cached_tokens\":99}}",
        "{\"prompt_tokens\":10,\"completion_tokens\":3,\"prompt_cache_hit_tokens\":4}",
        "{\"prompt_tokens\":10,\"prompt_tokens_details\":null,\"prompt_cache_hit_tokens\":4}",
        "{\"prompt_tokens\":-0,\"completion_tokens\":-3}",
        "{\"prompt_tokens\":1.5,\"completion_tokens\":2e1}",
        "{\"prompt_tokens\":\"9\",\"completion_tokens\":true}",
        "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":9223372036854775808}",
        "{\"prompt_tokens\":5,\"prompt_tokens\":6,\"completion_\\u0074okens\":2}",
        "{\"prompt_tokens\":5,}",
        "[1,2]",
        "null",
        "{}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pt_pool a;
        pt_pool_init(&a, 0, 0);
        pt_usage tree, text;
        pt__oai_usage(pt_jdom_parse(&a, cases[i], strlen(cases[i]), NULL), &tree);
        pt__oai_usage_text(cases[i], strlen(cases[i]), &text);
        pt_pool_release(&a);
        if (memcmp(&tree, &text, sizeof tree) != 0) fail_msg("usage read differently from %s", cases[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openai_invalid_json_is_400_with_position),
        cmocka_unit_test(openai_usage_read_from_text_as_from_the_tree),
        cmocka_unit_test(openai_tool_schemas_are_kept_as_written),
        cmocka_unit_test(openai_required_fields_are_named),
        cmocka_unit_test(openai_wrong_types_name_the_field),
        cmocka_unit_test(openai_untranslatable_requests_are_unsupported),
        cmocka_unit_test(tool_ids_carry_signatures),
        cmocka_unit_test(openai_messages_become_turns_and_tool_results),
        cmocka_unit_test(openai_only_base64_data_urls),
        cmocka_unit_test(openai_response_format_json_schema),
        cmocka_unit_test(openai_unset_numbers_stay_unset),
        cmocka_unit_test(anthropic_required_fields_are_named),
        cmocka_unit_test(anthropic_count_tokens_needs_no_max_tokens),
        cmocka_unit_test(anthropic_blocks_in_the_wrong_turn_are_refused),
        cmocka_unit_test(anthropic_server_tools_and_content_documents_are_unsupported),
        cmocka_unit_test(anthropic_blocks_become_parts),
        cmocka_unit_test(openai_error_body_shape),
        cmocka_unit_test(anthropic_error_types_follow_the_status),
        cmocka_unit_test(stream_errors_are_framed_per_format),
        cmocka_unit_test(estimate_counts_text_messages_tools_and_images),
        cmocka_unit_test(data_urls_split_into_type_and_data),
        cmocka_unit_test(responses_bad_input_names_the_field),
        cmocka_unit_test(responses_state_is_not_kept),
        cmocka_unit_test(responses_items_become_turns),
        cmocka_unit_test(responses_many_calls_in_one_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
