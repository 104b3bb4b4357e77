/* schema.h: what each stored object holds, described once for every backend. The store's
 * front (store.c) validates input against these tables; a backend builds its statements from
 * these constant names, never from input. Every kind also has the managed columns id,
 * created_at and (unless append_only) updated_at and version. */
#ifndef PT_STORE_SCHEMA_H
#define PT_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

typedef enum pt_store_coltype {
    PT_COL_TEXT,   /* UTF-8 text, no NUL, up to max_len bytes */
    PT_COL_NAME,   /* [A-Za-z0-9][A-Za-z0-9._-]*, up to max_len bytes */
    PT_COL_ENUM,   /* one of enums[] */
    PT_COL_TIME,   /* Unix seconds, integer */
    PT_COL_BOOL,
    PT_COL_JSON,   /* any JSON value, stored as text */
    PT_COL_REF,    /* the id of an object of kind ref */
    PT_COL_HASH,   /* 32 bytes, exchanged as 64 lower-case hex digits */
    PT_COL_INT,    /* a non-negative integer (a count, a number in a sequence) */
} pt_store_coltype;

enum {
    PT_COL_REQUIRED  = 1 << 0,   /* must be given on insert, never null */
    PT_COL_SECRET    = 1 << 1,   /* never written to the audit log */
    PT_COL_IMMUTABLE = 1 << 2,   /* set on insert only */
    PT_COL_UNIQUE    = 1 << 3,   /* unique across the kind: pt_store_find() accepts it */
    PT_COL_CASCADE   = 1 << 4,   /* REF: deleting the referred object deletes this one */
    PT_COL_SETNULL   = 1 << 5,   /* REF: deleting the referred object nulls this column */
};

typedef struct pt_store_col {
    const char *name;
    pt_store_coltype type;
    unsigned flags;
    pt_store_kind ref;              /* PT_COL_REF only */
    const char *const *enums;       /* PT_COL_ENUM only, NULL-terminated; [0] is the default */
    unsigned max_len;               /* TEXT/NAME/JSON byte limit */
} pt_store_col;

typedef struct pt_store_kind_desc {
    const char *name;               /* "team": audit records and messages */
    const char *table;              /* "teams" */
    const pt_store_col *cols;
    size_t ncols;
    bool append_only;               /* audit: no updated_at/version, no update or delete */
} pt_store_kind_desc;

extern const pt_store_kind_desc pt_store_kinds[PT_KIND_COUNT];

/* The column named name in kind, or NULL. */
const pt_store_col *pt_store_col_find(pt_store_kind kind, const char *name);
/* The kind whose singular name is name ("team"), or -1. */
int pt_store_kind_by_name(const char *name);

#endif
