/* store.c: the backend-neutral front of the store: validation of every value against the
 * schema tables, reference checks that name the field, transactions and savepoints around
 * each write, the store version, and the audit record every write leaves behind. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backend.h"

const char *pt_store_strerror(int code)
{
    switch (code) {
    case 0: return "success";
#define PT_STORE_ERR_MSG(name, val, msg) case PT_STORE_##name: return msg;
        PT_STORE_ERR_MAP(PT_STORE_ERR_MSG)
#undef PT_STORE_ERR_MSG
    }
    return "unknown error";
}

const char *pt_store_errname(int code)
{
    switch (code) {
    case 0: return "OK";
#define PT_STORE_ERR_NAME(name, val, msg) case PT_STORE_##name: return #name;
        PT_STORE_ERR_MAP(PT_STORE_ERR_NAME)
#undef PT_STORE_ERR_NAME
    }
    return "EUNKNOWN";
}

int pt__store_fail(pt_store *st, int code, const char *field, const char *fmt, ...)
{
    st->err.code = code;
    snprintf(st->err.field, sizeof st->err.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err.message, sizeof st->err.message, fmt, ap);
    va_end(ap);
    return code;
}

pt_store *pt_store_open(const char *data_dir, const char *url, pt_store_error *err)
{
    return url && url[0] ? pt_store_open_postgres(url, err) : pt_store_open_sqlite(data_dir, err);
}

const char *pt_store_backend_name(const pt_store *st) { return st->be->name; }

bool pt_store_migrated(const pt_store *st, int *from, int *to)
{
    *from = st->migrated_from;
    *to = st->migrated_to;
    return st->migrated_to > st->migrated_from;
}

static void clear_err(pt_store *st) { memset(&st->err, 0, sizeof st->err); }

int pt_store_node_beat(pt_store *st, const pt_store_node *n)
{
    clear_err(st);
    if (st->depth) return pt__store_fail(st, PT_STORE_ETXN, NULL, "a heartbeat is not part of a transaction");
    return st->be->node_beat(st, n, pt_store_schema_latest(), (int64_t)time(NULL));
}

/* ---- stored responses ---- */

static int resp_text(pt_store *st, const char *field, const char *s, size_t max)
{
    if (!s) return pt__store_fail(st, PT_STORE_EINVAL, field, "%s: required", field);
    size_t n = strlen(s);
    if (n > max) return pt__store_fail(st, PT_STORE_EINVAL, field, "%s: longer than %zu bytes", field, max);
    if (!pt_store_text_ok(s, n)) return pt__store_fail(st, PT_STORE_EINVAL, field, "%s: not valid UTF-8 text", field);
    return 0;
}

int pt_store_response_put(pt_store *st, const pt_store_response *r)
{
    clear_err(st);
    if (st->depth) return pt__store_fail(st, PT_STORE_ETXN, NULL, "a stored response is not part of a transaction");
    int rc = resp_text(st, "id", r->id, 128);
    if (!rc) rc = resp_text(st, "consumer", r->consumer, 256);
    if (!rc) rc = resp_text(st, "model", r->model, 256);
    if (!rc) rc = resp_text(st, "input", r->input, SIZE_MAX);
    if (!rc) rc = resp_text(st, "response", r->response, SIZE_MAX);
    return rc ? rc : st->be->resp_put(st, r);
}

int pt_store_response_get(pt_store *st, const char *id, int64_t now, pt_store_response *out)
{
    clear_err(st);
    memset(out, 0, sizeof *out);
    int rc = resp_text(st, "id", id, 128);
    if (!rc) rc = st->be->resp_get(st, id, out);
    if (!rc && out->expires_at <= now) rc = PT_STORE_ENOTFOUND;
    if (rc) pt_store_response_release(out);
    if (rc == PT_STORE_ENOTFOUND) return pt__store_fail(st, rc, "id", "no stored response %s", id);
    return rc;
}

void pt_store_response_release(pt_store_response *r)
{
    free(r->id);
    free(r->consumer);
    free(r->model);
    free(r->input);
    free(r->response);
    memset(r, 0, sizeof *r);
}

int pt_store_response_delete(pt_store *st, const char *id, const char *consumer)
{
    clear_err(st);
    int64_t n = 0;
    int rc = resp_text(st, "id", id, 128);
    if (!rc) rc = resp_text(st, "consumer", consumer, 256);
    if (!rc) rc = st->be->resp_delete(st, id, consumer, &n);
    if (!rc && !n) rc = pt__store_fail(st, PT_STORE_ENOTFOUND, "id", "no stored response %s", id);
    return rc;
}

int pt_store_response_prune(pt_store *st, int64_t now, int64_t *removed)
{
    clear_err(st);
    *removed = 0;
    return st->be->resp_prune(st, now, removed);
}

int pt_store_nodes(pt_store *st, json_t **items)
{
    clear_err(st);
    *items = json_array();
    if (!*items) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    int rc = st->be->nodes(st, *items);
    if (rc) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

const pt_store_error *pt_store_last_error(const pt_store *st) { return &st->err; }

void pt_store_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

uint32_t pt__store_column_mask(pt_store_kind kind, const json_t *obj)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    uint32_t mask = 0;
    for (size_t c = 0; obj && c < d->ncols; c++)
        if (json_object_get(obj, d->cols[c].name)) mask |= 1u << c;
    return mask;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int pt__store_unhex(const char *in, size_t len, unsigned char *out, size_t n)
{
    if (len != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

bool pt_store_text_ok(const void *text, size_t n)
{
    const unsigned char *s = text;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0) return false;
        if (c < 0x80) { i++; continue; }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > n) return false;
        unsigned cp = c & (0x3F >> (len - 1));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

static int check_text(pt_store *st, const pt_store_col *col, const json_t *v)
{
    if (!json_is_string(v)) return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be a string", col->name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!pt_store_text_ok(s, n))
        return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be valid UTF-8 without NUL bytes", col->name);
    if (col->max_len && n > col->max_len)
        return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s is longer than %u bytes", col->name, col->max_len);
    if (col->type == PT_COL_NAME && !name_ok(s, n))
        return pt__store_fail(st, PT_STORE_EINVAL, col->name,
                              "%s must start with a letter or digit and hold only letters, digits, '.', '_' and '-'",
                              col->name);
    if (col->type == PT_COL_ENUM) {
        for (const char *const *e = col->enums; *e; e++)
            if (strcmp(*e, s) == 0) return 0;
        return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be one of the allowed values (%s, ...)",
                              col->name, col->enums[0]);
    }
    if (col->type == PT_COL_HASH) {
        unsigned char tmp[32];
        if (pt__store_unhex(s, n, tmp, sizeof tmp) != 0)
            return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be 64 lower-case hex digits", col->name);
    }
    return 0;
}

static int check_json(pt_store *st, const pt_store_col *col, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s cannot be encoded as JSON", col->name);
    size_t n = strlen(text);
    bool ok = pt_store_text_ok(text, n);
    free(text);
    if (!ok) return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be valid UTF-8 without NUL bytes", col->name);
    if (col->max_len && n > col->max_len)
        return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s is longer than %u bytes", col->name, col->max_len);
    return 0;
}

/* One value of one column: its type, and null only where allowed. */
static int check_value(pt_store *st, const pt_store_col *col, const json_t *v)
{
    if (json_is_null(v)) {
        if (col->flags & PT_COL_REQUIRED) return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s is required", col->name);
        return 0;
    }
    switch (col->type) {
    case PT_COL_TEXT: case PT_COL_NAME: case PT_COL_ENUM: case PT_COL_HASH:
        return check_text(st, col, v);
    case PT_COL_TIME: case PT_COL_REF: case PT_COL_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (col->type == PT_COL_REF && json_integer_value(v) == 0))
            return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be a %s", col->name,
                                  col->type == PT_COL_REF    ? "positive integer id"
                                  : col->type == PT_COL_INT ? "non-negative integer"
                                                            : "non-negative integer (Unix seconds)");
        return 0;
    case PT_COL_BOOL:
        if (!json_is_boolean(v)) return pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s must be true or false", col->name);
        return 0;
    case PT_COL_JSON:
        return check_json(st, col, v);
    }
    return 0;
}

static bool managed(const char *name)
{
    return strcmp(name, "id") == 0 || strcmp(name, "created_at") == 0 || strcmp(name, "updated_at") == 0 ||
           strcmp(name, "version") == 0;
}

/* Copies the non-managed members of fields into *out after checking each one. */
static int clean_fields(pt_store *st, pt_store_kind kind, const json_t *fields, bool insert, json_t **out)
{
    const char *what = pt_store_kinds[kind].name;
    if (!json_is_object(fields)) return pt__store_fail(st, PT_STORE_EINVAL, NULL, "a %s must be a JSON object", what);
    json_t *clean = json_object();
    if (!clean) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    const char *name;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)fields, name, v) {
        if (managed(name)) continue;
        const pt_store_col *col = pt_store_col_find(kind, name);
        if (!col) { rc = pt__store_fail(st, PT_STORE_EINVAL, name, "%s is not a field of a %s", name, what); break; }
        if (!insert && (col->flags & PT_COL_IMMUTABLE)) {
            rc = pt__store_fail(st, PT_STORE_EINVAL, name, "%s cannot be changed after creation", name);
            break;
        }
        if ((rc = check_value(st, col, v)) != 0) break;
        json_object_set(clean, name, v);
    }
    for (size_t i = 0; rc == 0 && insert && i < pt_store_kinds[kind].ncols; i++) {
        const pt_store_col *col = &pt_store_kinds[kind].cols[i];
        if ((col->flags & PT_COL_REQUIRED) && !json_object_get(clean, col->name))
            rc = pt__store_fail(st, PT_STORE_EINVAL, col->name, "%s is required", col->name);
    }
    if (rc == 0 && json_object_size(clean) == 0 && !insert)
        rc = pt__store_fail(st, PT_STORE_EINVAL, NULL, "nothing to change");
    if (rc) { json_decref(clean); return rc; }
    *out = clean;
    return 0;
}

/* Every REF member must name an existing object; the message names the field. */
static int check_refs(pt_store *st, pt_store_kind kind, const json_t *clean)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    for (size_t i = 0; i < d->ncols; i++) {
        const pt_store_col *col = &d->cols[i];
        json_t *v = json_object_get(clean, col->name);
        if (col->type != PT_COL_REF || !json_is_integer(v)) continue;
        json_t *obj = NULL;
        int rc = st->be->get(st, col->ref, json_integer_value(v), &obj);
        json_decref(obj);
        if (rc == PT_STORE_ENOTFOUND)
            return pt__store_fail(st, PT_STORE_EREF, col->name, "%s: no %s with id %lld", col->name,
                                  pt_store_kinds[col->ref].name, (long long)json_integer_value(v));
        if (rc) return rc;
    }
    return 0;
}

/* Objects that would be left pointing at nothing block a delete; cascades do not. */
static int check_referrers(pt_store *st, pt_store_kind kind, int64_t id)
{
    for (int k = 0; k < PT_KIND_COUNT; k++) {
        const pt_store_kind_desc *d = &pt_store_kinds[k];
        for (size_t i = 0; i < d->ncols; i++) {
            const pt_store_col *col = &d->cols[i];
            if (col->type != PT_COL_REF || col->ref != kind || (col->flags & (PT_COL_CASCADE | PT_COL_SETNULL)))
                continue;
            int64_t n = 0;
            int rc = st->be->count_refs(st, (pt_store_kind)k, col, id, &n);
            if (rc) return rc;
            if (n > 0) {
                char field[64];
                snprintf(field, sizeof field, "%s.%s", d->table, col->name);
                return pt__store_fail(st, PT_STORE_EREF, field, "%s %lld is still referred to by %lld %s (%s)",
                                      pt_store_kinds[kind].name, (long long)id, (long long)n, d->table, field);
            }
        }
    }
    return 0;
}

/* ---- transactions: an explicit one, or one per write ---- */

static int write_enter(pt_store *st)
{
    if (st->depth) return st->be->savepoint(st);
    int rc = st->be->begin(st, true);
    if (rc == 0) { st->depth = 1; st->dirty = false; }
    return rc;
}

/* Ends one write with rc: the savepoint (inside a caller's transaction) or the whole
 * transaction is kept when rc is 0, undone otherwise. The first error stays reported. */
static int write_leave(pt_store *st, int rc)
{
    pt_store_error saved = st->err;
    if (st->explicit_txn) {
        if (rc == 0) {
            st->dirty = true;
            return st->be->release(st);
        }
        st->be->rollback_to(st);
        st->be->release(st);
        st->err = saved;
        return rc;
    }
    if (rc == 0) rc = st->be->bump_version(st);
    if (rc == 0) rc = st->be->commit(st);
    if (rc) {
        saved = st->err;
        st->be->rollback(st);
        st->err = saved;
    }
    st->depth = 0;
    return rc;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int begin_explicit(pt_store *st, bool write)
{
    clear_err(st);
    if (st->depth) return pt__store_fail(st, PT_STORE_ETXN, NULL, "a transaction is already open");
    int rc = st->be->begin(st, write);
    if (rc == 0) { st->depth = 1; st->explicit_txn = true; st->dirty = false; }
    return rc;
}

int pt_store_begin(pt_store *st) { return begin_explicit(st, true); }
int pt_store_begin_read(pt_store *st) { return begin_explicit(st, false); }

int pt_store_commit(pt_store *st)
{
    clear_err(st);
    if (!st->explicit_txn) return pt__store_fail(st, PT_STORE_ETXN, NULL, "no transaction is open");
    int rc = st->dirty ? st->be->bump_version(st) : 0;
    if (rc == 0) rc = st->be->commit(st);
    if (rc) {
        pt_store_error saved = st->err;
        st->be->rollback(st);
        st->err = saved;
    }
    st->depth = 0;
    st->explicit_txn = false;
    return rc;
}

int pt_store_rollback(pt_store *st)
{
    clear_err(st);
    if (!st->explicit_txn) return pt__store_fail(st, PT_STORE_ETXN, NULL, "no transaction is open");
    int rc = st->be->rollback(st);
    st->depth = 0;
    st->explicit_txn = false;
    return rc;
}

/* ---- audit ---- */

static const char *const secret_names[] = {"password", "password_hash", "hash", "key", "token", "secret", NULL};

void pt_store_redact(json_t *obj)
{
    if (json_is_array(obj)) {
        size_t i;
        json_t *v;
        json_array_foreach(obj, i, v) pt_store_redact(v);
        return;
    }
    if (!json_is_object(obj)) return;
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        bool secret = false;
        for (const char *const *s = secret_names; *s && !secret; s++) secret = strcmp(*s, name) == 0;
        if (secret && !json_is_null(v)) json_object_set_new(obj, name, json_string("[redacted]"));
        else pt_store_redact(v);
    }
}

/* A redacted deep copy, or JSON null for none. */
static json_t *redacted(const json_t *v)
{
    if (!v) return json_null();
    json_t *c = json_deep_copy(v);
    pt_store_redact(c);
    return c ? c : json_null();
}

static int audit_write(pt_store *st, const char *actor, const char *action, pt_store_kind kind, int64_t object_id,
                       const json_t *before, const json_t *after)
{
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "actor", actor ? actor : "system", "action", action,
                            "object_kind", pt_store_kinds[kind].name, "object_id", (json_int_t)object_id,
                            "before", redacted(before), "after", redacted(after));
    if (!rec) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    int rc = 0;
    const pt_store_kind_desc *d = &pt_store_kinds[PT_KIND_AUDIT];
    for (size_t i = 0; rc == 0 && i < d->ncols; i++)
        rc = check_value(st, &d->cols[i], json_object_get(rec, d->cols[i].name));
    int64_t id;
    if (rc == 0) rc = st->be->insert(st, PT_KIND_AUDIT, rec, now_s(), &id);
    json_decref(rec);
    return rc;
}

int pt_store_audit_append(pt_store *st, const char *actor, const char *action, pt_store_kind kind,
                          int64_t object_id, const json_t *before, const json_t *after)
{
    clear_err(st);
    if (!action || !*action) return pt__store_fail(st, PT_STORE_EINVAL, "action", "action is required");
    int rc = write_enter(st);
    if (rc) return rc;
    rc = audit_write(st, actor, action, kind, object_id, before, after);
    return write_leave(st, rc);
}

/* ---- writes ---- */

static int refuse_audit(pt_store *st, pt_store_kind kind)
{
    if (kind < 0 || kind >= PT_KIND_AUDIT)
        return pt__store_fail(st, PT_STORE_EINVAL, NULL, kind == PT_KIND_AUDIT ? "the audit log is append-only"
                                                                               : "unknown object kind");
    return 0;
}

int pt_store_insert(pt_store *st, pt_store_kind kind, const json_t *fields, const char *actor, int64_t *id_out)
{
    clear_err(st);
    json_t *clean = NULL, *after = NULL;
    int64_t id = 0;
    int rc = refuse_audit(st, kind);
    if (rc == 0) rc = clean_fields(st, kind, fields, true, &clean);
    if (rc) return rc;
    if ((rc = write_enter(st)) != 0) { json_decref(clean); return rc; }
    rc = check_refs(st, kind, clean);
    if (rc == 0) rc = st->be->insert(st, kind, clean, now_s(), &id);
    if (rc == 0) rc = st->be->get(st, kind, id, &after);
    if (rc == 0) rc = audit_write(st, actor, "create", kind, id, NULL, after);
    rc = write_leave(st, rc);
    json_decref(clean);
    json_decref(after);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

/* The object's current state, failing ENOTFOUND or ESTALE as an update or delete would. */
static int current_state(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version, json_t **out)
{
    int rc = st->be->get(st, kind, id, out);
    if (rc == PT_STORE_ENOTFOUND)
        return pt__store_fail(st, rc, "id", "no %s with id %lld", pt_store_kinds[kind].name, (long long)id);
    if (rc) return rc;
    int64_t have = json_integer_value(json_object_get(*out, "version"));
    if (if_version > 0 && have != if_version)
        return pt__store_fail(st, PT_STORE_ESTALE, "version", "%s %lld is at version %lld, not %lld",
                              pt_store_kinds[kind].name, (long long)id, (long long)have, (long long)if_version);
    return 0;
}

int pt_store_update(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version, const json_t *fields,
                    const char *actor)
{
    clear_err(st);
    json_t *clean = NULL, *before = NULL, *after = NULL;
    int rc = refuse_audit(st, kind);
    if (rc == 0) rc = clean_fields(st, kind, fields, false, &clean);
    if (rc) return rc;
    if ((rc = write_enter(st)) != 0) { json_decref(clean); return rc; }
    rc = current_state(st, kind, id, if_version, &before);
    if (rc == 0) rc = check_refs(st, kind, clean);
    if (rc == 0) rc = st->be->update(st, kind, id, if_version, clean, now_s());
    if (rc == 0) rc = st->be->get(st, kind, id, &after);
    if (rc == 0) rc = audit_write(st, actor, "update", kind, id, before, after);
    rc = write_leave(st, rc);
    json_decref(clean);
    json_decref(before);
    json_decref(after);
    return rc;
}

int pt_store_delete(pt_store *st, pt_store_kind kind, int64_t id, int64_t if_version, const char *actor)
{
    clear_err(st);
    json_t *before = NULL;
    int rc = refuse_audit(st, kind);
    if (rc) return rc;
    if ((rc = write_enter(st)) != 0) return rc;
    rc = current_state(st, kind, id, if_version, &before);
    if (rc == 0) rc = check_referrers(st, kind, id);
    if (rc == 0) rc = st->be->remove(st, kind, id, if_version);
    if (rc == 0) rc = audit_write(st, actor, "delete", kind, id, before, NULL);
    rc = write_leave(st, rc);
    json_decref(before);
    return rc;
}

int pt_store_touch(pt_store *st, pt_store_kind kind, int64_t id, const json_t *fields)
{
    clear_err(st);
    json_t *clean = NULL;
    int rc = refuse_audit(st, kind);
    if (rc == 0 && st->depth) rc = pt__store_fail(st, PT_STORE_ETXN, NULL, "a touch runs outside transactions");
    if (rc == 0) rc = clean_fields(st, kind, fields, false, &clean);
    if (rc) return rc;
    rc = st->be->begin(st, true);
    if (rc == 0) {
        rc = st->be->update(st, kind, id, 0, clean, now_s());
        if (rc == 0) rc = st->be->commit(st);
        else {
            pt_store_error saved = st->err;
            st->be->rollback(st);
            st->err = saved;
        }
    }
    json_decref(clean);
    return rc;
}

/* ---- reads ---- */

static int kind_ok(pt_store *st, pt_store_kind kind)
{
    if (kind < 0 || kind >= PT_KIND_COUNT) return pt__store_fail(st, PT_STORE_EINVAL, NULL, "unknown object kind");
    return 0;
}

int pt_store_get(pt_store *st, pt_store_kind kind, int64_t id, json_t **out)
{
    clear_err(st);
    int rc = kind_ok(st, kind);
    if (rc) return rc;
    rc = st->be->get(st, kind, id, out);
    if (rc == PT_STORE_ENOTFOUND)
        return pt__store_fail(st, rc, "id", "no %s with id %lld", pt_store_kinds[kind].name, (long long)id);
    return rc;
}

int pt_store_find(pt_store *st, pt_store_kind kind, const char *field, const json_t *value, json_t **out)
{
    clear_err(st);
    int rc = kind_ok(st, kind);
    if (rc) return rc;
    const pt_store_col *col = field ? pt_store_col_find(kind, field) : NULL;
    if (!col || !(col->flags & PT_COL_UNIQUE))
        return pt__store_fail(st, PT_STORE_EINVAL, field, "%s is not a unique field of a %s", field ? field : "(null)",
                              pt_store_kinds[kind].name);
    if ((rc = check_value(st, col, value)) != 0) return rc;
    rc = st->be->find(st, kind, col, value, out);
    if (rc == PT_STORE_ENOTFOUND)
        return pt__store_fail(st, rc, field, "no %s with this %s", pt_store_kinds[kind].name, field);
    return rc;
}

static int check_filter(pt_store *st, pt_store_kind kind, const json_t *filter)
{
    if (!filter) return 0;
    if (!json_is_object(filter)) return pt__store_fail(st, PT_STORE_EINVAL, "filter", "filter must be an object");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)filter, name, v) {
        const pt_store_col *col = pt_store_col_find(kind, name);
        if (!col || col->type == PT_COL_JSON)
            return pt__store_fail(st, PT_STORE_EINVAL, name, "cannot filter %ss by %s", pt_store_kinds[kind].name, name);
        if (json_is_null(v)) return pt__store_fail(st, PT_STORE_EINVAL, name, "filter on %s needs a value", name);
        int rc = check_value(st, col, v);
        if (rc) return rc;
    }
    return 0;
}

static int parse_cursor(pt_store *st, const char *cursor, int64_t *after)
{
    *after = 0;
    if (!cursor || !*cursor) return 0;
    int64_t v = 0;
    for (const char *p = cursor; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
            return pt__store_fail(st, PT_STORE_EINVAL, "cursor", "cursor is not one this store gave out");
        v = v * 10 + (*p - '0');
    }
    if (v == 0) return pt__store_fail(st, PT_STORE_EINVAL, "cursor", "cursor is not one this store gave out");
    *after = v;
    return 0;
}

int pt_store_list(pt_store *st, pt_store_kind kind, const pt_store_list_opts *opts, json_t **items,
                  char next_cursor[PT_STORE_CURSOR_MAX])
{
    clear_err(st);
    static const pt_store_list_opts none;
    if (!opts) opts = &none;
    next_cursor[0] = '\0';
    unsigned limit = opts->limit ? opts->limit : 100;
    if (limit > PT_STORE_PAGE_MAX)
        return pt__store_fail(st, PT_STORE_EINVAL, "limit", "limit must be between 1 and %d", PT_STORE_PAGE_MAX);
    int64_t after = 0;
    int rc = kind_ok(st, kind);
    if (rc == 0) rc = check_filter(st, kind, opts->filter);
    if (rc == 0) rc = parse_cursor(st, opts->cursor, &after);
    if (rc) return rc;
    json_t *arr = json_array();
    if (!arr) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    /* one more than asked says whether another page exists */
    rc = st->be->list(st, kind, opts->filter, after, limit + 1, opts->newest_first, arr);
    if (rc) { json_decref(arr); return rc; }
    if (json_array_size(arr) > limit) {
        json_array_remove(arr, limit);
        json_int_t last = json_integer_value(json_object_get(json_array_get(arr, limit - 1), "id"));
        snprintf(next_cursor, PT_STORE_CURSOR_MAX, "%lld", (long long)last);
    }
    *items = arr;
    return 0;
}

int pt_store_current_release(pt_store *st, int64_t service_id, json_t **out)
{
    *out = NULL;
    json_t *filter = json_pack("{s:I}", "service_id", (json_int_t)service_id), *items = NULL;
    if (!filter) return pt__store_fail(st, PT_STORE_ENOMEM, NULL, "out of memory");
    pt_store_list_opts o = {.filter = filter, .limit = 1, .newest_first = true};
    char next[PT_STORE_CURSOR_MAX];
    int rc = pt_store_list(st, PT_KIND_RELEASE, &o, &items, next);
    json_decref(filter);
    if (rc == 0 && json_array_size(items) == 0)
        rc = pt__store_fail(st, PT_STORE_ENOTFOUND, "release", "service %lld has no release", (long long)service_id);
    if (rc == 0) *out = json_incref(json_array_get(items, 0));
    json_decref(items);
    return rc;
}

/* ---- the rest passes through ---- */

int pt_store_schema_version(pt_store *st, int *out) { clear_err(st); return st->be->schema_version(st, out); }
int pt_store_version(pt_store *st, int64_t *out) { clear_err(st); return st->be->version(st, out); }
int pt_store_check(pt_store *st) { clear_err(st); return st->be->check(st); }

int pt_store_scan_consumers(pt_store *st, pt_store_consumer_cb cb, void *ctx)
{
    clear_err(st);
    return st->be->scan_consumers(st, cb, ctx);
}

int pt_store_scan_keys(pt_store *st, pt_store_key_cb cb, void *ctx)
{
    clear_err(st);
    return st->be->scan_keys(st, cb, ctx);
}

int pt_store_scan_subscriptions(pt_store *st, pt_store_sub_cb cb, void *ctx)
{
    clear_err(st);
    return st->be->scan_subscriptions(st, cb, ctx);
}

int pt_store_scan(pt_store *st, pt_store_kind kind, pt_store_obj_cb cb, void *ctx)
{
    clear_err(st);
    int rc = kind_ok(st, kind);
    return rc ? rc : st->be->scan(st, kind, cb, ctx);
}

void pt_store_close(pt_store *st)
{
    if (st) st->be->close(st);
}

/* ---- copying a store ---- */

typedef struct copy_ctx {
    pt_store *to;
    pt_store_kind kind;
    int64_t n;
} copy_ctx;

static int copy_one(void *arg, json_t *obj)
{
    copy_ctx *c = arg;
    c->n++;
    return c->to->be->load(c->to, c->kind, obj);
}

/* The first kind of which to holds an object, or -1. */
static int first_nonempty(pt_store *to, int *kind)
{
    *kind = -1;
    for (int k = 0; k < PT_KIND_COUNT && *kind < 0; k++) {
        json_t *items = NULL;
        char next[PT_STORE_CURSOR_MAX];
        pt_store_list_opts o = {.limit = 1};
        int rc = pt_store_list(to, (pt_store_kind)k, &o, &items, next);
        if (rc) return rc;
        if (json_array_size(items)) *kind = k;
        json_decref(items);
    }
    return 0;
}

int pt_store_copy(pt_store *from, pt_store *to, bool replace, int64_t counts[PT_KIND_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * PT_KIND_COUNT);
    clear_err(to);
    if (!to->be->load) return pt__store_fail(to, PT_STORE_EINVAL, NULL, "a %s store cannot be the target of a copy",
                                             to->be->name);
    int full = -1, rc = replace ? 0 : first_nonempty(to, &full);
    if (rc) return rc;
    if (full >= 0)
        return pt__store_fail(to, PT_STORE_ECONFLICT, NULL,
                              "the target already holds %s objects: copy into an empty database, or replace its contents",
                              pt_store_kinds[full].name);
    if ((rc = pt_store_begin_read(from)) != 0) {
        to->err = from->err;
        return rc;
    }
    if ((rc = pt_store_begin(to)) != 0) {
        pt_store_rollback(from);
        return rc;
    }
    if (replace) rc = to->be->clear(to);
    for (int k = 0; rc == 0 && k < PT_KIND_COUNT; k++) {
        copy_ctx c = {to, (pt_store_kind)k, 0};
        rc = pt_store_scan(from, (pt_store_kind)k, copy_one, &c);
        if (rc && from->err.code && !to->err.code) to->err = from->err; /* the source's failure, said once */
        counts[k] = c.n;
    }
    int64_t last[PT_KIND_COUNT] = {0};
    for (int k = 0; rc == 0 && k < PT_KIND_COUNT; k++)
        if ((rc = from->be->last_id(from, (pt_store_kind)k, &last[k])) != 0) to->err = from->err;
    if (rc == 0) rc = to->be->loaded(to, last);
    pt_store_rollback(from); /* it only read */
    if (rc) {
        pt_store_error saved = to->err;
        pt_store_rollback(to);
        to->err = saved;
        return rc;
    }
    to->dirty = true;
    return pt_store_commit(to);
}
