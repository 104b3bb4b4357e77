/* lifecycle.c: a route's `lifecycle:` mapped from the configuration, and the fields and
 * the 410 it gives (see lifecycle.h). */
#include "gateway/lifecycle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/schema.h"
#include "core/buf.h"
#include "core/timefmt.h"
#include "gateway/config_int.h"
#include "http/server.h"

void pt_lifecycle_free(pt_lifecycle *l)
{
    if (!l) return;
    free(l->deprecated_at_text);
    free(l->sunset_text);
    free(l->successor);
    free(l->docs);
    free(l->lines);
    free(l->gone_lines);
    free(l);
}

/* ---- configuration -------------------------------------------------------------------- */

static const char *const state_names[] = { "published", "deprecated", "retired" };

/* A link target: a path on this gateway or an http(s) URL, with nothing that could end
 * the <...> of a Link field or a header line. */
static int link_target(pt_cfg *c, const pt_cfg_node *at, const char *s, bool path_ok)
{
    bool url = strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
    if (!url && !(path_ok && s[0] == '/'))
        return pt_cfg_fail(c, at, "'%s' is not %s", PT_CFG_SHOW(at),
                           path_ok ? "a path (/v2/orders) or an http(s) URL" : "an http(s) URL");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == 0x7f)
            return pt_cfg_fail(c, at, "'%s' has a space, a quote, '<' or '>', which a link cannot carry "
                                      "(percent-encode it)", PT_CFG_SHOW(at));
    return 0;
}

static int state_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    int i = 0;
    if (pt_cfg_choice(c, v, "state", state_names, 3, &i)) return -1;
    ((pt_lifecycle *)obj)->state = (pt_api_state)i;
    return 0;
}

const char *pt_lifecycle_state_name(pt_api_state s) { return state_names[s]; }

static const pt_cfg_field fields[] = {
    CFG_FUNC("state", state_fn),
    CFG_STR("deprecated_at", pt_lifecycle, deprecated_at_text),
    CFG_STR("sunset", pt_lifecycle, sunset_text),
    CFG_STR("successor", pt_lifecycle, successor),
    CFG_STR("docs", pt_lifecycle, docs),
    CFG_END,
};

static int date_of(pt_cfg *c, const pt_cfg_node *v, const char *key, const char *text, int64_t *ms)
{
    if (!text) return 0;
    if (pt_time_parse(text, ms) && *ms > 0) return 0;
    return pt_cfg_fail_key(c, key, pt_cfg_map_get(v, key),
                           "'%s' is not a date: write 2027-01-01 or 2027-01-01T00:00:00Z", text);
}

/* The fields written once: Deprecation, Sunset and Link for a deprecated route; the
 * Link fields alone for a retired one's 410. */
static int build_lines(pt_lifecycle *l)
{
    pt_buf links = PT_BUF_INIT, all = PT_BUF_INIT;
    int rc = 0;
    if (l->successor) rc |= pt_buf_printf(&links, "Link: <%s>; rel=\"successor-version\"\r\n", l->successor);
    if (l->docs) rc |= pt_buf_printf(&links, "Link: <%s>; rel=\"deprecation\"; type=\"text/html\"\r\n", l->docs);
    if (l->state == PT_API_DEPRECATED) {
        rc |= pt_buf_printf(&all, "Deprecation: @%" PRId64 "\r\n", l->deprecated_at_ms / 1000);
        if (l->sunset_ms) {
            char date[PT_HTTP_DATE_LEN];
            pt_time_http_date(l->sunset_ms / 1000, date);
            rc |= pt_buf_printf(&all, "Sunset: %s\r\n", date);
        }
    }
    rc |= pt_buf_append(&all, links.data ? links.data : "", links.len);
    if (rc == 0) {
        l->lines = pt_buf_detach(&all, NULL);
        l->gone_lines = pt_buf_detach(&links, NULL);
    }
    pt_buf_release(&all);
    pt_buf_release(&links);
    return rc == 0 && l->lines && l->gone_lines ? 0 : -1;
}

static int check(pt_cfg *c, const pt_cfg_node *v, pt_lifecycle *l)
{
    int rc = date_of(c, v, "deprecated_at", l->deprecated_at_text, &l->deprecated_at_ms);
    rc |= date_of(c, v, "sunset", l->sunset_text, &l->sunset_ms);
    if (l->successor) {
        size_t mark = pt_cfg_push_key(c, "successor");
        rc |= link_target(c, pt_cfg_map_get(v, "successor"), l->successor, true);
        pt_cfg_pop(c, mark);
    }
    if (l->docs) {
        size_t mark = pt_cfg_push_key(c, "docs");
        rc |= link_target(c, pt_cfg_map_get(v, "docs"), l->docs, false);
        pt_cfg_pop(c, mark);
    }
    if (rc) return -1;
    if (l->state == PT_API_DEPRECATED && !l->deprecated_at_text)
        return pt_cfg_fail(c, v, "a deprecated API needs deprecated_at: the date it was (or will be) deprecated, "
                                 "sent as its Deprecation field (RFC 9745)");
    if (l->state == PT_API_PUBLISHED && (l->deprecated_at_text || l->sunset_text))
        return pt_cfg_fail(c, v, "deprecated_at and sunset need state: deprecated (a published API has neither)");
    if (l->sunset_ms && l->deprecated_at_ms > l->sunset_ms)
        return pt_cfg_fail_key(c, "sunset", pt_cfg_map_get(v, "sunset"),
                               "the sunset (%s) comes before deprecated_at (%s)", l->sunset_text,
                               l->deprecated_at_text);
    return build_lines(l) == 0 ? 0 : pt_cfg_oom(c, v);
}

int pt__config_lifecycle(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_route *r = obj;
    if (pt_cfg_expect_map(c, v, "a mapping (state, deprecated_at, sunset, successor, docs)")) return -1;
    pt_lifecycle *l = calloc(1, sizeof *l);
    if (!l) return pt_cfg_oom(c, v);
    pt_lifecycle_free(r->lifecycle);
    r->lifecycle = l;
    if (pt_cfg_map_fields(c, v, fields, l, NULL)) return -1;
    return check(c, v, l);
}

/* ---- answers -------------------------------------------------------------------------- */

static void answer_gone(pt_conn *c, const pt_route *route, const pt_lifecycle *l)
{
    pt_req_info *info = pt_conn_info(c);
    info->route = route->name;
    info->route_metrics = route->metrics;
    if (l->gone_lines[0]) pt_conn_add_resp_headers(c, l->gone_lines, strlen(l->gone_lines));
    char when[64] = "";
    if (l->sunset_text) snprintf(when, sizeof when, " on %s", l->sunset_text);
    if (l->successor)
        pt_conn_respond_error(c, PT_OUT_API_RETIRED, NULL, "the API '%s' was retired%s; its successor is %s",
                              route->name, when, l->successor);
    else
        pt_conn_respond_error(c, PT_OUT_API_RETIRED, NULL, "the API '%s' was retired%s", route->name, when);
}

bool pt_lifecycle_gate(pt_conn *c, const pt_route *route)
{
    const pt_lifecycle *l = route->lifecycle;
    bool gone = l->state == PT_API_RETIRED ||
                (l->state == PT_API_DEPRECATED && l->sunset_ms && pt_time_now_ms() >= l->sunset_ms);
    if (gone) {
        answer_gone(c, route, l);
        return true;
    }
    if (l->lines[0]) pt_conn_add_resp_headers(c, l->lines, strlen(l->lines));
    return false;
}
