/* context.c: W3C traceparent reading and writing, and new ids (see context.h). */
#include "trace/context.h"

#include <string.h>

#include "core/rand.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is invalid in traceparent */
}

/* 2n lowercase hex digits into n bytes; false on a bad digit or an all-zero id. */
static bool read_id(const char *s, uint8_t *out, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        any |= out[i];
    }
    return any != 0;
}

int pt_traceparent_parse(pt_slice v, pt_trace_ctx *out)
{
    v = pt_slice_trim(v);
    if (!v.ptr || v.len < PT_TRACEPARENT_LEN) return -1;
    const char *s = v.ptr;
    int vhi = hexval(s[0]), vlo = hexval(s[1]);
    if (vhi < 0 || vlo < 0) return -1;
    int version = vhi << 4 | vlo;
    if (version == 0xff) return -1;
    /* version 00 is exactly 55 characters; a later version may add fields after a '-' */
    if (version == 0 ? v.len != PT_TRACEPARENT_LEN : v.len > PT_TRACEPARENT_LEN && s[PT_TRACEPARENT_LEN] != '-')
        return -1;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-') return -1;
    if (!read_id(s + 3, out->trace_id, 16) || !read_id(s + 36, out->parent_id, 8)) return -1;
    int hi = hexval(s[53]), lo = hexval(s[54]);
    if (hi < 0 || lo < 0) return -1;
    out->flags = (uint8_t)(hi << 4 | lo) & PT_TRACE_FLAG_SAMPLED;
    return 0;
}

void pt_trace_hex(const uint8_t *id, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * n] = '\0';
}

void pt_traceparent_write(char out[PT_TRACEPARENT_LEN + 1], const uint8_t trace_id[16], const uint8_t span_id[8],
                          uint8_t flags)
{
    memcpy(out, "00-", 3);
    pt_trace_hex(trace_id, 16, out + 3);
    out[35] = '-';
    pt_trace_hex(span_id, 8, out + 36);
    out[52] = '-';
    pt_trace_hex(&flags, 1, out + 53);
}

void pt_trace_new_id(uint8_t *out, size_t n)
{
    uint8_t any;
    do {
        any = 0;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = pt_rand64();
            size_t k = n - i < 8 ? n - i : 8;
            memcpy(out + i, &r, k);
        }
        for (size_t i = 0; i < n; i++) any |= out[i];
    } while (!any);
}

bool pt_tracestate_ok(pt_slice v)
{
    if (!v.ptr || v.len > PT_TRACESTATE_MAX) return false;
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.ptr[i] < 0x20 || (unsigned char)v.ptr[i] > 0x7e) return false;
    return true;
}
