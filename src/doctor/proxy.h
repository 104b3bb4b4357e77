/* proxy.h: proxy environment rules behind the "proxy_env" check (check_proxy_env.c). */
#ifndef PT_DOCTOR_PROXY_H
#define PT_DOCTOR_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* Client families whose NO_PROXY rules differ. */
typedef enum {
    PT_DR_NP_CURL,    /* curl and libcurl */
    PT_DR_NP_PYTHON,  /* requests on top of urllib */
    PT_DR_NP_NODE,    /* proxy-from-env (axios), undici's EnvHttpProxyAgent (NODE_USE_ENV_PROXY=1) */
    PT_DR_NP_GO,      /* net/http through golang.org/x/net/http/httpproxy */
} pt_dr_np_family;

/* Does a NO_PROXY list exempt host (a name or an IP literal without brackets) on port for a
 * client of family fam? Each family's rules are documented at its matcher in
 * check_proxy_env.c: which separators, whether "*" counts inside a list, leading dots, "*."
 * wildcards, CIDR blocks, "host:port" entries, subdomains. Names compare case-insensitively.
 * On a match, the entry is copied to matched (if not NULL). */
bool pt__dr_noproxy_match(pt_dr_np_family fam, const char *list, const char *host, long port, char *matched,
                          size_t mlen);
/* Copies a URL (a proxy or the target) with any user:password@ replaced by "***@". */
void pt__dr_proxy_mask(const char *url, char *out, size_t n);
/* Host and port of a proxy URL ("http://u:p@proxy:3128" -> "proxy", 3128; no port -> 1080,
 * curl's default). Returns 0 or -1. */
int pt__dr_proxy_hostport(const char *url, char *host, size_t hlen, long *port);

#endif
