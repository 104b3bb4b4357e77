/* prov_azure.c: Azure OpenAI. The OpenAI wire, addressed by deployment and api-version
 * (POST {base}/openai/deployments/{deployment}/chat/completions?api-version=V) and
 * authenticated with an api-key header. The deployment is the target's model name, or
 * the name it is mapped to under the provider's `deployments:`. */
#include <stdio.h>
#include <string.h>

#include "ai/prov.h"

#define AZURE_DEFAULT_API_VERSION "2024-10-21"

static int azure_head(const pt__prov_ctx *c, pt__up *up, pt_ai_error *err)
{
    const char *dep = pt_ai_provider_deployment(c->cfg, c->model);
    const char *ver = c->cfg->api_version ? c->cfg->api_version : AZURE_DEFAULT_API_VERSION;
    char path[512];
    int n = snprintf(path, sizeof path, "/openai/deployments/%s/%s?api-version=%s", dep,
                     c->ep == PT_AI_EP_EMBEDDINGS ? "embeddings" : "chat/completions", ver);
    if (n < 0 || (size_t)n >= sizeof path)
        return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "azure deployment name too long");
    up->method = "POST";
    int rc = pt__up_path(up, c->cfg, path);
    if (!rc) rc = pt__up_header(up, "content-type", "application/json");
    if (!rc && c->key) rc = pt__up_header(up, "api-key", c->key);
    if (!rc) rc = pt__up_extra_headers(up, c->cfg);
    if (rc) return pt_ai_error_set(err, PT_AI_ERR_INTERNAL, 500, NULL, "cannot build the upstream request");
    return 0;
}

static int azure_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    pt__oai_opts o = { .max_completion_tokens = true, .stream_options = c->cfg->stream_usage,
                       .reasoning_effort = true, .send_model = true };
    return pt__oai_render_chat(c, r, &o, body, err);
}

const pt__prov pt__prov_azure = {
    .type = PT_AI_PROV_AZURE,
    .wire = PT__WIRE_OPENAI,
    .head = azure_head,
    .render_chat = azure_render,
    .parse_chat = pt__oai_parse_chat,
    .stream = &pt__oai_stream_ops,
    .embed_ok = true,
    .classify = pt__classify_common,
    .passthrough = true,
};
