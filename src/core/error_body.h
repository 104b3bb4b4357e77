/* error_body.h: the one renderer of error bodies, in each format a client reads.
 *
 *   gateway:   {"error":{"status":502,"code":"upstream_unavailable","message":"...","request_id":"...",
 *               "service":"...","cause":"...","attempts":2,"target":"..."}}  followed by a newline;
 *              the last four members only when set
 *   OpenAI:    {"error":{"message":"...","type":"...","param":null,"code":null}}
 *   Anthropic: {"type":"error","error":{"type":"...","message":"..."}}
 *   Gemini:    {"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}} (Google's
 *              status names, from "type" or the HTTP status)
 *
 * Every string is escaped, so a message quoting hostile input (a path, a header, a
 * provider's answer) always gives valid JSON. The AI streams frame the same object as
 * an SSE event (pt_error_body_render_event). */
#ifndef PT_CORE_ERROR_BODY_H
#define PT_CORE_ERROR_BODY_H

#include "core/buf.h"

typedef enum pt_error_format {
    PT_ERRFMT_GATEWAY = 0,
    PT_ERRFMT_OPENAI,
    PT_ERRFMT_ANTHROPIC,
    PT_ERRFMT_GEMINI,
} pt_error_format;

/* Borrowed for the call. Members a format has no place for are ignored. */
typedef struct pt_error_body {
    int status;
    const char *code;       /* gateway and OpenAI "code"; NULL: null (gateway: "error") */
    const char *type;       /* OpenAI and Anthropic "type", Gemini "status"; NULL: the usual one for status */
    const char *param;      /* OpenAI "param"; NULL or "": null */
    const char *message;    /* NULL: "" */
    const char *request_id; /* gateway only; NULL: "" */
    /* gateway only, each left out when NULL / 0: */
    const char *service;    /* the service the request was for */
    const char *cause;      /* why the last upstream attempt failed */
    unsigned attempts;      /* upstream attempts made */
    const char *target;     /* the last target's address */
} pt_error_body;

/* Appends the body to out. Returns 0, or PT_ETOOBIG / PT_ENOMEM from out. */
int pt_error_body_render(pt_buf *out, pt_error_format fmt, const pt_error_body *e);
/* The same object as one server-sent event: "data: {...}\n\n" for OpenAI and Gemini,
 * "event: error\ndata: {...}\n\n" for Anthropic. */
int pt_error_body_render_event(pt_buf *out, pt_error_format fmt, const pt_error_body *e);
/* The "type" a format gives a status when the caller names none. */
const char *pt_error_body_default_type(pt_error_format fmt, int status);

#endif
