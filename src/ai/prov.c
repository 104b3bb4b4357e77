/* prov.c: what every provider adapter shares: building the upstream request head,
 * reading retry-after, and turning an upstream status + message into a pt_ai_error. */
#include "ai/prov.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/str.h"

const pt__prov *pt__prov_get(pt_ai_prov_type t)
{
    switch (t) {
    case PT_AI_PROV_OPENAI: return &pt__prov_openai;
    case PT_AI_PROV_AZURE: return &pt__prov_azure;
    case PT_AI_PROV_ANTHROPIC: return &pt__prov_anthropic;
    case PT_AI_PROV_GEMINI: return &pt__prov_gemini;
    case PT_AI_PROV_MISTRAL: return &pt__prov_mistral;
    case PT_AI_PROV_OPENAI_COMPAT: return &pt__prov_openai_compat;
    case PT_AI_PROV_BEDROCK: return &pt__prov_bedrock;
    case PT_AI_PROV_VERTEX: return &pt__prov_vertex_gemini;
    }
    return &pt__prov_openai;
}

const pt__prov *pt__prov_for(const pt_ai_provider *p, const char *model)
{
    if (p->type == PT_AI_PROV_VERTEX && model && strncmp(model, "claude", 6) == 0) return &pt__prov_vertex_anthropic;
    return pt__prov_get(p->type);
}

int pt__up_header(pt__up *up, const char *name, const char *value)
{
    if (up->nheaders >= PT_AI_MAX_UPSTREAM_HEADERS) return PT_ETOOBIG;
    up->headers[up->nheaders].name = pt_slice_cstr(name);
    up->headers[up->nheaders].value = pt_slice_cstr(value ? value : "");
    up->nheaders++;
    return 0;
}

int pt__up_header_n(pt__up *up, const char *name, pt_slice value)
{
    if (up->nheaders >= PT_AI_MAX_UPSTREAM_HEADERS) return PT_ETOOBIG;
    char *n = pt_pool_strndup(up->arena, name, strlen(name));
    char *v = pt_pool_strndup(up->arena, value.ptr ? value.ptr : "", value.len);
    if (!n || !v) return PT_ENOMEM;
    up->headers[up->nheaders].name = pt_slice_cstr(n);
    up->headers[up->nheaders].value = pt_slice_cstr(v);
    up->nheaders++;
    return 0;
}

int pt__up_path(pt__up *up, const pt_ai_provider *cfg, const char *rest)
{
    const char *prefix = cfg->path_prefix ? cfg->path_prefix : "";
    size_t a = strlen(prefix), b = strlen(rest);
    if (a + b > PT__UP_PATH_MAX) return PT_ETOOBIG;
    char *d = pt_pool_alloc_raw(up->arena, a + b + 1);
    if (!d) return PT_ENOMEM;
    memcpy(d, prefix, a);
    memcpy(d + a, rest, b + 1);
    up->path = pt_slice_from(d, a + b);
    return 0;
}

int pt__up_extra_headers(pt__up *up, const pt_ai_provider *cfg)
{
    for (size_t i = 0; i < cfg->nheaders; i++) {
        int rc = pt__up_header(up, cfg->headers[i].name, cfg->headers[i].value);
        if (rc) return rc;
    }
    return 0;
}

pt_slice pt__hdr(const pt_ai_header *h, size_t n, const char *name)
{
    for (size_t i = 0; h && i < n; i++)
        if (pt_slice_case_eq_cstr(h[i].name, name)) return h[i].value.ptr ? h[i].value : PT_SLICE_LIT("");
    return PT_SLICE_NULL;
}

static bool all_digits(const char *s, size_t n)
{
    if (!n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

uint64_t pt__retry_after_ms(const pt_ai_header *h, size_t n)
{
    pt_slice ms = pt__hdr(h, n, "retry-after-ms");
    if (ms.ptr) {
        pt_slice s = pt_slice_trim(ms);
        unsigned long long v;
        /* "1500" or "1500.5": the integer part is enough */
        const char *dot = memchr(s.ptr, '.', s.len);
        if (dot) s.len = (size_t)(dot - s.ptr);
        if (pt_slice_to_u64(s, &v)) return v;
    }
    pt_slice ra = pt__hdr(h, n, "retry-after");
    if (!ra.ptr) return 0;
    pt_slice s = pt_slice_trim(ra);
    unsigned long long v;
    if (all_digits(s.ptr, s.len) && pt_slice_to_u64(s, &v)) return v > UINT64_MAX / 1000 ? UINT64_MAX : v * 1000u;
    /* HTTP-date: "Wed, 21 Oct 2015 07:28:00 GMT" */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*s", (int)s.len, s.ptr);
    const char *end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end) return 0;
    time_t when = timegm(&tm);
    time_t now = time(NULL);
    return when > now ? (uint64_t)(when - now) * 1000u : 0;
}

/* Copies msg into out, masking the key wherever it appears, cutting at cap. */
static void masked(const char *msg, const char *key, char *out, size_t cap)
{
    size_t o = 0, klen = key ? strlen(key) : 0;
    for (size_t i = 0; msg[i] && o + 1 < cap;) {
        if (klen >= 8 && strncmp(msg + i, key, klen) == 0) {
            const char *m = "***";
            for (size_t k = 0; m[k] && o + 1 < cap; k++) out[o++] = m[k];
            i += klen;
            continue;
        }
        out[o++] = msg[i++];
    }
    out[o] = '\0';
}

void pt__classify_status(const pt__prov_ctx *c, int status, const char *msg, pt_ai_error *err)
{
    const char *name = c->cfg ? c->cfg->name : "?";
    char clean[PT_AI_ERRMSG_MAX - 96];
    masked(msg && *msg ? msg : "(no message)", c->key, clean, sizeof clean);
    uint64_t retry_after_ms = err->retry_after_ms; /* set by the caller from the answer's headers */
    if (status == 401 || status == 403) {
        pt_ai_error_set(err, PT_AI_ERR_AUTH, 502, NULL,
                        "provider '%s' refused the gateway's credentials (status %d)", name, status);
    } else if (status == 429) {
        if (retry_after_ms)
            pt_ai_error_set(err, PT_AI_ERR_RATE_LIMIT, 429, NULL,
                            "provider '%s' is rate limiting requests; retry after %llu s", name,
                            (unsigned long long)((retry_after_ms + 999) / 1000));
        else
            pt_ai_error_set(err, PT_AI_ERR_RATE_LIMIT, 429, NULL, "provider '%s' is rate limiting requests", name);
    } else if (status == 400 || status == 409 || status == 413 || status == 422) {
        pt_ai_error_set(err, PT_AI_ERR_CLIENT, status == 413 ? 413 : 400, NULL, "%s", clean);
    } else if (status == 503 || status == 529) {
        pt_ai_error_set(err, PT_AI_ERR_UPSTREAM, 503, NULL, "provider '%s' is overloaded (status %d): %s", name,
                        status, clean);
    } else {
        pt_ai_error_set(err, PT_AI_ERR_UPSTREAM, 502, NULL, "provider '%s' failed with status %d: %s", name, status,
                        clean);
    }
    err->upstream_status = status;
    err->retry_after_ms = retry_after_ms;
}

int pt__bad_upstream(pt_ai_error *err, const pt__prov_ctx *c, const char *what)
{
    return pt_ai_error_set(err, PT_AI_ERR_PROTOCOL, 502, NULL, "provider '%s' sent an unreadable answer: %s",
                           c->cfg ? c->cfg->name : "?", what);
}

int pt__blocks_close(pt__blocks *b, pt_ev_cb cb, void *arg)
{
    if (b->cur < 0) return 0;
    pt_ev ev = { .type = PT_EV_BLOCK_STOP, .index = b->cur };
    b->cur = -1;
    return cb(arg, &ev);
}

int pt__blocks_open_signed(pt__blocks *b, const pt__prov_ctx *c, pt_part_type t, pt_slice id, pt_slice name,
                           pt_slice sig, pt_ev_cb cb, void *arg, pt_ai_error *err)
{
    int rc = pt__blocks_close(b, cb, arg);
    if (rc) return rc;
    if (b->n >= PT__MAX_BLOCKS) return pt__bad_upstream(err, c, "too many content blocks");
    b->cur = b->n++;
    b->cur_type = t;
    pt_ev ev = { .type = PT_EV_BLOCK_START, .index = b->cur, .block = t, .id = id, .name = name, .text = sig };
    return cb(arg, &ev);
}

int pt__blocks_open(pt__blocks *b, const pt__prov_ctx *c, pt_part_type t, pt_slice id, pt_slice name, pt_ev_cb cb,
                    void *arg, pt_ai_error *err)
{
    return pt__blocks_open_signed(b, c, t, id, name, PT_SLICE_NULL, cb, arg, err);
}

const char *pt__audio_format(pt_slice mt)
{
    if (pt_slice_case_eq_cstr(mt, "audio/wav") || pt_slice_case_eq_cstr(mt, "audio/x-wav")) return "wav";
    if (pt_slice_case_eq_cstr(mt, "audio/mpeg") || pt_slice_case_eq_cstr(mt, "audio/mp3")) return "mp3";
    return NULL;
}

static bool file_ok(const pt_part *p, unsigned accepts)
{
    if (p->url.len) return accepts & PT__FILE_PDF_URL;
    if (p->text.len || !p->data.len) return accepts & PT__FILE_TEXT;
    if (accepts & PT__FILE_ANY_BASE64) return true;
    if (pt_slice_case_eq_cstr(p->media_type, "application/pdf")) return accepts & PT__FILE_PDF;
    return (accepts & PT__FILE_AUDIO) && pt__audio_format(p->media_type);
}

int pt__check_files(const pt__prov_ctx *c, const pt_pivot_req *r, unsigned accepts, pt_ai_error *err)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        for (size_t k = 0; k < r->msgs[i].nparts; k++) {
            const pt_part *p = &r->msgs[i].parts[k];
            if (p->type != PT_PART_FILE || file_ok(p, accepts)) continue;
            char path[64];
            pt_str_index(path, sizeof path, "messages", "", i);
            const char *what = p->url.len ? "a file URL" : p->text.len || !p->data.len ? "a text document" : NULL;
            if (what)
                return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path, "%s: provider '%s' (%s) does not accept %s",
                                       path, c->cfg->name, pt_ai_prov_type_name(c->cfg->type), what);
            return pt_ai_error_set(err, PT_AI_ERR_UNSUPPORTED, 0, path,
                                   "%s: provider '%s' (%s) does not accept files of type '%.*s'", path, c->cfg->name,
                                   pt_ai_prov_type_name(c->cfg->type), PT_SLICE_ARG(p->media_type));
        }
    return 0;
}

int pt__count_field(const pt__prov_ctx *c, const char *body, size_t len, const char *field, int64_t *tokens,
                    pt_ai_error *err)
{
    pt_pool a;
    pt_pool_init(&a, 0, PT__EVENT_ARENA_LIMIT);
    int64_t n = pt_jv_int(pt_jv_get(pt_jdom_parse(&a, body, len, NULL), field));
    pt_pool_release(&a);
    if (n < 0) {
        char what[96];
        return pt__bad_upstream(err, c, pt_str_join(what, sizeof what, "token count without ", field));
    }
    *tokens = n;
    return 0;
}

void pt__tool_members(pt_jw *w, const pt_tool *t, const char *schema_key)
{
    pt_jw_kstr(w, "name", t->name);
    if (t->description.len) pt_jw_kstr(w, "description", t->description);
    pt_jw_key(w, schema_key);
    pt_jw_raw(w, t->schema.len ? t->schema : PT_SLICE_LIT("{\"type\":\"object\",\"properties\":{}}"));
}

static size_t count_renderable(const pt__turns *t, const pt_msg *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nparts; i++) n += t->renderable(&m->parts[i]);
    return n;
}

int pt__render_turns(pt_jw *w, const pt__prov_ctx *c, const pt_pivot_req *r, const pt__turns *t, pt_ai_error *err)
{
    pt_jw_key(w, "messages");
    pt_jw_arr(w);
    size_t i = 0;
    while (i < r->nmsgs) {
        if (!count_renderable(t, &r->msgs[i])) {
            i++;
            continue;
        }
        pt_role role = r->msgs[i].role;
        size_t j = i;
        while (j < r->nmsgs && (r->msgs[j].role == role || !count_renderable(t, &r->msgs[j]))) j++;
        pt_jw_obj(w);
        pt_jw_kcstr(w, "role", role == PT_ROLE_USER ? "user" : "assistant");
        pt_jw_key(w, "content");
        pt_jw_arr(w);
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = i; k < j; k++)
                for (size_t q = 0; r->msgs[k].role == role && q < r->msgs[k].nparts; q++) {
                    const pt_part *p = &r->msgs[k].parts[q];
                    if (t->first(role, p) != (pass == 0) || !t->renderable(p)) continue;
                    if (t->part(w, c, p, k, err)) return -1;
                }
        pt_jw_arr_end(w);
        pt_jw_obj_end(w);
        i = j;
    }
    pt_jw_arr_end(w);
    return 0;
}
