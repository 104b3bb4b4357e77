/* Unit tests for ai/sigv4.c: AWS's published examples (the signature test suite's
 * get-vanilla case and the S3 GET Object example), the URI encoding rules, header value
 * folding, and a session token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/sigv4.h"
#include "core/buf.h"
#include "core/err.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void sha256_of_nothing(void **state)
{
    (void)state;
    char h[65];
    pt_sha256_hex("", 0, h);
    assert_string_equal(h, EMPTY_HASH);
}

/* aws-sig-v4-test-suite/get-vanilla: GET / with host and x-amz-date. */
static void get_vanilla(void **state)
{
    (void)state;
    pt_sigv4 s = { .method = "GET", .canonical_uri = PT_SLICE_LIT("/"), .payload_hash = EMPTY_HASH,
                   .amz_date = "20150830T123600Z", .region = "us-east-1", .service = "service",
                   .access_key_id = AKID, .secret_access_key = SECRET };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-date", PT_SLICE_LIT("20150830T123600Z") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "host", PT_SLICE_LIT("example.amazonaws.com") };
    pt_buf out = PT_BUF_INIT, creq = PT_BUF_INIT;
    assert_int_equal(pt_sigv4_authorization(&s, &out, &creq), 0);
    assert_string_equal(creq.data, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                                   "host;x-amz-date\n" EMPTY_HASH);
    assert_string_equal(out.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                                  "SignedHeaders=host;x-amz-date, "
                                  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    pt_buf_release(&out);
    pt_buf_release(&creq);
}

/* The S3 documentation's GET Object example (a Range header, x-amz-content-sha256). */
static void s3_get_object_example(void **state)
{
    (void)state;
    pt_sigv4 s = { .method = "GET", .canonical_uri = PT_SLICE_LIT("/test.txt"), .payload_hash = EMPTY_HASH,
                   .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3",
                   .access_key_id = "AKIAIOSFODNN7EXAMPLE", .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "host", PT_SLICE_LIT("examplebucket.s3.amazonaws.com") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "range", PT_SLICE_LIT("bytes=0-9") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-content-sha256", PT_SLICE_LIT(EMPTY_HASH) };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-date", PT_SLICE_LIT("20130524T000000Z") };
    pt_buf out = PT_BUF_INIT, creq = PT_BUF_INIT;
    assert_int_equal(pt_sigv4_authorization(&s, &out, &creq), 0);
    char h[65];
    pt_sha256_hex(creq.data, creq.len, h);
    assert_string_equal(h, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    assert_non_null(strstr(out.data, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
    assert_non_null(strstr(out.data, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"));
    pt_buf_release(&out);
    pt_buf_release(&creq);
}

static void uri_encoding(void **state)
{
    (void)state;
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_sigv4_uri_encode(&b, PT_SLICE_LIT("/model/anthropic.claude-v2:1/converse"), false), 0);
    assert_string_equal(b.data, "%2Fmodel%2Fanthropic.claude-v2%3A1%2Fconverse");
    pt_buf_reset(&b);
    /* the path as sent, encoded once more for the canonical request */
    assert_int_equal(pt_sigv4_uri_encode(&b, PT_SLICE_LIT("/model/a%3A0/x y~_-."), true), 0);
    assert_string_equal(b.data, "/model/a%253A0/x%20y~_-.");
    pt_buf_reset(&b);
    assert_int_equal(pt_sigv4_uri_encode(&b, PT_SLICE_LIT("\xc3\xbc"), true), 0);
    assert_string_equal(b.data, "%C3%BC");
    pt_buf_release(&b);
}

/* Values are trimmed and inner runs of spaces folded; a session token is one more signed
 * header (and changes the signature). */
static void header_values_and_session_token(void **state)
{
    (void)state;
    pt_sigv4 s = { .method = "POST", .canonical_uri = PT_SLICE_LIT("/"), .payload_hash = EMPTY_HASH,
                   .amz_date = "20150830T123600Z", .region = "us-east-1", .service = "service",
                   .access_key_id = AKID, .secret_access_key = SECRET };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "host", PT_SLICE_LIT("example.amazonaws.com") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "my-header1", PT_SLICE_LIT("  value1  with   spaces ") };
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-date", PT_SLICE_LIT("20150830T123600Z") };
    pt_buf a = PT_BUF_INIT, creq = PT_BUF_INIT, b = PT_BUF_INIT;
    assert_int_equal(pt_sigv4_authorization(&s, &a, &creq), 0);
    assert_non_null(strstr(creq.data, "\nmy-header1:value1 with spaces\n"));
    s.headers[s.nheaders++] = (pt_sigv4_header){ "x-amz-security-token", PT_SLICE_LIT("TOKEN") };
    assert_int_equal(pt_sigv4_authorization(&s, &b, NULL), 0);
    assert_non_null(strstr(b.data, "SignedHeaders=host;my-header1;x-amz-date;x-amz-security-token,"));
    assert_string_not_equal(strstr(a.data, "Signature="), strstr(b.data, "Signature="));
    pt_buf_release(&a);
    pt_buf_release(&b);
    pt_buf_release(&creq);
}

static void missing_pieces_are_refused(void **state)
{
    (void)state;
    pt_sigv4 s = { .method = "GET", .payload_hash = EMPTY_HASH, .amz_date = "2015", .region = "r", .service = "s",
                   .access_key_id = AKID, .secret_access_key = SECRET };
    pt_buf out = PT_BUF_INIT;
    assert_int_equal(pt_sigv4_authorization(&s, &out, NULL), PT_EINVAL);
    s.amz_date = "20150830T123600Z";
    s.secret_access_key = NULL;
    assert_int_equal(pt_sigv4_authorization(&s, &out, NULL), PT_EINVAL);
    assert_int_equal(out.len, 0);
    char d[17];
    pt_sigv4_date(1440938160, d);
    assert_string_equal(d, "20150830T123600Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_of_nothing),
        cmocka_unit_test(get_vanilla),
        cmocka_unit_test(s3_get_object_example),
        cmocka_unit_test(uri_encoding),
        cmocka_unit_test(header_values_and_session_token),
        cmocka_unit_test(missing_pieces_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
