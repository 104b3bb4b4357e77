/* api.c: the admin API's resources over the store (see api.h and docs/ADMIN.md).
 *
 * Every request: authenticate the caller (auth.c), route by path, check the body's fields
 * against the resource's table, resolve references (id or unique name) within what the
 * caller may see, authorize (another team's object is 404, a visible object the role may
 * not change is 403), then one store call, audited by the store under the caller's name. */
#include "admin/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/auth.h"
#include "admin/authz.h"
#include "admin/export.h"
#include "admin/analytics.h"
#include "admin/calls.h"
#include "admin/cluster.h"
#include "admin/catalog.h"
#include "admin/openapi.h"
#include "admin/release.h"
#include "admin/session.h"
#include "admin/usage.h"
#include "control/cred.h"
#include "doctor/doctor.h"
#include "store/schema.h"

/* What one request knows while it runs. */
typedef struct ctx {
    pt_admin_api *api;
    pt_store *st;
    const pt_admin_req *rq;
    pt_admin_resp *out;
    pt_admin_err err;
    json_t *user;        /* the authenticated user, NULL before */
    int64_t user_id, team;
    pt_admin_role role;
    const char *actor;
    char *seg[PT_ADMIN_MAX_SEGS];
    int nseg;
} ctx;

enum { F_CREATE = 1, F_UPDATE = 2 };

typedef struct res_field {
    const char *api;       /* the member clients send */
    const char *col;       /* the store column, NULL when the resource handles it itself */
    int ref;               /* for references: the kind referred to, else -1 */
    unsigned flags;
} res_field;

typedef struct resource {
    const char *name;      /* path segment */
    pt_store_kind kind;
    const res_field *fields;
} resource;

#define REF_NONE (-1)
static const res_field team_fields[] = {
    {"name", "name", REF_NONE, F_CREATE | F_UPDATE}, {"publish_approval", "publish_approval", REF_NONE, F_CREATE | F_UPDATE},
    {NULL, NULL, 0, 0}};
static const res_field user_fields[] = {
    {"name", "name", REF_NONE, F_CREATE}, {"password", NULL, REF_NONE, F_CREATE | F_UPDATE},
    {"team", "team_id", PT_KIND_TEAM, F_CREATE}, {"role", "role", REF_NONE, F_CREATE | F_UPDATE},
    {"disabled", "disabled", REF_NONE, F_UPDATE}, {NULL, NULL, 0, 0}};
static const res_field service_fields[] = {
    {"name", "name", REF_NONE, F_CREATE | F_UPDATE}, {"team", "team_id", PT_KIND_TEAM, F_CREATE},
    {"kind", "kind", REF_NONE, F_CREATE}, {"targets", "targets", REF_NONE, F_CREATE | F_UPDATE},
    {"models", "models", REF_NONE, F_CREATE | F_UPDATE}, {"approval", "approval", REF_NONE, F_CREATE | F_UPDATE},
    {"lb", "lb", REF_NONE, F_CREATE | F_UPDATE}, {"timeouts", "timeouts", REF_NONE, F_CREATE | F_UPDATE},
    {"health", "health", REF_NONE, F_CREATE | F_UPDATE}, {NULL, NULL, 0, 0}};
static const res_field api_fields[] = {
    {"name", "name", REF_NONE, F_CREATE | F_UPDATE}, {"path_prefix", "path_prefix", REF_NONE, F_CREATE | F_UPDATE},
    {"methods", "methods", REF_NONE, F_CREATE | F_UPDATE}, {"auth", "auth", REF_NONE, F_CREATE | F_UPDATE},
    {"rewrite", "rewrite", REF_NONE, F_CREATE | F_UPDATE}, {"key_header", "key_header", REF_NONE, F_CREATE | F_UPDATE},
    {"key_query", "key_query", REF_NONE, F_CREATE | F_UPDATE}, {"lifecycle", "lifecycle", REF_NONE, F_CREATE | F_UPDATE},
    {"match_headers", "match_headers", REF_NONE, F_CREATE | F_UPDATE},
    {"validate", "validate", REF_NONE, F_CREATE | F_UPDATE}, {NULL, NULL, 0, 0}};
static const res_field consumer_fields[] = {
    {"name", "name", REF_NONE, F_CREATE | F_UPDATE}, {"team", "team_id", PT_KIND_TEAM, F_CREATE}, {NULL, NULL, 0, 0}};
static const res_field key_fields[] = {
    {"label", "label", REF_NONE, F_CREATE}, {"expires_at", "expires_at", REF_NONE, F_CREATE},
    {"allowed_models", "allowed_models", REF_NONE, F_CREATE}, {NULL, NULL, 0, 0}};
static const res_field sub_fields[] = {
    {"consumer", "consumer_id", PT_KIND_CONSUMER, F_CREATE}, {"service", "service_id", PT_KIND_SERVICE, F_CREATE},
    {NULL, NULL, 0, 0}};

/* A policy's members besides name and team are its spec, one JSON column: the file's
 * `policies:` keys, checked by the gateway's own mapping (check_policy). */
#define SPEC(k) {k, NULL, REF_NONE, F_CREATE | F_UPDATE}
static const res_field policy_fields[] = {
    {"name", "name", REF_NONE, F_CREATE | F_UPDATE}, {"team", "team_id", PT_KIND_TEAM, F_CREATE},
    SPEC("applies_to"), SPEC("group_by"), SPEC("rate"), SPEC("concurrency"), SPEC("tokens"), SPEC("quota"),
    SPEC("budget"), SPEC("on_store_error"), SPEC("mask"), SPEC("mcp"), {NULL, NULL, 0, 0}};
#undef SPEC

static const resource resources[] = {
    {"teams", PT_KIND_TEAM, team_fields},       {"users", PT_KIND_USER, user_fields},
    {"services", PT_KIND_SERVICE, service_fields}, {"apis", PT_KIND_API, api_fields},
    {"consumers", PT_KIND_CONSUMER, consumer_fields}, {"keys", PT_KIND_KEY, key_fields},
    {"subscriptions", PT_KIND_SUBSCRIPTION, sub_fields}, {"policies", PT_KIND_POLICY, policy_fields},
};

static const resource *resource_of(pt_store_kind kind)
{
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
        if (resources[i].kind == kind) return &resources[i];
    return NULL;
}

/* ---- answers ------------------------------------------------------------------------- */

json_t *pt_admin_error_json(const char *code, const char *field, const char *message)
{
    return json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", message, "field",
                     field && *field ? field : NULL);
}

static int fail(ctx *x, int status, const char *code, const char *field, const char *msg)
{
    return pt_admin_fail(&x->err, status, code, field, "%s", msg);
}

static void answer(ctx *x, int status, json_t *body, int64_t etag)
{
    x->out->status = status;
    x->out->body = body;
    x->out->etag = etag;
}

/* The API's name for a store column: references drop their "_id". */
static void api_field(const char *col, char *out, size_t cap)
{
    size_t n = strlen(col);
    if (n > 3 && strcmp(col + n - 3, "_id") == 0) n -= 3;
    snprintf(out, cap, "%.*s", (int)n, col);
}

static int store_fail(ctx *x, int rc, bool creating)
{
    const pt_store_error *se = pt_store_last_error(x->st);
    char f[64];
    api_field(se->field, f, sizeof f);
    const char *msg = se->message[0] ? se->message : pt_store_strerror(rc);
    switch (rc) {
    case PT_STORE_EINVAL: return fail(x, 400, "invalid_value", f, msg);
    case PT_STORE_ENOTFOUND: return fail(x, 404, "not_found", f, msg);
    case PT_STORE_ECONFLICT: return fail(x, 409, "conflict", f, msg);
    case PT_STORE_EREF: return fail(x, creating ? 422 : 409, creating ? "missing_reference" : "still_referenced", f, msg);
    case PT_STORE_ESTALE: return fail(x, 412, "precondition_failed", "", "the object changed since it was read (If-Match)");
    case PT_STORE_EFULL: return fail(x, 507, "insufficient_storage", "", "the disk is full; nothing was written");
    case PT_STORE_EBUSY: return fail(x, 503, "busy", "", "the store is busy; try again");
    case PT_STORE_EUNAVAIL: return fail(x, 503, "store_unavailable", "", msg);
    default: return fail(x, 500, "store_error", "", pt_store_strerror(rc));
    }
}

/* After a committed write of object kind/id (kind -1: several objects). Users and tokens
 * are not in the gateway's snapshot, so their writes ask nothing of it. */
static void changed_one(ctx *x, int kind, int64_t id)
{
    if (kind == PT_KIND_USER || kind == PT_KIND_TOKEN) return;
    if (x->api->on_change) x->api->on_change(x->api->arg, kind, id);
}

static void changed(ctx *x) { changed_one(x, -1, 0); }

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int64_t int_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *str_member(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* What a client may see of an object: the stored columns without secrets. An API's
 * imported document is only counted here; GET .../openapi gives it whole. */
static json_t *present(const json_t *obj)
{
    json_t *o = json_deep_copy(obj);
    if (!o) return NULL;
    json_object_del(o, "password_hash");
    json_object_del(o, "hash");
    json_t *spec = json_object_get(o, "spec"); /* a policy reads as the file writes it */
    if (json_is_object(spec)) {
        json_object_update_missing(o, spec);
        json_object_del(o, "spec");
    }
    json_t *doc = json_object_get(o, "openapi");
    if (json_is_object(doc))
        json_object_set_new(o, "openapi", json_pack("{s:I}", "operations", (json_int_t)json_array_size(json_object_get(doc, "operations"))));
    return o;
}

/* ---- who owns what --------------------------------------------------------------------- */

static int64_t team_via(ctx *x, pt_store_kind kind, int64_t id)
{
    json_t *o = NULL;
    if (id <= 0 || pt_store_get(x->st, kind, id, &o) != 0) return 0;
    int64_t t = int_member(o, "team_id");
    json_decref(o);
    return t;
}

/* The team an object belongs to, and for a subscription the service's team as well. */
static void teams_of(ctx *x, pt_store_kind kind, const json_t *obj, int64_t *t1, int64_t *t2)
{
    *t2 = 0;
    switch (kind) {
    case PT_KIND_TEAM: *t1 = int_member(obj, "id"); break;
    case PT_KIND_API: *t1 = team_via(x, PT_KIND_SERVICE, int_member(obj, "service_id")); break;
    case PT_KIND_KEY: *t1 = team_via(x, PT_KIND_CONSUMER, int_member(obj, "consumer_id")); break;
    case PT_KIND_TOKEN: *t1 = team_via(x, PT_KIND_USER, int_member(obj, "user_id")); break;
    case PT_KIND_SUBSCRIPTION:
        *t1 = team_via(x, PT_KIND_CONSUMER, int_member(obj, "consumer_id"));
        *t2 = team_via(x, PT_KIND_SERVICE, int_member(obj, "service_id"));
        break;
    default: *t1 = int_member(obj, "team_id"); break;
    }
}

static bool visible(ctx *x, pt_store_kind kind, const json_t *obj)
{
    if (x->role == PT_ROLE_ADMIN) return true;
    int64_t t1, t2;
    teams_of(x, kind, obj, &t1, &t2);
    return x->team > 0 && (t1 == x->team || t2 == x->team);
}

/* Authorizes act on a visible object; team is the one the act is judged against (for a
 * subscription: the consumer's to create or cancel, the service's to decide). */
static int authorize(ctx *x, pt_store_kind kind, pt_admin_act act, int64_t team, bool is_visible)
{
    pt_authz a = pt_admin_authorize(x->role, x->team, kind, act, team);
    if (a == PT_AUTHZ_OK) return 0;
    if (a == PT_AUTHZ_HIDDEN && !is_visible) return fail(x, 404, "not_found", "", "no such object");
    return fail(x, 403, "forbidden", "", "your role may not do this");
}

/* ---- finding objects --------------------------------------------------------------------- */

/* Looks up an object by id or unique name (APIs: by name within their service). */
static int lookup(ctx *x, pt_store_kind kind, const json_t *key, int64_t parent_service, json_t **out)
{
    *out = NULL;
    int64_t id = json_is_integer(key) ? (int64_t)json_integer_value(key) : pt_admin_parse_id(json_string_value(key));
    if (id > 0) return pt_store_get(x->st, kind, id, out) == 0 ? 0 : -1;
    const char *name = json_string_value(key);
    if (!name || kind == PT_KIND_KEY || kind == PT_KIND_SUBSCRIPTION || kind == PT_KIND_TOKEN) return -1;
    if (kind != PT_KIND_API) return pt_store_find(x->st, kind, "name", key, out) == 0 ? 0 : -1;
    json_t *filter = json_pack("{s:I,s:s}", "service_id", (json_int_t)parent_service, "name", name);
    pt_store_list_opts o = {.filter = filter, .limit = 1};
    json_t *items = NULL;
    char next[PT_STORE_CURSOR_MAX];
    int rc = filter ? pt_store_list(x->st, kind, &o, &items, next) : -1;
    json_decref(filter);
    if (rc == 0 && json_array_size(items) == 1) *out = json_incref(json_array_get(items, 0));
    json_decref(items);
    return *out ? 0 : -1;
}

/* A path segment naming a visible object, or 404. */
static json_t *path_object(ctx *x, pt_store_kind kind, const char *seg, int64_t parent)
{
    json_t *key = json_string(seg), *obj = NULL;
    int rc = key ? lookup(x, kind, key, parent, &obj) : -1;
    json_decref(key);
    if (rc == 0 && parent > 0) {
        const char *pcol = kind == PT_KIND_API ? "service_id" : "consumer_id";
        if (int_member(obj, pcol) != parent) rc = -1;
    }
    if (rc == 0 && visible(x, kind, obj)) return obj;
    json_decref(obj);
    fail(x, 404, "not_found", "", "no such object");
    return NULL;
}

/* A reference in a body (id or name) to an object the caller may see; "global" lets a
 * consumer subscribe to any team's service. 422 naming the field when there is none. */
static int64_t body_ref(ctx *x, const res_field *f, const json_t *v, bool global)
{
    json_t *obj = NULL;
    if ((!json_is_string(v) && !json_is_integer(v)) || lookup(x, (pt_store_kind)f->ref, v, 0, &obj) != 0 ||
        (!global && !visible(x, (pt_store_kind)f->ref, obj))) {
        json_decref(obj);
        char msg[160];
        snprintf(msg, sizeof msg, "%s: no such %s (give its id or name)", f->api, pt_store_kinds[f->ref].name);
        fail(x, 422, "missing_reference", f->api, msg);
        return 0;
    }
    int64_t id = int_member(obj, "id");
    json_decref(obj);
    return id;
}

/* ---- bodies -------------------------------------------------------------------------------- */

static json_t *body(ctx *x)
{
    return pt_admin_parse_body(x->rq->body, x->rq->body_len, &x->err);
}

/* Checks in against the resource's fields for create or update and maps it to store
 * columns (references resolved). Members without a column stay for the caller. */
static json_t *map_fields(ctx *x, const resource *r, const json_t *in, unsigned mode)
{
    const char *allowed[16];
    size_t n = 0;
    for (const res_field *f = r->fields; f->api && n < 15; f++)
        if (f->flags & mode) allowed[n++] = f->api;
    allowed[n] = NULL;
    if (pt_admin_known_fields(in, allowed, &x->err)) return NULL;
    json_t *cols = json_object();
    for (const res_field *f = r->fields; cols && f->api; f++) {
        json_t *v = json_object_get(in, f->api);
        if (!v || !f->col) continue;
        if (f->ref == REF_NONE) {
            json_object_set(cols, f->col, v);
            continue;
        }
        int64_t id = body_ref(x, f, v, r->kind == PT_KIND_SUBSCRIPTION && f->ref == PT_KIND_SERVICE);
        if (!id) {
            json_decref(cols);
            return NULL;
        }
        json_object_set_new(cols, f->col, json_integer(id));
    }
    if (!cols) fail(x, 500, "out_of_memory", "", "out of memory");
    return cols;
}

static int64_t if_match(ctx *x)
{
    int64_t v = pt_admin_if_match(x->rq->if_match, x->rq->if_match_len);
    if (v < 0) fail(x, 400, "invalid_header", "If-Match", "If-Match must be an ETag this API gave (\"N\")");
    return v;
}

/* ---- the kinds' own rules ---------------------------------------------------------------- */

static int hash_password(ctx *x, const json_t *pw, json_t *cols)
{
    const char *s = json_string_value(pw);
    char why[160], phc[PT_CRED_PHC_MAX];
    if (!s) return fail(x, 400, "invalid_value", "password", "password must be a string");
    if (pt_cred_password_policy(s, json_string_length(pw), why, sizeof why) != 0)
        return fail(x, 400, "invalid_value", "password", why);
    if (pt_cred_password_hash(s, json_string_length(pw), phc) != 0)
        return fail(x, 500, "internal", "password", "the password could not be hashed");
    json_object_set_new(cols, "password_hash", json_string(phc));
    return 0;
}

/* An admin has no team; other roles need one (the creator's own when the body names
 * none); only an admin makes admins. */
static int user_team(ctx *x, const char *role, json_t *cols)
{
    if (role && strcmp(role, "admin") == 0) {
        if (x->role != PT_ROLE_ADMIN) return fail(x, 403, "forbidden", "role", "only an admin may create admins");
        json_object_del(cols, "team_id");
    } else if (!json_object_get(cols, "team_id")) {
        if (x->team <= 0) return fail(x, 422, "missing_reference", "team", "team is required for this role");
        json_object_set_new(cols, "team_id", json_integer(x->team));
    }
    return 0;
}

/* Users: a password is required and hashed; the team follows user_team(). */
static int prepare_user(ctx *x, const json_t *in, json_t *cols)
{
    if (!json_object_get(in, "password")) return fail(x, 400, "missing_field", "password", "password is required");
    if (user_team(x, str_member(in, "role"), cols)) return -1;
    return hash_password(x, json_object_get(in, "password"), cols);
}

/* A user's role or disabled flag changed (in), or the user deleted (in NULL): only admins
 * touch admins, admins are not demoted, and nobody disables, deletes or re-roles
 * themselves; so the admin acting always remains, and the store never loses its last
 * enabled admin through this API. */
static int check_user_change(ctx *x, const json_t *user, const json_t *in, json_t *cols)
{
    const char *was = str_member(user, "role"), *role = in ? str_member(in, "role") : NULL;
    bool admin = was && strcmp(was, "admin") == 0, to_admin = role && strcmp(role, "admin") == 0;
    bool disabling = in ? json_is_true(json_object_get(in, "disabled")) : true;
    bool demoting = admin && role && !to_admin;
    if (int_member(user, "id") == x->user_id && (disabling || role))
        return fail(x, 409, "invalid_state", "", "you may not remove or disable yourself, or change your own role");
    if ((admin || to_admin) && (role || disabling || !in) && x->role != PT_ROLE_ADMIN)
        return fail(x, 403, "forbidden", role ? "role" : "", "only an admin may change an admin or make one");
    if (demoting)
        return fail(x, 409, "invalid_state", "role", "an admin has no team: create a user with the new role instead");
    if (to_admin && cols) json_object_set_new(cols, "team_id", json_null());
    return 0;
}

/* Services: a REST service has targets and no models, an AI service the reverse; svc is
 * the service as it will be (the body over the stored object, for a PATCH). */
static int check_service(ctx *x, const json_t *svc)
{
    const char *kind = str_member(svc, "kind");
    if (!kind) return 0; /* the store names the missing kind */
    bool ai = strcmp(kind, "ai") == 0;
    const char *need = ai ? "models" : "targets", *other = ai ? "targets" : "models";
    json_t *list = json_object_get(svc, need), *o = json_object_get(svc, other);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return pt_admin_fail(&x->err, 400, "missing_field", need, "a %.8s service needs %s: a non-empty list", kind, need);
    if (o && !json_is_null(o))
        return pt_admin_fail(&x->err, 400, "invalid_value", other, "a %.8s service has no %s", kind, other);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (!json_is_string(v) || json_string_length(v) == 0)
        return pt_admin_fail(&x->err, 400, "invalid_value", need, "%s must hold non-empty strings", need);
    return 0;
}

static int prepare_service(ctx *x, const json_t *in, json_t *cols)
{
    if (check_service(x, in)) return -1;
    if (!json_object_get(cols, "approval")) json_object_set_new(cols, "approval", json_string("auto"));
    json_object_set_new(cols, "origin", json_string("api"));
    return 0;
}

static int recheck_service(ctx *x, const json_t *obj, const json_t *in)
{
    json_t *merged = json_deep_copy(obj);
    if (!merged) return fail(x, 500, "out_of_memory", "", "out of memory");
    json_object_update(merged, (json_t *)in);
    int rc = check_service(x, merged);
    json_decref(merged);
    return rc;
}

/* Whether the gateway would serve svc with apis (its own configuration check, with the
 * file's models); api_write: apis holds only the API being written, whose field is named
 * without its "apis[0]." */
static int check_served(ctx *x, const json_t *svc, const json_t *apis, bool api_write)
{
    if (!x->api->check_service) return 0;
    /* without the members it cannot do without, the store's own check names what is missing */
    const char *kind = str_member(svc, "kind");
    if (!json_is_string(json_object_get(svc, "name")) || !kind || (strcmp(kind, "rest") && strcmp(kind, "ai")))
        return 0;
    size_t i;
    json_t *a;
    json_array_foreach(apis, i, a) if (!json_is_string(json_object_get(a, "name")) ||
                                       !json_is_string(json_object_get(a, "path_prefix"))) return 0;
    char field[64], msg[512];
    if (x->api->check_service(x->api->arg, svc, apis, field, sizeof field, msg, sizeof msg) == 0) return 0;
    const char *f = field;
    if (api_write && strncmp(f, "apis[0]", 7) == 0) f += f[7] == '.' ? 8 : 7;
    return pt_admin_fail(&x->err, 400, "invalid_value", f, "%s", msg);
}

/* A service as it is about to be written, checked with every API it has. */
static int check_service_served(ctx *x, int64_t id, const json_t *svc)
{
    json_t *filter = json_pack("{s:I}", "service_id", (json_int_t)id), *apis = NULL;
    pt_store_list_opts o = {.filter = filter, .limit = PT_STORE_PAGE_MAX};
    char next[PT_STORE_CURSOR_MAX];
    int rc = id > 0 ? pt_store_list(x->st, PT_KIND_API, &o, &apis, next) : 0;
    json_decref(filter);
    if (rc != 0) return store_fail(x, rc, false);
    if (!apis) apis = json_array();
    rc = check_served(x, svc, apis, false);
    json_decref(apis);
    return rc;
}

/* An API as it is about to be written, checked with its service. */
static int check_api_served(ctx *x, int64_t service_id, const json_t *api)
{
    json_t *svc = NULL;
    if (pt_store_get(x->st, PT_KIND_SERVICE, service_id, &svc) != 0) return store_fail(x, pt_store_last_error(x->st)->code, false);
    json_t *apis = json_pack("[O]", api);
    int rc = apis ? check_served(x, svc, apis, true) : fail(x, 500, "out_of_memory", "", "out of memory");
    json_decref(apis);
    json_decref(svc);
    return rc;
}

/* A service or an API after an update of cols, checked as it would be served. */
static int check_update_served(ctx *x, pt_store_kind kind, const json_t *obj, const json_t *cols)
{
    const char *origin = str_member(obj, "origin");
    if (origin && strcmp(origin, "file") == 0) return 0; /* served as the file says */
    json_t *merged = json_deep_copy(obj);
    if (!merged) return fail(x, 500, "out_of_memory", "", "out of memory");
    json_object_update(merged, (json_t *)cols);
    int rc = kind == PT_KIND_SERVICE ? check_service_served(x, int_member(obj, "id"), merged)
                                     : check_api_served(x, int_member(obj, "service_id"), merged);
    json_decref(merged);
    return rc;
}

/* What the configuration file declares is changed in the file: a read-only service takes
 * only a new approval setting, and neither it nor a file API is deleted or extended here. */
static int refuse_read_only(ctx *x, pt_store_kind kind, const json_t *obj, const json_t *in)
{
    const char *origin = str_member(obj, "origin");
    bool ro = kind == PT_KIND_SERVICE ? json_is_true(json_object_get(obj, "read_only"))
                                      : kind == PT_KIND_API && origin && strcmp(origin, "file") == 0;
    if (!ro) return 0;
    if (kind == PT_KIND_SERVICE && in && json_object_size(in) == 1 && json_object_get(in, "approval")) return 0;
    return pt_admin_fail(&x->err, 409, "read_only", "", "%s '%.64s' is declared by the configuration file: change it there%s",
                         pt_store_kinds[kind].name, str_member(obj, "name") ? str_member(obj, "name") : "",
                         kind == PT_KIND_SERVICE ? " (only its approval may be set here)" : "");
}

static int refuse_parent_read_only(ctx *x, int64_t service_id)
{
    json_t *svc = NULL;
    if (pt_store_get(x->st, PT_KIND_SERVICE, service_id, &svc) != 0) return 0; /* the store says what is wrong */
    int rc = refuse_read_only(x, PT_KIND_SERVICE, svc, NULL);
    json_decref(svc);
    return rc;
}

/* A new subscription to an auto service is active at once, to a manual one pending. */
static void initial_state(ctx *x, json_t *cols)
{
    json_t *svc = NULL;
    pt_store_get(x->st, PT_KIND_SERVICE, int_member(cols, "service_id"), &svc);
    const char *ap = str_member(svc, "approval");
    json_object_set_new(cols, "state", json_string(ap && strcmp(ap, "manual") == 0 ? "pending" : "active"));
    json_decref(svc);
}

/* The team a new object belongs to (non-admins: their own when the body names none). */
static int64_t new_owner(ctx *x, pt_store_kind kind, json_t *cols, int64_t parent)
{
    if (kind == PT_KIND_TEAM) return x->team;
    if (kind == PT_KIND_API) return team_via(x, PT_KIND_SERVICE, parent);
    if (kind == PT_KIND_KEY) return team_via(x, PT_KIND_CONSUMER, parent);
    if (kind == PT_KIND_SUBSCRIPTION) return team_via(x, PT_KIND_CONSUMER, int_member(cols, "consumer_id"));
    if (!json_object_get(cols, "team_id") && x->team > 0) json_object_set_new(cols, "team_id", json_integer(x->team));
    return int_member(cols, "team_id");
}

/* ---- policies ------------------------------------------------------------------------------ */

/* The spec a write leaves: the stored one (NULL when creating) with in's spec members set,
 * a null member removed. */
static json_t *policy_spec(const json_t *in, const json_t *stored)
{
    const json_t *old = json_object_get(stored, "spec");
    json_t *spec = json_is_object(old) ? json_deep_copy(old) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        if (!spec || strcmp(k, "name") == 0 || strcmp(k, "team") == 0) continue;
        if (json_is_null(v)) json_object_del(spec, k);
        else json_object_set(spec, k, v);
    }
    return spec;
}

/* What a team admin's policy may apply to: their own team, or a consumer, service or one
 * of its routes ("service/api") of that team. Models, keys and the whole gateway are
 * every team's concern: an admin's. */
static int check_policy_scope(ctx *x, const json_t *spec)
{
    const json_t *at = json_object_get(spec, "applies_to");
    static const struct { const char *key; pt_store_kind kind; } owned[] = {
        {"team", PT_KIND_TEAM}, {"consumer", PT_KIND_CONSUMER}, {"service", PT_KIND_SERVICE}, {"route", PT_KIND_SERVICE},
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        const char *name = str_member(at, owned[i].key);
        if (!name) continue;
        char field[32], svc[128];
        snprintf(field, sizeof field, "applies_to.%s", owned[i].key);
        snprintf(svc, sizeof svc, "%.*s", (int)strcspn(name, "/"), name); /* a route's service */
        json_t *key = json_string(i == 3 ? svc : name), *obj = NULL;
        int found = key ? lookup(x, owned[i].kind, key, 0, &obj) : -1;
        json_decref(key);
        bool ok = found == 0 && obj && visible(x, owned[i].kind, obj);
        json_decref(obj);
        if (ok) return 0;
        if (owned[i].kind != PT_KIND_SERVICE || x->role != PT_ROLE_ADMIN) /* the file's services are not stored */
            return pt_admin_fail(&x->err, 422, "missing_reference", field, "%s: no such %s that you may see", field,
                                 pt_store_kinds[owned[i].kind].name);
        return 0;
    }
    if (x->role == PT_ROLE_ADMIN) return 0;
    return pt_admin_fail(&x->err, 403, "forbidden", "applies_to",
                         "only admins set policies on models, keys or the whole gateway: apply it to your team, "
                         "or one of its consumers or services");
}

/* Whether the service or route ("service/api") the spec applies to is in the store as the
 * write sees it (an import may have created it in the same transaction, before the
 * gateway's configuration knows it). */
static bool scope_stored(ctx *x, const json_t *spec)
{
    const json_t *at = json_object_get(spec, "applies_to");
    const char *svc = str_member(at, "service"), *route = str_member(at, "route");
    if (!svc && (!route || !strchr(route, '/'))) return false;
    size_t n = svc ? strlen(svc) : strcspn(route, "/");
    json_t *key = json_stringn(svc ? svc : route, n), *s = NULL, *api = NULL, *akey = NULL;
    bool found = key && lookup(x, PT_KIND_SERVICE, key, 0, &s) == 0 && s;
    if (found && route) {
        akey = json_string(route + n + 1);
        found = akey && lookup(x, PT_KIND_API, akey, int_member(s, "id"), &api) == 0 && api;
    }
    json_decref(key), json_decref(s), json_decref(akey), json_decref(api);
    return found;
}

/* A policy about to be written (stored: its current state, NULL when creating): the spec
 * into cols, its scope authorized, then mapped by the gateway as the file's would be (a
 * reference to a stored service or route is the store's to check, done above). */
static int prepare_policy(ctx *x, const json_t *in, json_t *cols, const json_t *stored)
{
    json_t *spec = policy_spec(in, stored);
    if (!spec) return fail(x, 500, "out_of_memory", "", "out of memory");
    json_object_set(cols, "spec", spec);
    const char *name = str_member(in, "name") ? str_member(in, "name") : str_member(stored, "name");
    int rc = check_policy_scope(x, spec);
    if (rc == 0 && name && x->api->check_policy) {
        json_t *full = json_deep_copy(spec);
        if (scope_stored(x, spec)) json_object_del(full, "applies_to");
        json_object_set_new(full, "name", json_string(name));
        char field[64], msg[512];
        if (x->api->check_policy(x->api->arg, full, str_member(stored, "name"), field, sizeof field, msg, sizeof msg))
            rc = pt_admin_fail(&x->err, 400, "invalid_value", field, "%s", msg);
        json_decref(full);
    }
    json_decref(spec);
    return rc;
}

/* ---- generic handlers -------------------------------------------------------------------- */

static void answer_object(ctx *x, int status, pt_store_kind kind, int64_t id, json_t *extra)
{
    json_t *obj = NULL;
    if (pt_store_get(x->st, kind, id, &obj) != 0) {
        json_decref(extra);
        store_fail(x, pt_store_last_error(x->st)->code, false);
        return;
    }
    json_t *p = present(obj);
    if (extra) json_object_update(p, extra);
    json_decref(extra);
    answer(x, status, p, int_member(obj, "version"));
    json_decref(obj);
}

static int list_limit(ctx *x, unsigned *limit, char *cursor, size_t cap)
{
    char lim[16];
    *limit = 0;
    cursor[0] = 0;
    if (pt_admin_query(x->rq->query, x->rq->query_len, "limit", lim, sizeof lim)) {
        int64_t v = pt_admin_parse_id(lim);
        if (v < 1 || v > PT_STORE_PAGE_MAX)
            return pt_admin_fail(&x->err, 400, "invalid_value", "limit", "limit must be 1 to %d", PT_STORE_PAGE_MAX);
        *limit = (unsigned)v;
    }
    pt_admin_query(x->rq->query, x->rq->query_len, "cursor", cursor, cap);
    return 0;
}

/* One page; items the caller may not see are left out (a page may then be short, its
 * cursor still leads on). */
static void list(ctx *x, pt_store_kind kind, const char *pcol, int64_t parent)
{
    unsigned limit;
    char cursor[64], next[PT_STORE_CURSOR_MAX];
    if (list_limit(x, &limit, cursor, sizeof cursor)) return;
    json_t *filter = json_object();
    if (kind == PT_KIND_TOKEN) json_object_set_new(filter, "kind", json_string("token"));
    if (pcol) json_object_set_new(filter, pcol, json_integer(parent));
    else if (x->role != PT_ROLE_ADMIN && (kind == PT_KIND_USER || kind == PT_KIND_SERVICE || kind == PT_KIND_CONSUMER ||
                                          kind == PT_KIND_POLICY))
        json_object_set_new(filter, "team_id", json_integer(x->team));
    pt_store_list_opts o = {.filter = filter, .cursor = cursor, .limit = limit, .newest_first = kind == PT_KIND_AUDIT};
    json_t *items = NULL;
    int rc = pt_store_list(x->st, kind, &o, &items, next);
    json_decref(filter);
    if (rc != 0) {
        store_fail(x, rc, false);
        if (strcmp(x->err.field, "cursor") != 0 && x->err.status == 400) snprintf(x->err.field, sizeof x->err.field, "cursor");
        return;
    }
    json_t *shown = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) if (visible(x, kind, v)) json_array_append_new(shown, present(v));
    json_decref(items);
    answer(x, 200, json_pack("{s:o,s:s?}", "items", shown, "next_cursor", next[0] ? next : NULL), 0);
    if (!next[0]) json_object_set_new(x->out->body, "next_cursor", json_null());
}

static void create(ctx *x, const resource *r, const char *pcol, int64_t parent)
{
    json_t *in = body(x), *cols = in ? map_fields(x, r, in, F_CREATE) : NULL;
    if (!cols) goto out;
    if (pcol) json_object_set_new(cols, pcol, json_integer(parent));
    int64_t owner = new_owner(x, r->kind, cols, parent);
    if (authorize(x, r->kind, PT_ACT_WRITE, owner, true)) goto out;
    if (r->kind == PT_KIND_USER && prepare_user(x, in, cols)) goto out;
    if (r->kind == PT_KIND_SERVICE && (prepare_service(x, in, cols) || check_service_served(x, 0, cols))) goto out;
    if (r->kind == PT_KIND_API && (refuse_parent_read_only(x, parent) || check_api_served(x, parent, cols))) goto out;
    if (r->kind == PT_KIND_SUBSCRIPTION) initial_state(x, cols);
    if (r->kind == PT_KIND_POLICY && prepare_policy(x, in, cols, NULL)) goto out;
    pt_cred_secret key;
    memset(&key, 0, sizeof key);
    if (r->kind == PT_KIND_KEY) {
        if (pt_cred_generate(PT_CRED_KEY_SCHEME, &key) != 0) {
            fail(x, 500, "internal", "", "no randomness for a key");
            goto out;
        }
        json_object_set_new(cols, "prefix", json_string(key.prefix));
        json_object_set_new(cols, "hash", json_string(key.hash_hex));
    }
    int64_t id = 0;
    int rc = pt_store_insert(x->st, r->kind, cols, x->actor, &id);
    if (rc != 0) store_fail(x, rc, true);
    else {
        changed_one(x, (int)r->kind, id);
        answer_object(x, 201, r->kind, id, key.text[0] ? json_pack("{s:s}", "key", key.text) : NULL);
    }
    pt_cred_wipe(&key);
out:
    json_decref(in);
    json_decref(cols);
}

static void update(ctx *x, const resource *r, json_t *obj)
{
    int64_t ver = if_match(x);
    json_t *in = ver >= 0 ? body(x) : NULL, *cols = in ? map_fields(x, r, in, F_UPDATE) : NULL;
    if (!cols) goto out;
    if (json_object_size(in) == 0) {
        fail(x, 400, "missing_field", "", "nothing to change");
        goto out;
    }
    /* everyone may change their own password; the rest of a user takes the right role */
    bool self = r->kind == PT_KIND_USER && int_member(obj, "id") == x->user_id && json_object_size(in) == 1 &&
                json_object_get(in, "password");
    int64_t t1, t2;
    teams_of(x, r->kind, obj, &t1, &t2);
    if (!self && authorize(x, r->kind, PT_ACT_WRITE, t1, true)) goto out;
    if (refuse_read_only(x, r->kind, obj, in)) goto out;
    if (r->kind == PT_KIND_USER && (json_object_get(in, "role") || json_object_get(in, "disabled")) &&
        check_user_change(x, obj, in, cols))
        goto out;
    if (r->kind == PT_KIND_USER && json_object_get(in, "password") && hash_password(x, json_object_get(in, "password"), cols))
        goto out;
    if (r->kind == PT_KIND_SERVICE && recheck_service(x, obj, in)) goto out;
    if ((r->kind == PT_KIND_SERVICE || r->kind == PT_KIND_API) && check_update_served(x, r->kind, obj, cols)) goto out;
    if (r->kind == PT_KIND_POLICY && prepare_policy(x, in, cols, obj)) goto out;
    int64_t id = int_member(obj, "id");
    int rc = pt_store_update(x->st, r->kind, id, ver, cols, x->actor);
    if (rc != 0) store_fail(x, rc, false);
    else {
        changed_one(x, (int)r->kind, id);
        answer_object(x, 200, r->kind, id, NULL);
    }
out:
    json_decref(in);
    json_decref(cols);
}

/* Keys are revoked and subscriptions cancelled (kept, with their state); the rest go. */
static void remove_one(ctx *x, const resource *r, json_t *obj)
{
    int64_t ver = if_match(x);
    if (ver < 0) return;
    int64_t t1, t2, id = int_member(obj, "id");
    teams_of(x, r->kind, obj, &t1, &t2);
    if (authorize(x, r->kind, PT_ACT_WRITE, t1, true) || refuse_read_only(x, r->kind, obj, NULL)) return;
    if (r->kind == PT_KIND_USER && check_user_change(x, obj, NULL, NULL)) return;
    if (r->kind == PT_KIND_KEY && int_member(obj, "revoked_at") > 0) {
        answer(x, 200, present(obj), int_member(obj, "version")); /* already revoked: keep its time */
        return;
    }
    int rc;
    json_t *cols = NULL;
    if (r->kind == PT_KIND_KEY) cols = json_pack("{s:I}", "revoked_at", (json_int_t)now_s());
    if (r->kind == PT_KIND_SUBSCRIPTION) cols = json_pack("{s:s}", "state", "cancelled");
    if (cols) rc = pt_store_update(x->st, r->kind, id, ver, cols, x->actor);
    else rc = pt_store_delete(x->st, r->kind, id, ver, x->actor);
    json_decref(cols);
    if (rc != 0) {
        store_fail(x, rc, false);
        return;
    }
    changed_one(x, (int)r->kind, id);
    if (cols) answer_object(x, 200, r->kind, id, NULL);
    else answer(x, 204, NULL, 0);
}

static bool method_is(ctx *x, const char *m) { return strcmp(x->rq->method, m) == 0; }

static void bad_method(ctx *x) { fail(x, 405, "method_not_allowed", "", "this method is not allowed here"); }

/* GET, PATCH, DELETE of one object already found. */
static void one(ctx *x, const resource *r, json_t *obj)
{
    if (method_is(x, "GET")) answer(x, 200, present(obj), int_member(obj, "version"));
    else if (method_is(x, "PATCH") && r->kind != PT_KIND_KEY && r->kind != PT_KIND_SUBSCRIPTION) update(x, r, obj);
    else if (method_is(x, "DELETE")) remove_one(x, r, obj);
    else bad_method(x);
}

static void collection(ctx *x, const resource *r, const char *pcol, int64_t parent)
{
    if (method_is(x, "GET")) list(x, r->kind, pcol, parent);
    else if (method_is(x, "POST")) create(x, r, pcol, parent);
    else bad_method(x);
}

/* ---- subscriptions: approve and reject ------------------------------------------------- */

static void decide(ctx *x, json_t *sub, bool approve)
{
    json_t *in = NULL, *cols = NULL;
    int64_t t1, t2;
    teams_of(x, PT_KIND_SUBSCRIPTION, sub, &t1, &t2);
    if (authorize(x, PT_KIND_SUBSCRIPTION, PT_ACT_APPROVE, t2, true)) return;
    static const char *const reason_only[] = {"reason", NULL};
    if (x->rq->body_len) {
        if (!(in = body(x)) || pt_admin_known_fields(in, approve ? (const char *const[]){NULL} : reason_only, &x->err))
            goto out;
    }
    const char *state = str_member(sub, "state"), *from = approve ? "pending rejected" : "pending active";
    if (!state || !strstr(from, state)) {
        pt_admin_fail(&x->err, 409, "invalid_state", "state", "the subscription is %s", state ? state : "unknown");
        goto out;
    }
    cols = json_pack("{s:s,s:I,s:I}", "state", approve ? "active" : "rejected", "decided_by",
                     (json_int_t)x->user_id, "decided_at", (json_int_t)now_s());
    json_t *reason = json_object_get(in, "reason");
    if (reason && !json_is_string(reason)) {
        fail(x, 400, "invalid_value", "reason", "reason must be a string");
        goto out;
    }
    json_object_set(cols, "reason", reason ? reason : json_null());
    int64_t id = int_member(sub, "id");
    int rc = pt_store_update(x->st, PT_KIND_SUBSCRIPTION, id, 0, cols, x->actor);
    if (rc != 0) store_fail(x, rc, false);
    else {
        changed_one(x, PT_KIND_SUBSCRIPTION, id);
        answer_object(x, 200, PT_KIND_SUBSCRIPTION, id, NULL);
    }
out:
    json_decref(in);
    json_decref(cols);
}


/* ---- the caller (auth.c finds who it is) ------------------------------------------------ */

static int authenticate(ctx *x)
{
    pt__admin_who w = {0};
    if (pt__admin_authenticate(x->api, x->rq, &w, x->out, &x->err)) {
        pt__admin_who_release(&w);
        return -1;
    }
    x->user = w.user; /* now the request's */
    x->user_id = w.user_id;
    x->team = w.team;
    x->role = w.role;
    x->actor = w.actor;
    return 0;
}

/* ---- tokens (the rest of them is auth.c's) ------------------------------------------------- */

static void tokens(ctx *x)
{
    pt__admin_who me = {.user_id = x->user_id, .role = x->role, .actor = x->actor};
    if (x->nseg == 2) pt__admin_token(x->api, x->rq, &me, x->seg[1], x->out, &x->err);
    /* list() leaves console sessions out: they are /sessions' */
    else if (method_is(x, "GET")) list(x, PT_KIND_TOKEN, x->role == PT_ROLE_ADMIN ? NULL : "user_id", x->user_id);
    else bad_method(x);
}

/* ---- export and import (the work is export.c's) ------------------------------------------ */

static void round_trip(ctx *x)
{
    bool exporting = x->seg[0][0] == 'e';
    char dry[8];
    if (!method_is(x, exporting ? "GET" : "POST")) {
        bad_method(x);
        return;
    }
    if (x->role != PT_ROLE_ADMIN) {
        fail(x, 403, "forbidden", "", "only admins export and import");
        return;
    }
    if (exporting) {
        pt_buf yaml = PT_BUF_INIT;
        if (pt_admin_export(x->st, &yaml, &x->err) == 0) {
            x->out->status = 200;
            x->out->content_type = "application/yaml";
            x->out->raw = pt_buf_detach(&yaml, &x->out->raw_len);
        }
        pt_buf_release(&yaml);
        return;
    }
    bool dry_run = false;
    if (pt_admin_query(x->rq->query, x->rq->query_len, "dry_run", dry, sizeof dry)) {
        dry_run = strcmp(dry, "true") == 0 || strcmp(dry, "1") == 0;
        if (!dry_run && strcmp(dry, "false") != 0 && strcmp(dry, "0") != 0) {
            fail(x, 400, "invalid_value", "dry_run", "dry_run must be true or false");
            return;
        }
    }
    json_t *report = NULL;
    if (pt_admin_import(x->api, x->rq->body, x->rq->body_len, dry_run, x->actor, &report, &x->err) != 0) return;
    if (!dry_run && (int_member(report, "created") || int_member(report, "updated"))) changed(x);
    answer(x, 200, report, 0);
}

/* ---- OpenAPI documents and the catalog (the work is catalog.c's) ------------------------- */

/* GET and POST /services/{id}/openapi. Reading follows the catalog's visibility (a consumer
 * reads the documents of the services it may subscribe to); importing is writing the
 * service's APIs. */
static void service_openapi(ctx *x, const char *seg)
{
    json_t *key = json_string(seg), *svc = NULL;
    int rc = key ? lookup(x, PT_KIND_SERVICE, key, 0, &svc) : -1;
    json_decref(key);
    bool reading = method_is(x, "GET");
    if (rc != 0 || !(reading ? pt__admin_catalog_visible(x->st, x->role, x->team, svc) : visible(x, PT_KIND_SERVICE, svc))) {
        fail(x, 404, "not_found", "", "no such object");
    } else if (reading) {
        char fmt[8] = "json";
        pt_admin_query(x->rq->query, x->rq->query_len, "format", fmt, sizeof fmt);
        if (strcmp(fmt, "json") != 0 && strcmp(fmt, "yaml") != 0) fail(x, 400, "invalid_value", "format", "format must be json or yaml");
        else pt__admin_oas_export(x->st, svc, fmt[0] == 'y', x->out, &x->err);
    } else if (!method_is(x, "POST")) {
        bad_method(x);
    } else if (!authorize(x, PT_KIND_API, PT_ACT_WRITE, int_member(svc, "team_id"), true)) {
        json_t *report = NULL;
        bool wrote = false;
        if (pt__admin_oas_import(x->api, svc, x->rq, x->actor, &report, &wrote, &x->err) == 0) {
            if (wrote) changed(x);
            answer(x, 200, report, 0);
        }
    }
    json_decref(svc);
}

static void catalog(ctx *x)
{
    json_t *out = NULL;
    if (!method_is(x, "GET")) bad_method(x);
    else if (pt__admin_catalog(x->st, x->role, x->team, &out, &x->err) == 0) answer(x, 200, out, 0);
}

/* ---- the call log ----------------------------------------------------------------------- */

/* Admins see every call; everyone else the calls of their team's consumers and services
 * (the call log's records and its analytics alike). */
static void calls(ctx *x)
{
    if (!method_is(x, "GET")) {
        bad_method(x);
        return;
    }
    json_t *team = NULL;
    const char *name = NULL;
    if (x->role != PT_ROLE_ADMIN) {
        name = "";
        if (x->team > 0 && pt_store_get(x->st, PT_KIND_TEAM, x->team, &team) == 0) name = str_member(team, "name");
        if (!name) name = "";
    }
    if (x->nseg == 2) pt__admin_analytics(x->api, x->rq, x->seg[1], name, x->out, &x->err);
    else pt__admin_calls(x->api, x->rq, name, x->out, &x->err);
    json_decref(team);
}

/* GET /policies/{id}/usage: whoever reads the policy reads its usage. */
static void policy_usage(ctx *x, const json_t *obj)
{
    json_t *shown = NULL, *out = NULL;
    if (!method_is(x, "GET")) bad_method(x);
    else if (!(shown = present(obj))) fail(x, 500, "out_of_memory", "", "out of memory");
    else if (pt__admin_policy_usage(x->api, shown, &out, &x->err) == 0) answer(x, 200, out, 0);
    json_decref(shown);
}

/* ---- routing ------------------------------------------------------------------------------- */

static const resource *top(const char *name)
{
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
        if (strcmp(resources[i].name, name) == 0 && resources[i].kind != PT_KIND_API && resources[i].kind != PT_KIND_KEY)
            return &resources[i];
    return NULL;
}

/* /services/{id}/apis[/{api}] and /consumers/{id}/keys[/{key}]. */
static void nested(ctx *x, const resource *r, json_t *parent)
{
    bool apis = r->kind == PT_KIND_SERVICE;
    if (apis && pt__admin_release_path(x->seg[2])) {
        pt__admin_caller who = {x->actor, x->role, x->team};
        pt__admin_releases(x->api, x->rq, &who, parent, x->seg + 2, x->nseg - 2, x->out, &x->err);
        return;
    }
    const resource *child = resource_of(apis ? PT_KIND_API : PT_KIND_KEY);
    if (strcmp(x->seg[2], child->name) != 0 || x->nseg > 4) {
        fail(x, 404, "not_found", "", "no such resource");
        return;
    }
    int64_t pid = int_member(parent, "id");
    const char *pcol = apis ? "service_id" : "consumer_id";
    if (x->nseg == 3) {
        collection(x, child, pcol, pid);
        return;
    }
    json_t *obj = path_object(x, child->kind, x->seg[3], pid);
    if (obj) one(x, child, obj);
    json_decref(obj);
}

/* The member of array a whose member key is the string name, or NULL (borrowed). */
static json_t *named(const json_t *a, const char *key, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) if (str_member(o, key) && strcmp(str_member(o, key), name) == 0) return o;
    return NULL;
}

/* GET /mcp-servers/{name}/tools: the server's tools as the gateway last listed them (after
 * its handshake, and at each list change), each as the server describes it (name,
 * description, inputSchema, ...); listed_at null and no items while it never answered. */
static void server_tools(ctx *x, const char *server)
{
    json_t *all = x->api->describe ? x->api->describe(x->api->arg, "mcp_tools") : NULL;
    json_t *one = named(all, "server", server);
    if (!one) fail(x, 503, "unavailable", "", "the gateway does not say which tools its MCP servers have");
    else answer(x, 200, json_pack("{s:s,s:O,s:O,s:n}", "server", server, "listed_at", json_object_get(one, "listed_at"),
                                  "items", json_object_get(one, "tools"), "next_cursor"), 0);
    json_decref(all);
}

/* GET /listeners, /providers, /mcp-servers, /upstreams, /models (and one of them by name):
 * what the configuration declares, read-only, with the health of providers, MCP servers
 * and service targets. Models are the catalog every role may read; the rest is the
 * operators' (admins). */
static bool file_objects(ctx *x)
{
    static const char *const kinds[] = {"listeners", "providers", "mcp-servers", "upstreams", "models"};
    static const char *const described[] = {"listeners", "providers", "mcp_servers", "upstreams", "models"};
    size_t k = 0;
    while (k < 5 && strcmp(x->seg[0], kinds[k]) != 0) k++;
    if (k == 5) return false;
    json_t *all = x->api->describe ? x->api->describe(x->api->arg, described[k]) : json_array();
    bool tools = k == 2 && x->nseg == 3 && strcmp(x->seg[2], "tools") == 0;
    if (x->nseg > 2 && !tools) fail(x, 404, "not_found", "", "no such resource");
    else if (!method_is(x, "GET"))
        pt_admin_fail(&x->err, 405, "read_only", "", "%s are declared by the configuration file: change them there", kinds[k]);
    else if (k < 4 && x->role != PT_ROLE_ADMIN)
        pt_admin_fail(&x->err, 403, "forbidden", "", "only admins read %s", kinds[k]);
    else if (!all) fail(x, 500, "out_of_memory", "", "out of memory");
    else if (x->nseg == 1) answer(x, 200, json_pack("{s:O,s:n}", "items", all, "next_cursor"), 0);
    else {
        json_t *found = named(all, "name", x->seg[1]);
        if (!found) fail(x, 404, "not_found", "", "no such object");
        else if (tools) server_tools(x, x->seg[1]);
        else answer(x, 200, json_incref(found), 0);
    }
    json_decref(all);
    return true;
}

/* POST /doctor {"target", "listen", "timeout_ms"}: the doctor's JSON report for a target, run
 * here, on the admin thread (seconds at most). Admins only: it connects wherever it is told. */
static void doctor(ctx *x)
{
    static const char *const allowed[] = {"target", "listen", "timeout_ms", NULL};
    if (!method_is(x, "POST")) {
        bad_method(x);
        return;
    }
    if (x->role != PT_ROLE_ADMIN) {
        fail(x, 403, "forbidden", "", "only admins run the doctor");
        return;
    }
    json_t *in = body(x);
    if (!in || pt_admin_known_fields(in, allowed, &x->err)) goto out;
    const char *target = str_member(in, "target");
    json_t *listen = json_object_get(in, "listen"), *tmo = json_object_get(in, "timeout_ms");
    if (!target || !*target) {
        fail(x, 400, "missing_field", "target", "target is required: host:port, a URL or mcp+http(s)://...");
        goto out;
    }
    if (listen && !json_is_boolean(listen)) {
        fail(x, 400, "invalid_value", "listen", "listen must be true or false");
        goto out;
    }
    if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 50 || json_integer_value(tmo) > 10000)) {
        fail(x, 400, "invalid_value", "timeout_ms", "timeout_ms must be an integer from 50 to 10000");
        goto out;
    }
    char why[256];
    json_t *report = pt_doctor_json(target, json_is_true(listen), tmo ? (unsigned)json_integer_value(tmo) : 0, why,
                                    sizeof why);
    if (report) answer(x, 200, report, 0);
    else pt_admin_fail(&x->err, 400, "invalid_value", "target", "%s", why);
out:
    json_decref(in);
}

/* POST /prompt/render {"service", "variables"}: a prompt service's request as the model would
 * get it, rendered with sample variables; no model is called. */
static void prompt_render(ctx *x)
{
    static const char *const allowed[] = {"service", "variables", NULL};
    if (!method_is(x, "POST")) {
        bad_method(x);
        return;
    }
    json_t *in = body(x);
    if (!in || pt_admin_known_fields(in, allowed, &x->err)) goto out;
    const char *service = str_member(in, "service");
    json_t *vars = json_object_get(in, "variables");
    if (!service || !*service) {
        fail(x, 400, "missing_field", "service", "service is required: the name of a prompt service");
        goto out;
    }
    if (vars && !json_is_object(vars)) {
        fail(x, 400, "invalid_value", "variables", "variables must be an object");
        goto out;
    }
    json_t *empty = json_object(), *res = NULL;
    int status = x->api->render_prompt ? x->api->render_prompt(x->api->arg, service, vars ? vars : empty, &res) : 404;
    json_decref(empty);
    if (status == 200) {
        answer(x, 200, res, 0);
        res = NULL;
    } else if (status == 400) {
        char msg[256] = "";
        size_t i, used = 0;
        json_t *pr;
        json_array_foreach(res, i, pr) if (used < sizeof msg) /* every problem, as far as the message goes */
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s'%s' %s", i ? "; " : "",
                                     str_member(pr, "variable"), str_member(pr, "error"));
        pt_admin_fail(&x->err, 400, "invalid_value", "variables", "%s", msg);
    } else if (status == 404) {
        pt_admin_fail(&x->err, 404, "not_found", "service", "no prompt service is named '%.64s'", service);
    } else {
        fail(x, 500, "out_of_memory", "", "out of memory");
    }
    json_decref(res);
out:
    json_decref(in);
}

/* GET /nodes: the registry, each node said alive while its last heartbeat is under three
 * of its own periods old (and it did not stop), and current while it serves the store's
 * present version. */
static void nodes(ctx *x)
{
    if (!method_is(x, "GET")) {
        bad_method(x);
        return;
    }
    if (x->role != PT_ROLE_ADMIN) {
        fail(x, 403, "forbidden", "", "only admins list the nodes");
        return;
    }
    json_t *items = NULL;
    int64_t v = 0, now = (int64_t)time(NULL);
    int rc = pt_store_version(x->st, &v);
    if (rc == 0) rc = pt_store_nodes(x->st, &items);
    if (rc) {
        store_fail(x, rc, false);
        return;
    }
    size_t i;
    json_t *n;
    json_array_foreach(items, i, n) {
        json_object_set_new(n, "alive", json_boolean(pt__node_alive(n, now)));
        json_object_set_new(n, "current", json_boolean(json_integer_value(json_object_get(n, "store_version")) == v));
    }
    answer(x, 200, json_pack("{s:o,s:I}", "items", items, "store_version", (json_int_t)v), 0);
}

static void route(ctx *x)
{
    if (strcmp(x->seg[0], "tokens") == 0 && x->nseg == 1 && method_is(x, "POST")) {
        pt__admin_login(x->api, x->rq, x->out, &x->err);
        return;
    }
    if (strcmp(x->seg[0], "sessions") == 0) {
        pt__admin_sessions(x->api, x->rq, x->seg, x->nseg, x->out, &x->err);
        return;
    }
    if (strcmp(x->seg[0], "openapi.json") == 0 && x->nseg == 1) {
        if (!method_is(x, "GET")) bad_method(x);
        else answer(x, 200, pt_admin_openapi(), 0);
        return;
    }
    if (authenticate(x)) return;
    if ((strcmp(x->seg[0], "export") == 0 || strcmp(x->seg[0], "import") == 0) && x->nseg == 1) {
        round_trip(x);
        return;
    }
    if (strcmp(x->seg[0], "tokens") == 0 && x->nseg <= 2) {
        tokens(x);
        return;
    }
    if ((strcmp(x->seg[0], "calls") == 0 && x->nseg == 1) || (strcmp(x->seg[0], "analytics") == 0 && x->nseg == 2)) {
        calls(x);
        return;
    }
    if (strcmp(x->seg[0], "audit") == 0 && x->nseg == 1) {
        if (!method_is(x, "GET")) bad_method(x);
        else if (x->role != PT_ROLE_ADMIN) fail(x, 403, "forbidden", "", "only admins read the audit log");
        else list(x, PT_KIND_AUDIT, NULL, 0);
        return;
    }
    if (strcmp(x->seg[0], "nodes") == 0 && x->nseg == 1) {
        nodes(x);
        return;
    }
    if (strcmp(x->seg[0], "doctor") == 0 && x->nseg == 1) {
        doctor(x);
        return;
    }
    if (strcmp(x->seg[0], "prompt") == 0 && x->nseg == 2 && strcmp(x->seg[1], "render") == 0) {
        prompt_render(x);
        return;
    }
    if (strcmp(x->seg[0], "catalog") == 0 && x->nseg == 1) {
        catalog(x);
        return;
    }
    if (strcmp(x->seg[0], "services") == 0 && x->nseg == 3 && strcmp(x->seg[2], "openapi") == 0) {
        service_openapi(x, x->seg[1]);
        return;
    }
    if (file_objects(x)) return;
    const resource *r = top(x->seg[0]);
    if (!r) {
        fail(x, 404, "not_found", "", "no such resource");
        return;
    }
    if (x->nseg == 1) {
        collection(x, r, NULL, 0);
        return;
    }
    json_t *obj = path_object(x, r->kind, x->seg[1], 0);
    if (!obj) return;
    if (x->nseg == 2) one(x, r, obj);
    else if (r->kind == PT_KIND_SUBSCRIPTION && x->nseg == 3 &&
             (strcmp(x->seg[2], "approve") == 0 || strcmp(x->seg[2], "reject") == 0)) {
        if (method_is(x, "POST")) decide(x, obj, x->seg[2][0] == 'a');
        else bad_method(x);
    } else if (r->kind == PT_KIND_POLICY && x->nseg == 3 && strcmp(x->seg[2], "usage") == 0) {
        policy_usage(x, obj);
    } else if (r->kind == PT_KIND_SERVICE || r->kind == PT_KIND_CONSUMER) nested(x, r, obj);
    else fail(x, 404, "not_found", "", "no such resource");
    json_decref(obj);
}

void pt_admin_handle(pt_admin_api *api, const pt_admin_req *rq, pt_admin_resp *out)
{
    memset(out, 0, sizeof *out);
    ctx x = {.api = api, .st = api->st, .rq = rq, .out = out, .role = PT_ROLE_NONE};
    char buf[512];
    x.nseg = pt_admin_split_path(rq->path, rq->path_len, buf, sizeof buf, x.seg);
    if (x.nseg <= 0) fail(&x, 404, "not_found", "", "no such resource");
    else route(&x);
    if (!x.err.status && !out->body && !out->raw && out->status != 204) fail(&x, 500, "out_of_memory", "", "out of memory");
    if (x.err.status) {
        json_decref(out->body);
        free(out->raw);
        out->raw = NULL;
        out->body = pt_admin_error_json(x.err.code, x.err.field, x.err.message);
        out->status = x.err.status;
        out->etag = 0;
    }
    json_decref(x.user);
}

/* ---- the same rules for import (export.c) ------------------------------------------------- */

int pt__admin_map(pt_admin_api *api, pt_store_kind kind, const json_t *in, const json_t *stored, int64_t parent,
                  json_t **cols, pt_admin_err *e)
{
    ctx x = {.api = api, .st = api->st, .role = PT_ROLE_ADMIN};
    const resource *r = resource_of(kind);
    *cols = r ? map_fields(&x, r, in, F_CREATE | F_UPDATE) : NULL;
    int rc = *cols ? 0 : -1;
    if (rc == 0 && parent > 0)
        json_object_set_new(*cols, kind == PT_KIND_API ? "service_id" : "consumer_id", json_integer(parent));
    if (rc == 0 && stored) rc = refuse_read_only(&x, kind, stored, in);
    if (rc == 0 && kind == PT_KIND_USER) {
        if (!stored) rc = user_team(&x, str_member(in, "role"), *cols);
        else if (json_object_get(in, "role") || json_object_get(in, "disabled")) rc = check_user_change(&x, stored, in, *cols);
    }
    if (rc == 0 && kind == PT_KIND_SERVICE)
        rc = stored ? recheck_service(&x, stored, in) || check_update_served(&x, kind, stored, *cols)
                    : prepare_service(&x, in, *cols) || check_service_served(&x, 0, *cols);
    if (rc == 0 && kind == PT_KIND_API)
        rc = stored ? check_update_served(&x, kind, stored, *cols)
                    : refuse_parent_read_only(&x, parent) || check_api_served(&x, parent, *cols);
    if (rc == 0 && kind == PT_KIND_SUBSCRIPTION && !stored) initial_state(&x, *cols);
    if (rc == 0 && kind == PT_KIND_POLICY) rc = prepare_policy(&x, in, *cols, stored);
    if (rc != 0) {
        json_decref(*cols);
        *cols = NULL;
        *e = x.err;
    }
    return rc ? -1 : 0;
}

int pt__admin_store_fail(pt_store *st, int rc, bool creating, pt_admin_err *e)
{
    ctx x = {.st = st};
    store_fail(&x, rc, creating);
    *e = x.err;
    return -1;
}
