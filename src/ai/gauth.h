/* gauth.h: Google credentials for the Vertex AI provider, and a refresher thread that keeps
 * an access token fresh before it expires. Three kinds, read once at load:
 *   - a service-account key file: an RS256-signed JWT assertion exchanged at the file's
 *     token_uri (grant type urn:ietf:params:oauth:grant-type:jwt-bearer);
 *   - an authorized-user file (what `gcloud auth application-default login` writes): its
 *     refresh token exchanged at its token_uri, Google's by default;
 *   - the metadata server of the machine (GCE, GKE, Cloud Run): a GET of the default
 *     service account's token with `Metadata-Flavor: Google`.
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

/* Reads the credentials file at path: a service account (client_email, private_key,
 * token_uri) or an authorized user (client_id, client_secret, refresh_token). NULL with a
 * message in err (never a secret) when the file cannot be read or used. */
pt_gauth *pt_gauth_load(const char *path, pt_buf *err);
/* Application default credentials, in Google's order: the file GOOGLE_APPLICATION_CREDENTIALS
 * names; gcloud's application_default_credentials.json (under CLOUDSDK_CONFIG, or
 * ~/.config/gcloud); otherwise the metadata server (GCE_METADATA_HOST, or
 * metadata.google.internal), which is only asked when a token is first needed. */
pt_gauth *pt_gauth_load_default(pt_buf *err);
/* Where g's credentials come from ("the metadata server ...", "GOOGLE_APPLICATION_CREDENTIALS
 * file '...'"), for logs and the admin API; never a secret. */
const char *pt_gauth_source(const pt_gauth *g);
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
