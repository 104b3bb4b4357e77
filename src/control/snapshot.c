/* snapshot.c: compiling the control snapshot from the store, looking keys and
 * subscriptions up in it, and publishing it to the workers (see snapshot.h). Memory is a
 * handful of flat arrays, so 200,000 keys cost a few tens of megabytes and one free each. */
#include <stdlib.h>
#include <string.h>

#include "control/snapshot.h"

#include "core/slice.h"

/* ---- growing arrays ---- */

/* Makes room for one more element of size elem in *p (holding *n of *cap). */
static int grow(void *pp, size_t *cap, size_t n, size_t elem)
{
    void **p = pp;
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, ncap * elem);
    if (!q) return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

typedef struct build {
    pt_store *st;
    pt_snapshot *s;
    size_t cap_teams, cap_consumers, cap_keys, cap_subs, cap_models, cap_strings, cap_services, cap_apis, cap_policies;
    bool oom;
} build;

/* Copies n bytes and a NUL into the string pool; the offset, or UINT32_MAX when full. */
static uint32_t pool_add(build *b, const char *str, size_t n)
{
    pt_snapshot *s = b->s;
    while (s->strings_len + n + 1 > b->cap_strings) {
        size_t ncap = b->cap_strings ? b->cap_strings * 2 : 4096;
        char *q = ncap <= UINT32_MAX ? realloc(s->strings, ncap) : NULL; /* offsets are 32-bit */
        if (!q) { b->oom = true; return UINT32_MAX; }
        s->strings = q;
        b->cap_strings = ncap;
    }
    uint32_t off = (uint32_t)s->strings_len;
    memcpy(s->strings + off, str, n);
    s->strings[off + n] = '\0';
    s->strings_len += n + 1;
    return off;
}

static char *dup_member(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int64_t int_member(const json_t *o, const char *name) { return json_integer_value(json_object_get(o, name)); }

/* The index of the element whose leading int64_t id equals id in an array sorted by id,
 * or UINT32_MAX. Teams, consumers and services all begin with their id. */
static uint32_t find_id(const void *base, size_t n, size_t size, int64_t id)
{
    const char *p = base;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t have;
        memcpy(&have, p + mid * size, sizeof have);
        if (have < id) lo = mid + 1;
        else hi = mid;
    }
    int64_t have = 0;
    if (lo < n) memcpy(&have, p + lo * size, sizeof have);
    return lo < n && have == id ? (uint32_t)lo : UINT32_MAX;
}

static uint32_t team_index(const pt_snapshot *s, int64_t id) { return find_id(s->teams, s->nteams, sizeof *s->teams, id); }
static uint32_t consumer_index(const pt_snapshot *s, int64_t id)
{
    return find_id(s->consumers, s->nconsumers, sizeof *s->consumers, id);
}
static uint32_t service_index(const pt_snapshot *s, int64_t id)
{
    return find_id(s->services, s->nservices, sizeof *s->services, id);
}

/* ---- reading the store ---- */

static int on_team(void *ctx, json_t *o)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    if (grow(&s->teams, &b->cap_teams, s->nteams, sizeof *s->teams)) return PT_STORE_ENOMEM;
    s->teams[s->nteams++] = (pt_snap_team){int_member(o, "id"), dup_member(o, "name")};
    return 0;
}


static int on_consumer(void *ctx, const pt_store_consumer_row *row)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    if (grow(&s->consumers, &b->cap_consumers, s->nconsumers, sizeof *s->consumers)) return PT_STORE_ENOMEM;
    uint32_t name = pool_add(b, row->name, strlen(row->name));
    if (b->oom) return PT_STORE_ENOMEM;
    s->consumers[s->nconsumers++] = (pt_snap_consumer){row->id, team_index(s, row->team_id), name, 0, 0};
    return 0;
}


/* allowed_models: a JSON array of names into the pool; anything else allows every model. */
static int key_models(build *b, pt_snap_key *k, const char *json)
{
    k->models = PT_SNAP_ALL_MODELS;
    k->nmodels = 0;
    if (!json) return 0;
    json_t *arr = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!json_is_array(arr)) { json_decref(arr); return 0; }
    pt_snapshot *s = b->s;
    k->models = (uint32_t)s->nmodel_names;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) continue;
        if (grow(&s->model_names, &b->cap_models, s->nmodel_names, sizeof *s->model_names)) b->oom = true;
        uint32_t off = b->oom ? 0 : pool_add(b, json_string_value(v), json_string_length(v));
        if (b->oom) break;
        s->model_names[s->nmodel_names++] = off;
        k->nmodels++;
    }
    json_decref(arr);
    return b->oom ? PT_STORE_ENOMEM : 0;
}

static int on_key(void *ctx, const pt_store_key_row *row)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    uint32_t c = consumer_index(s, row->consumer_id);
    if (c == UINT32_MAX) return 0; /* the read transaction makes this unreachable */
    if (grow(&s->keys, &b->cap_keys, s->nkeys, sizeof *s->keys)) return PT_STORE_ENOMEM;
    pt_snap_key *k = &s->keys[s->nkeys];
    memcpy(k->hash, row->hash, PT_CRED_HASH_LEN);
    k->id = row->id;
    k->expires_at = row->expires_at;
    k->revoked_at = row->revoked_at;
    k->consumer = c;
    strncpy(k->prefix, row->prefix ? row->prefix : "", sizeof k->prefix - 1);
    k->prefix[sizeof k->prefix - 1] = '\0';
    int rc = key_models(b, k, row->allowed_models);
    if (rc == 0) s->nkeys++;
    return rc;
}

static pt_snap_sub_state sub_state(const char *state)
{
    if (strcmp(state, "active") == 0) return PT_SNAP_SUB_ACTIVE;
    if (strcmp(state, "pending") == 0) return PT_SNAP_SUB_PENDING;
    if (strcmp(state, "rejected") == 0) return PT_SNAP_SUB_REJECTED;
    return PT_SNAP_SUB_NONE;
}

/* Subscriptions arrive in id order; consumer_id rides in the id field until grouping. */
static int on_sub(void *ctx, const pt_store_sub_row *row)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    uint32_t c = consumer_index(s, row->consumer_id);
    if (c == UINT32_MAX) return 0;
    if (grow(&s->subs, &b->cap_subs, s->nsubs, sizeof *s->subs)) return PT_STORE_ENOMEM;
    s->subs[s->nsubs++] = (pt_snap_sub){row->service_id, c, sub_state(row->state)};
    s->consumers[c].nsubs++;
    return 0;
}

static int by_consumer_then_service(const void *a, const void *b)
{
    const pt_snap_sub *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return (x->service_id > y->service_id) - (x->service_id < y->service_id);
}

/* Sorts subscriptions into one run per consumer and records each run's start. */
static void group_subs(pt_snapshot *s)
{
    if (s->nsubs) qsort(s->subs, s->nsubs, sizeof *s->subs, by_consumer_then_service);
    uint32_t at = 0;
    for (size_t i = 0; i < s->nconsumers; i++) {
        s->consumers[i].subs = at;
        at += s->consumers[i].nsubs;
    }
}

static int on_service(void *ctx, json_t *o)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    if (grow(&s->services, &b->cap_services, s->nservices, sizeof *s->services)) return PT_STORE_ENOMEM;
    s->services[s->nservices++] = (pt_snap_service){
        int_member(o, "id"), int_member(o, "team_id"), dup_member(o, "name"), dup_member(o, "kind"),
        dup_member(o, "approval"), dup_member(o, "lb"), dup_member(o, "origin"), dup_member(o, "targets"),
        dup_member(o, "models"), dup_member(o, "timeouts"), dup_member(o, "health"),
        json_is_true(json_object_get(o, "read_only")),
    };
    return 0;
}


static int on_api(void *ctx, json_t *o)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    if (grow(&s->apis, &b->cap_apis, s->napis, sizeof *s->apis)) return PT_STORE_ENOMEM;
    int64_t service_id = int_member(o, "service_id");
    s->apis[s->napis++] = (pt_snap_api){
        int_member(o, "id"), service_id, service_index(s, service_id), dup_member(o, "name"),
        dup_member(o, "path_prefix"), dup_member(o, "auth"), dup_member(o, "rewrite"), dup_member(o, "key_header"),
        dup_member(o, "key_query"), dup_member(o, "methods"), dup_member(o, "lifecycle"),
        dup_member(o, "match_headers"), dup_member(o, "openapi"), json_is_true(json_object_get(o, "validate")),
    };
    return 0;
}

/* The service a policy's spec belongs to: applies_to's service, or the service part of its
 * route ("service/api"); its length in *n, NULL when neither. */
static const char *spec_service(const json_t *spec, size_t *n)
{
    const json_t *at = json_object_get(spec, "applies_to");
    const char *svc = json_string_value(json_object_get(at, "service"));
    const char *route = json_string_value(json_object_get(at, "route"));
    const char *slash = route ? strchr(route, '/') : NULL;
    *n = svc ? strlen(svc) : slash ? (size_t)(slash - route) : 0;
    return svc ? svc : slash ? route : NULL;
}

bool pt_policy_spec_of_service(const json_t *spec, const char *service)
{
    size_t n;
    const char *s = spec_service(spec, &n);
    return s && strlen(service) == n && memcmp(s, service, n) == 0;
}

/* A snapshot policy from a store row or a release's {name, spec}; its service found once. */
static pt_snap_policy policy_of(const json_t *o, int64_t id, int64_t team_id)
{
    size_t n;
    const char *svc = spec_service(json_object_get(o, "spec"), &n);
    return (pt_snap_policy){ id, team_id, dup_member(o, "name"), dup_member(o, "spec"), svc ? strndup(svc, n) : NULL };
}

static int on_policy(void *ctx, json_t *o)
{
    build *b = ctx;
    pt_snapshot *s = b->s;
    if (grow(&s->policies, &b->cap_policies, s->npolicies, sizeof *s->policies)) return PT_STORE_ENOMEM;
    s->policies[s->npolicies++] = policy_of(o, int_member(o, "id"), int_member(o, "team_id"));
    return 0;
}

/* ---- the key table ---- */

static uint64_t slot_hash(const uint8_t *h)
{
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

/* A table at most half full: an absent key ends its probe after about two slots. */
static int build_table(pt_snapshot *s)
{
    size_t n = 16;
    while (n < s->nkeys * 2) n *= 2;
    s->slots = calloc(n, sizeof *s->slots);
    if (!s->slots) return PT_STORE_ENOMEM;
    s->slot_mask = n - 1;
    for (size_t i = 0; i < s->nkeys; i++) {
        size_t at = slot_hash(s->keys[i].hash) & s->slot_mask;
        while (s->slots[at]) at = (at + 1) & s->slot_mask;
        s->slots[at] = (uint32_t)i + 1;
    }
    return 0;
}

const pt_snap_key *pt_snapshot_key(const pt_snapshot *s, const uint8_t hash[PT_CRED_HASH_LEN])
{
    for (size_t at = slot_hash(hash) & s->slot_mask;; at = (at + 1) & s->slot_mask) {
        uint32_t slot = s->slots[at];
        if (!slot) return NULL;
        const pt_snap_key *k = &s->keys[slot - 1];
        /* A plain compare: these are SHA-256 digests of keys with 128+ random bits, so how
         * many leading bytes match tells an attacker nothing about any key (timing can at
         * most reveal a digest prefix, and digests cannot be inverted). The constant-time
         * compare cost a tenth of the whole key check. */
        if (memcmp(k->hash, hash, PT_CRED_HASH_LEN) == 0) return k;
    }
}

/* ---- compile and free ---- */

static void free_service(pt_snap_service *v)
{
    char *fields[] = {v->name, v->kind, v->approval, v->lb, v->origin, v->targets, v->models, v->timeouts, v->health};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) free(fields[i]);
}

static void free_api(pt_snap_api *a)
{
    char *fields[] = {a->name, a->path_prefix, a->auth, a->rewrite, a->key_header, a->key_query, a->methods,
                      a->lifecycle, a->match_headers, a->openapi};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) free(fields[i]);
}

static void free_policy(pt_snap_policy *p)
{
    free(p->name);
    free(p->spec);
    free(p->service);
}

static void snapshot_free(pt_snapshot *s)
{
    for (size_t i = 0; i < s->nteams; i++) free(s->teams[i].name);
    for (size_t i = 0; i < s->nservices; i++) free_service(&s->services[i]);
    for (size_t i = 0; i < s->napis; i++) free_api(&s->apis[i]);
    for (size_t i = 0; i < s->npolicies; i++) free_policy(&s->policies[i]);
    free(s->teams);
    free(s->consumers);
    free(s->keys);
    free(s->slots);
    free(s->subs);
    free(s->model_names);
    free(s->strings);
    free(s->services);
    free(s->apis);
    free(s->policies);
    free(s);
}

/* ---- releases ---- */

static void replace(char **at, const json_t *o, const char *name)
{
    free(*at);
    *at = dup_member(o, name);
}

/* The stored policies of service v are its release's (content's "policies"), not the rows'. */
static int serve_release_policies(build *b, const pt_snap_service *v, const json_t *content)
{
    pt_snapshot *s = b->s;
    size_t kept = 0;
    for (size_t k = 0; k < s->npolicies; k++) {
        pt_snap_policy *p = &s->policies[k];
        if (p->service && strcmp(p->service, v->name) == 0) {
            free_policy(p);
        } else {
            s->policies[kept++] = *p;
        }
    }
    s->npolicies = kept;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(content, "policies"), i, o) {
        if (grow(&s->policies, &b->cap_policies, s->npolicies, sizeof *s->policies)) return PT_STORE_ENOMEM;
        s->policies[s->npolicies++] = policy_of(o, 0, v->team_id);
    }
    return 0;
}

/* Service i is served as its current release says, when it has one: the release's members
 * replace its rows' and the release's APIs and policies replace the rows'. */
static int serve_release(build *b, size_t i)
{
    pt_snapshot *s = b->s;
    pt_snap_service *v = &s->services[i];
    if (v->origin && strcmp(v->origin, "api") != 0) return 0; /* the file's: served as the file says */
    json_t *rel = NULL;
    int rc = pt_store_current_release(b->st, v->id, &rel);
    if (rc == PT_STORE_ENOTFOUND) return 0;
    if (rc) return rc;
    const json_t *content = json_object_get(rel, "snapshot"), *svc = json_object_get(content, "service");
    replace(&v->targets, svc, "targets");
    replace(&v->models, svc, "models");
    replace(&v->lb, svc, "lb");
    replace(&v->timeouts, svc, "timeouts");
    replace(&v->health, svc, "health");
    size_t kept = 0;
    for (size_t k = 0; k < s->napis; k++) {
        if (s->apis[k].service_id == v->id) free_api(&s->apis[k]);
        else s->apis[kept++] = s->apis[k];
    }
    s->napis = kept;
    size_t n;
    json_t *o;
    json_array_foreach(json_object_get(content, "apis"), n, o) {
        if (grow(&s->apis, &b->cap_apis, s->napis, sizeof *s->apis)) { rc = PT_STORE_ENOMEM; break; }
        s->apis[s->napis++] = (pt_snap_api){
            0, v->id, (uint32_t)i, dup_member(o, "name"), dup_member(o, "path_prefix"), dup_member(o, "auth"),
            dup_member(o, "rewrite"), dup_member(o, "key_header"), dup_member(o, "key_query"),
            dup_member(o, "methods"), dup_member(o, "lifecycle"), dup_member(o, "match_headers"),
            dup_member(o, "openapi"), json_is_true(json_object_get(o, "validate")),
        };
    }
    if (rc == 0) rc = serve_release_policies(b, v, content);
    json_decref(rel);
    return rc;
}

/* Reads every part in the order the later ones need: teams before consumers, consumers
 * before keys and subscriptions, services before APIs, then releases over services, APIs
 * and policies. */
static int read_all(build *b)
{
    pt_store *st = b->st;
    int rc = pt_store_version(st, &b->s->store_version);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_TEAM, on_team, b);
    if (rc == 0) rc = pt_store_scan_consumers(st, on_consumer, b);
    if (rc == 0) rc = pt_store_scan_keys(st, on_key, b);
    if (rc == 0) rc = pt_store_scan_subscriptions(st, on_sub, b);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_SERVICE, on_service, b);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_API, on_api, b);
    if (rc == 0) rc = pt_store_scan(st, PT_KIND_POLICY, on_policy, b);
    for (size_t i = 0; rc == 0 && i < b->s->nservices; i++) rc = serve_release(b, i);
    return rc;
}

pt_snapshot *pt_snapshot_compile(pt_store *st, pt_store_error *err)
{
    static const pt_store_error oom = {.code = PT_STORE_ENOMEM, .message = "out of memory compiling the snapshot"};
    memset(err, 0, sizeof *err);
    build b = {.st = st, .s = calloc(1, sizeof(pt_snapshot))};
    if (!b.s) { *err = oom; return NULL; }
    atomic_init(&b.s->refs, 1);
    int rc = pt_store_begin_read(st);
    if (rc == 0) {
        rc = read_all(&b);
        *err = *pt_store_last_error(st);
        pt_store_commit(st); /* ends a read: nothing to lose */
    } else {
        *err = *pt_store_last_error(st);
    }
    if (rc == 0) {
        group_subs(b.s);
        rc = build_table(b.s);
    }
    if (rc) {
        if (rc == PT_STORE_ENOMEM || err->code == 0) *err = oom;
        snapshot_free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- patching: one changed object applied to a copy, without reading the whole store ---- */

static void *copy_array(const void *src, size_t n, size_t elem, size_t *cap)
{
    *cap = n + 64; /* room for the object being added, and a few more */
    void *p = malloc(*cap * elem);
    if (p && n) memcpy(p, src, n * elem);
    return p;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* A deep copy of s for b to change (b's capacities describe its arrays); NULL when out of
 * memory. */
static pt_snapshot *clone(const pt_snapshot *s, build *b)
{
    pt_snapshot *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    *c = (pt_snapshot){ .store_version = s->store_version, .nteams = s->nteams, .nconsumers = s->nconsumers,
                        .nkeys = s->nkeys, .slot_mask = s->slot_mask, .nsubs = s->nsubs,
                        .nmodel_names = s->nmodel_names, .strings_len = s->strings_len, .nservices = s->nservices,
                        .napis = s->napis, .npolicies = s->npolicies };
    atomic_init(&c->refs, 1);
    b->s = c;
    bool ok = true;
    c->teams = copy_array(s->teams, s->nteams, sizeof *s->teams, &b->cap_teams);
    c->consumers = copy_array(s->consumers, s->nconsumers, sizeof *s->consumers, &b->cap_consumers);
    c->keys = copy_array(s->keys, s->nkeys, sizeof *s->keys, &b->cap_keys);
    c->subs = copy_array(s->subs, s->nsubs, sizeof *s->subs, &b->cap_subs);
    c->model_names = copy_array(s->model_names, s->nmodel_names, sizeof *s->model_names, &b->cap_models);
    c->strings = copy_array(s->strings, s->strings_len, 1, &b->cap_strings);
    c->services = copy_array(s->services, s->nservices, sizeof *s->services, &b->cap_services);
    c->apis = copy_array(s->apis, s->napis, sizeof *s->apis, &b->cap_apis);
    c->policies = copy_array(s->policies, s->npolicies, sizeof *s->policies, &b->cap_policies);
    size_t nslots = s->slots ? s->slot_mask + 1 : 0;
    c->slots = nslots ? malloc(nslots * sizeof *c->slots) : NULL;
    if (nslots && c->slots) memcpy(c->slots, s->slots, nslots * sizeof *c->slots);
    ok = c->teams && c->consumers && c->keys && c->subs && c->model_names && c->strings && c->services && c->apis &&
         c->policies && (!nslots || c->slots);
    /* the strings the small arrays own are copied too: each snapshot frees its own */
    for (size_t i = 0; ok && i < s->nteams; i++) c->teams[i].name = dup_or_null(s->teams[i].name);
    for (size_t i = 0; ok && i < s->nservices; i++) {
        const pt_snap_service *v = &s->services[i];
        c->services[i] = (pt_snap_service){ v->id, v->team_id, dup_or_null(v->name), dup_or_null(v->kind),
                                            dup_or_null(v->approval), dup_or_null(v->lb), dup_or_null(v->origin),
                                            dup_or_null(v->targets), dup_or_null(v->models), dup_or_null(v->timeouts),
                                            dup_or_null(v->health), v->read_only };
    }
    for (size_t i = 0; ok && i < s->napis; i++) {
        const pt_snap_api *a = &s->apis[i];
        c->apis[i] = (pt_snap_api){ a->id, a->service_id, a->service, dup_or_null(a->name),
                                    dup_or_null(a->path_prefix), dup_or_null(a->auth), dup_or_null(a->rewrite),
                                    dup_or_null(a->key_header), dup_or_null(a->key_query), dup_or_null(a->methods),
                                    dup_or_null(a->lifecycle), dup_or_null(a->match_headers),
                                    dup_or_null(a->openapi), a->validate };
    }
    for (size_t i = 0; ok && i < s->npolicies; i++) {
        const pt_snap_policy *p = &s->policies[i];
        c->policies[i] = (pt_snap_policy){ p->id, p->team_id, dup_or_null(p->name), dup_or_null(p->spec),
                                           dup_or_null(p->service) };
    }
    if (!ok) { /* the arrays' pointers are copies of s's until replaced: free only what is ours */
        c->nteams = c->nservices = c->napis = c->npolicies = 0;
        snapshot_free(c);
        return NULL;
    }
    return c;
}

static int64_t json_int(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static bool unhex(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int hi = pt_hex_digit(hex[2 * i]), lo = pt_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

/* A new or changed key: its revocation or expiry changes in place; a new one is added to
 * the table (rebuilt when it would be more than half full). */
static int patch_key(build *b, const json_t *o)
{
    pt_snapshot *s = b->s;
    uint8_t h[PT_CRED_HASH_LEN];
    if (!unhex(json_string_value(json_object_get(o, "hash")), h, sizeof h)) return -1;
    pt_snap_key *have = (pt_snap_key *)pt_snapshot_key(s, h);
    if (have) {
        have->expires_at = json_int(o, "expires_at");
        have->revoked_at = json_int(o, "revoked_at");
        return 0;
    }
    json_t *models = json_object_get(o, "allowed_models");
    char *mtext = models && !json_is_null(models) ? json_dumps(models, JSON_COMPACT) : NULL;
    pt_store_key_row row = { json_int(o, "id"), json_int(o, "consumer_id"), json_string_value(json_object_get(o, "prefix")),
                             h, json_int(o, "expires_at"), json_int(o, "revoked_at"), mtext };
    size_t before = s->nkeys;
    int rc = on_key(b, &row);
    free(mtext);
    if (rc || s->nkeys == before) return -1; /* out of memory, or a consumer it does not know */
    if (s->nkeys * 2 > s->slot_mask + 1 || !s->slots) {
        free(s->slots);
        s->slots = NULL;
        return build_table(s);
    }
    size_t at = slot_hash(s->keys[before].hash) & s->slot_mask;
    while (s->slots[at]) at = (at + 1) & s->slot_mask;
    s->slots[at] = (uint32_t)before + 1;
    return 0;
}

/* A new or changed subscription: its state changes in its consumer's run, or it is
 * inserted there (the runs after it move one place). */
static int patch_sub(build *b, const json_t *o)
{
    pt_snapshot *s = b->s;
    uint32_t c = consumer_index(s, json_int(o, "consumer_id"));
    if (c == UINT32_MAX) return -1;
    int64_t service_id = json_int(o, "service_id");
    pt_snap_sub_state st = sub_state(json_string_value(json_object_get(o, "state")));
    pt_snap_consumer *con = &s->consumers[c];
    size_t lo = 0, hi = con->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->subs[con->subs + mid].service_id < service_id) lo = mid + 1;
        else hi = mid;
    }
    size_t at = con->subs + lo;
    if (lo < con->nsubs && s->subs[at].service_id == service_id) {
        s->subs[at].state = st;
        return 0;
    }
    if (grow(&s->subs, &b->cap_subs, s->nsubs, sizeof *s->subs)) return -1;
    memmove(&s->subs[at + 1], &s->subs[at], (s->nsubs - at) * sizeof *s->subs);
    s->subs[at] = (pt_snap_sub){ service_id, c, st };
    s->nsubs++;
    con->nsubs++;
    for (size_t i = c + 1; i < s->nconsumers; i++) s->consumers[i].subs++;
    return 0;
}

/* A new consumer (ids only grow, so it goes last) or a renamed one. */
static int patch_consumer(build *b, const json_t *o)
{
    pt_snapshot *s = b->s;
    int64_t id = json_int(o, "id");
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!name) return -1;
    uint32_t c = consumer_index(s, id);
    if (c != UINT32_MAX) {
        uint32_t off = pool_add(b, name, strlen(name));
        if (b->oom) return -1;
        s->consumers[c].name = off;
        return 0;
    }
    if (s->nconsumers && s->consumers[s->nconsumers - 1].id > id) return -1;
    pt_store_consumer_row row = { id, json_int(o, "team_id"), name };
    if (on_consumer(b, &row)) return -1;
    s->consumers[s->nconsumers - 1].subs = (uint32_t)s->nsubs; /* an empty run at the end */
    return 0;
}

bool pt_snapshot_patchable(int kind) { return kind == PT_KIND_KEY || kind == PT_KIND_SUBSCRIPTION || kind == PT_KIND_CONSUMER; }

pt_snapshot *pt_snapshot_patch(const pt_snapshot *old, pt_store *st, int kind, int64_t id, int64_t store_version)
{
    if (!old || !pt_snapshot_patchable(kind)) return NULL;
    json_t *o = NULL;
    if (pt_store_get(st, (pt_store_kind)kind, id, &o) != 0) return NULL; /* gone: a delete cascades */
    build b = { .st = st };
    pt_snapshot *s = clone(old, &b);
    int rc = s ? 0 : -1;
    if (rc == 0)
        rc = kind == PT_KIND_KEY ? patch_key(&b, o) : kind == PT_KIND_SUBSCRIPTION ? patch_sub(&b, o)
                                                                                  : patch_consumer(&b, o);
    json_decref(o);
    if (rc != 0) {
        if (s) snapshot_free(s);
        return NULL;
    }
    s->store_version = store_version;
    return s;
}

/* ---- lookups ---- */

pt_snap_key_status pt_snapshot_check_key(const pt_snapshot *s, const char *key, size_t len, int64_t now,
                                         const pt_snap_key **out)
{
    uint8_t h[PT_CRED_HASH_LEN];
    pt_cred_hash(key, len, h);
    const pt_snap_key *k = pt_snapshot_key(s, h);
    *out = k;
    if (!k) return PT_SNAP_KEY_UNKNOWN;
    if (k->revoked_at) return PT_SNAP_KEY_REVOKED;
    if (k->expires_at && now >= k->expires_at) return PT_SNAP_KEY_EXPIRED;
    return PT_SNAP_KEY_OK;
}

const pt_snap_consumer *pt_snapshot_consumer(const pt_snapshot *s, const pt_snap_key *k)
{
    return &s->consumers[k->consumer];
}

const char *pt_snapshot_consumer_name(const pt_snapshot *s, const pt_snap_consumer *c) { return s->strings + c->name; }

const char *pt_snapshot_team_name(const pt_snapshot *s, const pt_snap_consumer *c)
{
    return c->team == UINT32_MAX ? NULL : s->teams[c->team].name;
}

const char *pt_snapshot_team_by_id(const pt_snapshot *s, int64_t id)
{
    size_t lo = 0, hi = s->nteams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->teams[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->nteams && s->teams[lo].id == id ? s->teams[lo].name : NULL;
}

pt_snap_sub_state pt_snapshot_subscription(const pt_snapshot *s, const pt_snap_consumer *c, int64_t service_id)
{
    const pt_snap_sub *run = s->subs + c->subs;
    size_t lo = 0, hi = c->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (run[mid].service_id < service_id) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->nsubs && run[lo].service_id == service_id ? run[lo].state : PT_SNAP_SUB_NONE;
}

bool pt_snapshot_model_allowed(const pt_snapshot *s, const pt_snap_key *k, const char *model, size_t len)
{
    if (k->models == PT_SNAP_ALL_MODELS) return true;
    for (uint32_t i = 0; i < k->nmodels; i++) {
        const char *name = s->strings + s->model_names[k->models + i];
        if (strlen(name) == len && memcmp(name, model, len) == 0) return true;
    }
    return false;
}

const pt_snap_service *pt_snapshot_service(const pt_snapshot *s, int64_t id)
{
    uint32_t i = service_index(s, id);
    return i == UINT32_MAX ? NULL : &s->services[i];
}

const pt_snap_service *pt_snapshot_service_by_name(const pt_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nservices; i++)
        if (s->services[i].name && strcmp(s->services[i].name, name) == 0) return &s->services[i];
    return NULL;
}

/* ---- references and publication (the same scheme as gateway/config.c) ---- */

pt_snapshot *pt_snapshot_acquire(pt_snapshot *s)
{
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void pt_snapshot_release(pt_snapshot *s)
{
    if (!s) return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    snapshot_free(s);
}

/* Loading the pointer and counting the reference must be one step, or a publish could
 * free the snapshot in between: a spinlock held for two atomic operations makes it so. */
static pt_snapshot *_Atomic current_snap;
static atomic_flag current_lock = ATOMIC_FLAG_INIT;

static void lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&current_lock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void lock_drop(void) { atomic_flag_clear_explicit(&current_lock, memory_order_release); }

void pt_snapshot_publish(pt_snapshot *s)
{
    lock_take();
    pt_snapshot *old = atomic_exchange_explicit(&current_snap, s, memory_order_acq_rel);
    lock_drop();
    pt_snapshot_release(old);
}

pt_snapshot *pt_snapshot_current(void)
{
    lock_take();
    pt_snapshot *s = pt_snapshot_acquire(atomic_load_explicit(&current_snap, memory_order_acquire));
    lock_drop();
    return s;
}
