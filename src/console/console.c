/* console.c: serving the embedded console (see console.h). */
#include "console/console.h"

#include <string.h>

const pt_console_header pt_console_security_headers[] = {
    {"Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Content-Type-Options", "nosniff"},
};
const size_t pt_console_nsecurity_headers = sizeof pt_console_security_headers / sizeof pt_console_security_headers[0];

bool pt_console_owns(const char *path, size_t n)
{
    size_t pl = sizeof PT_CONSOLE_PREFIX - 1;
    return n >= pl && memcmp(path, PT_CONSOLE_PREFIX, pl) == 0 && (n == pl || path[pl] == '/');
}

/* Asset names are letters, digits, '.', '_', '-' and '/' between non-empty segments that
 * are neither "." nor "..": the generator refuses anything else, so so does the lookup. */
static bool name_ok(const char *p, size_t n)
{
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            if (seg == 0 || (seg == 1 && p[i - 1] == '.') || (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
                return false;
            seg = 0;
            continue;
        }
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
        seg++;
    }
    return true;
}

const pt_console_asset *pt_console_find(const char *rel, size_t n)
{
    if (n == 0) rel = "index.html", n = strlen(rel);
    if (!name_ok(rel, n)) return NULL;
    size_t lo = 0, hi = pt__console_nassets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const pt_console_asset *a = &pt__console_assets[mid];
        size_t al = strlen(a->path);
        int c = memcmp(a->path, rel, al < n ? al : n);
        if (c == 0) c = al < n ? -1 : al > n ? 1 : 0;
        if (c == 0) return a;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Whether If-None-Match (a list of entity tags, or "*") names etag; weak tags compare by
 * their opaque part, as RFC 9110 says a GET's If-None-Match does. */
static bool etag_listed(const char *h, size_t n, const char *etag)
{
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < n) {
        while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) i++;
        if (i < n && h[i] == '*') return true;
        if (i + 1 < n && h[i] == 'W' && h[i + 1] == '/') i += 2;
        size_t start = i;
        if (i < n && h[i] == '"') {
            i++;
            while (i < n && h[i] != '"') i++;
            if (i < n) i++;
        } else {
            while (i < n && h[i] != ',') i++;
        }
        if (i - start == el && memcmp(h + start, etag, el) == 0) return true;
    }
    return false;
}

static void fail(pt_console_resp *out, int status, const char *msg)
{
    out->status = status;
    out->content_type = "text/plain; charset=utf-8";
    out->body = msg;
    out->body_len = strlen(msg);
}

void pt_console_serve(const char *method, const char *path, size_t n, const char *inm, size_t inm_len,
                      pt_console_resp *out)
{
    memset(out, 0, sizeof *out);
    size_t pl = sizeof PT_CONSOLE_PREFIX - 1;
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        out->allow = "GET, HEAD";
        fail(out, 405, "Only GET and HEAD are allowed here.\n");
        return;
    }
    /* "/console" is the index as "/console/" is: index.html links by absolute paths */
    const pt_console_asset *a = n == pl ? pt_console_find("", 0) : pt_console_find(path + pl + 1, n - pl - 1);
    if (!a) {
        fail(out, 404, "No such file in the console.\n");
        return;
    }
    out->asset = a;
    out->content_type = a->content_type;
    if (inm && etag_listed(inm, inm_len, a->etag)) {
        out->status = 304;
        return;
    }
    out->status = 200;
    out->body = (const char *)a->data;
    out->body_len = a->len;
}
