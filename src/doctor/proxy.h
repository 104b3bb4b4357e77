/* proxy.h: proxy environment rules behind the "proxy_env" check (check_proxy_env.c). */
#ifndef PT_DOCTOR_PROXY_H
#define PT_DOCTOR_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* Does a NO_PROXY list exempt host (a name or an IP literal without brackets) on port?
 * Entries are comma- or space-separated: "*" (everything), a name (matches itself and its
 * subdomains; a leading "." or "*." is ignored), an IP address (exact, brackets allowed for
 * IPv6), a CIDR block ("127.0.0.0/8", "::1/128"), any of them with ":port". Names compare
 * case-insensitively. On a match, the entry is copied to matched (if not NULL). */
bool pt__dr_noproxy_match(const char *list, const char *host, long port, char *matched, size_t mlen);
/* Copies a URL (a proxy or the target) with any user:password@ replaced by "***@". */
void pt__dr_proxy_mask(const char *url, char *out, size_t n);
/* Host and port of a proxy URL ("http://u:p@proxy:3128" -> "proxy", 3128; no port -> 1080,
 * curl's default). Returns 0 or -1. */
int pt__dr_proxy_hostport(const char *url, char *host, size_t hlen, long *port);

#endif
