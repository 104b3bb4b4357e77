/* fuzz_import.c: libFuzzer harness for the import of an exported document (YAML or JSON
 * into objects, the admin API's rules, the store's checks), as a dry run against a small
 * store. Every input must be applied or refused with a 4xx naming why, never a crash, a
 * leak or a 5xx; a dry run never changes the store. */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/export.h"
#include "core/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pt_store *st;
static int64_t version;
static char dir[] = "/tmp/pt-fuzz-import-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* The store's directory goes with the run. */
static void cleanup(void)
{
    pt_store_close(st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void seed(const char *kind_json[][2])
{
    for (size_t i = 0; kind_json[i][0]; i++) {
        json_t *o = json_loads(kind_json[i][1], 0, NULL);
        if (!o || pt_store_insert(st, pt_store_kind_by_name(kind_json[i][0]), o, "fuzz", NULL) != 0) abort();
        json_decref(o);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pt_log_set_level(PT_LOG_OFF);
    pt_store_error err;
    if (!mkdtemp(dir) || !(st = pt_store_open_sqlite(dir, &err))) abort();
    atexit(cleanup);
    seed((const char *[][2]){
        {"team", "{\"name\":\"payments\"}"},
        {"service", "{\"name\":\"ledger\",\"team_id\":1,\"kind\":\"rest\",\"targets\":[\"http://a\"],\"origin\":\"api\"}"},
        {"service", "{\"name\":\"filed\",\"team_id\":1,\"kind\":\"rest\",\"targets\":[\"http://b\"],\"origin\":\"file\"}"},
        {"consumer", "{\"name\":\"shop\",\"team_id\":1}"},
        {NULL, NULL}});
    if (pt_store_version(st, &version) != 0) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *report = NULL;
    pt_admin_err e;
    pt_admin_api api = {.st = st};
    int rc = pt_admin_import(&api, (const char *)data, size, true, "fuzz", &report, &e);
    if (rc == 0 && !report) abort();
    if (rc != 0 && (e.status < 400 || e.status >= 500 || !e.message[0])) abort(); /* a refusal says why, as a 4xx */
    json_decref(report);
    int64_t now = 0;
    if (pt_store_version(st, &now) != 0 || now != version) abort(); /* a dry run writes nothing */
    return 0;
}
