/* request.c: lookups over a parsed request head, the authority (Host) check, and the
 * request's lifetime: its pool and cleanup hooks (see request.h). */
#include "http/request.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <llhttp.h>
#include <strings.h>

#include "core/err.h"

const pt_header *pt_request_header(const pt_request *req, const char *name)
{
    pt_slice want = pt_slice_cstr(name);
    for (unsigned i = 0; i < req->nheaders; i++)
        if (pt_slice_case_eq(req->headers[i].name, want)) return &req->headers[i];
    return NULL;
}

/* Takes the next element of a comma-separated list, trimmed (empty elements included);
 * false at the end. */
static bool list_next(pt_slice *rest, pt_slice *item)
{
    if (!rest->ptr) return false;
    const char *comma = memchr(rest->ptr, ',', rest->len);
    size_t n = comma ? (size_t)(comma - rest->ptr) : rest->len;
    *item = pt_slice_trim(pt_slice_from(rest->ptr, n));
    *rest = comma ? pt_slice_from(comma + 1, rest->len - n - 1) : PT_SLICE_NULL;
    return true;
}

bool pt_list_has(pt_slice list, pt_slice token)
{
    pt_slice item;
    while (list_next(&list, &item))
        if (pt_slice_case_eq(item, token)) return true;
    return false;
}

bool pt_upgrade_tunnels(pt_slice value)
{
    pt_slice item;
    while (list_next(&value, &item))
        if (item.len && !pt_slice_case_eq_cstr(item, "h2c")) return true;
    return false;
}

/* A protocol of an Upgrade list: name and optional "/version" (RFC 9110 §7.8). */
static void proto_split(pt_slice p, pt_slice *name, pt_slice *version)
{
    const char *slash = memchr(p.ptr, '/', p.len);
    *name = slash ? pt_slice_from(p.ptr, (size_t)(slash - p.ptr)) : p;
    *version = slash ? pt_slice_from(slash + 1, p.len - name->len - 1) : PT_SLICE_NULL;
}

static bool proto_offered(pt_slice offer, pt_slice chosen)
{
    pt_slice cname, cver, item, oname, over;
    proto_split(chosen, &cname, &cver);
    while (list_next(&offer, &item)) {
        if (!item.len) continue;
        proto_split(item, &oname, &over);
        if (!pt_slice_case_eq(oname, cname)) continue;
        /* a versionless offer takes any version of the name; a versioned one only its own */
        if (!over.ptr || !cver.ptr || pt_slice_case_eq(over, cver)) return true;
    }
    return false;
}

bool pt_upgrade_chosen(pt_slice offer, pt_slice chosen)
{
    pt_slice item;
    bool any = false;
    while (list_next(&chosen, &item)) {
        if (!item.len) continue;
        if (pt_slice_case_eq_cstr(item, "h2c") || !proto_offered(offer, item)) return false;
        any = true;
    }
    return any;
}

/* --- authority ------------------------------------------------------------ */

static bool host_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '.' || ch == '_' || ch == '~';
}

/* port = 1*5DIGIT in 1..65535; an empty port is allowed by RFC 3986 and means none. */
static pt_authority_err parse_port(pt_slice p, int *port)
{
    *port = -1;
    if (p.len == 0) return PT_AUTH_OK;
    if (p.len > 5) return PT_AUTH_BAD_PORT;
    long v = 0;
    for (size_t i = 0; i < p.len; i++) {
        if (p.ptr[i] < '0' || p.ptr[i] > '9') return PT_AUTH_BAD_PORT;
        v = v * 10 + (p.ptr[i] - '0');
    }
    if (v < 1 || v > 65535) return PT_AUTH_BAD_PORT;
    *port = (int)v;
    return PT_AUTH_OK;
}

/* "[" IPv6address "]": the content must be what inet_pton takes (no zone, no IPvFuture). */
static pt_authority_err parse_ip_literal(pt_slice in, pt_authority *out, pt_slice *rest)
{
    const char *close = memchr(in.ptr, ']', in.len);
    if (!close) return PT_AUTH_BAD_IP_LITERAL;
    size_t n = (size_t)(close - in.ptr) - 1;
    char text[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n == 0 || n >= sizeof text) return PT_AUTH_BAD_IP_LITERAL;
    for (size_t i = 1; i <= n; i++) /* inet_pton would stop at a NUL and accept the rest */
        if (pt_hex_digit(in.ptr[i]) < 0 && in.ptr[i] != ':' && in.ptr[i] != '.') return PT_AUTH_BAD_IP_LITERAL;
    memcpy(text, in.ptr + 1, n);
    text[n] = '\0';
    if (inet_pton(AF_INET6, text, &a) != 1) return PT_AUTH_BAD_IP_LITERAL;
    out->host = pt_slice_from(in.ptr + 1, n);
    out->ipv6 = true;
    *rest = pt_slice_from(close + 1, in.len - n - 2);
    return PT_AUTH_OK;
}

/* reg-name (or an IPv4 address, which has the same characters), up to ':' or the end. */
static pt_authority_err parse_reg_name(pt_slice in, pt_authority *out, pt_slice *rest)
{
    size_t i = 0;
    for (; i < in.len && in.ptr[i] != ':'; i++) {
        unsigned char ch = (unsigned char)in.ptr[i];
        if (ch == '@') return PT_AUTH_USERINFO;
        if (!host_char(ch)) {
            /* "user:pw@host" stops at the ':' before the '@' could be seen: look ahead */
            out->bad = ch;
            return memchr(in.ptr, '@', in.len) ? PT_AUTH_USERINFO : PT_AUTH_BAD_CHAR;
        }
        if (ch == '.' && (i == 0 || in.ptr[i - 1] == '.')) return PT_AUTH_EMPTY_LABEL;
    }
    *rest = pt_slice_from(in.ptr + i, in.len - i);
    if (memchr(rest->ptr, '@', rest->len)) return PT_AUTH_USERINFO;
    size_t hl = i;
    if (hl && in.ptr[hl - 1] == '.') hl--; /* "example.com." names "example.com" */
    if (i && !hl) return PT_AUTH_EMPTY_LABEL;
    out->host = pt_slice_from(in.ptr, hl);
    return PT_AUTH_OK;
}

pt_authority_err pt_authority_parse(pt_slice in, pt_authority *out)
{
    *out = (pt_authority){ .host = pt_slice_from(in.ptr, 0), .port = -1 };
    if (in.len == 0) return PT_AUTH_OK;
    pt_slice rest;
    pt_authority_err e =
        in.ptr[0] == '[' ? parse_ip_literal(in, out, &rest) : parse_reg_name(in, out, &rest);
    if (e) return e;
    if (out->host.len == 0) return PT_AUTH_EMPTY_HOST;
    if (out->host.len > PT_AUTHORITY_HOST_MAX) return PT_AUTH_TOO_LONG;
    if (rest.len == 0) return PT_AUTH_OK;
    if (rest.ptr[0] != ':') {
        out->bad = (unsigned char)rest.ptr[0];
        return PT_AUTH_BAD_CHAR;
    }
    return parse_port(pt_slice_from(rest.ptr + 1, rest.len - 1), &out->port);
}

const char *pt_authority_strerror(pt_authority_err e)
{
    switch (e) {
    case PT_AUTH_OK: return "valid";
    case PT_AUTH_EMPTY_HOST: return "no host before ':' (RFC 3986 §3.2.2; an IPv6 address goes in brackets)";
    case PT_AUTH_USERINFO: return "userinfo ('user@') is not allowed (RFC 9110 §4.2.4)";
    case PT_AUTH_BAD_CHAR: return "a character a host name may not contain (RFC 3986 §3.2.2)";
    case PT_AUTH_EMPTY_LABEL: return "an empty label, '..' or a leading '.' (RFC 1035 §2.3.1)";
    case PT_AUTH_BAD_IP_LITERAL: return "an IP literal must be an IPv6 address in brackets (RFC 3986 §3.2.2)";
    case PT_AUTH_BAD_PORT: return "the port must be a number from 1 to 65535 (RFC 3986 §3.2.3)";
    case PT_AUTH_TOO_LONG: return "a host name longer than 255 bytes (RFC 1035 §2.3.4)";
    }
    return "invalid";
}

void *pt_req_alloc(pt_request *req, size_t n) { return pt_pool_alloc(&req->pool, n); }
void *pt_req_alloc_raw(pt_request *req, size_t n) { return pt_pool_alloc_raw(&req->pool, n); }

int pt_req_cleanup_add(pt_request *req, pt_req_cleanup_fn fn, void *data)
{
    pt_req_cleanup *h = pt_pool_alloc_raw(&req->pool, sizeof *h); /* every member set below */
    if (!h) return PT_ENOMEM;
    pt_req_cleanup_link(req, h, fn, data);
    return 0;
}

void pt__req_begin(pt_request *req) { pt_pool_init(&req->pool, PT_REQ_POOL_BLOCK, PT_REQ_POOL_LIMIT); }

void pt__req_end(pt_request *req)
{
    /* each hook is unlinked before it runs: one that ends up here again runs only the
     * hooks still waiting, and one registered meanwhile runs too */
    pt_req_cleanup *h;
    while ((h = req->cleanups)) {
        req->cleanups = h->next;
        h->fn(h->data);
    }
    pt_pool_release(&req->pool);
}

static const struct {
    const char *name;
    int num;
} http_methods[] = {
#define PT_METHOD_ENTRY(num, name, string) { #string, num },
    HTTP_METHOD_MAP(PT_METHOD_ENTRY)
#undef PT_METHOD_ENTRY
};

int pt_http_method_parse(pt_slice name)
{
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
        if (strlen(http_methods[i].name) == name.len && strncasecmp(http_methods[i].name, name.ptr, name.len) == 0)
            return http_methods[i].num;
    return -1;
}

size_t pt_http_method_names(const char **out, size_t cap)
{
    size_t n = 0;
    for (; n < cap && n < sizeof http_methods / sizeof http_methods[0]; n++) out[n] = http_methods[n].name;
    return n;
}
