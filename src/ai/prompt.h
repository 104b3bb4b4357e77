/* prompt.h: prompt APIs without sockets: a template (system and user messages) with
 * declared, typed variables; checking a caller's variables; rendering the Chat Completions
 * body the AI plan runs; checking the model's JSON output against the API's schema.
 *
 * Templates name variables as {{name}} (spaces inside the braces allowed). A value is
 * inserted as message text only: the rendered text is never scanned again, so a value
 * holding "{{...}}" or text that imitates the end of the template stays where it was put,
 * inside the message that declared it. */
#ifndef PT_AI_PROMPT_H
#define PT_AI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ai/jschema.h"
#include "core/buf.h"

/* ---- templates ----------------------------------------------------------------------- */

/* A template as pieces: literal text, or a variable (var >= 0 once bound). */
typedef struct pt_tmpl_seg {
    size_t off, len; /* into src: the text, or the variable's name */
    bool is_var;
    int var;         /* index into the prompt's variables; -1 until bound */
} pt_tmpl_seg;

typedef struct pt_tmpl {
    char *src;
    size_t src_len;
    pt_tmpl_seg *segs;
    size_t nsegs;
} pt_tmpl;

/* Splits src (UTF-8) into pieces. -1 with why ("at byte 12: '{{' is not closed") on an
 * unclosed "{{", an empty or invalid name (letters, digits, '_', not starting with a
 * digit), or text that is not UTF-8. */
int pt_tmpl_parse(const char *src, size_t len, pt_tmpl *out, char *why, size_t whylen);
void pt_tmpl_release(pt_tmpl *t);

/* ---- variables ----------------------------------------------------------------------- */

typedef enum { PT_PVAR_STRING, PT_PVAR_NUMBER, PT_PVAR_BOOLEAN, PT_PVAR_ENUM } pt_pvar_type;

typedef struct pt_prompt_var {
    char *name;
    pt_pvar_type type;
    bool required;
    json_t *def;                 /* default value, or NULL (an optional variable renders as "") */
    bool has_min_len, has_max_len;
    uint64_t min_len, max_len;   /* strings, in characters */
    bool has_min, has_max;
    double min, max;             /* numbers */
    char **values;               /* enum */
    size_t nvalues;
} pt_prompt_var;

typedef struct pt_prompt {
    char *model;                 /* a name from models: */
    pt_tmpl system, user;        /* system may be empty (no pieces) */
    bool has_system;
    pt_prompt_var *vars;
    size_t nvars;
    bool has_temperature;
    double temperature;
    uint64_t max_tokens;         /* 0: the provider's default */
    pt_jschema *schema;          /* JSON output mode; NULL for text */
} pt_prompt;

void pt_prompt_free(pt_prompt *p);
int pt_prompt_find_var(const pt_prompt *p, const char *name, size_t len);
/* Links each template's variables to the declarations. -1 with why naming the first
 * undeclared variable, or a required variable no template uses. */
int pt_prompt_bind(pt_prompt *p, char *why, size_t whylen);

/* Checks a caller's variables (a JSON object) against the declarations: every problem,
 * not only the first, is appended to problems as {"variable": name, "error": text}.
 * Returns the values to render (defaults filled in) or NULL when anything is wrong. */
json_t *pt_prompt_vars(const pt_prompt *p, const json_t *in, json_t *problems);

/* The conversation for values (as returned by pt_prompt_vars): the system and user
 * messages, each an {"role","content"} object. NULL when out of memory. */
json_t *pt_prompt_messages(const pt_prompt *p, const json_t *values);
/* Appends the model's rejected answer and a user message saying why, for the one retry. */
int pt_prompt_add_correction(json_t *messages, const char *answer, size_t len, const char *why);
/* The Chat Completions body for messages. */
int pt_prompt_body(const pt_prompt *p, const json_t *messages, bool stream, pt_buf *out);

/* The dry run: variables checked and the request rendered without calling a model.
 * Returns 200 and *out = {"model", "messages", "request"} (the Chat Completions body), or
 * 400 and *out = the problems (as pt_prompt_vars lists them), or 500 (out of memory). */
int pt_prompt_render(const pt_prompt *p, const json_t *variables, json_t **out);

/* JSON mode: the model's text parsed (a ```json fence around it is accepted) and
 * validated. NULL with why when it is not JSON or does not match the schema. */
json_t *pt_prompt_output(const pt_prompt *p, const char *text, size_t len, char *why, size_t whylen);

#endif
