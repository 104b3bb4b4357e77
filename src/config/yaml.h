/* yaml.h: a configuration file as a small tree of nodes that remember their lines.
 *
 * libyaml's event stream becomes scalars, lists and mappings; anchors, aliases, tags
 * other than !!str and more than one document are refused, so what a reader sees in
 * the file is all there is. Limits: PT_CFG_MAX_NODES values, PT_CFG_MAX_DEPTH levels,
 * PT_CFG_MAX_SCALAR bytes per value. */
#ifndef PT_CONFIG_YAML_H
#define PT_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define PT_CFG_MAX_NODES 200000u
#define PT_CFG_MAX_DEPTH 32u
#define PT_CFG_MAX_SCALAR (64u << 10)

typedef enum { PT_CFG_SCALAR, PT_CFG_SEQ, PT_CFG_MAP } pt_cfg_kind;

/* A mapping keeps its pairs flat: items[2i] is a key (always a scalar), items[2i+1] its
 * value; n counts pairs. A sequence has n items. */
typedef struct pt_cfg_node {
    pt_cfg_kind kind;
    bool quoted;            /* scalar in quotes, a block scalar or !!str: never null or bool */
    bool literal;           /* built from stored data, not a file: no ${ENV} expansion, ever */
    unsigned line;          /* 1-based */
    char *text;             /* scalar: the text as written, NUL-terminated */
    size_t len;             /* scalar: bytes in text (may hold a NUL from a "\0" escape) */
    struct pt_cfg_node **items;
    size_t n;               /* pairs (map) or items (sequence) */
    size_t nitems, cap;     /* raw entries in items */
} pt_cfg_node;

/* Parses one YAML document; an empty stream gives an empty mapping. On failure returns
 * NULL and writes "FILE:LINE: what is wrong" into err. */
pt_cfg_node *pt_cfg_yaml_parse(const char *file, const char *text, size_t len, pt_buf *err);
void pt_cfg_node_free(pt_cfg_node *n);

/* An unquoted empty, "~" or "null" scalar. */
bool pt_cfg_is_null(const pt_cfg_node *n);
/* "a mapping", "a list", "a single value" or "nothing (null)", for messages. */
const char *pt_cfg_kind_name(const pt_cfg_node *n);
/* The value of key in mapping n, or NULL. */
const pt_cfg_node *pt_cfg_map_get(const pt_cfg_node *n, const char *key);

#endif
