/* json_write.h: a compact JSON writer over pt_buf, with automatic commas and a sticky error.
 *
 * Renderers write members in the order the wire format documents them, which keeps
 * output byte-stable for golden tests. Every call after the first failure is a no-op;
 * check w->err once at the end (0, PT_ETOOBIG or PT_ENOMEM). Nesting is capped at
 * PT_JW_MAX_DEPTH; deeper nesting sets PT_EINVAL. */
#ifndef PT_CORE_JSON_WRITE_H
#define PT_CORE_JSON_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/slice.h"

#define PT_JW_MAX_DEPTH 64

typedef struct pt_jw {
    pt_buf *b;
    int err;
    unsigned depth;
    bool after_key;
    bool has_member[PT_JW_MAX_DEPTH + 1];
} pt_jw;

void pt_jw_init(pt_jw *w, pt_buf *b);

void pt_jw_obj(pt_jw *w);
void pt_jw_obj_end(pt_jw *w);
void pt_jw_arr(pt_jw *w);
void pt_jw_arr_end(pt_jw *w);
/* Member name: k is written as is (callers pass ASCII literals; inline so that their
 * length is known at compile time) */
void pt_jw_keyn(pt_jw *w, const char *k, size_t n);
static inline void pt_jw_key(pt_jw *w, const char *k) { pt_jw_keyn(w, k, strlen(k)); }
/* Member name from data (escaped) */
void pt_jw_key_slice(pt_jw *w, pt_slice k);

void pt_jw_str(pt_jw *w, pt_slice s);
void pt_jw_cstr(pt_jw *w, const char *s);
void pt_jw_int(pt_jw *w, int64_t v);
void pt_jw_uint(pt_jw *w, uint64_t v);
/* Shortest text that reads back as the same double; NaN/inf are written as null. */
void pt_jw_num(pt_jw *w, double v);
void pt_jw_bool(pt_jw *w, bool v);
void pt_jw_null(pt_jw *w);
/* Bytes that already are one valid JSON value. */
void pt_jw_raw(pt_jw *w, pt_slice json);

/* key + value shorthands */
static inline void pt_jw_kstr(pt_jw *w, const char *k, pt_slice v) { pt_jw_key(w, k); pt_jw_str(w, v); }
static inline void pt_jw_kcstr(pt_jw *w, const char *k, const char *v) { pt_jw_key(w, k); pt_jw_cstr(w, v); }
static inline void pt_jw_kint(pt_jw *w, const char *k, int64_t v) { pt_jw_key(w, k); pt_jw_int(w, v); }
static inline void pt_jw_kbool(pt_jw *w, const char *k, bool v) { pt_jw_key(w, k); pt_jw_bool(w, v); }
static inline void pt_jw_knull(pt_jw *w, const char *k) { pt_jw_key(w, k); pt_jw_null(w); }

/* Appends the shortest round-trip text of v to b (no JSON framing). */
int pt_jw_format_double(pt_buf *b, double v);

#endif
