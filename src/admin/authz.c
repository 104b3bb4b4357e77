/* authz.c: roles against teams, and the request checks that come before the store (see
 * authz.h). */
#include "admin/authz.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

pt_admin_role pt_admin_role_parse(const char *s)
{
    static const char *const names[] = {"admin", "team_admin", "developer", "consumer"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0) return (pt_admin_role)i;
    return PT_ROLE_NONE;
}

static bool role_writes(pt_admin_role role, pt_store_kind kind)
{
    switch (kind) {
    case PT_KIND_SERVICE: case PT_KIND_API:
        return role == PT_ROLE_TEAM_ADMIN || role == PT_ROLE_DEVELOPER;
    case PT_KIND_CONSUMER: case PT_KIND_KEY: case PT_KIND_SUBSCRIPTION:
        return role == PT_ROLE_TEAM_ADMIN || role == PT_ROLE_CONSUMER;
    case PT_KIND_USER: case PT_KIND_POLICY:
        return role == PT_ROLE_TEAM_ADMIN;
    default:
        return false;
    }
}

pt_authz pt_admin_authorize(pt_admin_role role, int64_t user_team, pt_store_kind kind, pt_admin_act act,
                            int64_t obj_team)
{
    if (role == PT_ROLE_ADMIN) return PT_AUTHZ_OK;
    if (role == PT_ROLE_NONE) return PT_AUTHZ_FORBIDDEN;
    if (kind == PT_KIND_AUDIT) return PT_AUTHZ_FORBIDDEN;
    if (user_team <= 0 || obj_team != user_team) return PT_AUTHZ_HIDDEN;
    if (act == PT_ACT_READ) return PT_AUTHZ_OK;
    if (act == PT_ACT_APPROVE) return role == PT_ROLE_TEAM_ADMIN ? PT_AUTHZ_OK : PT_AUTHZ_FORBIDDEN;
    return role_writes(role, kind) ? PT_AUTHZ_OK : PT_AUTHZ_FORBIDDEN;
}

int pt_admin_fail(pt_admin_err *e, int status, const char *code, const char *field, const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Nesting depth of JSON text, counting brackets outside strings; stops early past max. */
static unsigned json_depth(const char *p, size_t n, unsigned max)
{
    unsigned depth = 0, worst = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\') i++;
            else if (ch == '"') in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > worst) worst = depth;
            if (worst > max) break;
        } else if ((ch == '}' || ch == ']') && depth) {
            depth--;
        }
    }
    return worst;
}

json_t *pt_admin_parse_body(const char *data, size_t n, pt_admin_err *e)
{
    if (n == 0) {
        pt_admin_fail(e, 400, "invalid_json", "", "the request needs a JSON object body");
        return NULL;
    }
    if (json_depth(data, n, PT_ADMIN_MAX_DEPTH) > PT_ADMIN_MAX_DEPTH) {
        pt_admin_fail(e, 400, "invalid_json", "", "the JSON body is nested deeper than %d levels", PT_ADMIN_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        pt_admin_fail(e, 400, "invalid_json", "", "the body is not valid JSON: %s (line %d, column %d)", je.text,
                      je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        pt_admin_fail(e, 400, "invalid_json", "", "the body must be a JSON object");
        return NULL;
    }
    return v;
}

int pt_admin_known_fields(const json_t *obj, const char *const *allowed, pt_admin_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool found = false;
        for (const char *const *a = allowed; *a && !found; a++) found = strcmp(*a, k) == 0;
        if (!found)
            return pt_admin_fail(e, 400, "unknown_field", k, "unknown field '%.64s'", k);
    }
    return 0;
}

int64_t pt_admin_parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 18) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int64_t pt_admin_if_match(const char *v, size_t n)
{
    if (!v || n == 0 || (n == 1 && v[0] == '*')) return 0;
    if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    char tmp[24];
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    int64_t id = pt_admin_parse_id(tmp);
    return id > 0 ? id : -1;
}

static bool seg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
}

int pt_admin_split_path(const char *path, size_t n, char *buf, size_t cap, char *segs[PT_ADMIN_MAX_SEGS])
{
    static const char base[] = "/admin/v1/";
    size_t bl = sizeof base - 1;
    if (n < bl || memcmp(path, base, bl) != 0 || n - bl + 1 > cap) return -1;
    int count = 0;
    size_t o = 0;
    for (size_t i = bl; i <= n; i++) {
        if (i == n || path[i] == '/') {
            if (o == 0 || buf[o - 1] == 0) return -1; /* empty segment */
            if (count == PT_ADMIN_MAX_SEGS) return -1;
            buf[o++] = 0;
            continue;
        }
        if (!seg_char(path[i])) return -1;
        if (o == 0 || buf[o - 1] == 0) {
            if (count == PT_ADMIN_MAX_SEGS) return -1;
            segs[count++] = buf + o;
        }
        buf[o++] = path[i];
    }
    return count;
}

bool pt_admin_query(const char *q, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && q[end] != '&') end++;
        if (end - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
            size_t vl = end - i - nl - 1;
            if (vl >= cap) vl = cap - 1;
            memcpy(out, q + i + nl + 1, vl);
            out[vl] = 0;
            return true;
        }
        i = end + 1;
    }
    return false;
}
