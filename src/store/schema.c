/* schema.c: the column tables of every stored kind (see schema.h). Limits here are the
 * ones the admin API reports to clients, so they are chosen for people, not for SQLite. */
#include <string.h>

#include "store/schema.h"

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))
#define NAME_MAX_LEN 64
#define TEXT_MAX_LEN 1024
#define JSON_MAX_LEN 65536
#define RELEASE_MAX_LEN (16 * JSON_MAX_LEN) /* a service and its APIs with their OpenAPI operations */

static const char *const roles[] = {"developer", "admin", "team_admin", "consumer", NULL};
static const char *const kinds[] = {"rest", "ai", NULL};
static const char *const approvals[] = {"auto", "manual", NULL};
static const char *const origins[] = {"api", "file", NULL};
static const char *const auths[] = {"key", "none", NULL};
static const char *const states[] = {"pending", "active", "rejected", "cancelled", NULL};
static const char *const publish_approvals[] = {"none", "team_admin", NULL};
static const char *const request_states[] = {"pending", "approved", "refused", NULL};
static const char *const token_kinds[] = {"token", "session", NULL};

static const pt_store_col team_cols[] = {
    {"name", PT_COL_NAME, PT_COL_REQUIRED | PT_COL_UNIQUE, 0, NULL, NAME_MAX_LEN},
    {"publish_approval", PT_COL_ENUM, 0, 0, publish_approvals, 0},
};

static const pt_store_col user_cols[] = {
    {"name", PT_COL_NAME, PT_COL_REQUIRED | PT_COL_UNIQUE, 0, NULL, NAME_MAX_LEN},
    {"password_hash", PT_COL_TEXT, PT_COL_REQUIRED | PT_COL_SECRET, 0, NULL, 256},
    {"role", PT_COL_ENUM, PT_COL_REQUIRED, 0, roles, 0},
    {"team_id", PT_COL_REF, 0, PT_KIND_TEAM, NULL, 0},
    {"disabled", PT_COL_BOOL, 0, 0, NULL, 0},
};

static const pt_store_col token_cols[] = {
    {"user_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_USER, NULL, 0},
    {"prefix", PT_COL_TEXT, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, 16},
    {"hash", PT_COL_HASH, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_SECRET | PT_COL_UNIQUE, 0, NULL, 0},
    {"last_used_at", PT_COL_TIME, 0, 0, NULL, 0},
    {"expires_at", PT_COL_TIME, 0, 0, NULL, 0},
    {"kind", PT_COL_ENUM, PT_COL_IMMUTABLE, 0, token_kinds, 0},
};

static const pt_store_col service_cols[] = {
    {"name", PT_COL_NAME, PT_COL_REQUIRED | PT_COL_UNIQUE, 0, NULL, NAME_MAX_LEN},
    {"team_id", PT_COL_REF, PT_COL_REQUIRED, PT_KIND_TEAM, NULL, 0},
    {"kind", PT_COL_ENUM, PT_COL_REQUIRED, 0, kinds, 0},
    {"targets", PT_COL_JSON, 0, 0, NULL, JSON_MAX_LEN},
    {"models", PT_COL_JSON, 0, 0, NULL, JSON_MAX_LEN},
    {"lb", PT_COL_TEXT, 0, 0, NULL, 32},
    {"approval", PT_COL_ENUM, 0, 0, approvals, 0},
    {"timeouts", PT_COL_JSON, 0, 0, NULL, JSON_MAX_LEN},
    {"health", PT_COL_JSON, 0, 0, NULL, JSON_MAX_LEN},
    {"origin", PT_COL_ENUM, PT_COL_IMMUTABLE, 0, origins, 0},
    {"read_only", PT_COL_BOOL, 0, 0, NULL, 0},
};

static const pt_store_col api_cols[] = {
    {"service_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_SERVICE, NULL, 0},
    {"name", PT_COL_NAME, PT_COL_REQUIRED, 0, NULL, NAME_MAX_LEN},
    {"path_prefix", PT_COL_TEXT, PT_COL_REQUIRED, 0, NULL, TEXT_MAX_LEN},
    {"methods", PT_COL_JSON, 0, 0, NULL, 1024},
    {"auth", PT_COL_ENUM, 0, 0, auths, 0},
    {"rewrite", PT_COL_TEXT, 0, 0, NULL, TEXT_MAX_LEN},
    {"key_header", PT_COL_TEXT, 0, 0, NULL, 128},
    {"key_query", PT_COL_TEXT, 0, 0, NULL, 128},
    {"origin", PT_COL_ENUM, PT_COL_IMMUTABLE, 0, origins, 0},
    {"lifecycle", PT_COL_JSON, 0, 0, NULL, 4096},
    {"match_headers", PT_COL_JSON, 0, 0, NULL, 4096},
    {"openapi", PT_COL_JSON, 0, 0, NULL, 4 * JSON_MAX_LEN - 4096}, /* audited whole: within the audit's limit */
    {"validate", PT_COL_BOOL, 0, 0, NULL, 0},
};

static const pt_store_col consumer_cols[] = {
    {"name", PT_COL_NAME, PT_COL_REQUIRED | PT_COL_UNIQUE, 0, NULL, NAME_MAX_LEN},
    {"team_id", PT_COL_REF, PT_COL_REQUIRED, PT_KIND_TEAM, NULL, 0},
};

static const pt_store_col key_cols[] = {
    {"consumer_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_CONSUMER, NULL, 0},
    {"prefix", PT_COL_TEXT, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, 16},
    {"hash", PT_COL_HASH, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_SECRET | PT_COL_UNIQUE, 0, NULL, 0},
    {"label", PT_COL_TEXT, 0, 0, NULL, 256},
    {"expires_at", PT_COL_TIME, 0, 0, NULL, 0},
    {"allowed_models", PT_COL_JSON, 0, 0, NULL, JSON_MAX_LEN},
    {"revoked_at", PT_COL_TIME, 0, 0, NULL, 0},
};

static const pt_store_col subscription_cols[] = {
    {"consumer_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_CONSUMER, NULL, 0},
    {"service_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_SERVICE, NULL, 0},
    {"state", PT_COL_ENUM, 0, 0, states, 0},
    {"reason", PT_COL_TEXT, 0, 0, NULL, TEXT_MAX_LEN},
    {"decided_by", PT_COL_REF, PT_COL_SETNULL, PT_KIND_USER, NULL, 0},
    {"decided_at", PT_COL_TIME, 0, 0, NULL, 0},
};

static const pt_store_col policy_cols[] = {
    {"name", PT_COL_NAME, PT_COL_REQUIRED | PT_COL_UNIQUE, 0, NULL, NAME_MAX_LEN},
    {"team_id", PT_COL_REF, 0, PT_KIND_TEAM, NULL, 0},
    {"spec", PT_COL_JSON, PT_COL_REQUIRED, 0, NULL, JSON_MAX_LEN},
};

/* Every column is immutable: a release is history, and a rollback is a new release. */
static const pt_store_col release_cols[] = {
    {"service_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_SERVICE, NULL, 0},
    {"number", PT_COL_INT, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, 0},
    {"note", PT_COL_TEXT, PT_COL_IMMUTABLE, 0, NULL, TEXT_MAX_LEN},
    {"snapshot", PT_COL_JSON, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, RELEASE_MAX_LEN},
    {"diff", PT_COL_JSON, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, JSON_MAX_LEN},
    {"rollback_of", PT_COL_INT, PT_COL_IMMUTABLE, 0, NULL, 0},
    {"request_id", PT_COL_INT, PT_COL_IMMUTABLE, 0, NULL, 0},
    {"created_by", PT_COL_TEXT, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, 128},
};

static const pt_store_col release_request_cols[] = {
    {"service_id", PT_COL_REF, PT_COL_REQUIRED | PT_COL_IMMUTABLE | PT_COL_CASCADE, PT_KIND_SERVICE, NULL, 0},
    {"requested_by", PT_COL_TEXT, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, 128},
    {"note", PT_COL_TEXT, PT_COL_IMMUTABLE, 0, NULL, TEXT_MAX_LEN},
    {"snapshot", PT_COL_JSON, PT_COL_REQUIRED | PT_COL_IMMUTABLE, 0, NULL, RELEASE_MAX_LEN},
    {"state", PT_COL_ENUM, 0, 0, request_states, 0},
    {"reason", PT_COL_TEXT, 0, 0, NULL, TEXT_MAX_LEN},
    {"decided_by", PT_COL_TEXT, 0, 0, NULL, 128},
    {"decided_at", PT_COL_TIME, 0, 0, NULL, 0},
    {"release_number", PT_COL_INT, 0, 0, NULL, 0},
};

static const pt_store_col audit_cols[] = {
    {"actor", PT_COL_TEXT, PT_COL_REQUIRED, 0, NULL, 128},
    {"action", PT_COL_TEXT, PT_COL_REQUIRED, 0, NULL, 64},
    {"object_kind", PT_COL_TEXT, PT_COL_REQUIRED, 0, NULL, 32},
    {"object_id", PT_COL_TIME, 0, 0, NULL, 0},
    {"before", PT_COL_JSON, 0, 0, NULL, 20 * JSON_MAX_LEN}, /* a release: its snapshot and diff */
    {"after", PT_COL_JSON, 0, 0, NULL, 20 * JSON_MAX_LEN},
};

#define KIND(n, t, c, ao) {n, t, c, NCOLS(c), ao}
const pt_store_kind_desc pt_store_kinds[PT_KIND_COUNT] = {
    [PT_KIND_TEAM] = KIND("team", "teams", team_cols, false),
    [PT_KIND_USER] = KIND("user", "users", user_cols, false),
    [PT_KIND_TOKEN] = KIND("token", "user_tokens", token_cols, false),
    [PT_KIND_SERVICE] = KIND("service", "services", service_cols, false),
    [PT_KIND_API] = KIND("api", "apis", api_cols, false),
    [PT_KIND_CONSUMER] = KIND("consumer", "consumers", consumer_cols, false),
    [PT_KIND_KEY] = KIND("key", "keys", key_cols, false),
    [PT_KIND_SUBSCRIPTION] = KIND("subscription", "subscriptions", subscription_cols, false),
    [PT_KIND_POLICY] = KIND("policy", "policies", policy_cols, false),
    [PT_KIND_RELEASE] = KIND("release", "releases", release_cols, false),
    [PT_KIND_RELEASE_REQUEST] = KIND("release_request", "release_requests", release_request_cols, false),
    [PT_KIND_AUDIT] = KIND("audit", "audit", audit_cols, true),
};

const pt_store_col *pt_store_col_find(pt_store_kind kind, const char *name)
{
    const pt_store_kind_desc *d = &pt_store_kinds[kind];
    for (size_t i = 0; i < d->ncols; i++)
        if (strcmp(d->cols[i].name, name) == 0) return &d->cols[i];
    return NULL;
}

int pt_store_kind_by_name(const char *name)
{
    for (int k = 0; k < PT_KIND_COUNT; k++)
        if (strcmp(pt_store_kinds[k].name, name) == 0) return k;
    return -1;
}
