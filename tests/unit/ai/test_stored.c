/* Unit tests for ai/stored.c: the operations and ids of /v1/responses/{id}, what a
 * request asks of storing, conversations continued byte for byte from a stored response
 * (function calls and reasoning included, through the real Responses parser), the input
 * items listing with its pagination, and the OpenAI error shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "ai/ai.h"
#include "ai/stored.h"

static json_t *parsed(const pt_buf *b)
{
    json_t *j = json_loadb(b->data, b->len, 0, NULL);
    if (!j) fail_msg("not JSON: %.*s", (int)b->len, b->data);
    return j;
}

static void paths_name_the_operation_and_the_id(void **state)
{
    char id[PT_AI_RESP_ID_MAX];
    pt_slice raw;
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/responses/resp_1"), id, sizeof id, &raw),
                     PT_AI_STORED_GET);
    assert_string_equal(id, "resp_1");
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("DELETE"), PT_SLICE_LIT("/responses/resp_2"), id, sizeof id, &raw),
                     PT_AI_STORED_DELETE);
    assert_string_equal(id, "resp_2");
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("GET"), PT_SLICE_LIT("/v1/responses/resp_3/input_items"), id,
                                        sizeof id, &raw),
                     PT_AI_STORED_INPUT_ITEMS);
    assert_string_equal(id, "resp_3");
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("POST"), PT_SLICE_LIT("/v1/responses/resp_3/cancel"), id, sizeof id,
                                        &raw),
                     PT_AI_STORED_OTHER);
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("PUT"), PT_SLICE_LIT("/v1/responses/resp_3"), id, sizeof id, &raw),
                     PT_AI_STORED_OTHER);
    char longpath[400] = "/v1/responses/resp_";
    memset(longpath + strlen(longpath), 'a', 200);
    assert_int_equal(pt_ai_stored_parse(PT_SLICE_LIT("GET"), pt_slice_cstr(longpath), id, sizeof id, &raw),
                     PT_AI_STORED_GET);
    assert_string_equal(id, ""); /* too long: malformed */
    assert_int_equal(raw.len, 205);
}

static void ids_are_checked(void **state)
{
    assert_true(pt_ai_stored_id_ok("resp_abc-DEF_123"));
    assert_false(pt_ai_stored_id_ok("resp_"));
    assert_false(pt_ai_stored_id_ok("msg_abc"));
    assert_false(pt_ai_stored_id_ok("resp_a b"));
    assert_false(pt_ai_stored_id_ok("resp_a'); DROP TABLE responses;--"));
    assert_false(pt_ai_stored_id_ok(""));
}

static void requests_say_store_and_previous_id(void **state)
{
    bool store;
    char prev[PT_AI_RESP_ID_MAX];
    const char *b1 = "{\"model\":\"m\",\"input\":\"hi\"}";
    assert_int_equal(pt_ai_stored_request(b1, strlen(b1), true, &store, prev, sizeof prev), 0);
    assert_true(store);
    assert_string_equal(prev, "");
    assert_int_equal(pt_ai_stored_request(b1, strlen(b1), false, &store, prev, sizeof prev), 0);
    assert_false(store);
    const char *b2 = "{\"model\":\"m\",\"store\":false,\"previous_response_id\":\"resp_9\",\"input\":\"hi\"}";
    assert_int_equal(pt_ai_stored_request(b2, strlen(b2), true, &store, prev, sizeof prev), 0);
    assert_false(store);
    assert_string_equal(prev, "resp_9");
    const char *b3 = "{\"model\":\"m\",\"previous_response_id\":null,\"store\":null,\"input\":\"hi\"}";
    assert_int_equal(pt_ai_stored_request(b3, strlen(b3), true, &store, prev, sizeof prev), 0);
    assert_true(store);
    assert_string_equal(prev, "");
    const char *b4 = "{\"model\":\"m\",\"previous_response_id\":42,\"input\":\"hi\"}";
    assert_int_equal(pt_ai_stored_request(b4, strlen(b4), true, &store, prev, sizeof prev), -1);
}

/* A stored turn that called a tool after reasoning, continued with the tool's output. */
static const char *PREV_INPUT = "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Weather in Paris?\"}]";
static const char *PREV_RESPONSE =
    "{\"id\":\"resp_1\",\"object\":\"response\",\"output\":["
    "{\"id\":\"rs_1_0\",\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Need the tool.\"}],"
    "\"encrypted_content\":\"sig-1\"},"
    "{\"id\":\"fc_1_1\",\"type\":\"function_call\",\"status\":\"completed\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\","
    "\"call_id\":\"call_7\",\"name\":\"get_weather\"}],\"usage\":null}";

static void a_conversation_is_continued_byte_for_byte(void **state)
{
    const char *body = "{\"model\":\"claude\",\"previous_response_id\":\"resp_1\",\"tools\":[{\"type\":\"function\","
                       "\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}],\"input\":[{\"type\":"
                       "\"function_call_output\",\"call_id\":\"call_7\",\"output\":\"sunny\"}],\"temperature\":0.7}";
    pt_buf out = PT_BUF_INIT;
    assert_int_equal(pt_ai_stored_expand(body, strlen(body), PREV_INPUT, PREV_RESPONSE, &out), 0);
    /* everything else as written, previous_response_id null, input the whole conversation */
    assert_non_null(strstr(out.data, "\"previous_response_id\":null,\"tools\":[{\"type\":\"function\",\"name\":"
                                     "\"get_weather\",\"parameters\":{\"type\":\"object\"}}],\"input\":[{\"type\":"
                                     "\"message\",\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"id\":\"rs_1_0\""));
    assert_non_null(strstr(out.data, "\"temperature\":0.7}"));
    json_t *j = parsed(&out);
    json_t *in = json_object_get(j, "input");
    assert_int_equal(json_array_size(in), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(in, 1), "type")), "reasoning");
    assert_string_equal(json_string_value(json_object_get(json_array_get(in, 2), "type")), "function_call");
    assert_string_equal(json_string_value(json_object_get(json_array_get(in, 3), "type")), "function_call_output");
    json_decref(j);

    /* the Responses parser reads it as one conversation: the user, the assistant's reasoning
     * and call (one turn), the tool's result */
    pt_ai_request *r;
    pt_ai_error e;
    assert_int_equal(pt_ai_request_new(PT_AI_FMT_RESPONSES, PT_AI_EP_CHAT, out.data, out.len, &r, &e), 0);
    const pt_pivot_req *p = pt_ai_request_pivot(r, &e);
    assert_non_null(p);
    assert_int_equal(p->nmsgs, 3);
    assert_int_equal(p->msgs[1].role, PT_ROLE_ASSISTANT);
    assert_int_equal(p->msgs[1].nparts, 2);
    assert_int_equal(p->msgs[1].parts[0].type, PT_PART_THINKING);
    assert_true(pt_slice_eq_cstr(p->msgs[1].parts[0].signature, "sig-1"));
    assert_int_equal(p->msgs[1].parts[1].type, PT_PART_TOOL_USE);
    assert_true(pt_slice_eq_cstr(p->msgs[1].parts[1].id, "call_7"));
    assert_int_equal(p->msgs[2].parts[0].type, PT_PART_TOOL_RESULT);
    assert_true(pt_slice_eq_cstr(p->msgs[2].parts[0].tool_use_id, "call_7"));
    pt_ai_request_free(r);
    pt_buf_release(&out);
}

static void a_string_input_follows_as_a_user_message(void **state)
{
    const char *body = "{\"input\":\"and then?\",\"model\":\"m\",\"previous_response_id\":\"resp_1\"}";
    const char *resp = "{\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
                       "\"output_text\",\"text\":\"Hello\"}]}]}";
    pt_buf out = PT_BUF_INIT;
    assert_int_equal(pt_ai_stored_expand(body, strlen(body), "[]", resp, &out), 0);
    assert_string_equal(out.data, "{\"input\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
                                  "\"output_text\",\"text\":\"Hello\"}]},{\"type\":\"message\",\"role\":\"user\","
                                  "\"content\":\"and then?\"}],\"model\":\"m\",\"previous_response_id\":null}");
    pt_buf_reset(&out);
    assert_int_equal(pt_ai_stored_expand(body, strlen(body), "{}", resp, &out), -1); /* not an array */
    assert_int_equal(pt_ai_stored_expand(body, strlen(body), "[]", "{\"output\":3}", &out), -1);
    const char *noinput = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\"}";
    assert_int_equal(pt_ai_stored_expand(noinput, strlen(noinput), "[]", resp, &out), -1);
    pt_buf_release(&out);
}

static void the_input_to_keep_is_an_array_of_items(void **state)
{
    pt_buf out = PT_BUF_INIT;
    const char *b1 = "{\"model\":\"m\",\"input\":\"hi \\\"you\\\"\"}";
    assert_int_equal(pt_ai_stored_input(b1, strlen(b1), &out), 0);
    assert_string_equal(out.data, "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"hi \\\"you\\\"\"}]");
    pt_buf_reset(&out);
    const char *b2 = "{\"model\":\"m\",\"input\":[ {\"role\":\"user\",\"content\":\"a\"} ]}";
    assert_int_equal(pt_ai_stored_input(b2, strlen(b2), &out), 0);
    assert_string_equal(out.data, "[{\"role\":\"user\",\"content\":\"a\"}]");
    pt_buf_reset(&out);
    assert_int_equal(pt_ai_stored_input("{\"model\":\"m\"}", 13, &out), -1);
    pt_buf_release(&out);
}

static const char *INPUT = "[{\"role\":\"user\",\"content\":\"one\"},{\"type\":\"message\",\"role\":\"assistant\","
                           "\"id\":\"msg_x_0\",\"content\":[{\"type\":\"output_text\",\"text\":\"two\"}]},"
                           "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"three\"}]";

static json_t *listing(const char *query, int want)
{
    pt_buf out = PT_BUF_INIT;
    assert_int_equal(pt_ai_stored_render_input_items("resp_abc", INPUT, pt_slice_cstr(query), &out), want);
    json_t *j = parsed(&out);
    pt_buf_release(&out);
    return j;
}

static const char *nth_id(json_t *list, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(list, "data"), i), "id"));
}

static void input_items_are_listed_newest_first_in_pages(void **state)
{
    json_t *j = listing("", 200);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    assert_int_equal(json_array_size(json_object_get(j, "data")), 3);
    assert_string_equal(nth_id(j, 0), "fco_abc_in2"); /* desc by default; ids given where missing */
    assert_string_equal(nth_id(j, 1), "msg_x_0");     /* kept where present */
    assert_string_equal(nth_id(j, 2), "msg_abc_in0");
    json_t *first = json_array_get(json_object_get(j, "data"), 2);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "message");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(first, "content"), 0), "type")),
                        "input_text");
    assert_string_equal(json_string_value(json_object_get(j, "first_id")), "fco_abc_in2");
    assert_string_equal(json_string_value(json_object_get(j, "last_id")), "msg_abc_in0");
    assert_false(json_is_true(json_object_get(j, "has_more")));
    json_decref(j);

    j = listing("order=asc&limit=2", 200);
    assert_string_equal(nth_id(j, 0), "msg_abc_in0");
    assert_string_equal(nth_id(j, 1), "msg_x_0");
    assert_true(json_is_true(json_object_get(j, "has_more")));
    json_decref(j);
    j = listing("order=asc&limit=2&after=msg_x_0", 200);
    assert_int_equal(json_array_size(json_object_get(j, "data")), 1);
    assert_string_equal(nth_id(j, 0), "fco_abc_in2");
    assert_false(json_is_true(json_object_get(j, "has_more")));
    json_decref(j);
}

static void bad_listing_queries_are_400(void **state)
{
    static const char *const bad[][2] = { { "limit=0", "limit" }, { "limit=101", "limit" }, { "limit=x", "limit" },
                                          { "order=up", "order" }, { "after=nope", "after" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = listing(bad[i][0], 400);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "param")), bad[i][1]);
        json_decref(j);
    }
}

static void answers_have_openai_shapes(void **state)
{
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_ai_stored_render_deleted("resp_1", &b), 0);
    assert_string_equal(b.data, "{\"id\":\"resp_1\",\"object\":\"response\",\"deleted\":true}");
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_stored_not_found("resp_1", &b), 404);
    json_t *j = parsed(&b);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "Response with id 'resp_1' not found.");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "invalid_request_error");
    assert_true(json_is_null(json_object_get(e, "code")));
    json_decref(j);
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_stored_prev_not_found("resp_2", &b), 400);
    j = parsed(&b);
    e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "previous_response_not_found");
    assert_string_equal(json_string_value(json_object_get(e, "param")), "previous_response_id");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "Previous response with id 'resp_2' not found.");
    json_decref(j);
    pt_buf_reset(&b);
    assert_int_equal(pt_ai_stored_bad_id("response_id", PT_SLICE_LIT("x\"y"), &b), 400);
    j = parsed(&b); /* quoted input stays valid JSON */
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "invalid_value");
    json_decref(j);
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths_name_the_operation_and_the_id),
        cmocka_unit_test(ids_are_checked),
        cmocka_unit_test(requests_say_store_and_previous_id),
        cmocka_unit_test(a_conversation_is_continued_byte_for_byte),
        cmocka_unit_test(a_string_input_follows_as_a_user_message),
        cmocka_unit_test(the_input_to_keep_is_an_array_of_items),
        cmocka_unit_test(input_items_are_listed_newest_first_in_pages),
        cmocka_unit_test(bad_listing_queries_are_400),
        cmocka_unit_test(answers_have_openai_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
