/* evstream.c: the AWS event-stream framing decoder (see evstream.h). */
#include "ai/evstream.h"

#include <string.h>

#include "core/err.h"

#define DEFAULT_MAX (16u * 1024u * 1024u)

static uint32_t crc_table[256];
static _Atomic int crc_ready;

static void crc_init(void)
{
    if (crc_ready) return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1; /* racing initialisers write the same values */
}

uint32_t pt_crc32(uint32_t crc, const void *p, size_t n)
{
    crc_init();
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void pt_evs_init(pt_evs *s, size_t max_message)
{
    memset(s, 0, sizeof *s);
    s->max_message = max_message ? max_message : DEFAULT_MAX;
    if (s->max_message < PT_EVS_MIN_MESSAGE) s->max_message = PT_EVS_MIN_MESSAGE;
    pt_buf_init(&s->buf, s->max_message);
}

void pt_evs_release(pt_evs *s) { pt_buf_release(&s->buf); }

bool pt_evs_pending(const pt_evs *s) { return s->buf.len > 0; }

/* Size of a header value of type t at p (n bytes left), or -1 when malformed. */
static long value_size(unsigned char t, const unsigned char *p, size_t n)
{
    switch (t) {
    case 0: case 1: return 0;           /* true, false */
    case 2: return 1;                   /* byte */
    case 3: return 2;                   /* short */
    case 4: return 4;                   /* integer */
    case 5: case 8: return 8;           /* long, timestamp */
    case 9: return 16;                  /* uuid */
    case 6: case 7:                     /* bytes, string: 2-byte length first */
        if (n < 2) return -1;
        return 2 + (long)((unsigned)p[0] << 8 | p[1]);
    default: return -1;
    }
}

static int headers(const unsigned char *p, size_t n, pt_evs_msg *m)
{
    size_t i = 0;
    while (i < n) {
        size_t nlen = p[i++];
        if (nlen == 0 || i + nlen + 1 > n) return PT_EPARSE;
        pt_slice name = { (const char *)p + i, nlen };
        i += nlen;
        unsigned char t = p[i++];
        long vs = value_size(t, p + i, n - i);
        if (vs < 0 || (size_t)vs > n - i) return PT_EPARSE;
        if (t == 7) {
            pt_slice v = { (const char *)p + i + 2, (size_t)vs - 2 };
            if (pt_slice_eq_cstr(name, ":message-type")) m->message_type = v;
            else if (pt_slice_eq_cstr(name, ":event-type")) m->event_type = v;
            else if (pt_slice_eq_cstr(name, ":exception-type")) m->exception_type = v;
            else if (pt_slice_eq_cstr(name, ":error-code")) m->error_code = v;
            else if (pt_slice_eq_cstr(name, ":error-message")) m->error_message = v;
        }
        i += (size_t)vs;
    }
    return 0;
}

/* One whole message at p (total bytes, prelude already checked). */
static int message(const unsigned char *p, uint32_t total, pt_evs_cb cb, void *arg)
{
    uint32_t hlen = be32(p + 4);
    if (pt_crc32(0, p, total - 4) != be32(p + total - 4)) return PT_EPARSE;
    pt_evs_msg m;
    memset(&m, 0, sizeof m);
    int rc = headers(p + 12, hlen, &m);
    if (rc) return rc;
    m.payload = (pt_slice){ (const char *)p + 12 + hlen, total - 16 - hlen };
    return cb(arg, &m);
}

/* The length of the message starting at p (12 bytes available), or an error. */
static int prelude(const pt_evs *s, const unsigned char *p, uint32_t *total)
{
    uint32_t t = be32(p), h = be32(p + 4);
    if (pt_crc32(0, p, 8) != be32(p + 8)) return PT_EPARSE;
    if (t < PT_EVS_MIN_MESSAGE || h > t - PT_EVS_MIN_MESSAGE) return PT_EPARSE;
    if (t > s->max_message) return PT_ETOOBIG;
    *total = t;
    return 0;
}

/* Decodes the whole messages at the start of p; *used says how many bytes they took. */
static int drain(pt_evs *s, const unsigned char *p, size_t n, size_t *used, pt_evs_cb cb, void *arg)
{
    size_t off = 0;
    int rc = 0;
    while (n - off >= 12) {
        uint32_t total;
        if ((rc = prelude(s, p + off, &total))) break;
        if (n - off < total) break;
        if ((rc = message(p + off, total, cb, arg))) {
            off += total;
            break;
        }
        off += total;
    }
    *used = off;
    return rc;
}

int pt_evs_feed(pt_evs *s, const char *p, size_t n, pt_evs_cb cb, void *arg)
{
    if (s->failed) return PT_EPARSE;
    size_t used = 0;
    int rc;
    if (!s->buf.len) {
        /* the common case: whole messages straight from the caller's bytes */
        rc = drain(s, (const unsigned char *)p, n, &used, cb, arg);
        p += used;
        n -= used;
        if (!rc && n && pt_buf_append(&s->buf, p, n)) rc = PT_ETOOBIG;
    } else {
        if (pt_buf_append(&s->buf, p, n)) {
            rc = PT_ETOOBIG;
        } else {
            rc = drain(s, (const unsigned char *)s->buf.data, s->buf.len, &used, cb, arg);
            memmove(s->buf.data, s->buf.data + used, s->buf.len - used);
            s->buf.len -= used;
        }
    }
    if (rc == PT_EPARSE || rc == PT_ETOOBIG) s->failed = true;
    return rc;
}
