/* Unit tests for ai/prompt.c and ai/prompt_load.c: template parsing, binding to the declared
 * variables, the caller's variables checked (every problem), rendering as message text only,
 * the JSON output check, and a prompt service's keys refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/prompt_load.h"
#include "config/yaml.h"

/* ---- templates ----------------------------------------------------------------------- */

static void templates_split_into_text_and_names(void **state)
{
    pt_tmpl t;
    char why[160];
    const char *src = "Place: {{place}} and {{ units }}.{{x_1}}";
    assert_int_equal(pt_tmpl_parse(src, strlen(src), &t, why, sizeof why), 0);
    assert_int_equal(t.nsegs, 6);
    const char *want[] = { "Place: ", "place", " and ", "units", "." };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(t.segs[i].len, strlen(want[i]));
        assert_memory_equal(t.src + t.segs[i].off, want[i], t.segs[i].len);
        assert_int_equal(t.segs[i].is_var, i % 2 == 1);
    }
    pt_tmpl_release(&t);
    assert_int_equal(pt_tmpl_parse(src, strlen(src), &t, why, sizeof why), 0);
    assert_true(t.segs[t.nsegs - 1].is_var); /* {{x_1}} at the very end */
    pt_tmpl_release(&t);
    assert_int_equal(pt_tmpl_parse("plain } { text", 14, &t, why, sizeof why), 0);
    assert_int_equal(t.nsegs, 1);
    pt_tmpl_release(&t);
}

static void bad_templates_say_where(void **state)
{
    static const struct { const char *src, *want; } bad[] = {
        { "Hi {{name", "at byte 3: '{{' is not closed by '}}'" },
        { "{{}}", "at byte 0: '{{' is not followed by a variable name" },
        { "a {{ 9lives }}", "at byte 2: '{{' is not followed by a variable name" },
        { "a {{na-me}}", "at byte 2: a variable name has letters, digits and '_' only" },
        { "a {{a b}}", "at byte 2: a variable name has letters, digits and '_' only" },
        { "{{", "at byte 0: '{{' is not followed by a variable name" },
        { "caf\xe9 {{x}}", "not UTF-8 text" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_tmpl t;
        char why[160] = "";
        if (pt_tmpl_parse(bad[i].src, strlen(bad[i].src), &t, why, sizeof why) == 0)
            fail_msg("[%s] parsed", bad[i].src);
        if (strcmp(why, bad[i].want) != 0) fail_msg("[%s]: got [%s], want [%s]", bad[i].src, why, bad[i].want);
        assert_null(t.src);
    }
}

/* ---- a prompt from YAML --------------------------------------------------------------- */

typedef struct loaded {
    pt_ai_config *ai;
    pt_prompt *p;
    pt_buf err;
} loaded;

static const char models_yaml[] = "providers: [{ name: o, type: openai, api_key: k }]\n"
                                  "models: [{ name: gpt, targets: [{ provider: o, model: gpt-4o }] }]\n";

static loaded *load(const char *service_yaml)
{
    loaded *x = calloc(1, sizeof *x);
    pt_buf e = PT_BUF_INIT;
    x->ai = pt_ai_config_load_string("m.yaml", models_yaml, strlen(models_yaml), &e);
    if (!x->ai) fail_msg("models: %s", e.data);
    pt_buf_release(&e);
    pt_cfg_node *n = pt_cfg_yaml_parse("s.yaml", service_yaml, strlen(service_yaml), &x->err);
    if (!n) fail_msg("yaml: %s", x->err.data);
    pt_cfg c = { .file = "s.yaml", .err = &x->err };
    x->p = pt_prompt_map(&c, n, x->ai);
    pt_cfg_node_free(n);
    return x;
}

static void unload(loaded *x)
{
    pt_prompt_free(x->p);
    pt_ai_config_free(x->ai);
    pt_buf_release(&x->err);
    free(x);
}

static void expect_load_error(const char *yaml, const char *want)
{
    loaded *x = load(yaml);
    if (x->p) fail_msg("loaded, want [%s]", want);
    if (!x->err.data || !strstr(x->err.data, want)) fail_msg("got [%s], want [%s]", x->err.data ? x->err.data : "", want);
    unload(x);
}

static const char card_yaml[] =
    "name: card\nkind: prompt\nmodel: gpt\n"
    "prompt: { system: 'You write cards. Style: {{style}}', user: 'Place: {{place}} ({{days}} days, alerts {{alerts}})' }\n"
    "variables:\n"
    "  place: { type: string, required: true, min_length: 2, max_length: 10 }\n"
    "  style: { type: enum, values: [short, long], default: short }\n"
    "  days: { type: number, min: 1, max: 7, default: 2 }\n"
    "  alerts: { type: boolean }\n"
    "parameters: { temperature: 0.5, max_tokens: 100 }\n";

static json_t *check_vars(const pt_prompt *p, const char *in, json_t **problems)
{
    json_t *j = json_loads(in, 0, NULL);
    assert_non_null(j);
    *problems = json_array();
    json_t *v = pt_prompt_vars(p, j, *problems);
    json_decref(j);
    return v;
}

static void variables_get_defaults_and_render_as_text(void **state)
{
    loaded *x = load(card_yaml);
    if (!x->p) fail_msg("%s", x->err.data);
    json_t *problems;
    json_t *v = check_vars(x->p, "{\"place\":\"Oslo\",\"alerts\":true}", &problems);
    assert_non_null(v);
    assert_int_equal(json_array_size(problems), 0);
    json_t *msgs = pt_prompt_messages(x->p, v);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "You write cards. Style: short");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), "Place: Oslo (2 days, alerts true)");
    pt_buf body = PT_BUF_INIT;
    assert_int_equal(pt_prompt_body(x->p, msgs, false, &body), 0);
    json_t *b = json_loadb(body.data, body.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "gpt");
    assert_true(json_real_value(json_object_get(b, "temperature")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 100);
    assert_true(json_is_false(json_object_get(b, "stream")));
    json_decref(b);
    pt_buf_release(&body);
    json_decref(msgs);
    json_decref(v);
    json_decref(problems);
    unload(x);
}

static void every_bad_variable_is_named(void **state)
{
    loaded *x = load(card_yaml);
    json_t *problems;
    json_t *v = check_vars(x->p, "{\"place\":\"x\",\"style\":\"medium\",\"days\":0.5,\"alerts\":\"yes\",\"extra\":1}", &problems);
    assert_null(v);
    char *text = json_dumps(problems, JSON_COMPACT);
    assert_string_equal(text, "[{\"variable\":\"place\",\"error\":\"must be at least 2 characters\"},"
                              "{\"variable\":\"style\",\"error\":\"must be one of the declared values\"},"
                              "{\"variable\":\"days\",\"error\":\"must be at least 1\"},"
                              "{\"variable\":\"alerts\",\"error\":\"must be true or false\"},"
                              "{\"variable\":\"extra\",\"error\":\"is not a variable of this API\"}]");
    free(text);
    json_decref(problems);
    v = check_vars(x->p, "{\"place\":\"\xc3\xa9t\xc3\xa9\",\"days\":\"3\"}", &problems); /* 3 characters, 5 bytes */
    assert_null(v);
    text = json_dumps(problems, JSON_COMPACT);
    assert_string_equal(text, "[{\"variable\":\"days\",\"error\":\"must be a number\"}]");
    free(text);
    json_decref(problems);
    v = check_vars(x->p, "{}", &problems);
    assert_null(v);
    assert_int_equal(json_array_size(problems), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(problems, 0), "error")), "is required");
    json_decref(problems);
    unload(x);
}

static void a_value_is_never_template_syntax(void **state)
{
    loaded *x = load(card_yaml);
    json_t *problems;
    json_t *v = check_vars(x->p, "{\"place\":\"{{style}}\",\"alerts\":false}", &problems);
    assert_non_null(v);
    json_t *msgs = pt_prompt_messages(x->p, v);
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Place: {{style}} (2 days, alerts false)");
    assert_int_equal(pt_prompt_add_correction(msgs, "bad", 3, "at /: nope"), 0);
    assert_int_equal(json_array_size(msgs), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "role")), "assistant");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 3), "content")), "at /: nope"));
    json_decref(msgs);
    json_decref(v);
    json_decref(problems);
    unload(x);
}

static void json_output_is_parsed_and_validated(void **state)
{
    loaded *x = load("{ name: c, kind: prompt, model: gpt, prompt: { user: hi },\n"
                     "  output: { json_schema: { type: object, required: [n], properties: { n: { type: integer } } } } }");
    if (!x->p) fail_msg("%s", x->err.data);
    char why[300];
    const char *fenced = "```json\n{\"n\": 3}\n```\n";
    json_t *out = pt_prompt_output(x->p, fenced, strlen(fenced), why, sizeof why);
    assert_non_null(out);
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 3);
    json_decref(out);
    assert_null(pt_prompt_output(x->p, "{\"n\":\"3\"}", 9, why, sizeof why));
    assert_string_equal(why, "at /n: expected an integer, got a string");
    assert_null(pt_prompt_output(x->p, "sure!", 5, why, sizeof why));
    assert_non_null(strstr(why, "the answer is not JSON"));
    /* the schema is announced in the system message, even without a system template */
    json_t *none = json_object();
    json_t *msgs = pt_prompt_messages(x->p, none);
    json_decref(none);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "\"required\":[\"n\"]"));
    json_decref(msgs);
    unload(x);
}

static void bad_services_are_refused_by_key(void **state)
{
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: 'Hi {{who}}' } }",
                      "prompt.user: the variable 'who' is not declared in variables");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { system: '{{x}}', user: 'u' } }",
                      "prompt.system: the variable 'x' is not declared");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: hi }, variables: { w: { type: string, required: true } } }",
                      "variables.w: required but no template uses it");
    expect_load_error("{ name: a, kind: prompt, model: gtp, prompt: { user: hi } }", "model: unknown model 'gtp' (did you mean 'gpt'?)");
    expect_load_error("{ name: a, kind: prompt, prompt: { user: hi } }", "missing required key 'model'");
    expect_load_error("{ name: a, kind: prompt, model: gpt }", "missing required key 'prompt'");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { system: s } }", "prompt: missing required key 'user'");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: '{{n}}' }, variables: { n: { type: number, max_length: 2 } } }",
                      "variables.n.max_length: does not apply to this variable's type");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: '{{n}}' }, variables: { n: { type: enum } } }",
                      "variables.n: an enum variable needs values");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: '{{n}}' }, variables: { n: { type: number, max: 3, default: 5 } } }",
                      "variables.n.default: the default must be at most 3");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: '{{n}}' }, variables: { n: { type: strin } } }",
                      "variables.n.type: unknown type 'strin' (did you mean 'string'?)");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: '{{stream}}' }, variables: { stream: { type: string } } }",
                      "variables.stream: 'stream' is reserved");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: hi }, parameters: { temperature: 3 } }",
                      "parameters.temperature: must be between 0 and 2");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: hi }, output: { json_schema: { type: object, patternProperties: {} } } }",
                      "output.json_schema: at /: unsupported keyword 'patternProperties'");
    expect_load_error("{ name: a, kind: prompt, model: gpt, prompt: { user: hi }, output: xml }",
                      "output: expected text or { json_schema: {...} }, got 'xml'");
}

static void a_plain_number_default_of_a_string_stays_text(void **state)
{
    loaded *x = load("{ name: a, kind: prompt, model: gpt, prompt: { user: 'v{{n}}' }, variables: { n: { type: string, default: 42 } } }");
    if (!x->p) fail_msg("%s", x->err.data);
    json_t *problems;
    json_t *v = check_vars(x->p, "{}", &problems);
    json_t *msgs = pt_prompt_messages(x->p, v);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "v42");
    json_decref(msgs);
    json_decref(v);
    json_decref(problems);
    unload(x);
}

static void a_dry_run_renders_or_lists_the_problems(void **state)
{
    loaded *x = load(card_yaml);
    json_t *in = json_pack("{s:s,s:b}", "place", "Rome", "alerts", 1), *out = NULL;
    assert_int_equal(pt_prompt_render(x->p, in, &out), 200);
    assert_string_equal(json_string_value(json_object_get(out, "model")), "gpt");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "messages"), 1), "content")),
                        "Place: Rome (2 days, alerts true)");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "request"), "max_tokens")), 100);
    json_decref(out);
    json_decref(in);
    in = json_pack("{s:i}", "days", 9);
    assert_int_equal(pt_prompt_render(x->p, in, &out), 400);
    assert_int_equal(json_array_size(out), 2); /* place missing, days too large */
    json_decref(out);
    json_decref(in);
    unload(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_split_into_text_and_names),
        cmocka_unit_test(bad_templates_say_where),
        cmocka_unit_test(variables_get_defaults_and_render_as_text),
        cmocka_unit_test(every_bad_variable_is_named),
        cmocka_unit_test(a_value_is_never_template_syntax),
        cmocka_unit_test(json_output_is_parsed_and_validated),
        cmocka_unit_test(bad_services_are_refused_by_key),
        cmocka_unit_test(a_plain_number_default_of_a_string_stays_text),
        cmocka_unit_test(a_dry_run_renders_or_lists_the_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
