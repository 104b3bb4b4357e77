/* Unit tests for the `policies:` section (limits/policy.c through gateway/config.c):
 * defaults, the order checks run in, and every refusal naming its field; the `mask:`
 * member of a policy and a route's `call_log:` bodies (mask/mask_config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "limits/policy.h"
#include "mask/mask_config.h"

#define BASE                                                                \
    "admin: { enabled: false }\n"                                           \
    "services:\n  - name: orders\n    targets: [\"http://127.0.0.1:9001\"]\n" \
    "routes:\n  - name: orders-api\n    match: { path_prefix: /o/ }\n    service: orders\n"
/* BASE is 8 lines; the policies start on line 9 */

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("t.yaml", yaml, strlen(yaml), err);
}

static void expect_error(const char *policies, const char *message)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", BASE, policies);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(yaml, &err);
    if (cfg) {
        pt_config_release(cfg);
        fail_msg("loaded, but expected: %s", message);
    }
    assert_non_null(err.data);
    assert_string_equal(err.data, message);
    pt_buf_release(&err);
}

static void policies_load_with_defaults_most_specific_first(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(BASE "policies:\n"
                               "  - name: gw\n    concurrency: 100\n"
                               "  - name: svc\n    applies_to: { service: orders }\n    group_by: consumer\n"
                               "    rate: { requests: 1000, per: 1m }\n"
                               "  - name: free-tier\n    applies_to: { consumer: acme-app }\n"
                               "    rate: { requests: 1000, per: 1m, burst: 50 }\n    concurrency: 20\n"
                               "  - name: gpt\n    applies_to: { model: gpt-4o }\n    rate: { requests: 5, per: 1h }\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_policy_table *t = cfg->policies;
    assert_non_null(t);
    assert_int_equal(t->n, 4);
    assert_true(t->has_model);
    assert_string_equal(t->v[0].name, "free-tier");
    assert_int_equal(t->v[0].scope, PT_POLICY_CONSUMER);
    assert_string_equal(t->v[0].match, "acme-app");
    assert_int_equal(t->v[0].burst, 50);
    assert_int_equal(t->v[0].gcra.interval_ns, 60000000ull);
    assert_int_equal(t->v[0].concurrency, 20);
    assert_string_equal(t->v[1].name, "gpt");
    assert_int_equal(t->v[1].per_ms, 3600000);
    assert_string_equal(t->v[2].name, "svc");
    assert_int_equal(t->v[2].group_by, PT_GROUP_CONSUMER);
    assert_int_equal(t->v[2].burst, 1000); /* burst defaults to the whole window */
    assert_string_equal(t->v[3].name, "gw");
    assert_int_equal(t->v[3].scope, PT_POLICY_ALL);
    assert_false(t->v[3].has_rate);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

/* rate.slack: a count, or a share of requests rounded up; none means every call asks. */
static void slack_is_a_count_or_a_share(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(BASE "policies:\n"
                               "  - name: a\n    rate: { slack: 2%, requests: 1000, per: 1m }\n"
                               "  - name: b\n    rate: { requests: 999, per: 1m, slack: 0.5% }\n"
                               "  - name: c\n    rate: { requests: 100, per: 1m, burst: 10, slack: 10 }\n"
                               "  - name: d\n    rate: { requests: 100, per: 1m }\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_policy_table *t = cfg->policies;
    assert_int_equal(t->v[0].slack, 20);
    assert_int_equal(t->v[1].slack, 5); /* 4.995 rounded up */
    assert_int_equal(t->v[2].slack, 10);
    assert_int_equal(t->v[3].slack, 0);
    pt_config_release(cfg);
    pt_buf_release(&err);
    expect_error("policies:\n  - name: a\n    rate: { requests: 100, per: 1m, burst: 10, slack: 11 }\n",
                 "t.yaml:11: policies[0].rate.slack: slack cannot be more calls than the burst (rate.burst)");
    expect_error("policies:\n  - name: a\n    rate: { requests: 100, per: 1m, slack: 101 }\n",
                 "t.yaml:11: policies[0].rate.slack: slack cannot be more calls than the burst (requests, by default)");
    expect_error("policies:\n  - name: a\n    rate: { requests: 100, per: 1m, slack: 2 percent }\n",
                 "t.yaml:11: policies[0].rate.slack: expected a number of calls (20) or a share of requests (2%), "
                 "got '2 percent'");
    expect_error("policies:\n  - name: a\n    rate: { requests: 100, per: 1m, slack: 120% }\n",
                 "t.yaml:11: policies[0].rate.slack: expected a number of calls (20) or a share of requests (2%), "
                 "got '120%'");
    expect_error("policies:\n  - name: a\n    rate: { requests: 100, per: 1m, slack: 1.5 }\n",
                 "t.yaml:11: policies[0].rate.slack: expected a number of calls (20) or a share of requests (2%), "
                 "got '1.5'");
}

static void no_policies_is_no_table(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(BASE "policies: []\n", &err);
    assert_non_null(cfg);
    assert_null(cfg->policies);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void bad_policies_are_refused_naming_the_field(void **state)
{
    expect_error("policies:\n  - name: a\n    rate: { requests: 10, per: 1m }\n  - name: a\n    concurrency: 1\n",
                 "t.yaml:12: policies[1].name: duplicate policy name 'a' (also policies[0])");
    expect_error("policies:\n  - name: a\n    rate: { requests: 10, per: 1 fortnight }\n",
                 "t.yaml:11: policies[0].rate.per: expected a duration like 500ms, 10s, 2m or 1h (a plain "
                 "number is milliseconds), got '1 fortnight'");
    expect_error("policies:\n  - name: a\n    rate: { requests: 10, per: 500ms }\n",
                 "t.yaml:11: policies[0].rate.per: must be between 1s and 30d, got '500ms'");
    expect_error("policies:\n  - name: a\n    rate: { requests: 0, per: 1m }\n",
                 "t.yaml:11: policies[0].rate.requests: must be between 1 and 1000000000, got '0'");
    expect_error("policies:\n  - name: a\n    rate: { per: 1m }\n",
                 "t.yaml:11: policies[0].rate: missing required key 'requests'");
    expect_error("policies:\n  - name: a\n    rate: { requests: 5, per: 1m, brust: 3 }\n",
                 "t.yaml:11: policies[0].rate.brust: unknown key (did you mean 'burst'?)");
    expect_error("policies:\n  - name: a\n    concurency: 3\n",
                 "t.yaml:11: policies[0].concurency: unknown key (did you mean 'concurrency'?)");
    expect_error("policies:\n  - name: a\n    concurrency: 0\n",
                 "t.yaml:11: policies[0].concurrency: must be between 1 and 1000000, got '0'");
    expect_error("policies:\n  - name: a\n    applies_to: { consumer: x }\n",
                 "t.yaml:10: policies[0]: policy 'a' limits nothing: give rate, concurrency, tokens, quota or budget");
    expect_error("policies:\n  - name: a\n    applies_to: { service: billing }\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].applies_to.service: no service named 'billing' is configured");
    expect_error("policies:\n  - name: a\n    applies_to: { route: nope }\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].applies_to.route: no route named 'nope' is configured");
    expect_error("policies:\n  - name: a\n    applies_to: { consumer: x, team: y }\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].applies_to: name one of service, route, model, team, consumer or key, "
                 "not 2 (use group_by to count each consumer, team or key apart)");
    expect_error("policies:\n  - name: a\n    applies_to: { user: x }\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].applies_to.user: unknown key (expected one of: service, route, model, "
                 "team, consumer, key)");
    expect_error("policies:\n  - name: a\n    group_by: user\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].group_by: unknown group_by 'user' (expected one of: consumer, team, key)");
    expect_error("policies:\n  - name: a b\n    concurrency: 2\n",
                 "t.yaml:10: policies[0].name: 'a b' may only contain letters, digits, '-', '_' and '.'");
    expect_error("policies:\n  - concurrency: 2\n", "t.yaml:10: policies[0]: missing required key 'name'");
    expect_error("policies:\n  - name: a\n    applies_to: { consumer: \"\" }\n    concurrency: 2\n",
                 "t.yaml:11: policies[0].applies_to.consumer: expected a name, got an empty string");
    expect_error("policies:\n  - name: a\n    applies_to: { key: x }\n    group_by: team\n    concurrency: 2\n",
                 "t.yaml:12: policies[0].group_by: a consumer's or key's calls all belong to one team: group_by "
                 "team splits nothing");
    expect_error("policies:\n  - name: a\n    rate: 5\n",
                 "t.yaml:11: policies[0].rate: expected a mapping such as { requests: 1000, per: 1m, burst: 50 }, "
                 "got a single value");
}

static void tokens_quota_and_budget_load(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(BASE "policies:\n"
                               "  - name: spend\n    applies_to: { consumer: acme }\n"
                               "    tokens: { per_minute: 40000 }\n"
                               "    quota: { requests_per_day: 50000, tokens_per_month: 5000000, time_zone: Europe/Paris }\n"
                               "    budget: { usd_per_day: 0.01, usd_per_month: 100, soft_at: 0.8, time_zone: Europe/Paris,\n"
                               "              webhook: \"http://127.0.0.1:9/hook\" }\n"
                               "    on_store_error: closed\n"
                               "  - name: q\n    quota: { requests_per_month: 7 }\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_policy *p = &cfg->policies->v[0];
    assert_string_equal(p->name, "spend");
    assert_int_equal(p->tokens_per_minute, 40000);
    assert_int_equal(p->tokens_gcra.interval_ns, 1500000ull); /* 60 s / 40,000 */
    assert_int_equal(p->window[PT_WIN_REQ_DAY], 50000);
    assert_int_equal(p->window[PT_WIN_REQ_MONTH], 0);
    assert_int_equal(p->window[PT_WIN_TOK_MONTH], 5000000);
    assert_int_equal(p->window[PT_WIN_USD_DAY], 10000);      /* micro-dollars */
    assert_int_equal(p->window[PT_WIN_USD_MONTH], 100000000);
    assert_int_equal(p->soft_permille, 800);
    assert_string_equal(p->webhook, "http://127.0.0.1:9/hook");
    assert_string_equal(p->time_zone, "Europe/Paris");
    assert_non_null(p->tz);
    assert_true(p->store_closed);
    assert_true(p->has_windows);
    assert_string_equal(p->field_tokens, "\"spend/tokens\";q=40000;w=60;qu=\"tokens\"");
    p = &cfg->policies->v[1];
    assert_null(p->time_zone); /* UTC */
    assert_false(p->store_closed);
    assert_int_equal(p->window[PT_WIN_REQ_MONTH], 7);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void bad_tokens_quotas_and_budgets_name_the_field(void **state)
{
    expect_error("policies:\n  - name: a\n    tokens: { per_minute: 0 }\n",
                 "t.yaml:11: policies[0].tokens.per_minute: must be between 1 and 10000000000, got '0'");
    expect_error("policies:\n  - name: a\n    tokens: { per_hour: 5 }\n",
                 "t.yaml:11: policies[0].tokens.per_hour: unknown key (expected one of: per_minute)");
    expect_error("policies:\n  - name: a\n    tokens: 5000\n",
                 "t.yaml:11: policies[0].tokens: expected a mapping such as { per_minute: 40000 } (input + output "
                 "tokens), got a single value");
    expect_error("policies:\n  - name: a\n    quota: { requests_per_day: 0 }\n",
                 "t.yaml:11: policies[0].quota.requests_per_day: must be between 1 and 1000000000000000, got '0'");
    expect_error("policies:\n  - name: a\n    quota: { request_per_day: 5 }\n",
                 "t.yaml:11: policies[0].quota.request_per_day: unknown key (did you mean 'requests_per_day'?)");
    expect_error("policies:\n  - name: a\n    quota: { time_zone: UTC }\n",
                 "t.yaml:11: policies[0].quota: give at least one of requests_per_day or tokens_per_month");
    expect_error("policies:\n  - name: a\n    quota: { requests_per_day: 5, time_zone: Mars/Olympus }\n",
                 "t.yaml:11: policies[0].quota.time_zone: no time zone named 'Mars/Olympus' "
                 "(/usr/share/zoneinfo/Mars/Olympus is not readable)");
    expect_error("policies:\n  - name: a\n    quota: { requests_per_day: 5, time_zone: ../etc/passwd }\n",
                 "t.yaml:11: policies[0].quota.time_zone: '../etc/passwd' is not a time zone name (expected a "
                 "name such as UTC or Europe/Paris)");
    expect_error("policies:\n  - name: a\n    quota: { requests_per_day: 5, time_zone: UTC }\n"
                 "    budget: { usd_per_day: 5, time_zone: Asia/Tokyo }\n",
                 "t.yaml:12: policies[0].budget.time_zone: the policy's windows already use time zone 'UTC' "
                 "(quota and budget share one)");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_day: 0 }\n",
                 "t.yaml:11: policies[0].budget.usd_per_day: expected an amount in US dollars above 0 (such as "
                 "100 or 0.01), got '0'");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_month: 10$ }\n",
                 "t.yaml:11: policies[0].budget.usd_per_month: expected an amount in US dollars above 0 (such as "
                 "100 or 0.01), got '10$'");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_day: [1] }\n",
                 "t.yaml:11: policies[0].budget.usd_per_day: expected a single value, got a list");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_day: 5, soft_at: 1.5 }\n",
                 "t.yaml:11: policies[0].budget.soft_at: expected a fraction of the budget between 0 and 1 (such "
                 "as 0.8), got '1.5'");
    expect_error("policies:\n  - name: a\n    budget: { soft_at: 0.5 }\n",
                 "t.yaml:11: policies[0].budget: give at least one of usd_per_day or usd_per_month");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_day: 5, webhook: \"http://127.0.0.1:9/\" }\n",
                 "t.yaml:11: policies[0].budget.webhook: a webhook is told when soft_at is reached: give soft_at "
                 "too (0.8)");
    expect_error("policies:\n  - name: a\n    budget: { usd_per_day: 5, soft_at: 0.5, webhook: \"ftp://x.example/\" }\n",
                 "t.yaml:11: policies[0].budget.webhook: webhook must start with http:// or https://, got "
                 "'ftp://x.example/'");
    expect_error("policies:\n  - name: a\n    concurrency: 2\n    on_store_error: maybe\n",
                 "t.yaml:12: policies[0].on_store_error: unknown on_store_error 'maybe' (expected one of: open, "
                 "closed)");
}

/* ---- masking ---- */

static void a_mask_policy_loads_with_defaults(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(BASE "policies:\n  - name: pii\n    applies_to: { route: orders-api }\n    mask:\n"
                               "      request:\n        - { detect: card }\n"
                               "        - { path: $.user.email, action: replace, with: '[email]' }\n"
                               "        - { name: no-ssn, detect: ssn, action: refuse }\n"
                               "        - { regex: 'ACME-[0-9]+', action: mask, keep: 2 }\n"
                               "      response: [{ detect: email }]\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_mask_spec *m = cfg->policies->v[0].mask;
    assert_non_null(m);
    assert_int_equal(m->request.n, 4);
    assert_string_equal(m->request.v[0].name, "card");
    assert_int_equal(m->request.v[0].action, PT_MASK_MASK);
    assert_int_equal(m->request.v[0].keep, 4);
    assert_string_equal(m->request.v[1].name, "$.user.email");
    assert_string_equal(m->request.v[1].with, "[email]");
    assert_int_equal(m->request.v[2].action, PT_MASK_REFUSE);
    assert_string_equal(m->request.v[3].name, "regex_3");
    assert_int_equal(m->request.v[3].keep, 2);
    assert_true(m->request.has_path && m->request.has_text && m->request.has_regex);
    assert_int_equal(m->response.n, 1);
    pt_config_release(cfg);
}

static void bad_mask_rules_are_refused_naming_the_field(void **state)
{
#define POLICY "policies:\n  - name: pii\n    mask:\n"
    expect_error(POLICY "      request: [{ detect: cards }]\n",
                 "t.yaml:12: policies[0].mask.request[0].detect: unknown detector 'cards' (did you mean 'card'?)");
    expect_error(POLICY "      request: [{ detect: card, regex: x }]\n",
                 "t.yaml:12: policies[0].mask.request[0]: a rule names exactly one of path, regex or detect, not 2");
    expect_error(POLICY "      request: [{ action: mask }]\n",
                 "t.yaml:12: policies[0].mask.request[0]: a rule names exactly one of path, regex or detect, not 0");
    expect_error(POLICY "      request: [{ path: user.email }]\n",
                 "t.yaml:12: policies[0].mask.request[0].path: a path starts with '$' (such as $.user.email or "
                 "$.messages[*].content)");
    expect_error(POLICY "      request: [{ path: $..email }]\n",
                 "t.yaml:12: policies[0].mask.request[0].path: recursive descent '..' at offset 1 is not supported");
    expect_error(POLICY "      request: [{ regex: 'a(b' }]\n",
                 "t.yaml:12: policies[0].mask.request[0].regex: not a POSIX extended regular expression: Unmatched ( "
                 "or \\(");
    expect_error(POLICY "      request: [{ detect: card, action: hide }]\n",
                 "t.yaml:12: policies[0].mask.request[0].action: unknown action 'hide' (expected one of: mask, "
                 "replace, refuse)");
    expect_error(POLICY "      response: [{ detect: card, action: refuse }]\n",
                 "t.yaml:12: policies[0].mask.response[0].action: refuse applies to requests only: an answer "
                 "already flowing cannot be refused (use mask or replace)");
    expect_error(POLICY "      request: [{ detect: card, with: x }]\n",
                 "t.yaml:12: policies[0].mask.request[0].with: with is the text of action replace; this rule's "
                 "action is not replace");
    expect_error(POLICY "      request: [{ detect: card, action: replace, keep: 2 }]\n",
                 "t.yaml:12: policies[0].mask.request[0].keep: keep is for action mask; this rule's action is not "
                 "mask");
    expect_error(POLICY "      request: [{ detect: card }, { detect: card }]\n",
                 "t.yaml:12: policies[0].mask.request[1]: duplicate rule name 'card' (also [0]); give each a name");
    expect_error(POLICY "      {}\n",
                 "t.yaml:12: policies[0].mask: mask has no rules: give a request or a response list (or both)");
    expect_error(POLICY "      request: [{ detect: card, keep: 99 }]\n",
                 "t.yaml:12: policies[0].mask.request[0].keep: must be between 0 and 32, got '99'");
#undef POLICY
}

static void a_route_keeps_bodies_only_when_asked(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("admin: { enabled: false }\n"
                          "services:\n  - name: s\n    targets: [\"http://127.0.0.1:9001\"]\n"
                          "routes:\n  - name: a\n    match: { path_prefix: /a/ }\n    service: s\n"
                          "    call_log: { bodies: true, body_max: 1KiB,\n"
                          "                redact: { fields: [password], regex: [x+] } }\n"
                          "  - name: b\n    match: { path_prefix: /b/ }\n    service: s\n"
                          "    call_log: { bodies: false }\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_mask_bodies *b = NULL;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].name, "a") == 0) b = cfg->routes[i].log_bodies;
        if (strcmp(cfg->routes[i].name, "b") == 0) assert_null(cfg->routes[i].log_bodies);
    }
    assert_non_null(b);
    assert_int_equal(b->body_max, 1024);
    assert_int_equal(b->redact.n, 4); /* api_key, card, the field, the regex */
    /* the named field is redacted in whole and in cut documents, plain or escaped */
    const char *in = "{\"password\":\"hunter2\",\"n\":1} \"{\\\"password\\\":\\\"x\\\"}\" {\"password\":\"cut sho";
    pt_buf out = PT_BUF_INIT;
    pt_mask_tally t = { 0 };
    pt_mask_text(&b->redact, in, strlen(in), &out, &t);
    pt_buf_append(&out, "", 1);
    assert_null(strstr(out.data, "hunter2"));
    assert_null(strstr(out.data, "cut sho"));
    assert_non_null(strstr(out.data, "\"password\":\"[REDACTED]\",\"n\":1"));
    pt_buf_release(&out);
    pt_config_release(cfg);
    expect_error("    call_log: { bodies: true, body_max: 1MiB }\n",
                 "t.yaml:9: routes[0].call_log.body_max: must be between 1 and 16384 bytes, got '1MiB'");
    expect_error("    call_log: { bodies: true, redact: { fields: ['a b'] } }\n",
                 "t.yaml:9: routes[0].call_log.redact.fields[0]: 'a b' is not a field name (1 to 64 "
                 "letters, digits, _ . -)");
    expect_error("    call_log: { bodies: true, redact: { regex: ['('] } }\n",
                 "t.yaml:9: routes[0].call_log.redact.regex[0]: not a POSIX extended regular expression: "
                 "Unmatched ( or \\(");
    expect_error("    call_log: { bodies: yes please }\n",
                 "t.yaml:9: routes[0].call_log.bodies: expected true or false, got 'yes please'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policies_load_with_defaults_most_specific_first),
        cmocka_unit_test(no_policies_is_no_table),
        cmocka_unit_test(bad_policies_are_refused_naming_the_field),
        cmocka_unit_test(slack_is_a_count_or_a_share),
        cmocka_unit_test(tokens_quota_and_budget_load),
        cmocka_unit_test(bad_tokens_quotas_and_budgets_name_the_field),
        cmocka_unit_test(a_mask_policy_loads_with_defaults),
        cmocka_unit_test(bad_mask_rules_are_refused_naming_the_field),
        cmocka_unit_test(a_route_keeps_bodies_only_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
