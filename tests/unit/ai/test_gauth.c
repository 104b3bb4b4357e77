/* Unit tests for ai/gauth.c: the service-account file read (and refused without printing
 * the key), the RS256 JWT assertion checked with the public key and its claims read
 * back, and the token state before any exchange. The key pair is made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include "ai/gauth.h"
#include "core/buf.h"

static EVP_PKEY *key;
static char dir[] = "/tmp/pt-gauth-XXXXXX";

static int setup(void **state)
{
    (void)state;
    key = EVP_RSA_gen(2048);
    return key && mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes a service-account file with the members given (NULL leaves one out); returns its
 * path (kept for the test run). */
static const char *write_sa(const char *name, const char *email, bool with_key, const char *token_uri)
{
    static char paths[8][256];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 256, "%s/%s", dir, name);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("service_account"));
    if (email) json_object_set_new(j, "client_email", json_string(email));
    if (with_key) json_object_set_new(j, "private_key", json_stringn(pem, (size_t)n));
    if (token_uri) json_object_set_new(j, "token_uri", json_string(token_uri));
    assert_int_equal(json_dump_file(j, path, 0), 0);
    json_decref(j);
    BIO_free(b);
    return path;
}

static size_t unb64url(const char *in, size_t n, unsigned char *out)
{
    char tmp[4096] = { 0 };
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof tmp - 4; i++) tmp[k++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (k % 4) tmp[k++] = '=';
    int len = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)k);
    return (size_t)len - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
}

static void assertion_verifies_and_names_the_account(void **state)
{
    (void)state;
    pt_buf err = PT_BUF_INIT, jwt = PT_BUF_INIT;
    pt_gauth *g = pt_gauth_load(write_sa("sa.json", "sa@p.iam.gserviceaccount.com", true,
                                         "https://oauth2.googleapis.com/token"), &err);
    if (!g) fail_msg("%s", err.data);
    assert_int_equal(pt_gauth_assertion(g, 1700000000, &jwt), 0);
    char *dot1 = memchr(jwt.data, '.', jwt.len), *dot2 = strrchr(jwt.data, '.');
    assert_non_null(dot1);
    assert_true(dot2 > dot1);
    unsigned char buf[2048];
    size_t n = unb64url(jwt.data, (size_t)(dot1 - jwt.data), buf);
    assert_memory_equal(buf, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", n);
    n = unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf);
    json_t *claims = json_loadb((const char *)buf, n, 0, NULL);
    assert_non_null(claims);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "sa@p.iam.gserviceaccount.com");
    assert_string_equal(json_string_value(json_object_get(claims, "aud")), "https://oauth2.googleapis.com/token");
    assert_string_equal(json_string_value(json_object_get(claims, "scope")), "https://www.googleapis.com/auth/cloud-platform");
    assert_int_equal(json_integer_value(json_object_get(claims, "iat")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), 1700003600);
    json_decref(claims);
    /* the signature over header.claims verifies with the public key; a changed byte does not */
    unsigned char sig[512];
    size_t slen = unb64url(dot2 + 1, jwt.len - (size_t)(dot2 + 1 - jwt.data), sig);
    assert_int_equal(slen, 256);
    for (int flip = 0; flip < 2; flip++) {
        if (flip) jwt.data[3] ^= 1;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
        int ok = EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt.data, (size_t)(dot2 - jwt.data));
        EVP_MD_CTX_free(md);
        assert_int_equal(ok, flip ? 0 : 1);
    }
    /* no exchange has run (the refresher was never started) */
    char tok[64], why[256];
    assert_int_equal(pt_gauth_token(g, tok, sizeof tok, why, sizeof why), -1);
    assert_string_equal(why, "no token exchange has finished yet");
    pt_gauth_release(g);
    pt_buf_release(&jwt);
    pt_buf_release(&err);
}

static void unusable_files_are_refused_without_the_key(void **state)
{
    (void)state;
    struct { const char *path, *want; } cases[] = {
        { write_sa("a.json", NULL, true, "https://t/token"), "it has no client_email" },
        { write_sa("b.json", "e@x", false, "https://t/token"), "it has no private_key" },
        { write_sa("c.json", "e@x", true, NULL), "it has no token_uri" },
        { write_sa("d.json", "e@x", true, "ftp://t/token"), "its token_uri is not an http(s) URL" },
        { "/nonexistent/sa.json", "cannot read the service account file '/nonexistent/sa.json'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s", cases[i].path);
        pt_buf err = PT_BUF_INIT;
        assert_null(pt_gauth_load(path, &err));
        if (!err.data || !strstr(err.data, cases[i].want)) fail_msg("%s: [%s]", path, err.data ? err.data : "");
        assert_null(strstr(err.data, "PRIVATE"));
        pt_buf_release(&err);
    }
    /* a key that is not PEM */
    char path[256];
    snprintf(path, sizeof path, "%s/e.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"client_email\":\"e@x\",\"token_uri\":\"https://t/\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nsecretbits\\n\"}", f);
    fclose(f);
    pt_buf err = PT_BUF_INIT;
    assert_null(pt_gauth_load(path, &err));
    assert_non_null(strstr(err.data, "its private_key is not an RSA key in PEM"));
    assert_null(strstr(err.data, "secretbits"));
    pt_buf_release(&err);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Google's order: GOOGLE_APPLICATION_CREDENTIALS, then gcloud's file, then the metadata server. */
static void default_credentials_are_found_in_googles_order(void **state)
{
    (void)state;
    char gcloud[400], user[500], home[300], src[700];
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(gcloud, sizeof gcloud, "%s/.config/gcloud", home);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", gcloud);
    assert_int_equal(system(cmd), 0);
    snprintf(user, sizeof user, "%s/application_default_credentials.json", gcloud);
    put(user, "{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s3cret\",\"refresh_token\":\"r\"}");
    setenv("HOME", home, 1);
    unsetenv("CLOUDSDK_CONFIG");
    unsetenv("GCE_METADATA_HOST");
    const char *sa = write_sa("adc.json", "e@x", true, "https://t/token");
    char sapath[256];
    snprintf(sapath, sizeof sapath, "%s", sa);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", sapath, 1);
    pt_buf err = PT_BUF_INIT;
    pt_gauth *g = pt_gauth_load_default(&err);
    assert_non_null(g);
    snprintf(src, sizeof src, "GOOGLE_APPLICATION_CREDENTIALS file '%s'", sapath);
    assert_string_equal(pt_gauth_source(g), src);
    pt_gauth_release(g);

    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    g = pt_gauth_load_default(&err);
    assert_non_null(g);
    snprintf(src, sizeof src, "application default credentials file '%s'", user);
    assert_string_equal(pt_gauth_source(g), src);
    pt_gauth_release(g);

    /* an authorized-user file lacking a member is refused without its secret */
    put(user, "{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s3cret\"}");
    assert_null(pt_gauth_load_default(&err));
    assert_non_null(strstr(err.data, "it has no refresh_token"));
    assert_null(strstr(err.data, "s3cret"));
    pt_buf_reset(&err);

    remove(user);
    g = pt_gauth_load_default(&err);
    assert_non_null(g);
    assert_string_equal(pt_gauth_source(g), "the metadata server metadata.google.internal");
    pt_gauth_release(g);
    setenv("GCE_METADATA_HOST", "127.0.0.1:8089", 1);
    g = pt_gauth_load_default(&err);
    assert_non_null(g);
    assert_string_equal(pt_gauth_source(g), "the metadata server 127.0.0.1:8089");
    pt_gauth_release(g);
    setenv("GCE_METADATA_HOST", "a b", 1);
    assert_null(pt_gauth_load_default(&err));
    assert_non_null(strstr(err.data, "GCE_METADATA_HOST is not a host[:port]"));
    unsetenv("GCE_METADATA_HOST");
    pt_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(assertion_verifies_and_names_the_account),
        cmocka_unit_test(unusable_files_are_refused_without_the_key),
        cmocka_unit_test(default_credentials_are_found_in_googles_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
