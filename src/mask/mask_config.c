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
