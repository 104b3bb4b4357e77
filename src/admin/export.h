/* export.h: the declarative round trip of the control plane's state. Export writes every
 * team, user, service (with its APIs), consumer (with its keys) and subscription as one
 * YAML document that names objects, never ids; import applies such a document (or the
 * same as JSON) to a store in one transaction, matching objects by name. The HTTP
 * endpoints (GET /admin/v1/export, POST /admin/v1/import) and the command line (portico
 * export / import) both call these.
 *
 * Secrets never appear in clear: a key travels as "sha256:<hex>" of itself, a password as
 * its Argon2id string, so an imported store accepts the same keys and passwords. Services
 * the configuration file declares (origin "file") and users' tokens are not exported.
 *
 * Like every store call, these block on disk: never call them on an event loop. */
#ifndef PT_ADMIN_EXPORT_H
#define PT_ADMIN_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "admin/api.h"
#include "admin/authz.h"
#include "core/buf.h"
#include "store/store.h"

#define PT_EXPORT_FORMAT 1               /* the document's portico_export: value */
#define PT_IMPORT_MAX_FILE (64u << 20)   /* the command line reads at most this much */

/* Appends the whole state as YAML to out. The text depends only on the state (lists are
 * ordered by name), so exporting an imported copy gives the same bytes. 0, or -1 with e
 * filled. */
int pt_admin_export(pt_store *st, pt_buf *out, pt_admin_err *e);

/* Applies a document (YAML, or JSON when it starts with '{') to api's store as actor, in
 * one transaction, each object checked as the admin API checks it (api->check_service
 * included, when set): objects are created when missing, updated when different, left alone when
 * equal (no write, no audit record) and objects the document does not name are left
 * alone. A member absent from an object keeps the stored value. dry_run applies nothing.
 * On success *report is {"dry_run", "created", "updated", "unchanged", "diff": [{"action",
 * "kind", "name", "changes": {field: [before, after]}}]} with secrets redacted. Any
 * invalid object fails the whole import (nothing written): -1 with e naming the object
 * and field ("services[2].approval"). */
int pt_admin_import(pt_admin_api *api, const char *text, size_t len, bool dry_run, const char *actor, json_t **report,
                    pt_admin_err *e);

/* The command line: export the store (PostgreSQL at store_url when set, else data_dir's) to
 * out; import file into it as "cli", printing each change and a summary to out, with checks'
 * check_service, check_policy and arg (each may be NULL; its store is not used) as the admin
 * API's. Errors go to err. Return an exit status. */
int pt_admin_export_cli(const char *data_dir, const char *store_url, FILE *out, FILE *err);
int pt_admin_import_cli(const char *data_dir, const char *store_url, const char *file, bool dry_run,
                        const pt_admin_api *checks, FILE *out, FILE *err);

/* Shared with the OpenAPI import and export (oas.c): a YAML node tree as JSON (plain
 * scalars read as null, booleans and numbers; duplicate keys refused), and any JSON value
 * written as one double-quoted string or in flow style. */
struct pt_cfg_node;
json_t *pt__admin_yaml_json(const struct pt_cfg_node *n, pt_admin_err *e);
void pt__admin_yaml_string(pt_buf *b, const char *s, size_t n);
void pt__admin_yaml_flow(pt_buf *b, const json_t *v);
/* Sorts a JSON array in place with cmp, which compares two (json_t *const *). */
void pt__admin_json_sort(json_t *list, int (*cmp)(const void *, const void *));

#endif
