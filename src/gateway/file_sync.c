/* file_sync.c: the configuration file's services and routes as read-only store rows (see
 * file_sync.h). */
#include "gateway/file_sync.h"
#include "gateway/lifecycle.h"

#include <llhttp.h>
#include <stdio.h>
#include <string.h>

#include "ai/ai_config.h"
#include "ai/prompt.h"

/* ---- what the file says ------------------------------------------------------------------ */

static json_t *targets_of(const pt_service *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->ntargets; i++) {
        const pt_target *t = &s->targets[i];
        json_array_append_new(a, t->weight > 1 ? json_pack("{s:s,s:i}", "url", t->url, "weight", (int)t->weight)
                                               : json_string(t->url));
    }
    return a;
}

static json_t *models_of(const pt_config *file, const pt_route *r)
{
    json_t *a = json_array();
    if (r->ai_models)
        for (size_t i = 0; a && i < r->nai_models; i++) json_array_append_new(a, json_string(r->ai_models[i]));
    else
        for (size_t i = 0; a && file->ai && i < file->ai->nmodels; i++)
            json_array_append_new(a, json_string(file->ai->models[i].name));
    return a;
}

static json_t *methods_of(pt_method_mask m)
{
    if (!m) return json_null();
    json_t *a = json_array();
    for (unsigned i = 0; a && i < 64; i++)
        if (m & ((pt_method_mask)1 << i)) json_array_append_new(a, json_string(llhttp_method_name((llhttp_method_t)i)));
    return a;
}

static json_t *opt_str(const char *s) { return s ? json_string(s) : json_null(); }

/* A route's lifecycle as the store keeps it: the members as the file wrote them. */
static json_t *lifecycle_of(const pt_route *r)
{
    const pt_lifecycle *l = r->lifecycle;
    if (!l) return json_null();
    json_t *o = json_object();
    const char *k[] = { "state", "deprecated_at", "sunset", "successor", "docs" };
    const char *v[] = { pt_lifecycle_state_name(l->state), l->deprecated_at_text, l->sunset_text, l->successor, l->docs };
    for (size_t i = 0; o && i < sizeof k / sizeof k[0]; i++)
        if (v[i]) json_object_set_new(o, k[i], json_string(v[i]));
    return o ? o : json_null();
}

static const char *service_of(const pt_route *r)
{
    return r->auth_service ? r->auth_service : r->service_name ? r->service_name : r->name;
}

/* The services the file declares, by name, as the store's columns. */
static json_t *wanted_services(const pt_config *file)
{
    json_t *want = json_object();
    for (size_t i = 0; want && i < file->nservices; i++) {
        const pt_service *s = &file->services[i];
        if (s->prompt) { /* a prompt API is an AI service of one model to the store */
            json_object_set_new(want, s->name, json_pack("{s:s,s:n,s:[s],s:n}", "kind", "ai", "targets", "models",
                                                         s->prompt->model, "lb"));
            continue;
        }
        json_object_set_new(want, s->name, json_pack("{s:s,s:o,s:n,s:s}", "kind", "rest", "targets", targets_of(s),
                                                     "models", "lb", pt_lb_name(s->lb)));
    }
    for (size_t i = 0; want && i < file->nroutes; i++) {
        const pt_route *r = &file->routes[i];
        const char *name = service_of(r);
        if (json_object_get(want, name)) continue;
        json_t *cols;
        if (r->kind == PT_ROUTE_AI)
            cols = json_pack("{s:s,s:n,s:o,s:n}", "kind", "ai", "targets", "models", models_of(file, r), "lb");
        else if (r->service)
            cols = json_pack("{s:s,s:o,s:n,s:s}", "kind", "rest", "targets", targets_of(r->service), "models", "lb",
                             pt_lb_name(r->service->lb));
        else
            continue;
        json_object_set_new(want, name, cols);
    }
    return want;
}

/* The file's routes as APIs of the service they are checked against: {service: {api: cols}}. */
static json_t *wanted_apis(const pt_config *file)
{
    json_t *want = json_object();
    for (size_t i = 0; want && i < file->nroutes; i++) {
        const pt_route *r = &file->routes[i];
        const char *path = r->path_prefix ? r->path_prefix : r->path_exact ? r->path_exact : "/";
        json_t *cols = json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "path_prefix", path, "methods",
                                 methods_of(r->methods), "auth", r->auth_key ? "key" : "none", "rewrite",
                                 opt_str(r->rewrite_prefix), "key_header", opt_str(r->key_header), "key_query",
                                 opt_str(r->key_query), "lifecycle", lifecycle_of(r));
        json_t *of = json_object_get(want, service_of(r));
        if (!of) json_object_set_new(want, service_of(r), of = json_object());
        json_object_set_new(of, r->name, cols);
    }
    return want;
}

/* ---- writing the differences ------------------------------------------------------------- */

typedef struct sync {
    pt_store *st;
    bool changed;
    int64_t team;
} sync;

/* The members of want that differ from have (null and absent are the same). */
static json_t *diff(const json_t *have, const json_t *want)
{
    json_t *d = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v) {
        json_t *h = json_object_get(have, k);
        bool h_null = !h || json_is_null(h), v_null = json_is_null(v);
        if (h_null && v_null) continue;
        if (h_null != v_null || !json_equal(h, v)) json_object_set(d, k, v);
    }
    return d;
}

/* Inserts want, or updates the members that differ; *id gets the row's id. */
static int put_row(sync *s, pt_store_kind kind, json_t *have, json_t *want, int64_t *id)
{
    if (!have) {
        s->changed = true;
        return pt_store_insert(s->st, kind, want, PT_FILE_ACTOR, id);
    }
    *id = json_integer_value(json_object_get(have, "id"));
    json_t *d = diff(have, want);
    int rc = 0;
    if (json_object_size(d)) {
        s->changed = true;
        rc = pt_store_update(s->st, kind, *id, 0, d, PT_FILE_ACTOR);
    }
    json_decref(d);
    return rc;
}

static int find_by_name(sync *s, pt_store_kind kind, const char *name, json_t **out)
{
    json_t *v = json_string(name);
    int rc = pt_store_find(s->st, kind, "name", v, out);
    json_decref(v);
    return rc == PT_STORE_ENOTFOUND ? 0 : rc;
}

static int file_team(sync *s)
{
    json_t *t = NULL;
    int rc = find_by_name(s, PT_KIND_TEAM, PT_FILE_TEAM, &t);
    if (rc == 0 && !t) {
        json_t *cols = json_pack("{s:s}", "name", PT_FILE_TEAM);
        s->changed = true;
        rc = pt_store_insert(s->st, PT_KIND_TEAM, cols, PT_FILE_ACTOR, &s->team);
        json_decref(cols);
    } else if (rc == 0) {
        s->team = json_integer_value(json_object_get(t, "id"));
    }
    json_decref(t);
    return rc;
}

/* All rows of kind matching filter (at most a page: the file declares fewer). */
static int rows(sync *s, pt_store_kind kind, json_t *filter, json_t **out)
{
    pt_store_list_opts o = { .filter = filter, .limit = PT_STORE_PAGE_MAX };
    char next[PT_STORE_CURSOR_MAX];
    int rc = pt_store_list(s->st, kind, &o, out, next);
    json_decref(filter);
    return rc;
}

/* The service's file APIs made equal to want ({api name: cols}). */
static int sync_apis(sync *s, int64_t service_id, const json_t *want)
{
    json_t *have = NULL;
    int rc = rows(s, PT_KIND_API, json_pack("{s:I}", "service_id", (json_int_t)service_id), &have);
    size_t i;
    json_t *row;
    json_array_foreach(have, i, row) {
        if (rc) break;
        const char *name = json_string_value(json_object_get(row, "name"));
        const char *origin = json_string_value(json_object_get(row, "origin"));
        if (!origin || strcmp(origin, "file") != 0 || (want && json_object_get(want, name))) continue;
        s->changed = true;
        rc = pt_store_delete(s->st, PT_KIND_API, json_integer_value(json_object_get(row, "id")), 0, PT_FILE_ACTOR);
    }
    const char *name;
    json_t *cols;
    json_object_foreach((json_t *)want, name, cols) {
        if (rc) break;
        json_t *found = NULL;
        json_array_foreach(have, i, row) if (strcmp(json_string_value(json_object_get(row, "name")), name) == 0) found = row;
        const char *origin = found ? json_string_value(json_object_get(found, "origin")) : "file";
        if (!origin || strcmp(origin, "file") != 0) continue; /* an API of that name made through the admin API */
        json_t *full = json_deep_copy(cols);
        json_object_set_new(full, "name", json_string(name));
        if (!found) {
            json_object_set_new(full, "service_id", json_integer(service_id));
            json_object_set_new(full, "origin", json_string("file"));
        }
        int64_t id;
        rc = put_row(s, PT_KIND_API, found, full, &id);
        json_decref(full);
    }
    json_decref(have);
    return rc;
}

static int sync_services(sync *s, const json_t *want, const json_t *want_apis)
{
    const char *name;
    json_t *cols;
    int rc = 0;
    json_object_foreach((json_t *)want, name, cols) {
        json_t *have = NULL;
        if ((rc = find_by_name(s, PT_KIND_SERVICE, name, &have))) break;
        const char *origin = have ? json_string_value(json_object_get(have, "origin")) : "file";
        if (origin && strcmp(origin, "file") == 0) {
            json_t *full = json_deep_copy(cols);
            json_object_set_new(full, "read_only", json_true());
            if (!have) {
                json_object_set_new(full, "name", json_string(name));
                json_object_set_new(full, "team_id", json_integer(s->team));
                json_object_set_new(full, "origin", json_string("file"));
            }
            int64_t id = 0;
            rc = put_row(s, PT_KIND_SERVICE, have, full, &id);
            if (rc == 0) rc = sync_apis(s, id, json_object_get(want_apis, name));
            json_decref(full);
        }
        json_decref(have);
        if (rc) break;
    }
    return rc;
}

/* File services the file no longer declares: their APIs go, the rows stay, writable. */
static int retire(sync *s, const json_t *want)
{
    json_t *have = NULL;
    int rc = rows(s, PT_KIND_SERVICE, json_pack("{s:s}", "origin", "file"), &have);
    size_t i;
    json_t *row;
    json_array_foreach(have, i, row) {
        if (rc || json_object_get(want, json_string_value(json_object_get(row, "name")))) continue;
        int64_t id = json_integer_value(json_object_get(row, "id"));
        rc = sync_apis(s, id, NULL);
        if (rc == 0 && json_is_true(json_object_get(row, "read_only"))) {
            json_t *d = json_pack("{s:b}", "read_only", 0);
            s->changed = true;
            rc = pt_store_update(s->st, PT_KIND_SERVICE, id, 0, d, PT_FILE_ACTOR);
            json_decref(d);
        }
    }
    json_decref(have);
    return rc;
}

int pt_file_sync(pt_store *st, const pt_config *file, bool *changed, char *why, size_t cap)
{
    sync s = { .st = st };
    json_t *want = wanted_services(file), *want_apis = wanted_apis(file);
    int rc = want && want_apis ? pt_store_begin(st) : PT_STORE_ENOMEM;
    if (rc == 0 && json_object_size(want)) rc = file_team(&s); /* made the first time it owns something */
    if (rc == 0) rc = sync_services(&s, want, want_apis);
    if (rc == 0) rc = retire(&s, want);
    if (rc == 0) rc = pt_store_commit(st);
    else if (want && want_apis) pt_store_rollback(st);
    json_decref(want);
    json_decref(want_apis);
    *changed = rc == 0 && s.changed;
    if (rc == 0) return 0;
    const pt_store_error *e = pt_store_last_error(st);
    snprintf(why, cap, "mirroring %s into the store: %s", file->source,
             e && e->message[0] ? e->message : pt_store_strerror(rc));
    return -1;
}
