/* jschema.h: a JSON Schema validator for the common subset (type, properties, required,
 * items, enum, const, minimum/maximum and their exclusive forms, minLength/maxLength,
 * minItems/maxItems, additionalProperties,
 * anyOf/oneOf/allOf, $ref to the local #/$defs), used to check a prompt API's JSON output.
 *
 * A schema is checked once (pt_jschema_new): a keyword outside the subset is refused by
 * name, never ignored, so a schema never promises more than is enforced. Annotations
 * (title, description, $schema, $id, $comment, default, examples, format, and OpenAPI's
 * example, deprecated, readOnly, writeOnly) are accepted. */
#ifndef PT_AI_JSCHEMA_H
#define PT_AI_JSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct pt_jschema pt_jschema;

/* Checks schema and keeps a reference to it. NULL with a message in why ("at
 * /properties/a: unsupported keyword 'pattern'") when it is not in the subset or malformed. */
pt_jschema *pt_jschema_new(json_t *schema, char *why, size_t whylen);
void pt_jschema_free(pt_jschema *s);
/* The schema as given (borrowed). */
const json_t *pt_jschema_json(const pt_jschema *s);

/* 0 when v is valid; -1 with the first failure in why ("at /temp_c: expected a number,
 * got a string"). */
int pt_jschema_validate(const pt_jschema *s, const json_t *v, char *why, size_t whylen);

/* Whether kw is a keyword this validator honours or an annotation it accepts: what an
 * importer checks before handing a schema over, to name the place of the first other. */
bool pt_jschema_keyword_known(const char *kw);

/* Characters (code points) in UTF-8 text: what minLength and maxLength count. */
size_t pt__utf8_chars(const char *s, size_t n);

#endif
