/* Unit tests for gateway/listen.c and core/sockowner.c: a set keeps the sockets of kept
 * addresses and binds new ones, an address already listened on is refused with this
 * process named, and a set crosses a unix socket and an exec whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/sockowner.h"
#include "gateway/config.h"
#include "gateway/listen.h"

/* A port the kernel picked and released; good enough for a test on loopback. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static pt_config *cfg_listening(unsigned p1, unsigned p2)
{
    char yaml[200];
    if (p2) snprintf(yaml, sizeof yaml, "listen: [\"127.0.0.1:%u\", \"127.0.0.1:%u\"]\n", p1, p2);
    else snprintf(yaml, sizeof yaml, "listen: [\"127.0.0.1:%u\"]\n", p1);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("l.yaml", yaml, strlen(yaml), &err);
    if (!cfg) fail_msg("config did not load: %s", err.data);
    pt_buf_release(&err);
    return cfg;
}

static ino_t inode_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_ino;
}

static void kept_address_keeps_its_socket_and_new_one_is_bound(void **state)
{
    unsigned p1 = free_port(), p2 = free_port();
    pt_config *a = cfg_listening(p1, 0), *b = cfg_listening(p2, p1);
    pt_listen_set s1, s2;
    pt_buf err = PT_BUF_INIT;
    assert_int_equal(pt_listen_set_open(a, NULL, &s1, &err), 0);
    assert_int_equal(pt_listen_set_open(b, &s1, &s2, &err), 0);
    assert_int_equal(s2.n, 2);
    /* cfg order: p2 first (new socket), p1 second (the same socket as before, a dup) */
    assert_int_equal(inode_of(s2.v[1].fd), inode_of(s1.v[0].fd));
    assert_int_not_equal(s2.v[1].fd, s1.v[0].fd);
    assert_int_not_equal(inode_of(s2.v[0].fd), inode_of(s1.v[0].fd));
    assert_false(pt_listen_set_same(&s1, &s2));
    pt_listen_set_release(&s1);
    pt_listen_set_release(&s2);
    pt_buf_release(&err);
    pt_config_release(a);
    pt_config_release(b);
}

static void address_in_use_names_this_process(void **state)
{
    unsigned p = free_port();
    pt_config *a = cfg_listening(p, 0);
    pt_listen_set s1, s2;
    pt_buf err = PT_BUF_INIT;
    assert_int_equal(pt_listen_set_open(a, NULL, &s1, &err), 0);
    assert_int_equal(pt_listen_set_open(a, NULL, &s2, &err), -1);
    assert_int_equal(s2.n, 0);
    char want[96];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%u: address in use by pid %d (", p, (int)getpid());
    if (!strstr(err.data, want)) fail_msg("got '%s', want it to contain '%s'", err.data, want);
    char cmd[64];
    assert_int_equal(pt_sock_owner((uint16_t)p, cmd, sizeof cmd), getpid());
    pt_listen_set_release(&s1);
    assert_int_equal(pt_sock_owner((uint16_t)p, cmd, sizeof cmd), 0);
    pt_buf_release(&err);
    pt_config_release(a);
}

static void set_crosses_a_unix_socket_whole(void **state)
{
    unsigned p1 = free_port(), p2 = free_port();
    pt_config *b = cfg_listening(p1, p2);
    pt_listen_set s, got;
    pt_buf err = PT_BUF_INIT;
    assert_int_equal(pt_listen_set_open(b, NULL, &s, &err), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    assert_int_equal(pt_listen_set_send(sv[0], &s), 0);
    assert_int_equal(pt_listen_set_recv(sv[1], &got), 1);
    assert_int_equal(got.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(got.v[i].key, s.v[i].key);
        assert_int_equal(inode_of(got.v[i].fd), inode_of(s.v[i].fd));
    }
    assert_true(pt_listen_set_same(&s, &got));
    pt_listen_set empty = { 0 };
    pt_listen_set got0;
    assert_int_equal(pt_listen_set_send(sv[0], &empty), 0);
    assert_int_equal(pt_listen_set_recv(sv[1], &got0), 1);
    assert_int_equal(got0.n, 0);
    pt_listen_set_release(&got0);
    close(sv[0]);
    assert_int_equal(pt_listen_set_recv(sv[1], &got0), 0);
    close(sv[1]);
    pt_listen_set_release(&got);
    pt_listen_set_release(&s);
    pt_buf_release(&err);
    pt_config_release(b);
}

static void set_survives_export_and_import(void **state)
{
    unsigned p1 = free_port();
    pt_config *a = cfg_listening(p1, 0);
    pt_listen_set s, got;
    pt_buf err = PT_BUF_INIT;
    assert_int_equal(pt_listen_set_open(a, NULL, &s, &err), 0);
    char text[256];
    assert_int_equal(pt_listen_set_export(&s, text, sizeof text), 0);
    char want[64];
    snprintf(want, sizeof want, "%d:127.0.0.1 %u", s.v[0].fd, p1);
    assert_string_equal(text, want);
    assert_int_equal(fcntl(s.v[0].fd, F_GETFD) & FD_CLOEXEC, 0);
    assert_int_equal(pt_listen_set_import(text, &got), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].fd, s.v[0].fd);
    assert_string_equal(got.v[0].key, s.v[0].key);
    assert_int_equal(fcntl(s.v[0].fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    free(got.v); /* same descriptors as s: closed once, below */
    char small[4];
    assert_int_equal(pt_listen_set_export(&s, small, sizeof small), -1);
    assert_int_equal(pt_listen_set_import("x:1", &got), -1);
    assert_int_equal(pt_listen_set_import("3:", &got), -1);
    assert_int_equal(got.n, 0);
    pt_listen_set_release(&s);
    pt_buf_release(&err);
    pt_config_release(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kept_address_keeps_its_socket_and_new_one_is_bound),
        cmocka_unit_test(address_in_use_names_this_process),
        cmocka_unit_test(set_crosses_a_unix_socket_whole),
        cmocka_unit_test(set_survives_export_and_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
