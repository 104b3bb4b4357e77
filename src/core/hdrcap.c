/* hdrcap.c: header capture for llhttp callbacks (see hdrcap.h). */
#include "core/hdrcap.h"

#include <stdlib.h>

#include "core/err.h"

void pt_hdrcap_release(pt_hdrcap *h)
{
    free(h->f);
    *h = (pt_hdrcap)PT_HDRCAP_INIT;
}

/* Room for one more header: doubling from 16, never past max_fields. */
static int grow(pt_hdrcap *h, unsigned max_fields)
{
    if (h->n >= max_fields) return PT_ETOOMANY;
    if (h->n < h->cap) return 0;
    unsigned ncap = h->cap ? h->cap * 2 : 16;
    if (ncap > max_fields) ncap = max_fields;
    pt_hdr_span *f = realloc(h->f, ncap * sizeof *f);
    if (!f) return PT_ENOMEM;
    h->f = f;
    h->cap = ncap;
    return 0;
}

int pt_hdrcap_name(pt_hdrcap *h, pt_buf *head, const char *at, size_t n, unsigned max_fields)
{
    if (h->state != 1) {
        int rc = grow(h, max_fields);
        if (rc) {
            h->state = 3;
            return rc;
        }
        h->f[h->n++] = (pt_hdr_span){ (uint32_t)head->len, 0, (uint32_t)head->len, 0 };
        h->state = 1;
    }
    int rc = pt_buf_append(head, at, n);
    if (rc == 0) h->f[h->n - 1].name_len += (uint32_t)n;
    return rc;
}

int pt_hdrcap_value(pt_hdrcap *h, pt_buf *head, const char *at, size_t n)
{
    if (h->state == 3 || h->n == 0) return 0; /* a refused header's value, or no name yet */
    pt_hdr_span *s = &h->f[h->n - 1];
    if (h->state != 2) {
        s->val_off = (uint32_t)head->len;
        h->state = 2;
    }
    int rc = pt_buf_append(head, at, n);
    if (rc == 0) s->val_len += (uint32_t)n;
    return rc;
}

static const char *base(const pt_buf *head) { return head->data ? head->data : ""; }

pt_slice pt_hdrcap_name_at(const pt_hdrcap *h, const pt_buf *head, unsigned i)
{
    return pt_slice_from(base(head) + h->f[i].name_off, h->f[i].name_len);
}

pt_slice pt_hdrcap_value_at(const pt_hdrcap *h, const pt_buf *head, unsigned i)
{
    return pt_slice_trim(pt_slice_from(base(head) + h->f[i].val_off, h->f[i].val_len));
}
