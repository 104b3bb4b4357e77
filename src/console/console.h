/* console.h: the web console's files, served on the admin listener under /console/ from the
 * table built into the binary (assets.h). Pure functions of the request: the admin thread
 * writes what they answer. Every answer, errors included, carries the console's security
 * headers (a strict Content-Security-Policy among them). */
#ifndef PT_CONSOLE_CONSOLE_H
#define PT_CONSOLE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "console/assets.h"

#define PT_CONSOLE_PREFIX "/console"

/* The security headers every console answer carries, as (name, value) pairs. */
typedef struct pt_console_header { const char *name, *value; } pt_console_header;
extern const pt_console_header pt_console_security_headers[];
extern const size_t pt_console_nsecurity_headers;

typedef struct pt_console_resp {
    int status;                       /* 200, 304, 404 or 405 */
    const pt_console_asset *asset;    /* 200 and 304: the file */
    const char *content_type;         /* of body */
    const char *body;                 /* 200: the asset's bytes; errors: a short text */
    size_t body_len;
    const char *allow;                /* 405 only */
} pt_console_resp;

/* Whether a request path (without its query) is the console's: "/console" or below "/console/". */
bool pt_console_owns(const char *path, size_t n);

/* The asset at path below console/ ("" and "index.html" are the same), or NULL. Paths with
 * empty, "." or ".." segments, backslashes, '%' or other characters no asset name has are
 * never found: there is no file system behind this, only the table. */
const pt_console_asset *pt_console_find(const char *rel, size_t n);

/* Answers method on path (which pt_console_owns), given the request's If-None-Match header
 * (NULL when absent): the asset, 304 when a listed ETag (or "*") matches, 404, 405 for any
 * method but GET and HEAD. */
void pt_console_serve(const char *method, const char *path, size_t n, const char *if_none_match, size_t inm_len,
                      pt_console_resp *out);

#endif
