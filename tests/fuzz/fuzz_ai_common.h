/* fuzz_ai_common.h: what the AI harnesses share: one configuration with a provider of
 * every type, and a driver that runs a client body against a provider with an arbitrary
 * upstream answer fed in arbitrary pieces. */
#ifndef PT_FUZZ_AI_COMMON_H
#define PT_FUZZ_AI_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "core/log.h"

static const char *fuzz_ai_cfg_json =
    "{\"providers\":["
    "{\"name\":\"openai\",\"type\":\"openai\",\"base_url\":\"http://127.0.0.1:1/v1\",\"api_key\":\"k-openai-123456\"},"
    "{\"name\":\"azure\",\"type\":\"azure\",\"base_url\":\"http://127.0.0.1:1\",\"api_key\":\"k-azure-1234567\"},"
    "{\"name\":\"anthropic\",\"type\":\"anthropic\",\"base_url\":\"http://127.0.0.1:1\",\"api_key\":\"k-anthropic-123\"},"
    "{\"name\":\"gemini\",\"type\":\"gemini\",\"base_url\":\"http://127.0.0.1:1\",\"api_key\":\"k-gemini-123456\"},"
    "{\"name\":\"mistral\",\"type\":\"mistral\",\"base_url\":\"http://127.0.0.1:1/v1\",\"api_key\":\"k-mistral-12345\"},"
    "{\"name\":\"compat\",\"type\":\"openai_compatible\",\"base_url\":\"http://127.0.0.1:1/v1\"},"
    "{\"name\":\"bedrock\",\"type\":\"bedrock\",\"base_url\":\"http://127.0.0.1:1\",\"region\":\"us-east-1\","
    "\"access_key_id\":\"AKIDFUZZ\",\"secret_access_key\":\"fuzz-secret-123\"}],"
    "\"models\":["
    "{\"name\":\"openai\",\"targets\":[{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\"}]},"
    "{\"name\":\"azure\",\"targets\":[{\"provider\":\"azure\",\"model\":\"gpt-4o\"}]},"
    "{\"name\":\"anthropic\",\"targets\":[{\"provider\":\"anthropic\",\"model\":\"claude-haiku-4-5\"}]},"
    "{\"name\":\"gemini\",\"targets\":[{\"provider\":\"gemini\",\"model\":\"gemini-2.5-flash\"}]},"
    "{\"name\":\"mistral\",\"targets\":[{\"provider\":\"mistral\",\"model\":\"mistral-small-latest\"}]},"
    "{\"name\":\"compat\",\"targets\":[{\"provider\":\"compat\",\"model\":\"llama\"}]},"
    "{\"name\":\"bedrock\",\"targets\":[{\"provider\":\"bedrock\",\"model\":\"anthropic.claude-v2:1\"}]}]}";

static pt_ai_config *fuzz_ai_cfg;

static pt_ai_config *fuzz_ai_config(void)
{
    if (fuzz_ai_cfg) return fuzz_ai_cfg;
    pt_log_set_level(PT_LOG_OFF);
    pt_buf err = PT_BUF_INIT;
    fuzz_ai_cfg = pt_ai_config_load_string("fuzz.json", fuzz_ai_cfg_json, strlen(fuzz_ai_cfg_json), &err);
    if (!fuzz_ai_cfg) abort();
    pt_buf_release(&err);
    return fuzz_ai_cfg;
}

static int fuzz_ai_emit(void *arg, const char *p, size_t n)
{
    size_t *total = arg;
    /* every emit must be readable bytes the engine can write */
    volatile char sink = 0;
    for (size_t i = 0; i < n; i++) sink ^= p[i];
    (void)sink;
    *total += n;
    return 0;
}

/* Runs one exchange: the client body (path and query as the client sent them, which name
 * the model and stream for Gemini) against model `model` (a provider of that name),
 * the upstream answering `status` with `answer` fed in pieces of `step` bytes. Keys are
 * re-enabled afterwards so every run starts alike. */
static void fuzz_ai_exchange_path(pt_ai_format fmt, pt_ai_endpoint ep, const char *path, const char *query,
                                  const char *body, size_t body_len, const char *model, int status, const char *ctype,
                                  const char *answer, size_t answer_len, size_t step, pt_ai_end how)
{
    pt_ai_config *cfg = fuzz_ai_config();
    pt_ai_request *req = NULL;
    pt_ai_error err;
    if (pt_ai_request_new_path(fmt, ep, pt_slice_cstr(path), pt_slice_cstr(query), body, body_len, &req, &err)) {
        pt_buf b = PT_BUF_INIT;
        if (pt_ai_render_error(fmt, &err, &b)) abort();
        pt_buf_release(&b);
        return;
    }
    const pt_ai_model *m = pt_ai_config_model(cfg, pt_slice_cstr(model));
    pt_ai_attempt at = { .model = m, .provider = m->targets[0].provider, .upstream_model = m->targets[0].model,
                         .key_index = m->targets[0].provider->nkeys ? 0 : SIZE_MAX };
    pt_ai_call_opts opts = { .request_id = "fuzz", .now_unix = 1 };
    pt_ai_call *c = pt_ai_call_new(req, &at, &opts, &err);
    if (c) {
        size_t total = 0;
        if (pt_ai_call_upstream(c)) {
            pt_ai_header h = { PT_SLICE_LIT("content-type"), pt_slice_cstr(ctype) };
            pt_ai_call_on_response_head(c, status, &h, 1);
            if (!step) step = answer_len ? answer_len : 1;
            for (size_t off = 0; off < answer_len; off += step)
                pt_ai_call_on_response_body(c, answer + off, answer_len - off < step ? answer_len - off : step,
                                            fuzz_ai_emit, &total);
        }
        pt_ai_result res;
        pt_ai_call_finish(c, how, fuzz_ai_emit, &total, &res);
        if (res.kind != PT_AI_OK && !res.emitted) {
            pt_buf b = PT_BUF_INIT;
            pt_ai_call_error_body(c, &res, &b);
            pt_buf_release(&b);
        }
        if (res.retryable && res.emitted) abort(); /* never retry after bytes went out */
        pt_ai_call_free(c);
    }
    pt_ai_request_free(req);
    for (size_t i = 0; i < cfg->nproviders; i++)
        for (size_t k = 0; k < cfg->providers[i].nkeys; k++) {
            atomic_store(&cfg->providers[i].keys[k].disabled, false);
            atomic_store(&cfg->providers[i].keys[k].cooldown_until_ms, 0);
        }
}

/* The same for formats whose body says everything (all but Gemini's). */
static void fuzz_ai_exchange(pt_ai_format fmt, pt_ai_endpoint ep, const char *body, size_t body_len,
                             const char *model, int status, const char *ctype, const char *answer, size_t answer_len,
                             size_t step, pt_ai_end how)
{
    fuzz_ai_exchange_path(fmt, ep, "", "", body, body_len, model, status, ctype, answer, answer_len, step, how);
}

#endif
