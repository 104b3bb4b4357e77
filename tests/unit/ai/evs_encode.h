/* evs_encode.h: an AWS event-stream message encoder for tests (string headers only). */
#ifndef PT_TEST_EVS_ENCODE_H
#define PT_TEST_EVS_ENCODE_H

#include <string.h>

#include "ai/evstream.h"
#include "core/buf.h"

static inline void evs_put32(pt_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
    pt_buf_append(b, x, 4);
}

/* Appends one message with the given string headers (names[i] = values[i]) and payload. */
static inline void evs_encode(pt_buf *out, const char *const *names, const char *const *values, size_t nh,
                              const char *payload, size_t plen)
{
    pt_buf h = PT_BUF_INIT;
    for (size_t i = 0; i < nh; i++) {
        unsigned char nl = (unsigned char)strlen(names[i]);
        size_t vl = strlen(values[i]);
        unsigned char meta[3] = { 7, (unsigned char)(vl >> 8), (unsigned char)vl };
        pt_buf_append(&h, &nl, 1);
        pt_buf_append_str(&h, names[i]);
        pt_buf_append(&h, meta, 3);
        pt_buf_append(&h, values[i], vl);
    }
    size_t start = out->len;
    uint32_t total = (uint32_t)(12 + h.len + plen + 4);
    evs_put32(out, total);
    evs_put32(out, (uint32_t)h.len);
    evs_put32(out, pt_crc32(0, out->data + start, 8));
    pt_buf_append(out, h.data, h.len);
    pt_buf_append(out, payload, plen);
    evs_put32(out, pt_crc32(0, out->data + start, total - 4));
    pt_buf_release(&h);
}

/* An event message as Bedrock sends them. */
static inline void evs_event(pt_buf *out, const char *type, const char *json)
{
    const char *n[] = { ":event-type", ":content-type", ":message-type" };
    const char *v[] = { type, "application/json", "event" };
    evs_encode(out, n, v, 3, json, strlen(json));
}

#endif
