/* error_body.c: error bodies in the gateway, OpenAI, Anthropic and Gemini shapes (see error_body.h). */
#include "core/error_body.h"

#include "core/json_write.h"

/* Google's canonical status names, by the HTTP status they travel with. */
static const char *gemini_status(int status)
{
    switch (status) {
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 502: case 503: case 529: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
    }
}

const char *pt_error_body_default_type(pt_error_format fmt, int status)
{
    if (fmt == PT_ERRFMT_GEMINI) return gemini_status(status);
    if (fmt == PT_ERRFMT_ANTHROPIC) {
        switch (status) {
        case 400: case 422: return "invalid_request_error";
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 413: return "request_too_large";
        case 429: return "rate_limit_error";
        case 503: case 529: return "overloaded_error";
        default: break;
        }
    } else if (status == 429) {
        return "rate_limit_error";
    }
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static void cstr_or_null(pt_jw *w, const char *key, const char *v)
{
    pt_jw_key(w, key);
    if (v && v[0]) pt_jw_cstr(w, v);
    else pt_jw_null(w);
}

/* The members inside "error" (every shape nests them in an object of that name). */
static void gateway(pt_jw *w, const pt_error_body *e)
{
    pt_jw_kint(w, "status", e->status);
    pt_jw_kcstr(w, "code", e->code ? e->code : "error");
    pt_jw_kcstr(w, "message", or_empty(e->message));
    pt_jw_kcstr(w, "request_id", or_empty(e->request_id));
    if (e->service) pt_jw_kcstr(w, "service", e->service);
    if (e->cause) pt_jw_kcstr(w, "cause", e->cause);
    if (e->attempts) pt_jw_kint(w, "attempts", e->attempts);
    if (e->target) pt_jw_kcstr(w, "target", e->target);
}

static void openai(pt_jw *w, const pt_error_body *e)
{
    pt_jw_kcstr(w, "message", or_empty(e->message));
    pt_jw_kcstr(w, "type", e->type ? e->type : pt_error_body_default_type(PT_ERRFMT_OPENAI, e->status));
    cstr_or_null(w, "param", e->param);
    cstr_or_null(w, "code", e->code);
}

static void anthropic(pt_jw *w, const pt_error_body *e)
{
    pt_jw_kcstr(w, "type", e->type ? e->type : pt_error_body_default_type(PT_ERRFMT_ANTHROPIC, e->status));
    pt_jw_kcstr(w, "message", or_empty(e->message));
}

static void gemini(pt_jw *w, const pt_error_body *e)
{
    pt_jw_kint(w, "code", e->status);
    pt_jw_kcstr(w, "message", or_empty(e->message));
    pt_jw_kcstr(w, "status", e->type ? e->type : gemini_status(e->status));
}

int pt_error_body_render(pt_buf *out, pt_error_format fmt, const pt_error_body *e)
{
    pt_jw w;
    pt_jw_init(&w, out);
    pt_jw_obj(&w);
    if (fmt == PT_ERRFMT_ANTHROPIC) pt_jw_kcstr(&w, "type", "error");
    pt_jw_key(&w, "error");
    pt_jw_obj(&w);
    if (fmt == PT_ERRFMT_OPENAI) openai(&w, e);
    else if (fmt == PT_ERRFMT_ANTHROPIC) anthropic(&w, e);
    else if (fmt == PT_ERRFMT_GEMINI) gemini(&w, e);
    else gateway(&w, e);
    pt_jw_obj_end(&w);
    pt_jw_obj_end(&w);
    if (w.err) return w.err;
    return fmt == PT_ERRFMT_GATEWAY ? pt_buf_append(out, "\n", 1) : 0;
}

int pt_error_body_render_event(pt_buf *out, pt_error_format fmt, const pt_error_body *e)
{
    int rc = pt_buf_append_str(out, fmt == PT_ERRFMT_ANTHROPIC ? "event: error\ndata: " : "data: ");
    if (rc == 0) rc = pt_error_body_render(out, fmt, e);
    if (rc == 0) rc = pt_buf_append(out, "\n\n", 2);
    return rc;
}
