/* Unit tests for control/cred.c: key generation and shape, hashing against a known digest,
 * constant-time comparison, the password policy and Argon2id verify right and wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "control/cred.h"
#include "core/err.h"

static void generated_keys_have_the_promised_shape(void **state)
{
    pt_cred_secret s;
    assert_int_equal(pt_cred_generate(PT_CRED_KEY_SCHEME, &s), 0);
    assert_int_equal(strlen(s.text), 3 + PT_CRED_BODY_LEN);
    assert_memory_equal(s.text, "pk_", 3);
    assert_true(pt_cred_wellformed(PT_CRED_KEY_SCHEME, s.text, strlen(s.text)));
    assert_false(pt_cred_wellformed(PT_CRED_TOKEN_SCHEME, s.text, strlen(s.text)));
    assert_int_equal(strlen(s.prefix), PT_CRED_PREFIX_LEN);
    assert_memory_equal(s.prefix, s.text, PT_CRED_PREFIX_LEN);
    assert_true(pt_cred_key_matches(s.text, strlen(s.text), s.hash));
    assert_int_equal(strlen(s.hash_hex), 64);
    pt_cred_wipe(&s);
    assert_int_equal(s.text[0], 0);
}

static void keys_do_not_repeat_and_use_the_whole_alphabet(void **state)
{
    enum { N = 2000 };
    static char seen[N][48];
    unsigned counts[128] = {0};
    for (int i = 0; i < N; i++) {
        pt_cred_secret s;
        assert_int_equal(pt_cred_generate(PT_CRED_TOKEN_SCHEME, &s), 0);
        strcpy(seen[i], s.text);
        for (const char *p = s.text + 3; *p; p++) counts[(unsigned char)*p]++;
        for (int j = 0; j < i; j++) assert_string_not_equal(seen[i], seen[j]);
    }
    /* 64,000 draws over 62 characters: each near 1032; a broken mapping shows far off */
    const char *alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (const char *c = alpha; *c; c++) {
        assert_true(counts[(unsigned char)*c] > 850);
        assert_true(counts[(unsigned char)*c] < 1250);
    }
}

static void malformed_keys_are_not_wellformed(void **state)
{
    char k[64] = "pk_";
    memset(k + 3, 'a', PT_CRED_BODY_LEN);
    assert_true(pt_cred_wellformed("pk_", k, 3 + PT_CRED_BODY_LEN));
    assert_false(pt_cred_wellformed("pk_", k, 2 + PT_CRED_BODY_LEN));
    k[10] = '-';
    assert_false(pt_cred_wellformed("pk_", k, 3 + PT_CRED_BODY_LEN));
    assert_false(pt_cred_wellformed("pk_", "", 0));
}

static void hash_is_sha256(void **state)
{
    uint8_t h[32];
    pt_cred_hash("abc", 3, h);
    static const uint8_t want[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                     0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                     0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(h, want, 32);
    assert_false(pt_cred_key_matches("abd", 3, want));
    assert_true(pt_cred_equal("same", "same", 4));
    assert_false(pt_cred_equal("same", "samf", 4));
}

static void password_policy_names_the_problem(void **state)
{
    char why[128];
    assert_int_equal(pt_cred_password_policy("short", 5, why, sizeof why), PT_EINVAL);
    assert_non_null(strstr(why, "at least 12"));
    /* twelve characters, more bytes: counted as characters */
    const char *accents = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";
    assert_int_equal(pt_cred_password_policy(accents, strlen(accents), why, sizeof why), PT_EINVAL);
    char twelve[32];
    snprintf(twelve, sizeof twelve, "%s\xC3\xA9", accents);
    assert_int_equal(pt_cred_password_policy(twelve, strlen(twelve), why, sizeof why), 0);
    static char big[1100];
    memset(big, 'x', sizeof big);
    assert_int_equal(pt_cred_password_policy(big, 1025, why, sizeof why), PT_EINVAL);
    assert_non_null(strstr(why, "1024"));
    assert_int_equal(pt_cred_password_policy(big, 1024, why, sizeof why), 0);
    assert_int_equal(pt_cred_password_policy("correct horse\xFF battery", 23, why, sizeof why), PT_EINVAL);
    assert_non_null(strstr(why, "UTF-8"));
    assert_int_equal(pt_cred_password_policy("correct\0horse battery", 21, why, sizeof why), PT_EINVAL);
}

static void argon2id_verifies_right_and_refuses_wrong(void **state)
{
    const char *pw = "correct horse battery staple";
    char phc[PT_CRED_PHC_MAX], phc2[PT_CRED_PHC_MAX];
    assert_int_equal(pt_cred_password_hash(pw, strlen(pw), phc), 0);
    assert_non_null(strstr(phc, "$argon2id$v=19$m=65536,t=3,p=1$"));
    assert_true(pt_cred_password_verify(phc, pw, strlen(pw)));
    assert_false(pt_cred_password_verify(phc, "correct horse battery stapler", 29));
    assert_false(pt_cred_password_verify(phc, pw, strlen(pw) - 1));
    /* a fresh salt every time */
    assert_int_equal(pt_cred_password_hash(pw, strlen(pw), phc2), 0);
    assert_string_not_equal(phc, phc2);
    /* damaged or foreign strings never verify */
    phc[strlen(phc) - 3] = phc[strlen(phc) - 3] == 'A' ? 'B' : 'A';
    assert_false(pt_cred_password_verify(phc, pw, strlen(pw)));
    assert_false(pt_cred_password_verify("$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA", pw, strlen(pw)));
    assert_false(pt_cred_password_verify("", pw, strlen(pw)));
    assert_false(pt_cred_password_verify(NULL, pw, strlen(pw)));
    assert_int_equal(pt_cred_password_hash("too short", 9, phc), PT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_keys_have_the_promised_shape),
        cmocka_unit_test(keys_do_not_repeat_and_use_the_whole_alphabet),
        cmocka_unit_test(malformed_keys_are_not_wellformed),
        cmocka_unit_test(hash_is_sha256),
        cmocka_unit_test(password_policy_names_the_problem),
        cmocka_unit_test(argon2id_verifies_right_and_refuses_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
