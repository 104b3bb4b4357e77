/* check.c: validators for the values many sections share (see check.h). */
#include "config/check.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

bool pt_cfg_parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned long long v;
    if (len > 5 || !pt_slice_to_u64(pt_slice_from(s, len), &v) || v < 1 || v > 65535) return false;
    *out = (uint16_t)v;
    return true;
}

/* A DNS name or IPv4 literal: letters, digits, '-', '.', '_'; 1..253 bytes. */
bool pt_cfg_hostname_ok(const char *h, size_t len)
{
    if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-') return false;
    for (size_t i = 0; i < len; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

bool pt_cfg_ipv6_ok(const char *h, size_t len)
{
    char tmp[64];
    struct in6_addr a;
    if (len == 0 || len >= sizeof tmp) return false;
    memcpy(tmp, h, len);
    tmp[len] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

void pt_cfg_lowercase(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
}

/* Service and route names: used in metrics labels, logs and registry keys. */
int pt_cfg_name(pt_cfg *c, const pt_cfg_node *n, const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > PT_CFG_MAX_NAME)
        return pt_cfg_fail(c, n, "must be 1 to %u characters long", PT_CFG_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return pt_cfg_fail(c, n, "'%s' may only contain letters, digits, '-', '_' and '.'", PT_CFG_SHOW(n));
    }
    return 0;
}

static bool token_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch)))
            return false;
    }
    return true;
}

/* A header name. As a mapping key it is taken literally, like every key; as a list
 * entry it is a value and ${} expands. */
int pt_cfg_header_name(pt_cfg *c, const pt_cfg_node *n, bool is_key, char **out)
{
    if (is_key) {
        free(*out);
        if (!(*out = strdup(n->text))) return pt_cfg_oom(c, n);
    } else if (pt_cfg_str(c, n, out)) {
        return -1;
    }
    if (strlen(*out) != n->len && is_key) return pt_cfg_fail(c, n, "'%s' is not a valid header name", PT_CFG_SHOW(n));
    if (!token_ok(*out) || strlen(*out) > 256)
        return pt_cfg_fail(c, n, "'%s' is not a valid header name", PT_CFG_SHOW(n));
    return 0;
}

/* Header values: no CR, LF, NUL or other controls but HTAB (no header injection). */
int pt_cfg_header_value(pt_cfg *c, const pt_cfg_node *n, char **out)
{
    if (pt_cfg_str(c, n, out)) return -1;
    for (const char *p = *out; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return pt_cfg_fail(c, n, "header value must not contain line breaks or control characters");
    }
    return 0;
}

/* "HOST:PORT" or "[IPV6]:PORT"; HOST is an IP literal or localhost. */
int pt_cfg_listen_address(pt_cfg *c, const pt_cfg_node *at, const char *s, pt_cfg_addr *l)
{
    const char *hs = s, *he, *ps;
    bool v6 = false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return pt_cfg_fail(c, at, "expected [IPV6]:PORT such as [::1]:8080, got '%s'", PT_CFG_SHOW(at));
        hs = s + 1;
        he = close;
        ps = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return pt_cfg_fail(c, at, "expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got '%s'",
                               PT_CFG_SHOW(at));
        he = colon;
        ps = colon + 1;
        if (memchr(hs, ':', (size_t)(he - hs)))
            return pt_cfg_fail(c, at, "an IPv6 address goes in brackets, as in [::1]:8080, got '%s'", PT_CFG_SHOW(at));
    }
    size_t hl = (size_t)(he - hs);
    char host[64];
    struct in_addr a4;
    if (hl == 0 || hl >= sizeof host)
        return pt_cfg_fail(c, at, "expected HOST:PORT such as 127.0.0.1:8080, got '%s'", PT_CFG_SHOW(at));
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (!v6 && strcasecmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (v6 ? !pt_cfg_ipv6_ok(host, hl) : inet_pton(AF_INET, host, &a4) != 1)
        return pt_cfg_fail(c, at,
                           "listen host must be an IP address (127.0.0.1, 0.0.0.0, [::1], [::]) or localhost, got '%s'",
                           PT_CFG_SHOW(at));
    if (!pt_cfg_parse_port(ps, strlen(ps), &l->port))
        return pt_cfg_fail(c, at, "port must be a number from 1 to 65535, got '%s'", PT_CFG_SHOW(at));
    free(l->host);
    free(l->text);
    l->host = strdup(host);
    if (asprintf(&l->text, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)l->port) < 0) l->text = NULL;
    if (!l->host || !l->text) return pt_cfg_oom(c, at);
    return 0;
}

/* "http[s]://HOST[:PORT][/PATH]"; IPv6 in brackets. Without allow_path only a
 * trailing '/' may follow the authority. Messages name the value as `what`. */
int pt_cfg_url(pt_cfg *c, const pt_cfg_node *at, const char *s, const char *what, bool allow_path, pt_cfg_url_parts *u)
{
    const char *rest;
    if (strncasecmp(s, "http://", 7) == 0) {
        u->tls = false;
        u->port = 80;
        rest = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        u->tls = true;
        u->port = 443;
        rest = s + 8;
    } else {
        return pt_cfg_fail(c, at, "%s must start with http:// or https://, got '%s'", what, PT_CFG_SHOW(at));
    }
    size_t alen = strcspn(rest, "/?#");
    const char *end = rest + alen;
    if (memchr(rest, '@', alen))
        return pt_cfg_fail(c, at, "%s must not contain user info (user@); set credentials with %s", what,
                           allow_path ? "api_key or headers" : "request_headers");
    if (allow_path ? strpbrk(end, "?#") != NULL : *end && !(end[0] == '/' && end[1] == '\0'))
        return pt_cfg_fail(c, at, "%s must not have a %s (use rewrite_prefix on the route), got '%s'", what,
                           allow_path ? "query or fragment" : "path, query or fragment", PT_CFG_SHOW(at));
    const char *hs = rest, *he, *port = NULL;
    if (rest[0] == '[') {
        he = memchr(rest, ']', alen);
        if (!he || !pt_cfg_ipv6_ok(rest + 1, (size_t)(he - rest - 1)))
            return pt_cfg_fail(c, at, "%s has a malformed IPv6 address (expected [ADDRESS]), got '%s'", what,
                               PT_CFG_SHOW(at));
        hs = rest + 1;
        if (he + 1 < end) {
            if (he[1] != ':') return pt_cfg_fail(c, at, "expected ':' and a port after ']', got '%s'", PT_CFG_SHOW(at));
            port = he + 2;
        }
    } else {
        he = memchr(rest, ':', alen);
        if (he) port = he + 1;
        else he = end;
        if (port && memchr(port, ':', (size_t)(end - port)))
            return pt_cfg_fail(c, at, "an IPv6 address goes in brackets, as in http://[::1]:9000, got '%s'",
                               PT_CFG_SHOW(at));
        if (!pt_cfg_hostname_ok(hs, (size_t)(he - hs)))
            return pt_cfg_fail(c, at, "%s has no valid host name, got '%s'", what, PT_CFG_SHOW(at));
    }
    if (port && !pt_cfg_parse_port(port, (size_t)(end - port), &u->port))
        return pt_cfg_fail(c, at, "port must be a number from 1 to 65535, got '%s'", PT_CFG_SHOW(at));
    size_t plen = strlen(end);
    while (plen && end[plen - 1] == '/') plen--;
    free(u->host);
    free(u->path);
    u->host = strndup(hs, (size_t)(he - hs));
    u->path = strndup(end, plen);
    if (!u->host || !u->path) return pt_cfg_oom(c, at);
    pt_cfg_lowercase(u->host);
    return 0;
}

/* Route host patterns: "api.example.com", "*.example.com", "[::1]"; stored pt_cfg_lowercase. */
int pt_cfg_host_pattern(pt_cfg *c, const pt_cfg_node *at, char *h)
{
    pt_cfg_lowercase(h);
    size_t len = strlen(h);
    const char *name = h;
    if (len > 2 && h[0] == '[' && h[len - 1] == ']') {
        if (!pt_cfg_ipv6_ok(h + 1, len - 2))
            return pt_cfg_fail(c, at, "'%s' is not a valid IPv6 address", PT_CFG_SHOW(at));
        return 0;
    }
    if (h[0] == '*') {
        if (h[1] != '.' || len < 3)
            return pt_cfg_fail(c, at, "a wildcard must be a whole first label, as in *.example.com, got '%s'",
                               PT_CFG_SHOW(at));
        name = h + 2;
    }
    if (strchr(name, ':')) return pt_cfg_fail(c, at, "host must not include a port, got '%s'", PT_CFG_SHOW(at));
    if (strchr(name, '*'))
        return pt_cfg_fail(c, at, "a wildcard is only allowed as the first label, as in *.example.com, got '%s'",
                           PT_CFG_SHOW(at));
    if (!pt_cfg_hostname_ok(name, strlen(name)))
        return pt_cfg_fail(c, at, "'%s' is not a valid host name", PT_CFG_SHOW(at));
    return 0;
}
