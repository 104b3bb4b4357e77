/* release.c: publishing, listing, rolling back and approving a service's releases (see
 * release.h). A release's content comes from release_diff.c; the gateway serves a service's
 * current release (control/snapshot.c), so a publish or a rollback takes effect through the
 * same change notification as any other write. */
#include "admin/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/release_diff.h"
#include "store/schema.h"

typedef struct rctx {
    pt_admin_api *api;
    pt_store *st;
    const pt_admin_req *rq;
    const pt__admin_caller *who;
    const json_t *svc;
    int64_t sid;
    pt_admin_resp *out;
    pt_admin_err *err;
} rctx;

/* Fits a diff's text in a release (the store's limit): without its values when needed. */
#define DIFF_MAX 65536

static int64_t int_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *str_member(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static bool method_is(rctx *x, const char *m) { return strcmp(x->rq->method, m) == 0; }

static int fail_store(rctx *x)
{
    const pt_store_error *se = pt_store_last_error(x->st);
    return pt__admin_store_fail(x->st, se->code ? se->code : PT_STORE_EIO, false, x->err);
}

static void answer(rctx *x, int status, json_t *body)
{
    x->out->status = status;
    x->out->body = body;
}

static void bad_method(rctx *x) { pt_admin_fail(x->err, 405, "method_not_allowed", "", "this method is not allowed here"); }

static void no_such(rctx *x) { pt_admin_fail(x->err, 404, "not_found", "", "no such resource"); }

/* The body's object with only the allowed members; an empty body is {} when optional. */
static json_t *read_body(rctx *x, const char *const *allowed, bool optional)
{
    if (optional && x->rq->body_len == 0) return json_object();
    json_t *in = pt_admin_parse_body(x->rq->body, x->rq->body_len, x->err);
    if (in && pt_admin_known_fields(in, allowed, x->err)) {
        json_decref(in);
        return NULL;
    }
    return in;
}

/* ---- what is published --------------------------------------------------------------- */

static int collect_row(void *arr, json_t *row) { return json_array_append(arr, row) ? PT_STORE_ENOMEM : 0; }

/* The draft: the service's rows (and the stored policies that apply to it) as a release's
 * content. */
static int draft_content(rctx *x, json_t **out)
{
    json_t *filter = json_pack("{s:I}", "service_id", (json_int_t)x->sid), *apis = NULL, *svc = NULL;
    json_t *policies = json_array();
    pt_store_list_opts o = {.filter = filter, .limit = PT_STORE_PAGE_MAX};
    char next[PT_STORE_CURSOR_MAX];
    int rc = pt_store_get(x->st, PT_KIND_SERVICE, x->sid, &svc);
    if (rc == 0) rc = pt_store_list(x->st, PT_KIND_API, &o, &apis, next);
    if (rc == 0) rc = policies ? pt_store_scan(x->st, PT_KIND_POLICY, collect_row, policies) : PT_STORE_ENOMEM;
    json_decref(filter);
    *out = rc == 0 ? pt_release_content(svc, apis, policies) : NULL;
    json_decref(svc);
    json_decref(apis);
    json_decref(policies);
    if (rc) return fail_store(x);
    return *out ? 0 : pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
}

/* The current release (NULL when there is none) into *cur; -1 with err on a store error. */
static int current(rctx *x, json_t **cur)
{
    int rc = pt_store_current_release(x->st, x->sid, cur);
    if (rc == PT_STORE_ENOTFOUND) return 0;
    return rc ? fail_store(x) : 0;
}

/* Whether the gateway would serve content as this service. */
static int check_content(rctx *x, const json_t *content)
{
    if (!x->api->check_service) return 0;
    json_t *svc = json_deep_copy(json_object_get(content, "service"));
    if (!svc) return pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
    json_object_set(svc, "name", json_object_get(x->svc, "name"));
    char field[64], msg[512];
    int rc = x->api->check_service(x->api->arg, svc, json_object_get(content, "apis"), field, sizeof field, msg,
                                   sizeof msg);
    json_decref(svc);
    if (rc == 0) return 0;
    return pt_admin_fail(x->err, 409, "not_servable", field, "this content cannot be served now: %s", msg);
}

/* The diff's record, kept within the store's limit. */
static json_t *fitted_diff(const json_t *before, const json_t *after)
{
    json_t *d = pt_release_diff(before, after);
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    if (text && strlen(text) > DIFF_MAX) {
        json_t *small = pt_release_diff_names_only(d);
        json_decref(d);
        d = small;
    }
    free(text);
    return d;
}

typedef struct publish_args {
    const json_t *content;   /* what to publish; NULL: the draft */
    const char *note;
    int64_t rollback_of;     /* 0 when not a rollback */
    int64_t request_id;      /* 0 when not an approved request */
} publish_args;

/* Writes the next release of the service in the open transaction; its id in *id. */
static int write_release(rctx *x, const publish_args *a, json_t *cur, int64_t *id, json_t **release_out)
{
    json_t *draft = NULL;
    const json_t *content = a->content;
    if (!content && draft_content(x, &draft)) return -1;
    if (!content) content = draft;
    json_t *base = cur ? json_object_get(cur, "snapshot") : NULL, *diff = fitted_diff(base, content);
    int rc = diff ? 0 : pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
    if (rc == 0 && cur && pt_release_diff_empty(diff))
        rc = pt_admin_fail(x->err, 409, "no_changes", "", "nothing to publish: the content equals release %lld, the current one",
                           (long long)int_member(cur, "number"));
    if (rc == 0) rc = check_content(x, content);
    json_t *row = rc == 0 ? json_pack("{s:I,s:I,s:O,s:O,s:s}", "service_id", (json_int_t)x->sid, "number",
                                      (json_int_t)(int_member(cur, "number") + 1), "snapshot", content, "diff", diff,
                                      "created_by", x->who->actor)
                          : NULL;
    if (rc == 0 && !row) rc = pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
    if (rc == 0 && a->note) json_object_set_new(row, "note", json_string(a->note));
    if (rc == 0 && a->rollback_of) json_object_set_new(row, "rollback_of", json_integer(a->rollback_of));
    if (rc == 0 && a->request_id) json_object_set_new(row, "request_id", json_integer(a->request_id));
    if (rc == 0 && pt_store_insert(x->st, PT_KIND_RELEASE, row, x->who->actor, id) != 0) rc = fail_store(x);
    if (rc == 0 && release_out) *release_out = json_incref(row);
    json_decref(row);
    json_decref(diff);
    json_decref(draft);
    return rc;
}

/* Publishes in one transaction: the release, and the request's decision when there is one
 * (decision: the request's new columns, or NULL). Nothing is written when any part fails.
 * Answers 201 with the release. */
static void publish(rctx *x, const publish_args *a, int64_t request_id, json_t *decision)
{
    json_t *cur = NULL, *rel = NULL;
    int64_t id = 0;
    if (pt_store_begin(x->st) != 0) {
        fail_store(x);
        return;
    }
    int rc = current(x, &cur);
    if (rc == 0) rc = write_release(x, a, cur, &id, NULL);
    if (rc == 0 && decision) {
        json_object_set_new(decision, "release_number", json_integer(int_member(cur, "number") + 1));
        if (pt_store_update(x->st, PT_KIND_RELEASE_REQUEST, request_id, 0, decision, x->who->actor) != 0)
            rc = fail_store(x);
    }
    if (rc == 0 && pt_store_commit(x->st) != 0) rc = fail_store(x);
    else if (rc != 0) pt_store_rollback(x->st);
    json_decref(cur);
    if (rc != 0) return;
    if (x->api->on_change) x->api->on_change(x->api->arg, PT_KIND_RELEASE, id);
    if (pt_store_get(x->st, PT_KIND_RELEASE, id, &rel) != 0) {
        fail_store(x);
        return;
    }
    answer(x, 201, rel);
}

/* ---- who may publish ----------------------------------------------------------------- */

static const char *team_name(rctx *x, json_t **team)
{
    *team = NULL;
    pt_store_get(x->st, PT_KIND_TEAM, int_member(x->svc, "team_id"), team);
    const char *n = str_member(*team, "name");
    return n ? n : "?";
}

/* 0 when the caller may change the service's releases at all (403 otherwise); *needs_approval
 * says whether its publish waits for a team admin. */
static int may_publish(rctx *x, bool *needs_approval)
{
    *needs_approval = false;
    json_t *team = NULL;
    const char *tname = team_name(x, &team);
    int rc = 0;
    pt_authz az = pt_admin_authorize(x->who->role, x->who->team, PT_KIND_SERVICE, PT_ACT_WRITE,
                                     int_member(x->svc, "team_id"));
    if (az != PT_AUTHZ_OK)
        rc = pt_admin_fail(x->err, 403, "forbidden", "", "your role may not publish: a developer or team admin of team '%.64s', or an admin, may",
                           tname);
    const char *rule = str_member(team, "publish_approval");
    if (rc == 0 && x->who->role == PT_ROLE_DEVELOPER && rule && strcmp(rule, "team_admin") == 0) *needs_approval = true;
    json_decref(team);
    return rc;
}

static int refuse_read_only(rctx *x)
{
    if (!json_is_true(json_object_get(x->svc, "read_only"))) return 0;
    return pt_admin_fail(x->err, 409, "read_only", "", "service '%.64s' is declared by the configuration file: it is served as the file says and has no releases",
                         str_member(x->svc, "name"));
}

/* ---- the resources --------------------------------------------------------------------- */

static int note_of(rctx *x, const json_t *in, const char **note)
{
    json_t *v = json_object_get(in, "note");
    *note = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return pt_admin_fail(x->err, 400, "invalid_value", "note", "note must be a string");
    *note = json_string_value(v);
    return 0;
}

/* A developer's publish under publish_approval team_admin: a pending request holding the
 * draft as it is now. 202 with the request. */
static void apply(rctx *x, const char *note)
{
    json_t *content = NULL, *cur = NULL, *row = NULL, *req = NULL, *diff = NULL;
    int64_t id = 0;
    if (draft_content(x, &content) || current(x, &cur)) goto out;
    diff = pt_release_diff(cur ? json_object_get(cur, "snapshot") : NULL, content);
    if (!diff) { pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory"); goto out; }
    if (cur && pt_release_diff_empty(diff)) {
        pt_admin_fail(x->err, 409, "no_changes", "", "nothing to publish: the draft equals release %lld, the current one",
                      (long long)int_member(cur, "number"));
        goto out;
    }
    json_t *filter = json_pack("{s:I,s:s}", "service_id", (json_int_t)x->sid, "state", "pending"), *items = NULL;
    pt_store_list_opts o = {.filter = filter, .limit = 1};
    char next[PT_STORE_CURSOR_MAX];
    int rc = pt_store_list(x->st, PT_KIND_RELEASE_REQUEST, &o, &items, next);
    json_decref(filter);
    if (rc == 0 && json_array_size(items))
        pt_admin_fail(x->err, 409, "pending_request", "", "release request %lld is already waiting for a team admin",
                      (long long)int_member(json_array_get(items, 0), "id"));
    json_decref(items);
    if (rc) fail_store(x);
    if (rc || x->err->status) goto out;
    row = json_pack("{s:I,s:s,s:O,s:s}", "service_id", (json_int_t)x->sid, "requested_by", x->who->actor, "snapshot",
                    content, "state", "pending");
    if (row && note) json_object_set_new(row, "note", json_string(note));
    if (!row || pt_store_insert(x->st, PT_KIND_RELEASE_REQUEST, row, x->who->actor, &id) != 0 ||
        pt_store_get(x->st, PT_KIND_RELEASE_REQUEST, id, &req) != 0) {
        if (!row) pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
        else fail_store(x);
        goto out;
    }
    json_object_set(req, "diff", diff);
    answer(x, 202, req);
out:
    json_decref(content);
    json_decref(cur);
    json_decref(row);
    json_decref(diff);
}

static void post_release(rctx *x)
{
    static const char *const allowed[] = {"note", NULL};
    bool needs;
    const char *note;
    json_t *in = NULL;
    if (refuse_read_only(x) || may_publish(x, &needs) || !(in = read_body(x, allowed, true)) || note_of(x, in, &note))
        goto out;
    if (needs) apply(x, note);
    else publish(x, &(publish_args){.note = note}, 0, NULL);
out:
    json_decref(in);
}

/* Pages of releases or requests, newest first; big members left out of list items. */
static void list_of(rctx *x, pt_store_kind kind)
{
    char lim[16] = "", cursor[32] = "", next[PT_STORE_CURSOR_MAX];
    unsigned limit = 0;
    if (pt_admin_query(x->rq->query, x->rq->query_len, "limit", lim, sizeof lim)) {
        int64_t v = pt_admin_parse_id(lim);
        if (v < 1 || v > PT_STORE_PAGE_MAX) {
            pt_admin_fail(x->err, 400, "invalid_value", "limit", "limit must be 1 to %d", PT_STORE_PAGE_MAX);
            return;
        }
        limit = (unsigned)v;
    }
    pt_admin_query(x->rq->query, x->rq->query_len, "cursor", cursor, sizeof cursor);
    json_t *filter = json_pack("{s:I}", "service_id", (json_int_t)x->sid), *items = NULL;
    pt_store_list_opts o = {.filter = filter, .cursor = cursor, .limit = limit, .newest_first = true};
    int rc = pt_store_list(x->st, kind, &o, &items, next);
    json_decref(filter);
    if (rc != 0) {
        fail_store(x);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) json_object_del(v, "snapshot");
    answer(x, 200, json_pack("{s:o,s:s?}", "items", items, "next_cursor", next[0] ? next : NULL));
    if (!next[0]) json_object_set_new(x->out->body, "next_cursor", json_null());
}

/* The release numbered seg of this service, or NULL with 404. */
static json_t *release_numbered(rctx *x, const char *seg)
{
    int64_t n = pt_admin_parse_id(seg);
    json_t *filter = n > 0 ? json_pack("{s:I,s:I}", "service_id", (json_int_t)x->sid, "number", (json_int_t)n) : NULL;
    json_t *items = NULL, *rel = NULL;
    pt_store_list_opts o = {.filter = filter, .limit = 1};
    char next[PT_STORE_CURSOR_MAX];
    if (filter && pt_store_list(x->st, PT_KIND_RELEASE, &o, &items, next) == 0 && json_array_size(items))
        rel = json_incref(json_array_get(items, 0));
    json_decref(filter);
    json_decref(items);
    if (!rel)
        pt_admin_fail(x->err, 404, "not_found", "release", "service '%.64s' has no release %.20s", str_member(x->svc, "name"),
                      seg);
    return rel;
}

static void releases(rctx *x, char **seg, int nseg)
{
    if (nseg == 1) {
        if (method_is(x, "GET")) list_of(x, PT_KIND_RELEASE);
        else if (method_is(x, "POST")) post_release(x);
        else bad_method(x);
    } else if (nseg == 2) {
        json_t *rel = method_is(x, "GET") ? release_numbered(x, seg[1]) : NULL;
        if (!method_is(x, "GET")) bad_method(x);
        else if (rel) answer(x, 200, json_incref(rel));
        json_decref(rel);
    } else {
        no_such(x);
    }
}

/* GET /draft: the rows as they would be published, and how they differ from the current
 * release (everything, when there is none). */
static void draft(rctx *x)
{
    json_t *content = NULL, *cur = NULL;
    if (!method_is(x, "GET")) {
        bad_method(x);
        return;
    }
    if (draft_content(x, &content) || current(x, &cur)) goto out;
    json_t *diff = pt_release_diff(cur ? json_object_get(cur, "snapshot") : NULL, content);
    json_t *base = cur ? json_integer(int_member(cur, "number")) : json_null();
    if (diff)
        answer(x, 200, json_pack("{s:I,s:o,s:b,s:O,s:o}", "service", (json_int_t)x->sid, "current_release", base,
                                 "changed", !cur || !pt_release_diff_empty(diff), "snapshot", content, "diff", diff));
    else pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory");
out:
    json_decref(content);
    json_decref(cur);
}

/* POST /rollback {"release": n}: a new release with release n's content. */
static void rollback(rctx *x)
{
    static const char *const allowed[] = {"release", "note", NULL};
    json_t *in = NULL, *rel = NULL, *cur = NULL;
    bool needs;
    const char *note;
    char num[24];
    if (!method_is(x, "POST")) {
        bad_method(x);
        return;
    }
    if (refuse_read_only(x) || may_publish(x, &needs) || !(in = read_body(x, allowed, false)) || note_of(x, in, &note))
        goto out;
    json_t *n = json_object_get(in, "release");
    if (!n) {
        pt_admin_fail(x->err, 400, "missing_field", "release", "release is required: the number of the release to roll back to");
        goto out;
    }
    if (!json_is_integer(n) || json_integer_value(n) < 1) {
        pt_admin_fail(x->err, 400, "invalid_value", "release", "release must be a positive integer");
        goto out;
    }
    if (needs) {
        json_t *team = NULL;
        pt_admin_fail(x->err, 403, "forbidden", "", "a rollback in team '%.64s' needs a team admin's approval: a team admin of that team, or an admin, may roll back",
                      team_name(x, &team));
        json_decref(team);
        goto out;
    }
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(n));
    if (!(rel = release_numbered(x, num)) || current(x, &cur)) goto out;
    if (int_member(cur, "number") == json_integer_value(n)) {
        pt_admin_fail(x->err, 409, "current_release", "release", "release %s is the current release already", num);
        goto out;
    }
    char text[128];
    if (!note) snprintf(text, sizeof text, "rollback to release %s", num);
    publish(x, &(publish_args){.content = json_object_get(rel, "snapshot"), .note = note ? note : text,
                               .rollback_of = json_integer_value(n)},
            0, NULL);
out:
    json_decref(in);
    json_decref(rel);
    json_decref(cur);
}

/* ---- release requests ------------------------------------------------------------------ */

static json_t *request_by_id(rctx *x, const char *seg)
{
    int64_t id = pt_admin_parse_id(seg);
    json_t *req = NULL;
    if (id <= 0 || pt_store_get(x->st, PT_KIND_RELEASE_REQUEST, id, &req) != 0 || int_member(req, "service_id") != x->sid) {
        json_decref(req);
        pt_admin_fail(x->err, 404, "not_found", "", "no such release request for this service");
        return NULL;
    }
    return req;
}

/* approve publishes the request's content; refuse needs a reason. Team admins of the
 * service's team and admins decide. */
static void decide(rctx *x, json_t *req, bool approve)
{
    static const char *const reason_only[] = {"reason", NULL}, *const none[] = {NULL};
    json_t *in = NULL, *team = NULL, *cols = NULL;
    if (pt_admin_authorize(x->who->role, x->who->team, PT_KIND_SERVICE, PT_ACT_APPROVE, int_member(x->svc, "team_id")) !=
        PT_AUTHZ_OK) {
        pt_admin_fail(x->err, 403, "forbidden", "", "only a team admin of team '%.64s', or an admin, may approve or refuse a release request",
                      team_name(x, &team));
        goto out;
    }
    if (!(in = read_body(x, approve ? none : reason_only, true))) goto out;
    const char *state = str_member(req, "state");
    if (!state || strcmp(state, "pending") != 0) {
        pt_admin_fail(x->err, 409, "invalid_state", "state", "the release request is %s, not pending", state ? state : "unknown");
        goto out;
    }
    json_t *reason = json_object_get(in, "reason");
    if (!approve && (!reason || !json_is_string(reason) || json_string_length(reason) == 0)) {
        pt_admin_fail(x->err, 400, reason ? "invalid_value" : "missing_field", "reason",
                      "reason is required: a non-empty string telling the requester why");
        goto out;
    }
    cols = json_pack("{s:s,s:s,s:I}", "state", approve ? "approved" : "refused", "decided_by", x->who->actor,
                     "decided_at", (json_int_t)time(NULL));
    if (!cols) { pt_admin_fail(x->err, 500, "out_of_memory", "", "out of memory"); goto out; }
    int64_t id = int_member(req, "id");
    if (approve) {
        publish(x, &(publish_args){.content = json_object_get(req, "snapshot"), .note = str_member(req, "note"),
                                   .request_id = id},
                id, cols);
        goto out;
    }
    json_object_set(cols, "reason", reason);
    json_t *after = NULL;
    if (pt_store_update(x->st, PT_KIND_RELEASE_REQUEST, id, 0, cols, x->who->actor) != 0 ||
        pt_store_get(x->st, PT_KIND_RELEASE_REQUEST, id, &after) != 0)
        fail_store(x);
    else answer(x, 200, after);
out:
    json_decref(in);
    json_decref(team);
    json_decref(cols);
}

static void requests(rctx *x, char **seg, int nseg)
{
    json_t *req = NULL;
    if (nseg == 1) {
        if (method_is(x, "GET")) list_of(x, PT_KIND_RELEASE_REQUEST);
        else bad_method(x);
        return;
    }
    if (nseg > 3 || !(req = request_by_id(x, seg[1]))) {
        if (nseg > 3) no_such(x);
        return;
    }
    if (nseg == 2) {
        if (method_is(x, "GET")) answer(x, 200, json_incref(req));
        else bad_method(x);
    } else if (strcmp(seg[2], "approve") == 0 || strcmp(seg[2], "refuse") == 0) {
        if (method_is(x, "POST")) decide(x, req, seg[2][0] == 'a');
        else bad_method(x);
    } else {
        no_such(x);
    }
    json_decref(req);
}

bool pt__admin_release_path(const char *seg)
{
    return strcmp(seg, "releases") == 0 || strcmp(seg, "draft") == 0 || strcmp(seg, "rollback") == 0 ||
           strcmp(seg, "release-requests") == 0;
}

void pt__admin_releases(pt_admin_api *api, const pt_admin_req *rq, const pt__admin_caller *who,
                        const json_t *service, char **seg, int nseg, pt_admin_resp *resp, pt_admin_err *err)
{
    rctx x = {api, api->st, rq, who, service, int_member(service, "id"), resp, err};
    if (strcmp(seg[0], "releases") == 0) releases(&x, seg, nseg);
    else if (strcmp(seg[0], "release-requests") == 0) requests(&x, seg, nseg);
    else if (nseg != 1) no_such(&x);
    else if (strcmp(seg[0], "draft") == 0) draft(&x);
    else rollback(&x);
}
