/* catalog.c: the catalog, and OpenAPI import and export per service (see catalog.h). */
#include "admin/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/export.h"
#include "admin/oas.h"
#include "core/buf.h"

#define DEFAULT_API "openapi"

static int64_t int_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *str_member(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Every API of a service (an array, in id order), or NULL with e filled. */
static json_t *apis_of(pt_store *st, int64_t service_id, pt_admin_err *e)
{
    json_t *filter = json_pack("{s:I}", "service_id", (json_int_t)service_id), *items = NULL;
    pt_store_list_opts o = {.filter = filter, .limit = PT_STORE_PAGE_MAX};
    char next[PT_STORE_CURSOR_MAX];
    int rc = filter ? pt_store_list(st, PT_KIND_API, &o, &items, next) : PT_STORE_ENOMEM;
    json_decref(filter);
    if (rc != 0) pt__admin_store_fail(st, rc, false, e);
    return rc == 0 ? items : NULL;
}

static const char *state_of(const json_t *api)
{
    const char *s = str_member(json_object_get(api, "lifecycle"), "state");
    return s ? s : "published";
}

static bool offered(const json_t *apis)
{
    size_t i;
    json_t *a;
    json_array_foreach(apis, i, a) if (strcmp(state_of(a), "retired") != 0) return true;
    return false;
}

bool pt__admin_catalog_visible(pt_store *st, pt_admin_role role, int64_t team, const json_t *svc)
{
    if (role == PT_ROLE_ADMIN || (team > 0 && int_member(svc, "team_id") == team)) return true;
    pt_admin_err e = {0};
    json_t *apis = apis_of(st, int_member(svc, "id"), &e);
    bool yes = apis && offered(apis);
    json_decref(apis);
    return yes;
}

/* ---- the catalog ------------------------------------------------------------------------------- */

static json_t *api_entry(const json_t *a)
{
    json_t *doc = json_object_get(a, "openapi");
    return json_pack("{s:O,s:O,s:O,s:s,s:b,s:I}", "name", json_object_get(a, "name"), "path_prefix",
                     json_object_get(a, "path_prefix"), "methods",
                     json_object_get(a, "methods") ? json_object_get(a, "methods") : json_null(), "state", state_of(a),
                     "validate", json_is_true(json_object_get(a, "validate")), "operations",
                     (json_int_t)json_array_size(json_object_get(doc, "operations")));
}

typedef struct subs_ctx {
    json_t *consumers; /* "id" -> name, the caller's team's */
    json_t *by_service; /* "service id" -> [{"id","consumer","state"}] */
} subs_ctx;

static int on_sub(void *arg, const pt_store_sub_row *row)
{
    subs_ctx *c = arg;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)row->consumer_id);
    const char *name = json_string_value(json_object_get(c->consumers, k));
    if (!name) return 0;
    snprintf(k, sizeof k, "%lld", (long long)row->service_id);
    json_t *list = json_object_get(c->by_service, k);
    if (!list) json_object_set_new(c->by_service, k, list = json_array());
    json_array_append_new(list, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)row->id, "consumer", name, "state", row->state));
    return 0;
}

typedef struct cons_ctx {
    json_t *consumers;
    int64_t team;
} cons_ctx;

static int on_consumer(void *arg, const pt_store_consumer_row *row)
{
    cons_ctx *c = arg;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)row->id);
    if (row->team_id == c->team) json_object_set_new(c->consumers, k, json_string(row->name));
    return 0;
}

static int collect(void *arg, json_t *obj) { return json_array_append(arg, obj) ? PT_STORE_ENOMEM : 0; }

/* The subscriptions of team's consumers, by service id. */
static json_t *team_subscriptions(pt_store *st, int64_t team, pt_admin_err *e)
{
    cons_ctx cc = {json_object(), team};
    subs_ctx sc = {cc.consumers, json_object()};
    int rc = team > 0 ? pt_store_scan_consumers(st, on_consumer, &cc) : 0;
    if (rc == 0 && team > 0) rc = pt_store_scan_subscriptions(st, on_sub, &sc);
    json_decref(cc.consumers);
    if (rc == 0) return sc.by_service;
    json_decref(sc.by_service);
    pt__admin_store_fail(st, rc, false, e);
    return NULL;
}

static json_t *service_entry(const json_t *svc, const char *team, const json_t *apis, json_t *subs)
{
    json_t *list = json_array();
    size_t i;
    json_t *a;
    bool documented = false;
    json_array_foreach(apis, i, a) {
        json_array_append_new(list, api_entry(a));
        documented = documented || json_is_object(json_object_get(a, "openapi"));
    }
    char link[160];
    snprintf(link, sizeof link, "/admin/v1/services/%s/openapi", str_member(svc, "name"));
    return json_pack("{s:O,s:O,s:s?,s:O,s:O,s:o,s:s?,s:O}", "id", json_object_get(svc, "id"), "name",
                     json_object_get(svc, "name"), "team", team, "kind", json_object_get(svc, "kind"), "approval",
                     json_object_get(svc, "approval"), "apis", list, "openapi", documented ? link : NULL,
                     "subscriptions", subs ? subs : json_array());
}

int pt__admin_catalog(pt_store *st, pt_admin_role role, int64_t team, json_t **out, pt_admin_err *e)
{
    json_t *services = json_array(), *apis = json_array(), *teams = json_array(), *items = json_array();
    json_t *subs = NULL;
    int rc = pt_store_begin_read(st);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_SERVICE, collect, services);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_API, collect, apis);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_TEAM, collect, teams);
    if (rc == 0) {
        pt_admin_err se = {0};
        subs = team_subscriptions(st, team, &se);
        if (!subs) rc = PT_STORE_EIO;
    }
    pt_store_rollback(st);
    if (rc != 0) {
        pt__admin_store_fail(st, rc, false, e);
        goto out;
    }
    size_t i, k;
    json_t *svc, *a, *t;
    json_array_foreach(services, i, svc) {
        json_t *mine = json_array();
        json_array_foreach(apis, k, a) if (int_member(a, "service_id") == int_member(svc, "id")) json_array_append(mine, a);
        bool own = team > 0 && int_member(svc, "team_id") == team;
        if (role == PT_ROLE_ADMIN || own || offered(mine)) {
            const char *tname = NULL;
            json_array_foreach(teams, k, t) if (int_member(t, "id") == int_member(svc, "team_id")) tname = str_member(t, "name");
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)int_member(svc, "id"));
            json_array_append_new(items, service_entry(svc, tname, mine, json_incref(json_object_get(subs, key))));
        }
        json_decref(mine);
    }
    *out = json_pack("{s:O}", "items", items);
out:
    json_decref(services);
    json_decref(apis);
    json_decref(teams);
    json_decref(items);
    json_decref(subs);
    return rc ? -1 : 0;
}

/* ---- export ------------------------------------------------------------------------------------ */

/* Mappings in block style, everything else (lists included) in flow style on its key's line. */
static void yaml_doc(pt_buf *b, const json_t *o, int indent)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        pt_buf_printf(b, "%*s", indent, "");
        pt__admin_yaml_string(b, k, strlen(k));
        pt_buf_append_str(b, ":");
        if (json_is_object(v) && json_object_size(v)) {
            pt_buf_append_str(b, "\n");
            yaml_doc(b, v, indent + 2);
        } else {
            pt_buf_append_str(b, " ");
            pt__admin_yaml_flow(b, v);
            pt_buf_append_str(b, "\n");
        }
    }
}

int pt__admin_oas_export(pt_store *st, const json_t *svc, bool yaml, pt_admin_resp *out, pt_admin_err *e)
{
    json_t *apis = apis_of(st, int_member(svc, "id"), e);
    if (!apis) return -1;
    json_t *doc = pt_oas_export(str_member(svc, "name"), apis);
    json_decref(apis);
    if (!doc) return pt_admin_fail(e, 500, "out_of_memory", "", "out of memory");
    out->status = 200;
    if (!yaml) {
        out->body = doc;
        return 0;
    }
    pt_buf b = PT_BUF_INIT;
    yaml_doc(&b, doc, 0);
    json_decref(doc);
    out->content_type = "application/yaml";
    out->raw = pt_buf_detach(&b, &out->raw_len);
    pt_buf_release(&b);
    return out->raw ? 0 : pt_admin_fail(e, 500, "out_of_memory", "", "out of memory");
}

/* ---- import ------------------------------------------------------------------------------------ */

static int query_bool(const pt_admin_req *rq, const char *name, int *out, pt_admin_err *e)
{
    char v[8];
    *out = -1;
    if (!pt_admin_query(rq->query, rq->query_len, name, v, sizeof v)) return 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) *out = 0;
    else return pt_admin_fail(e, 400, "invalid_value", name, "%s must be true or false", name);
    return 0;
}

/* The methods the operations use, each once. */
static json_t *methods_of(const json_t *ops)
{
    json_t *m = json_array();
    size_t i, k;
    json_t *op, *have;
    json_array_foreach(ops, i, op) {
        json_t *name = json_object_get(op, "method");
        bool seen = false;
        json_array_foreach(m, k, have) seen = seen || json_equal(have, name);
        if (!seen) json_array_append(m, name);
    }
    return m;
}

static json_t *find_api(const json_t *apis, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(apis, i, a) if (strcmp(str_member(a, "name"), name) == 0) return a;
    return NULL;
}

/* What the import writes: the API's own fields as a client would send them. */
static json_t *api_input(const char *name, const json_t *stored, const char *prefix, const char *server, int validate,
                         const json_t *ops)
{
    json_t *in = json_pack("{s:o}", "methods", methods_of(ops));
    if (!stored) json_object_set_new(in, "name", json_string(name));
    if (prefix) json_object_set_new(in, "path_prefix", json_string(prefix));
    else if (!stored) json_object_set_new(in, "path_prefix", json_string(*server ? server : "/"));
    if (validate >= 0) json_object_set_new(in, "validate", json_boolean(validate));
    return in;
}

static int write_api(pt_admin_api *api, const json_t *svc, const json_t *stored, json_t *in, json_t *doc, bool dry_run,
                     const char *actor, pt_admin_err *e)
{
    json_t *cols = NULL;
    int64_t sid = int_member(svc, "id");
    if (pt__admin_map(api, PT_KIND_API, in, stored, stored ? 0 : sid, &cols, e)) return -1;
    json_object_set(cols, "openapi", doc);
    int rc = 0;
    if (!dry_run && stored) rc = pt_store_update(api->st, PT_KIND_API, int_member(stored, "id"), 0, cols, actor);
    else if (!dry_run) rc = pt_store_insert(api->st, PT_KIND_API, cols, actor, NULL);
    json_decref(cols);
    return rc ? pt__admin_store_fail(api->st, rc, !stored, e) : 0;
}

int pt__admin_oas_import(pt_admin_api *api, const json_t *svc, const pt_admin_req *rq, const char *actor,
                         json_t **report, bool *wrote, pt_admin_err *e)
{
    *report = NULL;
    *wrote = false;
    int dry, validate;
    char name[72] = DEFAULT_API, prefix[1030];
    bool has_prefix = pt_admin_query(rq->query, rq->query_len, "path_prefix", prefix, sizeof prefix);
    pt_admin_query(rq->query, rq->query_len, "api", name, sizeof name);
    if (query_bool(rq, "dry_run", &dry, e) || query_bool(rq, "validate", &validate, e)) return -1;
    const char *kind = str_member(svc, "kind");
    if (json_is_true(json_object_get(svc, "read_only")))
        return pt_admin_fail(e, 409, "read_only", "", "service '%.64s' is declared by the configuration file: change it there",
                             str_member(svc, "name"));
    if (!kind || strcmp(kind, "rest") != 0)
        return pt_admin_fail(e, 400, "invalid_value", "kind", "OpenAPI documents are imported into REST services");
    if (rq->body_len == 0) return pt_admin_fail(e, 400, "invalid_openapi", "", "the request needs an OpenAPI document body");
    json_t *doc = NULL, *apis = NULL, *in = NULL;
    char *server = NULL;
    int rc = -1;
    if (pt_oas_import(rq->body, rq->body_len, &doc, &server, e)) goto out;
    json_t *ops = json_object_get(doc, "operations");
    if (!json_array_size(ops)) {
        pt_admin_fail(e, 400, "invalid_openapi", "/paths", "/paths: the document declares no operations");
        goto out;
    }
    if (!(apis = apis_of(api->st, int_member(svc, "id"), e))) goto out;
    const json_t *stored = find_api(apis, name);
    in = api_input(name, stored, has_prefix ? prefix : NULL, server, validate, ops);
    if (write_api(api, svc, stored, in, doc, dry == 1, actor, e)) goto out;
    json_t *diff = pt_oas_diff(json_object_get(json_object_get(stored, "openapi"), "operations"), ops);
    json_t *head = json_pack("{s:b,s:s,s:b,s:I}", "dry_run", dry == 1, "api", name, "created", !stored, "operations",
                             (json_int_t)json_array_size(ops));
    json_object_update(diff, head);
    json_decref(head);
    *report = diff;
    *wrote = dry != 1;
    rc = 0;
out:
    json_decref(doc);
    json_decref(apis);
    json_decref(in);
    free(server);
    return rc;
}
