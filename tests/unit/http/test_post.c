/* Unit tests for http/post.c: webhook and collector URLs read into host, port and path, and
 * a POST to a port nobody listens on failing with a reason instead of hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/post.h"

static void urls_read(void **state)
{
    (void)state;
    pt_post_url u;
    assert_int_equal(pt_post_url_parse("http://alerts.internal:8080/budget?team=a", &u), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "alerts.internal");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/budget?team=a");
    assert_int_equal(pt_post_url_parse("https://hooks.example.com", &u), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/");
    assert_int_equal(pt_post_url_parse("http://[::1]:4318/v1/traces", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 4318);
    assert_string_equal(u.path, "/v1/traces");
    assert_int_equal(pt_post_url_parse("https://h?x=1#frag", &u), 0);
    assert_string_equal(u.path, "/?x=1");
}

static void bad_urls_refused(void **state)
{
    (void)state;
    static const char *const bad[] = { "ftp://h/", "http://", "http://:80/", "http://h:0/", "http://h:65536/",
                                       "http://h:8x/", "http://[::1/", "http://[::1]x/", "h:80" };
    pt_post_url u;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = pt_post_url_parse(bad[i], &u);
        if (rc != -1) fail_msg("%s was accepted", bad[i]);
    }
}

/* A port that was just bound and released: nothing listens there. */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void refused_connection_says_why(void **state)
{
    (void)state;
    pt_post_url u = { .port = dead_port() };
    strcpy(u.host, "127.0.0.1");
    strcpy(u.path, "/");
    char why[128];
    assert_int_equal(pt_http_post(&u, NULL, "application/json", "{}", 2, 2000, why, sizeof why), -1);
    assert_non_null(strstr(why, "connection"));
    u.tls = true;
    assert_int_equal(pt_http_post(&u, NULL, "application/json", "{}", 2, 2000, why, sizeof why), -1);
    assert_non_null(strstr(why, "connection"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_read),
        cmocka_unit_test(bad_urls_refused),
        cmocka_unit_test(refused_connection_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
