/* argshape.h: the shape of a tool call's arguments, for the call log: the keys and the
 * types of their values, never a value. An object is {"key":shape,...} with its keys in
 * byte order, an array is [shape of its first element] ("mixed" in place of the shape when
 * its elements are not all of the first one's type; [] when empty), anything else is its
 * type's name: "string", "integer", "number", "boolean", "null".
 *
 * Bounded: below PT_ARGSHAPE_DEPTH levels a container is its type's name ("object",
 * "array"); an object shows its first PT_ARGSHAPE_KEYS keys in byte order and then
 * "...": "more" (a key longer than PT_ARGSHAPE_KEY_MAX bytes is cut on a character
 * boundary); only the first PT_ARGSHAPE_SCAN elements of an array are compared. When the
 * text would be longer than PT_ARGSHAPE_MAX bytes the shape is taken again one level
 * less deep, until it fits. */
#ifndef PT_MCP_ARGSHAPE_H
#define PT_MCP_ARGSHAPE_H

#include <jansson.h>

#define PT_ARGSHAPE_DEPTH 8
#define PT_ARGSHAPE_KEYS 64
#define PT_ARGSHAPE_KEY_MAX 64
#define PT_ARGSHAPE_SCAN 64
#define PT_ARGSHAPE_MAX 2048

/* The compact JSON text of args' shape (malloc'd, at most PT_ARGSHAPE_MAX bytes); args NULL
 * (a call without arguments) is "{}". NULL only when out of memory. */
char *pt_mcp_arg_shape(const json_t *args);

#endif
