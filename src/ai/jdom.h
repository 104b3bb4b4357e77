/* jdom.h: a read-only JSON tree built in a request arena, for the AI layer's parsers.
 *
 * Every value keeps the bytes it was written as (raw), so a sub-document such as a tool's
 * JSON Schema is forwarded verbatim instead of being re-serialised, and strings are
 * decoded once into NUL-terminated copies. Validation is core/json_scan's (strict RFC 8259,
 * UTF-8 checked, nesting capped). Object members keep their order; looking a key up is a
 * linear scan (the objects of these formats have a handful of members) and finds the
 * first of duplicate keys. The tree lives as long as the arena. */
#ifndef PT_AI_JDOM_H
#define PT_AI_JDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/pool.h"
#include "core/slice.h"

typedef enum pt_jv_type {
    PT_JV_NULL,
    PT_JV_FALSE,
    PT_JV_TRUE,
    PT_JV_NUMBER,
    PT_JV_STRING,
    PT_JV_ARRAY,
    PT_JV_OBJECT,
} pt_jv_type;

typedef struct pt_jv pt_jv;
struct pt_jv {
    pt_jv_type type;
    bool integer;        /* NUMBER: written without fraction or exponent, fits int64 */
    union {
        int64_t ival;    /* NUMBER when integer */
        uint64_t keys;   /* OBJECT: pt__jv_key_bit of each member's key, or'ed */
    };
    pt_slice raw;        /* the value as written */
    pt_slice str;        /* STRING: decoded, NUL-terminated */
    pt_slice key;        /* an object's member: its decoded key, NUL-terminated */
    pt_jv *kids;         /* ARRAY / OBJECT: members in order */
    size_t n;
};

/* Parses p[0..len) (one value, whitespace around allowed). NULL on a syntax error (with
 * *errpos the offset of the offending byte) or when the arena is full (*errpos = len+1). */
const pt_jv *pt_jdom_parse(pt_pool *a, const char *p, size_t len, size_t *errpos);

/* One bit of 64 for a key of klen bytes starting with first: an object keeps the bits of
 * its keys, so most lookups of a member it lacks (parsers ask for every optional field)
 * end without a look at its members. */
static inline uint64_t pt__jv_key_bit(unsigned char first, size_t klen)
{
    return 1ull << ((first * 7u + (unsigned)klen) & 63);
}

const pt_jv *pt_jv_getn(const pt_jv *obj, const char *key, size_t klen);
/* inline so that the length and the bit of a literal key are known at compile time */
static inline const pt_jv *pt_jv_get(const pt_jv *obj, const char *key)
{
    size_t kl = strlen(key);
    if (obj && obj->type == PT_JV_OBJECT && !(obj->keys & pt__jv_key_bit((unsigned char)key[0], kl))) return NULL;
    return pt_jv_getn(obj, key, kl);
}
const pt_jv *pt_jv_at(const pt_jv *arr, size_t i);
static inline size_t pt_jv_len(const pt_jv *v)
{
    return v && (v->type == PT_JV_ARRAY || v->type == PT_JV_OBJECT) ? v->n : 0;
}

static inline bool pt_jv_is_object(const pt_jv *v) { return v && v->type == PT_JV_OBJECT; }
static inline bool pt_jv_is_array(const pt_jv *v) { return v && v->type == PT_JV_ARRAY; }
static inline bool pt_jv_is_string(const pt_jv *v) { return v && v->type == PT_JV_STRING; }
static inline bool pt_jv_is_number(const pt_jv *v) { return v && v->type == PT_JV_NUMBER; }
static inline bool pt_jv_is_integer(const pt_jv *v) { return v && v->type == PT_JV_NUMBER && v->integer; }
static inline bool pt_jv_is_bool(const pt_jv *v) { return v && (v->type == PT_JV_TRUE || v->type == PT_JV_FALSE); }
static inline bool pt_jv_is_true(const pt_jv *v) { return v && v->type == PT_JV_TRUE; }
static inline bool pt_jv_is_null(const pt_jv *v) { return v && v->type == PT_JV_NULL; }

/* The string's decoded text (NULL slice / NULL when v is not a string). */
static inline pt_slice pt_jv_str(const pt_jv *v) { return pt_jv_is_string(v) ? v->str : PT_SLICE_NULL; }
static inline const char *pt_jv_cstr(const pt_jv *v) { return pt_jv_is_string(v) ? v->str.ptr : NULL; }
/* for (i = 0 .. len-1) with `it` the i-th member of an array or object (none for
 * anything else). `it` must be a `const pt_jv *`. */
#define PT_JV_FOREACH(v, i, it) for ((i) = 0; (i) < pt_jv_len(v) && ((it) = &(v)->kids[(i)], 1); (i)++)

/* -1 when v is not an integer. */
static inline int64_t pt_jv_int(const pt_jv *v) { return pt_jv_is_integer(v) ? v->ival : -1; }
/* The number's value (0 when v is not a number). */
double pt_jv_num(const pt_jv *v);

#endif
