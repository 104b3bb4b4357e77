/* pivot.c: lifetimes, usage arithmetic, errors and estimates of the pivot format (pivot.h). */
#include "ai/pivot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bytes one arena may hand out for one request or response: far above any real
 * conversation (the body cap comes first), low enough that a hostile body cannot make
 * a worker allocate without bound. */
#define PIVOT_ARENA_LIMIT (256u * 1024u * 1024u)

int pt_ai_err_default_status(pt_ai_err_kind kind)
{
    switch (kind) {
    case PT_AI_OK: return 200;
    case PT_AI_ERR_INVALID: return 400;
    case PT_AI_ERR_NOT_FOUND: return 404;
    case PT_AI_ERR_UNSUPPORTED: return 400;
    case PT_AI_ERR_CLIENT: return 400;
    case PT_AI_ERR_AUTH: return 502;
    case PT_AI_ERR_RATE_LIMIT: return 429;
    case PT_AI_ERR_UPSTREAM: return 502;
    case PT_AI_ERR_PROTOCOL: return 502;
    case PT_AI_ERR_TIMEOUT: return 504;
    case PT_AI_ERR_CONNECT: return 502;
    case PT_AI_ERR_INTERNAL: return 500;
    }
    return 500;
}

const char *pt_ai_err_kind_name(pt_ai_err_kind kind)
{
    switch (kind) {
    case PT_AI_OK: return "ok";
    case PT_AI_ERR_INVALID: return "invalid_request";
    case PT_AI_ERR_NOT_FOUND: return "not_found";
    case PT_AI_ERR_UNSUPPORTED: return "unsupported";
    case PT_AI_ERR_CLIENT: return "upstream_client_error";
    case PT_AI_ERR_AUTH: return "upstream_auth";
    case PT_AI_ERR_RATE_LIMIT: return "upstream_rate_limit";
    case PT_AI_ERR_UPSTREAM: return "upstream_error";
    case PT_AI_ERR_PROTOCOL: return "upstream_protocol";
    case PT_AI_ERR_TIMEOUT: return "upstream_timeout";
    case PT_AI_ERR_CONNECT: return "upstream_connect";
    case PT_AI_ERR_INTERNAL: return "internal";
    }
    return "internal";
}

bool pt_ai_err_retryable(pt_ai_err_kind kind)
{
    switch (kind) {
    case PT_AI_ERR_AUTH:
    case PT_AI_ERR_RATE_LIMIT:
    case PT_AI_ERR_UPSTREAM:
    case PT_AI_ERR_PROTOCOL:
    case PT_AI_ERR_TIMEOUT:
    case PT_AI_ERR_CONNECT:
        return true;
    default:
        return false;
    }
}

int pt_ai_error_set(pt_ai_error *e, pt_ai_err_kind kind, int status, const char *param, const char *fmt, ...)
{
    if (!e) return -1;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->status = status ? status : pt_ai_err_default_status(kind);
    if (param) snprintf(e->param, sizeof e->param, "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void pt_usage_merge(pt_usage *to, const pt_usage *from)
{
    if (from->input >= 0) to->input = from->input;
    if (from->output >= 0) to->output = from->output;
    if (from->cache_read >= 0) to->cache_read = from->cache_read;
    if (from->cache_write >= 0) to->cache_write = from->cache_write;
    if (from->reasoning >= 0) to->reasoning = from->reasoning;
}

int64_t pt_usage_prompt_total(const pt_usage *u)
{
    return pt_usage_get(u->input) + pt_usage_get(u->cache_read) + pt_usage_get(u->cache_write);
}

int pt_tool_id_sign(pt_buf *out, pt_slice id, pt_slice sig)
{
    int rc = pt_buf_append_slice(out, id);
    if (rc || !sig.len) return rc;
    rc = pt_buf_reserve(out, sizeof PT_TOOL_ID_SIG - 1 + sig.len);
    if (rc) return rc;
    pt_buf_append(out, PT_TOOL_ID_SIG, sizeof PT_TOOL_ID_SIG - 1);
    for (size_t i = 0; i < sig.len; i++) {
        char c = sig.ptr[i];
        if (c == '=') continue;
        out->data[out->len++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out->data[out->len] = '\0';
    return 0;
}

static bool base64url(pt_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return s.len > 0;
}

void pt_tool_id_split(pt_slice id, pt_slice *bare, pt_slice *sig)
{
    const size_t n = sizeof PT_TOOL_ID_SIG - 1;
    *bare = id;
    *sig = PT_SLICE_NULL;
    /* the last separator: the id before it may hold one of its own (a client's request id) */
    const char *at = NULL;
    for (size_t i = id.len > n ? id.len - n : 0; i > 0 && !at; i--)
        if (memcmp(id.ptr + i, PT_TOOL_ID_SIG, n) == 0) at = id.ptr + i;
    if (!at) return;
    pt_slice tail = pt_slice_from(at + n, id.len - (size_t)(at - id.ptr) - n);
    if (!base64url(tail)) return;
    *bare = pt_slice_from(id.ptr, (size_t)(at - id.ptr));
    *sig = tail;
}

static size_t split_parts(pt_part *parts, size_t n)
{
    size_t marks = 0;
    for (size_t i = 0; i < n; i++) {
        pt_part *p = &parts[i];
        pt_slice sig;
        if (p->type == PT_PART_TOOL_USE) {
            pt_tool_id_split(p->id, &p->id, &sig);
            if (!p->signature.len) p->signature = sig;
            marks += p->signature.len > 0;
        } else if (p->type == PT_PART_TOOL_RESULT) {
            pt_tool_id_split(p->tool_use_id, &p->tool_use_id, &sig);
            marks += sig.len > 0;
        } else if (p->type == PT_PART_THINKING) {
            marks += pt_slice_starts_with(p->signature, PT_SLICE_LIT(PT_GEMINI_THINKING_SIG));
        }
    }
    return marks;
}

size_t pt_pivot_split_tool_ids(pt_pivot_req *r)
{
    size_t marks = 0;
    for (size_t i = 0; i < r->nmsgs; i++) marks += split_parts(r->msgs[i].parts, r->msgs[i].nparts);
    return marks;
}

void pt_pivot_req_init(pt_pivot_req *r)
{
    memset(r, 0, sizeof *r);
    pt_pool_init(&r->arena, 0, PIVOT_ARENA_LIMIT);
    r->parallel_tool_calls = -1;
    r->max_tokens = -1;
    r->temperature = NAN;
    r->top_p = NAN;
    r->top_k = -1;
    r->presence_penalty = NAN;
    r->frequency_penalty = NAN;
    r->seed = -1;
    r->response_schema_strict = -1;
    r->reasoning_budget = -1;
}

void pt_pivot_req_release(pt_pivot_req *r)
{
    pt_pool_release(&r->arena);
}

void pt_pivot_resp_init(pt_pivot_resp *r)
{
    memset(r, 0, sizeof *r);
    pt_pool_init(&r->arena, 0, PIVOT_ARENA_LIMIT);
    r->usage = PT_USAGE_UNKNOWN;
    r->created = -1;
}

void pt_pivot_resp_release(pt_pivot_resp *r)
{
    pt_pool_release(&r->arena);
}

int64_t pt_pivot_effort_to_budget(pt_slice effort)
{
    if (pt_slice_eq_cstr(effort, "minimal")) return 1024;
    if (pt_slice_eq_cstr(effort, "low")) return 2048;
    if (pt_slice_eq_cstr(effort, "medium")) return 8192;
    if (pt_slice_eq_cstr(effort, "high")) return 24576;
    return -1;
}

const char *pt_pivot_budget_to_effort(int64_t budget)
{
    if (budget <= 0) return NULL;
    if (budget < 4096) return "low";
    if (budget < 16384) return "medium";
    return "high";
}

const char *pt_stop_reason_name(pt_stop_reason r)
{
    switch (r) {
    case PT_STOP_NONE: return "none";
    case PT_STOP_END_TURN: return "end_turn";
    case PT_STOP_MAX_TOKENS: return "max_tokens";
    case PT_STOP_STOP_SEQUENCE: return "stop_sequence";
    case PT_STOP_TOOL_USE: return "tool_use";
    case PT_STOP_CONTENT_FILTER: return "content_filter";
    case PT_STOP_ERROR: return "error";
    }
    return "none";
}

/* Estimate rule (docs/AI.md): ceil(bytes / 4) for text, +4 per message, +3 for the
 * reply primer, +8 per tool plus its schema text, 1600 per image. */
#define EST_PER_MSG 4
#define EST_PRIMER 3
#define EST_PER_TOOL 8
#define EST_PER_IMAGE 1600

int64_t pt_pivot_estimate_text_tokens(size_t bytes) { return (int64_t)((bytes + 3) / 4); }

static void est_parts(const pt_part *p, size_t n, size_t *bytes, int64_t *fixed)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i].type) {
        case PT_PART_TEXT:
        case PT_PART_THINKING:
            *bytes += p[i].text.len;
            break;
        case PT_PART_REDACTED_THINKING: break;
        case PT_PART_IMAGE: *fixed += EST_PER_IMAGE; break;
        case PT_PART_FILE:
            if (p[i].text.len) *bytes += p[i].text.len;
            else *fixed += EST_PER_IMAGE;
            break;
        case PT_PART_TOOL_USE: *bytes += p[i].name.len + p[i].arguments.len; break;
        case PT_PART_TOOL_RESULT: est_parts(p[i].content, p[i].ncontent, bytes, fixed); break;
        }
    }
}

int64_t pt_pivot_estimate_input_tokens(const pt_pivot_req *r)
{
    size_t bytes = 0;
    int64_t fixed = EST_PRIMER;
    est_parts(r->system, r->nsystem, &bytes, &fixed);
    if (r->nsystem) fixed += EST_PER_MSG;
    for (size_t i = 0; i < r->nmsgs; i++) {
        fixed += EST_PER_MSG;
        est_parts(r->msgs[i].parts, r->msgs[i].nparts, &bytes, &fixed);
    }
    for (size_t i = 0; i < r->ntools; i++) {
        fixed += EST_PER_TOOL;
        bytes += r->tools[i].name.len + r->tools[i].description.len + r->tools[i].schema.len;
    }
    return pt_pivot_estimate_text_tokens(bytes) + fixed;
}
