/* node.h: building configuration trees in code, for documents that do not come from a
 * file: a copy of a file's tree extended with objects kept in the store, or one stored
 * object checked on its own. What is built here goes through the same mapping (and so the
 * same validation and the same messages) as what a file says.
 *
 * Scalars built here are literal: their text is never searched for ${ENV} references, so
 * a value stored through the admin API cannot read the gateway's environment. Every
 * builder returns NULL (or -1) when out of memory and then frees what it was given. */
#ifndef PT_CONFIG_NODE_H
#define PT_CONFIG_NODE_H

#include <jansson.h>

#include "config/yaml.h"

pt_cfg_node *pt_cfg_node_scalar(const char *text, bool quoted);
pt_cfg_node *pt_cfg_node_map(void);
pt_cfg_node *pt_cfg_node_seq(void);
/* Appends item to a sequence (takes item, also on failure). */
int pt_cfg_node_append(pt_cfg_node *seq, pt_cfg_node *item);
/* Adds key: value to a mapping (takes value, also on failure). */
int pt_cfg_node_put(pt_cfg_node *map, const char *key, pt_cfg_node *value);
/* The value of key in map, or NULL (a mutable pt_cfg_map_get). */
pt_cfg_node *pt_cfg_node_get(pt_cfg_node *map, const char *key);
/* A deep copy (lines and flags kept). */
pt_cfg_node *pt_cfg_node_clone(const pt_cfg_node *n);
/* JSON to nodes: objects are mappings, arrays sequences, strings quoted scalars, numbers
 * and booleans plain scalars, null a null. */
pt_cfg_node *pt_cfg_node_from_json(const json_t *j);

#endif
