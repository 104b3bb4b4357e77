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

#include <pthread.h>

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

/* A one-shot server: accepts one connection, reads the request head, answers `answer`
 * and closes. */
typedef struct canned {
    int fd;
    const char *answer;
} canned;

static void *serve_once(void *arg)
{
    canned *c = arg;
    int conn = accept(c->fd, NULL, NULL);
    char buf[8192];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t r = read(conn, buf + got, sizeof buf - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && strstr(buf, "Content-Length: 3\r\n") && (size_t)(end + 4 - buf) + 3 <= got) break;
    }
    ssize_t w = write(conn, c->answer, strlen(c->answer));
    (void)w;
    close(conn);
    return NULL;
}

static int read_answer(const char *answer, pt_buf *body)
{
    canned c = { socket(AF_INET, SOCK_STREAM, 0), answer };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(c.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(c.fd, 1), 0);
    assert_int_equal(getsockname(c.fd, (struct sockaddr *)&a, &len), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_once, &c), 0);
    pt_post_url u = { .port = ntohs(a.sin_port), .path = "/token" };
    strcpy(u.host, "127.0.0.1");
    char why[128];
    int status = pt_http_post_read(&u, NULL, "text/plain", "a=b", 3, 5000, body, why, sizeof why);
    pthread_join(th, NULL);
    close(c.fd);
    return status;
}

/* The answer's body is read whole: by length, or chunked (then decoded). */
static void answers_are_read_whole(void **state)
{
    (void)state;
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(read_answer("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"access_token\":1}", &b), 200);
    assert_string_equal(b.data, "{\"access_token\":1}");
    pt_buf_reset(&b);
    assert_int_equal(read_answer("HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "5\r\n{\"err\r\nA;x=1\r\nor\":\"bad\"}\r\n0\r\n\r\n", &b), 400);
    assert_string_equal(b.data, "{\"error\":\"bad\"}");
    pt_buf_reset(&b);
    assert_int_equal(read_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &b), -1);
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_read),
        cmocka_unit_test(bad_urls_refused),
        cmocka_unit_test(refused_connection_says_why),
        cmocka_unit_test(answers_are_read_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
