/* Unit tests for doctor/procfs.c and sockdiag.c: /proc/net/tcp{,6} line parsing (addresses come
 * back in network order whatever the host's byte order), listener formatting, which listener
 * accepts which client address, and both sources read against a real listener. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "doctor/listeners.h"

/* Formats an address the way the kernel's get_tcp{4,6}_sock does: each 32-bit word %08X. */
static void kernel_hex(int family, const char *text, char *out)
{
    unsigned char a[16];
    assert_int_equal(inet_pton(family, text, a), 1);
    out[0] = '\0';
    for (int w = 0; w < (family == AF_INET ? 1 : 4); w++) {
        uint32_t v;
        memcpy(&v, a + 4 * w, 4);
        sprintf(out + strlen(out), "%08X", v);
    }
}

static void ipv4_listen_line(void **state)
{
    char hex[40], line[512];
    kernel_hex(AF_INET, "127.0.0.1", hex);
    snprintf(line, sizeof line,
             "   0: %s:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 125055 1 "
             "0000000000000000 100 0 0 10 0\n", hex);
    pt_dr_sock s;
    unsigned st;
    assert_int_equal(pt_dr_procnet_parse(line, AF_INET, &s, &st), 0);
    assert_int_equal(st, 0x0A);
    assert_int_equal(s.port, 8080);
    assert_int_equal(s.uid, 1000);
    assert_int_equal(s.inode, 125055);
    assert_int_equal(s.accept_queue, 2);
    assert_int_equal(s.backlog, -1);
    char ep[64];
    pt_dr_sock_endpoint(&s, ep, sizeof ep);
    assert_string_equal(ep, "127.0.0.1:8080");
}

static void ipv6_loopback_line(void **state)
{
    char hex[40], line[512];
    kernel_hex(AF_INET6, "::1", hex);
    snprintf(line, sizeof line,
             "   3: %s:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
             "       0 777 1 0000000000000000 100 0 0 10 0\n", hex);
    pt_dr_sock s;
    unsigned st;
    assert_int_equal(pt_dr_procnet_parse(line, AF_INET6, &s, &st), 0);
    assert_int_equal(s.port, 8081);
    assert_int_equal(s.v6only, -1); /* /proc cannot tell */
    char ep[64];
    pt_dr_sock_endpoint(&s, ep, sizeof ep);
    assert_string_equal(ep, "[::1]:8081");
}

/* A server's end of a connection it closed first: both ends, the state and TIME_WAIT's timer. */
static void time_wait_row(void **state)
{
    char hex[40], line[512];
    kernel_hex(AF_INET, "127.0.0.1", hex);
    snprintf(line, sizeof line, "  12: %s:1F90 %s:A2F4 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 "
             "0000000000000000\n", hex, hex);
    pt_dr_tcprow r;
    assert_int_equal(pt_dr_procnet_row(line, AF_INET, &r), 0);
    assert_int_equal(r.state, PT_DR_TCP_TIME_WAIT);
    assert_int_equal(r.lport, 8080);
    assert_int_equal(r.rport, 0xA2F4);
    assert_int_equal(r.timer, 3);
    assert_int_equal(r.timer_left, 3000);
    assert_memory_equal(r.raddr, r.laddr, 4);
    assert_int_equal(r.rx_queue, 0);
}

static void header_and_garbage_are_rejected(void **state)
{
    pt_dr_sock s;
    unsigned st;
    assert_int_equal(pt_dr_procnet_parse("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when\n",
                                         AF_INET, &s, &st), -1);
    assert_int_equal(pt_dr_procnet_parse("", AF_INET, &s, &st), -1);
    assert_int_equal(pt_dr_procnet_parse("   0: 0100007F:ZZZZ 00000000:0000 0A\n", AF_INET, &s, &st), -1);
    /* A v6 address in the v4 table is malformed, not silently truncated. */
    assert_int_equal(pt_dr_procnet_parse("   0: 00000000000000000000000001000000:1F91 "
                                         "00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 "
                                         "00000000 0 0 1 1\n", AF_INET, &s, &st), -1);
}

static void reads_only_listeners_of_the_port(void **state)
{
    char path[] = "/tmp/pt-procnet-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    char hex[40];
    kernel_hex(AF_INET, "127.0.0.1", hex);
    fprintf(f, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    fprintf(f, "   0: %s:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 11 1\n", hex);
    fprintf(f, "   1: %s:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12 1\n", hex);
    fprintf(f, "   2: %s:1F90 %s:C350 01 00000000:00000000 00:00000000 00000000 0 0 13 1\n", hex, hex);
    fclose(f);
    pt_dr_socks socks = { 0 };
    assert_int_equal(pt_dr_procnet_read(path, AF_INET, 8080, &socks), 0);
    assert_int_equal(socks.n, 1);
    assert_int_equal(socks.v[0].inode, 11);
    pt_dr_socks_release(&socks);
    unlink(path);
}

static pt_dr_sock listener(int family, const char *addr, int v6only)
{
    pt_dr_sock s;
    memset(&s, 0, sizeof s);
    s.family = family;
    s.port = 8080;
    s.v6only = v6only;
    assert_int_equal(inet_pton(family, addr, s.addr), 1);
    return s;
}

static bool accepts(const pt_dr_sock *s, const char *client)
{
    unsigned char a[16];
    int family = strchr(client, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(family, client, a), 1);
    return pt_dr_sock_accepts(s, family, a);
}

static void who_accepts_what(void **state)
{
    pt_dr_sock v4lo = listener(AF_INET, "127.0.0.1", 0);
    assert_true(accepts(&v4lo, "127.0.0.1"));
    assert_false(accepts(&v4lo, "127.0.0.2"));
    assert_false(accepts(&v4lo, "::1"));

    pt_dr_sock v4any = listener(AF_INET, "0.0.0.0", 0);
    assert_true(accepts(&v4any, "127.0.0.2"));
    assert_false(accepts(&v4any, "::1"));

    pt_dr_sock v6lo = listener(AF_INET6, "::1", 1);
    assert_true(accepts(&v6lo, "::1"));
    assert_false(accepts(&v6lo, "127.0.0.1"));

    pt_dr_sock dual = listener(AF_INET6, "::", 0);
    assert_true(accepts(&dual, "127.0.0.1"));
    assert_true(accepts(&dual, "::1"));
    char a[16];
    pt_dr_sock_addr(&dual, a, sizeof a);
    assert_string_equal(a, "*");

    pt_dr_sock v6any = listener(AF_INET6, "::", 1);
    assert_false(accepts(&v6any, "127.0.0.1"));
    assert_true(accepts(&v6any, "::1"));
    pt_dr_sock_addr(&v6any, a, sizeof a);
    assert_string_equal(a, "::");

    pt_dr_sock mapped = listener(AF_INET6, "::ffff:127.0.0.1", 0);
    assert_true(accepts(&mapped, "127.0.0.1"));
    assert_false(accepts(&mapped, "127.0.0.3"));
}

static void device_bound_socket_takes_nothing_from_this_host(void **state)
{
    pt_dr_sock s = listener(AF_INET, "0.0.0.0", 0);
    s.ifindex = if_nametoindex("lo");
    assert_true(s.ifindex > 0);
    assert_true(accepts(&s, "127.0.0.1")); /* bound to lo: local traffic arrives there */
    s.ifindex = 999999;                    /* some other device */
    assert_false(accepts(&s, "127.0.0.1"));
}

static void owner_text_is_honest_about_what_is_known(void **state)
{
    pt_dr_sock s = listener(AF_INET, "127.0.0.1", 0);
    snprintf(s.user, sizeof s.user, "ada");
    char out[512];
    pt_dr_sock_owner(&s, 3, out, sizeof out);
    assert_non_null(strstr(out, "not visible"));
    assert_non_null(strstr(out, "3 processes"));
    pt_dr_sock_owner(&s, 0, out, sizeof out);
    assert_non_null(strstr(out, "PID namespace"));
    s.pid = 4242, s.npids = 1;
    snprintf(s.cmdline, sizeof s.cmdline, "node server.js");
    pt_dr_sock_owner(&s, 0, out, sizeof out);
    assert_string_equal(out, "pid 4242 (node server.js, user ada)");
    s.owner_guessed = true;
    pt_dr_sock_owner(&s, 1, out, sizeof out);
    assert_non_null(strstr(out, "probably pid 4242"));
}

/* A real listener of this process: sock_diag and /proc/net/tcp must agree on it, sock_diag must
 * add the backlog and the IPv6-only flag, and the owner walk must find this very process. */
static int listen_on(int family, const char *addr, int v6only, int backlog, unsigned short *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &s4->sin_addr);
        len = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        len = sizeof *s6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void sockdiag_and_procfs_agree_on_a_real_listener(void **state)
{
    unsigned short port;
    int fd = listen_on(AF_INET, "127.0.0.1", 0, 7, &port);
    assert_true(fd >= 0);
    pt_dr_socks diag = { 0 }, proc = { 0 };
    if (pt__dr_sockdiag_listeners(AF_INET, port, &diag) != 0) {
        close(fd);
        skip(); /* no NETLINK_SOCK_DIAG here: the fallback is all there is */
    }
    assert_int_equal(diag.n, 1);
    assert_int_equal(diag.v[0].backlog, 7);
    assert_int_equal(diag.v[0].accept_queue, 0);
    assert_int_equal(pt_dr_procnet_read("/proc/net/tcp", AF_INET, port, &proc), 0);
    assert_int_equal(proc.n, 1);
    assert_int_equal(proc.v[0].inode, diag.v[0].inode);
    assert_memory_equal(proc.v[0].addr, diag.v[0].addr, 4);
    pt_dr_socks_find_owners(&diag);
    assert_int_equal(diag.v[0].pid, getpid());
    assert_false(diag.v[0].owner_guessed);
    pt_dr_socks_release(&diag);
    pt_dr_socks_release(&proc);
    close(fd);
}

static void sockdiag_reports_ipv6_only(void **state)
{
    unsigned short p1, p2;
    int a = listen_on(AF_INET6, "::1", 1, 5, &p1);
    int b = listen_on(AF_INET6, "::", 0, 5, &p2);
    if (a < 0 || b < 0) {
        if (a >= 0) close(a);
        if (b >= 0) close(b);
        skip(); /* no IPv6 here */
    }
    pt_dr_socks s = { 0 };
    if (pt__dr_sockdiag_listeners(AF_INET6, p1, &s) != 0) {
        close(a);
        close(b);
        skip();
    }
    assert_int_equal(s.n, 1);
    assert_int_equal(s.v[0].v6only, 1);
    pt_dr_socks_release(&s);
    assert_int_equal(pt__dr_sockdiag_listeners(AF_INET6, p2, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.v[0].v6only, 0);
    char ep[64];
    pt_dr_sock_endpoint(&s.v[0], ep, sizeof ep);
    char want[64];
    snprintf(want, sizeof want, "*:%u", p2);
    assert_string_equal(ep, want);
    pt_dr_socks_release(&s);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_listen_line),
        cmocka_unit_test(ipv6_loopback_line),
        cmocka_unit_test(time_wait_row),
        cmocka_unit_test(header_and_garbage_are_rejected),
        cmocka_unit_test(reads_only_listeners_of_the_port),
        cmocka_unit_test(who_accepts_what),
        cmocka_unit_test(device_bound_socket_takes_nothing_from_this_host),
        cmocka_unit_test(owner_text_is_honest_about_what_is_known),
        cmocka_unit_test(sockdiag_and_procfs_agree_on_a_real_listener),
        cmocka_unit_test(sockdiag_reports_ipv6_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
