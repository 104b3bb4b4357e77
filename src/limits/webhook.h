/* webhook.h: telling an HTTP endpoint that a budget reached its soft threshold.
 *
 * The POST runs on a thread of its own, never on the request path, with a timeout on
 * connecting, sending and the answer; its result is logged by scheme, host and port (a
 * webhook's path is often its secret). http:// or https:// (http/post.h). */
#ifndef PT_LIMITS_WEBHOOK_H
#define PT_LIMITS_WEBHOOK_H

/* Posts json (copied) to url as application/json. -1 when the thread cannot start (out
 * of memory, bad URL); the outcome of the POST itself is only logged. */
int pt_limits_webhook_post(const char *url, const char *json, unsigned timeout_ms);

#endif
