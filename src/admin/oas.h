/* oas.h: OpenAPI 3.0 and 3.1 documents in and out of a service's APIs.
 *
 * Import reads a document (JSON, or YAML), resolves every local $ref (#/components/...),
 * turns 3.0's nullable and exclusive bounds into their 3.1 forms, and keeps of each
 * operation what the gateway can check: its method, path template, operationId, summary,
 * parameters (name, in, required, schema) and JSON request body schema. Every schema is
 * one the JSON Schema subset validator (ai/jschema.h) honours in full: a keyword it cannot
 * honour is refused, never ignored. The result is the normalised form stored with an API:
 *
 *   {"openapi": "3.1.0", "info": {...},
 *    "operations": [{"method": "GET", "path": "/pets/{petId}", "operation_id", "summary",
 *                    "parameters": [{"name", "in", "required", "schema"}],
 *                    "body": {"required", "content_type", "schema"}}]}
 *
 * operations sorted by path then method, parameters by location then name, so two
 * normalised forms compare equal exactly when they describe the same operations. */
#ifndef PT_ADMIN_OAS_H
#define PT_ADMIN_OAS_H

#include <stddef.h>

#include <jansson.h>

#include "admin/authz.h"

#define PT_OAS_MAX_NODES 100000u   /* schema nodes after $ref expansion */
#define PT_OAS_MAX_STORED 204800u  /* bytes of the normalised form (it is audited twice per write) */

/* Parses and normalises text. 0 with *out (the caller's) or -1 with e filled: 400
 * invalid_openapi, field the JSON pointer of the fault, the message "line N: /pointer:
 * why" for YAML and "/pointer: why" for JSON. *server_path gets the path of the first
 * servers[] URL ("" without one; the caller frees it). */
int pt_oas_import(const char *text, size_t len, json_t **out, char **server_path, pt_admin_err *e);

/* What changes from the operations before (NULL: none) to after: {"added": ["GET /a"],
 * "removed": [...], "changed": [{"operation": "GET /a", "fields": ["parameters"]}],
 * "unchanged": n}. */
json_t *pt_oas_diff(const json_t *before, const json_t *after);

/* Whether v is a normalised form this module wrote (what an exported state carries): it
 * must export to a document that imports back to the same operations. 0, or -1 with e
 * filled (400 invalid_value, field "openapi"). */
int pt_oas_check_normalised(const json_t *v, pt_admin_err *e);

/* An OpenAPI 3.1 document for a service from its APIs (an array of stored API objects;
 * those without an imported document are left out). title names the service. */
json_t *pt_oas_export(const char *title, const json_t *apis);

#endif
