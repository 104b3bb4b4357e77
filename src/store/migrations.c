/* migrations.c: the schema, one migration at a time, in SQLite's dialect (see migrations.h). The CHECK
 * and foreign-key clauses repeat what store.c validates, so that a bug above the store can
 * never write an object the schema does not allow. Ids use AUTOINCREMENT so an id is never
 * reused: cursors and audit records keep meaning what they meant. */
#include <stddef.h>

#include "store/migrations.h"

#define MANAGED "id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, " \
                "updated_at INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1, "

static const char v1_sql[] =
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
    "INSERT INTO store_meta (key, value) VALUES ('store_version', 0);"

    "CREATE TABLE teams (" MANAGED "name TEXT NOT NULL UNIQUE) STRICT;"

    "CREATE TABLE users (" MANAGED
    " name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('admin', 'team_admin', 'developer', 'consumer')),"
    " team_id INTEGER REFERENCES teams(id),"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))) STRICT;"
    "CREATE INDEX users_team ON users(team_id);"

    "CREATE TABLE user_tokens (" MANAGED
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " prefix TEXT NOT NULL, hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    " last_used_at INTEGER, expires_at INTEGER) STRICT;"
    "CREATE INDEX user_tokens_user ON user_tokens(user_id);"

    "CREATE TABLE services (" MANAGED
    " name TEXT NOT NULL UNIQUE, team_id INTEGER NOT NULL REFERENCES teams(id),"
    " kind TEXT NOT NULL CHECK (kind IN ('rest', 'ai')),"
    " targets TEXT, models TEXT, lb TEXT,"
    " approval TEXT NOT NULL DEFAULT 'auto' CHECK (approval IN ('auto', 'manual')),"
    " timeouts TEXT, health TEXT,"
    " origin TEXT NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'file')),"
    " read_only INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1))) STRICT;"
    "CREATE INDEX services_team ON services(team_id);"

    "CREATE TABLE apis (" MANAGED
    " service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, path_prefix TEXT NOT NULL, methods TEXT,"
    " auth TEXT NOT NULL DEFAULT 'key' CHECK (auth IN ('key', 'none')),"
    " rewrite TEXT, key_header TEXT, key_query TEXT,"
    " UNIQUE (service_id, name)) STRICT;"

    "CREATE TABLE consumers (" MANAGED
    " name TEXT NOT NULL UNIQUE, team_id INTEGER NOT NULL REFERENCES teams(id)) STRICT;"
    "CREATE INDEX consumers_team ON consumers(team_id);"

    "CREATE TABLE keys (" MANAGED
    " consumer_id INTEGER NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " prefix TEXT NOT NULL, hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    " label TEXT, expires_at INTEGER, allowed_models TEXT, revoked_at INTEGER) STRICT;"
    "CREATE INDEX keys_consumer ON keys(consumer_id);"
    "CREATE INDEX keys_prefix ON keys(prefix);"

    "CREATE TABLE subscriptions (" MANAGED
    " consumer_id INTEGER NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"
    " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'rejected', 'cancelled')),"
    " reason TEXT, decided_by INTEGER REFERENCES users(id) ON DELETE SET NULL, decided_at INTEGER) STRICT;"
    /* one live subscription per consumer and service; cancelled ones are history */
    "CREATE UNIQUE INDEX subscriptions_live ON subscriptions(consumer_id, service_id) WHERE state <> 'cancelled';"
    "CREATE INDEX subscriptions_service ON subscriptions(service_id);"

    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, object_kind TEXT NOT NULL, object_id INTEGER,"
    " \"before\" TEXT, \"after\" TEXT) STRICT;"
    "CREATE INDEX audit_object ON audit(object_kind, object_id);";

/* What the configuration file declares is mirrored as read-only rows: services had an
 * origin from the start, APIs get one. */
static const char v2_sql[] =
    "ALTER TABLE apis ADD COLUMN origin TEXT NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'file'));";

/* Where an API stands in its life (published, deprecated, retired), as a JSON object. */
static const char v3_sql[] = "ALTER TABLE apis ADD COLUMN lifecycle TEXT;";

/* Policies made through the admin API: limits and masking as the file's `policies:` entries
 * (spec holds every member but the name), owned by a team or, without one, the gateway's. */
static const char v4_sql[] =
    "CREATE TABLE policies (" MANAGED
    " name TEXT NOT NULL UNIQUE, team_id INTEGER REFERENCES teams(id), spec TEXT NOT NULL) STRICT;"
    "CREATE INDEX policies_team ON policies(team_id);";

/* Releases: a service's numbered, immutable snapshots and the publishes waiting for a team
 * admin; a team's rule for publishing; an API told apart from another by request headers. */
static const char v5_sql[] =
    "ALTER TABLE teams ADD COLUMN publish_approval TEXT NOT NULL DEFAULT 'none'"
    " CHECK (publish_approval IN ('none', 'team_admin'));"
    "ALTER TABLE apis ADD COLUMN match_headers TEXT;"

    "CREATE TABLE releases (" MANAGED
    " service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL CHECK (number > 0), note TEXT, snapshot TEXT NOT NULL, diff TEXT NOT NULL,"
    " rollback_of INTEGER, request_id INTEGER, created_by TEXT NOT NULL,"
    " UNIQUE (service_id, number)) STRICT;"

    "CREATE TABLE release_requests (" MANAGED
    " service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"
    " requested_by TEXT NOT NULL, note TEXT, snapshot TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'refused')),"
    " reason TEXT, decided_by TEXT, decided_at INTEGER, release_number INTEGER) STRICT;"
    /* one publish waits per service at a time */
    "CREATE UNIQUE INDEX release_requests_pending ON release_requests(service_id) WHERE state = 'pending';";

/* An API's imported OpenAPI document in normalised form (admin/oas.h) and whether the
 * gateway checks requests against it. */
static const char v6_sql[] =
    "ALTER TABLE apis ADD COLUMN openapi TEXT;"
    "ALTER TABLE apis ADD COLUMN validate INTEGER NOT NULL DEFAULT 0 CHECK (validate IN (0, 1));";

/* The web console's sign-in sessions are user tokens of their own kind: hashed the same way,
 * ending at expires_at, idle after last_used_at; never accepted as a bearer token. */
static const char v7_sql[] =
    "ALTER TABLE user_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'token' CHECK (kind IN ('token', 'session'));";

/* The node registry: each node's heartbeat, outside the store version (a heartbeat changes
 * no configuration). */
static const char v8_sql[] =
    "CREATE TABLE nodes (id TEXT PRIMARY KEY, address TEXT NOT NULL, admin_address TEXT,"
    " version TEXT NOT NULL, store_version INTEGER NOT NULL, schema_version INTEGER NOT NULL,"
    " health TEXT NOT NULL, started_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " beat_ms INTEGER NOT NULL) STRICT;";

/* Responses kept for the Responses API: the conversation data of one consumer each, pruned
 * by expires_at; outside the store version and the audit log (they are not configuration). */
static const char v9_sql[] =
    "CREATE TABLE responses (id TEXT PRIMARY KEY, consumer TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, model TEXT NOT NULL, input TEXT NOT NULL, response TEXT NOT NULL) STRICT;"
    "CREATE INDEX responses_expiry ON responses(expires_at);";

const pt__store_migration pt__store_migrations[] = {
    {1, "control plane: teams, users, tokens, services, apis, consumers, keys, subscriptions, audit", v1_sql, NULL},
    {2, "apis declared by the configuration file", v2_sql, NULL},
    {3, "api life cycle: deprecation, sunset, successor", v3_sql, NULL},
    {4, "policies made through the admin API", v4_sql, NULL},
    {5, "releases, release requests, publish approval, header-matched apis", v5_sql, NULL},
    {6, "apis: imported OpenAPI operations and request validation", v6_sql, NULL},
    {7, "user tokens: console sessions as their own kind", v7_sql, NULL},
    {8, "nodes: the cluster's registry of nodes and their heartbeats", v8_sql, NULL},
    {9, "responses kept for the OpenAI Responses API", v9_sql, NULL},
};

const int pt__store_nmigrations = sizeof pt__store_migrations / sizeof pt__store_migrations[0];
