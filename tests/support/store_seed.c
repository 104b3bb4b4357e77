/* store_seed.c: puts control-plane objects into a data directory's store through the
 * store's own interface, for the black-box tests and benchmarks (no raw SQL):
 *
 *   store_seed DIR team NAME
 *   store_seed DIR consumer NAME TEAM
 *   store_seed DIR service NAME TEAM [auto|manual]
 *   store_seed DIR key CONSUMER [expires_at] [models-json]    prints the new key
 *   store_seed DIR subscribe CONSUMER SERVICE STATE           pending|active|rejected|cancelled
 *   store_seed DIR revoke KEY                                  the whole key, as printed
 *
 * Exits 0, or 1 with the store's message on standard error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cred.h"
#include "store/store.h"

static pt_store *st;

static int fail(const char *what)
{
    const pt_store_error *e = pt_store_last_error(st);
    fprintf(stderr, "store_seed: %s: %s\n", what, e && e->message[0] ? e->message : pt_store_strerror(e ? e->code : 0));
    return 1;
}

/* The id of the object of kind whose name is name, or 0 (reported). */
static json_int_t id_of(pt_store_kind kind, const char *name)
{
    json_t *v = json_string(name), *obj = NULL;
    int rc = pt_store_find(st, kind, "name", v, &obj);
    json_decref(v);
    if (rc != 0) {
        fail(name);
        return 0;
    }
    json_int_t id = json_integer_value(json_object_get(obj, "id"));
    json_decref(obj);
    return id;
}

static int insert(pt_store_kind kind, json_t *o, int64_t *id)
{
    int rc = pt_store_insert(st, kind, o, "store_seed", id);
    json_decref(o);
    return rc == 0 ? 0 : fail("insert");
}

static int cmd_key(int argc, char **argv)
{
    json_int_t cid = id_of(PT_KIND_CONSUMER, argv[0]);
    if (!cid) return 1;
    pt_cred_secret s;
    if (pt_cred_generate(PT_CRED_KEY_SCHEME, &s) != 0) return fprintf(stderr, "store_seed: no randomness\n"), 1;
    json_t *o = json_pack("{sIssss}", "consumer_id", cid, "prefix", s.prefix, "hash", s.hash_hex);
    if (argc > 1 && strcmp(argv[1], "0") != 0) json_object_set_new(o, "expires_at", json_integer(atoll(argv[1])));
    if (argc > 2) {
        json_error_t je;
        json_t *models = json_loads(argv[2], 0, &je);
        if (!models) return fprintf(stderr, "store_seed: models: %s\n", je.text), 1;
        json_object_set_new(o, "allowed_models", models);
    }
    int64_t id;
    if (insert(PT_KIND_KEY, o, &id)) return 1;
    printf("%s\n", s.text);
    pt_cred_wipe(&s);
    return 0;
}

static int cmd_revoke(const char *key)
{
    uint8_t h[PT_CRED_HASH_LEN];
    char hex[PT_CRED_HEX_LEN + 1];
    pt_cred_hash(key, strlen(key), h);
    pt_store_hex(h, sizeof h, hex);
    json_t *v = json_string(hex), *obj = NULL;
    int rc = pt_store_find(st, PT_KIND_KEY, "hash", v, &obj);
    json_decref(v);
    if (rc != 0) return fail("key");
    json_int_t id = json_integer_value(json_object_get(obj, "id"));
    json_decref(obj);
    json_t *f = json_pack("{sI}", "revoked_at", (json_int_t)time(NULL));
    rc = pt_store_update(st, PT_KIND_KEY, id, 0, f, "store_seed");
    json_decref(f);
    return rc == 0 ? 0 : fail("revoke");
}

static int run(int argc, char **argv)
{
    const char *cmd = argv[0];
    int64_t id;
    if (strcmp(cmd, "team") == 0 && argc == 2) return insert(PT_KIND_TEAM, json_pack("{ss}", "name", argv[1]), &id);
    if (strcmp(cmd, "consumer") == 0 && argc == 3) {
        json_int_t t = id_of(PT_KIND_TEAM, argv[2]);
        return t ? insert(PT_KIND_CONSUMER, json_pack("{sssI}", "name", argv[1], "team_id", t), &id) : 1;
    }
    if (strcmp(cmd, "service") == 0 && (argc == 3 || argc == 4)) {
        json_int_t t = id_of(PT_KIND_TEAM, argv[2]);
        return t ? insert(PT_KIND_SERVICE, json_pack("{sssIssss}", "name", argv[1], "team_id", t, "kind", "rest",
                                                     "approval", argc == 4 ? argv[3] : "auto"), &id)
                 : 1;
    }
    if (strcmp(cmd, "key") == 0 && argc >= 2 && argc <= 4) return cmd_key(argc - 1, argv + 1);
    if (strcmp(cmd, "subscribe") == 0 && argc == 4) {
        json_int_t c = id_of(PT_KIND_CONSUMER, argv[1]), s = id_of(PT_KIND_SERVICE, argv[2]);
        if (!c || !s) return 1;
        return insert(PT_KIND_SUBSCRIPTION, json_pack("{sIsIss}", "consumer_id", c, "service_id", s, "state", argv[3]),
                      &id);
    }
    if (strcmp(cmd, "revoke") == 0 && argc == 2) return cmd_revoke(argv[1]);
    fprintf(stderr, "store_seed: bad command (see tests/support/store_seed.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: store_seed DIR team|consumer|service|key|subscribe|revoke ARGS...\n");
        return 2;
    }
    pt_store_error e = { 0 };
    st = pt_store_open_sqlite(argv[1], &e);
    if (!st) {
        fprintf(stderr, "store_seed: %s: %s\n", argv[1], e.message);
        return 1;
    }
    int rc = run(argc - 2, argv + 2);
    pt_store_close(st);
    return rc;
}
