/* prompt.c: templates, variables, the rendered request and the checked output of a prompt
 * API (see prompt.h). */
#include "ai/prompt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 4096

/* ---- templates ----------------------------------------------------------------------- */

static bool name_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (!first && ch >= '0' && ch <= '9');
}

static int add_seg(pt_tmpl *t, size_t off, size_t len, bool is_var)
{
    if (len == 0 && !is_var) return 0;
    if (t->nsegs == MAX_SEGS) return -1;
    pt_tmpl_seg *s = realloc(t->segs, (t->nsegs + 1) * sizeof *s);
    if (!s) return -1;
    t->segs = s;
    s[t->nsegs++] = (pt_tmpl_seg){ .off = off, .len = len, .is_var = is_var, .var = -1 };
    return 0;
}

/* One "{{ name }}" starting at i (the two braces). Returns the offset after it, or 0. */
static size_t parse_var(const char *s, size_t len, size_t i, size_t *name_off, size_t *name_len, const char **why)
{
    size_t j = i + 2;
    while (j < len && (s[j] == ' ' || s[j] == '\t')) j++;
    size_t start = j;
    while (j < len && name_char(s[j], j == start)) j++;
    size_t end = j;
    while (j < len && (s[j] == ' ' || s[j] == '\t')) j++;
    if (j + 1 >= len || s[j] != '}' || s[j + 1] != '}') {
        *why = end == start ? "'{{' is not followed by a variable name" : "'{{' is not closed by '}}'";
        if (end > start && j < len && s[j] != '}') *why = "a variable name has letters, digits and '_' only";
        return 0;
    }
    if (end == start) {
        *why = "'{{' is not followed by a variable name";
        return 0;
    }
    *name_off = start;
    *name_len = end - start;
    return j + 2;
}

int pt_tmpl_parse(const char *src, size_t len, pt_tmpl *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    json_t *utf8 = json_stringn(src, len); /* jansson refuses invalid UTF-8 (and nothing else) */
    if (!utf8) {
        snprintf(why, whylen, "not UTF-8 text");
        return -1;
    }
    json_decref(utf8);
    if (!(out->src = malloc(len + 1))) goto oom;
    memcpy(out->src, src, len);
    out->src[len] = '\0';
    out->src_len = len;
    size_t text = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (src[i] != '{' || src[i + 1] != '{') continue;
        size_t noff = 0, nlen = 0;
        const char *bad = NULL;
        size_t after = parse_var(src, len, i, &noff, &nlen, &bad);
        if (!after) {
            snprintf(why, whylen, "at byte %zu: %s", i, bad);
            pt_tmpl_release(out);
            return -1;
        }
        if (add_seg(out, text, i - text, false) || add_seg(out, noff, nlen, true)) goto oom;
        text = after;
        i = after - 1;
    }
    if (add_seg(out, text, len - text, false)) goto oom;
    return 0;
oom:
    snprintf(why, whylen, "out of memory or more than %d pieces", MAX_SEGS);
    pt_tmpl_release(out);
    return -1;
}

void pt_tmpl_release(pt_tmpl *t)
{
    free(t->src);
    free(t->segs);
    memset(t, 0, sizeof *t);
}

/* ---- the prompt ---------------------------------------------------------------------- */

void pt_prompt_free(pt_prompt *p)
{
    if (!p) return;
    free(p->model);
    pt_tmpl_release(&p->system);
    pt_tmpl_release(&p->user);
    for (size_t i = 0; i < p->nvars; i++) {
        pt_prompt_var *v = &p->vars[i];
        free(v->name);
        json_decref(v->def);
        for (size_t k = 0; k < v->nvalues; k++) free(v->values[k]);
        free(v->values);
    }
    free(p->vars);
    pt_jschema_free(p->schema);
    free(p);
}

int pt_prompt_find_var(const pt_prompt *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nvars; i++)
        if (p->vars[i].name && strlen(p->vars[i].name) == len && memcmp(p->vars[i].name, name, len) == 0) return (int)i;
    return -1;
}

static int bind_tmpl(pt_prompt *p, pt_tmpl *t, const char *which, bool *used, char *why, size_t whylen)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        pt_tmpl_seg *s = &t->segs[i];
        if (!s->is_var) continue;
        s->var = pt_prompt_find_var(p, t->src + s->off, s->len);
        if (s->var < 0) {
            snprintf(why, whylen, "%s: the variable '%.*s' is not declared in variables", which, (int)s->len,
                     t->src + s->off);
            return -1;
        }
        used[s->var] = true;
    }
    return 0;
}

int pt_prompt_bind(pt_prompt *p, char *why, size_t whylen)
{
    bool *used = calloc(p->nvars + 1, sizeof *used);
    if (!used) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int rc = bind_tmpl(p, &p->system, "prompt.system", used, why, whylen);
    if (!rc) rc = bind_tmpl(p, &p->user, "prompt.user", used, why, whylen);
    for (size_t i = 0; !rc && i < p->nvars; i++)
        if (p->vars[i].required && !used[i]) {
            snprintf(why, whylen, "variables.%s: required but no template uses it", p->vars[i].name);
            rc = -1;
        }
    free(used);
    return rc;
}

/* ---- variables ----------------------------------------------------------------------- */

static void problem(json_t *problems, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(json_t *problems, const char *name, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_array_append_new(problems, json_pack("{s:s,s:s}", "variable", name, "error", text));
}

/* One value against its declaration; false after adding the problem. */
static bool check_value(const pt_prompt_var *d, const json_t *v, json_t *problems)
{
    switch (d->type) {
    case PT_PVAR_STRING: {
        if (!json_is_string(v)) return problem(problems, d->name, "must be a string"), false;
        size_t n = pt__utf8_chars(json_string_value(v), json_string_length(v));
        if (d->has_min_len && n < d->min_len)
            return problem(problems, d->name, "must be at least %llu characters", (unsigned long long)d->min_len), false;
        if (d->has_max_len && n > d->max_len)
            return problem(problems, d->name, "must be at most %llu characters", (unsigned long long)d->max_len), false;
        return true;
    }
    case PT_PVAR_NUMBER: {
        if (!json_is_number(v)) return problem(problems, d->name, "must be a number"), false;
        double x = json_number_value(v);
        if (d->has_min && x < d->min) return problem(problems, d->name, "must be at least %g", d->min), false;
        if (d->has_max && x > d->max) return problem(problems, d->name, "must be at most %g", d->max), false;
        return true;
    }
    case PT_PVAR_BOOLEAN:
        if (!json_is_boolean(v)) return problem(problems, d->name, "must be true or false"), false;
        return true;
    case PT_PVAR_ENUM:
        for (size_t k = 0; json_is_string(v) && k < d->nvalues; k++)
            if (strcmp(d->values[k], json_string_value(v)) == 0) return true;
        problem(problems, d->name, "must be one of the declared values");
        return false;
    }
    return false;
}

json_t *pt_prompt_vars(const pt_prompt *p, const json_t *in, json_t *problems)
{
    json_t *out = json_object();
    if (!out) return NULL;
    size_t before = json_array_size(problems);
    for (size_t i = 0; i < p->nvars; i++) {
        const pt_prompt_var *d = &p->vars[i];
        const json_t *v = json_object_get(in, d->name);
        if (!v || json_is_null(v)) {
            if (d->required) problem(problems, d->name, "is required");
            else if (d->def) json_object_set(out, d->name, d->def);
            continue;
        }
        if (check_value(d, v, problems)) json_object_set(out, d->name, (json_t *)v);
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)in, name, v)
        if (pt_prompt_find_var(p, name, strlen(name)) < 0) problem(problems, name, "is not a variable of this API");
    if (json_array_size(problems) != before) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- rendering ----------------------------------------------------------------------- */

/* A value as message text: strings as they are, numbers and booleans as JSON writes them. */
static void append_value(pt_buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        pt_buf_append(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        pt_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        pt_buf_printf(b, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        pt_buf_append_str(b, json_is_true(v) ? "true" : "false");
    }
}

/* The template's text with values put in; the result is data, never parsed again. */
static void render_tmpl(const pt_prompt *p, const pt_tmpl *t, const json_t *values, pt_buf *b)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        const pt_tmpl_seg *s = &t->segs[i];
        if (!s->is_var) pt_buf_append(b, t->src + s->off, s->len);
        else if (s->var >= 0) append_value(b, json_object_get(values, p->vars[s->var].name));
    }
}

static json_t *message(const char *role, const char *text, size_t len)
{
    return json_pack("{s:s,s:s%}", "role", role, "content", text ? text : "", text ? len : 0);
}

json_t *pt_prompt_messages(const pt_prompt *p, const json_t *values)
{
    json_t *msgs = json_array();
    pt_buf b = PT_BUF_INIT;
    if (p->has_system || p->schema) {
        render_tmpl(p, &p->system, values, &b);
        if (p->schema) {
            char *schema = json_dumps(pt_jschema_json(p->schema), JSON_COMPACT | JSON_SORT_KEYS);
            pt_buf_append_str(&b, b.len ? "\n\n" : "");
            pt_buf_append_str(&b, "Answer with one JSON value only, without any other text, valid against this JSON "
                                  "Schema: ");
            pt_buf_append_str(&b, schema ? schema : "{}");
            free(schema);
        }
        if (json_array_append_new(msgs, message("system", b.data, b.len))) goto fail;
        pt_buf_reset(&b);
    }
    render_tmpl(p, &p->user, values, &b);
    if (json_array_append_new(msgs, message("user", b.data, b.len))) goto fail;
    pt_buf_release(&b);
    return msgs;
fail: /* out of memory: a message missing would change the conversation */
    pt_buf_release(&b);
    json_decref(msgs);
    return NULL;
}

int pt_prompt_add_correction(json_t *messages, const char *answer, size_t len, const char *why)
{
    char text[512];
    snprintf(text, sizeof text,
             "That answer is not valid: %s. Answer again with the JSON value only, valid against the schema.", why);
    if (json_array_append_new(messages, message("assistant", answer, len))) return -1;
    return json_array_append_new(messages, message("user", text, strlen(text)));
}

/* A JSON string member "name":"value" (value's bytes escaped), after a comma when not first. */
static int member_str(pt_buf *b, const char *name, const char *value, size_t len, bool first)
{
    int rc = pt_buf_append_str(b, first ? "\"" : ",\"");
    rc |= pt_buf_append_str(b, name);
    rc |= pt_buf_append_str(b, "\":\"");
    rc |= pt_buf_append_json_escaped(b, value, len);
    return rc | pt_buf_append_str(b, "\"");
}

/* Written directly rather than through jansson: this is on every call's path. */
int pt_prompt_body(const pt_prompt *p, const json_t *messages, bool stream, pt_buf *out)
{
    size_t i;
    const json_t *m;
    int rc = pt_buf_append_str(out, "{");
    rc |= member_str(out, "model", p->model, strlen(p->model), true);
    rc |= pt_buf_append_str(out, ",\"messages\":[");
    json_array_foreach(messages, i, m) {
        const json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !json_is_string(content)) return -1;
        rc |= pt_buf_append_str(out, i ? ",{" : "{");
        rc |= member_str(out, "role", json_string_value(role), json_string_length(role), true);
        rc |= member_str(out, "content", json_string_value(content), json_string_length(content), false);
        rc |= pt_buf_append_str(out, "}");
    }
    rc |= pt_buf_append_str(out, stream ? "],\"stream\":true" : "],\"stream\":false");
    if (p->has_temperature) rc |= pt_buf_printf(out, ",\"temperature\":%.17g", p->temperature) < 0;
    if (p->max_tokens) rc |= pt_buf_printf(out, ",\"max_tokens\":%llu", (unsigned long long)p->max_tokens) < 0;
    rc |= pt_buf_append_str(out, "}");
    return rc ? -1 : 0;
}

int pt_prompt_render(const pt_prompt *p, const json_t *variables, json_t **out)
{
    json_t *problems = json_array();
    json_t *values = problems ? pt_prompt_vars(p, variables, problems) : NULL;
    if (!values) {
        *out = problems;
        return problems && json_array_size(problems) ? 400 : 500;
    }
    json_decref(problems);
    json_t *msgs = pt_prompt_messages(p, values);
    json_decref(values);
    pt_buf body = PT_BUF_INIT;
    json_t *req = msgs && pt_prompt_body(p, msgs, false, &body) == 0 ? json_loadb(body.data, body.len, 0, NULL) : NULL;
    pt_buf_release(&body);
    *out = req ? json_pack("{s:s,s:o,s:o}", "model", p->model, "messages", msgs, "request", req) : NULL;
    if (!req) json_decref(msgs);
    return *out ? 200 : 500;
}

/* ---- output -------------------------------------------------------------------------- */

/* The text inside a ``` fence (with an optional language word), or the text itself. */
static void unfence(const char **text, size_t *len)
{
    const char *s = *text, *end = s + *len;
    while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) end--;
    if (end - s >= 6 && memcmp(s, "```", 3) == 0 && memcmp(end - 3, "```", 3) == 0) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl && nl < end - 3) {
            s = nl + 1;
            end -= 3;
        }
    }
    *text = s;
    *len = (size_t)(end - s);
}

json_t *pt_prompt_output(const pt_prompt *p, const char *text, size_t len, char *why, size_t whylen)
{
    unfence(&text, &len);
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        snprintf(why, whylen, "the answer is not JSON (%s at character %d)", jerr.text, jerr.position);
        return NULL;
    }
    if (p->schema && pt_jschema_validate(p->schema, v, why, whylen)) {
        json_decref(v);
        return NULL;
    }
    return v;
}
