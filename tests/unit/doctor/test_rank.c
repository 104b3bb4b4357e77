/* Unit tests for doctor/doctor.c ranking: the most likely cause is the highest-scoring failure
 * (earlier check on ties), warnings only when nothing failed, and the verdict/exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "doctor/doctor.h"

static void noop(pt_dr_ctx *ctx, pt_dr_result *res) { (void)ctx, (void)res; }

static const pt_dr_check c_port = { "port", "Port", PT_DR_MODE_NET, noop };
static const pt_dr_check c_listeners = { "listeners", "Listeners", PT_DR_MODE_NET, noop };
static const pt_dr_check c_connect = { "connect", "Connect", PT_DR_MODE_NET, noop };
static const pt_dr_check c_firewall = { "firewall", "Firewall", PT_DR_MODE_NET, noop };

typedef struct row {
    const pt_dr_check *check;
    pt_dr_status st;
    int score;
    const char *cause;
    bool shown;
} row;

static pt_dr_run make(const row *rows, size_t n)
{
    pt_dr_run run;
    memset(&run, 0, sizeof run);
    run.target.mode = PT_DR_MODE_CONNECT;
    run.entries = calloc(n, sizeof *run.entries);
    for (size_t i = 0; i < n; i++) {
        run.entries[i].check = rows[i].check;
        run.entries[i].shown = rows[i].shown;
        run.entries[i].res.status = rows[i].st;
        run.entries[i].res.score = rows[i].score;
        run.entries[i].res.cause = rows[i].cause;
    }
    run.n = n;
    pt_dr_rank(&run);
    return run;
}

static void highest_scoring_failure_wins(void **state)
{
    row rows[] = {
        { &c_listeners, PT_DR_PASS, 0, NULL, true },
        { &c_connect, PT_DR_FAIL, 70, "connect_timeout", true },
        { &c_firewall, PT_DR_FAIL, 95, "firewall_drop", true },
    };
    pt_dr_run run = make(rows, 3);
    assert_string_equal(run.root->res.cause, "firewall_drop");
    assert_string_equal(run.verdict, "failure");
    assert_int_equal(run.exit_code, PT_DR_EXIT_FAIL);
    free(run.entries);
}

static void a_failure_beats_a_higher_scoring_warning(void **state)
{
    row rows[] = {
        { &c_port, PT_DR_WARN, 99, "something", true },
        { &c_connect, PT_DR_FAIL, 10, "connect_refused", true },
    };
    pt_dr_run run = make(rows, 2);
    assert_string_equal(run.root->res.cause, "connect_refused");
    free(run.entries);
}

static void ties_go_to_the_earlier_check(void **state)
{
    row rows[] = {
        { &c_listeners, PT_DR_FAIL, 80, "nothing_listening", true },
        { &c_connect, PT_DR_FAIL, 80, "connect_refused", true },
    };
    pt_dr_run run = make(rows, 2);
    assert_string_equal(run.root->res.cause, "nothing_listening");
    free(run.entries);
}

static void warnings_only_exit_one(void **state)
{
    row rows[] = {
        { &c_listeners, PT_DR_PASS, 0, NULL, true },
        { &c_connect, PT_DR_WARN, 40, "connect_refused", true },
    };
    pt_dr_run run = make(rows, 2);
    assert_string_equal(run.verdict, "warning");
    assert_int_equal(run.exit_code, PT_DR_EXIT_WARN);
    assert_string_equal(run.root->res.cause, "connect_refused");
    free(run.entries);
}

static void hidden_prerequisites_are_not_ranked(void **state)
{
    row rows[] = {
        { &c_listeners, PT_DR_FAIL, 90, "nothing_listening", false },
        { &c_firewall, PT_DR_PASS, 0, NULL, true },
    };
    pt_dr_run run = make(rows, 2);
    assert_null(run.root);
    assert_string_equal(run.verdict, "healthy");
    assert_int_equal(run.exit_code, PT_DR_EXIT_HEALTHY);
    free(run.entries);
}

static void skipped_connect_means_could_not_determine(void **state)
{
    row rows[] = {
        { &c_port, PT_DR_PASS, 0, NULL, true },
        { &c_connect, PT_DR_SKIP, 0, NULL, true },
    };
    pt_dr_run run = make(rows, 2);
    assert_null(run.root);
    assert_string_equal(run.verdict, "unknown");
    assert_int_equal(run.exit_code, PT_DR_EXIT_UNKNOWN);
    free(run.entries);
}

static void info_is_healthy(void **state)
{
    row rows[] = {
        { &c_port, PT_DR_INFO, 0, NULL, true },
        { &c_connect, PT_DR_PASS, 0, NULL, true },
    };
    pt_dr_run run = make(rows, 2);
    assert_string_equal(run.verdict, "healthy");
    free(run.entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(highest_scoring_failure_wins),
        cmocka_unit_test(a_failure_beats_a_higher_scoring_warning),
        cmocka_unit_test(ties_go_to_the_earlier_check),
        cmocka_unit_test(warnings_only_exit_one),
        cmocka_unit_test(hidden_prerequisites_are_not_ranked),
        cmocka_unit_test(skipped_connect_means_could_not_determine),
        cmocka_unit_test(info_is_healthy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
