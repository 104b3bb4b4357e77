/* release_diff.c: a release's canonical content and the diff between two (see
 * release_diff.h). */
#include "admin/release_diff.h"

#include <stdlib.h>
#include <string.h>

#include "control/snapshot.h"
#include "core/buf.h"

/* The members that change what the gateway serves; everything else of a row is identity
 * (id, the service's name and team), bookkeeping, or a subscription setting (approval). */
static const char *const service_members[] = {"kind", "targets", "models", "lb", "timeouts", "health", NULL};
static const char *const api_members[] = {"name", "path_prefix", "methods", "auth", "rewrite", "key_header",
                                          "key_query", "lifecycle", "match_headers", "openapi", "validate", NULL};

static json_t *pick(const json_t *row, const char *const *members)
{
    json_t *o = json_object();
    for (const char *const *m = members; o && *m; m++) {
        json_t *v = json_object_get(row, *m);
        if (v && !json_is_null(v) && json_object_set_new(o, *m, json_deep_copy(v)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static const char *name_of(const json_t *api)
{
    const char *n = json_string_value(json_object_get(api, "name"));
    return n ? n : "";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(name_of(*(json_t *const *)a), name_of(*(json_t *const *)b));
}

static int by_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A copy of arr (of objects) sorted by their "name". */
static json_t *sorted(const json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **items = malloc((n ? n : 1) * sizeof *items), *out = items ? json_array() : NULL;
    for (size_t i = 0; out && i < n; i++) items[i] = json_array_get(arr, i);
    if (out && n > 1) qsort(items, n, sizeof items[0], by_name);
    for (size_t i = 0; out && i < n; i++)
        if (json_array_append(out, items[i]) != 0) {
            json_decref(out);
            out = NULL;
        }
    free(items);
    return out;
}

/* The rows of rows that keep(row) holds, each picked to members, sorted by name; NULL when
 * out of memory. */
static json_t *picked_sorted(const json_t *rows, const char *const *members, const char *service,
                             bool (*keep)(const json_t *row, const char *service))
{
    json_t *picked = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a) {
        if (keep && !keep(a, service)) continue;
        json_t *p = picked ? pick(a, members) : NULL;
        if (!p || json_array_append_new(picked, p) != 0) {
            json_decref(picked);
            return NULL;
        }
    }
    json_t *list = sorted(picked);
    json_decref(picked);
    return list;
}

static bool policy_of(const json_t *row, const char *service)
{
    return pt_policy_spec_of_service(json_object_get(row, "spec"), service);
}

json_t *pt_release_content(const json_t *service, const json_t *apis, const json_t *policies)
{
    static const char *const policy_members[] = {"name", "spec", NULL};
    const char *name = json_string_value(json_object_get(service, "name"));
    json_t *svc = pick(service, service_members), *list = picked_sorted(apis, api_members, NULL, NULL);
    json_t *pol = picked_sorted(policies, policy_members, name ? name : "", policy_of);
    json_t *out = svc && list && pol ? json_pack("{s:O,s:O}", "service", svc, "apis", list) : NULL;
    if (out && json_array_size(pol) && json_object_set(out, "policies", pol) != 0) { /* none: as before policies */
        json_decref(out);
        out = NULL;
    }
    json_decref(svc);
    json_decref(list);
    json_decref(pol);
    return out;
}

/* ---- the diff ---------------------------------------------------------------------------- */

/* A member as a diff shows it: an imported OpenAPI document by its number of operations,
 * as the API's answers show it (the document itself can be far larger than a diff). */
static json_t *value_or_null(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (v && strcmp(k, "openapi") == 0)
        return json_pack("{s:I}", "operations", (json_int_t)json_array_size(json_object_get(v, "operations")));
    return v ? json_incref(v) : json_null();
}

/* The member names of a and b together, sorted, as a new array of strings. */
static json_t *union_keys(const json_t *a, const json_t *b)
{
    json_t *set = json_object(), *v;
    const char *k;
    json_object_foreach((json_t *)a, k, v) json_object_set(set, k, json_null());
    json_object_foreach((json_t *)b, k, v) json_object_set(set, k, json_null());
    size_t n = json_object_size(set), at = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    json_t *out = set && names ? json_array() : NULL;
    if (out) {
        json_object_foreach(set, k, v) names[at++] = k;
        qsort(names, n, sizeof names[0], by_str);
        for (size_t i = 0; i < n; i++) json_array_append_new(out, json_string(names[i]));
    }
    free(names);
    json_decref(set);
    return out;
}

/* Appends {"field","from","to"} to changes for every member whose value differs between
 * from and to (either may be NULL), in name order. */
static int field_changes(const json_t *from, const json_t *to, json_t *changes)
{
    json_t *keys = union_keys(from, to), *kv;
    size_t i;
    int rc = keys ? 0 : -1;
    json_array_foreach(keys, i, kv) {
        const char *k = json_string_value(kv);
        json_t *a = json_object_get(from, k), *b = json_object_get(to, k);
        if (a && b && json_equal(a, b)) continue;
        if (json_array_append_new(changes, json_pack("{s:s,s:o,s:o}", "field", k, "from", value_or_null(from, k),
                                                     "to", value_or_null(to, k))) != 0) {
            rc = -1;
            break;
        }
    }
    json_decref(keys);
    return rc;
}

/* The API named name in a content's sorted list, or NULL. */
static const json_t *api_named(const json_t *apis, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(apis, i, a) if (strcmp(name_of(a), name) == 0) return a;
    return NULL;
}

/* added, removed and changed entries (APIs, or policies: key names them in "changed")
 * between two sorted lists. */
static int entry_changes(const json_t *from, const json_t *to, json_t *d, const char *key)
{
    json_t *added = json_object_get(d, "added"), *removed = json_object_get(d, "removed");
    json_t *changed = json_object_get(d, "changed");
    size_t i;
    json_t *a;
    int rc = 0;
    json_array_foreach(from, i, a) if (rc == 0 && !api_named(to, name_of(a)))
        rc = json_array_append_new(removed, json_string(name_of(a)));
    json_array_foreach(to, i, a) {
        if (rc) break;
        const json_t *was = api_named(from, name_of(a));
        if (!was) {
            rc = json_array_append_new(added, json_string(name_of(a)));
            continue;
        }
        json_t *fields = json_array();
        rc = fields ? field_changes(was, a, fields) : -1;
        if (rc == 0 && json_array_size(fields))
            rc = json_array_append_new(changed, json_pack("{s:s,s:O}", key, name_of(a), "fields", fields));
        json_decref(fields);
    }
    return rc;
}

/* "a, b and c" of the strings in arr (at most 8 named, then "and N more"). */
static void names_list(pt_buf *b, const json_t *arr, const char *member)
{
    size_t n = json_array_size(arr), shown = n > 8 ? 8 : n;
    for (size_t i = 0; i < shown; i++) {
        const json_t *v = json_array_get(arr, i);
        const char *s = member ? json_string_value(json_object_get(v, member)) : json_string_value(v);
        pt_buf_printf(b, "%s%s", i == 0 ? "" : i + 1 == shown && n == shown ? " and " : ", ", s ? s : "?");
    }
    if (n > shown) pt_buf_printf(b, " and %zu more", n - shown);
}

/* "; policies a and b added" for each non-empty list of d's policies. */
static void summarize_policies(pt_buf *b, const json_t *d, bool any)
{
    static const char *const lists[] = {"added", "removed", "changed"};
    const json_t *p = json_object_get(d, "policies");
    for (size_t i = 0; i < 3; i++) {
        const json_t *arr = json_object_get(p, lists[i]);
        size_t n = json_array_size(arr);
        if (!n) continue;
        pt_buf_printf(b, "%spolic%s ", any ? "; " : "", n == 1 ? "y" : "ies");
        any = true;
        names_list(b, arr, i == 2 ? "policy" : NULL);
        pt_buf_printf(b, " %s", lists[i]);
    }
}

static void summarize(pt_buf *b, const json_t *d, bool first)
{
    static const struct { const char *list, *verb; } parts[] = {
        {"service", NULL}, {"added", "added"}, {"removed", "removed"}, {"changed", "changed"}};
    size_t npol = json_array_size(json_object_get(json_object_get(d, "policies"), "added"));
    if (first) pt_buf_printf(b, "first release, with %zu API%s", json_array_size(json_object_get(d, "added")),
                             json_array_size(json_object_get(d, "added")) == 1 ? "" : "s");
    if (first && npol) pt_buf_printf(b, " and %zu polic%s", npol, npol == 1 ? "y" : "ies");
    if (first) return;
    if (pt_release_diff_empty(d)) {
        pt_buf_printf(b, "no change");
        return;
    }
    bool any = false;
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        const json_t *arr = json_object_get(d, parts[p].list);
        size_t n = json_array_size(arr);
        if (!n) continue;
        pt_buf_printf(b, "%s", any ? "; " : "");
        any = true;
        if (!parts[p].verb) {
            pt_buf_printf(b, "service ");
            names_list(b, arr, "field");
            pt_buf_printf(b, " changed");
        } else {
            pt_buf_printf(b, "API%s ", n == 1 ? "" : "s");
            names_list(b, arr, p == 3 ? "api" : NULL);
            pt_buf_printf(b, " %s", parts[p].verb);
        }
    }
    summarize_policies(b, d, any);
}

json_t *pt_release_diff(const json_t *before, const json_t *after)
{
    json_t *d = json_pack("{s:[],s:[],s:[],s:[],s:{s:[],s:[],s:[]}}", "service", "added", "removed", "changed",
                          "policies", "added", "removed", "changed");
    int rc = d ? 0 : -1;
    const json_t *bs = json_object_get(before, "service"), *as = json_object_get(after, "service");
    if (rc == 0) rc = field_changes(bs, as, json_object_get(d, "service"));
    if (rc == 0) rc = entry_changes(json_object_get(before, "apis"), json_object_get(after, "apis"), d, "api");
    if (rc == 0)
        rc = entry_changes(json_object_get(before, "policies"), json_object_get(after, "policies"),
                           json_object_get(d, "policies"), "policy");
    pt_buf b = PT_BUF_INIT;
    if (rc == 0) summarize(&b, d, before == NULL);
    if (rc == 0) rc = json_object_set_new(d, "summary", json_stringn(b.data ? b.data : "", b.len));
    pt_buf_release(&b);
    if (rc != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

bool pt_release_diff_empty(const json_t *diff)
{
    static const char *const lists[] = {"service", "added", "removed", "changed"};
    const json_t *p = json_object_get(diff, "policies");
    for (size_t i = 0; i < 4; i++)
        if (json_array_size(json_object_get(diff, lists[i])) || (i && json_array_size(json_object_get(p, lists[i]))))
            return false;
    return true;
}

static void drop_values(json_t *changes)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        json_object_del(c, "from");
        json_object_del(c, "to");
    }
}

json_t *pt_release_diff_names_only(const json_t *diff)
{
    json_t *d = json_deep_copy(diff);
    if (!d) return NULL;
    drop_values(json_object_get(d, "service"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(d, "changed"), i, c) drop_values(json_object_get(c, "fields"));
    json_array_foreach(json_object_get(json_object_get(d, "policies"), "changed"), i, c)
        drop_values(json_object_get(c, "fields"));
    return d;
}
