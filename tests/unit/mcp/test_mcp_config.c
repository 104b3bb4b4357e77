/* Unit tests for mcp/mcp_config.c through the configuration loader: the two kinds of server,
 * defaults, ${ENV} in env values, every refusal naming its field, the /mcp route it adds, and
 * keys made compulsory by a listener that is not loopback-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/config.h"
#include "mcp/mcp_config.h"

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("t.yaml", yaml, strlen(yaml), err);
}

static void expect_error(const char *yaml, const char *message)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(yaml, &err);
    if (cfg) {
        pt_config_release(cfg);
        fail_msg("loaded, but expected: %s", message);
    }
    assert_non_null(err.data);
    if (!strstr(err.data, message)) fail_msg("got: %s\nexpected: %s", err.data, message);
    pt_buf_release(&err);
}

static void servers_of_both_kinds_load_with_defaults(void **state)
{
    setenv("PT_MCP_TEST_TOKEN", "s3cret", 1);
    const char *y = "mcp:\n"
                    "  servers:\n"
                    "    - name: files\n"
                    "      command: npx\n"
                    "      args: [\"-y\", \"server-filesystem\", \"/srv\"]\n"
                    "      env: { TOKEN: \"${PT_MCP_TEST_TOKEN}\" }\n"
                    "      cwd: /tmp\n"
                    "    - name: search\n"
                    "      url: http://127.0.0.1:3001/mcp\n"
                    "      timeout: 5s\n"
                    "      max_concurrency: 4\n"
                    "      auth: key\n"
                    "      prefix: false\n"
                    "      era: 2026\n"
                    "    - name: old\n"
                    "      url: http://127.0.0.1:3002/sse\n"
                    "      transport: sse\n";
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(y, &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_mcp_config *m = cfg->mcp;
    assert_non_null(m);
    assert_int_equal(m->nservers, 3);
    const pt_mcp_server *f = &m->servers[0], *s = &m->servers[1];
    assert_string_equal(f->command, "npx");
    assert_int_equal(f->nargs, 3);
    assert_string_equal(f->env[0].name, "TOKEN");
    assert_string_equal(f->env[0].value, "s3cret");
    assert_int_equal(f->timeout_ms, 60000);
    assert_int_equal(f->max_concurrency, 32);
    assert_int_equal(f->era, PT_MCP_ERA_AUTO);
    assert_int_equal(s->era, PT_MCP_ERA_2026);
    assert_true(f->prefix);
    assert_false(f->auth_key);
    assert_string_equal(s->host, "127.0.0.1");
    assert_int_equal(s->port, 3001);
    assert_string_equal(s->path, "/mcp");
    assert_int_equal(s->timeout_ms, 5000);
    assert_int_equal(s->max_concurrency, 4);
    assert_true(s->auth_key);
    assert_false(s->prefix);
    assert_false(s->legacy_sse);
    assert_true(m->servers[2].legacy_sse);
    assert_string_equal(m->servers[2].path, "/sse");
    assert_false(m->key_required);
    assert_int_equal(m->max_message_bytes, 4u << 20);
    assert_false(m->record_arguments); /* a tool call's shape only, unless asked */
    assert_ptr_equal(pt_mcp_config_server(m, "search", 6), s);
    assert_null(pt_mcp_config_server(m, "searc", 5));
    bool found = false;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].kind == PT_ROUTE_MCP) {
            found = true;
            assert_string_equal(cfg->routes[i].path_prefix, "/mcp");
        }
    assert_true(found);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void a_listener_off_loopback_requires_keys(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("listen: [\"0.0.0.0:8080\"]\nmcp: { servers: [{ name: a, command: x }] }\n", &err);
    assert_non_null(cfg);
    assert_true(cfg->mcp->key_required);
    pt_config_release(cfg);
    cfg = load("listen: [\"127.0.0.1:8080\", \"[::1]:8080\"]\nmcp: { servers: [{ name: a, command: x }] }\n", &err);
    assert_non_null(cfg);
    assert_false(cfg->mcp->key_required);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

/* access written before the servers it names; a consumer's entry wins over its team's; deny
 * wins over allow; a server/tool allow opens the server but not its other tools. */
static void access_entries_match_consumers_then_teams(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("mcp:\n"
                          "  auth: key\n"
                          "  access:\n"
                          "    - { team: t, deny: [\"b*\"] }\n"
                          "    - { consumer: c, allow: [\"a/get_*\", b], deny: [\"a/get_secret\"] }\n"
                          "  servers: [{ name: a, command: x }, { name: b, command: x }]\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_mcp_config *m = cfg->mcp;
    const pt_mcp_access *team = pt_mcp_access_for(m, "other", "t"), *mine = pt_mcp_access_for(m, "c", "t");
    assert_non_null(team);
    assert_ptr_not_equal(team, mine);
    assert_null(pt_mcp_access_for(m, "other", "u"));
    assert_true(pt_mcp_access_allows(NULL, "a", "anything"));
    assert_true(pt_mcp_access_allows(team, "a", "get_secret"));
    assert_false(pt_mcp_access_allows(team, "b", NULL));
    assert_false(pt_mcp_access_allows(team, "b", "x"));
    assert_true(pt_mcp_access_allows(mine, "a", NULL));
    assert_true(pt_mcp_access_allows(mine, "a", "get_weather"));
    assert_false(pt_mcp_access_allows(mine, "a", "put_weather"));
    assert_false(pt_mcp_access_allows(mine, "a", "get_secret"));
    assert_true(pt_mcp_access_allows(mine, "b", "x"));
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void refusals_name_the_field(void **state)
{
    expect_error("mcp: { servers: [{ command: x }] }\n", "t.yaml:1: mcp.servers[0]: missing required key 'name'");
    expect_error("mcp: { servers: [{ name: a }] }\n", "mcp.servers[0]: give command (a stdio server");
    expect_error("mcp: { servers: [{ name: a, command: x, url: \"http://h/mcp\" }] }\n",
                 "mcp.servers[0].url: give either command or url, not both");
    expect_error("mcp: { servers: [{ name: a, url: \"http://h/mcp\", args: [x] }] }\n",
                 "mcp.servers[0].args: only applies to a stdio server (command)");
    expect_error("mcp: { servers: [{ name: a, command: x }, { name: a, command: y }] }\n",
                 "mcp.servers[1].name: duplicate server name 'a' (also servers[0])");
    expect_error("mcp: { servers: [{ name: \"a b\", command: x }] }\n", "mcp.servers[0].name:");
    expect_error("mcp: { servers: [{ name: a, url: \"ftp://h/mcp\" }] }\n", "mcp.servers[0].url:");
    expect_error("mcp: { servers: [{ name: a, command: x, env: { \"1BAD\": v } }] }\n",
                 "is not an environment variable name");
    expect_error("mcp: { servers: [{ name: a, command: x, comand: y }] }\n", "mcp.servers[0].comand: unknown key (did you mean 'command'?)");
    expect_error("mcp: { servers: [{ name: a, command: x, auth: maybe }] }\n",
                 "mcp.servers[0].auth: expected key or none, got 'maybe'");
    expect_error("mcp: { allowed_origins: [\"example.com\"], servers: [] }\n",
                 "mcp.allowed_origins[0]: 'example.com' is not an origin");
    expect_error("mcp: { servers: [{ name: n23456789012345678901234567890123456789012345678901234567890123, "
                 "command: x }] }\n",
                 "mcp.servers[0].name:");
    expect_error("mcp: { servers: [{ name: a, command: x, timeout: 0 }] }\n", "mcp.servers[0].timeout:");
    expect_error("mcp: { servers: [{ name: a, url: \"http://h/sse\", transport: websocket }] }\n",
                 "mcp.servers[0].transport: expected sse or streamable, got 'websocket'");
    expect_error("mcp: { servers: [{ name: a, command: x, transport: sse }] }\n",
                 "mcp.servers[0].transport: only applies to an HTTP server (url)");
    expect_error("mcp: { servers: [{ name: a, command: x, era: 2024 }] }\n",
                 "mcp.servers[0].era: expected auto, 2025 or 2026, got '2024'");
    expect_error("mcp: { servers: [{ name: a, url: \"http://h/sse\", transport: sse, era: \"2026\" }] }\n",
                 "mcp.servers[0].era: 2026 has no HTTP+SSE transport (transport: sse)");
}

static void the_mcp_route_name_cannot_be_taken(void **state)
{
    expect_error("services: [{ name: s, targets: [\"http://127.0.0.1:9\"] }]\n"
                 "routes: [{ name: mcp, service: s }]\n"
                 "mcp: { servers: [{ name: a, command: x }] }\n",
                 "the name 'mcp' is taken by the MCP endpoints");
}

static void same_definition_is_recognised(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *a = load("mcp: { servers: [{ name: a, command: x, args: [1] }, { name: b, url: \"http://h/m\" }] }\n", &err);
    pt_config *b = load("mcp: { servers: [{ name: a, command: x, args: [1] }, { name: b, url: \"http://h/n\" }] }\n", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(pt_mcp_server_same(&a->mcp->servers[0], &b->mcp->servers[0]));
    assert_false(pt_mcp_server_same(&a->mcp->servers[1], &b->mcp->servers[1]));
    pt_config_release(a);
    pt_config_release(b);
    /* a server's era changes what its handshake is: a reload starts it again */
    a = load("mcp: { servers: [{ name: a, command: x }] }\n", &err);
    b = load("mcp: { servers: [{ name: a, command: x, era: 2025 }] }\n", &err);
    assert_false(pt_mcp_server_same(&a->mcp->servers[0], &b->mcp->servers[0]));
    pt_config_release(a);
    pt_config_release(b);
    pt_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(servers_of_both_kinds_load_with_defaults),
        cmocka_unit_test(a_listener_off_loopback_requires_keys),
        cmocka_unit_test(access_entries_match_consumers_then_teams),
        cmocka_unit_test(refusals_name_the_field),
        cmocka_unit_test(the_mcp_route_name_cannot_be_taken),
        cmocka_unit_test(same_definition_is_recognised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
