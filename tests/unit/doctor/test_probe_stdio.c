/* Unit tests for doctor/probe_stdio.c: PATH lookup, the off-PATH search, and a child's lines,
 * stderr tail, exit status and stop (with /bin/sh as the child). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/probe_stdio.h"

static char root[64];

static int make_root(void **state)
{
    snprintf(root, sizeof root, "/tmp/pt-stdio-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int remove_root(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_file(const char *rel, int mode)
{
    char p[256], dir[256];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", p);
    for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(dir, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    chmod(p, (mode_t)mode);
}

static void which_finds_the_first_executable(void **state)
{
    char path[512], out[512], want[512];
    put_file("a/tool", 0644); /* not executable: skipped, but remembered */
    put_file("b/tool", 0755);
    snprintf(path, sizeof path, "%s/a:%s/b", root, root);
    assert_int_equal(pt__dr_which("tool", path, out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/b/tool", root);
    assert_string_equal(out, want);
    snprintf(path, sizeof path, "%s/a", root);
    assert_int_equal(pt__dr_which("tool", path, out, sizeof out), -EACCES);
    assert_int_equal(pt__dr_which("nothing-here", path, out, sizeof out), -ENOENT);
}

static void off_path_search_finds_home_local_bin(void **state)
{
    char home[256], out[512], want[512], path[512];
    snprintf(home, sizeof home, "%s/home", root);
    put_file("home/.local/bin/lab-mcp-tool", 0755);
    snprintf(want, sizeof want, "%s/.local/bin/lab-mcp-tool", home);
    assert_int_equal(pt__dr_find_off_path("lab-mcp-tool", "/usr/bin:/bin", home, out, sizeof out), 1);
    assert_string_equal(out, want);
    /* When that directory is on PATH, it is not "off PATH". */
    snprintf(path, sizeof path, "/usr/bin:%s/.local/bin/", home);
    assert_int_equal(pt__dr_find_off_path("lab-mcp-tool", path, home, out, sizeof out), 0);
}

static void off_path_search_finds_nvm_node_bins(void **state)
{
    char home[256], out[512], want[512];
    snprintf(home, sizeof home, "%s/nvmhome", root);
    put_file("nvmhome/.nvm/versions/node/v22.1.0/bin/npx-lab", 0755);
    snprintf(want, sizeof want, "%s/.nvm/versions/node/v22.1.0/bin/npx-lab", home);
    assert_int_equal(pt__dr_find_off_path("npx-lab", "/usr/bin", home, out, sizeof out), 1);
    assert_string_equal(out, want);
}

static void child_lines_stderr_and_exit_status(void **state)
{
    char *argv[] = { "sh", "-c", "echo one; printf 'two\\r\\n'; echo oops >&2; exit 4", NULL };
    pt_dr_child c;
    pt_buf line;
    pt_buf_init(&line, 1024);
    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", argv), 0);
    uint64_t dl = pt_now_ms() + 5000;
    assert_int_equal(pt__dr_child_read_line(&c, &line, dl), 1);
    assert_string_equal(line.data, "one");
    assert_int_equal(pt__dr_child_read_line(&c, &line, dl), 1);
    assert_string_equal(line.data, "two");
    assert_int_equal(pt__dr_child_read_line(&c, &line, dl), 0);
    pt__dr_child_wait_exit(&c, 2000);
    assert_true(c.exited);
    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 4);
    pt__dr_child_stop(&c);
    assert_string_equal(c.err_tail, "oops\n");
    char how[64];
    pt__dr_exit_text(c.status, how, sizeof how);
    assert_string_equal(how, "exited with status 4");
    pt_buf_release(&line);
}

static void child_echoes_what_it_is_sent(void **state)
{
    char *argv[] = { "sh", "-c", "read l; echo \"got $l\"", NULL };
    pt_dr_child c;
    pt_buf line;
    pt_buf_init(&line, 1024);
    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", argv), 0);
    uint64_t dl = pt_now_ms() + 5000;
    assert_int_equal(pt__dr_child_send(&c, PT_SLICE_LIT("{\"id\":1}"), dl), 0);
    assert_int_equal(pt__dr_child_read_line(&c, &line, dl), 1);
    assert_string_equal(line.data, "got {\"id\":1}");
    pt__dr_child_stop(&c);
    pt_buf_release(&line);
}

/* Activity: what a child left unread in its stdin pipe, and the CPU its process tree used. */
static void activity_tells_a_reader_from_a_sleeper(void **state)
{
    char *sleeper[] = { "sh", "-c", "exec sleep 100", NULL };
    char *reader[] = { "sh", "-c", "read l; echo read; exec sleep 100", NULL };
    pt_dr_child c;
    pt_buf line;
    pt_buf_init(&line, 64);
    long unread;
    unsigned long long ticks;
    bool running;
    uint64_t dl = pt_now_ms() + 5000;

    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", sleeper), 0);
    assert_int_equal(pt__dr_child_send(&c, PT_SLICE_LIT("{\"id\":1}"), dl), 0);
    pt__dr_child_activity(&c, &unread, &ticks, &running);
    assert_int_equal(unread, 9); /* the line and its newline, still in the pipe */
    pt__dr_child_stop(&c);

    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", reader), 0);
    assert_int_equal(pt__dr_child_send(&c, PT_SLICE_LIT("{\"id\":1}"), dl), 0);
    assert_int_equal(pt__dr_child_read_line(&c, &line, dl), 1); /* it has read the line */
    pt__dr_child_activity(&c, &unread, &ticks, &running);
    assert_int_equal(unread, 0);
    pt__dr_child_stop(&c);
    pt__dr_child_activity(&c, &unread, &ticks, &running); /* stopped: nothing to ask */
    assert_int_equal(unread, -1);
    assert_int_equal(ticks, 0);
    pt_buf_release(&line);
}

static void silent_child_times_out_and_stop_ends_its_group(void **state)
{
    /* The child starts a grandchild; stopping the child must end both. */
    char *argv[] = { "sh", "-c", "sleep 100 & echo $!; wait", NULL };
    pt_dr_child c;
    pt_buf line;
    pt_buf_init(&line, 64);
    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", argv), 0);
    assert_int_equal(pt__dr_child_read_line(&c, &line, pt_now_ms() + 5000), 1);
    pid_t grandchild = (pid_t)atoi(line.data);
    assert_true(grandchild > 0);
    assert_int_equal(pt__dr_child_read_line(&c, &line, pt_now_ms() + 50), PT_ETIMEDOUT);
    pt__dr_child_stop(&c);
    assert_int_equal(c.pid, 0);
    /* The grandchild was reparented; it is gone once it is no longer signalable. Bounded wait. */
    int alive = 1;
    for (int i = 0; i < 200 && alive; i++) {
        char p[64], st[256] = "";
        snprintf(p, sizeof p, "/proc/%d/stat", (int)grandchild);
        FILE *f = fopen(p, "r");
        if (!f) { alive = 0; break; }
        if (!fgets(st, sizeof st, f)) st[0] = '\0';
        fclose(f);
        char *rp = strrchr(st, ')');
        if (rp && rp[1] == ' ' && rp[2] == 'Z') alive = 0; /* a zombie waiting for its new parent */
        else usleep(10000);
    }
    assert_false(alive);
    pt_buf_release(&line);
}

static void send_to_exited_child_fails_and_keeps_its_stderr(void **state)
{
    char *argv[] = { "sh", "-c", "echo 'fatal: no key' >&2; exit 3", NULL };
    pt_dr_child c;
    assert_int_equal(pt__dr_child_spawn(&c, "/bin/sh", argv), 0);
    pt__dr_child_wait_exit(&c, 2000);
    assert_true(c.exited);
    /* Writing to a child that is gone is an error, not a SIGPIPE that ends the test. */
    char big[70000];
    memset(big, 'x', sizeof big);
    assert_int_equal(pt__dr_child_send(&c, pt_slice_from(big, sizeof big), pt_now_ms() + 2000), PT_ECLOSED);
    assert_string_equal(c.err_tail, "fatal: no key\n");
    pt__dr_child_stop(&c);
}

static void exec_failure_is_reported(void **state)
{
    char *argv[] = { "nope", NULL };
    pt_dr_child c;
    assert_int_equal(pt__dr_child_spawn(&c, "/nonexistent/nope", argv), -ENOENT);
    assert_int_equal(c.pid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(which_finds_the_first_executable),
        cmocka_unit_test(off_path_search_finds_home_local_bin),
        cmocka_unit_test(off_path_search_finds_nvm_node_bins),
        cmocka_unit_test(child_lines_stderr_and_exit_status),
        cmocka_unit_test(child_echoes_what_it_is_sent),
        cmocka_unit_test(activity_tells_a_reader_from_a_sleeper),
        cmocka_unit_test(silent_child_times_out_and_stop_ends_its_group),
        cmocka_unit_test(send_to_exited_child_fails_and_keeps_its_stderr),
        cmocka_unit_test(exec_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, make_root, remove_root);
}
