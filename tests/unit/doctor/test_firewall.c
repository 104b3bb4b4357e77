/* Unit tests for doctor/check_firewall.c: walking `nft -j list ruleset` documents with the
 * packet a local client sends (verdicts, sets, ranges, prefixes, jumps, accept-before-drop,
 * unknown matches, drop policies) and scanning iptables-save output. The nft documents are
 * shaped as nft 1.0.6 prints them. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/firewall.h"

#define HDR "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\", \"json_schema_version\": 1}},"

static const char ruleset_t2[] =
    HDR "{\"table\": {\"family\": \"inet\", \"name\": \"t2\", \"handle\": 2}},"
    "{\"set\": {\"family\": \"inet\", \"name\": \"blocked\", \"table\": \"t2\", \"type\": \"inet_service\", "
    "\"handle\": 3, \"elem\": [7000, 7001]}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"t2\", \"name\": \"sub\", \"handle\": 1}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"t2\", \"name\": \"out\", \"handle\": 2, \"type\": \"filter\", "
    "\"hook\": \"output\", \"prio\": 0, \"policy\": \"accept\"}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"t2\", \"chain\": \"sub\", \"handle\": 5, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": {\"set\": "
    "[5000, 5001]}}}, {\"drop\": null}]}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"t2\", \"chain\": \"out\", \"handle\": 6, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"oif\"}}, \"right\": \"lo\"}}, {\"match\": {\"op\": \"==\", "
    "\"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": \"@blocked\"}}, {\"reject\": "
    "{\"type\": \"icmpx\", \"expr\": \"port-unreachable\"}}]}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"t2\", \"chain\": \"out\", \"handle\": 7, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}, \"right\": {\"prefix\": "
    "{\"addr\": \"127.0.0.0\", \"len\": 8}}}}, {\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": "
    "\"tcp\", \"field\": \"dport\"}}, \"right\": {\"range\": [6000, 6100]}}}, {\"drop\": null}]}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"t2\", \"chain\": \"out\", \"handle\": 8, \"expr\": [{\"match\": "
    "{\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"state\"}}, \"right\": [\"established\", \"related\"]}}, "
    "{\"accept\": null}]}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"t2\", \"chain\": \"out\", \"handle\": 9, \"expr\": [{\"jump\": "
    "{\"target\": \"sub\"}}]}}]}";

/* input chain: loopback accepted first, then a drop for 8080 that loopback never reaches. */
static const char ruleset_lo_accept[] =
    HDR "{\"chain\": {\"family\": \"ip\", \"table\": \"f\", \"name\": \"input\", \"handle\": 1, \"type\": \"filter\", "
    "\"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
    "{\"rule\": {\"family\": \"ip\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 2, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}, \"right\": \"lo\"}}, {\"accept\": null}]}},"
    "{\"rule\": {\"family\": \"ip\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 3, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": 8080}}, "
    "{\"drop\": null}]}}]}";

/* A rule the walker cannot judge (a rate limit) in front of a drop. */
static const char ruleset_limit[] =
    HDR "{\"chain\": {\"family\": \"inet\", \"table\": \"f\", \"name\": \"input\", \"handle\": 1, \"type\": "
    "\"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"accept\"}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 4, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": 8080}}, "
    "{\"limit\": {\"rate\": 10, \"per\": \"second\"}}, {\"drop\": null}]}}]}";

/* A drop policy with nothing accepting loopback first. */
static const char ruleset_policy_drop[] =
    HDR "{\"chain\": {\"family\": \"inet\", \"table\": \"f\", \"name\": \"input\", \"handle\": 1, \"type\": "
    "\"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 2, \"expr\": [{\"match\": "
    "{\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": 22}}, "
    "{\"accept\": null}]}}]}";

/* Verdict maps, as nft 1.0.6 prints `tcp dport vmap { 8080 : drop, 8081 : accept }` and
 * `tcp dport vmap @portv` with a named map. */
static const char ruleset_vmap[] =
    HDR "{\"table\": {\"family\": \"inet\", \"name\": \"f\", \"handle\": 1}},"
    "{\"map\": {\"family\": \"inet\", \"name\": \"portv\", \"table\": \"f\", \"type\": \"inet_service\", \"handle\": 2, "
    "\"map\": \"verdict\", \"elem\": [[22, {\"accept\": null}], [9100, {\"drop\": null}]]}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"f\", \"name\": \"input\", \"handle\": 1, \"type\": \"filter\", "
    "\"hook\": \"input\", \"prio\": 0, \"policy\": \"accept\"}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 4, \"expr\": [{\"vmap\": "
    "{\"key\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"data\": {\"set\": [[8080, {\"drop\": null}], "
    "[8081, {\"accept\": null}]]}}}]}},"
    "{\"rule\": {\"family\": \"inet\", \"table\": \"f\", \"chain\": \"input\", \"handle\": 5, \"expr\": [{\"vmap\": "
    "{\"key\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"data\": \"@portv\"}}]}}]}";

static pt_dr_fw_packet packet(const char *addr, unsigned port)
{
    pt_dr_fw_packet p;
    memset(&p, 0, sizeof p);
    p.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(p.family, addr, p.daddr), 1);
    memcpy(p.saddr, p.daddr, 16);
    p.dport = port;
    strcpy(p.ifname, "lo");
    p.saddr_known = true;
    return p;
}

/* Evaluates and returns the found array (caller decrefs); *maybe gets the maybe array. */
static json_t *walk(const char *doc_text, const char *addr, unsigned port, json_t **maybe_out)
{
    json_error_t err;
    json_t *doc = json_loads(doc_text, 0, &err);
    if (!doc) fail_msg("bad test JSON: %s at %d", err.text, err.position);
    json_t *found = json_array(), *maybe = json_array();
    pt_dr_fw_packet p = packet(addr, port);
    assert_true(pt__dr_nft_evaluate(doc, &p, found, maybe) >= 0);
    json_decref(doc);
    if (maybe_out) *maybe_out = maybe;
    else json_decref(maybe);
    return found;
}

static json_int_t handle_of(json_t *found, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(found, i), "handle"));
}

static const char *field(json_t *found, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(found, i), key));
}

static void named_set_reject_on_lo(void **state)
{
    json_t *f = walk(ruleset_t2, "127.0.0.1", 7001, NULL);
    assert_int_equal(json_array_size(f), 1);
    assert_int_equal(handle_of(f, 0), 6);
    assert_string_equal(field(f, 0, "verdict"), "reject");
    assert_string_equal(field(f, 0, "match"), "certain");
    assert_string_equal(field(f, 0, "hook"), "output");
    json_decref(f);
}

static void prefix_and_range_drop_ipv4_only(void **state)
{
    json_t *f = walk(ruleset_t2, "127.0.0.1", 6050, NULL);
    assert_int_equal(json_array_size(f), 1);
    assert_int_equal(handle_of(f, 0), 7);
    assert_string_equal(field(f, 0, "verdict"), "drop");
    assert_non_null(strstr(field(f, 0, "rule"), "6000-6100"));
    json_decref(f);
    f = walk(ruleset_t2, "::1", 6050, NULL); /* an "ip daddr" match never sees IPv6 */
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

static void jump_into_a_chain_that_drops(void **state)
{
    json_t *f = walk(ruleset_t2, "::1", 5001, NULL);
    assert_int_equal(json_array_size(f), 1);
    assert_int_equal(handle_of(f, 0), 5);
    assert_string_equal(field(f, 0, "chain"), "sub");
    json_decref(f);
}

static void unrelated_port_passes(void **state)
{
    json_t *f = walk(ruleset_t2, "127.0.0.1", 8080, NULL);
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

static void loopback_accepted_before_the_drop(void **state)
{
    json_t *f = walk(ruleset_lo_accept, "127.0.0.1", 8080, NULL);
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

static void unknown_match_makes_it_a_maybe(void **state)
{
    json_t *maybe;
    json_t *f = walk(ruleset_limit, "127.0.0.1", 8080, &maybe);
    assert_int_equal(json_array_size(f), 0);
    assert_int_equal(json_array_size(maybe), 1);
    json_decref(f);
    json_decref(maybe);
}

static void drop_policy_without_accept(void **state)
{
    json_t *f = walk(ruleset_policy_drop, "127.0.0.1", 8080, NULL);
    assert_int_equal(json_array_size(f), 1);
    assert_non_null(strstr(field(f, 0, "rule"), "policy drop"));
    json_decref(f);
    f = walk(ruleset_policy_drop, "127.0.0.1", 22, NULL);
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

static void verdict_maps_are_followed(void **state)
{
    json_t *f = walk(ruleset_vmap, "127.0.0.1", 8080, NULL);
    assert_int_equal(json_array_size(f), 1); /* the anonymous map drops 8080 */
    assert_int_equal(handle_of(f, 0), 4);
    assert_string_equal(field(f, 0, "verdict"), "drop");
    assert_non_null(strstr(field(f, 0, "rule"), "tcp dport vmap { 8080 : drop, 8081 : accept }"));
    json_decref(f);
    f = walk(ruleset_vmap, "127.0.0.1", 9100, NULL); /* the named map drops 9100 */
    assert_int_equal(json_array_size(f), 1);
    assert_int_equal(handle_of(f, 0), 5);
    json_decref(f);
    f = walk(ruleset_vmap, "::1", 8081, NULL); /* accepted by the first map */
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
    f = walk(ruleset_vmap, "127.0.0.1", 7000, NULL); /* in neither map: the rules do not apply */
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

static void not_nft_json_is_an_error(void **state)
{
    json_t *doc = json_loads("{\"x\": 1}", 0, NULL);
    json_t *found = json_array(), *maybe = json_array();
    pt_dr_fw_packet p = packet("127.0.0.1", 80);
    assert_int_equal(pt__dr_nft_evaluate(doc, &p, found, maybe), -1);
    json_decref(doc);
    json_decref(found);
    json_decref(maybe);
}

static void iptables_save_drop_for_port_and_policy(void **state)
{
    const char *save = "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                       "-A INPUT -i lo -p tcp -m tcp --dport 8080 -j DROP\n"
                       "-A INPUT -p udp -m udp --dport 9090 -j DROP\n"
                       "-A INPUT -p tcp -m multiport --dports 3000:3005,4000 -j REJECT --reject-with tcp-reset\n"
                       "COMMIT\n";
    pt_dr_fw_packet p = packet("127.0.0.1", 8080);
    json_t *found = json_array();
    assert_int_equal(pt__dr_iptables_evaluate(save, &p, found), 3);
    assert_int_equal(json_array_size(found), 1);
    assert_string_equal(field(found, 0, "verdict"), "drop");
    json_decref(found);

    p.dport = 9090; /* a udp rule does not touch tcp */
    found = json_array();
    pt__dr_iptables_evaluate(save, &p, found);
    assert_int_equal(json_array_size(found), 0);
    json_decref(found);

    p.dport = 3004;
    found = json_array();
    pt__dr_iptables_evaluate(save, &p, found);
    assert_int_equal(json_array_size(found), 1);
    assert_string_equal(field(found, 0, "verdict"), "reject");
    json_decref(found);

    found = json_array();
    pt__dr_iptables_evaluate("*filter\n:INPUT DROP [0:0]\nCOMMIT\n", &p, found);
    assert_int_equal(json_array_size(found), 1);
    json_decref(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_set_reject_on_lo),
        cmocka_unit_test(prefix_and_range_drop_ipv4_only),
        cmocka_unit_test(jump_into_a_chain_that_drops),
        cmocka_unit_test(unrelated_port_passes),
        cmocka_unit_test(loopback_accepted_before_the_drop),
        cmocka_unit_test(unknown_match_makes_it_a_maybe),
        cmocka_unit_test(drop_policy_without_accept),
        cmocka_unit_test(verdict_maps_are_followed),
        cmocka_unit_test(not_nft_json_is_an_error),
        cmocka_unit_test(iptables_save_drop_for_port_and_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
