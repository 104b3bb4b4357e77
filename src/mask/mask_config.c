/* mask_config.c: mapping a policy's `mask:` member (mask_config.h). */
#include "mask/mask_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

void pt_mask_spec_free(pt_mask_spec *s)
{
    if (!s) return;
    pt_mask_rules_release(&s->request);
    pt_mask_rules_release(&s->response);
    free(s);
}

/* One rule as written. */
typedef struct rule_in {
    char *name, *path, *regex, *detect, *action, *with;
    unsigned keep;
} rule_in;

static const pt_cfg_field rule_fields[] = {
    CFG_STR("name", rule_in, name),     CFG_STR("path", rule_in, path),     CFG_STR("regex", rule_in, regex),
    CFG_STR("detect", rule_in, detect), CFG_STR("action", rule_in, action), CFG_STR("with", rule_in, with),
    CFG_UINT("keep", rule_in, keep, 0, 32), CFG_END,
};
enum { SEEN_KEEP = 1u << 6 };

static void rule_in_free(rule_in *r)
{
    free(r->name);
    free(r->path);
    free(r->regex);
    free(r->detect);
    free(r->action);
    free(r->with);
}

/* A list being mapped: its rules and which direction it is. */
typedef struct list_map {
    pt_mask_rules *rules;
    bool response;
} list_map;

static int fail_key(pt_cfg *c, const pt_cfg_node *n, const char *key, const char *fmt, const char *arg)
{
    const pt_cfg_node *at = pt_cfg_map_get(n, key);
    return pt_cfg_fail_key(c, key, at ? at : n, fmt, arg);
}

static int set_action(pt_cfg *c, const pt_cfg_node *n, const rule_in *in, pt_mask_rule *u, bool response)
{
    static const char *const names[] = { "mask", "replace", "refuse" };
    u->action = PT_MASK_MASK;
    if (in->action) {
        size_t i = 0;
        while (i < 3 && strcmp(in->action, names[i]) != 0) i++;
        if (i == 3) {
            size_t mark = pt_cfg_push_key(c, "action");
            int rc = pt_cfg_unknown_name(c, pt_cfg_map_get(n, "action"), "action", names, 3);
            pt_cfg_pop(c, mark);
            return rc;
        }
        u->action = (pt_mask_action)i;
    }
    if (u->action == PT_MASK_REFUSE && response)
        return fail_key(c, n, "action", "%s applies to requests only: an answer already flowing cannot be refused "
                                        "(use mask or replace)", "refuse");
    if (in->with && u->action != PT_MASK_REPLACE)
        return fail_key(c, n, "with", "%s is the text of action replace; this rule's action is not replace", "with");
    return 0;
}

static int set_target(pt_cfg *c, const pt_cfg_node *n, rule_in *in, pt_mask_rule *u, size_t idx)
{
    int given = !!in->path + !!in->regex + !!in->detect;
    if (given != 1)
        return pt_cfg_fail(c, n, "a rule names exactly one of path, regex or detect, not %d", given);
    char why[160], def[24];
    if (in->path) {
        u->by = PT_MASK_BY_PATH;
        if (!(u->path = pt_jpath_parse(in->path, strlen(in->path), why, sizeof why)))
            return fail_key(c, n, "path", "%s", why);
        u->name = in->name ? in->name : in->path;
    } else if (in->regex) {
        u->by = PT_MASK_BY_REGEX;
        int rc = regcomp(&u->re, in->regex, REG_EXTENDED);
        if (rc != 0) {
            regerror(rc, &u->re, why, sizeof why);
            return fail_key(c, n, "regex", "not a POSIX extended regular expression: %s", why);
        }
        u->re_ok = true;
        snprintf(def, sizeof def, "regex_%zu", idx);
        u->name = in->name ? in->name : strdup(def);
    } else {
        int d = pt_detector_from_name(in->detect);
        if (d < 0) {
            static const char *const names[] = { "email", "phone", "card", "ssn", "uk_nino", "api_key" };
            size_t mark = pt_cfg_push_key(c, "detect");
            int rc = pt_cfg_unknown_name(c, pt_cfg_map_get(n, "detect"), "detector", names, PT_DET_COUNT);
            pt_cfg_pop(c, mark);
            return rc;
        }
        u->by = PT_MASK_BY_DETECT;
        u->det = (pt_detector)d;
        u->name = in->name ? in->name : strdup(in->detect);
    }
    if (u->name == in->name) in->name = NULL;
    if (u->name == in->path) in->path = NULL;
    return u->name ? 0 : pt_cfg_oom(c, n);
}

static int rules_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    list_map *m = obj;
    return PT_CFG_ALLOC(c, v, m->rules->v, m->rules->n, count);
}

static int rule_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    list_map *m = obj;
    pt_mask_rule *u = &m->rules->v[i];
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping such as { detect: card } or { path: $.user.email, action: "
                                  "replace }, got %s", pt_cfg_kind_name(it));
    rule_in in = { .keep = PT_MASK_KEEP_DEFAULT };
    uint64_t seen = 0;
    int rc = pt_cfg_map_fields(c, it, rule_fields, &in, &seen);
    if (rc == 0) rc = set_target(c, it, &in, u, i);
    if (rc == 0) rc = set_action(c, it, &in, u, m->response);
    if (rc == 0 && (seen & SEEN_KEEP) && u->action != PT_MASK_MASK)
        rc = fail_key(c, it, "keep", "%s is for action mask; this rule's action is not mask", "keep");
    u->keep = in.keep;
    u->with = in.with;
    in.with = NULL;
    rule_in_free(&in);
    for (size_t j = 0; rc == 0 && j < i; j++)
        if (m->rules->v[j].name && strcmp(m->rules->v[j].name, u->name) == 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "duplicate rule name '%%s' (also [%zu]); give each a name", j);
            rc = pt_cfg_fail(c, it, msg, u->name);
        }
    if (rc == 0) {
        m->rules->has_path |= u->by == PT_MASK_BY_PATH;
        m->rules->has_text |= u->by != PT_MASK_BY_PATH;
        m->rules->has_regex |= u->by == PT_MASK_BY_REGEX;
    }
    return rc;
}

static const pt_cfg_list rules_list = { "a list of masking rules", PT_MASK_MAX_RULES, NULL, rules_begin, rule_entry };

static int request_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    list_map m = { &((pt_mask_spec *)obj)->request, false };
    return pt_cfg_map_list(c, v, &rules_list, &m);
}

static int response_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    list_map m = { &((pt_mask_spec *)obj)->response, true };
    return pt_cfg_map_list(c, v, &rules_list, &m);
}

static const pt_cfg_field spec_fields[] = {
    CFG_FUNC("request", request_fn),
    CFG_FUNC("response", response_fn),
    CFG_END,
};

int pt_mask_spec_map(pt_cfg *c, const pt_cfg_node *v, pt_mask_spec **out)
{
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping with request and/or response rule lists, got %s",
                           pt_cfg_kind_name(v));
    pt_mask_spec *s = calloc(1, sizeof *s);
    if (!s) return pt_cfg_oom(c, v);
    pt_mask_spec_free(*out);
    *out = s;
    if (pt_cfg_map_fields(c, v, spec_fields, s, NULL) != 0) return -1;
    if (!s->request.n && !s->response.n)
        return pt_cfg_fail(c, v, "mask has no rules: give a request or a response list (or both)");
    return 0;
}

/* ---- a route's call_log bodies ---- */

void pt_mask_bodies_free(pt_mask_bodies *b)
{
    if (!b) return;
    pt_mask_rules_release(&b->redact);
    free(b);
}

typedef struct bodies_in {
    bool bodies;
    uint64_t body_max;
    const pt_cfg_node *redact;
} bodies_in;

static const pt_cfg_field bodies_fields[] = {
    CFG_BOOL("bodies", bodies_in, bodies),
    CFG_SIZE("body_max", bodies_in, body_max, 1, PT_MASK_BODY_MAX_LIMIT),
    CFG_NODE("redact", bodies_in, redact),
    CFG_END,
};

typedef struct redact_in {
    const pt_cfg_node *fields, *regex;
} redact_in;

static const pt_cfg_field redact_fields[] = {
    CFG_NODE("fields", redact_in, fields),
    CFG_NODE("regex", redact_in, regex),
    CFG_END,
};

/* Appends a replace rule to r (room was made); re is compiled here. */
static int add_replace(pt_cfg *c, const pt_cfg_node *at, pt_mask_rules *r, const char *name, const char *re,
                       const char *with, int det)
{
    pt_mask_rule *u = &r->v[r->n];
    *u = (pt_mask_rule){ .action = PT_MASK_REPLACE, .by = det >= 0 ? PT_MASK_BY_DETECT : PT_MASK_BY_REGEX,
                         .det = det >= 0 ? (pt_detector)det : PT_DET_EMAIL };
    if (!(u->name = strdup(name)) || (with && !(u->with = strdup(with)))) {
        r->n++;
        return pt_cfg_oom(c, at);
    }
    r->n++;
    r->has_text = true;
    if (det >= 0) return 0;
    r->has_regex = true;
    int rc = regcomp(&u->re, re, REG_EXTENDED);
    if (rc != 0) {
        char why[160];
        regerror(rc, &u->re, why, sizeof why);
        return pt_cfg_fail(c, at, "not a POSIX extended regular expression: %s", why);
    }
    u->re_ok = true;
    return 0;
}

static bool field_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              strchr("_.-", s[i])))
            return false;
    return true;
}

/* A named field as a regex over JSON text: the member, its value a string (perhaps cut
 * short at body_max) or a scalar. */
static int add_field(pt_cfg *c, const pt_cfg_node *at, pt_mask_rules *r, const char *name)
{
    if (!field_name_ok(name))
        return pt_cfg_fail(c, at, "'%s' is not a field name (1 to 64 letters, digits, _ . -)", PT_CFG_SHOW(at));
    char esc[160], re[320], with[96];
    size_t k = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '.') k += (size_t)snprintf(esc + k, sizeof esc - k, "[.]");
        else esc[k++] = *p;
    }
    esc[k] = '\0';
    /* quotes may come escaped (a JSON document inside a string): the value then runs to the
     * end of the outer string, which hides more than the field, never less */
    snprintf(re, sizeof re, "\\\\?\"%s\\\\?\"[[:space:]]*:[[:space:]]*(\\\\?\"([^\"\\\\]|\\\\.)*(\"|$)|[^],}[:space:]]+)",
             esc);
    snprintf(with, sizeof with, "\"%s\":\"[REDACTED]\"", name);
    char rname[80];
    snprintf(rname, sizeof rname, "field:%s", name);
    return add_replace(c, at, r, rname, re, with, -1);
}

/* Reads a list of strings under key of n through one(). */
static int each_string(pt_cfg *c, const pt_cfg_node *n, const char *key, pt_mask_rules *r,
                       int (*one)(pt_cfg *, const pt_cfg_node *, pt_mask_rules *, const char *, size_t))
{
    if (!n) return 0;
    size_t mark = pt_cfg_push_key(c, key);
    int rc = 0;
    if (n->kind != PT_CFG_SEQ) {
        rc = pt_cfg_fail(c, n, "expected a list of strings, got %s", pt_cfg_kind_name(n));
    } else {
        for (size_t i = 0; i < n->n && rc == 0; i++) {
            size_t m2 = pt_cfg_push_index(c, i);
            char *s = NULL;
            rc = pt_cfg_str(c, n->items[i], &s);
            if (rc == 0) rc = one(c, n->items[i], r, s, i);
            free(s);
            pt_cfg_pop(c, m2);
        }
    }
    pt_cfg_pop(c, mark);
    return rc;
}

static int one_field(pt_cfg *c, const pt_cfg_node *at, pt_mask_rules *r, const char *s, size_t i)
{
    return add_field(c, at, r, s);
}

static int one_regex(pt_cfg *c, const pt_cfg_node *at, pt_mask_rules *r, const char *s, size_t i)
{
    char name[32];
    snprintf(name, sizeof name, "regex_%zu", i);
    return add_replace(c, at, r, name, s, NULL, -1);
}

int pt_mask_bodies_map(pt_cfg *c, const pt_cfg_node *v, pt_mask_bodies **out)
{
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping such as { bodies: true, body_max: 4096 }, got %s",
                           pt_cfg_kind_name(v));
    bodies_in in = { .body_max = PT_MASK_BODY_MAX_DEFAULT };
    if (pt_cfg_map_fields(c, v, bodies_fields, &in, NULL) != 0) return -1;
    redact_in rd = { 0 };
    if (in.redact) {
        size_t mark = pt_cfg_push_key(c, "redact");
        int rc = in.redact->kind == PT_CFG_MAP ? pt_cfg_map_fields(c, in.redact, redact_fields, &rd, NULL)
                                               : pt_cfg_fail(c, in.redact, "expected a mapping with fields and regex");
        pt_cfg_pop(c, mark);
        if (rc != 0) return -1;
    }
    if (!in.bodies) return 0;
    pt_mask_bodies *b = calloc(1, sizeof *b);
    size_t cap = 2 + (rd.fields && rd.fields->kind == PT_CFG_SEQ ? rd.fields->n : 0) +
                 (rd.regex && rd.regex->kind == PT_CFG_SEQ ? rd.regex->n : 0);
    if (!b || !(b->redact.v = calloc(cap, sizeof *b->redact.v))) {
        free(b);
        return pt_cfg_oom(c, v);
    }
    pt_mask_bodies_free(*out);
    *out = b;
    b->body_max = (unsigned)in.body_max;
    if (add_replace(c, v, &b->redact, "api_key", NULL, NULL, PT_DET_API_KEY) != 0 ||
        add_replace(c, v, &b->redact, "card", NULL, NULL, PT_DET_CARD) != 0)
        return -1;
    size_t mark = pt_cfg_push_key(c, "redact");
    int rc = each_string(c, rd.fields, "fields", &b->redact, one_field);
    if (rc == 0) rc = each_string(c, rd.regex, "regex", &b->redact, one_regex);
    pt_cfg_pop(c, mark);
    return rc;
}
