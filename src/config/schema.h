/* schema.h: table-driven mapping of YAML mappings and lists onto C structs.
 *
 * A section is a table of pt_cfg_field: each known key says where its value goes in
 * the object (offset and width) and how it is read (a typed scalar with bounds, a
 * nested node kept for later, or a function). Unknown keys are errors with the closest
 * known key suggested; duplicate keys are errors naming the first. Mapping goes on
 * after an error so that every problem of a file is reported in one run; a function
 * returns -1 when its part failed, and checks that need the whole object should run
 * only when the object's own keys mapped cleanly (so one typo gives one message). */
#ifndef PT_CONFIG_SCHEMA_H
#define PT_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/value.h"

typedef enum {
    PT_CFG_F_STR,
    PT_CFG_F_PATH,
    PT_CFG_F_FILE,
    PT_CFG_F_BOOL,
    PT_CFG_F_UINT,
    PT_CFG_F_DURATION,
    PT_CFG_F_SIZE,
    PT_CFG_F_NODE,
    PT_CFG_F_FUNC
} pt_cfg_ftype;

typedef int (*pt_cfg_field_fn)(pt_cfg *c, const pt_cfg_node *v, void *obj);

/* One known key of a mapping: where its value goes in obj and how it is read. */
typedef struct pt_cfg_field {
    const char *key;
    pt_cfg_ftype type;
    size_t off, width;  /* offset and size of the member in obj */
    uint64_t lo, hi;    /* bounds for PT_CFG_F_UINT / PT_CFG_F_DURATION / PT_CFG_F_SIZE */
    pt_cfg_field_fn fn;        /* PT_CFG_F_FUNC */
} pt_cfg_field;

#define CFG_MEMBER(T, m) offsetof(T, m), sizeof(((T *)0)->m)
#define CFG_STR(k, T, m) { k, PT_CFG_F_STR, CFG_MEMBER(T, m), 0, 0, NULL }
#define CFG_PATH(k, T, m) { k, PT_CFG_F_PATH, CFG_MEMBER(T, m), 0, 0, NULL }
#define CFG_FILE(k, T, m) { k, PT_CFG_F_FILE, CFG_MEMBER(T, m), 0, 0, NULL }
#define CFG_BOOL(k, T, m) { k, PT_CFG_F_BOOL, CFG_MEMBER(T, m), 0, 0, NULL }
#define CFG_UINT(k, T, m, lo, hi) { k, PT_CFG_F_UINT, CFG_MEMBER(T, m), lo, hi, NULL }
#define CFG_DUR(k, T, m, lo, hi) { k, PT_CFG_F_DURATION, CFG_MEMBER(T, m), lo, hi, NULL }
#define CFG_SIZE(k, T, m, lo, hi) { k, PT_CFG_F_SIZE, CFG_MEMBER(T, m), lo, hi, NULL }
#define CFG_NODE(k, T, m) { k, PT_CFG_F_NODE, CFG_MEMBER(T, m), 0, 0, NULL }
#define CFG_FUNC(k, fn) { k, PT_CFG_F_FUNC, 0, 0, 0, 0, fn }
#define CFG_END { NULL, PT_CFG_F_STR, 0, 0, 0, 0, NULL }

/* Maps n's keys through fields into obj. *seen gets bit i for fields[i] present (the
 * first 64; seen may be NULL). A null value (an empty section) maps nothing. -1 when anything failed. */
int pt_cfg_map_fields(pt_cfg *c, const pt_cfg_node *n, const pt_cfg_field *fields, void *obj, uint64_t *seen);
/* Reads v through one field (the key path gets f->key). */
int pt_cfg_apply(pt_cfg *c, const pt_cfg_field *f, const pt_cfg_node *v, void *obj);
/* Requires a mapping whose keys are all different; reports the second of two equal keys. */
int pt_cfg_expect_map(pt_cfg *c, const pt_cfg_node *n, const char *what);

/* How to map one list: entries go through entry(); begin() runs first with the count,
 * to allocate. A single value counts as a list of one and gets no "[i]" in the key
 * path; a null value is an empty list, an error when `empty` says why. */
typedef struct pt_cfg_list {
    const char *what;   /* "a list of addresses", for type errors */
    size_t max;
    const char *empty;  /* message for an empty list; NULL = allowed */
    int (*begin)(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj);
    int (*entry)(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj);
} pt_cfg_list;

/* How to map a mapping whose keys the file chooses (header names, model names): begin()
 * runs first with the count, to allocate; pair() reads one pair with its key on the key
 * path. A null value is an empty mapping. */
typedef struct pt_cfg_pairs {
    const char *what;   /* "a mapping of header names to values", for type errors */
    size_t max;
    int (*begin)(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj);
    int (*pair)(pt_cfg *c, const pt_cfg_node *key, const pt_cfg_node *val, size_t i, void *obj);
} pt_cfg_pairs;

/* Maps every pair (all of them, even after one fails); -1 when any failed. */
int pt_cfg_map_pairs(pt_cfg *c, const pt_cfg_node *v, const pt_cfg_pairs *spec, void *obj);

/* For begin() functions: count zeroed items into ptr and count into n; 0, or -1 with
 * the error recorded when out of memory. */
#define PT_CFG_ALLOC(c, at, ptr, n, count)                                                                   \
    (((ptr) = calloc((count), sizeof *(ptr))) != NULL ? ((n) = (count), 0) : pt_cfg_oom((c), (at)))

/* Maps every entry (all of them, even after one fails); -1 when any failed. */
int pt_cfg_map_list(pt_cfg *c, const pt_cfg_node *v, const pt_cfg_list *spec, void *obj);
/* An entry written either as a single value (scalar_fn reads it) or as a mapping
 * through fields, which must then hold the key `required`. */
int pt_cfg_map_entry(pt_cfg *c, const pt_cfg_node *it, const pt_cfg_field *fields, void *obj,
                     pt_cfg_field_fn scalar_fn, const char *required, const char *what);

#endif
