/* check.c: helpers every doctor check uses to fill its result (see check.h). */
#include "doctor/check.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"

/* Results are short human text; anything longer is cut here rather than growing without bound. */
#define PT_DR_TEXT_MAX 8192

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) return NULL;
    if (strlen(s) > PT_DR_TEXT_MAX) s[PT_DR_TEXT_MAX] = '\0';
    return s;
}

/* Appends line to *text, separated by '\n'; keeps *text unchanged if memory runs out. */
static void append_line(char **text, char *line)
{
    if (!line) return;
    if (!*text) {
        *text = line;
        return;
    }
    size_t a = strlen(*text), b = strlen(line);
    if (a + b + 2 > 4 * PT_DR_TEXT_MAX) {
        free(line);
        return;
    }
    char *joined = realloc(*text, a + b + 2);
    if (joined) {
        joined[a] = '\n';
        memcpy(joined + a + 1, line, b + 1);
        *text = joined;
    }
    free(line);
}

/* Formats the variadic arguments after fmt into a new string named var. */
#define FORMAT_ARGS(var, fmt)             \
    char *var;                            \
    do {                                  \
        va_list ap_;                      \
        va_start(ap_, fmt);               \
        var = vformat(fmt, ap_);          \
        va_end(ap_);                      \
    } while (0)

static void mark(pt_dr_result *res, pt_dr_status st, const char *cause, int score, char **field, char *text)
{
    res->status = st;
    res->cause = cause;
    res->score = score < 0 ? 0 : score > 100 ? 100 : score;
    free(*field);
    *field = text;
}

void pt_dr_set(pt_dr_result *res, pt_dr_status st, const char *cause, int score, const char *fmt, ...)
{
    FORMAT_ARGS(s, fmt);
    mark(res, st, cause, score, &res->summary, s);
}

void pt_dr_skip(pt_dr_result *res, const char *fmt, ...)
{
    FORMAT_ARGS(s, fmt);
    mark(res, PT_DR_SKIP, NULL, 0, &res->skip_reason, s);
}

void pt_dr_remedy(pt_dr_result *res, const char *fmt, ...)
{
    FORMAT_ARGS(s, fmt);
    append_line(&res->remedy, s);
}

void pt_dr_detail(pt_dr_result *res, const char *fmt, ...)
{
    FORMAT_ARGS(s, fmt);
    append_line(&res->details, s);
}

const char *pt_dr_errno_name(int err)
{
    static _Thread_local char unknown[16];
    const char *name = err > 0 ? strerrorname_np(err) : NULL;
    if (name) return name;
    snprintf(unknown, sizeof unknown, "E%d", err);
    return unknown;
}

bool pt_dr_need_port(const pt_dr_ctx *ctx, pt_dr_result *res)
{
    json_t *valid = json_object_get(ctx->facts, "port_valid");
    long port = ctx->target->port;
    bool ok = valid ? json_is_true(valid) : (port >= 1 && port <= 65535);
    if (!ok) {
        if (ctx->target->port_text)
            pt_dr_skip(res, "port %s is not a valid TCP port", ctx->target->port_text);
        else
            pt_dr_skip(res, "the target has no usable port");
    }
    return ok;
}

double pt_dr_ms_since(uint64_t start_us)
{
    uint64_t us = pt_now_us() - start_us;
    return (double)(us / 10) / 100.0;
}

void pt_dr_hostport(const char *host, long port, char *out, size_t n)
{
    if (!host) host = "*";
    if (strchr(host, ':')) snprintf(out, n, "[%s]:%ld", host, port);
    else snprintf(out, n, "%s:%ld", host, port);
}

bool pt_dr_prefix_match(int family, const unsigned char *net, const unsigned char *addr, long bits)
{
    long max = family == AF_INET ? 32 : 128;
    if (bits < 0 || bits > max) return false;
    for (long i = 0; i < bits; i++) {
        int byte = (int)(i / 8), bit = 7 - (int)(i % 8);
        if (((net[byte] >> bit) & 1) != ((addr[byte] >> bit) & 1)) return false;
    }
    return true;
}

bool pt_dr_addr_ifname(int family, const unsigned char *addr, char *ifname, size_t n)
{
    size_t len = family == AF_INET ? 4 : 16;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0) return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != family) continue;
        const void *x = family == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                          : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (memcmp(x, addr, len) != 0) continue;
        found = true;
        if (ifname) snprintf(ifname, n, "%s", i->ifa_name);
    }
    freeifaddrs(ifs);
    return found;
}

bool pt_dr_addr_is_local(int family, const unsigned char *addr)
{
    static const unsigned char one[16] = { [15] = 1 };
    if (family == AF_INET && addr[0] == 127) return true;
    if (family == AF_INET6 && memcmp(addr, one, 16) == 0) return true;
    return pt_dr_addr_ifname(family, addr, NULL, 0);
}
