/* cred.c: key and token generation and hashing, constant-time comparison, and Argon2id
 * passwords (see cred.h for the choices and their reasons). */
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co., see pt_cred_hash */

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>

#include "control/cred.h"
#include "core/err.h"
#include "store/store.h"

#define ARGON2_T 3
#define ARGON2_M_KIB (64 * 1024)
#define ARGON2_P 1
#define SALT_LEN 16

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* n uniformly drawn base62 characters: bytes >= 248 are dropped, so that 248 = 4 * 62
 * spreads evenly and no character is likelier than another. */
static int random_base62(char *out, size_t n)
{
    unsigned char pool[64];
    size_t have = 0, used = sizeof pool;
    while (have < n) {
        if (used == sizeof pool) {
            if (RAND_bytes(pool, sizeof pool) != 1) return PT_EIO;
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < 248) out[have++] = base62[b % 62];
    }
    OPENSSL_cleanse(pool, sizeof pool);
    return 0;
}

/* Runs once per keyed request, so it uses the low-level SHA-256 with its state on the
 * stack: EVP_Digest() and OpenSSL 3's SHA256() fetch the algorithm and allocate a context
 * on every call (about 5,700 instructions and a malloc/free against about 2,300). The
 * low-level calls are deprecated in OpenSSL 3, not removed; OPENSSL_SUPPRESS_DEPRECATED
 * above says we know. */
void pt_cred_hash(const char *key, size_t len, uint8_t out[PT_CRED_HASH_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, key, len);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

int pt_cred_generate(const char *scheme, pt_cred_secret *out)
{
    memset(out, 0, sizeof *out);
    size_t sl = strlen(scheme);
    if (sl == 0 || sl > 7) return PT_EINVAL;
    memcpy(out->text, scheme, sl);
    int rc = random_base62(out->text + sl, PT_CRED_BODY_LEN);
    if (rc) { pt_cred_wipe(out); return rc; }
    memcpy(out->prefix, out->text, PT_CRED_PREFIX_LEN);
    pt_cred_hash(out->text, sl + PT_CRED_BODY_LEN, out->hash);
    pt_store_hex(out->hash, PT_CRED_HASH_LEN, out->hash_hex);
    return 0;
}

void pt_cred_wipe(pt_cred_secret *s) { OPENSSL_cleanse(s, sizeof *s); }

bool pt_cred_wellformed(const char *scheme, const char *s, size_t len)
{
    size_t sl = strlen(scheme);
    if (len != sl + PT_CRED_BODY_LEN || memcmp(s, scheme, sl) != 0) return false;
    for (size_t i = sl; i < len; i++)
        if (!memchr(base62, s[i], sizeof base62 - 1)) return false;
    return true;
}

bool pt_cred_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

bool pt_cred_key_matches(const char *key, size_t len, const uint8_t stored[PT_CRED_HASH_LEN])
{
    uint8_t h[PT_CRED_HASH_LEN];
    pt_cred_hash(key, len, h);
    return pt_cred_equal(h, stored, sizeof h);
}

static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

int pt_cred_password_policy(const char *pw, size_t len, char *why, size_t cap)
{
    const char *msg = NULL;
    if (len > PT_CRED_PASSWORD_MAX) msg = "password must be at most 1024 bytes";
    else if (!pt_store_text_ok(pw, len)) msg = "password must be valid UTF-8 without NUL bytes";
    else if (code_points(pw, len) < PT_CRED_PASSWORD_MIN) msg = "password must be at least 12 characters";
    if (!msg) return 0;
    if (why && cap) {
        strncpy(why, msg, cap - 1);
        why[cap - 1] = '\0';
    }
    return PT_EINVAL;
}

int pt_cred_password_hash(const char *pw, size_t len, char out[PT_CRED_PHC_MAX])
{
    if (pt_cred_password_policy(pw, len, NULL, 0) != 0) return PT_EINVAL;
    unsigned char salt[SALT_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1) return PT_EIO;
    int r = argon2id_hash_encoded(ARGON2_T, ARGON2_M_KIB, ARGON2_P, pw, len, salt, sizeof salt, PT_CRED_HASH_LEN, out,
                                  PT_CRED_PHC_MAX);
    OPENSSL_cleanse(salt, sizeof salt);
    if (r == ARGON2_MEMORY_ALLOCATION_ERROR) return PT_ENOMEM;
    return r == ARGON2_OK ? 0 : PT_EIO;
}

bool pt_cred_password_verify(const char *phc, const char *pw, size_t len)
{
    if (!phc || strncmp(phc, "$argon2id$", 10) != 0 || len > PT_CRED_PASSWORD_MAX) return false;
    return argon2id_verify(phc, pw, len) == ARGON2_OK;
}
