/* mcp_args.c: a tool call's arguments for its call-log record (see mcp_args.h). */
#include "gateway/mcp_args.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/mask_gate.h"
#include "logs/calllog.h"
#include "mcp/argshape.h"

/* A copy of s in the request's pool; NULL when s is. */
static const char *pooled(pt_request *req, const char *s)
{
    size_t n = s ? strlen(s) + 1 : 0;
    char *p = n ? pt_req_alloc(req, n) : NULL;
    if (p) memcpy(p, s, n);
    return p;
}

/* The arguments' values, masked, as compact JSON (malloc'd); NULL when they are not kept.
 * Masking works on a copy: the call itself goes on with the arguments as the client sent
 * them. */
static char *values(const pt_req_info *info, const json_t *args)
{
    json_t *doc = json_pack("{s:{s:o}}", "params", "arguments", json_deep_copy(args));
    char *text = NULL;
    if (doc && pt_mask_gate_for_record(info, doc) == 0)
        text = json_dumps(json_object_get(json_object_get(doc, "params"), "arguments"),
                          JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(doc);
    if (text && strlen(text) > PT_CALLLOG_BODY_MAX) free(text), text = NULL;
    return text;
}

void pt_mcp_args_record(pt_req_info *info, pt_request *req, const pt_mcp_config *m, const json_t *args)
{
    char *shape = pt_mcp_arg_shape(args);
    info->arguments_shape = pooled(req, shape);
    free(shape);
    if (!m || !m->record_arguments || !args) return;
    char *text = values(info, args);
    info->arguments = pooled(req, text);
    free(text);
}
