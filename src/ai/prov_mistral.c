/* prov_mistral.c: Mistral La Plateforme. The OpenAI wire with Mistral's differences,
 * which is why OpenAI clients are translated rather than passed through: "random_seed"
 * for seed, tool_choice "any" for "required", tool call ids of exactly nine characters
 * [a-zA-Z0-9] (other ids are mapped to such ids the same way in every turn), no
 * stream_options (usage comes in the last chunk anyway), no "user". Embeddings
 * (mistral-embed) take the OpenAI body and answer in the OpenAI list format. */
#include "ai/prov.h"

static int mistral_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    pt__oai_opts o = { .random_seed = true, .tool_choice_any = true, .short_tool_ids = true, .send_model = true };
    return pt__oai_render_chat(c, r, &o, body, err);
}

const pt__prov pt__prov_mistral = {
    .type = PT_AI_PROV_MISTRAL,
    .wire = PT__WIRE_OPENAI,
    .head = pt__oai_head,
    .render_chat = mistral_render,
    .parse_chat = pt__oai_parse_chat,
    .stream = &pt__oai_stream_ops,
    .embed_ok = true,
    .classify = pt__classify_common,
    .passthrough = false,
};
