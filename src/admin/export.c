/* export.c: the control plane's state as one YAML document by names, and that document
 * applied back idempotently (see export.h and docs/ADMIN.md). Import checks every object
 * with the admin API's own rules (api.c's pt__admin_map) and lets the store validate the
 * values, inside one transaction that a dry run or the first error rolls back. */
#include "admin/export.h"
#include "admin/oas.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"
#include "config/yaml.h"
#include "store/schema.h"

#define KEY_HASH_SCHEME "sha256:"

static int64_t int_member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *str_member(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int oom(pt_admin_err *e) { return pt_admin_fail(e, 500, "out_of_memory", "", "out of memory"); }

/* ---- writing YAML ------------------------------------------------------------------------ */

/* A double-quoted YAML scalar: every string is quoted, so none reads as a number, a bool
 * or null. Text is valid UTF-8 (the store's rule); what YAML does not allow raw is escaped. */
void pt__admin_yaml_string(pt_buf *b, const char *s, size_t n)
{
    pt_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            pt_buf_append(b, "\\", 1);
            pt_buf_append(b, s + i++, 1);
        } else if (c < 0x20 || c == 0x7f) {
            pt_buf_printf(b, "\\x%02x", c);
            i++;
        } else if (c < 0x80) {
            pt_buf_append(b, s + i++, 1);
        } else {
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (len > n - i) len = n - i;
            uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
            for (size_t k = 1; k < len; k++) cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
            /* C1 controls, the BOM and the Unicode line separators are not printable in YAML */
            if ((cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff || cp == 0x2028 || cp == 0x2029)
                pt_buf_printf(b, "\\u%04x", (unsigned)cp);
            else
                pt_buf_append(b, s + i, len);
            i += len;
        }
    }
    pt_buf_append(b, "\"", 1);
}

/* Any JSON value in flow style ({k: v}, [a, b]). */
void pt__admin_yaml_flow(pt_buf *b, const json_t *v)
{
    const char *k;
    json_t *m;
    size_t i, first = 1;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        pt_buf_append_str(b, "{");
        json_object_foreach((json_t *)v, k, m) {
            if (!first) pt_buf_append_str(b, ", ");
            first = 0;
            pt__admin_yaml_string(b, k, strlen(k));
            pt_buf_append_str(b, ": ");
            pt__admin_yaml_flow(b, m);
        }
        pt_buf_append_str(b, "}");
        break;
    case JSON_ARRAY:
        pt_buf_append_str(b, "[");
        json_array_foreach(v, i, m) {
            if (i) pt_buf_append_str(b, ", ");
            pt__admin_yaml_flow(b, m);
        }
        pt_buf_append_str(b, "]");
        break;
    case JSON_STRING: pt__admin_yaml_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: pt_buf_printf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        pt_buf_append_str(b, t ? t : "null");
        free(t);
        break;
    }
    case JSON_TRUE: pt_buf_append_str(b, "true"); break;
    case JSON_FALSE: pt_buf_append_str(b, "false"); break;
    case JSON_NULL: pt_buf_append_str(b, "null"); break;
    }
}

static bool list_of_objects(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
}

/* A mapping in block style at indent; list items ("- ") of objects are blocks too, every
 * other value is written in flow style on its key's line. */
static void yaml_block(pt_buf *b, const json_t *o, int indent, bool list_item)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)o, k, v) {
        pt_buf_printf(b, "%*s%s%s:", list_item && first ? indent - 2 : indent, "", list_item && first ? "- " : "", k);
        first = false;
        if (!list_of_objects(v)) {
            pt_buf_append_str(b, " ");
            pt__admin_yaml_flow(b, v);
            pt_buf_append_str(b, "\n");
            continue;
        }
        pt_buf_append_str(b, "\n");
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) yaml_block(b, item, indent + 4, true);
    }
}

/* ---- export -------------------------------------------------------------------------------- */

/* Everything of every exported kind, read in one consistent view. */
typedef struct state {
    json_t *all[PT_KIND_COUNT];   /* arrays in id order */
    json_t *by_id[PT_KIND_COUNT]; /* "id" -> object, for teams, services and consumers */
} state;

static int collect(void *ctx, json_t *obj) { return json_array_append(ctx, obj) ? PT_STORE_ENOMEM : 0; }

static void id_key(int64_t id, char out[24]) { snprintf(out, 24, "%lld", (long long)id); }

static const char *name_by_id(const state *s, pt_store_kind kind, int64_t id)
{
    char k[24];
    id_key(id, k);
    return str_member(json_object_get(s->by_id[kind], k), "name");
}

static void state_release(state *s)
{
    for (int k = 0; k < PT_KIND_COUNT; k++) {
        json_decref(s->all[k]);
        json_decref(s->by_id[k]);
    }
}

static const pt_store_kind exported[] = {PT_KIND_TEAM, PT_KIND_USER, PT_KIND_SERVICE, PT_KIND_API,
                                         PT_KIND_CONSUMER, PT_KIND_KEY, PT_KIND_SUBSCRIPTION, PT_KIND_POLICY};

static int read_state(pt_store *st, state *s, pt_admin_err *e)
{
    int rc = pt_store_begin_read(st);
    for (size_t i = 0; rc == 0 && i < sizeof exported / sizeof exported[0]; i++) {
        pt_store_kind k = exported[i];
        if (!(s->all[k] = json_array()) || !(s->by_id[k] = json_object())) rc = PT_STORE_ENOMEM;
        if (rc == 0) rc = pt_store_scan(st, k, collect, s->all[k]);
        size_t j;
        json_t *o;
        char key[24];
        json_array_foreach(s->all[k], j, o) {
            id_key(int_member(o, "id"), key);
            if (rc == 0 && json_object_set(s->by_id[k], key, o)) rc = PT_STORE_ENOMEM;
        }
    }
    if (rc != 0) pt__admin_store_fail(st, rc, false, e);
    pt_store_rollback(st);
    return rc ? -1 : 0;
}

/* Copies the members of src named in cols into dst, leaving nulls out. */
static void copy_cols(json_t *dst, const json_t *src, const char *const *cols)
{
    for (; *cols; cols++) {
        json_t *v = json_object_get(src, *cols);
        if (v && !json_is_null(v)) json_object_set(dst, *cols, v);
    }
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v) json_object_set_new(o, k, json_string(v));
}

static int by_keys(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    static const char *const keys[] = {"name", "prefix", "consumer", "service"};
    for (size_t i = 0; i < 4; i++) {
        const char *p = str_member(x, keys[i]), *q = str_member(y, keys[i]);
        int c = strcmp(p ? p : "", q ? q : "");
        if (c) return c;
    }
    return 0;
}

void pt__admin_json_sort(json_t *list, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(list);
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    if (!v) return;
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof *v, cmp);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++) json_array_append_new(list, v[i]);
    free(v);
}

/* Orders a list by name (keys: prefix; subscriptions: consumer, then service), so the
 * document does not depend on ids. */
static void sort_list(json_t *list) { pt__admin_json_sort(list, by_keys); }

static json_t *export_teams(const state *s)
{
    json_t *out = json_array(), *o;
    size_t i;
    json_array_foreach(s->all[PT_KIND_TEAM], i, o) json_array_append_new(out, json_pack("{s:O}", "name", json_object_get(o, "name")));
    return out;
}

static json_t *export_users(const state *s)
{
    json_t *out = json_array(), *o;
    size_t i;
    json_array_foreach(s->all[PT_KIND_USER], i, o) {
        json_t *u = json_pack("{s:O}", "name", json_object_get(o, "name"));
        set_str(u, "team", name_by_id(s, PT_KIND_TEAM, int_member(o, "team_id")));
        copy_cols(u, o, (const char *const[]){"role", "disabled", "password_hash", NULL});
        json_array_append_new(out, u);
    }
    return out;
}

/* Services, or consumers, each with its list of children (APIs, keys). */
typedef struct nest {
    pt_store_kind parent, child;
    const char *const *parent_cols, *const *child_cols;
    const char *pcol;   /* the child's column naming its parent */
    const char *list;   /* the parent's member holding the children */
} nest;

static const nest services_nest = {
    PT_KIND_SERVICE, PT_KIND_API,
    (const char *const[]){"kind", "targets", "models", "approval", "lb", "timeouts", "health", NULL},
    (const char *const[]){"name", "path_prefix", "methods", "auth", "rewrite", "key_header", "key_query", "lifecycle",
                          "match_headers", "validate", "openapi", NULL},
    "service_id", "apis"};
static const nest consumers_nest = {
    PT_KIND_CONSUMER, PT_KIND_KEY, (const char *const[]){NULL},
    (const char *const[]){"prefix", "label", "expires_at", "allowed_models", "revoked_at", NULL}, "consumer_id", "keys"};

/* A key's reference: the SHA-256 the store keeps, never the key. */
static void key_hash(json_t *out, const json_t *key)
{
    char hash[96];
    const char *hex = str_member(key, "hash");
    snprintf(hash, sizeof hash, "%s%s", KEY_HASH_SCHEME, hex ? hex : "");
    json_object_set_new(out, "hash", json_string(hash));
}

/* What the configuration file declares (services and APIs of origin "file") is the
 * file's, not exported. */
static bool from_file(const json_t *o)
{
    const char *origin = str_member(o, "origin");
    return origin && strcmp(origin, "file") == 0;
}

static json_t *export_nested(const state *s, const nest *n)
{
    json_t *out = json_array(), *o, *lists = json_object(), *list;
    size_t i;
    char key[24];
    json_array_foreach(s->all[n->parent], i, o) {
        if (from_file(o)) continue;
        json_t *p = json_pack("{s:O}", "name", json_object_get(o, "name"));
        set_str(p, "team", name_by_id(s, PT_KIND_TEAM, int_member(o, "team_id")));
        copy_cols(p, o, n->parent_cols);
        json_object_set_new(p, n->list, list = json_array());
        id_key(int_member(o, "id"), key);
        json_object_set(lists, key, list);
        json_array_append_new(out, p);
    }
    json_array_foreach(s->all[n->child], i, o) {
        id_key(int_member(o, n->pcol), key);
        if (!(list = json_object_get(lists, key)) || from_file(o)) continue;
        json_t *c = json_object();
        copy_cols(c, o, n->child_cols);
        if (n->child == PT_KIND_KEY) key_hash(c, o);
        if (json_is_false(json_object_get(c, "validate"))) json_object_del(c, "validate"); /* the default */
        json_array_append_new(list, c);
    }
    const char *k;
    json_object_foreach(lists, k, list) sort_list(list);
    json_decref(lists);
    return out;
}

/* Of several subscriptions of one consumer to one service (cancelled ones stay as
 * history), the current one: the one not cancelled, else the newest. */
static bool supersedes(const json_t *a, const json_t *cur)
{
    const char *sa = str_member(a, "state"), *sc = str_member(cur, "state");
    bool ca = sa && strcmp(sa, "cancelled") == 0, cc = sc && strcmp(sc, "cancelled") == 0;
    return cc && (!ca || int_member(a, "id") > int_member(cur, "id"));
}

static json_t *export_subscriptions(const state *s)
{
    json_t *current = json_object(), *out = json_array(), *o;
    size_t i;
    char key[48];
    json_array_foreach(s->all[PT_KIND_SUBSCRIPTION], i, o) {
        snprintf(key, sizeof key, "%lld/%lld", (long long)int_member(o, "consumer_id"), (long long)int_member(o, "service_id"));
        json_t *cur = json_object_get(current, key);
        if (!cur || supersedes(o, cur)) json_object_set(current, key, o);
    }
    const char *k;
    json_object_foreach(current, k, o) {
        json_t *sub = json_object();
        set_str(sub, "consumer", name_by_id(s, PT_KIND_CONSUMER, int_member(o, "consumer_id")));
        set_str(sub, "service", name_by_id(s, PT_KIND_SERVICE, int_member(o, "service_id")));
        copy_cols(sub, o, (const char *const[]){"state", "reason", NULL});
        json_array_append_new(out, sub);
    }
    json_decref(current);
    return out;
}

/* A policy's spec members in the order the file documents them (docs/LIMITS.md). */
static const char *const policy_members[] = {"applies_to", "group_by", "rate", "concurrency", "tokens",
                                             "quota", "budget", "on_store_error", "mask", "mcp", NULL};

/* A policy as the file writes it: name, team by name, then its spec's members (every
 * reference in applies_to is a name already). */
static json_t *export_policies(const state *s)
{
    json_t *out = json_array(), *o;
    size_t i;
    json_array_foreach(s->all[PT_KIND_POLICY], i, o) {
        json_t *p = json_pack("{s:O}", "name", json_object_get(o, "name"));
        set_str(p, "team", name_by_id(s, PT_KIND_TEAM, int_member(o, "team_id")));
        copy_cols(p, json_object_get(o, "spec"), policy_members);
        json_array_append_new(out, p);
    }
    return out;
}

int pt_admin_export(pt_store *st, pt_buf *out, pt_admin_err *e)
{
    state s;
    memset(&s, 0, sizeof s);
    if (read_state(st, &s, e) != 0) {
        state_release(&s);
        return -1;
    }
    json_t *doc = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:o}", "portico_export", PT_EXPORT_FORMAT, "teams",
                            export_teams(&s), "users", export_users(&s), "services", export_nested(&s, &services_nest),
                            "consumers", export_nested(&s, &consumers_nest), "subscriptions", export_subscriptions(&s),
                            "policies", export_policies(&s));
    state_release(&s);
    if (!doc) return oom(e);
    const char *k;
    json_t *list;
    json_object_foreach(doc, k, list) if (json_is_array(list)) sort_list(list);
    size_t before = out->len;
    pt_buf_append_str(out, "# Portico control-plane export: secrets are one-way references (see docs/ADMIN.md)\n");
    yaml_block(out, doc, 0, false);
    json_decref(doc);
    /* pt_buf appends fail only on memory; a short document is never sent */
    if (out->len == before || !out->data || out->data[out->len - 1] != '\n') return oom(e);
    return 0;
}

/* ---- reading a document ----------------------------------------------------------------------- */

static bool plain_int(const char *s)
{
    if (*s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

static bool plain_real(const char *s)
{
    if (*s == '-') s++;
    if (*s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    strtod(s, &end);
    return *end == 0 && errno == 0 && strpbrk(s, ".eE") && !strpbrk(s, "xXpPnNiI");
}

/* An unquoted scalar: null, true, false, a number, else text (quoted ones are text). */
static json_t *scalar(const pt_cfg_node *n, pt_admin_err *e)
{
    if (memchr(n->text, 0, n->len)) {
        pt_admin_fail(e, 400, "invalid_yaml", "", "line %u: a NUL character", n->line);
        return NULL;
    }
    if (!n->quoted) {
        if (pt_cfg_is_null(n)) return json_null();
        if (strcmp(n->text, "true") == 0) return json_true();
        if (strcmp(n->text, "false") == 0) return json_false();
        if (plain_int(n->text)) {
            errno = 0;
            long long v = strtoll(n->text, NULL, 10);
            if (!errno) return json_integer(v);
            pt_admin_fail(e, 400, "invalid_value", "", "line %u: number out of range", n->line);
            return NULL;
        }
        if (plain_real(n->text)) return json_real(strtod(n->text, NULL));
    }
    json_t *s = json_stringn(n->text, n->len);
    if (!s) pt_admin_fail(e, 400, "invalid_yaml", "", "line %u: text that is not valid UTF-8", n->line);
    return s;
}

/* The node tree as JSON; duplicate keys are refused (the last would silently win). */
json_t *pt__admin_yaml_json(const pt_cfg_node *n, pt_admin_err *e)
{
    if (n->kind == PT_CFG_SCALAR) return scalar(n, e);
    json_t *out = n->kind == PT_CFG_SEQ ? json_array() : json_object();
    for (size_t i = 0; out && i < n->n; i++) {
        const pt_cfg_node *v = n->kind == PT_CFG_SEQ ? n->items[i] : n->items[2 * i + 1];
        const char *k = n->kind == PT_CFG_MAP ? n->items[2 * i]->text : NULL;
        json_t *j = NULL;
        if (k && json_object_get(out, k))
            pt_admin_fail(e, 400, "invalid_yaml", k, "line %u: '%.64s' appears twice", n->items[2 * i]->line, k);
        else if (k && !pt_store_text_ok(k, n->items[2 * i]->len))
            pt_admin_fail(e, 400, "invalid_yaml", "", "line %u: a key that is not valid UTF-8", n->items[2 * i]->line);
        else
            j = pt__admin_yaml_json(v, e);
        if (!j || (k ? json_object_set_new(out, k, j) : json_array_append_new(out, j))) {
            json_decref(out);
            if (!e->status) oom(e);
            return NULL;
        }
    }
    return out;
}

static json_t *parse_document(const char *text, size_t len, pt_admin_err *e)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    if (i < len && text[i] == '{') return pt_admin_parse_body(text, len, e);
    if (!pt_store_text_ok(text, len)) {
        pt_admin_fail(e, 400, "invalid_yaml", "", "the document is not valid UTF-8 (or holds a NUL byte)");
        return NULL;
    }
    pt_buf why = PT_BUF_INIT;
    pt_cfg_node *root = pt_cfg_yaml_parse("import", text, len, &why);
    json_t *doc = NULL;
    if (!root) pt_admin_fail(e, 400, "invalid_yaml", "", "%s", why.data ? why.data : "not YAML");
    else if (root->kind != PT_CFG_MAP) pt_admin_fail(e, 400, "invalid_yaml", "", "the document must be a mapping");
    else doc = pt__admin_yaml_json(root, e);
    pt_cfg_node_free(root);
    pt_buf_release(&why);
    return doc;
}

/* ---- import ------------------------------------------------------------------------------------- */

typedef struct imp {
    pt_admin_api *api;
    pt_store *st;       /* api's */
    const char *actor;
    pt_admin_err *e;
    json_t *diff;
    int64_t created, updated, unchanged;
    char path[64];   /* the object being applied: "services[2]", "services[2].apis[0]" */
} imp;

/* Puts the current object's path before the field and the message of the error in m->e. */
static int at_path(imp *m)
{
    pt_admin_err *e = m->e;
    char field[sizeof e->field], msg[sizeof e->message];
    snprintf(field, sizeof field, "%.30s%s%.32s", m->path, e->field[0] ? "." : "", e->field);
    snprintf(msg, sizeof msg, "%.60s: %.190s", m->path, e->message);
    memcpy(e->field, field, sizeof field);
    memcpy(e->message, msg, sizeof msg);
    return -1;
}

static int bad(imp *m, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(imp *m, int status, const char *code, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pt_admin_fail(m->e, status, code, field, "%s", msg);
    return at_path(m);
}

/* The API's name for a column, and for a reference the name of what it refers to. */
static json_t *shown(imp *m, const pt_store_col *col, const json_t *v, char *name, size_t cap)
{
    size_t n = strlen(col->name);
    if (col->type == PT_COL_REF && n > 3) n -= 3;
    snprintf(name, cap, "%.*s", (int)n, col->name);
    if (!v || json_is_null(v)) return json_null();
    if (col->flags & PT_COL_SECRET) return json_string("[redacted]");
    json_t *obj = NULL;
    if (col->type == PT_COL_REF && pt_store_get(m->st, col->ref, json_integer_value(v), &obj) == 0) {
        json_t *nm = json_incref(json_object_get(obj, "name"));
        json_decref(obj);
        if (nm) return nm;
    }
    return json_deep_copy(v);
}

/* A policy's spec shown as the API shows it: {member: [before, after]} for each member
 * that differs. */
static void spec_changes(json_t *out, const json_t *before, const json_t *after)
{
    json_t *v;
    const char *k;
    json_object_foreach((json_t *)before, k, v) if (!json_object_get(after, k))
        json_object_set_new(out, k, json_pack("[On]", v));
    json_object_foreach((json_t *)after, k, v) {
        json_t *b = json_object_get(before, k);
        if (!b || !json_equal(b, v)) json_object_set_new(out, k, json_pack("[OO]", b ? b : json_null(), v));
    }
}

/* {field: [before, after]} for the columns in cols that change (before: NULL on create). */
static json_t *changes(imp *m, pt_store_kind kind, const json_t *before, const json_t *cols)
{
    json_t *out = json_object(), *v;
    const char *k;
    char name[64];
    json_object_foreach((json_t *)cols, k, v) {
        const pt_store_col *col = pt_store_col_find(kind, k);
        if (!col) continue;
        if (kind == PT_KIND_POLICY && strcmp(k, "spec") == 0) {
            spec_changes(out, json_object_get(before, k), v);
            continue;
        }
        json_t *b = shown(m, col, json_object_get(before, k), name, sizeof name);
        json_object_set_new(out, name, json_pack("[oo]", b, shown(m, col, v, name, sizeof name)));
    }
    return out;
}

static void record(imp *m, const char *action, pt_store_kind kind, const char *label, json_t *chg)
{
    json_t *d = json_pack("{s:s,s:s,s:s?}", "action", action, "kind", pt_store_kinds[kind].name, "name", label);
    if (d && chg) json_object_set(d, "changes", chg);
    json_decref(chg);
    json_array_append_new(m->diff, d);
}

/* The members of cols that differ from stored (a member the store lacks counts as null). */
static json_t *differences(const json_t *stored, const json_t *cols)
{
    json_t *out = json_object(), *v;
    const char *k;
    json_object_foreach((json_t *)cols, k, v) {
        json_t *s = json_object_get(stored, k);
        if (!json_equal(v, s ? s : json_null())) json_object_set(out, k, v);
    }
    return out;
}

/* Creates cols, or updates stored with what differs, or records it as unchanged; *id is
 * the object's id. */
static int put(imp *m, pt_store_kind kind, const json_t *cols, const json_t *stored, const char *label, int64_t *id)
{
    int rc = 0;
    if (!stored) {
        if ((rc = pt_store_insert(m->st, kind, cols, m->actor, id)) != 0) goto fail;
        record(m, "create", kind, label, changes(m, kind, NULL, cols));
        m->created++;
        return 0;
    }
    *id = int_member(stored, "id");
    json_t *upd = differences(stored, cols);
    if (!upd) return oom(m->e);
    if (json_object_size(upd) == 0) {
        record(m, "unchanged", kind, label, NULL);
        m->unchanged++;
    } else if ((rc = pt_store_update(m->st, kind, *id, 0, upd, m->actor)) == 0) {
        record(m, "update", kind, label, changes(m, kind, stored, upd));
        m->updated++;
    }
    json_decref(upd);
    if (rc == 0) return 0;
fail:
    pt__admin_store_fail(m->st, rc, !stored, m->e);
    return at_path(m);
}

/* Splits obj into what the admin API knows (in) and the import's own members (named in
 * own, moved to *extra); a member in refused is an error. */
static int split(imp *m, const json_t *obj, const char *const *own, const char *const *refused, json_t **in,
                 json_t **extra)
{
    *in = NULL;
    *extra = NULL;
    if (!json_is_object(obj)) return bad(m, 400, "invalid_value", "", "must be a mapping");
    for (; refused && *refused; refused++)
        if (json_object_get(obj, *refused))
            return bad(m, 400, "unknown_field", *refused, "%s is not imported in clear (see docs/ADMIN.md)", *refused);
    *in = json_deep_copy(obj);
    *extra = json_object();
    if (!*in || !*extra) return oom(m->e);
    for (; *own; own++) {
        json_t *v = json_object_get(*in, *own);
        if (!v) continue;
        json_object_set(*extra, *own, v);
        json_object_del(*in, *own);
    }
    return 0;
}

/* The stored object of kind matching filter (APIs by service and name, keys by prefix,
 * subscriptions by consumer and service: the current one), or NULL. */
static json_t *match(imp *m, pt_store_kind kind, json_t *filter)
{
    pt_store_list_opts o = {.filter = filter, .limit = PT_STORE_PAGE_MAX};
    json_t *items = NULL, *best = NULL, *v;
    char next[PT_STORE_CURSOR_MAX];
    size_t i;
    if (filter && pt_store_list(m->st, kind, &o, &items, next) == 0)
        json_array_foreach(items, i, v) if (!best || supersedes(v, best)) best = v;
    json_incref(best);
    json_decref(items);
    json_decref(filter);
    return best;
}

static json_t *by_name(imp *m, pt_store_kind kind, const json_t *obj)
{
    json_t *name = json_object_get(obj, "name"), *out = NULL;
    if (json_is_string(name)) pt_store_find(m->st, kind, "name", name, &out);
    return out;
}

/* Sets path to "list[i]" (or "parent.list[i]" when nested). */
static void set_path(imp *m, size_t parent_len, const char *list, size_t i)
{
    snprintf(m->path + parent_len, sizeof m->path - parent_len, "%s%s[%zu]", parent_len ? "." : "", list, i);
}

/* Maps one object with the admin API's rules (under the object's path), adds the import's
 * own columns and puts it. */
static int apply(imp *m, pt_store_kind kind, const json_t *in, const json_t *stored, int64_t parent, json_t *own,
                 const char *label, int64_t *id)
{
    json_t *cols = NULL;
    if (pt__admin_map(m->api, kind, in, stored, parent, &cols, m->e) != 0) return at_path(m);
    json_object_update(cols, own);
    int rc = put(m, kind, cols, stored, label, id);
    json_decref(cols);
    return rc;
}

/* An object matched by its name alone, with nothing but the admin API's members (a team;
 * a policy, whose spec members and references the API's rules check, so policies come
 * after what they name). */
static int import_named(imp *m, pt_store_kind kind, const json_t *obj)
{
    json_t *in, *extra, *stored = NULL;
    int64_t id;
    int rc = split(m, obj, (const char *const[]){NULL}, NULL, &in, &extra);
    if (rc == 0) stored = by_name(m, kind, in);
    if (rc == 0) rc = apply(m, kind, in, stored, 0, extra, str_member(in, "name"), &id);
    json_decref(in), json_decref(extra), json_decref(stored);
    return rc;
}

static int import_team(imp *m, const json_t *obj) { return import_named(m, PT_KIND_TEAM, obj); }
static int import_policy(imp *m, const json_t *obj) { return import_named(m, PT_KIND_POLICY, obj); }

/* A user's password travels as its Argon2id string: the store keeps nothing else. */
static int import_user(imp *m, const json_t *obj)
{
    json_t *in, *own, *stored = NULL;
    int64_t id;
    int rc = split(m, obj, (const char *const[]){"password_hash", NULL}, (const char *const[]){"password", NULL},
                   &in, &own);
    if (rc == 0) stored = by_name(m, PT_KIND_USER, in);
    const char *phc = str_member(own, "password_hash");
    if (rc == 0 && json_object_get(own, "password_hash") && (!phc || strncmp(phc, "$argon2id$", 10) != 0))
        rc = bad(m, 400, "invalid_value", "password_hash", "password_hash must be an Argon2id string ($argon2id$...)");
    if (rc == 0 && !stored && !phc)
        rc = bad(m, 400, "missing_field", "password_hash", "password_hash is required for a new user");
    if (rc == 0) rc = apply(m, PT_KIND_USER, in, stored, 0, own, str_member(in, "name"), &id);
    json_decref(in), json_decref(own), json_decref(stored);
    return rc;
}

static int import_api(imp *m, const json_t *obj, int64_t sid, const char *svc)
{
    json_t *in, *own, *stored = NULL;
    int64_t id;
    char label[160];
    int rc = split(m, obj, (const char *const[]){"openapi", NULL}, NULL, &in, &own);
    json_t *doc = own ? json_object_get(own, "openapi") : NULL;
    if (rc == 0 && doc && !json_is_null(doc) && pt_oas_check_normalised(doc, m->e)) rc = at_path(m);
    if (rc == 0 && json_is_string(json_object_get(in, "name")))
        stored = match(m, PT_KIND_API, json_pack("{s:I,s:O}", "service_id", (json_int_t)sid, "name", json_object_get(in, "name")));
    if (rc == 0) {
        snprintf(label, sizeof label, "%s/%s", svc, str_member(in, "name") ? str_member(in, "name") : "?");
        rc = apply(m, PT_KIND_API, in, stored, sid, own, label, &id);
    }
    json_decref(in), json_decref(own), json_decref(stored);
    return rc;
}

/* A list member of obj (absent or null: an empty list). */
static int list_member(imp *m, const json_t *obj, const char *name, json_t **out)
{
    *out = json_object_get(obj, name);
    if (*out && !json_is_null(*out) && !json_is_array(*out)) return bad(m, 400, "invalid_value", name, "%s must be a list", name);
    if (*out && json_is_null(*out)) *out = NULL;
    return 0;
}

/* Keys travel as "sha256:<hex>" of the key: the store never had the key itself. A key is
 * matched by its prefix; its consumer and hash never change. */
static int import_key(imp *m, const json_t *obj, int64_t cid)
{
    json_t *in, *own, *stored = NULL;
    int64_t id;
    int rc = split(m, obj, (const char *const[]){"prefix", "hash", "revoked_at", NULL}, (const char *const[]){"key", NULL},
                   &in, &own);
    const char *prefix = str_member(own, "prefix"), *hash = str_member(own, "hash");
    if (rc == 0 && !prefix) rc = bad(m, 400, "missing_field", "prefix", "prefix is required (a string)");
    if (rc == 0 && json_object_get(own, "hash") &&
        (!hash || strncmp(hash, KEY_HASH_SCHEME, strlen(KEY_HASH_SCHEME)) != 0))
        rc = bad(m, 400, "invalid_value", "hash", "hash must be \"sha256:\" and 64 hex digits");
    if (rc == 0) stored = match(m, PT_KIND_KEY, json_pack("{s:s}", "prefix", prefix));
    const char *sh = hash ? hash + strlen(KEY_HASH_SCHEME) : NULL;
    if (rc == 0 && stored && int_member(stored, "consumer_id") != cid)
        rc = bad(m, 409, "conflict", "prefix", "a key with this prefix belongs to another consumer");
    if (rc == 0 && stored && sh && strcmp(sh, str_member(stored, "hash") ? str_member(stored, "hash") : "") != 0)
        rc = bad(m, 409, "conflict", "hash", "differs from the stored key with this prefix (a key's hash never changes)");
    if (rc == 0 && !stored && !sh) rc = bad(m, 400, "missing_field", "hash", "hash is required for a new key");
    if (rc == 0) {
        if (sh) json_object_set_new(own, "hash", json_string(sh));
        rc = apply(m, PT_KIND_KEY, in, stored, cid, own, prefix, &id);
    }
    json_decref(in), json_decref(own), json_decref(stored);
    return rc;
}

/* A service with its APIs, or a consumer with its keys: the parent first, then each
 * child under it. What the configuration file declares is refused by the API's rules. */
static int import_nested(imp *m, const json_t *obj, const nest *n)
{
    json_t *in, *own, *stored = NULL, *children = NULL, *v;
    int64_t id = 0;
    int rc = split(m, obj, (const char *const[]){n->list, NULL}, NULL, &in, &own);
    if (rc == 0) rc = list_member(m, own, n->list, &children);
    if (rc == 0) stored = by_name(m, n->parent, in);
    const char *name = str_member(in, "name");
    json_incref(children); /* own gives it up: it is applied after its parent */
    json_object_del(own, n->list);
    if (rc == 0) rc = apply(m, n->parent, in, stored, 0, own, name, &id);
    size_t i, len = strlen(m->path);
    json_array_foreach(children, i, v) {
        if (rc) break;
        set_path(m, len, n->list, i);
        rc = n->child == PT_KIND_API ? import_api(m, v, id, name) : import_key(m, v, id);
    }
    m->path[len] = 0;
    json_decref(in), json_decref(own), json_decref(stored), json_decref(children);
    return rc;
}

static int import_service(imp *m, const json_t *obj) { return import_nested(m, obj, &services_nest); }

static int import_consumer(imp *m, const json_t *obj) { return import_nested(m, obj, &consumers_nest); }

/* A subscription is matched by consumer and service; its state is set as the file says
 * (an import is an admin's act), a new one without a state starts as the API would. */
static int import_subscription(imp *m, const json_t *obj)
{
    json_t *in, *own, *stored = NULL, *cols = NULL;
    int64_t id;
    char label[160];
    int rc = split(m, obj, (const char *const[]){"state", "reason", NULL}, NULL, &in, &own);
    if (rc == 0 && pt__admin_map(m->api, PT_KIND_SUBSCRIPTION, in, NULL, 0, &cols, m->e) != 0) rc = at_path(m);
    if (rc == 0)
        stored = match(m, PT_KIND_SUBSCRIPTION, json_pack("{s:O,s:O}", "consumer_id", json_object_get(cols, "consumer_id"),
                                                          "service_id", json_object_get(cols, "service_id")));
    if (rc == 0) {
        if (stored) json_object_del(cols, "state"); /* the initial state is for new ones only */
        json_object_update(cols, own);
        snprintf(label, sizeof label, "%s/%s", str_member(in, "consumer"), str_member(in, "service"));
        rc = put(m, PT_KIND_SUBSCRIPTION, cols, stored, label, &id);
    }
    json_decref(in), json_decref(own), json_decref(stored), json_decref(cols);
    return rc;
}

typedef int (*import_fn)(imp *m, const json_t *obj);

static const struct section {
    const char *name;
    import_fn fn;
} sections[] = {
    {"teams", import_team},         {"users", import_user},         {"services", import_service},
    {"consumers", import_consumer}, {"subscriptions", import_subscription}, {"policies", import_policy},
};

static int check_top(imp *m, const json_t *doc)
{
    static const char *const allowed[] = {"portico_export", "teams", "users",        "services",
                                          "consumers",      "subscriptions", "policies", NULL};
    if (pt_admin_known_fields(doc, allowed, m->e)) return -1;
    json_t *v = json_object_get(doc, "portico_export");
    if (!json_is_integer(v) || json_integer_value(v) != PT_EXPORT_FORMAT)
        return pt_admin_fail(m->e, 400, v ? "invalid_value" : "missing_field", "portico_export",
                             "portico_export: %d is required (the format this Portico reads)", PT_EXPORT_FORMAT);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        v = json_object_get(doc, sections[i].name);
        if (v && !json_is_null(v) && !json_is_array(v))
            return pt_admin_fail(m->e, 400, "invalid_value", sections[i].name, "%s must be a list", sections[i].name);
    }
    return 0;
}

static int apply_all(imp *m, const json_t *doc)
{
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, sections[s].name), i, v) {
            set_path(m, 0, sections[s].name, i);
            if (sections[s].fn(m, v) != 0) return -1;
        }
    }
    return 0;
}

int pt_admin_import(pt_admin_api *api, const char *text, size_t len, bool dry_run, const char *actor, json_t **report,
                    pt_admin_err *e)
{
    *report = NULL;
    memset(e, 0, sizeof *e);
    pt_store *st = api->st;
    imp m = {.api = api, .st = st, .actor = actor, .e = e, .diff = json_array()};
    json_t *doc = parse_document(text, len, e);
    int rc = doc && m.diff ? check_top(&m, doc) : -1;
    if (rc == 0 && (rc = pt_store_begin(st)) != 0) rc = pt__admin_store_fail(st, rc, false, e);
    if (rc == 0) {
        rc = apply_all(&m, doc);
        bool keep = rc == 0 && !dry_run && (m.created || m.updated);
        int end = keep ? pt_store_commit(st) : pt_store_rollback(st);
        if (keep && end != 0) rc = pt__admin_store_fail(st, end, false, e);
    }
    json_decref(doc);
    if (rc == 0)
        *report = json_pack("{s:b,s:I,s:I,s:I,s:O}", "dry_run", dry_run, "created", (json_int_t)m.created, "updated",
                            (json_int_t)m.updated, "unchanged", (json_int_t)m.unchanged, "diff", m.diff);
    json_decref(m.diff);
    if (rc == 0 && !*report) rc = oom(e);
    if (rc != 0 && !e->status) oom(e);
    return rc ? -1 : 0;
}

/* ---- the command line ------------------------------------------------------------------------ */

static pt_store *open_store(const char *data_dir, const char *store_url, FILE *err)
{
    pt_store_error se;
    pt_store *st = pt_store_open(data_dir, store_url, &se);
    if (!st && store_url) fprintf(err, "portico: cannot open the store: %s\n", se.message);
    else if (!st) fprintf(err, "portico: cannot open the store in %s: %s\n", data_dir, se.message);
    return st;
}

int pt_admin_export_cli(const char *data_dir, const char *store_url, FILE *out, FILE *err)
{
    pt_store *st = open_store(data_dir, store_url, err);
    if (!st) return 1;
    pt_buf yaml = PT_BUF_INIT;
    pt_admin_err e;
    memset(&e, 0, sizeof e);
    int rc = pt_admin_export(st, &yaml, &e);
    pt_store_close(st);
    if (rc == 0 && fwrite(yaml.data, 1, yaml.len, out) == yaml.len && fflush(out) == 0) rc = 0;
    else if (rc == 0) rc = -1, snprintf(e.message, sizeof e.message, "cannot write the export: %s", strerror(errno));
    if (rc) fprintf(err, "portico: export: %s\n", e.message);
    pt_buf_release(&yaml);
    return rc ? 1 : 0;
}

static int read_file(const char *file, pt_buf *b, FILE *err)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(err, "portico: import: cannot open %s: %s\n", file, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = pt_buf_append(b, chunk, n);
    if (rc == 0 && ferror(f)) rc = -1;
    if (rc) fprintf(err, "portico: import: cannot read %s (or it is larger than %u bytes)\n", file, PT_IMPORT_MAX_FILE);
    if (f != stdin) fclose(f);
    return rc ? -1 : 0;
}

/* One line per create or update: "create service ledger: approval: null -> "manual"". */
static void print_diff(const json_t *diff, FILE *out)
{
    size_t i;
    json_t *d;
    json_array_foreach(diff, i, d) {
        const char *action = str_member(d, "action");
        if (!action || strcmp(action, "unchanged") == 0) continue;
        fprintf(out, "%s %s %s", action, str_member(d, "kind"), str_member(d, "name"));
        const char *k;
        json_t *pair;
        const char *sep = ": ";
        json_object_foreach(json_object_get(d, "changes"), k, pair) {
            char *b = json_dumps(json_array_get(pair, 0), JSON_ENCODE_ANY | JSON_COMPACT);
            char *a = json_dumps(json_array_get(pair, 1), JSON_ENCODE_ANY | JSON_COMPACT);
            fprintf(out, "%s%s %s -> %s", sep, k, b ? b : "?", a ? a : "?");
            sep = ", ";
            free(b);
            free(a);
        }
        fputc('\n', out);
    }
}

int pt_admin_import_cli(const char *data_dir, const char *store_url, const char *file, bool dry_run,
                        const pt_admin_api *checks, FILE *out, FILE *err)
{
    pt_buf text;
    pt_buf_init(&text, PT_IMPORT_MAX_FILE);
    if (read_file(file, &text, err) != 0) {
        pt_buf_release(&text);
        return 1;
    }
    pt_store *st = open_store(data_dir, store_url, err);
    if (!st) {
        pt_buf_release(&text);
        return 1;
    }
    json_t *report = NULL;
    pt_admin_err e;
    pt_admin_api api = {.st = st, .check_service = checks->check_service, .check_policy = checks->check_policy,
                        .arg = checks->arg};
    int rc = pt_admin_import(&api, text.data ? text.data : "", text.len, dry_run, "cli", &report, &e);
    pt_store_close(st);
    pt_buf_release(&text);
    if (rc != 0) {
        fprintf(err, "portico: import: %s%s%s (nothing was written)\n", e.message,
                e.field[0] && !strstr(e.message, e.field) ? " at " : "", e.field[0] && !strstr(e.message, e.field) ? e.field : "");
        return 1;
    }
    print_diff(json_object_get(report, "diff"), out);
    fprintf(out, "import: %lld created, %lld updated, %lld unchanged%s\n", (long long)int_member(report, "created"),
            (long long)int_member(report, "updated"), (long long)int_member(report, "unchanged"),
            dry_run ? " (dry run: nothing was written)" : "");
    json_decref(report);
    return 0;
}
