/* value.h: reading one configuration value: the mapping context (file, key path,
 * collected errors), ${ENV} expansion, typed scalars with units and bounds, and the
 * "did you mean" suggestion for a misspelt word.
 *
 * Every error is recorded as one line "FILE:LINE: KEY.PATH: what is wrong" and mapping
 * goes on, so one run reports every problem of a file (up to PT_CFG_MAX_ERRORS).
 * Messages quote only text as written in the file, never an expanded value: a ${SECRET}
 * never reaches a log or a terminal. */
#ifndef PT_CONFIG_VALUE_H
#define PT_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/yaml.h"
#include "core/buf.h"

#define PT_CFG_MAX_ERRORS 50u
#define PT_CFG_DAY_MS (24ull * 3600 * 1000)

/* A name and a value read from a file (header edits, deployments, ...). */
typedef struct pt_cfg_kv {
    char *name;
    char *value;
} pt_cfg_kv;

/* Frees n pairs and the array. */
void pt_cfg_kv_free(pt_cfg_kv *kv, size_t n);

/* One mapping run over one file. */
typedef struct pt_cfg {
    const char *file;       /* for messages */
    const char *basedir;    /* relative file names resolve against it; NULL = cwd */
    pt_buf *err;            /* error lines, '\n'-separated */
    unsigned nerrors;
    char path[256];         /* "services[0].timeouts.connect" */
    size_t pathlen;
    void *root;             /* the document being built, for section functions */
} pt_cfg;

/* Records "FILE:LINE: KEY.PATH: message" (line of at, or 1); always returns -1. */
int pt_cfg_fail(pt_cfg *c, const pt_cfg_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pt_cfg_oom(pt_cfg *c, const pt_cfg_node *at);
/* Orders the recorded lines by line number (stable), for reading top to bottom:
 * sections are mapped in dependency order, not file order. */
void pt_cfg_sort_errors(pt_cfg *c);
/* The same, for the key `key` below the current path (at: its value, or fallback). */
int pt_cfg_fail_key(pt_cfg *c, const char *key, const pt_cfg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Key path: push returns a mark that pop restores. */
size_t pt_cfg_push_key(pt_cfg *c, const char *key);
size_t pt_cfg_push_index(pt_cfg *c, size_t i);
void pt_cfg_pop(pt_cfg *c, size_t mark);

/* Printable text of s for a message ('?' for anything else, "..." when cut). */
char *pt_cfg_sanitize(const char *s, size_t len, char *out, size_t cap);
/* The node's text as written (never expanded), fit for a message. */
#define PT_CFG_SHOW(n) pt_cfg_sanitize((n)->text ? (n)->text : "", (n)->len, (char[84]){ 0 }, 84)

/* Expands ${NAME} (and "$${" to a literal "${") into a new string the caller frees. */
int pt_cfg_expand(pt_cfg *c, const pt_cfg_node *n, char **out);

/* Typed readers: 0 on success, else -1 with the error recorded. Strings replace and
 * free *out. Durations are milliseconds ("500ms", "10s", "2m", "1h", "1d"; a bare
 * number is milliseconds); sizes are bytes ("512KiB", "10MB"). */
int pt_cfg_str(pt_cfg *c, const pt_cfg_node *n, char **out);
int pt_cfg_bool(pt_cfg *c, const pt_cfg_node *n, bool *out);
int pt_cfg_uint(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out);
int pt_cfg_duration(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out);
int pt_cfg_size(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out);
/* A URL path: starts with '/', no whitespace, controls, '?' or '#'. */
int pt_cfg_urlpath(pt_cfg *c, const pt_cfg_node *n, char **out);
/* A file that must be readable now; relative names resolve against basedir. */
int pt_cfg_file(pt_cfg *c, const pt_cfg_node *n, char **out);

/* The candidate closest to word, if close enough to be a likely typo; else NULL. */
const char *pt_cfg_closest(const char *word, const char *const *cands, size_t ncands);
/* Records "unknown WHAT 'x' (did you mean 'y'?)" or "unknown WHAT 'x' (expected one of:
 * a, b, c)" for a value that must be one of names. */
int pt_cfg_unknown_name(pt_cfg *c, const pt_cfg_node *at, const char *what, const char *const *names, size_t n);
/* A value that must be one of names: its index in *out, or that error. */
int pt_cfg_choice(pt_cfg *c, const pt_cfg_node *v, const char *what, const char *const *names, size_t n, int *out);

#endif
