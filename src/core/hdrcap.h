/* hdrcap.h: header capture for llhttp's field and value callbacks.
 *
 * llhttp hands a header's name and value over in pieces, split wherever a read ended.
 * The capture appends the pieces to a head buffer the caller owns and keeps each header
 * as offsets into it, so the buffer may move as it grows; slices are taken once the
 * head is complete. Server, upstream client and doctor all read heads this way.
 *
 * Callers keep their own policy: which callbacks to ignore (trailers), byte accounting,
 * obsolete line folding. The capture only counts fields and reports failures. */
#ifndef PT_CORE_HDRCAP_H
#define PT_CORE_HDRCAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

typedef struct pt_hdr_span {
    uint32_t name_off, name_len, val_off, val_len;
} pt_hdr_span;

typedef struct pt_hdrcap {
    pt_hdr_span *f;      /* n captured headers, room for cap */
    unsigned n, cap;
    unsigned char state; /* 0 between headers, 1 in a name, 2 in a value, 3 skipping a refused header */
} pt_hdrcap;

#define PT_HDRCAP_INIT { NULL, 0, 0, 0 }

/* Forgets the headers (for the next message), keeping the memory. */
static inline void pt_hdrcap_reset(pt_hdrcap *h)
{
    h->n = 0;
    h->state = 0;
}
/* Frees the memory; the capture is empty and usable afterwards. */
void pt_hdrcap_release(pt_hdrcap *h);

/* A piece of a header name; starts a new header after a value. Returns 0, PT_ETOOMANY
 * when a new header would pass max_fields (the header's pieces are then dropped, so a
 * caller may ignore the error and keep the first max_fields), or PT_ETOOBIG / PT_ENOMEM
 * from head. */
int pt_hdrcap_name(pt_hdrcap *h, pt_buf *head, const char *at, size_t n, unsigned max_fields);
/* A piece of the current header's value. Returns 0 or PT_ETOOBIG / PT_ENOMEM. */
int pt_hdrcap_value(pt_hdrcap *h, pt_buf *head, const char *at, size_t n);

/* Header i as slices into head's current bytes (value without surrounding blanks). */
pt_slice pt_hdrcap_name_at(const pt_hdrcap *h, const pt_buf *head, unsigned i);
pt_slice pt_hdrcap_value_at(const pt_hdrcap *h, const pt_buf *head, unsigned i);

#endif
