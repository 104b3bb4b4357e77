/* grpc.c: gRPC's recognition, status mapping and field encodings (see grpc.h). */
#include "http/grpc.h"

#include <stdio.h>

#include "core/err.h"

#define GRPC_TIMEOUT_MAX 99999999u /* a TimeoutValue has at most 8 digits */

bool pt_grpc_content_type(pt_slice ct)
{
    pt_slice base = PT_SLICE_LIT("application/grpc");
    if (ct.len < base.len || !pt_slice_case_eq(pt_slice_from(ct.ptr, base.len), base)) return false;
    return ct.len == base.len || ct.ptr[base.len] == '+' || ct.ptr[base.len] == ';';
}

/* By HTTP status, for outcomes without a meaning of their own. */
static int by_http_status(int status)
{
    switch (status) {
    case 400: return PT_GRPC_INTERNAL;
    case 401: return PT_GRPC_UNAUTHENTICATED;
    case 403: return PT_GRPC_PERMISSION_DENIED;
    case 404: return PT_GRPC_UNIMPLEMENTED;
    case 408: case 504: return PT_GRPC_DEADLINE_EXCEEDED;
    case 413: case 431: return PT_GRPC_RESOURCE_EXHAUSTED;
    case 429: return PT_GRPC_RESOURCE_EXHAUSTED;
    case 499: return PT_GRPC_CANCELLED;
    case 501: return PT_GRPC_UNIMPLEMENTED;
    case 502: case 503: return PT_GRPC_UNAVAILABLE;
    default: return PT_GRPC_UNKNOWN;
    }
}

int pt_grpc_status_of(pt_outcome o)
{
    switch (o) {
    case PT_OUT_OK: return PT_GRPC_OK;
    case PT_OUT_UPSTREAM_TIMEOUT: return PT_GRPC_DEADLINE_EXCEEDED;
    case PT_OUT_UPSTREAM_PROTOCOL: return PT_GRPC_UNIMPLEMENTED;
    case PT_OUT_ROUTE_WITHOUT_SERVICE:
    case PT_OUT_OUT_OF_MEMORY: return PT_GRPC_INTERNAL;
    case PT_OUT_DRAIN_DEADLINE: return PT_GRPC_UNAVAILABLE;
    case PT_OUT_API_RETIRED: return PT_GRPC_NOT_FOUND;
    case PT_OUT_REQUEST_INVALID:
    case PT_OUT_MASK_REFUSED: return PT_GRPC_INVALID_ARGUMENT;
    case PT_OUT_UPSTREAM_ABORTED: return PT_GRPC_UNAVAILABLE;
    default: return by_http_status(pt_outcome_status(o));
    }
}

int pt_grpc_message_encode(pt_buf *out, const char *msg, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (pt_buf_reserve(out, n * 3 + 1)) return PT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
            out->data[out->len++] = (char)ch;
            continue;
        }
        out->data[out->len++] = '%';
        out->data[out->len++] = hex[ch >> 4];
        out->data[out->len++] = hex[ch & 15];
    }
    out->data[out->len] = '\0';
    return 0;
}

int pt_grpc_status_parse(pt_slice v)
{
    v = pt_slice_trim(v);
    if (!v.len || v.len > 2) return -1;
    int s = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return -1;
        s = s * 10 + (v.ptr[i] - '0');
    }
    return s;
}

int64_t pt_grpc_timeout_ms(pt_slice v)
{
    if (v.len < 2 || v.len > 9) return -1;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return -1;
        n = n * 10 + (v.ptr[i] - '0');
    }
    switch (v.ptr[v.len - 1]) {
    case 'H': return n * 3600000;
    case 'M': return n * 60000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return n ? (n + 999) / 1000 : 0;
    case 'n': return n ? (n + 999999) / 1000000 : 0;
    default: return -1;
    }
}

size_t pt_grpc_timeout_encode(char *out, uint64_t ms)
{
    static const struct { char unit; uint64_t per; } next[] = { { 'S', 1000 }, { 'M', 60 }, { 'H', 60 } };
    if (!ms) return (size_t)snprintf(out, PT_GRPC_TIMEOUT_SIZE, "1n");
    uint64_t v = ms;
    char unit = 'm';
    for (size_t i = 0; i < sizeof next / sizeof *next && v > GRPC_TIMEOUT_MAX; i++) {
        v /= next[i].per;
        unit = next[i].unit;
    }
    if (v > GRPC_TIMEOUT_MAX) v = GRPC_TIMEOUT_MAX; /* over 11,000 years: clipped */
    return (size_t)snprintf(out, PT_GRPC_TIMEOUT_SIZE, "%llu%c", (unsigned long long)v, unit);
}

pt_slice pt_grpc_timeout_left(pt_slice asked, uint64_t left_ms, char *buf)
{
    int64_t ms = pt_grpc_timeout_ms(asked);
    if (ms >= 0 && left_ms >= (uint64_t)ms) return asked;
    return pt_slice_from(buf, pt_grpc_timeout_encode(buf, left_ms));
}
