/* prompt_load.c: a `kind: prompt` service's keys (model, prompt, variables, parameters,
 * output) as key tables over the configuration engine; every problem named by its key. */
#include "ai/prompt_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

#define MAX_VARS 64u

typedef struct loading {
    pt_prompt *p;
    const pt_ai_config *ai;
} loading;

static int accept_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return 0; } /* name, kind: the service's */

static int model_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    loading *l = obj;
    if (pt_cfg_str(c, v, &l->p->model)) return -1;
    if (!l->ai || l->ai->nmodels == 0) return pt_cfg_fail(c, v, "unknown model '%s' (no models: are configured)", PT_CFG_SHOW(v));
    if (pt_ai_config_model(l->ai, pt_slice_cstr(l->p->model))) return 0;
    const char **names = malloc(l->ai->nmodels * sizeof *names);
    if (!names) return pt_cfg_oom(c, v);
    for (size_t i = 0; i < l->ai->nmodels; i++) names[i] = l->ai->models[i].name;
    int rc = pt_cfg_unknown_name(c, v, "model", names, l->ai->nmodels);
    free(names);
    return rc;
}

static int tmpl_fn(pt_cfg *c, const pt_cfg_node *v, pt_tmpl *t)
{
    char *text = NULL;
    if (pt_cfg_str(c, v, &text)) return -1;
    char why[160];
    int rc = pt_tmpl_parse(text, strlen(text), t, why, sizeof why);
    free(text);
    return rc ? pt_cfg_fail(c, v, "%s", why) : 0;
}

static int system_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    loading *l = obj;
    l->p->has_system = true;
    return tmpl_fn(c, v, &l->p->system);
}

static int user_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return tmpl_fn(c, v, &((loading *)obj)->p->user); }

static const pt_cfg_field prompt_fields[] = {
    CFG_FUNC("system", system_fn),
    CFG_FUNC("user", user_fn),
    CFG_END,
};

static int prompt_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    loading *l = obj;
    if (pt_cfg_map_fields(c, v, prompt_fields, obj, NULL)) return -1;
    if (!l->p->user.src) return pt_cfg_fail(c, v, "missing required key 'user'");
    return 0;
}

/* A YAML value as JSON: quoted scalars are strings; plain ones null, booleans or numbers
 * when they read as such. */
json_t *pt_prompt_yaml_json(const pt_cfg_node *n)
{
    if (n->kind == PT_CFG_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n->n; i++) json_array_append_new(a, pt_prompt_yaml_json(n->items[i]));
        return a;
    }
    if (n->kind == PT_CFG_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; o && i < n->n; i++)
            json_object_set_new(o, n->items[2 * i]->text, pt_prompt_yaml_json(n->items[2 * i + 1]));
        return o;
    }
    if (n->quoted) return json_stringn(n->text, n->len);
    if (pt_cfg_is_null(n)) return json_null();
    if (strcmp(n->text, "true") == 0) return json_true();
    if (strcmp(n->text, "false") == 0) return json_false();
    char *end;
    long long i = strtoll(n->text, &end, 10);
    if (*n->text && !*end) return json_integer(i);
    double d = strtod(n->text, &end);
    if (*n->text && !*end && isfinite(d)) return json_real(d);
    return json_stringn(n->text, n->len);
}

static int number_of(pt_cfg *c, const pt_cfg_node *v, double *out)
{
    char *end;
    double d = v->kind == PT_CFG_SCALAR && !v->quoted ? strtod(v->text, &end) : NAN;
    if (isnan(d) || *end || !isfinite(d)) return pt_cfg_fail(c, v, "expected a number, got '%s'", PT_CFG_SHOW(v));
    *out = d;
    return 0;
}

static int var_type_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    static const char *const names[] = { "string", "number", "boolean", "enum" };
    int i = 0;
    if (pt_cfg_choice(c, v, "type", names, 4, &i)) return -1;
    d->type = (pt_pvar_type)i;
    return 0;
}

static int var_default_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    if (v->kind != PT_CFG_SCALAR) return pt_cfg_fail(c, v, "expected a single value, got %s", pt_cfg_kind_name(v));
    d->def = pt_prompt_yaml_json(v);
    return d->def ? 0 : pt_cfg_oom(c, v);
}

static int var_min_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    d->has_min = true;
    return number_of(c, v, &d->min);
}

static int var_max_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    d->has_max = true;
    return number_of(c, v, &d->max);
}

static int var_min_len_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    d->has_min_len = true;
    return pt_cfg_uint(c, v, 0, 1u << 20, &d->min_len);
}

static int var_max_len_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt_var *d = obj;
    d->has_max_len = true;
    return pt_cfg_uint(c, v, 0, 1u << 20, &d->max_len);
}

static int values_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pt_prompt_var *d = obj;
    return PT_CFG_ALLOC(c, v, d->values, d->nvalues, count) ? -1 : 0;
}

static int value_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    return pt_cfg_str(c, it, &((pt_prompt_var *)obj)->values[i]);
}

static const pt_cfg_list values_list = { "a list of values", 256, "at least one value is required", values_begin,
                                         value_entry };

static int var_values_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &values_list, obj); }

static const pt_cfg_field var_fields[] = {
    CFG_FUNC("type", var_type_fn),
    CFG_BOOL("required", pt_prompt_var, required),
    CFG_FUNC("default", var_default_fn),
    CFG_FUNC("min_length", var_min_len_fn),
    CFG_FUNC("max_length", var_max_len_fn),
    CFG_FUNC("min", var_min_fn),
    CFG_FUNC("max", var_max_fn),
    CFG_FUNC("values", var_values_fn),
    CFG_END,
};

/* What only the whole declaration can tell: keys that fit the type, a default that obeys it. */
static int finish_var(pt_cfg *c, const pt_cfg_node *n, pt_prompt_var *d)
{
    bool str = d->type == PT_PVAR_STRING, num = d->type == PT_PVAR_NUMBER;
    const char *wrong = !str && (d->has_min_len || d->has_max_len) ? (d->has_min_len ? "min_length" : "max_length")
                        : !num && (d->has_min || d->has_max)      ? (d->has_min ? "min" : "max")
                        : d->type != PT_PVAR_ENUM && d->values     ? "values"
                                                                   : NULL;
    if (wrong) return pt_cfg_fail_key(c, wrong, pt_cfg_map_get(n, wrong), "does not apply to this variable's type");
    if (d->type == PT_PVAR_ENUM && !d->values) return pt_cfg_fail(c, n, "an enum variable needs values");
    if (d->required && d->def) return pt_cfg_fail_key(c, "default", pt_cfg_map_get(n, "default"), "a required variable takes no default");
    if (d->def) {
        if (str && !json_is_string(d->def)) { /* a plain 42 is still a string's default */
            const pt_cfg_node *at = pt_cfg_map_get(n, "default");
            json_decref(d->def);
            d->def = json_stringn(at->text, at->len);
        }
        pt_prompt p = { .vars = d, .nvars = 1 };
        json_t *in = json_pack("{s:O}", d->name, d->def), *problems = json_array();
        json_t *ok = pt_prompt_vars(&p, in, problems);
        const char *why = json_string_value(json_object_get(json_array_get(problems, 0), "error"));
        int rc = ok ? 0 : pt_cfg_fail_key(c, "default", pt_cfg_map_get(n, "default"), "the default %s", why ? why : "is invalid");
        json_decref(ok);
        json_decref(in);
        json_decref(problems);
        return rc;
    }
    return 0;
}

static int vars_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    loading *l = obj;
    return PT_CFG_ALLOC(c, v, l->p->vars, l->p->nvars, count) ? -1 : 0;
}

static int var_pair(pt_cfg *c, const pt_cfg_node *k, const pt_cfg_node *val, size_t i, void *obj)
{
    loading *l = obj;
    pt_prompt_var *d = &l->p->vars[i];
    const char *s = k->text;
    bool ok = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_';
    for (size_t j = 1; ok && s[j]; j++)
        ok = (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '_';
    if (!ok || k->len > 64) return pt_cfg_fail(c, k, "'%s' is not a variable name (letters, digits and _)", PT_CFG_SHOW(k));
    if (strcmp(s, "stream") == 0) return pt_cfg_fail(c, k, "'stream' is reserved: the caller sets it to ask for events");
    if (!(d->name = strdup(s))) return pt_cfg_oom(c, k);
    if (val->kind != PT_CFG_MAP) return pt_cfg_fail(c, val, "expected a mapping with type, got %s", pt_cfg_kind_name(val));
    if (!pt_cfg_map_get(val, "type")) return pt_cfg_fail(c, val, "missing required key 'type'");
    if (pt_cfg_map_fields(c, val, var_fields, d, NULL)) return -1;
    return finish_var(c, val, d);
}

static const pt_cfg_pairs vars_pairs = { "a mapping of variable names to declarations", MAX_VARS, vars_begin, var_pair };

static int vars_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_pairs(c, v, &vars_pairs, obj); }

static int temperature_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_prompt *p = ((loading *)obj)->p;
    p->has_temperature = true;
    if (number_of(c, v, &p->temperature)) return -1;
    if (p->temperature < 0 || p->temperature > 2) return pt_cfg_fail(c, v, "must be between 0 and 2");
    return 0;
}

static int max_tokens_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return pt_cfg_uint(c, v, 1, 1000000, &((loading *)obj)->p->max_tokens);
}

static const pt_cfg_field param_fields[] = {
    CFG_FUNC("temperature", temperature_fn),
    CFG_FUNC("max_tokens", max_tokens_fn),
    CFG_END,
};

static int params_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_fields(c, v, param_fields, obj, NULL); }

static int schema_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    loading *l = obj;
    json_t *j = pt_prompt_yaml_json(v);
    if (!j) return pt_cfg_oom(c, v);
    char why[320];
    l->p->schema = pt_jschema_new(j, why, sizeof why);
    json_decref(j);
    return l->p->schema ? 0 : pt_cfg_fail(c, v, "%s", why);
}

static const pt_cfg_field output_fields[] = {
    CFG_FUNC("json_schema", schema_fn),
    CFG_END,
};

/* `output: text` (the default) or `output: { json_schema: {...} }`. */
static int output_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    if (v->kind == PT_CFG_SCALAR && strcmp(v->text, "text") == 0) return 0;
    if (v->kind != PT_CFG_MAP) return pt_cfg_fail(c, v, "expected text or { json_schema: {...} }, got '%s'", PT_CFG_SHOW(v));
    return pt_cfg_map_fields(c, v, output_fields, obj, NULL);
}

static const pt_cfg_field service_fields[] = {
    CFG_FUNC("name", accept_fn),
    CFG_FUNC("kind", accept_fn),
    CFG_FUNC("model", model_fn),
    CFG_FUNC("prompt", prompt_fn),
    CFG_FUNC("variables", vars_fn),
    CFG_FUNC("parameters", params_fn),
    CFG_FUNC("output", output_fn),
    CFG_END,
};

pt_prompt *pt_prompt_map(pt_cfg *c, const pt_cfg_node *svc, const pt_ai_config *ai)
{
    loading l = { .p = calloc(1, sizeof(pt_prompt)), .ai = ai };
    if (!l.p) {
        pt_cfg_oom(c, svc);
        return NULL;
    }
    int rc = pt_cfg_map_fields(c, svc, service_fields, &l, NULL);
    if (!rc && !l.p->model) rc = pt_cfg_fail(c, svc, "missing required key 'model'");
    if (!rc && !l.p->user.src) rc = pt_cfg_fail(c, svc, "missing required key 'prompt' (with user:)");
    char why[200];
    if (!rc && pt_prompt_bind(l.p, why, sizeof why)) rc = pt_cfg_fail(c, svc, "%s", why);
    if (rc) {
        pt_prompt_free(l.p);
        return NULL;
    }
    return l.p;
}
