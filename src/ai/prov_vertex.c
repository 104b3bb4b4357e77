/* prov_vertex.c: Google Vertex AI. Gemini models through
 * {base}/v1/projects/P/locations/L/publishers/google/models/M:generateContent (and
 * :streamGenerateContent?alt=sse), Anthropic models (claude-*) through
 * .../publishers/anthropic/models/M:rawPredict (and :streamRawPredict). The bodies and
 * answers are the Gemini and Anthropic adapters' own; the Anthropic body goes without
 * "model" (it is in the path) and with anthropic_version "vertex-2023-10-16". Embeddings
 * of Google's models through .../publishers/google/models/M:predict ({"instances":
 * [{"content", "task_type", "title"}], "parameters": {"outputDimensionality"}}). Requests
 * carry the service account's access token (ai/gauth.h), which a background thread keeps
 * fresh: when there is none, the attempt fails with a 503 naming the provider and the
 * cause, and the plan may try another target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/gauth.h"
#include "ai/prov.h"
#include "core/json_scan.h"

#define VERTEX_ANTHROPIC_VERSION "vertex-2023-10-16"

static int head(const pt__prov_ctx *c, pt__up *up, bool anthropic, pt_ai_error *err)
{
    if (c->ep != PT_AI_EP_CHAT && (anthropic || c->ep != PT_AI_EP_EMBEDDINGS))
        return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, NULL,
                               "provider '%s' (vertex) serves chat, and embeddings of Google's models, only",
                               c->cfg->name);
    char token[4096], why[256], path[768];
    if (pt_gauth_token(c->cfg->gauth, token, sizeof token, why, sizeof why) != 0) {
        return pt_ai_error_set(err, PT_AI_ERR_UPSTREAM, 503, NULL, "provider '%s' has no access token: %s",
                               c->cfg->name, why);
    }
    const char *verb = anthropic                        ? (c->stream ? "streamRawPredict" : "rawPredict")
                       : c->ep == PT_AI_EP_EMBEDDINGS ? "predict"
                                                      : (c->stream ? "streamGenerateContent?alt=sse" : "generateContent");
    int n = snprintf(path, sizeof path, "/v1/projects/%s/locations/%s/publishers/%s/models/%s:%s", c->cfg->project,
                     c->cfg->region, anthropic ? "anthropic" : "google", c->model, verb);
    if (n < 0 || (size_t)n >= sizeof path)
        return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "model name too long");
    up->method = "POST";
    int rc = pt__up_path(up, c->cfg, path);
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    char bearer[4200];
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    if (!rc) rc = pt__up_header_n(up, "authorization", pt_slice_cstr(bearer));
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

static int gem_head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err) { return head(c, up, false, err); }
static int ant_head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err) { return head(c, up, true, err); }

/* The Anthropic body with its leading "model" member replaced by anthropic_version. */
static int ant_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    pt_buf tmp = PT_BUF_INIT;
    if (pt__prov_anthropic.render_chat(c, r, &tmp, err)) {
        pt_buf_release(&tmp);
        return -1;
    }
    pt_jfield f[4];
    size_t nf = 0, open, close;
    int rc = pt_jscan_object(tmp.data, tmp.len, 0, f, 4, &nf, &open, &close);
    /* the renderer writes compactly, "model" first: the rest starts after its comma */
    if (rc || nf < 2 || !pt_slice_eq_cstr(f[0].key, "model") || tmp.data[f[0].vend] != ',') {
        pt_buf_release(&tmp);
        return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot render the request for Vertex AI");
    }
    rc = pt_buf_append_str(body, "{\"anthropic_version\":\"" VERTEX_ANTHROPIC_VERSION "\",");
    if (!rc) rc = pt_buf_append(body, tmp.data + f[0].vend + 1, tmp.len - f[0].vend - 1);
    pt_buf_release(&tmp);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render");
    return 0;
}

static int gem_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    return pt__prov_gemini.render_chat(c, r, body, err);
}
static int gem_parse(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    return pt__prov_gemini.parse_chat(c, body, len, out, err);
}
static void gem_classify(const pt__prov_ctx *c, int status, const pt_ai_header *h, size_t nh, const char *body,
                         size_t len, pt_ai_error *err)
{
    pt__prov_gemini.classify(c, status, h, nh, body, len, err);
}
static int ant_parse(const pt__prov_ctx *c, const char *body, size_t len, pt_pivot_resp *out, pt_ai_error *err)
{
    return pt__prov_anthropic.parse_chat(c, body, len, out, err);
}

/* Embeddings: one instance per input text, with a Gemini client's taskType and title. */
static int gem_render_embed(const pt__prov_ctx *c, const pt_jv *req, pt_buf *body, pt_ai_error *err)
{
    const pt_jv *input = pt_jv_get(req, "input"), *dims = pt_jv_get(req, "dimensions");
    size_t n = pt_jv_is_array(input) ? pt_jv_len(input) : 1;
    pt_jw w;
    pt_jw_init(&w, body);
    pt_jw_obj(&w);
    pt_jw_key(&w, "instances");
    pt_jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        const pt_jv *s = pt_jv_is_array(input) ? pt_jv_at(input, i) : input;
        if (!pt_jv_is_string(s))
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 400, "input",
                                   "input: Vertex AI embeddings take strings only (not token arrays)");
        pt_jw_obj(&w);
        pt_jw_kstr(&w, "content", pt_jv_str(s));
        pt_slice task = pt__embed_src_member(c->embed_src, i, "taskType"), title = pt__embed_src_member(c->embed_src, i, "title");
        if (task.len) pt_jw_kstr(&w, "task_type", task);
        if (title.len) pt_jw_kstr(&w, "title", title);
        pt_jw_obj_end(&w);
    }
    pt_jw_arr_end(&w);
    if (pt_jv_is_integer(dims)) {
        pt_jw_key(&w, "parameters");
        pt_jw_obj(&w);
        pt_jw_kint(&w, "outputDimensionality", pt_jv_int(dims));
        pt_jw_obj_end(&w);
    }
    pt_jw_obj_end(&w);
    return w.err ? pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 413, NULL, "request too large to render") : 0;
}

/* {"predictions":[{"embeddings":{"values":[...],"statistics":{"token_count":N}}}]}: the
 * token counts are the usage (the local estimate when there are none). */
static int gem_parse_embed(const pt__prov_ctx *c, const pt_jv *req, const char *body, size_t len, pt_slice public_model,
                           pt_buf *out, pt_usage *usage, pt_ai_error *err)
{
    pt_pool scratch;
    pt_pool_init(&scratch, 0, 0);
    const pt_jv *preds = pt_jv_get(pt_jdom_parse(&scratch, body, len, NULL), "predictions");
    size_t n = pt_jv_is_array(preds) ? pt_jv_len(preds) : 0;
    const pt_jv **vectors = n ? calloc(n, sizeof *vectors) : NULL;
    int rc = !pt_jv_is_array(preds) || (n && !vectors) ? pt__bad_upstream(err, c, "no predictions array") : 0;
    int64_t tokens = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const pt_jv *e = pt_jv_get(pt_jv_at(preds, i), "embeddings");
        vectors[i] = pt_jv_get(e, "values");
        const pt_jv *tc = pt_jv_get(pt_jv_get(e, "statistics"), "token_count");
        if (pt_jv_is_number(tc)) tokens += (int64_t)pt_jv_num(tc);
    }
    if (!rc) {
        if (!tokens) tokens = pt__embed_estimate(req);
        *usage = (pt_usage){ .input = tokens };
        if (pt__embed_list(req, vectors, n, public_model, tokens, out))
            rc = pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 502, NULL, "answer too large");
    }
    free(vectors);
    pt_pool_release(&scratch);
    return rc;
}

const pt__prov pt__prov_vertex_gemini = {
    .type = PT_AI_PROV_VERTEX,
    .wire = PT__WIRE_GEMINI,
    .head = gem_head,
    .render_chat = gem_render,
    .parse_chat = gem_parse,
    .stream = &pt__gem_stream_ops,
    .embed_ok = true,
    .render_embed = gem_render_embed,
    .parse_embed = gem_parse_embed,
    .classify = gem_classify,
    .passthrough = false,
};

const pt__prov pt__prov_vertex_anthropic = {
    .type = PT_AI_PROV_VERTEX,
    .wire = PT__WIRE_ANTHROPIC,
    .head = ant_head,
    .render_chat = ant_render,
    .parse_chat = ant_parse,
    .stream = &pt__ant_stream_ops,
    .classify = pt__classify_common,
    .passthrough = false,
};
