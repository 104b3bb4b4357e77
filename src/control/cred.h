/* cred.h: the control plane's secrets. Consumer keys and user tokens are random strings
 * Portico generates ("pk_" + 32 base62 characters, about 190 bits), shown once and kept
 * only as a SHA-256 hash beside a readable prefix; a key this long needs no slow hash.
 * Passwords, chosen by people, are kept as Argon2id strings (t=3, m=64 MiB, p=1, 16-byte
 * salt, 32-byte tag), which carry their own parameters so they can be raised later.
 *
 * Password hashing costs 64 MiB and a large fraction of a second on purpose (0.65 to 1.2 s
 * measured on a busy 2-core machine): call it from a thread-pool job, never on an event
 * loop, and bound how many run at once. Everything else here is cheap. */
#ifndef PT_CONTROL_CRED_H
#define PT_CONTROL_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_CRED_KEY_SCHEME "pk_"     /* consumer keys */
#define PT_CRED_TOKEN_SCHEME "pt_"   /* user API tokens */
#define PT_CRED_BODY_LEN 32          /* base62 characters after the scheme */
#define PT_CRED_PREFIX_LEN 12        /* scheme + 9 characters: shown, stored, never enough to guess the rest */
#define PT_CRED_HASH_LEN 32
#define PT_CRED_HEX_LEN (2 * PT_CRED_HASH_LEN)

#define PT_CRED_PASSWORD_MIN 12      /* characters (code points) */
#define PT_CRED_PASSWORD_MAX 1024    /* bytes */
#define PT_CRED_PHC_MAX 128          /* room for an encoded Argon2id string */

typedef struct pt_cred_secret {
    char text[8 + PT_CRED_BODY_LEN];         /* the whole key, NUL-terminated: show once, then wipe */
    char prefix[PT_CRED_PREFIX_LEN + 1];     /* for display and lookup */
    uint8_t hash[PT_CRED_HASH_LEN];          /* what the store keeps */
    char hash_hex[PT_CRED_HEX_LEN + 1];      /* the same, as the store exchanges it */
} pt_cred_secret;

/* Generates a new key or token under scheme (PT_CRED_KEY_SCHEME, PT_CRED_TOKEN_SCHEME) from
 * the kernel's random source. Returns 0, or PT_EIO when no randomness could be had. */
int pt_cred_generate(const char *scheme, pt_cred_secret *out);
/* Overwrites the secret so it does not linger in memory. */
void pt_cred_wipe(pt_cred_secret *s);

/* True when s has the shape of a key of this scheme: checked before hashing, so a stray
 * header costs nothing. */
bool pt_cred_wellformed(const char *scheme, const char *s, size_t len);

/* SHA-256 of a presented key. */
void pt_cred_hash(const char *key, size_t len, uint8_t out[PT_CRED_HASH_LEN]);
/* Constant-time comparison of n bytes. */
bool pt_cred_equal(const void *a, const void *b, size_t n);
/* Hashes a presented key and compares it with a stored hash in constant time. */
bool pt_cred_key_matches(const char *key, size_t len, const uint8_t stored[PT_CRED_HASH_LEN]);

/* The password policy: at least PT_CRED_PASSWORD_MIN characters, at most
 * PT_CRED_PASSWORD_MAX bytes, valid UTF-8 without NUL. Returns 0, or PT_EINVAL with a
 * sentence for the client in why. */
int pt_cred_password_policy(const char *pw, size_t len, char *why, size_t cap);
/* Argon2id of a password that passed the policy, as a PHC string ("$argon2id$v=19$...").
 * Returns 0, PT_EINVAL (policy), PT_EIO (no randomness) or PT_ENOMEM. */
int pt_cred_password_hash(const char *pw, size_t len, char out[PT_CRED_PHC_MAX]);
/* True when pw matches the stored PHC string; false for a wrong password or a damaged
 * string. Takes as long as the hash's own parameters say. */
bool pt_cred_password_verify(const char *phc, const char *pw, size_t len);

#endif
