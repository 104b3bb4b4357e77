/* answers.c: what the AI endpoints answer without any call to a provider (ai.h): error
 * bodies in the client's format, the model lists and one model in each client's shape,
 * and the 404 for a stored response Portico does not keep. */
#include "ai/ai.h"

#include <string.h>

#include "ai/fmt.h"
#include "core/json_write.h"
#include "core/str.h"

#define MAX_MODEL_NAME 256

int pt_ai_render_error(pt_ai_format fmt, const pt_ai_error *err, pt_buf *out)
{
    return pt__fmt_render_error(pt__fmt_get(fmt), err, false, out);
}

/* Whether every target of m has a price (else some calls' cost is unknown). */
static bool model_priced(const pt_ai_model *m)
{
    for (size_t i = 0; i < m->ntargets; i++)
        if (!m->targets[i].price_known) return false;
    return m->ntargets > 0;
}

/* One entry of the model list, also the answer to GET /v1/models/{id}. "priced" (OpenAI
 * and Anthropic shapes, which clients read leniently) says whether calls get a cost. */
static void model_obj(pt_jw *w, const pt_ai_model *m, pt_ai_format fmt)
{
    pt_jw_obj(w);
    if (fmt == PT_AI_FMT_GEMINI) {
        char name[MAX_MODEL_NAME + 8];
        pt_jw_kcstr(w, "name", pt_str_join(name, sizeof name, "models/", m->name));
        pt_jw_kcstr(w, "displayName", m->name);
        pt_jw_key(w, "supportedGenerationMethods");
        pt_jw_arr(w);
        pt_jw_cstr(w, "generateContent");
        pt_jw_cstr(w, "streamGenerateContent");
        pt_jw_cstr(w, "countTokens");
        pt_jw_arr_end(w);
    } else if (fmt == PT_AI_FMT_OPENAI) {
        pt_jw_kcstr(w, "id", m->name);
        pt_jw_kcstr(w, "object", "model");
        pt_jw_kint(w, "created", 0);
        pt_jw_kcstr(w, "owned_by", m->ntargets ? m->targets[0].provider_name : "portico");
        pt_jw_kbool(w, "priced", model_priced(m));
    } else {
        pt_jw_kcstr(w, "type", "model");
        pt_jw_kcstr(w, "id", m->name);
        pt_jw_kcstr(w, "display_name", m->name);
        pt_jw_kcstr(w, "created_at", "1970-01-01T00:00:00Z");
        pt_jw_kbool(w, "priced", model_priced(m));
    }
    pt_jw_obj_end(w);
}

bool pt_ai_model_listed(const pt_ai_model_filter *only, const pt_ai_model *m)
{
    if (!only || !only->names) return true;
    for (size_t i = 0; i < only->n; i++)
        if (strcmp(only->names[i], m->name) == 0) return true;
    return false;
}

int pt_ai_render_models(const pt_ai_config *cfg, const pt_ai_model_filter *only, pt_ai_format fmt, pt_buf *out)
{
    pt_jw w;
    pt_jw_init(&w, out);
    const pt_ai_model *first = NULL, *last = NULL;
    pt_jw_obj(&w);
    if (fmt == PT_AI_FMT_OPENAI) pt_jw_kcstr(&w, "object", "list");
    pt_jw_key(&w, fmt == PT_AI_FMT_GEMINI ? "models" : "data");
    pt_jw_arr(&w);
    for (size_t i = 0; cfg && i < cfg->nmodels; i++) {
        if (!pt_ai_model_listed(only, &cfg->models[i])) continue;
        model_obj(&w, &cfg->models[i], fmt);
        if (!first) first = &cfg->models[i];
        last = &cfg->models[i];
    }
    pt_jw_arr_end(&w);
    if (fmt == PT_AI_FMT_ANTHROPIC) {
        pt_jw_kbool(&w, "has_more", false);
        pt_jw_key(&w, "first_id");
        if (first) pt_jw_cstr(&w, first->name);
        else pt_jw_null(&w);
        pt_jw_key(&w, "last_id");
        if (last) pt_jw_cstr(&w, last->name);
        else pt_jw_null(&w);
    }
    pt_jw_obj_end(&w);
    return w.err;
}

int pt_ai_render_model(const pt_ai_config *cfg, const pt_ai_model_filter *only, pt_ai_format fmt, pt_slice path,
                       pt_buf *out)
{
    const char *at = memmem(path.ptr, path.len, "/models/", 8);
    size_t from = at ? (size_t)(at - path.ptr) + 8 : path.len, to = path.len;
    while (to > from && path.ptr[to - 1] == '/') to--;
    char id[MAX_MODEL_NAME];
    int got = pt_ai_model_from_path(pt_slice_from(path.ptr + from, to - from), id, sizeof id);
    bool bad = got < 0;
    size_t n = bad ? 0 : (size_t)got;
    const pt_ai_model *m = bad ? NULL : pt_ai_config_model(cfg, pt_slice_from(id, n));
    if (m && !pt_ai_model_listed(only, m)) m = NULL;
    if (!m) {
        pt_ai_error err;
        if (bad) pt_str_copy(id, sizeof id, "(not a valid model name)");
        pt_ai_error_set(&err, PT_AI_ERR_NOT_FOUND, 404, "model", "The model '%s' does not exist", id);
        pt_ai_render_error(fmt, &err, out);
        return 404;
    }
    pt_jw w;
    pt_jw_init(&w, out);
    model_obj(&w, m, fmt);
    return w.err ? 500 : 200;
}
