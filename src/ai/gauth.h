/* gauth.h: Google service-account credentials for the Vertex AI provider: the key file
 * read once at load, an RS256-signed JWT assertion exchanged at the file's token_uri for
 * an access token (grant type urn:ietf:params:oauth:grant-type:jwt-bearer), and a
 * refresher thread that keeps the token fresh before it expires.
 *
 * The exchange is a blocking HTTPS POST (http/post.h) made only by the refresher thread,
 * never by a worker: a request reads the cached token under a mutex and, when there is
 * none (the first exchange is still under way, or the token endpoint fails), gets an
 * error saying why. The refresher starts with pt_gauth_start() (the serving process, once
 * the configuration is bound) and stops when the last reference goes. */
#ifndef PT_AI_GAUTH_H
#define PT_AI_GAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct pt_gauth pt_gauth;

/* Reads the service-account JSON at path (client_email, private_key, token_uri). NULL
 * with a message in err (never the key) when the file cannot be read or used. */
pt_gauth *pt_gauth_load(const char *path, pt_buf *err);
/* Starts the refresher thread (once; later calls do nothing). owner names the provider
 * in logs and errors. */
void pt_gauth_start(pt_gauth *g, const char *owner);
/* Stops the refresher (it exits at its next wake-up) and drops the caller's reference. */
void pt_gauth_release(pt_gauth *g);
/* Copies the current access token into out (cap bytes). 0, or -1 with why (cap whycap)
 * saying what the last exchange did wrong or that none finished yet. */
int pt_gauth_token(pt_gauth *g, char *out, size_t cap, char *why, size_t whycap);
/* The signed assertion for time now (seconds): header.claims.signature, base64url. For
 * the refresher and the tests. 0 or -1. */
int pt_gauth_assertion(const pt_gauth *g, int64_t now, pt_buf *out);

#endif
