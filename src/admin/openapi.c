/* openapi.c: GET /admin/v1/openapi.json, an OpenAPI 3.1 description of the admin API built
 * from one table of operations, so a new route is described by adding one row. */
#include "admin/openapi.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct op {
    const char *path, *method, *summary;
    const char *body;      /* request schema name, or NULL */
    const char *status;    /* success status */
} op;

static const op ops[] = {
    {"/tokens", "post", "Log in with a user's password; answers a bearer token", "Login", "201"},
    {"/tokens", "get", "List your tokens (admins: all)", NULL, "200"},
    {"/tokens/{id}", "get", "One token (never its secret)", NULL, "200"},
    {"/tokens/{id}", "delete", "Delete a token", NULL, "204"},
    {"/sessions", "post", "Sign in to the console with a password (or a bearer token); answers the session and sets "
                          "its cookie", "SessionCreate", "201"},
    {"/sessions/current", "get", "The signed-in session's user, CSRF token and expiry", NULL, "200"},
    {"/sessions/current", "delete", "Sign out: end the session and clear its cookie", NULL, "204"},
    {"/teams", "get", "List teams", NULL, "200"},
    {"/teams", "post", "Create a team (admins)", "Team", "201"},
    {"/teams/{id}", "get", "One team", NULL, "200"},
    {"/teams/{id}", "patch", "Rename a team or set its publish_approval (admins)", "Team", "200"},
    {"/teams/{id}", "delete", "Delete a team without objects (admins)", NULL, "204"},
    {"/users", "get", "List users", NULL, "200"},
    {"/users", "post", "Create a user", "UserCreate", "201"},
    {"/users/{id}", "get", "One user", NULL, "200"},
    {"/users/{id}", "patch", "Set a user's password, role or disabled flag", "UserPatch", "200"},
    {"/users/{id}", "delete", "Delete a user", NULL, "204"},
    {"/services", "get", "List services", NULL, "200"},
    {"/services", "post", "Create a REST or AI service", "Service", "201"},
    {"/services/{id}", "get", "One service", NULL, "200"},
    {"/services/{id}", "patch", "Change a service", "Service", "200"},
    {"/services/{id}", "delete", "Delete a service, its APIs and subscriptions", NULL, "204"},
    {"/services/{id}/releases", "get", "A service's releases, newest first, each with its diff", NULL, "200"},
    {"/services/{id}/releases", "post", "Publish the draft as the next release (201); a developer whose team's "
                                        "publish_approval is team_admin applies for one instead (202)", "Publish", "201"},
    {"/services/{id}/releases/{number}", "get", "One release with its snapshot and its diff", NULL, "200"},
    {"/services/{id}/draft", "get", "The draft as it would be published, and its diff against the current release",
     NULL, "200"},
    {"/services/{id}/rollback", "post", "A new release with an earlier release's content", "Rollback", "201"},
    {"/services/{id}/release-requests", "get", "A service's release requests, newest first", NULL, "200"},
    {"/services/{id}/release-requests/{request}", "get", "One release request and its state", NULL, "200"},
    {"/services/{id}/release-requests/{request}/approve", "post", "Approve a pending release request: it is "
                                                                  "published (team admins, admins)", NULL, "201"},
    {"/services/{id}/release-requests/{request}/refuse", "post", "Refuse a pending release request with a reason "
                                                                 "(team admins, admins)", "Refuse", "200"},
    {"/services/{id}/apis", "get", "List a service's APIs", NULL, "200"},
    {"/services/{id}/apis", "post", "Create an API", "Api", "201"},
    {"/services/{id}/apis/{api}", "get", "One API", NULL, "200"},
    {"/services/{id}/apis/{api}", "patch", "Change an API", "Api", "200"},
    {"/services/{id}/apis/{api}", "delete", "Delete an API", NULL, "204"},
    {"/services/{id}/openapi", "get", "The service's OpenAPI 3.1 document, generated from its stored APIs (format=yaml "
                                      "for YAML); readable wherever the catalog shows the service", NULL, "200"},
    {"/services/{id}/openapi", "post", "Import an OpenAPI 3.0 or 3.1 document (JSON or YAML) into one of the service's "
                                       "APIs; answers the diff of operations, dry_run applies nothing", "OpenApiDocument", "200"},
    {"/catalog", "get", "The services you may subscribe to, with their APIs, approval mode, OpenAPI document and your "
                        "team's subscriptions", NULL, "200"},
    {"/consumers", "get", "List consumers", NULL, "200"},
    {"/consumers", "post", "Create a consumer", "Consumer", "201"},
    {"/consumers/{id}", "get", "One consumer", NULL, "200"},
    {"/consumers/{id}", "patch", "Rename a consumer", "Consumer", "200"},
    {"/consumers/{id}", "delete", "Delete a consumer, its keys and subscriptions", NULL, "204"},
    {"/consumers/{id}/keys", "get", "List a consumer's keys (prefixes only)", NULL, "200"},
    {"/consumers/{id}/keys", "post", "Create a key: the only answer that carries it", "KeyCreate", "201"},
    {"/consumers/{id}/keys/{key_id}", "get", "One key (prefix only)", NULL, "200"},
    {"/consumers/{id}/keys/{key_id}", "delete", "Revoke a key", NULL, "200"},
    {"/policies", "get", "List policies (non-admins: their team's)", NULL, "200"},
    {"/policies", "post", "Create a policy: limits, masking or MCP access, as the file's policies: entries", "Policy", "201"},
    {"/policies/{id}", "get", "One policy", NULL, "200"},
    {"/policies/{id}", "patch", "Change a policy's members (null removes one)", "Policy", "200"},
    {"/policies/{id}", "delete", "Delete a policy", NULL, "204"},
    {"/policies/{id}/usage", "get", "A policy's quota and budget windows now, each total against its limit (written "
                                    "every second)", NULL, "200"},
    {"/subscriptions", "get", "List subscriptions of your consumers and to your services", NULL, "200"},
    {"/subscriptions", "post", "Subscribe a consumer to a service", "SubscriptionCreate", "201"},
    {"/subscriptions/{id}", "get", "One subscription", NULL, "200"},
    {"/subscriptions/{id}", "delete", "Cancel a subscription", NULL, "200"},
    {"/subscriptions/{id}/approve", "post", "Approve a pending or rejected subscription", NULL, "200"},
    {"/subscriptions/{id}/reject", "post", "Reject a pending or active subscription", "Reject", "200"},
    {"/audit", "get", "The audit log, newest first (admins)", NULL, "200"},
    {"/nodes", "get", "The nodes sharing this store: address, version, the store version each serves, whether it is "
                      "alive and current (admins)", NULL, "200"},
    {"/doctor", "post", "Run the doctor on a target; answers its JSON report (admins)", "Doctor", "200"},
    {"/prompt/render", "post", "A prompt service's request rendered with sample variables, without calling a model",
     "PromptRender", "200"},
    {"/listeners", "get", "The configuration file's listeners, read-only (admins)", NULL, "200"},
    {"/providers", "get", "The configuration file's AI providers without their keys, read-only (admins)", NULL, "200"},
    {"/providers/{id}", "get", "One provider by name", NULL, "200"},
    {"/mcp-servers", "get", "The configuration file's MCP servers with their health and call counts, read-only (admins)",
     NULL, "200"},
    {"/mcp-servers/{id}", "get", "One MCP server by name", NULL, "200"},
    {"/mcp-servers/{id}/tools", "get", "An MCP server's tools (name, description, input schema) as the gateway last "
                                       "listed them (admins)", NULL, "200"},
    {"/upstreams", "get", "Each service's targets with their health as the balancer sees it, read-only (admins)", NULL,
     "200"},
    {"/upstreams/{id}", "get", "One service's targets by the service's name", NULL, "200"},
    {"/models", "get", "The configuration file's AI models, read-only", NULL, "200"},
    {"/models/{id}", "get", "One model by name", NULL, "200"},
    {"/export", "get", "The whole state as YAML by names, secrets as one-way references (admins)", NULL, "200"},
    {"/import", "post", "Apply an exported document idempotently in one transaction; dry_run answers the diff only "
                        "(admins)", "Import", "200"},
    {"/calls", "get", "The call log, newest first: filters, cursor pages, NDJSON and CSV exports", NULL, "200"},
    {"/analytics/series", "get", "One service's, API's, consumer's, team's, model's or provider's rollups over a time "
                                 "range, per minute, hour or day", NULL, "200"},
    {"/analytics/top", "get", "The names of a dimension ranked by requests, errors, tokens, cost or p99 over a time range",
     NULL, "200"},
};

static bool is_op(const op *o, const char *path, const char *method)
{
    return strcmp(o->path, path) == 0 && strcmp(o->method, method) == 0;
}

static json_t *ref(const char *name)
{
    char r[96];
    snprintf(r, sizeof r, "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", r);
}

static json_t *params(const op *o)
{
    json_t *a = json_array();
    for (const char *p = strchr(o->path, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        json_array_append_new(a, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1, (size_t)(e - p - 1), "in", "path",
                                           "required", 1, "schema", "type", "string"));
    }
    bool oas = strcmp(o->path, "/services/{id}/openapi") == 0;
    if (is_op(o, "/import", "post") || (oas && strcmp(o->method, "post") == 0)) {
        static const char *const q[][2] = {{"dry_run", "boolean"}, {"api", "string"}, {"path_prefix", "string"},
                                           {"validate", "boolean"}};
        for (size_t i = 0; i < (oas ? 4u : 1u); i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s}}", "name", q[i][0], "in", "query", "schema", "type", q[i][1]));
    }
    if (oas && strcmp(o->method, "get") == 0)
        json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s,s:[ss]}}", "name", "format", "in", "query", "schema", "type",
                                           "string", "enum", "json", "yaml"));
    if (strcmp(o->method, "get") == 0 && !strchr(o->path + strlen(o->path) - 1, '}') && !is_op(o, "/export", "get") &&
        !is_op(o, "/services/{id}/draft", "get") && strncmp(o->path, "/analytics/", 11) != 0 && !oas &&
        strcmp(o->path, "/catalog") != 0 && strcmp(o->path, "/sessions/current") != 0) {
        json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s,s:i,s:i}}", "name", "limit", "in", "query", "schema", "type",
                                           "integer", "minimum", 1, "maximum", 1000));
        json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s}}", "name", "cursor", "in", "query", "schema", "type", "string"));
    }
    if (strcmp(o->path, "/calls") == 0) {
        static const char *const filters[] = { "from", "to", "team", "consumer", "service", "api", "model",
                                                "status", "request_id", "trace_id", "operation", "format", "scope",
                                                NULL };
        for (int i = 0; filters[i]; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s}}", "name", filters[i], "in", "query", "schema",
                                               "type", "string"));
    }
    if (strncmp(o->path, "/analytics/", 11) == 0) {
        const char *const *names = strcmp(o->path, "/analytics/top") == 0
                                       ? (const char *const[]){ "by", "from", "to", "step", "metric", "scope", "limit", NULL }
                                       : (const char *const[]){ "by", "from", "to", "step", "name", "scope", NULL };
        for (int i = 0; names[i]; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s}}", "name", names[i], "in", "query", "schema", "type",
                                               "string"));
    }
    if (strcmp(o->method, "patch") == 0 || strcmp(o->method, "delete") == 0)
        json_array_append_new(a, json_pack("{s:s,s:s,s:{s:s}}", "name", "If-Match", "in", "header", "schema", "type", "string"));
    return a;
}

static json_t *operation(const op *o)
{
    json_t *x = json_pack("{s:s,s:o,s:{s:{s:s},s:{s:s}}}", "summary", o->summary, "parameters", params(o), "responses",
                          o->status, "description", "success", "default", "$ref", "#/components/responses/Error");
    if (o->body)
        json_object_set_new(x, "requestBody", json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                                        "application/json", "schema", ref(o->body)));
    if (is_op(o, "/tokens", "post") || is_op(o, "/sessions", "post")) json_object_set_new(x, "security", json_array());
    /* the round trip's document is YAML; import takes it as YAML or as the same in JSON */
    if (is_op(o, "/import", "post") || is_op(o, "/services/{id}/openapi", "post"))
        json_object_set_new(json_object_get(json_object_get(x, "requestBody"), "content"), "application/yaml",
                            json_pack("{s:o}", "schema", ref(o->body)));
    if (is_op(o, "/export", "get"))
        json_object_set_new(json_object_get(json_object_get(x, "responses"), "200"), "content",
                            json_pack("{s:{s:{s:s}}}", "application/yaml", "schema", "type", "string"));
    return x;
}

static json_t *obj(const char *props)
{
    /* props: "name:string team:string ..." -> {type: object, additionalProperties: false, properties} */
    json_t *p = json_object();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", props);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(t, ':');
        *colon = 0;
        const char *type = colon + 1;
        if (strcmp(type, "strings") == 0)
            json_object_set_new(p, t, json_pack("{s:s,s:{s:s}}", "type", "array", "items", "type", "string"));
        else if (strcmp(type, "any") == 0)
            json_object_set_new(p, t, json_object());
        else
            json_object_set_new(p, t, json_pack("{s:s}", "type", type));
    }
    return json_pack("{s:s,s:b,s:o}", "type", "object", "additionalProperties", 0, "properties", p);
}

static json_t *schemas(void)
{
    return json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:s},s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:[ss]}}}}}}",
        "Login", obj("user:string password:string"),
        "SessionCreate", obj("user:string password:string token:string"),
        "Team", obj("name:string publish_approval:string"),
        "UserCreate", obj("name:string password:string team:string role:string"),
        "UserPatch", obj("password:string role:string disabled:boolean"),
        "Doctor", obj("target:string listen:boolean timeout_ms:integer"),
        "PromptRender", obj("service:string variables:any"),
        "Service", obj("name:string team:string kind:string targets:strings models:strings approval:string lb:string "
                       "timeouts:any health:any"),
        "Api", obj("name:string path_prefix:string methods:strings auth:string rewrite:string key_header:string "
                   "key_query:string lifecycle:any match_headers:any validate:boolean"),
        "Consumer", obj("name:string team:string"),
        "KeyCreate", obj("label:string expires_at:integer allowed_models:strings"),
        "SubscriptionCreate", obj("consumer:string service:string"),
        "Reject", obj("reason:string"),
        "Policy", obj("name:string team:string applies_to:any group_by:string rate:any concurrency:integer "
                      "tokens:any quota:any budget:any on_store_error:string mask:any mcp:any"),
        "Publish", obj("note:string"),
        "Rollback", obj("release:integer note:string"),
        "Refuse", obj("reason:string"),
        "Import", obj("portico_export:integer teams:array users:array services:array consumers:array "
                      "subscriptions:array"),
        "OpenApiDocument", "type", "object",
        "Error", "type", "object", "properties", "error", "type", "object", "properties", "code", "type", "string",
        "message", "type", "string", "field", "type", "string", "null");
}

json_t *pt_admin_openapi(void)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        json_t *item = json_object_get(paths, ops[i].path);
        if (!item) json_object_set_new(paths, ops[i].path, item = json_object());
        json_object_set_new(item, ops[i].method, operation(&ops[i]));
    }
    /* the console's cookie works wherever a bearer token does (writes also need X-CSRF-Token) */
    return json_pack("{s:s,s:{s:s,s:s},s:[{s:s}],s:[{s:[]},{s:[]}],s:o,s:{s:o,s:{s:{s:s,s:{s:{s:o}}}},"
                     "s:{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s}}}}",
                     "openapi", "3.1.0", "info", "title", "Portico admin API", "version", "1",
                     "servers", "url", "/admin/v1", "security", "bearer", "session", "paths", paths, "components",
                     "schemas", schemas(), "responses", "Error", "description", "an error", "content", "application/json",
                     "schema", ref("Error"), "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "session",
                     "type", "apiKey", "in", "cookie", "name", "portico_session", "description",
                     "the console's session (POST /sessions); writes need the X-CSRF-Token header");
}
