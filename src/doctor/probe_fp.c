/* probe_fp.c: hand-written protocol signatures for the first bytes a server sends (the small
 * set the doctor needs: HTTP/1.x, TLS records, HTTP/2 SETTINGS, SSH, SMTP/FTP, IMAP, POP3,
 * MySQL, Redis, PostgreSQL, VNC). */
#include "doctor/probe_fp.h"

#include <stdio.h>
#include <string.h>

const pt_slice pt__dr_h2c_preface = {
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    "\x00\x00\x00\x04\x00\x00\x00\x00\x00", /* empty SETTINGS frame, stream 0 */
    24 + 9,
};

const pt_slice pt__dr_pg_sslrequest = { "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8 };

static const unsigned char *u8(pt_slice s) { return (const unsigned char *)s.ptr; }

static bool starts(pt_slice s, const char *lit) { return pt_slice_starts_with(s, pt_slice_cstr(lit)); }

static bool contains_ci(pt_slice hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || hay.len < n) return false;
    for (size_t i = 0; i + n <= hay.len; i++)
        if (strncasecmp(hay.ptr + i, needle, n) == 0) return true;
    return false;
}

char *pt__dr_fp_printable(pt_slice bytes, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0) return out;
    for (size_t i = 0; i < bytes.len; i++) {
        unsigned char c = u8(bytes)[i];
        char tmp[5];
        size_t n;
        if (c == '\r') n = (size_t)snprintf(tmp, sizeof tmp, "\\r");
        else if (c == '\n') n = (size_t)snprintf(tmp, sizeof tmp, "\\n");
        else if (c == '\\') n = (size_t)snprintf(tmp, sizeof tmp, "\\\\");
        else if (c >= 0x20 && c < 0x7f) { tmp[0] = (char)c; tmp[1] = '\0'; n = 1; }
        else n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        if (o + n >= outsz) break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

/* Copies the first line (up to CR or LF) of s, printable, into out. */
static void first_line(pt_slice s, char *out, size_t outsz)
{
    size_t n = 0;
    while (n < s.len && s.ptr[n] != '\r' && s.ptr[n] != '\n') n++;
    pt__dr_fp_printable(pt_slice_from(s.ptr, n), out, outsz);
}

/* Finds header `name` in an HTTP response head; returns its trimmed value or a NULL slice. */
static pt_slice http_header(pt_slice head, const char *name)
{
    size_t nl = strlen(name), i = 0;
    while (i < head.len) {
        size_t end = i;
        while (end < head.len && head.ptr[end] != '\n') end++;
        pt_slice line = pt_slice_from(head.ptr + i, end - i);
        if (line.len && line.ptr[line.len - 1] == '\r') line.len--;
        if (line.len == 0) break; /* end of the head */
        if (line.len > nl && line.ptr[nl] == ':' && strncasecmp(line.ptr, name, nl) == 0)
            return pt_slice_trim(pt_slice_from(line.ptr + nl + 1, line.len - nl - 1));
        i = end + 1;
    }
    return PT_SLICE_NULL;
}

static bool classify_http(pt_slice b, pt_dr_fp *out)
{
    /* "HTTP/1.x NNN" */
    if (b.len < 12 || !starts(b, "HTTP/1.") || b.ptr[8] != ' ') return false;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (b.ptr[i] < '0' || b.ptr[i] > '9') return false;
        code = code * 10 + (b.ptr[i] - '0');
    }
    out->kind = PT_DR_FP_HTTP1;
    out->http_status = code;
    /* mongod answers an HTTP request on its driver port with a 200 that is no web server */
    if (contains_ci(b, "trying to access MongoDB over HTTP")) {
        out->kind = PT_DR_FP_MONGODB;
        out->http_status = 0;
        snprintf(out->detail, sizeof out->detail, "MongoDB's driver port (it answers HTTP only to say so)");
        return true;
    }
    out->https_hint = contains_ci(b, "plain HTTP request was sent to HTTPS port") ||
                      contains_ci(b, "HTTP request to an HTTPS server") ||
                      contains_ci(b, "speaking plain HTTP to an SSL-enabled server");
    char line[100];
    first_line(b, line, sizeof line);
    pt_slice server = http_header(b, "Server");
    if (server.ptr && server.len) {
        char sv[48];
        pt__dr_fp_printable(server, sv, sizeof sv);
        snprintf(out->detail, sizeof out->detail, "%s (Server: %s)", line, sv);
    } else {
        snprintf(out->detail, sizeof out->detail, "%s", line);
    }
    return true;
}

/* An HTTP server that cannot parse a request line answers as to HTTP/0.9: the error page with
 * no status line (Python's http.server, for one). Only an answer to something sent counts. */
static bool classify_http09_error(pt_slice b, pt_dr_probe_kind probe, pt_dr_fp *out)
{
    if (probe == PT_DR_PROBE_PASSIVE) return false;
    pt_slice t = pt_slice_trim(b);
    bool html = (t.len >= 14 && strncasecmp(t.ptr, "<!DOCTYPE HTML", 14) == 0) ||
                (t.len >= 5 && strncasecmp(t.ptr, "<html", 5) == 0);
    if (!html || !contains_ci(b, "error")) return false;
    out->kind = PT_DR_FP_HTTP1;
    snprintf(out->detail, sizeof out->detail, "an HTML error page without a status line (an HTTP server's answer "
             "to a request it cannot parse)");
    return true;
}

static bool classify_tls(pt_slice b, pt_dr_fp *out)
{
    const unsigned char *p = u8(b);
    if (b.len < 3 || (p[0] != 0x16 && p[0] != 0x15) || p[1] != 0x03 || p[2] > 0x04) return false;
    out->kind = PT_DR_FP_TLS;
    if (p[0] == 0x15) {
        out->tls_alert = true;
        out->tls_alert_desc = b.len >= 7 ? p[6] : -1;
        snprintf(out->detail, sizeof out->detail, "a TLS alert (%s)",
                 out->tls_alert_desc >= 0 ? pt__dr_tls_alert_name(out->tls_alert_desc) : "truncated");
    } else {
        snprintf(out->detail, sizeof out->detail, "%s",
                 b.len >= 6 && p[5] == 0x02 ? "a TLS ServerHello" : "a TLS handshake record");
    }
    return true;
}

static bool classify_h2(pt_slice b, pt_dr_fp *out)
{
    const unsigned char *p = u8(b);
    if (b.len < 9) return false;
    unsigned len = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
    bool stream0 = (p[5] & 0x7f) == 0 && p[6] == 0 && p[7] == 0 && p[8] == 0;
    if (p[3] != 0x04 || (p[4] & ~1u) != 0 || !stream0 || len % 6 != 0 || len > 16384) return false;
    out->kind = PT_DR_FP_H2C;
    snprintf(out->detail, sizeof out->detail, "an HTTP/2 SETTINGS frame%s (no TLS)", p[4] & 1 ? " (ACK)" : "");
    return true;
}

static bool classify_mysql(pt_slice b, pt_dr_fp *out)
{
    const unsigned char *p = u8(b);
    if (b.len < 6) return false;
    size_t plen = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
    if (p[3] != 0 || plen < 2 || plen > 1024) return false;
    if (p[4] == 0x0a) {
        size_t v = 5, e = v;
        while (e < b.len && e < 5 + 40 && p[e] >= 0x20 && p[e] < 0x7f) e++;
        if (e == v || e >= b.len || p[e] != 0) return false;
        out->kind = PT_DR_FP_MYSQL;
        snprintf(out->detail, sizeof out->detail, "MySQL/MariaDB greeting, version %.*s", (int)(e - v),
                 b.ptr + v);
        return true;
    }
    if (p[4] == 0xff && b.len >= 7 && plen >= 4) { /* error packet: "Host ... is not allowed to connect" */
        char msg[120];
        pt__dr_fp_printable(pt_slice_from(b.ptr + 7, b.len - 7 < plen - 3 ? b.len - 7 : plen - 3), msg,
                            sizeof msg);
        out->kind = PT_DR_FP_MYSQL;
        snprintf(out->detail, sizeof out->detail, "MySQL/MariaDB error packet: %s", msg);
        return true;
    }
    return false;
}

static bool classify_line_banner(pt_slice b, pt_dr_fp *out)
{
    static const struct { const char *prefix; pt_dr_fp_kind kind; } banners[] = {
        { "SSH-", PT_DR_FP_SSH }, { "220 ", PT_DR_FP_SMTP }, { "220-", PT_DR_FP_SMTP },
        { "* OK", PT_DR_FP_IMAP }, { "+OK", PT_DR_FP_POP3 }, { "RFB ", PT_DR_FP_VNC },
    };
    for (size_t i = 0; i < sizeof banners / sizeof banners[0]; i++) {
        if (starts(b, banners[i].prefix)) {
            out->kind = banners[i].kind;
            first_line(b, out->detail, sizeof out->detail);
            return true;
        }
    }
    return false;
}

static bool classify_redis(pt_slice b, pt_dr_probe_kind probe, pt_dr_fp *out)
{
    bool ok;
    if (probe == PT_DR_PROBE_REDIS)
        ok = starts(b, "+PONG") || starts(b, "-NOAUTH") || starts(b, "-ERR") || starts(b, "-DENIED") ||
             starts(b, "-WRONGPASS") || starts(b, "-MISCONF") || starts(b, "-LOADING");
    else if (probe == PT_DR_PROBE_HTTP)
        ok = starts(b, "-ERR ");  /* Redis answers an HTTP request line with "-ERR unknown command" */
    else
        ok = false;
    if (!ok) return false;
    out->kind = PT_DR_FP_REDIS;
    first_line(b, out->detail, sizeof out->detail);
    return true;
}

static bool classify_pg(pt_slice b, pt_dr_probe_kind probe, pt_dr_fp *out)
{
    if (probe != PT_DR_PROBE_PG || b.len == 0) return false;
    if (b.len == 1 && (b.ptr[0] == 'S' || b.ptr[0] == 'N')) {
        out->kind = PT_DR_FP_POSTGRES;
        snprintf(out->detail, sizeof out->detail, "PostgreSQL (SSLRequest answered '%c': TLS %s)", b.ptr[0],
                 b.ptr[0] == 'S' ? "available" : "not offered");
        return true;
    }
    if (b.ptr[0] == 'E' && b.len > 5) { /* ErrorResponse from a server that refuses SSLRequest */
        out->kind = PT_DR_FP_POSTGRES;
        snprintf(out->detail, sizeof out->detail, "PostgreSQL error response");
        return true;
    }
    return false;
}

void pt__dr_fp_classify(pt_slice b, pt_dr_probe_kind probe, pt_dr_fp *out)
{
    memset(out, 0, sizeof *out);
    out->tls_alert_desc = -1;
    if (b.len == 0) {
        out->kind = PT_DR_FP_NONE;
        return;
    }
    if (classify_http(b, out) || classify_http09_error(b, probe, out) || classify_tls(b, out) || classify_h2(b, out) || classify_pg(b, probe, out) ||
        classify_redis(b, probe, out) || classify_line_banner(b, out) || classify_mysql(b, out))
        return;
    out->kind = PT_DR_FP_UNKNOWN;
    pt__dr_fp_printable(pt_slice_from(b.ptr, b.len > 48 ? 48 : b.len), out->detail, sizeof out->detail);
}

const char *pt__dr_fp_name(pt_dr_fp_kind kind)
{
    switch (kind) {
    case PT_DR_FP_NONE: return "none";
    case PT_DR_FP_UNKNOWN: return "unknown";
    case PT_DR_FP_HTTP1: return "http1";
    case PT_DR_FP_TLS: return "tls";
    case PT_DR_FP_H2C: return "h2c";
    case PT_DR_FP_SSH: return "ssh";
    case PT_DR_FP_SMTP: return "smtp";
    case PT_DR_FP_IMAP: return "imap";
    case PT_DR_FP_POP3: return "pop3";
    case PT_DR_FP_MYSQL: return "mysql";
    case PT_DR_FP_REDIS: return "redis";
    case PT_DR_FP_POSTGRES: return "postgres";
    case PT_DR_FP_VNC: return "vnc";
    case PT_DR_FP_MONGODB: return "mongodb";
    }
    return "unknown";
}

pt_dr_fp_kind pt__dr_fp_kind_of(const char *name)
{
    for (int k = PT_DR_FP_NONE; k <= PT_DR_FP_MONGODB; k++)
        if (name && strcmp(name, pt__dr_fp_name((pt_dr_fp_kind)k)) == 0) return (pt_dr_fp_kind)k;
    return PT_DR_FP_UNKNOWN;
}

const char *pt__dr_fp_label(pt_dr_fp_kind kind)
{
    switch (kind) {
    case PT_DR_FP_NONE: return "nothing";
    case PT_DR_FP_UNKNOWN: return "an unrecognised protocol";
    case PT_DR_FP_HTTP1: return "plain HTTP/1.x";
    case PT_DR_FP_TLS: return "TLS";
    case PT_DR_FP_H2C: return "HTTP/2 without TLS (h2c, prior knowledge)";
    case PT_DR_FP_SSH: return "SSH";
    case PT_DR_FP_SMTP: return "an SMTP/FTP server";
    case PT_DR_FP_IMAP: return "IMAP";
    case PT_DR_FP_POP3: return "POP3";
    case PT_DR_FP_MYSQL: return "MySQL/MariaDB";
    case PT_DR_FP_REDIS: return "Redis";
    case PT_DR_FP_POSTGRES: return "PostgreSQL";
    case PT_DR_FP_VNC: return "VNC";
    case PT_DR_FP_MONGODB: return "MongoDB";
    }
    return "an unrecognised protocol";
}

const char *pt__dr_tls_alert_name(int desc)
{
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "alert";
    }
}
