/* catalog.h: what consumers browse and subscribe from (GET /admin/v1/catalog), and each
 * service's OpenAPI document in and out (POST and GET /admin/v1/services/{id}/openapi).
 * The HTTP routing, authentication and write authorization stay in api.c; these run on
 * the admin thread and block on the store like the rest of the admin API. */
#ifndef PT_ADMIN_CATALOG_H
#define PT_ADMIN_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "admin/api.h"
#include "admin/authz.h"

/* Whether a caller of role in team sees service svc in the catalog: admins every service;
 * others their team's services and every service with an API that is not retired (what a
 * consumer may subscribe to). */
bool pt__admin_catalog_visible(pt_store *st, pt_admin_role role, int64_t team, const json_t *svc);

/* {"items": [...]}: each visible service with its team, kind, approval mode, APIs (path,
 * methods, life cycle state, whether requests are validated, operation count), the link of
 * its OpenAPI document and the subscriptions of the caller's team's consumers to it. */
int pt__admin_catalog(pt_store *st, pt_admin_role role, int64_t team, json_t **out, pt_admin_err *e);

/* The service's OpenAPI 3.1 document, as JSON (out->body) or YAML (out->raw). */
int pt__admin_oas_export(pt_store *st, const json_t *svc, bool yaml, pt_admin_resp *out, pt_admin_err *e);

/* Imports the document in rq's body into one API of svc (query: api, path_prefix,
 * validate, dry_run), the caller already allowed to write the service's APIs. *report is
 * {"dry_run", "api", "created", "operations", "added", "removed", "changed", "unchanged"};
 * *wrote says whether the store changed. */
int pt__admin_oas_import(pt_admin_api *api, const json_t *svc, const pt_admin_req *rq, const char *actor,
                         json_t **report, bool *wrote, pt_admin_err *e);

#endif
