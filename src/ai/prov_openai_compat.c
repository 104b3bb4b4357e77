/* prov_openai_compat.c: any server speaking the OpenAI Chat Completions wire (DeepSeek,
 * Groq, Together, OpenRouter, Ollama, vLLM, llama.cpp server). base_url is required and
 * includes the version path ("http://127.0.0.1:11434/v1"); the key, when there is one,
 * goes in "Authorization: Bearer". Usage in streams is asked for with
 * stream_options.include_usage unless the provider sets stream_usage: false. */
#include "ai/prov.h"

static int compat_render(const pt__prov_ctx *c, const pt_pivot_req *r, pt_buf *body, pt_ai_error *err)
{
    pt__oai_opts o = { .stream_options = c->cfg->stream_usage, .send_model = true };
    return pt__oai_render_chat(c, r, &o, body, err);
}

const pt__prov pt__prov_openai_compat = {
    .type = PT_AI_PROV_OPENAI_COMPAT,
    .wire = PT__WIRE_OPENAI,
    .head = pt__oai_head,
    .render_chat = compat_render,
    .parse_chat = pt__oai_parse_chat,
    .stream = &pt__oai_stream_ops,
    .embed_ok = true,
    .classify = pt__classify_common,
    .passthrough = true,
};
